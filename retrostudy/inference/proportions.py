"""Two independent binomial proportions: intervals for one rate, the risk difference, the risk
ratio and the number needed to treat.

``x1`` of ``n1`` subjects respond in the first arm and ``x2`` of ``n2`` in the second;
``p1 = x1 / n1``, ``p2 = x2 / n2`` and ``N = n1 + n2``.

=============================  =====================================================================
function                       method
=============================  =====================================================================
:func:`wilson_interval`        Wilson (1927) score interval for one proportion, no continuity
                               correction (R ``prop.test(x, n, correct = FALSE)``)
:func:`mn_interval_rd`         Miettinen & Nurminen (1985) score interval for ``p1 - p2``: the
                               deltas whose score statistic
                               ``z(d) = (p1 - p2 - d) / sqrt(V(d))``,
                               ``V(d) = (q1 (1 - q1) / n1 + q2 (1 - q2) / n2) N / (N - 1)``
                               lies within the normal quantile, ``q1, q2`` being the maximum
                               likelihood estimates restricted to ``q1 - q2 = d`` (the cubic of
                               Miettinen & Nurminen 1985 / Farrington & Manning 1990, solved in
                               closed form). ``ratesci::scoreci(skew = FALSE)``.
:func:`newcombe_interval_rd`   Newcombe (1998) hybrid score interval (his method 10): Wilson
                               limits of each rate combined by the square-and-add rule.
                               ``ratesci::moverci(type = "wilson")``.
:func:`mn_interval_rr`         Miettinen & Nurminen (1985) score interval for ``p1 / p2``:
                               ``z(r) = (p1 - r p2) / sqrt(V(r))`` with
                               ``V(r) = (q1 (1 - q1) / n1 + r^2 q2 (1 - q2) / n2) N / (N - 1)``
                               and ``q1 = r q2`` restricted (closed-form quadratic). Koopman's
                               (1984) interval is the same without ``N / (N - 1)``.
                               ``ratesci::scoreci(contrast = "RR", skew = FALSE)``.
:func:`score_test`             the score test of ``p1 = p2`` matching both intervals (pooled
                               rate, ``N / (N - 1)`` factor): the "N - 1" chi-squared test
:func:`nnt_from_rd`            number needed to treat ``1 / RD`` with the interval of Altman (1998)
:func:`wald_interval_rd`       the Wald interval, only as the near miss the tests reject
=============================  =====================================================================

Why not statsmodels: ``statsmodels.stats.proportion.confint_proportions_2indep(method="score")``
(0.15) solves the restricted-MLE cubic with a wrong linear coefficient when the tested difference
is not 0 (statsmodels issue 10269), so its Miettinen-Nurminen interval for 36/154 vs 12/77 is off.
The interval bounds here are found by Brent's method on the monotone score statistic to
``1e-12``; the tests check them against ratesci and the published CAMIS example.

References: Miettinen O, Nurminen M. Comparative analysis of two rates. Stat Med 1985;4:213-226.
Farrington CP, Manning G. Stat Med 1990;9:1447-1454. Newcombe RG. Interval estimation for the
difference between independent proportions: comparison of eleven methods. Stat Med
1998;17:873-890. Koopman PAR. Biometrics 1984;40:513-517. Altman DG. Confidence intervals for the
number needed to treat. BMJ 1998;317:1309-1312.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from ..errors import SpecError
from ..tidy import check_conf_level

__all__ = [
    "mn_interval_rd",
    "mn_interval_rr",
    "newcombe_interval_rd",
    "nnt_from_rd",
    "nnt_text",
    "restricted_mle_rd",
    "restricted_mle_rr",
    "score_statistic_rd",
    "score_statistic_rr",
    "score_test",
    "wald_interval_rd",
    "wilson_interval",
]

_BIG = 1e15  # the score statistic is clipped here so the root finder sees finite values
_XTOL = 1e-12


def _check(x: int, n: int, which: str = "") -> tuple[int, int]:
    if n != int(n) or x != int(x) or n < 1 or not 0 <= x <= n:
        raise SpecError(f"Counts{which} must be whole numbers with 0 <= responders <= n and n >= 1; got {x} of {n}.")
    return int(x), int(n)


def _quantile(conf_level: float) -> float:
    check_conf_level(conf_level)
    return float(stats.norm.ppf(0.5 + float(conf_level) / 2.0))


def wilson_interval(x: int, n: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for the proportion ``x / n`` (no continuity correction).

    Parameters
    ----------
    x, n
        Responders and subjects.
    conf_level
        Confidence level.

    Returns
    -------
    tuple of float
        ``(lower, upper)``.

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(12, 77)]
    [0.0915, 0.2529]
    """
    x, n = _check(x, n)
    z = _quantile(conf_level)
    p = x / n
    centre = (x + z * z / 2.0) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1.0 - p) + z * z / (4.0 * n))
    return max(0.0, centre - half), min(1.0, centre + half)


