"""Contrasts of EMMs with multiplicity adjustment, and joint (Type III) F tests.

Families are formed within each visit (R emmeans ``by = "visit"``). Adjustments and
the R emmeans option each one matches:

======================  ==========================  ==============================================
``adjust``              p-values                    confidence intervals
======================  ==========================  ==============================================
``"none"``              t                           t (emmeans ``adjust = "none"``)
``"bonferroni"``        statsmodels multipletests   t at 1 - alpha / (2m) (emmeans ``"bonferroni"``)
``"holm"``              statsmodels multipletests   Bonferroni, as emmeans does for ``"holm"``
``"dunnett"``           exact multivariate t        mvt critical value (emmeans ``"mvt"``)
``"tukey"``             studentized range           qtukey / sqrt(2) (emmeans ``"tukey"``)
======================  ==========================  ==============================================

``"dunnett"`` uses the actual correlation of the family's estimates, so it is exact
for any family (Dunnett for treatment-vs-reference, Tukey-Kramer-equivalent for
pairwise); it matches emmeans ``"mvt"``, not the ``"dunnettx"`` approximation.
``"tukey"`` is for the pairwise family only (emmeans silently switches it to Sidak for
other families; retrostudy raises instead). Multivariate-t probabilities come from
:func:`pmvt_max`, see its docstring for the method and accuracy.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..deprecation import NOT_GIVEN, NotGiven, resolve_renamed
from ..errors import SpecError
from ..options import ADJUST
from ..results import ModelFit, TidyResult, infer_linear
from ..tidy import setting_notes
from .emmeans import EmmTable, reference_grid
from .mvt import pmvt_max, qmvt_max

__all__ = ["contrasts", "joint_tests", "ContrastTable", "JointTestTable", "ADJUST"]

CONTRAST_COLUMNS = ("contrast", "visit", "estimate", "std_error", "df", "statistic", "p_value", "p_adjusted",
                    "adjust", "conf_low", "conf_high")
JOINT_COLUMNS = ("term", "num_df", "den_df", "statistic", "p_value")


@dataclass(frozen=True, eq=False, repr=False)
class ContrastTable(TidyResult):
    """Contrasts of EMMs: the table, its settings, the coefficient rows ``L`` and the EMMs."""

    table: pd.DataFrame
    settings: Mapping[str, object]
    L: np.ndarray
    emm: EmmTable
    title: str = field(default="Contrasts of estimated marginal means")

    @property
    def fit(self) -> ModelFit:
        return self.emm.fit


@dataclass(frozen=True, eq=False, repr=False)
class JointTestTable(TidyResult):
    """Type III (joint) F tests: ``term, num_df, den_df, statistic (F), p_value``."""

    table: pd.DataFrame
    settings: Mapping[str, object]
    title: str = field(default="Joint tests (Type III F)")


# ---------------------------------------------------------------- contrasts


def _contrast_weights(arms: list[str], family: Any, reference: str) -> tuple[list[str], np.ndarray]:
    k = len(arms)
    if family == "trt_vs_ref":
        if reference not in arms:
            raise SpecError(f"Reference arm {reference!r} has no EMM; arms: {', '.join(arms)}.")
        r = arms.index(reference)
        names, rows = [], []
        for i, a in enumerate(arms):
            if i != r:
                w = np.zeros(k)
                w[i], w[r] = 1.0, -1.0
                names.append(f"{a} - {reference}")
                rows.append(w)
        return names, np.array(rows)
    if family == "pairwise":
        names, rows = [], []
        for i in range(k):
            for j in range(i + 1, k):
                w = np.zeros(k)
                w[i], w[j] = 1.0, -1.0
                names.append(f"{arms[i]} - {arms[j]}")
                rows.append(w)
        return names, np.array(rows)
    if isinstance(family, Mapping):
        names, rows = [], []
        for name, weights in family.items():
            if isinstance(weights, Mapping):
                unknown = sorted(set(map(str, weights)) - set(arms))
                if unknown:
                    raise SpecError(f"Contrast {name!r} names arm(s) {unknown}; arms: {', '.join(arms)}.")
                w = np.array([float(weights.get(a, 0.0)) for a in arms])
            else:
                w = np.asarray(list(weights), float)
                if w.shape != (k,):
                    raise SpecError(f"Contrast {name!r} needs {k} weights (one per arm: {', '.join(arms)}).")
            names.append(str(name))
            rows.append(w)
        if not rows:
            raise SpecError("The contrast dictionary is empty; give at least one {name: weights} entry.")
        return names, np.array(rows)
    raise SpecError(f"family must be 'trt_vs_ref', 'pairwise' or a {{name: weights}} dict, not {family!r}.")


def _adjust_family(est: np.ndarray, se: np.ndarray, df: np.ndarray, t: np.ndarray, p: np.ndarray, adjust: str,
                   conf: float, corr: np.ndarray, n_means: int) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values and CI half-width multipliers for one family."""
    m = len(est)
    if adjust == "none" or m == 1:
        return p.copy(), stats.t.ppf(0.5 + conf / 2.0, df)
    if adjust in ("holm", "bonferroni"):
        from statsmodels.stats.multitest import multipletests

        padj = multipletests(p, method=adjust)[1]
        return padj, stats.t.ppf(1.0 - (1.0 - conf) / (2.0 * m), df)
    if adjust == "tukey":
        padj = np.array([stats.studentized_range.sf(np.sqrt(2.0) * abs(ti), n_means, di) for ti, di in zip(t, df)])
        crit = _per_df(df, lambda d: stats.studentized_range.ppf(conf, n_means, d) / np.sqrt(2.0))
        return padj, crit
    # dunnett: exact multivariate t with the family's correlation
    padj = np.array([1.0 - pmvt_max(abs(ti), di, corr) for ti, di in zip(t, df)])
    crit = _per_df(df, lambda d: qmvt_max(conf, d, corr))
    return np.clip(padj, 0.0, 1.0), crit


