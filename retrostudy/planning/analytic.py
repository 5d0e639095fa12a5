"""Analytic power and sample size: two-sample t-test, ANCOVA on baseline, MMRM over all visits.

Every function solves for whichever one of the sample size, the effect and the power is
left as ``None``. Sizes are returned unrounded (as R ``power.t.test`` and longpower do);
the result rounds each arm up when it prints. With ``arms > 2`` each of the
``arms - 1`` experimental arms (``n1`` subjects each) is compared with one control arm
(``n2`` subjects) and ``power`` is the power of each comparison at the adjusted level
(``adjust="bonferroni"`` or ``"dunnett"``, see :mod:`retrostudy.planning.critical`).

References
----------
Lu K, Luo X, Chen P-Y (2008). Sample size estimation for repeated measures analysis in
randomized clinical trials with missing data. *Int J Biostat* 4(1), formula (3).
Borm GF, Fransen J, Lemmens WAJG (2007). A simple sample size formula for analysis of
covariance in randomized clinical trials. *J Clin Epidemiol* 60:1234-1238.
Shieh G (2020). Power analysis and sample size planning in ANCOVA designs.
*Psychometrika* 85:101-120.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from ..errors import SpecError
from .checks import (
    check_adjust,
    check_alpha,
    check_alternative,
    check_arms,
    check_corr,
    check_positive,
    check_prob,
    check_retention,
    one_unknown,
)
from .critical import critical_value, many_to_one_corr
from .result import PowerResult

__all__ = ["mmrm_phi", "power_ancova", "power_mmrm", "power_ttest", "structured_corr"]

_MAX_N = 1e7


# ---------------------------------------------------------------------------- shared pieces

def structured_corr(rho: float, n_visits: int, structure: str, times: Sequence[float] | None = None) -> np.ndarray:
    """A ``cs`` (compound symmetry) or ``ar1`` (``rho ** |t_i - t_j|``) correlation matrix.

    Examples
    --------
    >>> structured_corr(0.5, 3, "ar1").round(2).tolist()
    [[1.0, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 1.0]]
    """
    rho = float(rho)
    if not -1.0 < rho < 1.0:
        raise SpecError(f"corr must be between -1 and 1 (exclusive) for structure {structure!r}, not {rho!r}.")
    if structure == "cs":
        R = np.full((n_visits, n_visits), rho)
        np.fill_diagonal(R, 1.0)
        return R
    if structure == "ar1":
        t = np.arange(n_visits, dtype=float) if times is None else np.asarray(times, float)
        if t.shape != (n_visits,):
            raise SpecError(f"times has {t.size} values but retention has {n_visits} visits; give one time per visit.")
        return rho ** np.abs(np.subtract.outer(t, t))
    raise SpecError(f"structure must be 'cs' or 'ar1' when corr is one number, not {structure!r}.")


def mmrm_phi(corr: np.ndarray, retention: np.ndarray) -> float:
    """Lu, Luo & Chen's variance factor of the final-visit mean under monotone dropout.

    ``phi = [ (sum_j (r_j - r_{j+1}) R_j^-) ^-1 ]_{JJ}`` where ``R_j^-`` is the inverse of
    the first j x j block of the correlation, padded with zeros, and ``r_{J+1} = 0``:
    subjects who leave after visit j inform the final mean through their first j visits.

    Examples
    --------
    >>> round(mmrm_phi(np.eye(2), np.array([1.0, 0.5])), 6)
    2.0
    """
    J = len(retention)
    r0 = np.append(retention, 0.0)
    info = np.zeros((J, J))
    for j in range(1, J + 1):
        weight = r0[j - 1] - r0[j]
        if weight > 0:
            info[:j, :j] += weight * np.linalg.inv(corr[:j, :j])
    return float(np.linalg.inv(info)[J - 1, J - 1])


def _split(n_total: float, allocation: float, arms: int) -> tuple[float, float]:
    n2 = n_total / ((arms - 1) * allocation + 1.0)
    return allocation * n2, n2


def _common(power: float | None, alpha: float, alternative: str, allocation: float, arms: int, adjust: str,
            sd: float, effect: float | None) -> tuple[float | None, float, str, float, int, str, float, float | None]:
    power = None if power is None else check_prob(power, "power")
    alpha = check_alpha(alpha)
    alternative = check_alternative(alternative)
    allocation = check_positive(allocation, "allocation", hint="it is n1 / n2, e.g. 1 for equal arms or 2 for 2:1")
    arms = check_arms(arms)
    adjust = check_adjust(adjust, arms)
    sd = check_positive(sd, "sd", hint="give the outcome's standard deviation (a positive number)")
    if effect is not None:
        effect = float(effect)
        if not np.isfinite(effect) or effect == 0:
            raise SpecError(f"effect must be a non-zero number (the difference in means to detect), not {effect!r}.")
    return power, alpha, alternative, allocation, arms, adjust, sd, effect


def _retention_pair(value: Any, name: str = "retention") -> tuple[float, float]:
    vals = np.atleast_1d(np.asarray(value, dtype=float)) if value is not None else np.array([1.0])
    if vals.size == 1:
        vals = np.repeat(vals, 2)
    if vals.size != 2:
        raise SpecError(f"{name} must be one proportion, or two (experimental arm, control arm).")
    for v in vals:
        if not np.isfinite(v) or not 0 < v <= 1:
            raise SpecError(f"{name} must be a proportion in (0, 1] of subjects with a final-visit value, not {v!r}.")
    return float(vals[0]), float(vals[1])


def _solve_increasing(f: Callable[[float], float], target: float, lo: float, what: str) -> float:
    """Smallest x >= lo with f(x) = target for f increasing (doubling bracket, then Brent)."""
    if f(lo) >= target:
        return lo
    hi = max(2.0 * lo, 4.0)
    while f(hi) < target:
        if hi > _MAX_N:
            raise SpecError(f"No {what} up to {_MAX_N:.0e} reaches the requested power; the effect is too small "
                            "for this design (check effect and sd).")
        lo, hi = hi, 2.0 * hi
    return float(optimize.brentq(lambda x: f(x) - target, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=500))


def _given(value: float | None, name: str) -> float:
    """A quantity the caller gave (only the one solved for is None; the checks made sure)."""
    if value is None:
        raise RuntimeError(f"internal: {name} is the quantity solved for, not a given one")
    return float(value)


def _nct_reject(ncp: float, df: float, crit: float, two_sided: bool) -> float:
    """P(T > c) (+ P(T < -c) two-sided) for T noncentral t(df, ncp) (as statsmodels and pingouin)."""
    p = float(stats.nct.sf(crit, df, ncp))
    if two_sided:  # SciPy 1.17's nct.cdf returns NaN far in the lower tail (where it is < 1e-20)
        p += float(np.nan_to_num(stats.nct.cdf(-crit, df, ncp), nan=0.0))
    return p


def _crit(alpha: float, arms: int, adjust: str, df: float, two_sided: bool, rho: float) -> float:
    return critical_value(alpha, comparisons=arms - 1, adjust=adjust, df=df, two_sided=two_sided, rho=rho)


def _sources(sources: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (sources or {}).items()}


# ---------------------------------------------------------------------------- two-sample t-test

def power_ttest(
    *,
    n1: float | None = None,
    effect: float | None = None,
    power: float | None = None,
    sd: float,
    allocation: float = 1.0,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    retention: float | Sequence[float] = 1.0,
    arms: int = 2,
    adjust: str = "none",
    sources: Mapping[str, str] | None = None,
) -> PowerResult:
    """Power or sample size of the two-sample t-test on the final-visit value (exact noncentral t).

    Solves for whichever of ``n1``, ``effect``, ``power`` is None. The power is the
    exact noncentral-t power of Student's pooled-variance t-test, both rejection tails
    counted, computed by statsmodels ``TTestIndPower`` (which agrees with pingouin
    ``power_ttest2n`` and R ``power.t.test(strict = TRUE)``); a Dunnett adjustment uses
    the same noncentral t with the many-to-one critical value.

    Parameters
    ----------
    n1
        Subjects randomized to the (each) experimental arm; ``n2 = n1 / allocation``.
    effect
        Difference in means to detect (outcome units; the sign is ignored).
    power
        Power of the (each) comparison, in (0, 1).
    sd
        The outcome's SD at the final visit (common to the arms).
    allocation
        ``n1 / n2``.
    alpha
        Significance level (family-wise with ``adjust``).
    alternative
        ``"two-sided"`` or ``"one-sided"`` (in the direction of ``effect``).
    retention
        Proportion of randomized subjects with a final-visit value: one number, or
        (experimental, control). The t-test analyses completers only.
    arms, adjust
        Number of arms (one control) and the multiplicity adjustment over the
        ``arms - 1`` comparisons: ``"none"``, ``"bonferroni"``, ``"dunnett"``.
    sources
        Where each input came from (printed with the result).

    Returns
    -------
    PowerResult
        ``design="ttest"``, ``phi1 = 1/retention1``, ``phi2 = 1/retention2``, ``test="t"``.

    Raises
    ------
    SpecError
        If not exactly one of ``n1``, ``effect``, ``power`` is None, or an input is out
        of range (power outside (0, 1), sd <= 0, allocation <= 0, ...).

    Examples
    --------
    >>> import retrostudy as rs
    >>> round(rs.power_ttest(effect=0.5, sd=1, power=0.8).n1, 5)
    63.76561
    """
    target = one_unknown(("n1", "effect", "power"), (n1, effect, power), "power_ttest")
    power, alpha, alternative, allocation, arms, adjust, sd, effect = _common(
        power, alpha, alternative, allocation, arms, adjust, sd, effect)
    if n1 is not None:
        n1 = check_positive(n1, "n1", hint="it is the number of subjects in the experimental arm")
    r1, r2 = _retention_pair(retention)
    two = alternative == "two-sided"
    rho = many_to_one_corr(1 / r1, 1 / r2, allocation)

    def reject(n: float, delta: float) -> float:
        m1, m2 = n * r1, n / allocation * r2
        df = m1 + m2 - 2.0
        if adjust == "dunnett":
            crit = _crit(alpha, arms, adjust, df, two, rho)
            return _nct_reject(abs(delta) / (sd * np.sqrt(1 / m1 + 1 / m2)), df, crit, two)
        from statsmodels.stats.power import TTestIndPower

        level = alpha / (arms - 1) if adjust == "bonferroni" else alpha
        with np.errstate(all="ignore"):
            p = float(TTestIndPower().power(effect_size=abs(delta) / sd, nobs1=m1, alpha=level, ratio=m2 / m1,
                                            alternative="two-sided" if two else "larger"))
        if np.isfinite(p):
            return p
        # statsmodels inherits SciPy's NaN from nct.cdf far in the lower tail: same formula, tail as 0
        crit = stats.t.isf(level / (2.0 if two else 1.0), df)
        return _nct_reject(abs(delta) / (sd * np.sqrt(1 / m1 + 1 / m2)), df, crit, two)

    lo = 3.0 / (r1 + r2 / allocation) + 1e-9  # df >= 1
    if target == "n1":
        e0, p0 = _given(effect, "effect"), _given(power, "power")
        n1 = _solve_increasing(lambda n: reject(n, e0), p0, lo, "n1")
    elif target == "power":
        n0, e0 = _given(n1, "n1"), _given(effect, "effect")
        if n0 * r1 + n0 / allocation * r2 - 2 < 1:
            raise SpecError(f"n1 = {n0:g} leaves fewer than 3 subjects with data; the t-test needs df >= 1.")
        power = reject(n0, e0)
    else:
        n0, p0 = _given(n1, "n1"), _given(power, "power")
        effect = _solve_increasing(lambda d: reject(n0, d * sd), p0, 1e-8, "effect") * sd
    assert n1 is not None and power is not None and effect is not None
    m1, m2 = n1 * r1, n1 / allocation * r2
    df = m1 + m2 - 2.0
    crit = _crit(alpha, arms, adjust, df, two, rho)
    notes = ["Completers only: retention below 1 sizes the randomized arms up so the analysed numbers suffice."
             ] if (r1 < 1 or r2 < 1) else []
    return PowerResult(
        design="ttest", solved_for=target, n1=float(n1), n2=float(n1 / allocation), power=float(power),
        effect=float(effect), sd=sd, alpha=alpha, alternative=alternative, allocation=allocation,
        phi1=1 / r1, phi2=1 / r2, test="t", df=df, critical_value=crit,
        method="two-sample t-test, exact noncentral t (statsmodels TTestIndPower; = R power.t.test strict)",
        arms=arms, adjust=adjust, inputs={"retention": [r1, r2]}, sources=_sources(sources), notes=tuple(notes))


# ---------------------------------------------------------------------------- ANCOVA

ANCOVA_METHODS = ("exact", "t", "z")


def _shieh_reject(ncp: float, df: float, covariates: int, crit: float, two_sided: bool) -> float:
    """Shieh (2020): E_B[P(reject | ncp sqrt(B))], B ~ Beta((df + 1) / 2, k / 2), by Gauss-Jacobi.

    With a normal covariate the covariate imbalance between arms inflates the variance of
    the adjusted difference by 1 / B; averaging the conditional noncentral-t power over
    B gives the exact unconditional power of the ANCOVA test.
    """
    a, b = (df + 1.0) / 2.0, covariates / 2.0
    y, w = special.roots_jacobi(64, b - 1.0, a - 1.0)  # weight (1 - y)^(b-1) (1 + y)^(a-1) on (-1, 1)
    x = (1.0 + y) / 2.0
    w = w / w.sum()
    p = stats.nct.sf(crit, df, ncp * np.sqrt(x))
    if two_sided:
        p = p + np.nan_to_num(stats.nct.cdf(-crit, df, ncp * np.sqrt(x)), nan=0.0)
    return float(p @ w)


def power_ancova(
    *,
    n1: float | None = None,
    effect: float | None = None,
    power: float | None = None,
    sd: float,
    rho: float,
    allocation: float = 1.0,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    method: str = "exact",
    retention: float | Sequence[float] = 1.0,
    covariates: int = 1,
    arms: int = 2,
    adjust: str = "none",
    sources: Mapping[str, str] | None = None,
) -> PowerResult:
    """Power or sample size of the ANCOVA on baseline (final value ~ arm + baseline).

    Adjusting for a baseline that correlates ``rho`` with the final value leaves the
    error variance ``sd^2 (1 - rho^2)``: the ANCOVA needs about ``(1 - rho^2)`` times
    the t-test's subjects (Borm et al. 2007's design factor). ``method`` says how the
    small-sample behaviour is handled:

    * ``"exact"`` (default): Shieh (2020), the exact power of the ANCOVA t-test when
      the baseline is normal, which accounts for the df spent on the covariate *and*
      for the chance imbalance of the baseline between arms (as R Superpower
      ``power_oneway_ancova(type = "exact")``);
    * ``"t"``: noncentral t with error variance ``sd^2 (1 - rho^2)`` and
      ``df = N - arms - covariates`` (the common textbook / PASS / Keppel method,
      Superpower ``type = "approx"``), slightly optimistic in small trials;
    * ``"z"``: Borm et al.'s normal-approximation formula, ``(1 - rho^2)`` times the
      normal-theory t-test size.

    Parameters
    ----------
    n1
        Subjects randomized to the (each) experimental arm; ``n2 = n1 / allocation``.
    effect
        Adjusted difference in final-visit means to detect (outcome units).
    power
        Power in (0, 1).
    sd
        The outcome's SD at the final visit, *unadjusted* (the t-test's SD).
    rho
        Correlation of baseline and final value (the multiple correlation with all
        ``covariates``), in (-1, 1).
    allocation, alpha, alternative, arms, adjust, sources
        As in :func:`power_ttest`.
    method
        ``"exact"``, ``"t"`` or ``"z"``.
    retention
        Proportion with a final value (one number, or experimental and control); the
        ANCOVA analyses those subjects.
    covariates
        Number of covariates (1: the baseline).

    Returns
    -------
    PowerResult
        ``design="ancova"``, ``phi1 = (1 - rho^2) / retention1`` (and ``phi2``).

    Raises
    ------
    SpecError
        For an input out of range or not exactly one unknown.

    Examples
    --------
    >>> import retrostudy as rs
    >>> res = rs.power_ancova(effect=0.5, sd=1, rho=0.5, power=0.8)
    >>> round(res.n1, 2), round(rs.power_ttest(effect=0.5, sd=1, power=0.8).n1, 2)
    (48.59, 63.77)
    """
    target = one_unknown(("n1", "effect", "power"), (n1, effect, power), "power_ancova")
    power, alpha, alternative, allocation, arms, adjust, sd, effect = _common(
        power, alpha, alternative, allocation, arms, adjust, sd, effect)
    try:
        rho = float(rho)
    except (TypeError, ValueError):
        raise SpecError(f"rho must be a number (the baseline-final correlation), not {rho!r}.") from None
    if not -1.0 < rho < 1.0:
        raise SpecError(f"rho must be between -1 and 1 (exclusive), not {rho!r}; it is the correlation of baseline "
                        "and final value.")
    if method not in ANCOVA_METHODS:
        raise SpecError(f"method must be one of {', '.join(ANCOVA_METHODS)}, not {method!r}.")
    if isinstance(covariates, bool) or not isinstance(covariates, (int, np.integer)) or covariates < 1:
        raise SpecError(f"covariates must be a whole number of at least 1, not {covariates!r}.")
    if n1 is not None:
        n1 = check_positive(n1, "n1", hint="it is the number of subjects in the experimental arm")
    r1, r2 = _retention_pair(retention)
    two = alternative == "two-sided"
    design = 1.0 - rho * rho
    phi1, phi2 = design / r1, design / r2
    corr = many_to_one_corr(phi1, phi2, allocation)

    def parts(n: float) -> tuple[float, float]:
        m1, m2 = n * r1, n / allocation * r2
        df = (arms - 1) * m1 + m2 - arms - covariates
        return sd * np.sqrt(design * (1 / m1 + 1 / m2)), df

    def reject(n: float, delta: float) -> float:
        se, df = parts(n)
        if method == "z":
            return float(stats.norm.cdf(abs(delta) / se - _crit(alpha, arms, adjust, np.inf, two, corr)))
        crit = _crit(alpha, arms, adjust, df, two, corr)
        if method == "t":
            return _nct_reject(abs(delta) / se, df, crit, two)
        return _shieh_reject(abs(delta) / se, df, covariates, crit, two)

    lo = (arms + covariates + 1.0) / ((arms - 1) * r1 + r2 / allocation) + 1e-9  # df >= 1
    if target == "n1":
        e0, p0 = _given(effect, "effect"), _given(power, "power")
        if method == "z":
            c = _crit(alpha, arms, adjust, np.inf, two, corr)
            n1 = (phi1 + allocation * phi2) * (c + stats.norm.ppf(p0)) ** 2 * sd ** 2 / e0 ** 2
        else:
            n1 = _solve_increasing(lambda n: reject(n, e0), p0, lo, "n1")
    elif target == "power":
        n0, e0 = _given(n1, "n1"), _given(effect, "effect")
        if parts(n0)[1] < 1 and method != "z":
            raise SpecError(f"n1 = {n0:g} leaves no residual df for the ANCOVA; it needs more than "
                            f"{arms + covariates} subjects with data.")
        power = reject(n0, e0)
    else:
        n0, p0 = _given(n1, "n1"), _given(power, "power")
        effect = _solve_increasing(lambda d: reject(n0, d * sd), p0, 1e-8, "effect") * sd
    assert n1 is not None and power is not None and effect is not None
    _se, df = parts(n1)
    df_used = np.inf if method == "z" else df
    crit = _crit(alpha, arms, adjust, df_used, two, corr)
    methods = {
        "exact": "ANCOVA, Shieh (2020) exact power for a normal baseline; error variance sd^2 (1 - rho^2) "
                 "(Borm et al. 2007 design factor)",
        "t": "ANCOVA, noncentral t with error variance sd^2 (1 - rho^2) (Borm et al. 2007 design factor), "
             "df N - arms - covariates",
        "z": "ANCOVA, Borm et al. (2007): normal-approximation t-test size times 1 - rho^2",
    }
    notes = []
    if method == "z":
        notes.append("Normal approximation: it ignores the df spent on the covariate and the baseline imbalance; "
                     "method='exact' is right for small trials.")
    if adjust == "dunnett" and method == "exact":
        notes.append("Dunnett critical value from the design correlation of the comparisons (the realised "
                     "correlation varies slightly with the baseline imbalance).")
    return PowerResult(
        design="ancova", solved_for=target, n1=float(n1), n2=float(n1 / allocation), power=float(power),
        effect=float(effect), sd=sd, alpha=alpha, alternative=alternative, allocation=allocation, phi1=phi1,
        phi2=phi2, test=method, df=float(df_used), critical_value=crit, method=methods[method], arms=arms,
        adjust=adjust, inputs={"rho": rho, "retention": [r1, r2], "covariates": int(covariates)},
        sources=_sources(sources), notes=tuple(notes))


# ---------------------------------------------------------------------------- MMRM (Lu, Luo & Chen)

def _corr_input(corr: float | Sequence[Sequence[float]] | np.ndarray, retention: np.ndarray, structure: str | None,
                times: Sequence[float] | None, name: str) -> np.ndarray:
    if np.ndim(corr) == 0:
        if structure is None:
            raise SpecError(f"{name} is one number; say how it spreads over the visits with structure='cs' or "
                            "'ar1', or give the full visits x visits matrix.")
        return structured_corr(float(np.asarray(corr, float)), len(retention), structure, times)
    return check_corr(corr, name, n_visits=len(retention))


def power_mmrm(
    *,
    n_total: float | None = None,
    effect: float | None = None,
    power: float | None = None,
    sd: float,
    corr: float | Sequence[Sequence[float]] | np.ndarray,
    retention: Sequence[float],
    allocation: float = 1.0,
    alpha: float = 0.05,
    alternative: str = "two-sided",
    test: str = "z",
    corr2: float | Sequence[Sequence[float]] | np.ndarray | None = None,
    retention2: Sequence[float] | None = None,
    structure: str | None = None,
    times: Sequence[float] | None = None,
    arms: int = 2,
    adjust: str = "none",
    sources: Mapping[str, str] | None = None,
) -> PowerResult:
    """Power or sample size of the MMRM comparison at the final visit (Lu, Luo & Chen 2008).

    Exactly R longpower's ``power.mmrm`` (and ``power.mmrm.ar1`` with ``structure="ar1"``):
    ``n1 = (phi1 + allocation * phi2) (z_{1-alpha/2} + z_power)^2 sd^2 / effect^2`` with
    ``phi`` from the correlation and the retention (:func:`mmrm_phi`), ``n2 = n1 / allocation``.
    ``test="z"`` is that normal approximation (longpower's value); ``test="t"`` replaces
    the normal quantiles by t quantiles with ``df = N - arms``, where, when solving for
    the size, ``N`` is the normal-approximation size (Lu, Luo & Chen's one-step
    correction, which gives their Table 1 t column).

    Parameters
    ----------
    n_total
        All subjects randomized, ``(arms - 1) * n1 + n2``.
    effect
        Difference in means at the final visit (experimental - control), outcome units.
    power
        Power in (0, 1).
    sd
        The outcome's SD at the final visit (constant over visits, as ``power.mmrm``;
        with unequal SDs only the final visit's matters).
    corr
        Visits x visits correlation matrix, the first visit included; or one number with
        ``structure="cs"`` / ``"ar1"`` (``times`` for unequally spaced AR(1)).
    retention
        Proportion of randomized subjects observed at each visit, non-increasing
        (first = 1 when the first visit is the baseline).
    allocation
        ``n1 / n2`` (n1: the experimental arm).
    alpha, alternative
        Significance level and ``"two-sided"`` / ``"one-sided"``.
    test
        ``"z"`` (default, longpower) or ``"t"``.
    corr2, retention2
        The control arm's correlation and retention when they differ (dropout by arm).
    structure, times
        See ``corr``.
    arms, adjust
        Number of arms (one control) and ``"none"`` / ``"bonferroni"`` / ``"dunnett"``.
    sources
        Where each input came from (printed with the result).

    Returns
    -------
    PowerResult
        ``design="mmrm"``, with unrounded ``n1``, ``n2``, ``n_total`` and ``phi1``, ``phi2``.

    Raises
    ------
    SpecError
        Power outside (0, 1), a negative SD, a correlation matrix that is not positive
        definite, retention that increases, an allocation of 0, or not exactly one of
        ``n_total``, ``effect``, ``power`` left as None.

    Examples
    --------
    >>> import retrostudy as rs
    >>> res = rs.power_mmrm(effect=0.5, sd=1, corr=0.25, structure="cs", retention=[1, 0.9, 0.8, 0.7], power=0.8)
    >>> round(res.n1, 5), res.n_total_rounded
    (86.99175, 174)
    """
    target = one_unknown(("n_total", "effect", "power"), (n_total, effect, power), "power_mmrm")
    power, alpha, alternative, allocation, arms, adjust, sd, effect = _common(
        power, alpha, alternative, allocation, arms, adjust, sd, effect)
    if test not in ("z", "t"):
        raise SpecError(f"test must be 'z' (longpower's normal approximation) or 't', not {test!r}.")
    if n_total is not None:
        n_total = check_positive(n_total, "n_total", hint="it is the number of subjects randomized in all arms")
    ra = check_retention(retention, "retention")
    rb = ra if retention2 is None else check_retention(retention2, "retention2")
    Ra = _corr_input(corr, ra, structure, times, "corr")
    Rb = Ra if corr2 is None else _corr_input(corr2, rb, structure, times, "corr2")
    if Rb.shape != Ra.shape:
        raise SpecError(f"corr2 and retention2 have {Rb.shape[0]} visits but corr has {Ra.shape[0]}; both arms "
                        "need the same visits.")
    phi1, phi2 = mmrm_phi(Ra, ra), mmrm_phi(Rb, rb)
    two = alternative == "two-sided"
    rho = many_to_one_corr(phi1, phi2, allocation)
    k = phi1 + allocation * phi2  # n1 * Var(estimate) / sd^2

    def quantiles(df: float) -> float:
        return _crit(alpha, arms, adjust, df, two, rho)

    def n_from(df: float) -> float:
        c = quantiles(df)
        p0, e0 = _given(power, "power"), _given(effect, "effect")
        zb = stats.norm.ppf(p0) if not np.isfinite(df) else stats.t.ppf(p0, df)
        return k * (c + zb) ** 2 * sd ** 2 / e0 ** 2

    notes: list[str] = []
    if target == "n_total":
        n1 = n_from(np.inf)
        df = np.inf
        if test == "t":
            df = n1 * (arms - 1) + n1 / allocation - arms
            if df < 1:
                raise SpecError("The normal-approximation size leaves no df for the t correction; use test='z'.")
            n1 = n_from(df)
            notes.append(f"t: one-step correction, df = N_z - {arms} = {df:.4f} from the normal-approximation N "
                         "(Lu, Luo & Chen 2008).")
    else:
        total = _given(n_total, "n_total")
        n1, _ = _split(total, allocation, arms)
        df = np.inf if test == "z" else total - arms
        if test == "t" and df < 1:
            raise SpecError(f"n_total = {total:g} leaves no df for the t test (needs more than {arms} subjects).")
        c = quantiles(df)
        se_unit = np.sqrt(k / n1) * sd  # SE of the estimate
        if target == "power":
            q = abs(_given(effect, "effect")) / se_unit - c
            power = float(stats.norm.cdf(q) if test == "z" else stats.t.cdf(q, df))
        else:
            p0 = _given(power, "power")
            zb = stats.norm.ppf(p0) if test == "z" else stats.t.ppf(p0, df)
            effect = float((c + zb) * se_unit)
        if test == "t":
            notes.append(f"t: df = N - {arms} = {df:.4f}.")
    crit = quantiles(df)
    inputs = {"corr": Ra, "retention": ra.tolist(), "corr2": Rb, "retention2": rb.tolist()}
    method = "Lu, Luo & Chen (2008) formula (3), " + (
        "normal approximation (as R longpower power.mmrm)" if test == "z" else "with t quantiles")
    return PowerResult(
        design="mmrm", solved_for=target, n1=float(n1), n2=float(n1 / allocation), power=_given(power, "power"),
        effect=_given(effect, "effect"), sd=sd, alpha=alpha, alternative=alternative, allocation=allocation, phi1=phi1,
        phi2=phi2, test=test, df=float(df), critical_value=crit, method=method, arms=arms, adjust=adjust,
        inputs=inputs, sources=_sources(sources), notes=tuple(notes))
