"""Table 1 numbers (retrostudy.tables) against base-R reference values (tests/reference/table1)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrostudy.tables import smd_categorical, smd_continuous, table_one
from retrostudy.trial import as_trial

REF = Path(__file__).resolve().parents[1] / "reference" / "table1"


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "table1_reference.json").read_text())


@pytest.fixture(scope="module")
def t1():
    subj = pd.read_csv(REF / "subjects.csv")
    rows = []
    for r in subj.itertuples(index=False):
        for visit, week in (("baseline", 0.0), ("week6", 6.0)):
            rows.append({"subject_id": r.subject_id, "arm": r.arm, "visit": visit, "week": week, "outcome": "pain",
                         "value": r.pain if visit == "baseline" else r.pain - 1, "age": r.age, "sex": r.sex,
                         "grade": r.grade})
    frame = pd.DataFrame(rows)
    frame["arm"] = pd.Categorical(frame["arm"], categories=["retro", "forward", "control"])
    return table_one(as_trial(frame), summary="auto")


def _var(name: str) -> str:
    return "baseline:pain" if name == "pain" else name


def test_smd_matches_r(ref, t1):
    got = t1.smd.set_index(["variable", "first", "second"])["smd"]
    expect = [(_var(r["variable"]), r["first"], r["second"], r["smd"]) for r in ref["smd"]]
    assert len(expect) == 12
    mine = np.array([got[(v, a, b)] for v, a, b, _ in expect])
    theirs = np.array([e[3] for e in expect])
    np.testing.assert_allclose(mine, theirs, rtol=ref["tolerance"]["rtol"])


def test_smd_is_not_cohens_pooled_sd(ref, t1):
    """Near miss: the n-weighted pooled SD gives a visibly different SMD with unequal arms and variances."""
    got = t1.smd.set_index(["variable", "first", "second"])["smd"]
    diffs = [abs(got[(_var(r["variable"]), r["first"], r["second"])] - r["smd"]) for r in ref["near_miss_cohen_pooled_sd"]]
    assert max(diffs) > 0.01


def test_summaries_match_r(ref, t1):
    tab = t1.table.set_index(["variable", "arm"])
    for r in ref["summaries"]:
        row = tab.loc[(_var(r["variable"]), r["arm"])]
        for key in ("n", "missing", "mean", "sd", "median", "q1", "q3"):
            np.testing.assert_allclose(row[key], r[key], rtol=1e-12, err_msg=f"{r['variable']} {r['arm']} {key}")


def test_auto_summary_and_categories(t1):
    tab = t1.table
    # pain is log-normal (pooled skewness > 1) -> median [Q1, Q3]; age is symmetric -> mean (SD)
    assert set(tab.loc[tab["variable"] == "baseline:pain", "statistic"]) == {"median_iqr"}
    assert set(tab.loc[tab["variable"] == "age", "statistic"]) == {"mean_sd"}
    grade = tab.loc[(tab["variable"] == "grade") & (tab["arm"] == "retro")]
    assert grade["count"].sum() == grade["n"].iloc[0]
    np.testing.assert_allclose(grade["percent"].sum(), 100.0)


def test_binary_smd_closed_form():
    p1, p2 = 0.3, 0.6
    x = ["a"] * 7 + ["b"] * 3
    y = ["a"] * 4 + ["b"] * 6
    expect = abs(p1 - p2) / np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    assert smd_categorical(x, y) == pytest.approx(expect, rel=1e-12)
    assert smd_continuous([1, 2, 3], [1, 2, 3]) == 0.0
    assert np.isnan(smd_continuous([1.0], [2.0, 3.0]))
