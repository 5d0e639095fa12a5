"""The multivariate t probability ``P(max_i |T_i| < c)`` and its quantile, for Dunnett-type
(``adjust="dunnett"``) p-values and simultaneous intervals.

Why our own: the family of all pairwise differences of three or more means has a
*singular* correlation matrix, and SciPy 1.17's ``multivariate_t.cdf`` gets it wrong
(0.874 for the three-arm pairwise family where the truth is 0.946); statsmodels has no
multivariate t. The spherical-radial method below handles singular correlations exactly
(it works in the range of the correlation), is deterministic (fixed direction rule) and
agrees with R ``mvtnorm`` to the accuracy given in :func:`pmvt_max`.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize, stats

__all__ = ["pmvt_max", "qmvt_max"]

_ANGLES = 20_000
_SOBOL_M = 20
_CHUNK = 64
_DIST_CACHE: dict[bytes, tuple[int, np.ndarray]] = {}


def _factor(corr: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((np.asarray(corr, float) + np.asarray(corr, float).T) / 2.0)
    keep = vals > 1e-10 * max(vals.max(), 1.0)
    return vecs[:, keep] * np.sqrt(vals[keep])


@lru_cache(maxsize=8)
def _sphere_points(r: int) -> np.ndarray:
    if r == 2:
        theta = (np.arange(_ANGLES) + 0.5) * np.pi / _ANGLES
        return np.column_stack([np.cos(theta), np.sin(theta)])
    from scipy.stats import qmc

    u = qmc.Sobol(d=r, scramble=True, seed=20190415).random_base2(_SOBOL_M)
    z = stats.norm.ppf(np.clip(u, 1e-12, 1 - 1e-12))
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def _rho2(corr: np.ndarray) -> tuple[int, np.ndarray]:
    """Rank of ``corr`` and the values of rho(u)^2 over the direction rule (cached)."""
    corr = np.ascontiguousarray(corr, float)
    key = corr.tobytes() + bytes(str(corr.shape), "ascii")
    if key not in _DIST_CACHE:
        A = _factor(corr)
        r = A.shape[1]
        if r == 1:
            vals = np.array([1.0 / np.max(np.abs(A[:, 0])) ** 2])
        else:
            vals = 1.0 / np.max(np.abs(_sphere_points(r) @ A.T), axis=1) ** 2
            if r > 2:  # 2^20 sorted values -> means of 2^14 equal-count chunks (F cdf is smooth)
                vals = np.sort(vals).reshape(-1, _CHUNK).mean(axis=1)
        if len(_DIST_CACHE) > 64:
            _DIST_CACHE.clear()
        _DIST_CACHE[key] = (r, vals)
    return _DIST_CACHE[key]


def pmvt_max(c: float, df: float, corr: np.ndarray) -> float:
    """P(max_i |T_i| < c) for T multivariate t (normal when ``df`` is inf) with correlation ``corr``.

    Spherical-radial method (Genz & Bretz 2009, *Computation of Multivariate Normal
    and t Probabilities*, sec. 4.1): with ``corr = A A'`` of rank r (singular allowed,
    e.g. all pairwise differences of three means) and ``rho(u) = 1 / max_i |a_i'u|``,
    ``P = E_u[F_{r,df}(c^2 rho(u)^2 / r)]`` over directions u on the unit sphere.
    Rank 1 is the t distribution; rank 2 a 20 000-point midpoint rule over the angle
    (absolute error < 1e-8); rank >= 3 averages over 2^20 scrambled Sobol directions
    with a fixed seed (deterministic; absolute error < 2e-6 against mvtnorm with
    10^6 points in our reference cases).
    """
    if c <= 0:
        return 0.0
    r, rho2 = _rho2(corr)
    arg = c * c * rho2
    if r == 1:
        return float(1.0 - 2.0 * (stats.t.sf(np.sqrt(arg[0]), df) if np.isfinite(df) else stats.norm.sf(np.sqrt(arg[0]))))
    vals = stats.f.cdf(arg / r, r, df) if np.isfinite(df) else stats.chi2.cdf(arg, r)
    return float(np.mean(vals))


def qmvt_max(conf: float, df: float, corr: np.ndarray) -> float:
    """The critical value c with ``pmvt_max(c, df, corr) = conf`` (Brent's method)."""
    def tq(p: float) -> float:
        return float(stats.t.ppf(p, df) if np.isfinite(df) else stats.norm.ppf(p))

    m = np.asarray(corr).shape[0]
    lo, hi = tq(0.5 + conf / 2.0), tq(1.0 - (1.0 - conf) / (2.0 * m)) * 1.01 + 1e-9
    if pmvt_max(lo, df, corr) >= conf:
        return lo
    return float(optimize.brentq(lambda c: pmvt_max(c, df, corr) - conf, lo, hi, xtol=1e-10, rtol=1e-12))
