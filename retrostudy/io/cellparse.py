"""Cells to labels and numbers: the one place a cell becomes a number (every format, every column).

The rule, the same for csv, tsv, xlsx, parquet, SAS, SPSS and Stata cells:

* a cell is **missing** when it is empty, NaN/None, one of the usual missing texts
  (``NA``, ``.``, ``n/a``...; see :data:`MISSING_TOKENS`) or one of the mapping's
  ``missing_values``; a missing value given as a number (``-99``, ``999``) matches the
  cell whether the file holds it as text or as a number (``"999"``, ``999``, ``999.0``);
* a cell is a **number** when it is an int, float or decimal, or text such as ``6``,
  ``-2.5`` or ``1e3`` (a point as decimal separator, no thousands separator);
* a number that is not finite (``inf``, or ``1e309``, which overflows) is refused like
  a text that is not a number.

Each distinct cell is converted once, so large files with few distinct values are fast;
numeric columns are handled without a Python loop.
"""
from __future__ import annotations

import decimal
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MISSING",
    "MISSING_TOKENS",
    "NOT_A_NUMBER",
    "NOT_FINITE",
    "NUM",
    "NUMBER",
    "MissingRule",
    "as_label",
    "is_missing",
    "labels",
    "lookup",
    "missing_mask",
    "missing_rule",
    "number",
    "number_hint",
    "number_status",
    "numbers",
    "recode",
    "strings",
]

#: A number as text: optional sign, digits with optional decimal point, optional exponent.
NUM = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*\Z")
#: Texts that always mean "missing" (compared stripped and in lower case).
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", ".", "null", "none", "missing", "#n/a", "<na>"})
#: Statuses of :func:`number_status`.
NUMBER, MISSING, NOT_A_NUMBER, NOT_FINITE = 0, 1, 2, 3


@dataclass(frozen=True)
class MissingRule:
    """The missing-value rule: texts (lower case, stripped) and numeric codes."""

    tokens: frozenset[str] = MISSING_TOKENS
    codes: frozenset[float] = frozenset()

    def __contains__(self, x: Any) -> bool:
        return is_missing(x, self)


def missing_rule(extra: Iterable[Any] | MissingRule = ()) -> MissingRule:
    """The rule for the mapping's ``missing_values`` (texts and/or numbers)."""
    if isinstance(extra, MissingRule):
        return extra
    tokens, codes = set(MISSING_TOKENS), set()
    for x in extra:
        text = str(x).strip().lower()
        tokens.add(text)
        if NUM.match(text):
            v = float(text)
            if math.isfinite(v):
                codes.add(v)
    return MissingRule(frozenset(tokens), frozenset(codes))


_DEFAULT = MissingRule()


def is_missing(x: Any, rule: Iterable[Any] | MissingRule = ()) -> bool:
    """Whether one cell is a missing value under ``rule`` (see the module docstring)."""
    if x is None:
        return True
    if not isinstance(rule, MissingRule):
        rule = missing_rule(rule) if rule else _DEFAULT
    if isinstance(x, str):
        t = x.strip().lower()
        if t in rule.tokens:
            return True
        return bool(rule.codes) and NUM.match(t) is not None and float(t) in rule.codes
    if isinstance(x, bool):
        return False
    if isinstance(x, (float, int, decimal.Decimal)):
        if x != x:
            return True
        try:
            return bool(rule.codes) and float(x) in rule.codes
        except OverflowError:  # an int too large for a float is no missing-value code
            return False
    if hasattr(x, "item") and not isinstance(x, (list, dict, np.ndarray)):  # numpy scalar
        return is_missing(x.item(), rule)
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def as_label(x: Any) -> str | None:
    """A cell as a label string (``6.0`` -> ``"6"``); ``None`` when the cell is missing."""
    if is_missing(x):
        return None
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if isinstance(x, decimal.Decimal):
        return as_label(float(x)) if x == x.to_integral_value() else str(x.normalize())
    if hasattr(x, "item") and not isinstance(x, str):  # numpy scalar
        return as_label(x.item())
    return str(x).strip()


