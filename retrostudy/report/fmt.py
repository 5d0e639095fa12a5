"""Numbers to strings for the report (the last step; every table before this is float64): the
package's formatting (:mod:`retrostudy.format`) with the report's conventions: a real minus sign
(U+2212) in every negative number and an en dash for a value that does not apply."""
from __future__ import annotations

from ..format import _finite, fmt_ci, fmt_num, fmt_p

__all__ = ["DIGITS", "MINUS", "MISSING", "ci", "mean_sd", "median_iqr", "n_pct", "num", "pval", "signed"]

#: Decimals for estimates, CIs and effect sizes in the report's tables.
DIGITS = 2
#: What the report prints for a value that does not apply.
MISSING = "\u2013"
#: The minus sign of negative numbers (typographic, not the hyphen-minus).
MINUS = "\u2212"


def signed(text: str) -> str:
    """``text`` with every hyphen-minus that starts a number replaced by U+2212."""
    out = []
    for i, ch in enumerate(text):
        if ch == "-" and i + 1 < len(text) and text[i + 1].isdigit() and (i == 0 or not text[i - 1].isalnum()):
            out.append(MINUS)
        else:
            out.append(ch)
    return "".join(out)


def num(x: object, digits: int = DIGITS) -> str:
    """Fixed decimals, as ``retrostudy.format`` prints results, with U+2212; an en dash for not applicable."""
    return signed(fmt_num(x, digits, missing=MISSING))


def pval(p: object) -> str:
    """p-value with 3 decimals, "<0.001" below that."""
    return fmt_p(p, missing=MISSING)


def ci(low: object, high: object, digits: int = DIGITS) -> str:
    """A confidence interval as "low to high" (no comma: unambiguous with negative numbers)."""
    return signed(fmt_ci(low, high, digits, missing=MISSING))


def mean_sd(mean, sd, digits: int = 1) -> str:
    return f"{num(mean, digits)} ({num(sd, digits)})"


def median_iqr(median, q1, q3, digits: int = 1) -> str:
    return f"{num(median, digits)} [{num(q1, digits)}, {num(q3, digits)}]"


def n_pct(count, percent) -> str:
    if not _finite(count):
        return MISSING
    return f"{int(count)} ({num(percent, 1)}%)"