# ------------------------------------------------------------------ risk difference


def restricted_mle_rd(x1: int, n1: int, x2: int, n2: int, delta: float) -> tuple[float, float]:
    """Maximum likelihood estimates of ``(p1, p2)`` restricted to ``p1 - p2 = delta``.

    The closed-form root of the cubic score equation (Miettinen & Nurminen 1985, appendix;
    Farrington & Manning 1990, eq. 2), clipped to the feasible range.
    """
    p1, p2 = x1 / n1, x2 / n2
    d = float(delta)
    if d == 0.0:
        p = (x1 + x2) / (n1 + n2)
        return p, p
    # no responders (or only responders) in both arms: the maximum is on the boundary, where the
    # cubic has a double root that the trigonometric solution finds only to ~1e-8
    if x1 == 0 and x2 == 0:
        return (d, 0.0) if d > 0 else (0.0, -d)
    if x1 == n1 and x2 == n2:
        return (1.0, 1.0 - d) if d > 0 else (1.0 + d, 1.0)
    th = n2 / n1
    a = 1.0 + th
    b = -(1.0 + th + p1 + th * p2 + d * (th + 2.0))
    c = d * d + d * (2.0 * p1 + th + 1.0) + p1 + th * p2
    e = -p1 * d * (1.0 + d)
    v = b**3 / (27.0 * a**3) - b * c / (6.0 * a * a) + e / (2.0 * a)
    u2 = b * b / (9.0 * a * a) - c / (3.0 * a)
    u = math.copysign(math.sqrt(max(u2, 0.0)), v)
    if u == 0.0:
        q1 = -b / (3.0 * a)
    else:
        w = (math.pi + math.acos(min(1.0, max(-1.0, v / u**3)))) / 3.0
        q1 = 2.0 * u * math.cos(w) - b / (3.0 * a)
    lo, hi = max(0.0, d), min(1.0, 1.0 + d)
    q1 = min(hi, max(lo, q1))
    return q1, min(1.0, max(0.0, q1 - d))


def score_statistic_rd(x1: int, n1: int, x2: int, n2: int, delta: float) -> float:
    """The Miettinen-Nurminen score statistic ``z(delta)`` for the risk difference."""
    num = x1 / n1 - x2 / n2 - delta
    q1, q2 = restricted_mle_rd(x1, n1, x2, n2, delta)
    N = n1 + n2
    var = (q1 * (1.0 - q1) / n1 + q2 * (1.0 - q2) / n2) * N / (N - 1.0)
    if abs(num) < 1e-15:
        return 0.0
    if var <= 0.0:
        return math.copysign(_BIG, num)
    return max(-_BIG, min(_BIG, num / math.sqrt(var)))


