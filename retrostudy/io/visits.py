"""Visit labels to weeks, dates that are not visits, and wide column names (``<outcome>_<visit>``).

Visit labels understood without a mapping (case and separators do not matter):

* baseline words: ``baseline``, ``BL``, ``pre``, ``week 0``, ``day 0``, ``V0`` ... -> week 0;
* weeks: ``week 6``, ``Week6``, ``wk 6``, ``W6``, ``6 weeks``, ``6``, ``week 1.5`` -> 6, 6, ..., 1.5;
* a minus sign before the number is kept: ``Week -2``, ``week − 2``, ``-2`` -> week -2 (a
  hyphen written straight after the word, ``week-2``, is read as a separator: week 2);
* days: ``Day 21``, ``day21``, ``21 days`` -> week 3 (days / 7).

Dates are never visit labels or weeks: :func:`date_text` recognises date cells (Excel
dates, ``2019-01-10``, ``10/01/2019``, ``20190110``) so the checks can refuse them with
how to give visits instead.
"""
from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .labels import OUTCOME_SYNONYMS, norm

__all__ = [
    "MAX_WEEK",
    "WideColumn",
    "date_text",
    "split_wide",
    "visit_like",
    "visit_name",
    "visit_week",
    "wide_columns",
]

_BASELINE = {"baseline", "bl", "base", "week_0", "week0", "wk0", "wk_0", "w0", "pre", "pretest",
             "pre_treatment", "pretreatment", "day_0", "day0", "v0", "visit_0"}
_UNIT = re.compile(r"(weeks|week|wks|wk|w|days|day|dy)(?![a-z])")
_SEP = re.compile(r"[\s_.:#]*")
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)[\s_]*(weeks|week|wks|wk|w|days|day|d)?\Z")
_MINUS = "-\u2212\u2013"
#: Visit-like words whose week cannot be known without the mapping (after :func:`norm`).
_VISIT_WORD = re.compile(r"(post|post_?treatment|post_?test|posttreat|fu|fu_?\d+|follow_?up(_?\d+)?|end|final|eot|eos|"
                         r"end_of_treatment|screening|scr|v_?\d+|visit_?\d+|t_?\d+|m_?\d+|mo_?\d+|month_?\d+|"
                         r"months_?\d+|y_?\d+|year_?\d+|discharge|mid|midpoint|interim|week_?\d+_?\d*|day_?\d+)\Z")
#: Weeks beyond this are not a visit of a trial (about 19 years): such a number is a date or a code.
MAX_WEEK = 1000.0


def visit_week(label: Any, visits: Mapping[str, float] | None = None) -> float | None:
    """Week of a visit label (``"Week 6"`` -> 6.0, ``"Day 21"`` -> 3.0, ``"Week -2"`` -> -2.0), or ``None``.

    The mapping's ``visits`` are searched first.

    Examples
    --------
    >>> [visit_week(x) for x in ("baseline", "Week 6", "week 1.5", "Week -2", "Day 21", "post")]
    [0.0, 6.0, 1.5, -2.0, 3.0, None]
    """
    n = norm(label)
    for lab, week in (visits or {}).items():
        if n == norm(lab):
            return float(week)
    if n in _BASELINE:
        return 0.0
    text = str(label).strip().lower()
    unit = _UNIT.match(text)
    rest = text[unit.end():] if unit else text
    sign = 1.0
    if unit and rest[:1] == "-":  # "week-6": a hyphen straight after the word separates
        rest = rest[1:]
    else:
        sep = _SEP.match(rest)
        rest = rest[sep.end():] if sep else rest
        if rest[:1] and rest[0] in _MINUS:
            sign, rest = -1.0, rest[1:].lstrip()
    m = _NUMBER.match(rest)
    if not m or (unit and m.group(2)):
        return None
    days = (unit is not None and unit.group(1) in ("days", "day", "dy")) or m.group(2) in ("days", "day", "d")
    value = sign * float(m.group(1))
    week = value / 7.0 if days else value
    return week + 0.0  # no -0.0


def visit_name(week: float) -> str:
    """Canonical visit name of a week: ``baseline`` for week 0, else ``week6``, ``week0.5``, ``week-2``."""
    return "baseline" if week == 0 else f"week{week:g}"


_ISO = re.compile(r"(19|20)\d\d[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])([ t]\d\d?:\d\d(:\d\d)?)?\Z")
_DMY = re.compile(r"(0?[1-9]|[12]\d|3[01])[-/.](0?[1-9]|1[0-2]|[a-z]{3})[-/.]((19|20)?\d\d)\Z")
_MDY = re.compile(r"(0?[1-9]|1[0-2])[/](0?[1-9]|[12]\d|3[01])[/]((19|20)?\d\d)\Z")
_COMPACT = re.compile(r"(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\Z")


