"""retrostudy: does walking backwards help knee osteoarthritis more than walking forwards?

Loaders that turn trial files into one canonical long table, ANCOVA / linear mixed
models / MMRM with SAS covariance structures and Satterthwaite or Kenward-Roger df,
estimated marginal means, contrasts, effect sizes and reproducible PDF reports.

Importing the package is cheap: the public names below are loaded on first use, so
``retrostudy --help`` answers at once.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (explicit; nothing is discovered at import time)
_EXPORTS: dict[str, str] = {
    # data in
    "list_datasets": "retrostudy.datasets",
    "load_dataset": "retrostudy.datasets",
    "read_trial": "retrostudy.io",
    "validate_trial": "retrostudy.io",
    "TrialData": "retrostudy.trial",
    "ExclusionLog": "retrostudy.exclusions",
    "Outcome": "retrostudy.schema",
    "OUTCOMES": "retrostudy.schema",
    # models
    "fit_ancova": "retrostudy.models.ancova",
    "fit_lmm": "retrostudy.models.lmm",
    "fit_mmrm": "retrostudy.models.mmrm",
    "ModelFit": "retrostudy.results",
    # inference
    "emmeans": "retrostudy.inference",
    "contrasts": "retrostudy.inference",
    "joint_tests": "retrostudy.inference",
    "effect_sizes": "retrostudy.inference",
    "responders": "retrostudy.inference",
    # planning (power and sample size, simulation of the planned analysis)
    "power_ttest": "retrostudy.planning",
    "power_ancova": "retrostudy.planning",
    "power_mmrm": "retrostudy.planning",
    "PowerResult": "retrostudy.planning",
    "planning_inputs": "retrostudy.planning",
    "simulate_power": "retrostudy.planning",
    "TrialModel": "retrostudy.planning",
    "SimulationResult": "retrostudy.planning",
    # missing data
    "sensitivity": "retrostudy.missing",
    "tipping_point": "retrostudy.missing",
    "Estimand": "retrostudy.missing",
    # tables and figures
    "table_one": "retrostudy.tables",
    "TableOne": "retrostudy.tables",
    "trajectory_plot": "retrostudy.figures",
    "forest_plot": "retrostudy.figures",
    "response_cdf_plot": "retrostudy.figures_responders",
    "missingness_plot": "retrostudy.figures_missing",
    "sensitivity_plot": "retrostudy.figures_missing",
    "tipping_point_plot": "retrostudy.figures_missing",
    # reports
    "build_report": "retrostudy.report",
    "ReportManifest": "retrostudy.report",
    "ReportSpec": "retrostudy.report",
    # errors
    "RetrostudyError": "retrostudy.errors",
    "DataError": "retrostudy.errors",
    "SpecError": "retrostudy.errors",
    "ModelError": "retrostudy.errors",
    "RetrostudyWarning": "retrostudy.errors",
    "ConvergenceWarning": "retrostudy.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'retrostudy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# for type checkers and IDEs only; the inference functions come from their defining modules because
# retrostudy.inference's submodules contrasts, emmeans and responders share their names (mypy: no-redef)
if TYPE_CHECKING:  # pragma: no cover
    from .datasets import list_datasets, load_dataset
    from .errors import ConvergenceWarning, DataError, ModelError, RetrostudyError, RetrostudyWarning, SpecError
    from .exclusions import ExclusionLog
    from .figures import forest_plot, trajectory_plot
    from .figures_missing import missingness_plot, sensitivity_plot, tipping_point_plot
    from .figures_responders import response_cdf_plot
    from .inference.contrasts import contrasts, joint_tests
    from .inference.effects import effect_sizes
    from .inference.emmeans import emmeans
    from .inference.responders import responders
    from .io import read_trial, validate_trial
    from .missing.estimand import Estimand
    from .missing.sensitivity import sensitivity, tipping_point
    from .models.ancova import fit_ancova
    from .models.lmm import fit_lmm
    from .models.mmrm import fit_mmrm
    from .planning import (
        PowerResult,
        SimulationResult,
        TrialModel,
        planning_inputs,
        power_ancova,
        power_mmrm,
        power_ttest,
        simulate_power,
    )
    from .report import ReportManifest, ReportSpec, build_report
    from .results import ModelFit
    from .schema import OUTCOMES, Outcome
    from .tables import TableOne, table_one
    from .trial import TrialData