def _per_df(df: np.ndarray, critical: Callable[[float], float]) -> np.ndarray:
    """``critical(d)`` for each df, computed once per distinct df (the quantiles are expensive)."""
    values = {d: critical(d) for d in dict.fromkeys(float(x) for x in df)}
    return np.array([values[float(d)] for d in df])


def contrasts(
    emm: EmmTable,
    *,
    family: str | Mapping[str, Sequence[float] | Mapping[str, float]] | None = None,
    adjust: str = "none",
    reference_arm: str | None = None,
    method: str | Mapping[str, Sequence[float] | Mapping[str, float]] | None | NotGiven = NOT_GIVEN,
) -> ContrastTable:
    """Differences between arms' EMMs within each visit, with a multiplicity adjustment.

    Parameters
    ----------
    emm
        From :func:`retrostudy.emmeans`.
    family
        The family of contrasts: ``"trt_vs_ref"`` (default; each arm minus the reference
        arm, in declared order), ``"pairwise"`` (every earlier arm minus every later arm:
        retro - forward, retro - control, forward - control) or ``{name: weights}`` with
        one weight per arm (a sequence in arm order, or a dict keyed by arm).
    adjust
        ``"none"``, ``"holm"``, ``"bonferroni"``, ``"dunnett"`` (exact multivariate t,
        emmeans ``"mvt"``) or ``"tukey"`` (studentized range; pairwise only). The
        family is the set of contrasts at one visit.
    reference_arm
        Default: the fit's reference arm.
    method
        Deprecated spelling of ``family`` (``method`` names the estimation method
        elsewhere); works with a ``FutureWarning``.

    Returns
    -------
    ContrastTable
        Columns ``contrast, visit, estimate, std_error, df, statistic, p_value,
        p_adjusted, adjust, conf_low, conf_high``; the CI is adjusted as the p-value
        (Bonferroni intervals for Holm, as emmeans).

    Raises
    ------
    SpecError
        An unknown ``adjust`` or ``family``, Tukey for a family that is not pairwise, a
        reference arm without an EMM, or custom weights that do not match the arms.

    Examples
    --------
    >>> import retrostudy as rs
    >>> emm = rs.emmeans(rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs"))
    >>> con = rs.contrasts(emm, family="pairwise", adjust="tukey")
    >>> con.to_frame()[["contrast", "estimate", "p_adjusted"]].round(3)
                contrast  estimate  p_adjusted
    0    retro - forward    -0.352       0.451
    1    retro - control    -0.795       0.025
    2  forward - control    -0.443       0.311
    """
    family = resolve_renamed("contrasts", "family", family, "method", method) or "trt_vs_ref"
    if adjust not in ADJUST:
        raise SpecError(f"adjust must be one of {', '.join(ADJUST)}, not {adjust!r}.")
    if adjust == "tukey" and family != "pairwise":
        raise SpecError("adjust='tukey' is for pairwise comparisons; use adjust='dunnett' for other families.")
    fit = emm.fit
    conf = emm.conf_level
    reference = reference_arm or fit.reference_arm
    b, V = fit.coef.to_numpy(), fit.vcov.to_numpy()
    frames, Ls = [], []
    constrained: list[str] = []
    for visit in emm.visits:
        rows = np.flatnonzero((emm.table["visit"] == visit).to_numpy())
        arms = [str(a) for a in emm.table["arm"].iloc[rows]]
        names, W = _contrast_weights(arms, family, reference)
        L = W @ emm.L[rows]
        if np.all(np.abs(L) <= 1e-12 * max(1.0, float(np.abs(emm.L).max()))):
            constrained.append(str(visit))  # the model has no arm difference here (cLDA at baseline)
            continue
        est = L @ b
        cov = L @ V @ L.T
        se = np.sqrt(np.diag(cov))
        df = np.asarray(fit.dof(L), float).reshape(-1)
        inf = infer_linear(est, se, df, conf)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(se, se)
        padj, crit = _adjust_family(est, se, df, inf["statistic"], inf["p_value"], adjust, conf, corr, len(arms))
        frames.append(pd.DataFrame({
            "contrast": names, "visit": visit, "estimate": est, "std_error": se, "df": df,
            "statistic": inf["statistic"], "p_value": inf["p_value"], "p_adjusted": padj, "adjust": adjust,
            "conf_low": est - crit * se, "conf_high": est + crit * se,
        }))
        Ls.append(L)
    if not frames:
        raise SpecError("The model has no arm difference at any visit to contrast.")
    table = pd.concat(frames, ignore_index=True).loc[:, list(CONTRAST_COLUMNS)]
    notes = list(setting_notes(emm.settings))
    if constrained:
        notes.append(f"No contrast at {', '.join(constrained)}: the model constrains the arms to one mean there.")
    if adjust != "none":
        ci_adj = {"holm": "bonferroni", "dunnett": "mvt"}.get(adjust, adjust)
        notes.append(f"P values adjusted by {adjust} and intervals by {ci_adj} within each visit.")
    settings = {
        "conf_level": conf, "df_method": fit.df_method, "weights": emm.settings.get("weights"),
        "adjust": adjust, "family": family if isinstance(family, str) else "custom", "reference_arm": reference,
        "outcome": fit.outcome, "model": fit.model, "notes": notes,
    }
    return ContrastTable(table=table, settings=settings, L=np.vstack(Ls), emm=emm)


