"""The mapping: how a trial file's columns and labels map onto the canonical table.

A mapping is given as a YAML file (``config="mapping.yaml"``), a dict (``config={...}``)
or keyword arguments of :func:`retrostudy.read_trial` -- the same keys everywhere;
keyword arguments override the file. Keys (all optional)::

    layout: wide              # auto | long | by_visit | wide | adam | sheets
    study: alghadir2019       # study id (default: a STUDYID/study column, else the file name)
    columns:                  # role -> column name (null switches auto-detection of a role off)
      subject_id: patient
      arm: group
      visit: time             # visit label column
      week: week              # week number column
      outcome: paramcd        # long / ADaM: the column naming the outcome
      value: aval             # long / ADaM: the column holding the value
      study: studyid
    arms:                     # label -> canonical arm; the order of first appearance of the
      RW: retro               # canonical arms is the arm order (first = arm of interest)
      FW: forward
      UC: control
    visits:                   # label -> week (canonical names: baseline for week 0, else weekN)
      pre: 0
      post: 6
    baseline_visit: pre       # the baseline visit (label or canonical name; default: week 0, else smallest)
    outcomes:                 # outcome id -> definition; overrides the registry's defaults
      pain_nrs: {column: pain_vas, low: 0, high: 100, unit: mm}
      womac: {paramcd: WOMTOT, version: "WOMAC 3.1 VA", high: 2400}
    covariates: [age, sex, bmi]
    sheet: Data               # xlsx: read this one sheet (name or 0-based index)
    sheets: {Pre: 0, Post: 6} # xlsx, one sheet per visit: sheet name -> week (or a list of names)
    missing_values: [-99, 999, not done]  # codes that mean "missing" (text or numbers, in every format)
    header_row: 4             # csv/xlsx: the line of the header when title rows are above it;
                              # [3, 4] for a header written over two rows (joined as "Pain_pre")

Outcome definition keys: ``column`` (by-visit column or wide prefix), ``paramcd`` (the
label in a long/ADaM outcome column), ``label``, ``unit``, ``low``, ``high``,
``low_inclusive``, ``high_inclusive``, ``direction`` (``lower_is_better`` /
``higher_is_better``), ``version``. When ``outcomes`` is given in a long file, other
outcome labels are reported as unknown; when ``arms`` or ``visits`` is given, other
labels are reported as unknown (with the closest known one).

The file is read by :func:`retrostudy.io.safeyaml.read_yaml`, which refuses every
explicit YAML tag (``!!python/object``...), anchor and alias, deep nesting and a key
written twice; nothing in it is ever executed. Every key is checked and every problem
collected: an unknown key, a wrong type or a bad range is a :class:`DataError` naming the
file and line (or, for a dict, the option) and how to fix it; problems in keyword
arguments alone raise :class:`SpecError`.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import DataError, SpecError
from ..schema import OUTCOMES, Outcome, make_outcome
from .labels import as_label, closest, known_list, norm
from .safeyaml import read_yaml

__all__ = ["LAYOUTS", "MAPPING_KEYS", "TrialMapping", "load_mapping"]

MAPPING_KEYS = ("layout", "study", "columns", "arms", "visits", "baseline_visit", "baseline", "outcomes", "covariates",
                "sheet", "sheets", "missing_values", "header_row")
ROLES = ("subject_id", "arm", "visit", "week", "outcome", "value", "study")
OUTCOME_KEYS = ("column", "paramcd", "label", "unit", "low", "high", "low_inclusive", "high_inclusive",
                "direction", "version")
LAYOUTS = ("auto", "long", "by_visit", "wide", "adam", "sheets")


@dataclass(frozen=True)
class TrialMapping:
    """A validated mapping (see the module docstring for the keys)."""

    layout: str = "auto"
    study: str | None = None
    columns: dict[str, str | None] = field(default_factory=dict)
    arms: dict[str, str] = field(default_factory=dict)
    visits: dict[str, float] = field(default_factory=dict)
    baseline: str | None = None
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    outcome_names: dict[str, tuple[str, ...]] = field(default_factory=dict)
    covariates: tuple[str, ...] | None = None
    sheet: str | int | None = None
    sheets: dict[str, float | None] | None = None
    missing_values: tuple[str, ...] = ()
    header_row: tuple[int, ...] | None = None
    source: str | None = None
    key_text: dict[tuple[str, str], str] = field(default_factory=dict)

    def outcome(self, oid: str) -> Outcome:
        """The outcome definition: the mapping's, else the registry's."""
        return self.outcomes.get(oid) or make_outcome(oid)

    def to_dict(self) -> dict[str, object]:
        return {
            "layout": self.layout, "study": self.study, "columns": dict(self.columns), "arms": dict(self.arms),
            "visits": dict(self.visits), "baseline_visit": self.baseline,
            "outcomes": {k: v.to_dict() for k, v in self.outcomes.items()},
            "covariates": list(self.covariates) if self.covariates is not None else None,
            "sheet": self.sheet, "sheets": self.sheets, "missing_values": list(self.missing_values),
            "header_row": list(self.header_row) if self.header_row else None, "source": self.source,
        }


class _Collector:
    """Problems of a mapping, each naming where the key came from (file and line, or the option)."""

    def __init__(self, file: str | None, lines: Mapping[tuple, int], keywords: frozenset[str] = frozenset()):
        self.file, self.lines, self.keywords = file, lines, keywords
        self.problems: list[dict[str, Any]] = []

    def add(self, path: tuple, text: str, value: Any = None) -> None:
        key = ".".join(str(p) for p in path)
        from_file = self.file is not None and path[:1] and path[0] not in self.keywords
        line = self.lines.get(path) if from_file else None
        if from_file:
            where = f"{self.file}, line {line}, key '{key}'" if line else f"{self.file}, key '{key}'"
        else:
            where = f"mapping option '{key}'"
        self.problems.append({"file": self.file if from_file else None, "row": line, "column": key,
                              "value": _short(value), "rule": "mapping",
                              "message": f"{where}: {text}" + ("" if text.endswith("?") else "."),
                              "keyword": bool(path[:1]) and path[0] in self.keywords})


def _short(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    return repr(value)[:80]


def read_mapping_file(path: str | os.PathLike) -> tuple[dict, str, dict[tuple, int], dict[tuple, str]]:
    """Read a YAML mapping safely: ``(content, file name, line index, keys as written)``.

    See :mod:`retrostudy.io.safeyaml` for what is refused (tags, aliases, deep nesting,
    keys written twice, files over 1 MB).
    """
    doc = read_yaml(path, what="mapping file")
    if not isinstance(doc.content, dict):
        raise DataError([{"file": doc.name, "row": 1, "column": None, "value": _short(doc.content), "rule": "mapping",
                          "message": f"{doc.name}, line 1: the mapping file must be a set of 'key: value' lines, "
                                     f"not a {type(doc.content).__name__}; start with keys such as 'columns:'."}])
    return doc.content, doc.name, doc.lines, doc.written


def load_mapping(config: str | os.PathLike[str] | Mapping[str, object] | None = None, layout: str = "auto",
                 **options: object) -> TrialMapping:
    """Validate a mapping from a YAML path or dict plus keyword options.

    Every problem is collected before anything is raised.

    Parameters
    ----------
    config
        A YAML mapping file or a dict with the keys of the module docstring.
    layout
        The layout (overrides ``config``'s) unless ``"auto"``.
    **options
        The mapping's keys as keyword arguments (they override ``config``'s).

    Returns
    -------
    TrialMapping

    Raises
    ------
    DataError
        The problems of a mapping file (each naming the file and line) or dict (each
        naming the option), with those of the keyword options.
    SpecError
        Problems in keyword options only (an unknown keyword, a wrong value).

    Examples
    --------
    >>> load_mapping({"visits": {"pre": 0, "post": 6}}).visits
    {'pre': 0.0, 'post': 6.0}
    """
    content: dict = {}
    file: str | None = None
    lines: dict[tuple, int] = {}
    written: dict[tuple, str] = {}
    if isinstance(config, (str, os.PathLike)):
        content, file, lines, written = read_mapping_file(config)
    elif isinstance(config, Mapping):
        content = dict(config)
    elif config is not None:
        raise SpecError(f"config must be a path to a YAML file or a dict, not {type(config).__name__}.")
    for k in options:
        if k not in MAPPING_KEYS:
            hint = closest(k, MAPPING_KEYS)
            raise SpecError(f"Unknown mapping option {k!r}" + (f"; did you mean {hint!r}?" if hint else
                            f"; known options are {known_list(MAPPING_KEYS)}."))
    col = _Collector(file, lines, frozenset(options) | ({"layout"} if layout not in (None, "auto") else set()))
    merged = dict(content)
    merged.update(options)
    if "baseline" in merged:  # the old key: ``baseline`` names how a model uses the baseline visit
        import warnings

        warnings.warn("The mapping key 'baseline' (the baseline visit's label) is now 'baseline_visit'; the old "
                      "key still works.", FutureWarning, stacklevel=3)
        if "baseline_visit" in merged and merged["baseline_visit"] != merged["baseline"]:
            raise SpecError("The mapping gives both 'baseline_visit' and its old spelling 'baseline'; keep "
                            "'baseline_visit' only.")
        merged["baseline_visit"] = merged.pop("baseline")
    if layout not in (None, "auto"):
        merged["layout"] = layout
    result = _validate(merged, col)
    if col.problems:
        keyword_only = all([p.pop("keyword") for p in col.problems])  # a list: every record loses the key
        if keyword_only:
            first = col.problems[0]["message"]
            rest = len(col.problems) - 1
            raise SpecError(first[0].upper() + first[1:] + (f" ({rest} more problem{'s' if rest > 1 else ''}: "
                            + " ".join(p["message"] for p in col.problems[1:]) + ")" if rest else ""))
        raise DataError(col.problems)
    key_text = {(p[0], str(p[1])): text for p, text in written.items()
                if len(p) == 2 and p[0] in ("arms", "visits") and p[0] not in options}
    return replace(result, key_text=key_text)


def _validate(m: dict, col: _Collector) -> TrialMapping:
    kw: dict[str, Any] = {"source": col.file}
    for key in m:
        if key not in MAPPING_KEYS:
            hint = closest(str(key), MAPPING_KEYS)
            col.add((key,), "unknown key" + (f"; did you mean '{hint}'?" if hint else
                    f"; the known keys are {known_list(MAPPING_KEYS)}"), key)
    lay = m.get("layout", "auto")
    lay = "by_visit" if lay in ("by-visit", "byvisit") else lay
    if lay not in LAYOUTS:
        col.add(("layout",), f"layout must be one of {known_list(LAYOUTS)}, not {lay!r}", lay)
    else:
        kw["layout"] = lay
    if m.get("study") is not None:
        if not isinstance(m["study"], (str, int)):
            col.add(("study",), "study must be a short text id such as 'alghadir2019'", m["study"])
        else:
            kw["study"] = str(m["study"])
    cols = m.get("columns")
    if cols is not None:
        if not isinstance(cols, Mapping):
            col.add(("columns",), "columns must map roles to column names, e.g. 'subject_id: patient'", cols)
        else:
            kw["columns"] = {}
            for role, name in cols.items():
                if role not in ROLES:
                    hint = closest(str(role), ROLES)
                    col.add(("columns", role), "unknown column role" + (f"; did you mean '{hint}'?" if hint else
                            f"; roles are {known_list(ROLES)}"), role)
                elif name is not None and not isinstance(name, (str, int)):
                    col.add(("columns", role), "give one column name (text)", name)
                else:
                    kw["columns"][role] = None if name is None else str(name)
    for key in ("arms", "visits"):
        val = m.get(key)
        if val is None:
            continue
        if not isinstance(val, Mapping):
            col.add((key,), f"{key} must map each label in the file to a canonical "
                    + ("arm, e.g. 'RW: retro'" if key == "arms" else "week number, e.g. 'post: 6'"), val)
            continue
        out: dict = {}
        for lab, target in val.items():
            if key == "arms":
                if not isinstance(target, str) or not norm(target) or norm(target) != target:
                    col.add((key, lab), "the canonical arm must be a snake_case name such as 'retro'", target)
                else:
                    out[str(lab)] = target
            else:
                if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target):
                    col.add((key, lab), "the visit's week must be a number such as 6", target)
                else:
                    out[str(lab)] = float(target)
        kw[key] = out
    if m.get("baseline_visit") is not None:
        kw["baseline"] = str(m["baseline_visit"])
    if m.get("outcomes") is not None:
        _outcomes(m["outcomes"], col, kw)
    cov = m.get("covariates")
    if cov is not None:
        if isinstance(cov, str):
            cov = [cov]
        if not isinstance(cov, (list, tuple)) or not all(isinstance(c, str) for c in cov):
            col.add(("covariates",), "covariates must be a list of column names, e.g. [age, sex]", cov)
        else:
            kw["covariates"] = tuple(cov)
    if m.get("sheet") is not None:
        if not isinstance(m["sheet"], (str, int)) or isinstance(m["sheet"], bool):
            col.add(("sheet",), "sheet must be a sheet name or a 0-based sheet number", m["sheet"])
        else:
            kw["sheet"] = m["sheet"]
    sh = m.get("sheets")
    if sh is not None:
        if isinstance(sh, (list, tuple)) and all(isinstance(s, str) for s in sh):
            kw["sheets"] = {s: None for s in sh}
        elif isinstance(sh, Mapping) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                             for v in sh.values()):
            kw["sheets"] = {str(k): float(v) for k, v in sh.items()}
        else:
            col.add(("sheets",), "sheets must list the sheet names or map each sheet name to its week", sh)
    mv = m.get("missing_values")
    if mv is not None:
        if not isinstance(mv, (list, tuple)):
            mv = [mv]
        if not all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in mv):
            col.add(("missing_values",), "missing_values must list the codes that mean missing, e.g. [-99, 999, "
                    "'not done']", mv)
        else:
            kw["missing_values"] = tuple(str(as_label(x)).lower() for x in mv if as_label(x))
    hr = m.get("header_row")
    if hr is not None:
        rows = list(hr) if isinstance(hr, (list, tuple)) else [hr]
        if (not 1 <= len(rows) <= 2 or not all(isinstance(r, int) and not isinstance(r, bool) and r >= 1
                                                 for r in rows) or (len(rows) == 2 and rows[1] != rows[0] + 1)):
            col.add(("header_row",), "header_row must be the line number of the header (e.g. 4), or the two "
                    "line numbers of a header written over two rows (e.g. [3, 4])", hr)
        else:
            kw["header_row"] = tuple(rows)
    return TrialMapping(**kw)


def _outcomes(val: Any, col: _Collector, kw: dict) -> None:
    if not isinstance(val, Mapping):
        col.add(("outcomes",), "outcomes must map outcome ids to definitions, e.g. 'pain_nrs: {low: 0, high: 10}'",
                val)
        return
    defs: dict[str, Outcome] = {}
    names: dict[str, tuple[str, ...]] = {}
    for oid, spec in val.items():
        path = ("outcomes", oid)
        if not isinstance(oid, str) or norm(oid) != oid:
            col.add(path, "an outcome id must be snake_case, such as 'pain_nrs'", oid)
            continue
        spec = {} if spec is None else spec
        if not isinstance(spec, Mapping):
            col.add(path, "give the outcome's definition as keys such as 'low', 'high', 'unit'", spec)
            continue
        over: dict[str, Any] = {}
        ok = True
        for k, v in spec.items():
            p = path + (k,)
            if k not in OUTCOME_KEYS:
                hint = closest(str(k), OUTCOME_KEYS)
                col.add(p, "unknown outcome key" + (f"; did you mean '{hint}'?" if hint else
                        f"; known keys are {known_list(OUTCOME_KEYS)}"), k)
                ok = False
            elif k in ("low", "high"):
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                    col.add(p, f"{k} must be a number (or null for an open end)", v)
                    ok = False
                else:
                    over[k] = None if v is None else float(v)
            elif k in ("low_inclusive", "high_inclusive"):
                if not isinstance(v, bool):
                    col.add(p, f"{k} must be true or false", v)
                    ok = False
                else:
                    over[k] = v
            elif k == "direction":
                if v not in ("lower_is_better", "higher_is_better"):
                    col.add(p, "direction must be lower_is_better or higher_is_better", v)
                    ok = False
                else:
                    over[k] = v
            elif k in ("column", "paramcd"):
                if not isinstance(v, (str, int)):
                    col.add(p, f"{k} must be one name (text)", v)
                    ok = False
                else:
                    names[oid] = names.get(oid, ()) + (str(v),)
            else:
                if not isinstance(v, (str, int, float)):
                    col.add(p, f"{k} must be text", v)
                    ok = False
                else:
                    over[k] = str(v)
        if not ok:
            continue
        base = OUTCOMES.get(oid)
        low = over.get("low", base.low if base else None)
        high = over.get("high", base.high if base else None)
        if low is not None and high is not None and not low < high:
            col.add(path + (("high",) if "high" in over else ("low",)),
                    f"the range is empty (low {low:g} is not below high {high:g}); give low < high", high)
            continue
        defs[oid] = make_outcome(oid, **over)
    kw["outcomes"] = defs
    kw["outcome_names"] = names