def _factorize(col: pd.Series) -> tuple[np.ndarray, Any]:
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


_LONGEST_TOKEN = max(len(t) for t in MISSING_TOKENS)


def _text_labels(uniques: Any) -> list[str | None] | None:
    """:func:`as_label` of every value when all are text (the common case, done without per-cell dispatch)."""
    if not all(type(u) is str for u in uniques):
        return None
    out = [u.strip() for u in uniques.tolist()]
    return [None if len(t) <= _LONGEST_TOKEN and t.lower() in MISSING_TOKENS else t for t in out]


def labels(col: pd.Series) -> pd.Series:
    """Cells as label strings, as a categorical (NaN when missing); each distinct cell is converted once.

    Cells that give the same label (``6``, ``6.0``, ``"6"``) share one category.
    """
    codes, uniques = _factorize(col)
    labs = _text_labels(uniques)
    if labs is None:
        labs = [as_label(u) for u in uniques.tolist()]
    present = [x for x in labs if x is not None]
    if len(present) == len(labs) and len(set(present)) == len(labs):  # nothing merges: keep the codes
        cat = pd.Categorical.from_codes(codes, categories=pd.Index(labs, dtype="str"))
    else:
        new_codes, cats = pd.factorize(pd.Series(labs, dtype=object), use_na_sentinel=True)
        remap = np.append(new_codes, -1).astype(np.int64)
        cat = pd.Categorical.from_codes(remap[codes], categories=pd.Index(list(cats), dtype="str"))
    return pd.Series(cat, index=col.index)


def recode(col: pd.Series, mapping: Any) -> pd.Series:
    """Like :func:`lookup`, as a categorical Series of the results (None and NaN give NaN)."""
    codes, uniques = _factorize(col)
    out = [mapping(u) if callable(mapping) and not isinstance(mapping, dict) else mapping.get(u)
           for u in uniques.tolist()]
    new_codes, cats = pd.factorize(pd.Series(out, dtype=object), use_na_sentinel=True)
    remap = np.append(new_codes, -1).astype(np.int64)
    cats = list(cats)
    index = pd.Index(cats, dtype="str" if all(isinstance(c, str) for c in cats) else object)
    return pd.Series(pd.Categorical.from_codes(remap[codes], categories=index), index=col.index)


def lookup(col: pd.Series, mapping: Any, default: Any = None, dtype: Any = object) -> np.ndarray:
    """``mapping`` (a dict or a function) applied to each distinct value of ``col`` once, as an array.

    Missing cells (and values a dict does not hold) give ``default``.
    """
    codes, uniques = _factorize(col)
    if callable(mapping) and not isinstance(mapping, dict):
        out = [mapping(u) for u in uniques.tolist()]
    else:
        out = [mapping.get(u, default) for u in uniques.tolist()]
    return np.array(out + [default], dtype=dtype)[codes]


def number(x: Any, rule: MissingRule = _DEFAULT) -> tuple[float, int]:
    """``(value, status)`` of one cell: status :data:`NUMBER`, :data:`MISSING`, :data:`NOT_A_NUMBER`
    or :data:`NOT_FINITE`."""
    if is_missing(x, rule):
        return math.nan, MISSING
    if isinstance(x, bool):
        return math.nan, NOT_A_NUMBER
    if isinstance(x, (float, int, decimal.Decimal)):
        try:
            v = float(x)
        except OverflowError:  # a huge int
            return math.nan, NOT_FINITE
        return (v, NUMBER) if math.isfinite(v) else (math.nan, NOT_FINITE)
    if isinstance(x, str):
        if NUM.match(x):
            v = float(x)
            return (v, NUMBER) if math.isfinite(v) else (math.nan, NOT_FINITE)
        if x.strip().lower().lstrip("+-") in ("inf", "infinity", "∞"):
            return math.nan, NOT_FINITE
        return math.nan, NOT_A_NUMBER
    if hasattr(x, "item") and not isinstance(x, np.ndarray):
        try:
            return number(x.item(), rule)
        except (ValueError, TypeError):
            pass
    return math.nan, NOT_A_NUMBER


