"""Rules that compare rows: duplicates, a subject in two arms, subject ids that collide, covariates, ADaM BASE/CHG.

Each function takes the cell frame built by :mod:`.checks` (columns subject, arm_c,
week_c, oid, val, row, sheet, column, ...) and an ``add(row, column, value, rule, text)``
callback that records a problem.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from .cellparse import (
    NOT_FINITE,
    NUMBER,
    labels,
    number_hint,
    number_status,
    numbers,
    strings,
)
from .mapping import TrialMapping
from .visits import visit_name

__all__ = ["adam_cross_check", "covariates", "duplicates", "id_collisions", "two_arms"]


def adam_cross_check(f: pd.DataFrame, base_week: float | None, add) -> None:
    """CHG must equal AVAL - BASE, and BASE the subject's baseline AVAL."""
    val = f["val"]
    base = numbers(f["base"], ())[0] if "base" in f.columns else np.full(len(f), np.nan)
    chg = numbers(f["chg"], ())[0] if "chg" in f.columns else np.full(len(f), np.nan)
    tol = 1e-6 * (1 + np.abs(val.to_numpy()))
    bad = ~np.isnan(chg) & ~np.isnan(base) & (np.abs(chg - (val.to_numpy() - base)) > tol)
    for i in np.flatnonzero(bad):
        r = f.iloc[i]
        add(r, "CHG", float(chg[i]), "adam_chg",
            f"CHG is {chg[i]:g} but AVAL - BASE is {r['val'] - base[i]:g}; correct CHG, BASE or AVAL")
    if "ablfl" in f.columns:
        is_base = labels(f["ablfl"]).astype(object).fillna("").str.upper().eq("Y").to_numpy()
    else:
        is_base = (f["week_c"] == base_week).to_numpy()
    bl = f[is_base].drop_duplicates(["subject", "oid"]).set_index(["subject", "oid"])["val"]
    keyed = pd.MultiIndex.from_arrays([f["subject"], f["oid"]])
    expect = bl.reindex(keyed).to_numpy()
    bad = ~np.isnan(base) & ~np.isnan(expect) & (np.abs(base - expect) > 1e-6 * (1 + np.abs(expect)))
    for i in np.flatnonzero(bad):
        r = f.iloc[i]
        add(r, "BASE", float(base[i]), "adam_base",
            f"BASE is {base[i]:g} but the subject's baseline AVAL for {r['oid']} is {expect[i]:g}; correct BASE")


def two_arms(f: pd.DataFrame, arm_col: str, add) -> None:
    """A subject with rows in two arms."""
    g = f.dropna(subset=["subject", "arm_c"]).drop_duplicates(["subject", "arm_c"])
    multi = g[g.duplicated("subject", keep=False)]
    for subj, grp in multi.groupby("subject", sort=False):
        a, b = grp.iloc[0], grp.iloc[1]
        add(b, arm_col, b["arm"], "two_arms",
            f"subject '{subj}' is in two arms: '{a['arm_c']}' in row {a['row']} and '{b['arm_c']}' in row "
            f"{b['row']}; correct the arm so that each subject has one")


def id_collisions(f: pd.DataFrame, subj_col: str, add) -> None:
    """Subject ids that differ only by case or leading zeros (``r01``/``R01``, ``001``/``1``) are refused.

    Excel strips leading zeros from ids it takes for numbers, and case slips in when ids
    are typed: reading such ids as different subjects would split one subject in two.
    """
    subj = f["subject"]
    ids = pd.Series(subj.cat.categories.to_numpy(dtype=object) if isinstance(subj.dtype, pd.CategoricalDtype)
                    else np.asarray(subj.dropna().unique(), dtype=object), dtype=object)
    if len(ids) < 2:
        return
    keys = _id_keys(ids)
    clash = keys.duplicated(keep=False).to_numpy()
    if not clash.any():
        return
    firsts = f[f["subject"].isin(list(ids[clash]))].drop_duplicates("subject")
    firsts = firsts.set_index(firsts["subject"].astype(object))
    for _, grp in ids[clash].groupby(keys[clash].to_numpy(), sort=False):
        names = [n for n in grp if n in firsts.index]
        if len(names) < 2:
            continue
        rows = [firsts.loc[n] for n in names]
        listed = " and ".join(f"'{n}' (row {r['row']}" + (f", arm {r['arm_c']}" if r["arm_c"] == r["arm_c"] else "")
                              + ")" for n, r in zip(names, rows))
        why = "only by upper and lower case" if len({n.lower() for n in names}) == 1 else \
            "only by leading zeros (Excel drops them from ids it takes for numbers)"
        add(rows[1], subj_col, names[1], "subject_id_collision",
            f"the subject ids {listed} differ {why}, so they may be one subject written two ways; write each "
            "subject's id the same way on every row (if they are different subjects, give them ids that differ "
            "by more)")


