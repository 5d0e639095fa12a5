"""Pooling replicate results into one estimate, SE, df, CI and p-value per contrast and visit.

* **Jackknife** (conditional mean imputation): the full-data estimate, SE
  ``sqrt((N-1)/N * sum_i (e_i - mean e)^2)`` over the N leave-one-subject-out
  estimates, normal CI and p-value (Wolbers et al. 2022, Pharm Stat 21:1246; rbmi
  ``pool_internal.jackknife``).
* **Bootstrap** (conditional mean imputation): the full-data estimate, SE the standard
  deviation (N - 1 denominator) of the bootstrap estimates, normal CI and p-value
  (rbmi ``pool(type = "normal")``).
* **Rubin's rules** (multiple imputation): the mean estimate, total variance
  ``W + (1 + 1/M) B``, and the Barnard & Rubin (1999) small-sample df with the
  complete-data df of the analysis (rbmi ``rubin_rules``); t CI and p-value.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["barnard_rubin_df", "inference", "percentile_interval", "pool_bmlmi", "pool_bootstrap", "pool_jackknife", "pool_rubin", "rubin_df_original"]


def inference(est: np.ndarray, se: np.ndarray, df: np.ndarray, conf_level: float) -> dict[str, np.ndarray]:
    """Two-sided p-value and CI; ``df = inf`` is the normal case."""
    est, se, df = np.broadcast_arrays(np.asarray(est, float), np.asarray(se, float), np.asarray(df, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    p = 2.0 * stats.t.sf(np.abs(z), df)
    q = stats.t.ppf(0.5 + conf_level / 2.0, df)
    return {"estimate": est, "std_error": se, "df": df, "conf_low": est - q * se, "conf_high": est + q * se,
            "p_value": p}


def pool_jackknife(full: np.ndarray, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(estimate, se, df=inf)`` from the full-data estimate and the (N, ...) leave-one-out estimates."""
    N = reps.shape[0]
    dev = reps - reps.mean(axis=0)
    se = np.sqrt((N - 1) / N * np.sum(dev * dev, axis=0))
    return full, se, np.full_like(full, np.inf)


def pool_bootstrap(full: np.ndarray, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(estimate, se, df=inf)``: full-data estimate, SD of the (N, ...) bootstrap estimates."""
    se = reps.std(axis=0, ddof=1) if reps.shape[0] > 1 else np.full_like(full, np.nan)
    return full, se, np.full_like(full, np.inf)


def percentile_interval(reps: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap percentile CI and p-value over the (N, ...) bootstrap estimates (rbmi
    ``pool(type = "percentile")``): the CI ends are R's type-6 quantiles (numpy's ``weibull``)
    at ``alpha/2`` and ``1 - alpha/2``; the two-sided p-value is ``2 min(q, 1 - q)`` (at most 1)
    where ``q`` solves ``quantile(reps, q) = 0``, found exactly on the piecewise-linear quantile
    function (rbmi uses ``uniroot``)."""
    alpha = 1.0 - conf_level
    low, high = np.quantile(reps, [alpha / 2, 1 - alpha / 2], axis=0, method="weibull")
    flat = reps.reshape(reps.shape[0], -1)
    p = np.empty(flat.shape[1])
    N = flat.shape[0]
    for j in range(flat.shape[1]):
        x = np.sort(flat[:, j])
        if np.all(x == 0):
            q = 0.5
        elif x[0] > 0:
            q = 0.0
        elif x[-1] < 0:
            q = 1.0
        elif np.any(x == 0):  # rbmi: ranks of the zeros
            ranks = np.flatnonzero(x == 0) + 1
            q = min(ranks.min() / (N + 1), 1 - ranks.max() / (N + 1))
            p[j] = min(2 * q, 1.0)
            continue
        else:  # x[k-1] < 0 < x[k] (1-based k): h = k + (0 - x_k) / (x_{k+1} - x_k), q = h / (N + 1)
            k = int(np.searchsorted(x, 0.0))  # x[k-1] < 0 <= x[k] (0-based)
            h = k + (0.0 - x[k - 1]) / (x[k] - x[k - 1])
            q = h / (N + 1)
        p[j] = min(2 * min(q, 1 - q), 1.0)
    return low, high, p.reshape(reps.shape[1:])


def barnard_rubin_df(v_com: float, var_b: np.ndarray, var_t: np.ndarray, M: int) -> np.ndarray:
    """Barnard & Rubin (1999) df: ``(v_old v_obs) / (v_old + v_obs)`` with ``v_old = (M-1)/lambda^2``,
    ``v_obs = (v_com+1)/(v_com+3) v_com (1-lambda)``, ``lambda = (1+1/M) B / T`` (rbmi ``rubin_df``)."""
    var_b = np.asarray(var_b, float)
    var_t = np.asarray(var_t, float)
    lam = (1.0 + 1.0 / M) * var_b / var_t
    if np.isinf(v_com):
        with np.errstate(divide="ignore"):
            return np.where(lam > 0, (M - 1) / lam**2, np.inf)
    v_obs = (v_com + 1.0) / (v_com + 3.0) * v_com * (1.0 - lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        v_old = (M - 1) / lam**2
        df = np.where(lam > 0, v_old * v_obs / (v_old + v_obs), v_obs)
    return df


def rubin_df_original(var_b: np.ndarray, var_t: np.ndarray, M: int) -> np.ndarray:
    """Rubin's (1987) large-sample df ``(M-1)/lambda^2`` (for comparison; not the default)."""
    lam = (1.0 + 1.0 / M) * np.asarray(var_b, float) / np.asarray(var_t, float)
    with np.errstate(divide="ignore"):
        return (M - 1) / lam**2


def pool_bmlmi(est: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrapped maximum-likelihood MI (von Hippel & Bartlett 2021, Stat Sci 36:400; rbmi
    ``get_ests_bmlmi``): ``est`` is (B, D, ...), D imputations of each of B bootstrap samples.

    Point estimate: the grand mean. With ``MSW`` and ``MSB`` the within- and between-sample
    mean squares of the one-way random-effects ANOVA, the variance is
    ``(1 + 1/B) (MSB - MSW)/D + MSW/(B D)`` and the df
    ``var^2 / ((B+1)^2/(B D)^2 MSB^2/(B-1) + MSW^2/(B D^2 (D-1)))``, at least 3.
    """
    B, D = est.shape[:2]
    point = est.mean(axis=(0, 1))
    means = est.mean(axis=1)
    ssw = np.sum((est - means[:, None]) ** 2, axis=(0, 1))
    ssb = D * np.sum((means - point) ** 2, axis=0)
    msw = ssw / (B * (D - 1))
    msb = ssb / (B - 1)
    var = (1 + 1 / B) * (msb - msw) / D + msw / (B * D)
    df = var**2 / (((B + 1) / (B * D)) ** 2 * msb**2 / (B - 1) + msw**2 / (B * D**2 * (D - 1)))
    with np.errstate(invalid="ignore"):
        se = np.sqrt(var)
    return point, se, np.maximum(3.0, df)


def pool_rubin(est: np.ndarray, se: np.ndarray, v_com: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(estimate, se, df)`` by Rubin's rules over the (M, ...) imputation results."""
    M = est.shape[0]
    point = est.mean(axis=0)
    var_w = np.mean(se**2, axis=0)
    var_b = est.var(axis=0, ddof=1)
    var_t = var_w + var_b + var_b / M
    return point, np.sqrt(var_t), barnard_rubin_df(v_com, var_b, var_t, M)
