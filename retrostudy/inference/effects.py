"""Standardized effect sizes of contrasts: Hedges' g with a confidence interval.

For each contrast ``c`` (an adjusted difference between arms) and a standardizer
``s`` estimated with ``m`` degrees of freedom:

* Cohen's d = c / s (R ``emmeans::eff_size(sigma = s, edf = m)``'s ``effect.size``);
* its SE by the delta method, ``se_d^2 = se_c^2 / s^2 + d^2 / (2 m)``, which is the
  large-sample variance of Hedges & Olkin (1985, ch. 5) with the contrast's own
  SE in place of ``sqrt(1/n1 + 1/n2)`` (identical to ``emmeans::eff_size``);
* the CI ``d +/- t_{df, (1+conf)/2} se_d`` with the contrast's df (as ``eff_size``),
  not adjusted for multiplicity;
* Hedges' g = J d with the small-sample correction ``J = 1 - 3 / (4 m - 1)``
  (Hedges 1981; the approximation pingouin uses), and the SE and CI bounds of d
  multiplied by J.

Standardizers: ``"baseline_sd"`` is the pooled within-arm SD of the baseline values of
the analysed subjects (``m = n - arms``; the ``baseline`` column of ``fit.data``, or, when
the baseline is part of the response, the values at the declared baseline visit or the
first visit of the design); ``"residual_sd"`` is the model's residual SD
at the contrast's visit (ANCOVA: root MSE with the residual df; MMRM: the visit's
diagonal of the residual covariance, with ``fit.fit_stats.df_resid`` when the fit has it, else
``n_subjects - p``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import SpecError
from ..results import ModelFit, TidyResult, check_conf_level
from .contrasts import ContrastTable

__all__ = ["effect_sizes", "EffectSizeTable", "hedges_j", "pooled_sd"]

EFFECT_COLUMNS = ("contrast", "visit", "effect_size", "estimate", "std_error", "df", "conf_low", "conf_high",
                  "cohen_d", "correction", "standardizer", "standardizer_df", "contrast_estimate")


@dataclass(frozen=True, eq=False, repr=False)
class EffectSizeTable(TidyResult):
    """Hedges' g per contrast with its CI, the standardizer and the correction used."""

    table: pd.DataFrame
    settings: Mapping[str, object]
    contrasts: ContrastTable
    title: str = field(default="Standardized effect sizes (Hedges' g)")


def hedges_j(m: float | np.ndarray) -> np.ndarray:
    """Hedges' small-sample correction ``1 - 3 / (4 m - 1)`` for an SD with ``m`` df."""
    return 1.0 - 3.0 / (4.0 * np.asarray(m, float) - 1.0)


def pooled_sd(values: pd.Series, groups: pd.Series) -> tuple[float, float]:
    """Pooled within-group SD and its df (``n - groups``)."""
    frame = pd.DataFrame({"x": np.asarray(values, float), "g": np.asarray(groups).astype(str)}).dropna()
    dev = frame["x"] - frame.groupby("g")["x"].transform("mean")
    m = len(frame) - frame["g"].nunique()
    if m <= 0:
        raise SpecError("Too few subjects per arm to pool a standard deviation.")
    return float(np.sqrt(np.sum(dev**2) / m)), float(m)


def _baseline_sd(fit: ModelFit) -> tuple[float, float]:
    data = fit.data
    if data is None:
        raise SpecError("The fit carries no data, so the baseline SD is unknown; use standardizer='residual_sd'.")
    cols = fit.columns
    subject, arm, visit = cols.subject, cols.arm or "arm", cols.visit
    response = fit.response if fit.model == "ancova" else cols.response
    if "baseline" in data.columns and arm in data.columns:
        rows = data.drop_duplicates(subject) if subject in data.columns else data
        return pooled_sd(rows["baseline"], rows[arm])
    base_visit = fit.spec.baseline_visit if fit.spec is not None else None
    if not base_visit and visit in fit.design.factors:  # baseline is a response: the first visit
        base_visit = fit.design.factors[visit].levels[0]
    if base_visit and {visit, response, arm} <= set(data.columns):
        rows = data.loc[data[visit].astype(str) == str(base_visit)]
        if len(rows):
            return pooled_sd(rows[response], rows[arm])
    raise SpecError("The fit's data have no baseline values; use standardizer='residual_sd'.")