# ---------------------------------------------------------------- joint tests


def _diff_basis(k: int) -> np.ndarray:
    return np.eye(k)[:-1] - np.eye(k)[1:]


def _row_space(L: np.ndarray) -> np.ndarray:
    if L.size == 0:
        return L
    U, s, Vt = np.linalg.svd(L, full_matrices=False)
    tol = max(L.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0) * 1e3
    r = int(np.sum(s > max(tol, 1e-10)))
    return s[:r, None] * Vt[:r]


def joint_tests(fit: ModelFit) -> JointTestTable:
    """Type III F tests of each model term, as R ``emmeans::joint_tests``.

    Terms made of grid factors (``arm``, ``visit``, ``arm:visit``) are tested as all
    contrasts of the EMMs among that term's levels, averaged over the other grid
    factors with equal weights (independent of the coding); other terms (baseline,
    covariates) as their coefficients being zero, which is ``car::Anova(type = 3)``
    for terms not in an interaction. Terms mixing a grid factor with a covariate are
    left out (a note says so). Each F uses ``fit.ftest`` (the fit's df method).

    Parameters
    ----------
    fit
        Any :class:`~retrostudy.results.ModelFit`.

    Returns
    -------
    JointTestTable
        Columns ``term, num_df, den_df, statistic, p_value``, one row per term.

    Examples
    --------
    >>> import retrostudy as rs
    >>> fit = rs.fit_mmrm(rs.load_dataset("alghadir2019_sim"), outcome="womac", baseline="none")
    >>> rs.joint_tests(fit).to_frame().round(3)
            term  num_df  den_df  statistic  p_value
    0        arm     2.0  64.939      0.016    0.984
    1      visit     1.0  57.067     93.330    0.000
    2  arm:visit     2.0  57.058      3.920    0.025
    """
    design = fit.design
    grid = [g for g in fit.grid_factors if g in design.factors]
    keys, Lg, _ = reference_grid(fit, weights="equal")
    levels = {g: list(design.factors[g].levels) for g in grid}
    # reference_grid orders rows visit-major (visit outer, arm inner)
    order = ["visit", "arm"] if "visit" in grid else ["arm"]
    records, notes = [], []
    for term in design.terms:
        name = ":".join(term)
        in_grid = [v for v in term if v in grid]
        if in_grid and len(in_grid) == len(term):
            K = np.ones((1, 1))
            for g in order:
                k = len(levels[g])
                part = _diff_basis(k) if g in term else np.full((1, k), 1.0 / k)
                K = np.kron(K, part)
            L = _row_space(K @ Lg)
        elif not in_grid:
            idx = design.term_index[name]
            L = np.eye(len(design.columns))[list(idx)]
        else:
            notes.append(f"Term {name} (a grid factor by covariate interaction) is not tested.")
            continue
        if L.shape[0] == 0:
            continue
        F, q, ddf = fit.ftest(L)
        records.append({"term": name, "num_df": float(q), "den_df": float(ddf), "statistic": float(F),
                        "p_value": float(stats.f.sf(F, q, ddf))})
    table = pd.DataFrame.from_records(records, columns=list(JOINT_COLUMNS))
    settings = {"df_method": fit.df_method, "outcome": fit.outcome, "model": fit.model, "notes": notes}
    return JointTestTable(table=table, settings=settings)
