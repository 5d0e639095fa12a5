"""Nothing is lost: analysis values + excluded values == input values, for random missingness and layouts."""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import retrostudy as rs

OUTCOMES = ("pain_nrs", "womac", "quad_strength", "tug")
COLS = {"pain_nrs": "pain", "womac": "womac", "quad_strength": "quad", "tug": "tug"}
CODES = {"pain_nrs": "PAIN", "womac": "WOMAC", "quad_strength": "QUAD", "tug": "TUG"}
ARMS = ("retro", "forward", "control")


def frame_for(layout: str, cells: dict, arms: dict, token) -> pd.DataFrame:
    subjects = sorted(arms)

    def val(s, w, o):
        v = cells[(s, w, o)]
        return token if v is None else v

    if layout == "long":
        return pd.DataFrame([(s, arms[s], f"week {w}", o, val(s, w, o)) for s in subjects for w in (0, 6)
                             for o in OUTCOMES], columns=["subject", "arm", "visit", "outcome", "value"])
    if layout == "adam":
        return pd.DataFrame([(s, arms[s], w, CODES[o], val(s, w, o)) for s in subjects for w in (0, 6)
                             for o in OUTCOMES], columns=["USUBJID", "TRT01P", "AVISITN", "PARAMCD", "AVAL"])
    if layout == "by_visit":
        return pd.DataFrame([(s, arms[s], w, *(val(s, w, o) for o in OUTCOMES)) for s in subjects for w in (0, 6)],
                            columns=["id", "group", "week"] + [COLS[o] for o in OUTCOMES])
    return pd.DataFrame([(s, arms[s], *(val(s, w, o) for o in OUTCOMES for w in (0, 6))) for s in subjects],
                        columns=["id", "group"] + [f"{COLS[o]}_{w}" for o in OUTCOMES for w in (0, 6)])


@st.composite
def trials(draw):
    n = draw(st.integers(1, 5))
    subjects = [f"S{i:02d}" for i in range(n)]
    arms = {s: draw(st.sampled_from(ARMS)) for s in subjects}
    cells = {}
    for s in subjects:
        for w in (0, 6):
            for o in OUTCOMES:
                missing = draw(st.booleans())
                cells[(s, w, o)] = None if missing else float(draw(st.integers(1, 9)))
    layout = draw(st.sampled_from(["long", "by_visit", "wide", "adam"]))
    sink = draw(st.sampled_from(["frame", "csv", "parquet"]))
    token = draw(st.sampled_from(["", "NA", ".", None])) if sink == "csv" else None
    return cells, arms, layout, sink, token


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trials())
def test_analysis_plus_excluded_equals_input(case):
    cells, arms, layout, sink, token = case
    frame = frame_for(layout, cells, arms, token)
    with tempfile.TemporaryDirectory() as folder:
        source = frame if sink == "frame" else Path(folder) / f"t.{sink}"
        if sink == "csv":
            frame.to_csv(source, index=False, na_rep="")
        elif sink == "parquet":
            frame.astype({c: "float64" for c in frame.columns if frame[c].map(
                lambda x: x is None or isinstance(x, float)).all()}).to_parquet(source, index=False)
        trial = rs.read_trial(source, layout=layout)
    n_input = len(cells)
    log = trial.exclusions.frame
    assert len(trial.data) + trial.exclusions.n_cells == n_input == trial.meta["input_cells"]
    assert not trial.data["value"].isna().any()
    assert set(log["reason"]) <= {"missing value"}
    assert log["row"].notna().all()
    # the analysis cells are exactly the non-missing input cells, with their values
    got = {(r.subject_id, r.week, r.outcome): r.value for r in trial.data.itertuples()}
    want = {(s, float(w), o): v for (s, w, o), v in cells.items() if v is not None}
    assert got == want
    # the excluded cells are exactly the missing ones
    excluded = {(r.subject_id, r.visit, r.outcome) for r in log.itertuples()}
    missing = {(s, "baseline" if w == 0 else "week6", o) for (s, w, o), v in cells.items() if v is None}
    assert excluded == missing
    assert all(not math.isnan(v) for v in got.values())
