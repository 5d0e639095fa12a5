"""Checks of planning inputs: each bad value gets one sentence (what, where, how to fix).

Every function raises :class:`~retrostudy.errors.SpecError` and returns the cleaned value
(a float or a float array), so the calculators never see a value they cannot use.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import SpecError

__all__ = [
    "ADJUST",
    "ALTERNATIVES",
    "check_adjust",
    "check_alpha",
    "check_alternative",
    "check_arms",
    "check_corr",
    "check_positive",
    "check_prob",
    "check_retention",
    "one_unknown",
]

ALTERNATIVES = ("two-sided", "one-sided")
#: Multiplicity adjustments over the (arms - 1) comparisons with the control arm.
ADJUST = ("none", "bonferroni", "dunnett")


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise SpecError(f"{name} must be a number, not {value!r}.")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a number, not {value!r}.") from None
    if not math.isfinite(out):
        raise SpecError(f"{name} must be a finite number, not {value!r}.")
    return out


def check_prob(value: Any, name: str = "power") -> float:
    """A probability strictly between 0 and 1 (power)."""
    out = _number(value, name)
    if not 0.0 < out < 1.0:
        raise SpecError(f"{name} must be between 0 and 1 (exclusive), not {value!r}; write 80 % power as 0.8.")
    return out


def check_alpha(value: Any) -> float:
    """The significance level, in (0, 0.5]."""
    out = _number(value, "alpha")
    if not 0.0 < out <= 0.5:
        raise SpecError(f"alpha must be between 0 and 0.5, not {value!r}; the usual two-sided level is 0.05.")
    return out


def check_positive(value: Any, name: str, *, allow_zero: bool = False, hint: str = "") -> float:
    """A positive (or non-negative) finite number."""
    out = _number(value, name)
    if out < 0 or (out == 0 and not allow_zero):
        need = "zero or positive" if allow_zero else "positive"
        raise SpecError(f"{name} must be {need}, not {value!r}{'; ' + hint + '.' if hint else '.'}")
    return out


def check_alternative(value: Any) -> str:
    text = str(value).lower().replace("_", "-").replace(".", "-")
    if text not in ALTERNATIVES:
        raise SpecError(f"alternative must be 'two-sided' or 'one-sided', not {value!r}.")
    return text


def check_adjust(value: Any, arms: int) -> str:
    text = str(value).lower()
    if text not in ADJUST:
        raise SpecError(f"adjust must be one of {', '.join(ADJUST)}, not {value!r}.")
    return text if arms > 2 else "none"


def check_arms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise SpecError(f"arms must be a whole number of at least 2 (control + experimental arms), not {value!r}.")
    return int(value)


def check_corr(value: Any, name: str = "corr", n_visits: int | None = None) -> np.ndarray:
    """A symmetric, positive definite correlation matrix with a unit diagonal."""
    try:
        R = np.atleast_2d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a visits x visits matrix of numbers.") from None
    if R.ndim != 2 or R.shape[0] != R.shape[1]:
        raise SpecError(f"{name} must be a square visits x visits matrix, not of shape {R.shape}.")
    if n_visits is not None and R.shape[0] != n_visits:
        raise SpecError(f"{name} is {R.shape[0]} x {R.shape[0]} but retention has {n_visits} visits; "
                        "give one row and column per visit, the first visit included.")
    if not np.all(np.isfinite(R)):
        raise SpecError(f"{name} contains a missing or infinite value.")
    if not np.allclose(np.diag(R), 1.0, atol=1e-8):
        raise SpecError(f"{name} must have 1 on its diagonal (a correlation, not a covariance matrix); "
                        f"found {np.diag(R).round(4).tolist()}.")
    if not np.allclose(R, R.T, atol=1e-10):
        raise SpecError(f"{name} is not symmetric; the correlation of visits i and j must equal that of j and i.")
    smallest = float(np.linalg.eigvalsh((R + R.T) / 2.0).min())
    if smallest <= 1e-10:
        raise SpecError(f"{name} is not positive definite (smallest eigenvalue {smallest:.3g}); the correlations "
                        "cannot all hold at once, so lower the largest ones or use a structure (cs, ar1).")
    return (R + R.T) / 2.0


def check_retention(value: Any, name: str = "retention") -> np.ndarray:
    """Proportions observed at each visit: in (0, 1], never increasing."""
    try:
        r = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a list of proportions, one per visit.") from None
    if r.ndim != 1 or r.size == 0 or not np.all(np.isfinite(r)):
        raise SpecError(f"{name} must be a list of proportions, one per visit.")
    bad = np.flatnonzero((r <= 0) | (r > 1))
    if bad.size:
        i = int(bad[0])
        raise SpecError(f"{name} at visit {i + 1} is {r[i]:g}; each proportion observed must be in (0, 1].")
    up = np.flatnonzero(np.diff(r) > 1e-12)
    if up.size:
        i = int(up[0])
        raise SpecError(f"{name} must not increase over visits: {r[i]:g} at visit {i + 1} is followed by "
                        f"{r[i + 1]:g} at visit {i + 2} (dropout is monotone: who left stays out).")
    return r


def one_unknown(names: Sequence[str], values: Sequence[Any], func: str) -> str:
    """The one name whose value is None (the quantity to solve for)."""
    missing = [n for n, v in zip(names, values) if v is None]
    if len(missing) != 1:
        given = "all of them were given" if not missing else f"{' and '.join(missing)} are None"
        raise SpecError(f"{func} solves for exactly one of {', '.join(names)}: leave that one as None and give "
                        f"the others ({given}).")
    return missing[0]
