"""Numbers to strings for the report (the last step; every table before this is float64)."""
from __future__ import annotations

import math

__all__ = ["num", "pval", "ci", "mean_sd", "median_iqr", "n_pct", "DIGITS"]

#: Decimals for estimates, CIs and effect sizes in the report's tables.
DIGITS = 2


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def num(x, digits: int = DIGITS) -> str:
    """Fixed decimals and ASCII minus, as ``retrostudy.format`` prints results; an en dash for not applicable."""
    if not _finite(x):
        return "\u2013"
    return f"{float(x):.{digits}f}"


def pval(p) -> str:
    """p-value with 3 decimals, "<0.001" below that."""
    if not _finite(p):
        return "\u2013"
    p = float(p)
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def ci(low, high, digits: int = DIGITS) -> str:
    """A confidence interval as "low to high" (no comma: unambiguous with negative numbers)."""
    return f"{num(low, digits)} to {num(high, digits)}"


def mean_sd(mean, sd, digits: int = 1) -> str:
    return f"{num(mean, digits)} ({num(sd, digits)})"


def median_iqr(median, q1, q3, digits: int = 1) -> str:
    return f"{num(median, digits)} [{num(q1, digits)}, {num(q3, digits)}]"


def n_pct(count, percent) -> str:
    if not _finite(count):
        return "\u2013"
    return f"{int(count)} ({num(percent, 1)}%)"
