"""Numbers to strings, for display only (the last step; result tables stay numeric).

:func:`inference_text` is what ``retrostudy fit ... --model ancova [--adjust holm]``
prints: the EMM table, the treatment-vs-reference and pairwise contrasts, the joint
tests and Hedges' g, for any :class:`~retrostudy.results.ModelFit`.
"""
from __future__ import annotations

import math
from typing import SupportsFloat

import pandas as pd

__all__ = ["fmt_num", "fmt_p", "fmt_ci", "format_frame", "inference_text"]


def _as_float(x: object) -> float | None:
    """``x`` as a finite float; None when it is missing (None, NA, NaN), infinite or not a number."""
    if not isinstance(x, str | bytes | SupportsFloat):
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _finite(x: object) -> bool:
    return _as_float(x) is not None


def fmt_num(x: object, digits: int = 2, *, missing: str = "") -> str:
    """``x`` with ``digits`` decimals; ``missing`` for a missing or non-finite value.

    >>> fmt_num(-1.234), fmt_num(float("nan"), missing="n/a")
    ('-1.23', 'n/a')
    """
    value = _as_float(x)
    if value is None:
        return missing
    return f"{value:.{digits}f}"


def fmt_p(p: object, *, missing: str = "") -> str:
    """A p-value as journals print it: ``<0.001``, else three decimals.

    >>> fmt_p(0.0004), fmt_p(0.0312)
    ('<0.001', '0.031')
    """
    value = _as_float(p)
    if value is None:
        return missing
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def fmt_ci(low: object, high: object, digits: int = 2, *, missing: str = "") -> str:
    """``"low to high"`` (no comma: unambiguous with negative numbers)."""
    return f"{fmt_num(low, digits, missing=missing)} to {fmt_num(high, digits, missing=missing)}"


def format_frame(table: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """A display copy: estimates with ``digits`` decimals, df with one, p-values as :func:`fmt_p`."""
    out = pd.DataFrame(index=table.index)
    for col in table.columns:
        values = table[col]
        if col in ("p_value", "p_adjusted"):
            out[col] = [fmt_p(v) for v in values]
        elif col in ("df", "num_df", "den_df", "standardizer_df"):
            out[col] = [fmt_num(v, 1) for v in values]
        elif pd.api.types.is_float_dtype(values):
            out[col] = [fmt_num(v, digits) for v in values]
        else:
            out[col] = values.astype(str)
    return out


def _block(result, columns: list[str], digits: int) -> str:
    frame = format_frame(result.table.loc[:, [c for c in columns if c in result.table.columns]], digits)
    return f"{result.title}\n{result._settings_line()}\n{frame.to_string(index=False)}"


def inference_text(
    fit,
    *,
    adjust: str = "none",
    weights: str = "equal",
    standardizer: str = "baseline_sd",
    digits: int = 2,
) -> str:
    """The printable EMM, contrast, joint-test and effect-size tables of a fit.

    Parameters
    ----------
    fit
        A :class:`~retrostudy.results.ModelFit` (ANCOVA, LMM or MMRM).
    adjust
        Multiplicity adjustment of the contrasts (``"tukey"`` applies to the pairwise
        table; the treatment-vs-reference table then uses ``"dunnett"``).
    weights, standardizer
        Passed to :func:`~retrostudy.emmeans.emmeans` and
        :func:`~retrostudy.effects.effect_sizes` (falls back to ``"residual_sd"``
        when the fit has no baseline values).
    """
    from .errors import SpecError
    from .inference import contrasts, effect_sizes, emmeans, joint_tests

    emm = emmeans(fit, weights=weights)
    trt = contrasts(emm, family="trt_vs_ref", adjust="dunnett" if adjust == "tukey" else adjust)
    pair = contrasts(emm, family="pairwise", adjust=adjust)
    try:
        eff = effect_sizes(pair, standardizer=standardizer)
    except SpecError:
        eff = effect_sizes(pair, standardizer="residual_sd")
    cols_emm = ["arm", "visit", "estimate", "std_error", "df", "conf_low", "conf_high"]
    cols_con = ["contrast", "visit", "estimate", "std_error", "df", "statistic", "p_value", "p_adjusted",
                "conf_low", "conf_high"]
    cols_eff = ["contrast", "visit", "estimate", "conf_low", "conf_high", "standardizer"]
    n_excl = len(fit.exclusions.frame.query("stage == @fit.model")) if len(fit.exclusions) else 0
    head = fit.title + f"\n{fit.fit_stats.get('n_subjects', '?')} subjects analysed"
    if n_excl:
        head += f"; {n_excl} excluded by the model (see fit.exclusions)"
    parts = [head, _block(emm, cols_emm, digits), _block(trt, cols_con, digits), _block(pair, cols_con, digits),
             _block(joint_tests(fit), ["term", "num_df", "den_df", "statistic", "p_value"], digits),
             _block(eff, cols_eff, digits)]
    return "\n\n".join(parts) + "\n"
