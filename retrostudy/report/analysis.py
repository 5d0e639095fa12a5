"""The report's analyses: for each outcome the primary and sensitivity models, EMMs at the final
visit, the three pairwise contrasts with adjusted p-values and Hedges' g, and a complete-case
refit when there is dropout. A model that cannot be fitted is reported as failed, with the reason
(no number is ever invented)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..errors import RetrostudyError
from ..trial import TrialData

__all__ = ["ModelResult", "OutcomeResult", "analyse_outcome", "complete_case"]

def _fit_function(model: str) -> Callable[..., Any]:
    from ..models.ancova import fit_ancova
    from ..models.mmrm import fit_mmrm

    return {"ancova": fit_ancova, "mmrm": fit_mmrm}[model]


@dataclass(frozen=True, eq=False)
class ModelResult:
    """One model of one outcome: the fit and its final-visit tables (or why there are none)."""

    model: str
    status: str  # "ok" or "failed"
    message: str = ""
    fit: Any = None
    emm: pd.DataFrame | None = None
    contrasts: pd.DataFrame | None = None
    effects: pd.DataFrame | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class OutcomeResult:
    outcome: str
    primary: ModelResult
    sensitivity: ModelResult
    complete_case: ModelResult | None
    n_complete: int
    n_all: int
    complete_case_is_primary: bool = False


def _final_rows(frame: pd.DataFrame, final_visit: str) -> pd.DataFrame:
    if "visit" in frame.columns and frame["visit"].notna().any():
        frame = frame.loc[frame["visit"].astype(str) == final_visit]
    return frame.reset_index(drop=True)


def _pairs(arms: list[str]) -> list[tuple[str, str]]:
    return list(combinations(arms, 2))


def fit_one(trial: TrialData, outcome: str, model: str, spec: Mapping[str, Any]) -> ModelResult:
    """Fit ``model`` to ``outcome`` and return the final-visit EMMs, pairwise contrasts and g."""
    from ..inference import contrasts, effect_sizes, emmeans

    fn = _fit_function(model)

    final = spec["final_visit"]
    kwargs: dict[str, Any] = {"outcome": outcome, "covariates": tuple(spec.get("covariates", ())),
                              "reference_arm": spec.get("reference_arm"), "conf_level": spec["conf_level"]}
    if model == "ancova":
        kwargs["visit"] = final
    else:
        kwargs.update(covariance=spec["covariance"], df_method=spec["df_method"])
    caught: list[str] = []
    try:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            fit = fn(trial, **kwargs)
            emm = emmeans(fit, weights=spec["weights"]) if "visit" in fit.grid_factors else emmeans(fit, by=None,
                                                                                                       weights=spec["weights"])
            con = contrasts(emm, family="pairwise", adjust=spec["adjust"])
            eff = effect_sizes(con, standardizer=spec["standardizer"])
        caught = sorted({str(w.message) for w in rec})
    except RetrostudyError as exc:
        return ModelResult(model, "failed", f"{model.upper()} could not be fitted: {exc}")
    emm_t = _final_rows(emm.to_frame(), final)
    con_t = _final_rows(con.to_frame(), final)
    eff_t = _final_rows(eff.to_frame(), final)
    arms = [a for a in trial.arms]
    wanted = [f"{a} - {b}" for a, b in _pairs(arms)]
    order = {c: i for i, c in enumerate(wanted)}
    con_t = con_t.loc[con_t["contrast"].isin(wanted)].assign(_o=lambda f: f["contrast"].map(order))
    con_t = con_t.sort_values("_o").drop(columns="_o").reset_index(drop=True)
    eff_t = eff_t.loc[eff_t["contrast"].isin(wanted)].assign(_o=lambda f: f["contrast"].map(order))
    eff_t = eff_t.sort_values("_o").drop(columns="_o").reset_index(drop=True)
    settings = {"df_method": getattr(fit, "df_method", None), "conf_level": spec["conf_level"],
                "adjust": spec["adjust"], "weights": spec["weights"], "covariance": fit.spec.covariance}
    return ModelResult(model, "ok", "", fit, emm_t, con_t, eff_t, settings, tuple(caught))


def complete_case(trial: TrialData, outcome: str) -> tuple[TrialData, int, int]:
    """The trial restricted to subjects with ``outcome`` observed at every visit; (trial, n_complete, n_all)."""
    rows = trial.data.loc[trial.data["outcome"].astype(str) == outcome]
    n_vis = len(trial.visits)
    per = rows.groupby("subject_id", observed=True)["visit"].nunique()
    keep = set(per.index[per == n_vis].astype(str))
    sub = trial.data.loc[trial.data["subject_id"].astype(str).isin(keep)].reset_index(drop=True)
    return TrialData(sub, trial.exclusions, dict(trial.meta)), len(keep), int(per.size)


def analyse_outcome(trial: TrialData, outcome: str, spec: Mapping[str, Any]) -> OutcomeResult:
    """Primary, sensitivity and (with dropout) complete-case analyses of one outcome."""
    primary = spec["primary"]
    other = "ancova" if primary == "mmrm" else "mmrm"
    res_p = fit_one(trial, outcome, primary, spec)
    res_s = fit_one(trial, outcome, other, spec)
    cc_trial, n_cc, n_all = complete_case(trial, outcome)
    res_cc = None
    same = False
    if n_cc < n_all and n_cc > 0:
        used = _subjects(res_p.fit) if res_p.status == "ok" else None
        keep = set(cc_trial.data["subject_id"].astype(str))
        same = used is not None and used == keep
        if not same:
            res_cc = fit_one(cc_trial, outcome, primary, spec)
    return OutcomeResult(outcome, res_p, res_s, res_cc, n_cc, n_all, same)


def _subjects(fit: Any) -> set[str] | None:
    return None if fit is None or fit.data is None else set(fit.subjects_used())


def fitted_and_residuals(fit: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Marginal fitted values and residuals of a fit, or None when it carries no data."""
    if fit is None or fit.data is None:
        return None
    return fit.fitted(), fit.residuals()
