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

import pandas as pd

from ..schema import OUTCOMES
from .cellparse import as_label
from .cellparse import labels as _labels
from .checks import check_arms, check_outcomes, check_subjects, check_values, check_visits, choose_baseline
from .crosschecks import adam_cross_check, covariates, duplicates, id_collisions, two_arms
from .layouts import Cells
from .mapping import TrialMapping
from .problems import Problems
from .visits import visit_name

__all__ = ["canonicalize"]


def canonicalize(cells: Cells, m: TrialMapping, file: str, problems: Problems,
                 study_default: str) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """The canonical table, the exclusion records and what was decided (label maps, baseline...)."""
    f = cells.frame.reset_index(drop=True).copy()
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
            excl += _logged(f[before], file, f"visit before the baseline ({visit_name(base_week)})",
                            lambda v: as_label(v))
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
    f["week_c"] = f["week_c"].astype(float)
    arms_present, weeks_present = set(f["arm_c"].unique()), set(f["week_c"].unique())
    visits_sorted = sorted(weeks_present)
    data = pd.DataFrame({
        "study": _study(f, m, study_default),
        "subject_id": pd.array(f["subject"], dtype="string"),
        "arm": pd.Categorical(f["arm_c"], categories=[a for a in arm_order if a in arms_present]),
        "visit": pd.Categorical(f["week_c"].map({w: visit_name(w) for w in weeks_present}),
                                categories=[visit_name(w) for w in visits_sorted if w in weeks_present],
                                ordered=True),
        "week": f["week_c"].astype("float64").to_numpy(),
        "outcome": pd.Categorical(f["oid"], categories=_outcome_order(f["oid"], m)),
        "value": f["val"].astype("float64").to_numpy(),
        "source_file": pd.array([file] * len(f), dtype="string"),
        "source_row": pd.array(f["row"].astype("int64"), dtype="Int64"),
    })
    for name, series in covs.items():
        data[name] = series.array if str(series.dtype) == "string" else series.to_numpy()
    data = _sort(data)
    return data, excl, decided


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


def _study(f, m: TrialMapping, default: str):
    if m.study:
        vals = [m.study] * len(f)
    elif f["study"].notna().any():
        labs = _labels(f["study"])
        vals = labs.fillna(labs.dropna().iloc[0]).tolist()
    else:
        vals = [default] * len(f)
    return pd.Categorical(vals)


def _outcome_order(oids: pd.Series, m: TrialMapping) -> list[str]:
    seen = list(oids.dropna().unique())
    present = set(seen)
    order = list(m.outcomes) + list(OUTCOMES) + seen
    return [o for o in dict.fromkeys(order) if o in present]


def _natural(s: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", s) if p)


def _sort(data: pd.DataFrame) -> pd.DataFrame:
    subj = data["subject_id"].astype(str)
    order = {s: i for i, s in enumerate(sorted(subj.unique(), key=_natural))}
    keys = pd.DataFrame({"a": data["arm"].cat.codes, "s": subj.map(order), "w": data["week"],
                         "o": data["outcome"].cat.codes})
    idx = keys.sort_values(["a", "s", "w", "o"], kind="stable").index
    return data.loc[idx].reset_index(drop=True)
