"""Planning a trial: analytic power and sample size, and simulation of the planned analysis.

``rs.power_ttest``, ``rs.power_ancova`` and ``rs.power_mmrm`` solve for the size, the effect
or the power (:mod:`retrostudy.planning.analytic`); ``rs.planning_inputs`` reads SD,
correlations and dropout from a trial (:mod:`retrostudy.planning.inputs`);
``rs.simulate_power`` simulates trials from a :class:`TrialModel` and runs the planned
analysis on each (:mod:`retrostudy.planning.simulate`).

Names load on first use, so the command line's ``--help`` imports nothing heavy.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "power_ttest": "analytic",
    "power_ancova": "analytic",
    "power_mmrm": "analytic",
    "mmrm_phi": "analytic",
    "structured_corr": "analytic",
    "PowerResult": "result",
    "planning_inputs": "inputs",
    "PlanningInputs": "inputs",
    "power_curve": "curve",
    "power_curve_plot": "curve",
    "TrialModel": "model",
    "AnalysisPlan": "simulate",
    "simulate_power": "simulate",
    "simulate_power_curve": "simulate",
    "SimulationResult": "simresult",
}

__all__ = ["AnalysisPlan", "PlanningInputs", "PowerResult", "SimulationResult", "TrialModel", "mmrm_phi",
           "planning_inputs", "power_ancova", "power_curve", "power_curve_plot", "power_mmrm", "power_ttest",
           "simulate_power", "simulate_power_curve", "structured_corr"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'retrostudy.planning' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from .analytic import (
        mmrm_phi,
        power_ancova,
        power_mmrm,
        power_ttest,
        structured_corr,
    )
    from .curve import power_curve, power_curve_plot
    from .inputs import PlanningInputs, planning_inputs
    from .model import TrialModel
    from .result import PowerResult
    from .simresult import SimulationResult
    from .simulate import AnalysisPlan, simulate_power, simulate_power_curve