def _residual_sd(fit: ModelFit, visit: str) -> tuple[float, float]:
    rc = fit.residual_covariance
    st = fit.fit_stats
    df = st.df_resid if st is not None else None
    if df is None and st is not None:
        df = st.n_subjects - len(fit.coef)
    if df is None or not np.isfinite(df) or df <= 0:
        raise SpecError("The fit does not say how many df its residual SD has (fit_stats.df_resid or n_subjects).")
    if rc is not None and rc.shape[0] == rc.shape[1] and visit in [str(i) for i in rc.index]:
        pos = [str(i) for i in rc.index].index(visit)
        return float(np.sqrt(rc.to_numpy()[pos, pos])), float(df)
    if st is not None and st.sigma is not None:
        return float(st.sigma), float(df)
    raise SpecError(f"The fit has no residual SD for visit {visit!r}; use standardizer='baseline_sd'.")


def effect_sizes(
    con: ContrastTable,
    *,
    standardizer: str = "baseline_sd",
    conf_level: float | None = None,
) -> EffectSizeTable:
    """Hedges' g of each contrast, with a delta-method CI.

    Parameters
    ----------
    con
        From :func:`retrostudy.contrasts`.
    standardizer
        ``"baseline_sd"`` (pooled within-arm SD of the baseline values) or
        ``"residual_sd"`` (the model's residual SD at the contrast's visit).
    conf_level
        Default: the contrasts' confidence level.

    Returns
    -------
    EffectSizeTable
        Columns ``contrast, visit, effect_size ("hedges_g"), estimate, std_error, df,
        conf_low, conf_high, cohen_d, correction (J), standardizer, standardizer_df,
        contrast_estimate``. The CI is not adjusted for multiplicity.

    Raises
    ------
    SpecError
        An unknown ``standardizer``, or a fit that lacks what it needs (baseline values
        for ``"baseline_sd"``, a residual SD at the visit for ``"residual_sd"``).

    Examples
    --------
    >>> import retrostudy as rs
    >>> emm = rs.emmeans(rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs"))
    >>> g = rs.effect_sizes(rs.contrasts(emm))
    >>> g.to_frame()[["contrast", "effect_size", "estimate", "conf_low", "conf_high"]].round(2)
                contrast effect_size  estimate  conf_low  conf_high
    0    retro - control    hedges_g     -0.54     -0.96      -0.13
    1  forward - control    hedges_g     -0.30     -0.72       0.11
    """
    if standardizer not in ("baseline_sd", "residual_sd"):
        raise SpecError(f"standardizer must be 'baseline_sd' or 'residual_sd', not {standardizer!r}.")
    fit = con.fit
    conf = check_conf_level(con.settings.get("conf_level", fit.conf_level) if conf_level is None else conf_level)
    t = con.table
    s = np.empty(len(t))
    m = np.empty(len(t))
    for i, visit in enumerate(t["visit"].astype(str)):
        s[i], m[i] = _baseline_sd(fit) if standardizer == "baseline_sd" else _residual_sd(fit, visit)
    c = t["estimate"].to_numpy(float)
    se_c = t["std_error"].to_numpy(float)
    df = t["df"].to_numpy(float)
    d = c / s
    se_d = np.sqrt(se_c**2 / s**2 + d**2 / (2.0 * m))
    q = stats.t.ppf(0.5 + conf / 2.0, df)
    J = hedges_j(m)
    table = pd.DataFrame({
        "contrast": t["contrast"], "visit": t["visit"], "effect_size": "hedges_g", "estimate": J * d,
        "std_error": J * se_d, "df": df, "conf_low": J * (d - q * se_d), "conf_high": J * (d + q * se_d),
        "cohen_d": d, "correction": J, "standardizer": s, "standardizer_df": m, "contrast_estimate": c,
    }).loc[:, list(EFFECT_COLUMNS)]
    settings = {
        "conf_level": conf, "df_method": fit.df_method, "weights": con.settings.get("weights"),
        "adjust": "none (effect-size intervals are not adjusted)", "standardizer": standardizer,
        "ci_method": "delta method (Hedges & Olkin 1985; emmeans::eff_size), scaled by J",
        "outcome": fit.outcome,
    }
    return EffectSizeTable(table=table.reset_index(drop=True), settings=settings, contrasts=con)
