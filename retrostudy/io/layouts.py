"""Recognise a table's layout and reshape it into cells (one per subject x visit x outcome).

Layouts:

``long``
    one row per subject x visit x outcome: subject, arm, visit and/or week, outcome, value.
``by_visit``
    one row per subject x visit, one column per outcome (``pain``, ``womac``, ...).
``wide``
    one row per subject; columns ``<outcome>_<visit>`` (``pain_baseline``, ``pain_week6``,
    ``pain_0``, ``pain_6``).
``adam``
    CDISC ADaM BDS: USUBJID, TRT01P (or ARM), AVISIT / AVISITN, PARAMCD, AVAL; BASE and
    CHG are cross-checked against AVAL; records with a DTYPE (derived, e.g. LOCF) are
    left out and logged.
``sheets``
    an xlsx workbook with one sheet per visit (the sheet name is the visit label), each
    sheet by-visit.

Auto-detection looks at the column names only and refuses a table that fits several
layouts with a sentence saying which ``layout=`` to pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..schema import CANONICAL_COLUMNS
from .cellparse import is_missing, missing_mask, missing_rule
from .formats import RawTable
from .labels import (
    ADAM_COVARIATES,
    ROLE_SYNONYMS,
    known_list,
    match_role,
    norm,
    outcome_id,
)
from .mapping import ROLES, TrialMapping
from .problems import Problems
from .visits import WideColumn, wide_columns

__all__ = ["Cells", "detect_layout", "reshape"]

_ROLE_WORDS = {"subject_id": "subject id", "arm": "arm (treatment group)", "visit": "visit", "week": "week",
               "outcome": "outcome name", "value": "value", "study": "study"}


@dataclass
class Cells:
    """Cells in a long frame plus what was recognised.

    ``frame`` columns: subject, arm, visit, week, outcome, value, row, column, sheet,
    then ``base``/``chg``/``ablfl`` (ADaM) and one column per covariate (canonical name).
    """

    frame: pd.DataFrame
    layout: str
    roles: dict[str, str]
    outcome_columns: dict[str, str]
    covariates: dict[str, str]
    ignored: list[str]
    input_cells: int
    exclusions: list[dict[str, Any]] = field(default_factory=list)


def _header_row(t: RawTable) -> int | None:
    return int(t.rows[0]) - 1 if t.format in ("csv", "tsv", "xlsx") and len(t.rows) else None


def _wide_columns(t: RawTable, roles: dict[str, str], m: TrialMapping) -> list[WideColumn]:
    rest = [c for c in t.columns if c not in roles.values() and c not in t.nested]
    return wide_columns(rest, m.outcome_names, m.visits, new_outcomes=not m.outcomes)


def _roles(t: RawTable, m: TrialMapping, problems: Problems) -> dict[str, str]:
    roles: dict[str, str] = {}
    by_norm = {norm(c): c for c in t.columns}
    for role in ROLES:
        if role in m.columns:
            name = m.columns[role]
            if name is None:
                continue
            col = name if name in t.columns else by_norm.get(norm(name))
            if col is None:
                problems.add(t.file, _header_row(t), name, name, "missing_column",
                             f"the mapping names this column as the {_ROLE_WORDS[role]} but the file has no such "
                             f"column (its columns are {known_list(t.columns)}); correct columns: {role}: in the "
                             "mapping", sheet=t.sheet)
            else:
                roles[role] = col
    for role in ROLES:
        if role in roles or role in m.columns:
            continue
        taken = set(roles.values())
        col = match_role([c for c in t.columns if c not in taken], role)
        if col is not None:
            roles[role] = col
    return roles


def detect_layout(t: RawTable, roles: dict[str, str], m: TrialMapping, n_tables: int) -> list[str]:
    """Layouts the table's column names fit (empty: none; several: ambiguous)."""
    names = {norm(c) for c in t.columns}
    rest = [c for c in t.columns if c not in roles.values()]
    if {"paramcd", "aval"} <= names and "outcome" in roles and "value" in roles:
        return ["adam"]
    has_visit = "visit" in roles or "week" in roles
    cand = []
    if "outcome" in roles and "value" in roles:
        cand.append("long")
    if has_visit and any(outcome_id(c, m.outcome_names) for c in rest):
        cand.append("by_visit")
    if _wide_columns(t, roles, m):
        cand.append("wide")
    if n_tables > 1 and not has_visit and "long" not in cand:
        cand = ["sheets"]
    return cand


