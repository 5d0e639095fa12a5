"""Critical values for the (arms - 1) comparisons of experimental arms with one control arm.

``adjust="none"`` uses the per-comparison level, ``"bonferroni"`` the level divided by the
number of comparisons, and ``"dunnett"`` the exact many-to-one critical value: the c with
``P(max_i |T_i| < c) = 1 - alpha`` (two-sided) or ``P(max_i T_i < c) = 1 - alpha`` (one-sided)
for equicorrelated T_i (normal when ``df`` is infinite, else multivariate t with ``df``).
With equal allocation and variance factor among the experimental arms the correlation of
two comparisons sharing the control is ``rho = (phi2 / n2) / (phi1 / n1 + phi2 / n2)``
(Dunnett 1955), so the probability is a one-dimensional integral over the shared control
term (Gauss-Hermite, 96 nodes) and, for t, one more over the variance estimate
(trapezoidal rule in the log of the chi-square, 400 points).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize, special, stats

__all__ = ["critical_value", "many_to_one_corr"]

_GH = np.polynomial.hermite_e.hermegauss(96)  # nodes and weights for exp(-x^2 / 2)


def many_to_one_corr(phi1: float, phi2: float, allocation: float) -> float:
    """Correlation of two experimental-vs-control estimates (n1 = allocation * n2 per arm)."""
    return allocation * phi2 / (phi1 + allocation * phi2)


def _p_normal(c: np.ndarray, rho: float, m: int, two_sided: bool) -> np.ndarray:
    """P(max |Z_i| < c) (or max Z_i < c) for m equicorrelated standard normals, for each c."""
    x, w = _GH
    w = w / w.sum()
    s, r = np.sqrt(rho), np.sqrt(1.0 - rho)
    c = np.atleast_1d(np.asarray(c, float))[:, None]
    upper = special.ndtr((c - s * x[None, :]) / r)
    inner = upper - special.ndtr((-c - s * x[None, :]) / r) if two_sided else upper
    return np.clip(inner, 0.0, 1.0) ** m @ w


@lru_cache(maxsize=256)
def _chi_grid(df: float) -> tuple[np.ndarray, np.ndarray]:
    """Values of S = sqrt(chi2_df / df) and weights for E[g(S)]: the trapezoidal rule in log(chi2).

    In w = log(u) the chi-square density is smooth and bell-shaped, so the trapezoidal rule
    over its 1e-15 to 1 - 1e-15 quantiles converges geometrically (400 points: ~1e-14).
    """
    w = np.linspace(np.log(stats.chi2.ppf(1e-15, df)), np.log(stats.chi2.isf(1e-15, df)), 400)
    u = np.exp(w)
    weight = np.exp(w + stats.chi2.logpdf(u, df))
    return np.sqrt(u / df), weight / weight.sum()


def _p_max(c: float, rho: float, m: int, df: float, two_sided: bool) -> float:
    if not np.isfinite(df) or df > 1e7:
        return float(_p_normal(np.array([c]), rho, m, two_sided)[0])
    s, w = _chi_grid(float(df))
    return float(_p_normal(c * s, rho, m, two_sided) @ w)


@lru_cache(maxsize=4096)
def _dunnett(alpha: float, rho: float, m: int, df: float, two_sided: bool) -> float:
    def z(p):
        return stats.norm.isf(p) if not np.isfinite(df) else stats.t.isf(p, df)

    side = 2.0 if two_sided else 1.0
    lo, hi = z(alpha / side), z(alpha / (side * m)) * 1.05 + 1e-6
    return float(optimize.brentq(lambda c: _p_max(c, rho, m, df, two_sided) - (1.0 - alpha), lo, hi,
                                 xtol=1e-12, rtol=1e-13))


def critical_value(alpha: float, *, comparisons: int = 1, adjust: str = "none", df: float = np.inf,
                   two_sided: bool = True, rho: float = 0.5) -> float:
    """The critical value of each comparison's z or t statistic.

    Parameters
    ----------
    alpha
        Family-wise significance level.
    comparisons
        Number of comparisons with the control arm (arms - 1).
    adjust
        ``"none"``, ``"bonferroni"`` or ``"dunnett"``.
    df
        Degrees of freedom of the t statistics; ``inf`` for z.
    two_sided
        Two-sided (``|T| > c``) or one-sided (``T > c``) rejection.
    rho
        Correlation of two comparisons (``"dunnett"`` only), see :func:`many_to_one_corr`.

    Returns
    -------
    float
        The critical value c.

    Examples
    --------
    >>> round(critical_value(0.05, comparisons=2, adjust="dunnett", rho=0.5), 4)
    2.2121
    """
    side = 2.0 if two_sided else 1.0
    finite = np.isfinite(df)
    if comparisons <= 1 or adjust == "none":
        level = alpha / side
    elif adjust == "bonferroni":
        level = alpha / (side * comparisons)
    else:
        return _dunnett(float(alpha), float(round(rho, 14)), int(comparisons), float(df) if finite else np.inf,
                        bool(two_sided))
    return float(stats.t.isf(level, df) if finite else stats.norm.isf(level))