def number_status(col: pd.Series, extra: Iterable[Any] | MissingRule = ()) -> tuple[np.ndarray, np.ndarray]:
    """``(values, status)`` of a column (status per cell as in :func:`number`)."""
    rule = missing_rule(extra)
    dtype = col.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) \
            and not isinstance(dtype, pd.CategoricalDtype):
        vals = col.to_numpy(dtype=float, na_value=np.nan)
        status = np.where(np.isnan(vals), MISSING, np.where(np.isfinite(vals), NUMBER, NOT_FINITE)).astype(np.int8)
        if rule.codes:
            status[np.isin(vals, list(rule.codes))] = MISSING
        vals = np.where(status == NUMBER, vals, np.nan)
        return vals, status
    codes, uniques = _factorize(col)
    parsed = [number(u, rule) for u in uniques.tolist()] + [(math.nan, MISSING)]
    vals = np.array([p[0] for p in parsed], dtype=float)[codes]
    status = np.array([p[1] for p in parsed], dtype=np.int8)[codes]
    return vals, status


def numbers(col: pd.Series, extra: Iterable[Any] | MissingRule = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values, missing mask, not-a-number mask)`` of a column; non-finite numbers count as not a number."""
    vals, status = number_status(col, extra)
    return vals, status == MISSING, status >= NOT_A_NUMBER


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?\Z")
_EURO_THOUSANDS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?\Z")
_AMBIGUOUS = re.compile(r"[+-]?\d{1,3},\d{3}\Z")
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+\Z")


def number_hint(x: Any) -> str:
    """How to write a text that is not a number (``""`` when there is nothing specific to say)."""
    if not isinstance(x, str):
        return ""
    t = x.strip().replace(" ", "")
    if _AMBIGUOUS.match(t):
        return (f" without a thousands separator ({t.replace(',', '')}) or with a point as decimal separator "
                f"({t.replace(',', '.')}), whichever it means")
    if _THOUSANDS.match(t):
        return f" without the thousands separator, as {t.replace(',', '')}"
    if _EURO_THOUSANDS.match(t) and "," in t:
        return f" with a point as decimal separator and no thousands separator, as " \
               f"{t.replace('.', '').replace(',', '.')}"
    if _DECIMAL_COMMA.match(t):
        return f" with a point as decimal separator, as {t.replace(',', '.')}"
    if "," in t:
        return " with a point as decimal separator"
    return ""


def missing_mask(col: pd.Series, extra: Iterable[Any] | MissingRule = ()) -> np.ndarray:
    """Per cell: whether it is missing under the rule (each distinct value looked at once)."""
    rule = missing_rule(extra)
    dtype = col.dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) \
            and not isinstance(dtype, pd.CategoricalDtype):
        vals = col.to_numpy(dtype=float, na_value=np.nan)
        mask = np.isnan(vals)
        if rule.codes:
            mask |= np.isin(vals, list(rule.codes))
        return mask
    codes, uniques = _factorize(col)
    labs = _text_labels(uniques) if not rule.codes and rule.tokens == MISSING_TOKENS else None
    if labs is not None:
        flags = np.array([x is None for x in labs] + [True], dtype=bool)
    else:
        flags = np.array([is_missing(u, rule) for u in uniques.tolist()] + [True], dtype=bool)
    return flags[codes]


def strings(codes: np.ndarray, values: Any) -> Any:
    """A pandas string array of ``values[codes]`` (-1: missing), built by pyarrow without a Python string per row."""
    import pyarrow as pa

    indices = pa.array(np.asarray(codes).astype(np.int32), mask=np.asarray(codes) < 0)
    dictionary = pa.DictionaryArray.from_arrays(indices, pa.array(list(values), pa.string()))
    return pd.array(dictionary.cast(pa.string()), dtype=pd.StringDtype("pyarrow"))