def date_text(x: Any) -> str | None:
    """The cell as a date text when it holds a date (an Excel date, ``2019-01-10``, ``20190110``...), else None.

    Examples
    --------
    >>> date_text("20190110"), date_text("10/01/2019"), date_text("week 6"), date_text(6)
    ('20190110', '10/01/2019', None, None)
    """
    if isinstance(x, (_dt.date, _dt.datetime)):
        return x.isoformat()[:10]
    if type(x).__name__ in ("Timestamp", "datetime64"):
        return str(x)[:10]
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        if x != x or (isinstance(x, float) and not x.is_integer()):
            return None
        x = str(int(x))
    if not isinstance(x, str):
        return None
    t = x.strip().lower()
    if _ISO.match(t):
        return x.strip()[:10] if t.endswith(("00:00:00", "00:00")) else x.strip()
    if _DMY.match(t) or _MDY.match(t) or _COMPACT.match(t):
        return x.strip()
    return None


def visit_like(label: str) -> bool:
    """Whether a (normalised) word names a visit, even when its week is unknown (``post``, ``fu``, ``v2``)."""
    n = norm(label)
    return n in _BASELINE or visit_week(label) is not None or _VISIT_WORD.match(n) is not None


def split_wide(column: str, outcomes: Mapping[str, Iterable[str]] | None = None,
               visits: Mapping[str, float] | None = None) -> tuple[str, str, float] | None:
    """Split a wide column name of a known outcome into ``(outcome id, visit label, week)``.

    Recognises ``<outcome>_<visit>`` and ``<visit>_<outcome>`` with any separator,
    e.g. ``pain_baseline``, ``pain_week6``, ``pain_0``, ``WOMAC.6``, ``baseline_tug``.
    """
    for oid, rest, _ in _known_split(column, outcomes):
        week = visit_week(rest, visits)
        if week is not None:
            return oid, rest, week
    return None


def _known_split(column: str, outcomes: Mapping[str, Iterable[str]] | None) -> list[tuple[str, str, bool]]:
    """Every (outcome id, rest, separated) a column name splits into around a known outcome name."""
    n = norm(column)
    names: list[tuple[str, str]] = []
    for oid, extra in (outcomes or {}).items():
        names += [(norm(x), oid) for x in (oid, *extra)]
    names += [(syn, oid) for oid, syns in OUTCOME_SYNONYMS.items() for syn in syns]
    names.sort(key=lambda t: -len(t[0]))
    out = []
    for syn, oid in names:
        for rest in (n[len(syn):] if n.startswith(syn) else None, n[:-len(syn)] if n.endswith(syn) else None):
            if rest is None:
                continue
            separated = rest.startswith("_") or rest.endswith("_")
            rest = rest.strip("_")
            if rest:
                out.append((oid, rest, separated))
    return out


class WideColumn(tuple):
    """``(column, outcome id, visit label, week)``; week is None when the visit's week is unknown."""

    __slots__ = ()

    def __new__(cls, column: str, oid: str, visit: str, week: float | None, known: bool):
        return super().__new__(cls, (column, oid, visit, week, known))

    column = property(lambda self: self[0])
    oid = property(lambda self: self[1])
    visit = property(lambda self: self[2])
    week = property(lambda self: self[3])
    known = property(lambda self: self[4])  # a known outcome (registry or mapping), or a new one


def wide_columns(columns: Iterable[str], outcomes: Mapping[str, Iterable[str]] | None = None,
                 visits: Mapping[str, float] | None = None, new_outcomes: bool = True) -> list[WideColumn]:
    """The columns that hold an outcome at a visit (``<stem>_<visit>``), known or not.

    * a known outcome's name with a visit: ``pain_0``, ``PAIN_POST`` (the week of ``post``
      is unknown unless the mapping gives it: ``week`` is None);
    * with ``new_outcomes``, an unknown stem over two or more visits one of which is the
      baseline (``sixmwt_0``, ``sixmwt_6``): a new outcome ``sixmwt``. A single
      ``<name>_<visit>`` column (``bmi_bl``) stays a subject-level covariate.
    """
    columns = list(columns)
    out: list[WideColumn] = []
    rest_cols = []
    for c in columns:
        hit = None
        for oid, rest, separated in _known_split(c, outcomes):
            week = visit_week(rest, visits)
            if week is not None:
                hit = WideColumn(c, oid, rest, week, True)
                break
            if hit is None and separated and visit_like(rest):
                hit = WideColumn(c, oid, rest, None, True)
        if hit is not None:
            out.append(hit)
        else:
            rest_cols.append(c)
    if not new_outcomes:
        return out
    groups: dict[str, list[tuple[str, str]]] = {}
    for c in rest_cols:
        n = norm(c)
        cuts = [i for i, ch in enumerate(n) if ch == "_"]
        suffixes = [n[i + 1:] for i in cuts if visit_like(n[i + 1:])]  # longest first
        if suffixes:
            suffix = suffixes[0]
            groups.setdefault(n[:len(n) - len(suffix) - 1], []).append((c, suffix))
    for stem, members in groups.items():
        weeks = [visit_week(s, visits) for _, s in members]
        if len(members) >= 2 and 0.0 in weeks and len({s for _, s in members}) == len(members):
            out += [WideColumn(c, stem, s, w, False) for (c, s), w in zip(members, weeks)]
    return out