def reshape(tables: list[RawTable], m: TrialMapping, problems: Problems) -> Cells:
    """Recognise the layout (or use ``m.layout``) and return the cells; problems are collected."""
    first = tables[0]
    roles = _roles(first, m, problems)
    layout = m.layout
    if layout == "auto":
        cand = detect_layout(first, roles, m, len(tables))
        if len(cand) != 1:
            where = f"{first.file}" + (f", sheet '{first.sheet}'" if first.sheet else "")
            if not cand:
                text = (f"{where}: the layout could not be recognised from the columns {known_list(first.columns)}; "
                        "name the columns (e.g. subject_id, arm, visit, pain) or pass layout= and columns= "
                        "(see the mapping options)")
            elif "sheets" in cand or len(tables) > 1:
                text = (f"{where}: the workbook has {len(tables)} sheets with data; pass sheet='<name>' to read one "
                        "of them or layout='sheets' if there is one sheet per visit")
            else:
                text = (f"{where}: the columns fit more than one layout ({' and '.join(cand)}); pass "
                        + " or ".join(f"layout='{c}'" for c in cand))
            raise DataError([{"file": first.file, "row": _header_row(first), "column": None, "value": None,
                              "rule": "ambiguous_layout" if cand else "unknown_layout", "message": text + "."}])
        layout = cand[0]
    if layout == "sheets" and first.sheet is None:
        raise DataError([{"file": first.file, "row": None, "column": None, "value": None, "rule": "layout",
                          "message": f"{first.file}: layout='sheets' (one sheet per visit) needs an .xlsx workbook; "
                                     "pass layout='by_visit' with a visit column for this file."}])
    if layout != "sheets" and len(tables) > 1:
        raise DataError([{"file": first.file, "row": None, "column": None, "value": None, "rule": "ambiguous_layout",
                          "message": f"{first.file}: the workbook has {len(tables)} sheets with data; pass sheet="
                                     "'<name>' to read one of them or layout='sheets' for one sheet per visit."}])
    if layout == "sheets":
        chosen = tables
        if m.sheets is not None:
            chosen = [t for t in tables if t.sheet in m.sheets]
            for s in m.sheets:
                if s not in {t.sheet for t in tables}:
                    problems.add(first.file, None, None, s, "no_sheet", f"the mapping lists sheet '{s}' but the "
                                 f"workbook's sheets with data are {known_list(t.sheet for t in tables)}; correct "
                                 "sheets: in the mapping")
        parts = [_by_visit(t, _roles(t, m, problems) if t is not first else roles, m, problems, sheet_visit=True)
                 for t in chosen]
        cells = parts[0]
        if len(parts) > 1:
            cells.frame = pd.concat([p.frame for p in parts], ignore_index=True)
            cells.input_cells = sum(p.input_cells for p in parts)
            cells.exclusions = [e for p in parts for e in p.exclusions]
            cells.ignored = sorted({c for p in parts for c in p.ignored})
        cells.layout = "sheets"
        return cells
    if layout == "wide":
        return _wide(first, roles, m, problems)
    if layout == "by_visit":
        return _by_visit(first, roles, m, problems)
    return _long(first, roles, m, problems, adam=(layout == "adam"))


def _require(t: RawTable, roles: dict[str, str], need: list[str], problems: Problems) -> bool:
    ok = True
    for role in need:
        alts = role.split("|")
        if not any(a in roles for a in alts):
            looked = ", ".join(ROLE_SYNONYMS[alts[0]][:6])
            problems.add(t.file, _header_row(t), alts[0], None, "missing_column",
                         f"no column for the {_ROLE_WORDS[alts[0]]} was found (looked for {looked}; the file has "
                         f"{known_list(t.columns)}); rename that column or set columns: {{{alts[0]}: <name>}} in "
                         "the mapping", sheet=t.sheet)
            ok = False
    return ok


def _covariates(t: RawTable, candidates: list[str], m: TrialMapping, problems: Problems,
                adam: bool = False) -> tuple[dict[str, str], list[str]]:
    """Covariate columns (canonical name -> column) and ignored columns."""
    covs: dict[str, str] = {}
    ignored: list[str] = []
    if m.covariates is not None:
        by_norm = {norm(c): c for c in t.columns}
        for name in m.covariates:
            col = name if name in t.columns else by_norm.get(norm(name))
            if col is None:
                problems.add(t.file, _header_row(t), name, name, "missing_column",
                             f"the mapping lists this covariate but the file has no such column (its columns are "
                             f"{known_list(t.columns)}); correct covariates: in the mapping", sheet=t.sheet)
            elif col in t.nested:
                _nested_problem(t, col, "a covariate", problems)
            else:
                covs[norm(col)] = col
        ignored = [c for c in candidates if c not in covs.values()]
        return covs, ignored
    for c in candidates:
        n = norm(c)
        if n in CANONICAL_COLUMNS or n in covs or not n or (adam and n not in ADAM_COVARIATES) or c in t.nested:
            ignored.append(c)
        else:
            covs[n] = c
    return covs, ignored