_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def _id_keys(ids: pd.Series) -> pd.Series:
    """Ids in lower case without leading zeros in their numbers: the form two spellings of one id share."""
    arr = np.array(ids.to_numpy(dtype=object), dtype=str)
    width = arr.dtype.itemsize // 4
    if 0 < width <= 64:
        chars = arr.view(np.uint32).reshape(len(arr), width)
        digits = (chars >= 48) & (chars <= 57)
        if (chars != 0).all() and (digits == digits[0]).all():  # one layout: zeros cannot make two ids meet
            upper = (chars >= 65) & (chars <= 90)
            if not upper.any() or not ((chars >= 97) & (chars <= 122)).any():
                return pd.Series(np.arange(len(arr)))  # one case only: lower case cannot make two ids meet
            lower = np.where(upper, chars + 32, chars).astype(np.uint32)
            return pd.Series(lower.view(arr.dtype).reshape(len(arr)), dtype=object)
    return pd.Series([_ZEROS.sub("", s.lower()) if "0" in s else s.lower() for s in ids.tolist()], dtype=object)


def covariates(f: pd.DataFrame, covs: dict[str, str], add, m: TrialMapping) -> dict[str, pd.Series]:
    """Each covariate as one value per subject (float64 numbers or string labels).

    A column that changes within a subject gets one problem (with the number of subjects
    and the first example) saying which ``covariates: [...]`` to give instead; a column of
    numbers with a few cells that are not numbers gets one problem per such value.
    """
    out: dict[str, pd.Series] = {}
    changing: list[tuple[str, int, Any, str]] = []
    scodes = _codes(f["subject"])
    for name, col in covs.items():
        raw = f["cov:" + name]
        vals, status = number_status(raw, m.missing_values)
        missing, bad = status == 1, status >= 2
        n_num = int((status == NUMBER).sum())
        numeric = not bad.any()
        if bad.any() and n_num >= 2 * int(bad.sum()):  # mostly numbers: the rest are typos, not labels
            _not_numbers(f, raw, status, col, add)
            numeric = True
        if numeric:
            vcodes, vuniq = pd.factorize(np.where(status == NUMBER, vals, np.nan), use_na_sentinel=True)
        else:
            labs = labels(raw)
            vcodes = np.where(missing, -1, _codes(labs))
            vuniq = np.asarray(labs.cat.categories, dtype=object)
        valid = (scodes >= 0) & (vcodes >= 0)
        rows = np.flatnonzero(valid)
        key = scodes[rows].astype(np.int64) * (len(vuniq) + 1) + vcodes[rows]
        pair_first = rows[pd.Series(key).drop_duplicates().index.to_numpy()]  # first row of each (subject, value)
        subj_of_pair = scodes[pair_first]
        twice = pd.Series(subj_of_pair).duplicated(keep=False).to_numpy()
        if twice.any():
            multi_rows = pair_first[twice]
            first_subject = scodes[multi_rows[0]]
            a_row, b_row = [r for r in multi_rows if scodes[r] == first_subject][:2]
            a, b = f.iloc[a_row], f.iloc[b_row].copy()
            va, vb = vuniq[vcodes[a_row]], vuniq[vcodes[b_row]]
            fa, fb = (f"{va:g}", f"{vb:g}") if numeric else (f"'{va}'", f"'{vb}'")
            b["v"] = vb
            changing.append((col, int(pd.Series(subj_of_pair[twice]).nunique()), b,
                             f"({fa} in row {a['row']}, {fb} in row {b['row']})"))
        # each subject's first value, on all of the subject's rows
        n_subj: int = int(scodes.max()) + 1 if len(scodes) else 0
        first_v = np.full(n_subj + 1, -1, dtype=np.int64)
        subjects, first_pair = np.unique(subj_of_pair, return_index=True)
        first_v[subjects] = vcodes[pair_first[first_pair]]
        per_row = first_v[np.where(scodes >= 0, scodes, n_subj)]
        if numeric:
            series = pd.Series(np.where(per_row >= 0, np.asarray(vuniq, dtype=float)[np.maximum(per_row, 0)],
                                        np.nan) if len(vuniq) else np.full(len(f), np.nan), index=f.index)
            out[name] = series.astype("float64")
        else:
            out[name] = pd.Series(strings(per_row, [str(v) for v in vuniq]), index=f.index)
    steady = [c for n, c in covs.items() if c not in {x[0] for x in changing}]
    for col, n_subj, b, example in changing:
        who = f"subject '{b['subject']}'" if n_subj == 1 else f"{n_subj} subjects, e.g. subject '{b['subject']}'"
        fix = ("list the subject-level covariates to keep with covariates: [" + ", ".join(steady) + "]"
               if steady else "set covariates: [] to use none")
        add(b, col, b["v"], "covariate_changes",
            f"the column '{col}' changes within {who} {example}, so it is not a subject-level covariate; if it "
            f"is not needed, {fix} in the mapping (or --covariates); if it is an outcome, declare it under "
            "outcomes: in the mapping; if it should not change, correct it")
    return out


