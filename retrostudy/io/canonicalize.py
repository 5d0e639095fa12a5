"""The bad-input rules: turn reshaped cells into the canonical table, collecting every problem.

Rules (the ``rule`` column of :attr:`DataError.problems`): ``empty_subject_id``,
``empty_arm``, ``unknown_arm``, ``empty_visit``, ``unknown_visit``, ``bad_week``,
``visit_week_mismatch``, ``empty_outcome``, ``unknown_outcome``, ``non_numeric``,
``out_of_range``, ``conflicting_duplicate``, ``two_arms``, ``covariate_changes``,
``adam_chg``, ``adam_base``, ``unknown_baseline``. Missing values are not problems:
they are left out of the table and logged (stage ``read``), as are identical
duplicates (kept once) and ADaM records with a DTYPE (derived rows such as LOCF).
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ..schema import DEFAULT_ARMS, OUTCOMES
from .cellparse import NUM as _NUM
from .cellparse import labels as _labels
from .cellparse import numbers as _numbers
from .crosschecks import adam_cross_check, covariates, duplicates, two_arms
from .labels import ARM_SYNONYMS, arm_id, as_label, closest, known_list, norm, outcome_id, visit_name, visit_week
from .layouts import Cells
from .mapping import TrialMapping
from .problems import Problems

__all__ = ["canonicalize"]

def _first_rows(f: pd.DataFrame, mask: pd.Series | np.ndarray, key: str) -> pd.DataFrame:
    """First offending row per distinct ``key`` value with the number of rows affected."""
    sub = f[mask]
    if sub.empty:
        return sub
    counts = sub.drop_duplicates([key, "sheet", "row"]).groupby(key, sort=False, dropna=False).size()
    firsts = sub.drop_duplicates(key)
    return firsts.assign(_n=firsts[key].map(counts).fillna(1).astype(int).to_numpy())


def _rows_text(n: int) -> str:
    return "" if n <= 1 else f" ({n} rows)"


def canonicalize(cells: Cells, m: TrialMapping, file: str, problems: Problems,
                 study_default: str) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """The canonical table, the exclusion records and what was decided (label maps, baseline...)."""
    f = cells.frame.reset_index(drop=True).copy()
    excl: list[dict[str, Any]] = list(cells.exclusions)
    roles = cells.roles
    subj_col, arm_col = roles.get("subject_id", "subject_id"), roles.get("arm", "arm")
    visit_col, week_col = roles.get("visit"), roles.get("week")

    def add(r: pd.Series | Any, column: str | None, value: Any, rule: str, text: str) -> None:
        problems.add(file, int(r["row"]), column, value, rule, text, sheet=r["sheet"])

    # subject ids
    f["subject"] = _labels(f["subject"])
    empty = f["subject"].isna()
    for _, r in f[empty].drop_duplicates(["sheet", "row"]).iterrows():
        add(r, subj_col, None, "empty_subject_id", "the subject id is empty; fill in the subject's id "
            "(or delete the row if it holds no data)")

    # arms
    f["arm"] = _labels(f["arm"])
    arm_map, arm_order = _arm_map(f, m, problems, file, arm_col, add)
    f["arm_c"] = f["arm"].map(arm_map)
    known_by_subject = f.dropna(subset=["arm_c", "subject"]).drop_duplicates("subject").set_index("subject")["arm_c"]
    fill = f["arm"].isna() & f["subject"].notna()
    f.loc[fill, "arm_c"] = f.loc[fill, "subject"].map(known_by_subject)
    for _, r in _first_rows(f, f["arm"].isna() & f["arm_c"].isna() & f["subject"].notna(), "subject").iterrows():
        add(r, arm_col, None, "empty_arm", f"the arm of subject '{r['subject']}' is empty{_rows_text(r['_n'])}; "
            "fill in the subject's treatment group")

    # visits and weeks
    week_map = _visits(f, m, file, visit_col, week_col, add, problems)
    base_week = _baseline(f, m, week_map, problems, file)

    # outcomes
    f["outcome_l"] = _labels(f["outcome"])
    oid_map: dict[str, str] = {}
    for lab in f["outcome_l"].dropna().unique():
        oid = outcome_id(lab, m.outcome_names) or (lab if lab in m.outcomes else None)
        if oid is None and not m.outcomes and norm(lab):
            oid = norm(lab)
        if oid is not None:
            oid_map[lab] = oid
    f["oid"] = f["outcome_l"].map(oid_map)
    oc = roles.get("outcome")
    for _, r in _first_rows(f, f["outcome_l"].isna(), "outcome_l").iterrows():
        add(r, oc, None, "empty_outcome", "the outcome name is empty; fill in which outcome the value belongs to")
    known_o = list(m.outcomes) or list(OUTCOMES)
    for _, r in _first_rows(f, f["outcome_l"].notna() & f["oid"].isna(), "outcome_l").iterrows():
        hint = closest(r["outcome_l"], known_o + [k for ks in m.outcome_names.values() for k in ks])
        add(r, oc, r["outcome_l"], "unknown_outcome",
            f"the outcome '{r['outcome_l']}' is not one of the mapping's outcomes {known_list(known_o)}"
            f"{_rows_text(r['_n'])}" + (f"; the closest is '{hint}'" if hint else "")
            + "; correct the label or declare the outcome under outcomes: in the mapping")

    # ADaM derived records
    if "dtype" in f.columns:
        dt = _labels(f["dtype"])
        derived = dt.notna()
        for _, r in f[derived].iterrows():
            excl.append({"stage": "read", "file": file, "row": int(r["row"]), "subject_id": r["subject"],
                         "visit": _vname(r, week_map), "outcome": r["oid"], "column": "DTYPE",
                         "value": dt[_], "cells": 1, "reason": f"derived ADaM record (DTYPE={dt[_]})"})
        f = f[~derived].reset_index(drop=True)

    # values
    vals, missing, bad = _numbers(f["value"], m.missing_values)
    f["val"] = vals
    for i in np.flatnonzero(bad):
        r = f.iloc[i]
        hint = " with a point as decimal separator" if isinstance(r["value"], str) and "," in r["value"] else ""
        add(r, r["column"], r["value"], "non_numeric",
            f"the {r['oid'] or 'outcome'} value '{r['value']}' is not a number; write it as a number{hint}, or "
            "leave the cell empty if the value is missing")
    for oid in f["oid"].dropna().unique():
        out = m.outcome(oid)
        sel = (f["oid"] == oid).to_numpy() & ~missing & ~bad
        v = vals[sel]
        ok = np.ones(len(v), bool)
        if out.low is not None:
            ok &= (v > out.low) | ((v == out.low) & out.low_inclusive)
        if out.high is not None:
            ok &= (v < out.high) | ((v == out.high) & out.high_inclusive)
        idx = np.flatnonzero(sel)[~ok]
        for i in idx:
            r = f.iloc[i]
            unit = f" {out.unit}" if out.unit and out.unit != "points" else ""
            add(r, r["column"], float(vals[i]), "out_of_range",
                f"the {oid} value {vals[i]:g}{unit} is outside the valid range ({out.range_text()}{unit}); "
                f"correct the value, leave the cell empty if it is missing, or declare the scale under outcomes: "
                f"{oid}: {{low: ..., high: ...}} in the mapping")
    if missing.any():
        mf = f[missing]
        weeks = mf["week_c"].tolist()
        excl += [{"stage": "read", "file": file, "row": int(row), "subject_id": subj,
                  "visit": visit_name(w) if w is not None and w == w else None, "outcome": oid, "column": col,
                  "value": as_label(v), "cells": 1, "reason": "missing value"}
                 for row, subj, w, oid, col, v in zip(mf["row"].tolist(), mf["subject"].tolist(), weeks,
                                                      mf["oid"].tolist(), mf["column"].tolist(), mf["value"].tolist())]
    f = f[~missing].reset_index(drop=True)

    if "chg" in f.columns or "base" in f.columns:
        adam_cross_check(f, base_week, add)

    two_arms(f, arm_col, add)
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


def _vname(r: pd.Series, week_map: dict) -> str | None:
    w = r.get("week_c")
    return visit_name(w) if w is not None and w == w else None


def _arm_map(f, m: TrialMapping, problems, file, arm_col, add) -> tuple[dict[str, str], list[str]]:
    labels = list(dict.fromkeys(f["arm"].dropna()))
    resolved = {lab: arm_id(lab, m.arms) for lab in labels}
    if not m.arms and labels and all(v is None for v in resolved.values()):
        return {lab: lab for lab in labels}, labels  # the trial's own arm names, in order of appearance
    arm_map = {k: v for k, v in resolved.items() if v is not None}
    # the mapping's order first, then this trial's default order, then any other arm as it appears
    order = list(dict.fromkeys([*m.arms.values(), *DEFAULT_ARMS, *arm_map.values()]))
    listed = list(dict.fromkeys(m.arms.values())) if m.arms else list(DEFAULT_ARMS)
    known = list(m.arms) + listed if m.arms else list(dict.fromkeys(list(DEFAULT_ARMS) + list(ARM_SYNONYMS)))
    for _, r in _first_rows(f, f["arm"].notna() & ~f["arm"].isin(list(arm_map)), "arm").iterrows():
        hint = closest(r["arm"], known)
        target = arm_id(hint, m.arms) if hint else None
        add(r, arm_col, r["arm"], "unknown_arm",
            f"the arm label '{r['arm']}' is not known{_rows_text(r['_n'])}; known arms are "
            f"{known_list(listed)}" + (f"; the closest is '{hint.replace('_', ' ')}' ({target})" if hint else "")
            + "; use a known label or add it under arms: in the mapping")
    return arm_map, order


def _visits(f, m: TrialMapping, file, visit_col, week_col, add, problems) -> dict:
    f["visit_l"] = _labels(f["visit"])
    f["week_l"] = _labels(f["week"])
    lab_weeks = {lab: visit_week(lab, m.visits) for lab in f["visit_l"].dropna().unique()}
    wk_num = {}
    for lab in f["week_l"].dropna().unique():
        wk_num[lab] = float(lab) if _NUM.match(lab) else None
    lw = f["visit_l"].map(lab_weeks)
    ww = f["week_l"].map(wk_num)
    for _, r in _first_rows(f, f["week_l"].notna() & ww.isna(), "week_l").iterrows():
        add(r, week_col or "week", r["week_l"], "bad_week",
            f"the week '{r['week_l']}' is not a number{_rows_text(r['_n'])}; write the visit's week as a number "
            "such as 0 or 6")
    both = lw.notna() & ww.notna() & (lw != ww)
    for _, r in _first_rows(f.assign(_pair=f["visit_l"].astype(str) + "|" + f["week_l"].astype(str)), both, "_pair").iterrows():
        add(r, week_col, r["week_l"], "visit_week_mismatch",
            f"the visit '{r['visit_l']}' is week {lab_weeks[r['visit_l']]:g} but the week column says "
            f"{r['week_l']}{_rows_text(r['_n'])}; correct one of them, map the label under visits: in the mapping, or, if "
            f"'{week_col}' holds visit numbers rather than weeks, set columns: {{week: null}}")
    f["week_c"] = ww.where(ww.notna(), lw)
    unknown = f["visit_l"].notna() & lw.isna() & f["week_l"].isna()
    seen = [k for k, v in lab_weeks.items() if v is not None]
    for _, r in _first_rows(f, unknown, "visit_l").iterrows():
        num = re.search(r"\d+(?:\.\d+)?", r["visit_l"])
        hint = f"week {num.group()}" if num and not m.visits else closest(r["visit_l"], list(m.visits) + seen
                                                                              + ["baseline"], cutoff=0.7)
        where = f"the sheet name '{r['visit_l']}'" if visit_col is None else f"the visit label '{r['visit_l']}'"
        add(r, visit_col or "(sheet name)", r["visit_l"], "unknown_visit",
            f"{where} is not a known visit{_rows_text(r['_n'])}; known visits are "
            f"{known_list(list(m.visits) + seen if (m.visits or seen) else ['baseline', 'week 6'])}"
            + (f"; the closest is '{hint}'" if hint else "")
            + "; use a label such as 'baseline' or 'week 6', or map it to its week under visits: in the mapping")
    for _, r in _first_rows(f, f["visit_l"].isna() & f["week_l"].isna(), "subject").iterrows():
        add(r, visit_col or week_col or "visit", None, "empty_visit",
            f"the visit is empty{_rows_text(r['_n'])}; fill in which visit the row belongs to")
    weeks = {}
    for lab, w in lab_weeks.items():
        if w is not None:
            weeks[lab] = w
    return weeks


def _baseline(f, m: TrialMapping, week_map: dict, problems: Problems, file: str) -> float | None:
    present = sorted(set(f["week_c"].dropna().astype(float)))
    if m.baseline is None:
        return present[0] if present else None
    w = visit_week(m.baseline, m.visits)
    if w is None or w not in present:
        problems.add(m.source or "mapping", None, "baseline", m.baseline, "unknown_baseline",
                     f"the baseline visit '{m.baseline}' is not a visit of {file} (its visits are "
                     f"{known_list(visit_name(x) for x in present)}); name one of them as baseline")
        return present[0] if present else None
    return w


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
