"""Build the canonical table from the reshaped cells, applying every rule and logging every exclusion.

The steps, in order: subject ids, arms, visits and weeks (and the baseline), outcome
names (:mod:`.checks`); ADaM derived records left out; values as numbers, missing values
left out and logged; visits before the baseline left out and logged; the row-comparing
rules (:mod:`.crosschecks`: ADaM BASE/CHG, a subject in two arms, subject ids that differ
only by case or leading zeros, duplicates, covariates). Problems are collected and the
caller raises them all at once; no table is built from bad data.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ..schema import OUTCOMES
from .cellparse import as_label
from .cellparse import labels as _labels
from .cellparse import strings as _strings
from .checks import (
    check_arms,
    check_outcomes,
    check_subjects,
    check_values,
    check_visits,
    choose_baseline,
)
from .crosschecks import (
    adam_cross_check,
    covariates,
    duplicates,
    id_collisions,
    two_arms,
)
from .layouts import Cells
from .mapping import TrialMapping
from .problems import Problems
from .visits import visit_name

__all__ = ["canonicalize"]


def canonicalize(cells: Cells, m: TrialMapping, file: str, problems: Problems,
                 study_default: str) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """The canonical table, the exclusion records and what was decided (label maps, baseline...)."""
    f = cells.frame.reset_index(drop=True)
    cells.frame = f.iloc[:0]  # the cells now live in f only (memory)
    excl: list[dict[str, Any]] = list(cells.exclusions)
    roles = cells.roles
    subj_col, arm_col = roles.get("subject_id", "subject_id"), roles.get("arm", "arm")

    def add(r: pd.Series | Any, column: str | None, value: Any, rule: str, text: str) -> None:
        problems.add(file, int(r["row"]), column, value, rule, text, sheet=r["sheet"])

    check_subjects(f, subj_col, add)
    arm_map, arm_order = check_arms(f, m, arm_col, add)
    week_map = check_visits(f, m, roles.get("visit"), roles.get("week"), add)
    base_week = choose_baseline(f, m, problems, file)
    oid_map = check_outcomes(f, m, roles.get("outcome"), add)

    if "dtype" in f.columns:  # ADaM derived records (LOCF...) are not observations
        dt = _labels(f["dtype"])
        derived = dt.notna()
        for i, r in f[derived].iterrows():
            excl.append({"stage": "read", "file": file, "row": int(r["row"]), "subject_id": r["subject"],
                         "visit": _vname(r), "outcome": r["oid"], "column": "DTYPE",
                         "value": dt[i], "cells": 1, "reason": f"derived ADaM record (DTYPE={dt[i]})"})
        f = f[~derived].reset_index(drop=True)

    missing = check_values(f, m, add)
    if missing.any():
        excl += _logged(f[missing], file, "missing value", lambda v: as_label(v))
    f = f[~missing].reset_index(drop=True)
    if base_week is not None:
        before = (f["week_c"] < base_week).to_numpy()
        if before.any():
            excl += _logged(f[before], file, "visit before the baseline", lambda v: as_label(v))
            f = f[~before].reset_index(drop=True)

    if "chg" in f.columns or "base" in f.columns:
        adam_cross_check(f, base_week, add)
    two_arms(f, arm_col, add)
    id_collisions(f, subj_col, add)
    f, dup_excl = duplicates(f, file, add)
    excl += dup_excl
    covs = covariates(f, cells.covariates, add, m)

    decided = {"arm_map": arm_map, "visit_map": {str(k): v for k, v in week_map.items()},
               "outcome_map": oid_map,
               "baseline_visit": visit_name(base_week) if base_week is not None else None}
    if problems:  # the caller raises; no table is built from bad data
        return pd.DataFrame(), excl, decided
    return _table(f, covs, m, arm_order, file, study_default), excl, decided


def _table(f: pd.DataFrame, covs: dict[str, pd.Series], m: TrialMapping, arm_order: list[str], file: str,
           study_default: str) -> pd.DataFrame:
    """The canonical table, rows by arm, subject (natural order), week and outcome."""
    week = f["week_c"].to_numpy(dtype=float)
    visits_sorted = [float(w) for w in np.unique(week)]
    week_codes = np.searchsorted(np.array(visits_sorted, dtype=float), week)
    arm = _categorical(f["arm_c"], [a for a in arm_order if a in set(f["arm_c"].dropna().unique())])
    outcome = _categorical(f["oid"], _outcome_order(f["oid"], m))
    subject = f["subject"]
    if not isinstance(subject.dtype, pd.CategoricalDtype):
        subject = pd.Series(pd.Categorical(subject))
    subject = subject.cat.remove_unused_categories()
    s_codes = np.asarray(subject.cat.codes, dtype=np.int64)
    ids = subject.cat.categories.to_numpy(dtype=object)
    rank = natural_order(ids)
    a_codes, o_codes = np.asarray(arm.codes, dtype=np.int64), np.asarray(outcome.codes, dtype=np.int64)
    sizes = (len(arm.categories), len(ids), len(visits_sorted), len(outcome.categories))
    if np.prod([max(1, x) for x in sizes], dtype=float) < 2.0 ** 62:
        key = ((a_codes * sizes[1] + rank[s_codes]) * sizes[2] + week_codes) * sizes[3] + o_codes
        order = np.argsort(key, kind="stable")
    else:
        order = np.lexsort((o_codes, week_codes, rank[s_codes], a_codes))
    data = pd.DataFrame({
        "study": _study(f, m, study_default).take(order),
        "subject_id": _strings(s_codes[order], ids),
        "arm": pd.Categorical.from_codes(a_codes[order], dtype=arm.dtype),
        "visit": pd.Categorical.from_codes(week_codes[order], categories=pd.Index(
            [visit_name(w) for w in visits_sorted], dtype="str"), ordered=True),
        "week": week[order],
        "outcome": pd.Categorical.from_codes(o_codes[order], dtype=outcome.dtype),
        "value": f["val"].to_numpy(dtype=float)[order],
        "source_file": _strings(np.zeros(len(f), dtype=np.int64), np.array([file], dtype=object)),
        "source_row": pd.array(f["row"].to_numpy(dtype=np.int64)[order], dtype="Int64"),
    })
    for name, series in covs.items():
        data[name] = series.array.take(order) if str(series.dtype) == "string" else series.to_numpy()[order]
    return data


def _logged(mf: pd.DataFrame, file: str, reason: str, show) -> list[dict[str, Any]]:
    """Exclusion records, one per cell of ``mf``."""
    weeks = mf["week_c"].tolist()
    return [{"stage": "read", "file": file, "row": int(row), "subject_id": subj,
             "visit": visit_name(w) if w is not None and w == w else None, "outcome": oid, "column": col,
             "value": show(v), "cells": 1, "reason": reason}
            for row, subj, w, oid, col, v in zip(mf["row"].tolist(), mf["subject"].tolist(), weeks,
                                                 mf["oid"].tolist(), mf["column"].tolist(), mf["value"].tolist())]


def _vname(r: pd.Series) -> str | None:
    w = r.get("week_c")
    return visit_name(w) if w is not None and w == w else None


def _categorical(col: pd.Series, order: list[str]) -> pd.Categorical:
    """``col`` as a categorical with the categories ``order`` (every value of ``col`` is in it)."""
    cats = pd.Index(order, dtype="str")
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.set_categories(cats).array
    return pd.Categorical(col, categories=cats)


def _study(f, m: TrialMapping, default: str):
    if not m.study and f["study"].notna().any():
        labs = _labels(f["study"])
        labs = labs.fillna(labs.dropna().iloc[0])
        return labs.cat.remove_unused_categories().array
    return pd.Categorical.from_codes(np.zeros(len(f), dtype=np.int8), pd.Index([m.study or default], dtype="str"))


def _outcome_order(oids: pd.Series, m: TrialMapping) -> list[str]:
    seen = list(oids.dropna().unique())
    present = set(seen)
    order = list(m.outcomes) + list(OUTCOMES) + seen
    return [o for o in dict.fromkeys(order) if o in present]


def _natural(s: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", s) if p)


_ONE_NUMBER = re.compile(r"(\D*)(\d+)(\D*)\Z")


def natural_order(ids: Any) -> np.ndarray:
    """Rank of each id in natural order (``R2`` before ``R10``), as :func:`_natural` sorts them.

    Ids with at most one run of digits (the usual ``R07``, ``RETRO-0000123``) are ranked
    by numpy; others fall back to sorting with :func:`_natural`.
    """
    fixed = _fixed_layout_rank(ids)
    if fixed is not None:
        return fixed
    ids = list(ids)
    found = [_ONE_NUMBER.match(s) for s in ids]
    parts = [p for p in found if p is not None]
    if ids and len(parts) == len(ids) and all(len(p.group(2)) <= 18 for p in parts):
        head: Any = np.array([p.group(1) for p in parts], dtype=object)
        num = np.array([int(p.group(2)) for p in parts], dtype=np.int64)
        tail: Any = np.array([p.group(3) for p in parts], dtype=object)
        lead = np.array([bool(p.group(1)) for p in parts])
        # _natural compares a leading number before any text (0, n) < (1, text)
        order = np.lexsort((tail, num, head, lead)) if len(set(head)) > 1 or len(set(tail)) > 1 else \
            np.lexsort((num, lead))
    else:
        order = np.array(sorted(range(len(ids)), key=lambda i: _natural(ids[i])), dtype=np.int64)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def _fixed_layout_rank(ids: Any) -> np.ndarray | None:
    """Ranks by plain string order when every id has its digits in the same places (``R07``, ``R12``).

    Then natural order and string order agree, and numpy sorts the strings in C.
    """
    if not len(ids):
        return None
    arr = np.array(ids, dtype=str)
    width = arr.dtype.itemsize // 4
    if width == 0 or width > 64:
        return None
    chars = arr.view(np.uint32).reshape(len(ids), width)
    digits = (chars >= 48) & (chars <= 57)
    if not ((chars != 0).all() and (digits == digits[0]).all()):
        return None
    order = np.argsort(arr, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank
