"""The measures of a responder analysis for each pair of arms: risk difference, risk ratio, the
baseline-adjusted odds ratio and the number needed to treat (used by :func:`retrostudy.responders`).

The odds ratio comes from the logistic regression ``responder ~ arm + baseline (+ covariates)``
(statsmodels GLM, binomial family, logit link, IRLS to a deviance change of 1e-13) with a Wald
interval and test on the log scale, as R ``glm`` with ``confint.default``. An arm with no
responders or only responders has no finite log odds; in the limit of the likelihood it
contributes nothing to the other coefficients, so the model is fitted without that arm and the
odds ratios against it are NaN (R ``glm`` gives the same odds ratios for the other pairs, with a
diverging coefficient for that arm).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import SpecError
from . import proportions as prop

__all__ = ["MEASURES", "arm_pairs", "logistic_odds_ratios", "pair_rows"]

MEASURES = ("risk_difference", "risk_ratio", "odds_ratio", "nnt")


def arm_pairs(arms: list[str], method: str, reference: str) -> list[tuple[str, str]]:
    if method == "trt_vs_ref":
        return [(a, reference) for a in arms if a != reference]
    if method == "pairwise":
        return [(arms[i], arms[j]) for i in range(len(arms)) for j in range(i + 1, len(arms))]
    raise SpecError(f"method must be 'trt_vs_ref' or 'pairwise', not {method!r}.")


def logistic_odds_ratios(subjects: pd.DataFrame, arms: list[str], reference: str, covariates: tuple[str, ...],
              pairs: list[tuple[str, str]], conf: float, notes: list[str]) -> dict[tuple[str, str], dict]:
    """Baseline-adjusted odds ratio of each pair from ``responder ~ arm + baseline + covariates``."""
    from ..design import build_design

    empty = {"estimate": np.nan, "std_error": np.nan, "statistic": np.nan, "p_value": np.nan,
             "conf_low": np.nan, "conf_high": np.nan, "x1": np.nan, "n1": np.nan, "x2": np.nan, "n2": np.nan}
    out = {pair: dict(empty) for pair in pairs}
    rows = subjects.dropna(subset=["responder", "baseline", *covariates])
    counts = rows.groupby("arm")["responder"].agg(["sum", "count"])
    for pair in pairs:
        for k, a in enumerate(pair):
            if a in counts.index:
                out[pair][f"x{k + 1}"] = float(counts.loc[a, "sum"])
                out[pair][f"n{k + 1}"] = float(counts.loc[a, "count"])
    # an arm with no responders or only responders has no finite log odds; in the limit it
    # contributes nothing to the other coefficients, so the model is fitted without it
    separated = [a for a in arms if a in counts.index and counts.loc[a, "sum"] in (0, counts.loc[a, "count"])]
    if separated:
        notes.append(f"The odds ratio is not estimable against arm(s) {', '.join(separated)}: no responders or "
                     "only responders there (the logistic model has no finite estimate).")
    fit_arms = [a for a in arms if a in counts.index and a not in separated]
    if len(fit_arms) < 2:
        return out
    rows = rows.loc[rows["arm"].isin(fit_arms)].copy()
    ref = reference if reference in fit_arms else fit_arms[-1]
    rows["arm"] = pd.Categorical(rows["arm"], categories=fit_arms)
    design, X = build_design(rows, " + ".join(["arm", "baseline", *covariates]), factors={"arm": fit_arms},
                             reference={"arm": ref})
    if np.linalg.matrix_rank(X) < X.shape[1] or len(rows) <= X.shape[1]:
        notes.append("The logistic model for the odds ratio is not identifiable (too few subjects, or a covariate "
                      "constant or collinear); no odds ratio is given.")
        return out
    from statsmodels.genmod.families import Binomial
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.tools.sm_exceptions import (
        PerfectSeparationError,
        PerfectSeparationWarning,
    )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = GLM(rows["responder"].to_numpy(float), X, family=Binomial()).fit(
                tol=1e-13, maxiter=200)
        except (ValueError, PerfectSeparationError, FloatingPointError, ZeroDivisionError) as exc:
            notes.append(f"The logistic model for the odds ratio could not be fitted ({exc}); no odds ratio.")
            return out
    b = np.asarray(res.params, float)
    V = np.asarray(res.cov_params(), float)
    if any(issubclass(w.category, PerfectSeparationWarning) for w in caught) or not res.converged \
            or not np.all(np.isfinite(b)) or not np.all(np.isfinite(V)):
        notes.append("The logistic model for the odds ratio did not converge to a finite estimate "
                     "(the baseline separates responders); no odds ratio is given.")
        return out
    z = stats.norm.ppf(0.5 + conf / 2.0)
    cols = list(design.columns)
    for pair in pairs:
        if any(a not in fit_arms for a in pair):
            continue
        L = np.zeros(len(cols))
        for a, sign in zip(pair, (1.0, -1.0)):
            if a != ref:
                L[cols.index(f"arm[{a}]")] += sign
        est = float(L @ b)
        se = float(np.sqrt(L @ V @ L))
        out[pair].update({"estimate": math.exp(est), "std_error": se, "statistic": est / se,
                          "p_value": float(2 * stats.norm.sf(abs(est / se))),
                          "conf_low": math.exp(est - z * se), "conf_high": math.exp(est + z * se)})
    return out


def pair_rows(pair, counts, visit, ci_method, conf, odds) -> list[dict]:
    a1, a2 = pair
    x1, n1 = counts[a1]
    x2, n2 = counts[a2]
    name = f"{a1} vs {a2}"
    base = {"contrast": name, "visit": visit, "first": a1, "second": a2}
    if n1 == 0 or n2 == 0:
        return [{**base, "measure": m, "ci_method": "", "estimate": np.nan} for m in MEASURES]
    p1, p2 = x1 / n1, x2 / n2
    z0, p0 = prop.score_test(x1, n1, x2, n2)
    if ci_method == "newcombe":
        rd_lo, rd_hi = prop.newcombe_interval_rd(x1, n1, x2, n2, conf)
    else:
        rd_lo, rd_hi = prop.mn_interval_rd(x1, n1, x2, n2, conf)
    rr_lo, rr_hi = prop.mn_interval_rr(x1, n1, x2, n2, conf)
    rr = p1 / p2 if p2 > 0 else (math.inf if p1 > 0 else np.nan)
    nnt, nnt_lo, nnt_hi = prop.nnt_from_rd(p1 - p2, rd_lo, rd_hi)
    counts_cols = {"responders_first": x1, "n_first": n1, "rate_first": p1,
                   "responders_second": x2, "n_second": n2, "rate_second": p2}
    test = {"df": math.inf, "statistic": z0, "p_value": p0, "std_error": np.nan}
    odd = odds[pair]
    odd_counts = {"responders_first": odd["x1"], "n_first": odd["n1"],
                  "rate_first": odd["x1"] / odd["n1"] if odd["n1"] else np.nan,
                  "responders_second": odd["x2"], "n_second": odd["n2"],
                  "rate_second": odd["x2"] / odd["n2"] if odd["n2"] else np.nan}
    return [
        {**base, **counts_cols, **test, "measure": "risk_difference", "estimate": p1 - p2, "conf_low": rd_lo,
         "conf_high": rd_hi, "ci_method": ci_method},
        {**base, **counts_cols, **test, "measure": "risk_ratio", "estimate": rr, "conf_low": rr_lo,
         "conf_high": rr_hi, "ci_method": "miettinen-nurminen"},
        {**base, **odd_counts, "measure": "odds_ratio", "estimate": odd["estimate"], "std_error": odd["std_error"],
         "df": math.inf, "statistic": odd["statistic"], "p_value": odd["p_value"], "conf_low": odd["conf_low"],
         "conf_high": odd["conf_high"], "ci_method": "wald (logistic regression)"},
        {**base, **counts_cols, "measure": "nnt", "estimate": nnt, "std_error": np.nan, "df": np.nan,
         "statistic": np.nan, "p_value": np.nan, "conf_low": nnt_lo, "conf_high": nnt_hi,
         "ci_method": f"{ci_method} (inverted, Altman 1998)"},
    ]