def mn_interval_rd(x1: int, n1: int, x2: int, n2: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Miettinen-Nurminen score interval for ``p1 - p2``.

    Parameters
    ----------
    x1, n1, x2, n2
        Responders and subjects of the two arms.
    conf_level
        Confidence level.

    Returns
    -------
    tuple of float
        ``(lower, upper)``, within ``[-1, 1]``.

    Examples
    --------
    >>> [round(v, 6) for v in mn_interval_rd(36, 154, 12, 77)]   # CAMIS example
    [-0.036065, 0.177495]
    """
    x1, n1 = _check(x1, n1, " of the first arm")
    x2, n2 = _check(x2, n2, " of the second arm")
    z = _quantile(conf_level)
    est = x1 / n1 - x2 / n2

    def f(d: float, target: float) -> float:
        return score_statistic_rd(x1, n1, x2, n2, d) - target

    lower = -1.0 if est <= -1.0 else optimize.brentq(f, -1.0, est, args=(z,), xtol=_XTOL, rtol=4 * np.finfo(float).eps)
    upper = 1.0 if est >= 1.0 else optimize.brentq(f, est, 1.0, args=(-z,), xtol=_XTOL, rtol=4 * np.finfo(float).eps)
    return float(lower), float(upper)


def newcombe_interval_rd(x1: int, n1: int, x2: int, n2: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Newcombe's (1998, method 10) hybrid score interval for ``p1 - p2``.

    Examples
    --------
    >>> [round(v, 4) for v in newcombe_interval_rd(36, 154, 12, 77)]
    [-0.0361, 0.1751]
    """
    x1, n1 = _check(x1, n1, " of the first arm")
    x2, n2 = _check(x2, n2, " of the second arm")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, conf_level)
    l2, u2 = wilson_interval(x2, n2, conf_level)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return max(-1.0, lower), min(1.0, upper)  # rounding can step past +-1 by one ulp


def wald_interval_rd(x1: int, n1: int, x2: int, n2: int, conf_level: float = 0.95) -> tuple[float, float]:
    """The Wald interval ``p1 - p2 +/- z SE`` (not recommended; the near miss of the tests)."""
    z = _quantile(conf_level)
    p1, p2 = x1 / n1, x2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return p1 - p2 - z * se, p1 - p2 + z * se


# ------------------------------------------------------------------ risk ratio


def restricted_mle_rr(x1: int, n1: int, x2: int, n2: int, ratio: float) -> tuple[float, float]:
    """Maximum likelihood estimates of ``(p1, p2)`` restricted to ``p1 = ratio * p2`` (a quadratic)."""
    r = float(ratio)
    A = (n1 + n2) * r
    B = -(n1 * r + x1 + n2 + x2 * r)
    C = x1 + x2
    disc = max(B * B - 4.0 * A * C, 0.0)
    q2 = (-B - math.sqrt(disc)) / (2.0 * A)
    q2 = min(1.0, max(0.0, q2))
    return min(1.0, r * q2), q2


def score_statistic_rr(x1: int, n1: int, x2: int, n2: int, ratio: float) -> float:
    """The Miettinen-Nurminen score statistic ``z(ratio)`` for the risk ratio."""
    num = x1 / n1 - ratio * x2 / n2
    q1, q2 = restricted_mle_rr(x1, n1, x2, n2, ratio)
    N = n1 + n2
    var = (q1 * (1.0 - q1) / n1 + ratio * ratio * q2 * (1.0 - q2) / n2) * N / (N - 1.0)
    if abs(num) < 1e-15:
        return 0.0
    if var <= 0.0:
        return math.copysign(_BIG, num)
    return max(-_BIG, min(_BIG, num / math.sqrt(var)))


def mn_interval_rr(x1: int, n1: int, x2: int, n2: int, conf_level: float = 0.95) -> tuple[float, float]:
    """Miettinen-Nurminen score interval for ``p1 / p2``.

    The lower limit is 0 when ``x1 = 0`` and the upper limit infinite when ``x2 = 0``.

    Examples
    --------
    >>> [round(v, 6) for v in mn_interval_rr(36, 154, 12, 77)]   # CAMIS example
    [0.848245, 2.732247]
    """
    x1, n1 = _check(x1, n1, " of the first arm")
    x2, n2 = _check(x2, n2, " of the second arm")
    z = _quantile(conf_level)
    if x1 == 0 and x2 == 0:
        return 0.0, math.inf

    def g(t: float, target: float) -> float:  # on the log scale of the ratio
        return score_statistic_rr(x1, n1, x2, n2, math.exp(t)) - target

    # a point inside the interval: the estimate, or a ratio close to 0 / very large at the edges
    t0 = math.log((x1 / n1) / (x2 / n2)) if x1 > 0 and x2 > 0 else (-30.0 if x1 == 0 else 30.0)
    lower = 0.0 if x1 == 0 else _bracket_root(g, t0, -1.0, z)
    upper = math.inf if x2 == 0 else _bracket_root(g, t0, 1.0, -z)
    return lower, upper


