"""Estimated marginal means (least-squares means) on a reference grid, with R emmeans semantics.

The reference grid crosses the fit's ``grid_factors`` (``arm``, or ``arm`` x ``visit``)
with the levels of every other factor in the model. Numeric covariates are held at
their mean over the observations used in the fit (SAS ``LSMEANS``, R ``emmeans``;
for an ANCOVA that is the mean over subjects), or at the mean over subjects
(``covariate_means="subjects"``, for longitudinal fits where subjects contribute
different numbers of rows). Other factors are averaged over with equal weights (R
``emmeans`` default, SAS ``LSMEANS``) or with weights proportional to their
frequencies in the fitting data (R ``weights="proportional"``, SAS ``OM``). Each EMM
is ``l'b`` with ``l`` the weighted average of the grid's model-matrix rows; its SE
is ``sqrt(l'Vl)`` with the fit's inference vcov and its df the fit's ``dof(l)``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import Any, SupportsFloat

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..results import ModelFit, TidyResult, check_conf_level, infer_linear

__all__ = ["emmeans", "EmmTable", "reference_grid"]

EMM_COLUMNS = ("arm", "visit", "estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high")


@dataclass(frozen=True, eq=False, repr=False)
class EmmTable(TidyResult):
    """EMMs per arm (and visit) with the linear functions that define them.

    Attributes
    ----------
    table
        Columns ``arm, visit, estimate, std_error, df, statistic, p_value, conf_low,
        conf_high`` (``statistic``/``p_value`` test EMM = 0), ordered by visit then arm.
    settings
        ``conf_level, df_method, weights, covariate_means, by`` and the covariate values.
    L
        One row of coefficients weights per table row (``estimate = L @ fit.coef``).
    fit
        The :class:`~retrostudy.results.ModelFit` the EMMs come from.
    by
        Grouping of later contrasts (``"visit"`` or ``None``).
    """

    table: pd.DataFrame
    settings: Mapping[str, object]
    L: np.ndarray
    fit: ModelFit
    by: str | None = "visit"
    title: str = field(default="Estimated marginal means")

    @property
    def conf_level(self) -> float:
        """Confidence level of the intervals (``settings["conf_level"]``; the fit's when absent)."""
        value = self.settings.get("conf_level")
        return float(value) if isinstance(value, SupportsFloat) else self.fit.conf_level

    @property
    def arms(self) -> list[str]:
        return list(dict.fromkeys(self.table["arm"]))

    @property
    def visits(self) -> list[str]:
        return list(dict.fromkeys(self.table["visit"]))


def _visit_label(fit: ModelFit) -> str:
    """The visit a single-visit (ANCOVA-like) fit is about: the spec's analysis visit, else
    the one visit of its data, else ``"all"``."""
    if fit.spec is not None and fit.spec.visit:
        return str(fit.spec.visit)
    data = fit.data
    if data is not None and "visit" in data.columns and data["visit"].nunique() == 1:
        return str(data["visit"].iloc[0])
    return "all"


def reference_grid(
    fit: ModelFit,
    *,
    weights: str = "equal",
    covariate_means: str = "observations",
    average_visits: bool = False,
) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Rows ``(arm, visit)`` and their coefficient weights ``L`` (one row each).

    Returns the keys frame, ``L`` and the values the numeric covariates were held at.
    """
    if weights not in ("equal", "proportional"):
        raise SpecError(f"weights must be 'equal' or 'proportional', not {weights!r}.")
    if covariate_means not in ("observations", "subjects"):
        raise SpecError(f"covariate_means must be 'observations' or 'subjects', not {covariate_means!r}.")
    design = fit.design
    arm_col = fit.columns.arm or "arm"
    visit_col = fit.columns.visit
    grid = [g for g in fit.grid_factors if g in design.factors]
    if arm_col not in grid:
        raise SpecError(f"The fit has no arm factor ({arm_col!r}), so there are no arm EMMs to compute.")
    means = dict(design.numerics)
    if covariate_means == "subjects" and design.subject_means:
        means.update(design.subject_means)
    others = [f for f in design.factors if f not in grid]
    averaged = others + ([visit_col] if average_visits and visit_col in grid else [])
    keep = [g for g in grid if g not in averaged]
    levels = {f: list(design.factors[f].levels) for f in design.factors}
    w_other = _weights(fit, averaged, levels, weights)
    cells = list(product(*[levels[f] for f in averaged])) if averaged else [()]
    keys, rows = [], []
    visit_levels = levels[visit_col] if visit_col in keep else [None]
    for v in visit_levels:
        for a in levels[arm_col]:
            combos = []
            for cell in cells:
                rec: dict[str, Any] = {arm_col: a}
                if v is not None:
                    rec[visit_col] = v
                rec.update(dict(zip(averaged, cell)))
                rec.update(means)
                combos.append(rec)
            X = design.matrix(pd.DataFrame.from_records(combos))
            rows.append(w_other @ X)
            if v is not None:
                vis = v
            elif visit_col in averaged:
                vis = "all visits"
            else:
                vis = _visit_label(fit)
            keys.append({"arm": a, "visit": vis})
    return pd.DataFrame.from_records(keys), np.vstack(rows), means


def _weights(fit: ModelFit, averaged: list[str], levels: dict, weights: str) -> np.ndarray:
    cells = list(product(*[levels[f] for f in averaged])) if averaged else [()]
    if weights == "equal" or not averaged:
        return np.full(len(cells), 1.0 / len(cells))
    data = fit.data
    if data is not None and all(f in data.columns for f in averaged):
        sub = data.loc[:, averaged].astype(object).map(lambda v: None if pd.isna(v) else str(v))
        tally: dict[tuple, int] = {}
        for row in sub.itertuples(index=False, name=None):
            tally[tuple(row)] = tally.get(tuple(row), 0) + 1
        w = np.array([float(tally.get(tuple(cell), 0)) for cell in cells])
    else:  # product of the marginal frequencies recorded in the design
        w = np.ones(len(cells))
        for i, cell in enumerate(cells):
            for f, lvl in zip(averaged, cell):
                w[i] *= fit.design.factor_counts.get(f, {}).get(lvl, 0)
    if w.sum() <= 0:
        raise SpecError("Proportional weights need the level frequencies of the fitting data, which are empty.")
    return w / w.sum()


def emmeans(
    fit: ModelFit,
    *,
    by: str | None = "visit",
    weights: str = "equal",
    covariate_means: str = "observations",
    conf_level: float | None = None,
) -> EmmTable:
    """Estimated marginal means of each arm (per visit).

    Parameters
    ----------
    fit
        Any :class:`~retrostudy.results.ModelFit` (ANCOVA, LMM, MMRM or hand-built).
    by
        ``"visit"``: one EMM per arm and visit (contrasts are made within visit).
        ``None``: arms averaged over visits (equal or proportional weights).
    weights
        ``"equal"`` (R emmeans default, SAS LSMEANS) or ``"proportional"`` (SAS OM)
        averaging over the levels of factors not in the grid.
    covariate_means
        Numeric covariates at their mean over the fit's ``"observations"`` (default,
        as R emmeans and SAS) or over ``"subjects"`` (each subject counted once).
    conf_level
        Default: the fit's.

    Returns
    -------
    EmmTable
        Columns ``arm, visit, estimate, std_error, df, statistic, p_value, conf_low,
        conf_high`` and the linear functions ``L`` that define each mean.

    Raises
    ------
    SpecError
        An unknown ``by``, ``weights`` or ``covariate_means``, a fit without an arm
        factor, or proportional weights without the fitting data's level frequencies.

    Examples
    --------
    >>> import retrostudy as rs
    >>> fit = rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
    >>> emm = rs.emmeans(fit)
    >>> emm.to_frame()[["arm", "estimate", "conf_low", "conf_high"]].round(2)
           arm  estimate  conf_low  conf_high
    0    retro      3.91      3.51       4.31
    1  forward      4.26      3.85       4.68
    2  control      4.70      4.27       5.14
    """
    if by not in ("visit", None):
        raise SpecError(f"by must be 'visit' or None, not {by!r}.")
    conf = check_conf_level(fit.conf_level if conf_level is None else conf_level)
    keys, L, means = reference_grid(fit, weights=weights, covariate_means=covariate_means,
                                    average_visits=by is None)
    b = fit.coef.to_numpy()
    V = fit.vcov.to_numpy()
    est = L @ b
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))
    df = np.asarray(fit.dof(L), float).reshape(-1)
    inf = infer_linear(est, se, df, conf)
    table = keys.assign(estimate=est, std_error=se, df=df, **inf).loc[:, list(EMM_COLUMNS)]
    notes = []
    others = [f for f in fit.design.factors if f not in fit.grid_factors]
    if others:
        notes.append(f"Averaged over {', '.join(others)} with {weights} weights.")
    if means:
        shown = ", ".join(f"{k} = {v:.6g}" for k, v in means.items())
        notes.append(f"Numeric covariates held at their mean over {covariate_means}: {shown}.")
    if fit.response == "change":
        notes.append("Response: change from baseline.")
    settings = {
        "conf_level": conf, "df_method": fit.df_method, "weights": weights,
        "covariate_means": covariate_means, "by": by, "outcome": fit.outcome, "model": fit.model,
        "notes": notes,
    }
    return EmmTable(table=table.reset_index(drop=True), settings=settings, L=L, fit=fit, by=by)
