"""Rules that compare rows: duplicates, a subject in two arms, covariates that change, ADaM BASE/CHG.

Each function takes the cell frame built by :mod:`.checks` (columns subject, arm_c,
week_c, oid, val, row, sheet, column, ...) and an ``add(row, column, value, rule, text)``
callback that records a problem.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .cellparse import labels, numbers
from .labels import visit_name
from .mapping import TrialMapping

__all__ = ["adam_cross_check", "two_arms", "covariates", "duplicates"]


def adam_cross_check(f: pd.DataFrame, base_week: float | None, add) -> None:
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
        is_base = labels(f["ablfl"]).fillna("").str.upper().eq("Y").to_numpy()
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
    g = f.dropna(subset=["subject", "arm_c"]).drop_duplicates(["subject", "arm_c"])
    multi = g[g.duplicated("subject", keep=False)]
    for subj, grp in multi.groupby("subject", sort=False):
        a, b = grp.iloc[0], grp.iloc[1]
        add(b, arm_col, b["arm"], "two_arms",
            f"subject '{subj}' is in two arms: '{a['arm_c']}' in row {a['row']} and '{b['arm_c']}' in row "
            f"{b['row']}; correct the arm so that each subject has one")


def covariates(f: pd.DataFrame, covs: dict[str, str], add, m: TrialMapping) -> dict[str, pd.Series]:
    out = {}
    for name, col in covs.items():
        raw = f["cov:" + name]
        vals, missing, bad = numbers(raw, m.missing_values)
        numeric = not bad.any()
        labs = pd.Series(vals, index=f.index) if numeric else labels(raw).where(~missing, None)
        tmp = pd.DataFrame({"subject": f["subject"], "v": labs, "row": f["row"], "sheet": f["sheet"]})
        tmp = tmp.dropna(subset=["subject", "v"]).drop_duplicates(["subject", "v"])
        for subj, grp in tmp[tmp.duplicated("subject", keep=False)].groupby("subject", sort=False):
            a, b = grp.iloc[0], grp.iloc[1]
            fa = f"{a['v']:g}" if numeric else f"'{a['v']}'"
            fb = f"{b['v']:g}" if numeric else f"'{b['v']}'"
            add(b, col, b["v"], "covariate_changes",
                f"the covariate '{col}' changes within subject '{subj}' ({fa} in row {a['row']}, {fb} in row "
                f"{b['row']}); a subject-level covariate must be the same on every row of the subject, so correct "
                "it (or, if it is an outcome, declare it under outcomes: in the mapping)")
        first = tmp.drop_duplicates("subject").set_index("subject")["v"]
        series = f["subject"].map(first)
        out[name] = series.astype("float64") if numeric else series.astype("string")
    return out


def duplicates(f: pd.DataFrame, file: str, add) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
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