def _bracket_root(g, t0: float, step: float, target: float) -> float:
    """exp(t) where g(t, target) = 0, searching from t0 in the direction of ``step``."""
    t1 = t0 + step
    while np.sign(g(t1, target)) == np.sign(g(t0, target)) and g(t0, target) != 0:
        step *= 2.0
        t1 = t0 + step
        if abs(t1) > 700:
            return 0.0 if step < 0 else math.inf
    a, b = sorted((t0, t1))
    return float(math.exp(optimize.brentq(g, a, b, args=(target,), xtol=1e-13, rtol=4 * np.finfo(float).eps)))


# ------------------------------------------------------------------ test and NNT


def score_test(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Score test of ``p1 = p2`` (the statistic of both MN intervals at no difference).

    ``z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2) N / (N - 1))`` with the pooled rate ``p``;
    ``z^2`` is the "N - 1" chi-squared statistic. Returns ``(z, two-sided p)``; ``p = 1``
    when both arms have the same rate (including 0 or all responders in both).
    """
    z = score_statistic_rd(x1, n1, x2, n2, 0.0)
    return z, float(2.0 * stats.norm.sf(abs(z)))


def nnt_from_rd(rd: float, lower: float, upper: float) -> tuple[float, float, float]:
    """Number needed to treat and its interval from a risk difference and its interval.

    ``nnt = 1 / rd``; a positive NNT is a number needed to treat for one more responder
    (benefit of the first arm, NNTB), a negative one a number needed to harm (NNTH).
    The interval maps bound to bound (Altman 1998): ``(1 / upper, 1 / lower)``. When the RD
    interval excludes 0 both have the sign of the NNT and ``conf_low <= conf_high``. When
    it includes 0 the NNT interval passes through infinity: ``conf_low = 1 / upper > 0`` is
    the NNTB bound and ``conf_high = 1 / lower < 0`` minus the NNTH bound, read "NNTB
    conf_low to infinity to NNTH -conf_high" (:func:`nnt_text`). A bound at exactly 0
    gives an infinite NNT bound.
    """
    def inv(x: float) -> float:
        return math.copysign(math.inf, x) if x == 0 else 1.0 / x

    return inv(rd), inv(upper), inv(lower)


def nnt_text(nnt: float, conf_low: float, conf_high: float, digits: int = 1) -> str:
    """The NNT and its interval in words (Altman 1998), e.g. ``"NNTB 5.1 (NNTB 2.9 to NNTH 41.2,
    through infinity)"``.

    Examples
    --------
    >>> nnt_text(*nnt_from_rd(0.2, 0.05, 0.35))
    'NNTB 5.0 (2.9 to 20.0)'
    >>> nnt_text(*nnt_from_rd(0.1, -0.05, 0.25))
    'NNTB 10.0 (NNTB 4.0 to \u221e to NNTH 20.0)'
    """
    def one(v: float) -> str:
        if math.isinf(v):
            return "\u221e"
        return f"{abs(v):.{digits}f}"

    def kind(v: float) -> str:
        return "NNTB" if v > 0 else "NNTH"

    if math.isnan(nnt):
        return "NNT not estimable"
    head = f"{kind(nnt)} {one(nnt)}" if not math.isinf(nnt) else "NNT \u221e (no difference)"
    if math.isnan(conf_low) or math.isnan(conf_high):
        return head
    if conf_low > 0 > conf_high:  # through infinity
        return f"{head} (NNTB {one(conf_low)} to \u221e to NNTH {one(conf_high)})"
    lo, hi = sorted((abs(conf_low), abs(conf_high)))
    return f"{head} ({one(lo)} to {one(hi)})"