def _nested_problem(t: RawTable, col: str, what: str, problems: Problems) -> None:
    problems.add(t.file, None, col, None, "nested_column",
                 f"this column holds {t.nested[col]} (a nested column), which cannot be {what}; store one "
                 "number or label per cell (flatten the column before saving the file)", sheet=t.sheet)


def _labelled(t: RawTable, col: str, series: pd.Series, problems: Problems, strict: bool,
              missing: Any = ()) -> pd.Series:
    """SPSS / Stata value labels applied (each distinct code once).

    With ``strict`` (covariates), labels are applied only when every value has one (a
    coded categorical variable); a labelled code among unlabelled numbers (``99 =
    "Refused"`` in an age column) is a problem rather than a number.
    """
    labels = t.value_labels.get(col)
    if not labels:
        return series
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    rule = missing_rule(missing)
    found = [u in labels or is_missing(u, rule) for u in uniques]
    if strict and not all(found):
        for u, hit in zip(uniques, found):
            if hit and not is_missing(u, rule):
                problems.add(t.file, None, col, u, "partly_labelled",
                             f"the value {u:g} is labelled '{labels[u]}' in the file while other values of this "
                             "column have no label, so it is not clear whether it is a number or a code; declare it "
                             f"missing (missing_values: [{u:g}]) or correct it", sheet=t.sheet)
                break
        return series
    out = np.array([labels.get(u, u) for u in uniques] + [None], dtype=object)
    return pd.Series(out[codes], index=series.index, dtype=object)


def _base(t: RawTable, roles: dict[str, str], covs: dict[str, str], problems: Problems, sheet_label: Any = None,
          sheet_week: Any = None, missing: Any = ()) -> dict[str, Any]:
    d, n = t.data, len(t.data)

    def role(name: str, default: Any) -> Any:
        col = roles.get(name)
        if col is None:
            return _constant(default, n)
        if col in t.nested:
            _nested_problem(t, col, f"the {_ROLE_WORDS[name]}", problems)
        return _labelled(t, col, d[col], problems, strict=False)

    out = {"subject": role("subject_id", None), "arm": role("arm", None), "visit": role("visit", sheet_label),
           "week": role("week", sheet_week), "study": role("study", None), "row": t.rows,
           "sheet": _constant(t.sheet, n)}
    for name, col in covs.items():
        out["cov:" + name] = _labelled(t, col, d[col], problems, strict=True, missing=missing)
    return out


def _constant(value: Any, n: int) -> pd.Series:
    """A column of ``n`` copies of ``value`` (None: missing), stored as a categorical."""
    if value is None:
        return pd.Series(pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), categories=pd.Index([], dtype=object)))
    return pd.Series(pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([value], dtype=object)))


def _blank_rows(t: RawTable, per_row: int, m: TrialMapping) -> tuple[np.ndarray, list[dict[str, Any]]]:
    rule = missing_rule(m.missing_values)
    blank = np.ones(len(t.data), dtype=bool)
    for c in t.columns:
        blank &= missing_mask(t.data[c], rule)
        if not blank.any():
            break
    logs = [{"stage": "read", "file": t.file, "row": int(r), "cells": per_row, "reason": "blank row",
             "column": None, "value": None} for r in t.rows[blank]]
    return blank, logs


def _stack(t: RawTable, base: dict[str, Any], outcome_cols: list[tuple[str, str, Any, Any]],
           blank: np.ndarray) -> pd.DataFrame:
    keep = ~blank
    basef = pd.DataFrame(base)[keep]
    parts = []
    for col, oid, visit, week in outcome_cols:
        part = basef.copy()
        part["outcome"] = oid
        part["value"] = t.data[col].to_numpy()[keep]
        part["column"] = col
        if visit is not None:
            part["visit"] = visit
            part["week"] = week
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=list(base) + ["outcome", "value", "column"])
    return pd.concat(parts, ignore_index=True)


