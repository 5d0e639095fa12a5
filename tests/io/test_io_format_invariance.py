"""Property: the same random trial written as csv, xlsx, parquet, sav and dta reads to the same canonical table.

SPSS and Stata files carry the arm and sex as numeric codes with value labels, the other
formats as text; every format carries missing values both as empty cells and as the
numeric code -99 (declared with ``missing_values: [-99]``). Nothing may depend on the
format: the tables agree except for ``source_file`` and ``source_row`` (spreadsheet rows
vs record numbers), and analysis values + excluded values = input values in each.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import retrostudy as rs

ARMS = {1: "Retro walking", 2: "Forward walking", 3: "Usual care"}
SEX = {1: "female", 2: "male"}
OUTCOMES = {"pain": (0, 10), "womac": (0, 96)}
FORMATS = ("csv", "xlsx", "parquet", "sav", "dta")


@st.composite
def trials(draw):
    n = draw(st.integers(2, 6))
    cell = st.one_of(st.none(), st.just(-99), st.integers(0, 10))
    subjects = []
    for i in range(n):
        values = {(o, w): draw(cell) for o in OUTCOMES for w in (0, 6)}
        if all(v is None or v == -99 for v in values.values()):
            values[("pain", 0)] = 5
        subjects.append({"id": f"S{i + 1:02d}", "arm": draw(st.sampled_from(list(ARMS))),
                         "sex": draw(st.sampled_from(list(SEX))), "age": draw(st.sampled_from([-99, 48, 55, 61])),
                         "values": values})
    layout = draw(st.sampled_from(["by_visit", "wide"]))
    return subjects, layout


def frame(subjects, layout, coded: bool) -> pd.DataFrame:
    """The trial as a table; ``coded``: arm and sex as numbers (with value labels), else as text."""
    rows = []
    for s in subjects:
        base = {"id": s["id"], "group": float(s["arm"]) if coded else ARMS[s["arm"]],
                "sex": float(s["sex"]) if coded else SEX[s["sex"]], "age": float(s["age"])}
        num = {k: (math.nan if v is None else float(v)) for k, v in s["values"].items()}
        if layout == "by_visit":
            rows += [{**base, "week": float(w), **{o: num[(o, w)] for o in OUTCOMES}} for w in (0, 6)]
        else:
            rows.append({**base, **{f"{o}_{w}": num[(o, w)] for o in OUTCOMES for w in (0, 6)}})
    return pd.DataFrame(rows)


def write(subjects, layout, fmt: str, folder: Path) -> Path:
    path = folder / f"trial.{fmt}"
    if fmt in ("sav", "dta"):
        import pyreadstat

        labels = {"group": ARMS, "sex": SEX}
        coded = frame(subjects, layout, coded=True)
        if fmt == "sav":
            pyreadstat.write_sav(coded, str(path), variable_value_labels={
                c: {float(k): v for k, v in m.items()} for c, m in labels.items()})
        else:
            pyreadstat.write_dta(coded, str(path), variable_value_labels=labels)
        return path
    text = frame(subjects, layout, coded=False)
    if fmt == "csv":
        text.to_csv(path, index=False)
    elif fmt == "xlsx":
        text.to_excel(path, index=False)
    else:
        text.to_parquet(path, index=False)
    return path


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trials())
def test_every_format_reads_to_the_same_canonical_table(case):
    subjects, layout = case
    n_input = len(subjects) * len(OUTCOMES) * 2
    tables = {}
    with tempfile.TemporaryDirectory() as folder:
        for fmt in FORMATS:
            trial = rs.read_trial(write(subjects, layout, fmt, Path(folder)), study="t", missing_values=[-99],
                                  arms={"Retro walking": "retro", "Forward walking": "forward",
                                        "Usual care": "control"})
            assert len(trial.data) + trial.exclusions.n_cells == n_input == trial.meta["input_cells"], fmt
            tables[fmt] = trial.data.drop(columns=["source_file", "source_row"])
    for fmt in FORMATS[1:]:
        pd.testing.assert_frame_equal(tables[fmt], tables["csv"], obj=f"{fmt} vs csv")
    data = tables["csv"]
    assert set(data["sex"].dropna()) <= set(SEX.values())  # labels, never the codes 1.0 / 2.0
    assert not (data["value"] == -99).any() and not (data["age"] == -99).any()
    observed = sum(1 for s in subjects for v in s["values"].values() if v is not None and v != -99)
    assert len(data) == observed
