"""Cells to labels and numbers; each distinct cell is converted once (fast on large files)."""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from .labels import as_label, is_missing

__all__ = ["labels", "numbers", "NUM"]

#: A number as text: optional sign, digits with optional decimal point, optional exponent.
NUM = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*\Z")


def labels(col: pd.Series) -> pd.Series:
    """Cells as label strings (``None`` when missing); each distinct cell is converted once."""
    codes, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
    labs = np.array([as_label(u) for u in uniques] + [None], dtype=object)
    return pd.Series(labs[codes], index=col.index, dtype=object)


def _number(x: Any, extra: tuple[str, ...]) -> tuple[float, int]:
    """(value, status) with status 0 number, 1 missing, 2 not a number."""
    if isinstance(x, bool):
        return math.nan, 2
    if isinstance(x, (float, int)):
        if x != x:
            return math.nan, 1
        return (float(x), 0) if math.isfinite(x) else (math.nan, 2)
    if is_missing(x, extra):
        return math.nan, 1
    if isinstance(x, str):
        if NUM.match(x):
            return float(x), 0
        return math.nan, 2
    if hasattr(x, "item"):
        return _number(x.item(), extra)
    return math.nan, 2


def numbers(col: pd.Series, extra: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values, missing mask, non-numeric mask) of a column; each distinct cell is parsed once."""
    codes, uniques = pd.factorize(col.to_numpy(dtype=object), use_na_sentinel=True)
    parsed = [_number(u, extra) for u in uniques] + [(math.nan, 1)]
    vals = np.array([p[0] for p in parsed], dtype=float)[codes]
    status = np.array([p[1] for p in parsed], dtype=np.int8)[codes]
    return vals, status == 1, status == 2