def _by_visit(t: RawTable, roles: dict[str, str], m: TrialMapping, problems: Problems,
              sheet_visit: bool = False) -> Cells:
    need = ["subject_id", "arm"] + ([] if sheet_visit else ["visit|week"])
    _require(t, roles, need, problems)
    rest = [c for c in t.columns if c not in roles.values()]
    ocols: dict[str, str] = {}
    others = []
    for c in rest:
        oid = outcome_id(c, m.outcome_names)
        if oid is None:
            others.append(c)
        elif oid in ocols:
            problems.add(t.file, _header_row(t), c, c, "duplicate_outcome",
                         f"both '{ocols[oid]}' and '{c}' hold {oid}; name the right one under outcomes: {oid}: "
                         "{column: ...} in the mapping or rename the other", sheet=t.sheet)
        else:
            ocols[oid] = c
    if not ocols:
        problems.add(t.file, _header_row(t), None, None, "no_outcome",
                     f"no outcome column was recognised among {known_list(rest)}; name them pain, womac, "
                     "quad_strength, tug or declare them under outcomes: in the mapping", sheet=t.sheet)
    for c in ocols.values():
        if c in t.nested:
            _nested_problem(t, c, "an outcome", problems)
    covs, ignored = _covariates(t, others, m, problems)
    sheet_week = m.sheets.get(t.sheet) if (sheet_visit and m.sheets and t.sheet is not None) else None
    base = _base(t, roles, covs, problems, t.sheet if sheet_visit else None, sheet_week, m.missing_values)
    blank, logs = _blank_rows(t, len(ocols), m)
    frame = _stack(t, base, [(c, oid, None, None) for oid, c in ocols.items()], blank)
    return Cells(frame, "by_visit", roles, {oid: c for oid, c in ocols.items()}, covs, ignored,
                 len(t.data) * len(ocols), logs)


def _wide(t: RawTable, roles: dict[str, str], m: TrialMapping, problems: Problems) -> Cells:
    _require(t, roles, ["subject_id", "arm"], problems)
    found = _wide_columns(t, roles, m)
    unknown = [w for w in found if w.week is None]
    by_visit: dict[str, list[str]] = {}
    for w in unknown:
        by_visit.setdefault(w.visit, []).append(w.column)
    for visit, cols in by_visit.items():
        weeks = sorted({w.week for w in found if w.week is not None})
        example = ", ".join([f"{w.visit}: {w.week:g}" for w in found if w.week == weeks[0]][:1] + [f"{visit}: 6"])
        problems.add(t.file, _header_row(t), cols[0], visit, "unknown_visit",
                     f"the column{'s' if len(cols) > 1 else ''} {known_list(cols)} look{'s' if len(cols) == 1 else ''} "
                     f"like outcome values at the visit '{visit}', whose week is not known; give each visit's week "
                     f"under visits: in the mapping, e.g. visits: {{{example}}}", sheet=t.sheet)
    ocols = [(w.column, w.oid, w.visit, w.week) for w in found if w.week is not None]
    taken = {w.column for w in found}
    others = [c for c in t.columns if c not in roles.values() and c not in taken]
    covs, ignored = _covariates(t, others, m, problems)
    base = _base(t, roles, covs, problems, missing=m.missing_values)
    blank, logs = _blank_rows(t, len(ocols), m)
    frame = _stack(t, base, ocols, blank)
    return Cells(frame, "wide", roles, {c: f"{oid} @ {v}" for c, oid, v, _ in ocols}, covs, ignored,
                 len(t.data) * len(ocols), logs)


def _long(t: RawTable, roles: dict[str, str], m: TrialMapping, problems: Problems, adam: bool) -> Cells:
    _require(t, roles, ["subject_id", "arm", "visit|week", "outcome", "value"], problems)
    extra_adam = {norm(c): c for c in t.columns if norm(c) in ("base", "chg", "dtype", "ablfl")} if adam else {}
    rest = [c for c in t.columns if c not in roles.values() and c not in extra_adam.values()]
    covs, ignored = _covariates(t, rest, m, problems, adam=adam)
    base = _base(t, roles, covs, problems, missing=m.missing_values)
    blank, logs = _blank_rows(t, 1, m)
    keep = ~blank
    frame = pd.DataFrame(base)[keep].reset_index(drop=True)
    if "outcome" in roles and "value" in roles:
        for role in ("outcome", "value"):
            if roles[role] in t.nested:
                _nested_problem(t, roles[role], f"the {_ROLE_WORDS[role]}", problems)
        frame["outcome"] = _labelled(t, roles["outcome"], t.data[roles["outcome"]], problems,
                                     strict=False)[keep].reset_index(drop=True)
        frame["value"] = t.data[roles["value"]][keep].reset_index(drop=True)
        frame["column"] = _constant(roles["value"], len(frame))
    for key in ("base", "chg", "dtype", "ablfl"):
        if key in extra_adam:
            frame[key] = t.data[extra_adam[key]][keep].reset_index(drop=True)
    return Cells(frame, "adam" if adam else "long", roles, {}, covs, ignored, len(t.data), logs)