def _codes(col: pd.Series) -> np.ndarray:
    """Integer codes of a column's values (-1 for missing)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return np.asarray(col.cat.codes, dtype=np.int64)
    return pd.factorize(col, use_na_sentinel=True)[0].astype(np.int64)


def _not_numbers(f: pd.DataFrame, raw: pd.Series, status: np.ndarray, col: str, add) -> None:
    bad = np.flatnonzero(status >= 2)
    keys = [str(raw.iloc[i]) for i in bad]
    counts = Counter(keys)
    seen: set[str] = set()
    for i, key in zip(bad, keys):
        if key in seen:
            continue
        seen.add(key)
        r = f.iloc[i]
        n = counts[key]
        more = f" ({n} rows)" if n > 1 else ""
        what = ("is not a finite number (infinite, or too large to store)" if status[i] == NOT_FINITE
                else f"is not a number, while the column's other values are numbers{more}")
        add(r, col, raw.iloc[i], "non_numeric",
            f"the covariate value '{raw.iloc[i]}' {what}; write it as a number{number_hint(raw.iloc[i])}, or leave "
            "the cell empty (or list the code under missing_values: in the mapping) if it is missing")


def duplicates(f: pd.DataFrame, file: str, add) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Identical duplicates are kept once (and logged); different values for one cell are a problem."""
    key = ["subject", "week_c", "oid"]
    dup = f.duplicated(key, keep=False) & f["subject"].notna() & f["oid"].notna() & f["week_c"].notna()
    if not dup.any():
        return f, []
    excl, drop = [], []
    for _, grp in f[dup].groupby(key, sort=False):
        first = grp.iloc[0]
        for idx, r in grp.iloc[1:].iterrows():
            if r["val"] == first["val"]:
                drop.append(idx)
                excl.append({"stage": "read", "file": file, "row": int(r["row"]), "subject_id": r["subject"],
                             "visit": visit_name(r["week_c"]), "outcome": r["oid"], "column": r["column"],
                             "value": f"{r['val']:g}", "cells": 1,
                             "reason": f"identical duplicate of row {first['row']}"})
            else:
                add(r, r["column"], float(r["val"]), "conflicting_duplicate",
                    f"subject '{r['subject']}' has two different {r['oid']} values at {visit_name(r['week_c'])}: "
                    f"{first['val']:g} in row {first['row']} and {r['val']:g} in row {r['row']}; keep the right "
                    "one and delete the other")
    return f.drop(index=drop).reset_index(drop=True), excl
