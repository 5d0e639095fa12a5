"""Files that look fine but were read wrong: each is now read right or refused with a sentence (issue 12)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from test_io_bad_input import assert_names, fails, one

import retrostudy as rs


def sav(frame: pd.DataFrame, path, **kw):
    import pyreadstat

    pyreadstat.write_sav(frame, str(path), **kw)
    return path


# --- <stem>_<visit> columns ---------------------------------------------------------------------

def spss_wide(tmp_path):
    frame = pd.DataFrame({"id": ["1", "2", "3", "4"], "group": [1.0, 2.0, 1.0, 2.0], "age": [50.0, 60, 70, 65],
                          "PAIN_PRE": [7.0, 6, 5, 6], "PAIN_POST": [4.0, 5, 3, 6], "WOMAC_POST": [40.0, 50, 45, 52]})
    return sav(frame, tmp_path / "wide.sav",
               variable_value_labels={"group": {1.0: "Retro walking", 2.0: "Usual care"}})


def test_post_visit_columns_are_not_read_as_covariates(tmp_path):
    # before: PAIN_POST and WOMAC_POST became covariates and only the baseline visit was read (rc 0)
    err = fails(spss_wide(tmp_path))
    p = one(err, "unknown_visit")
    assert_names(p, "wide.sav", None, "PAIN_POST")
    assert "'PAIN_POST' and 'WOMAC_POST' look like outcome values at the visit 'post'" in p["message"]
    assert "visits: {pre: 0, post: 6}" in p["message"]


def test_post_visit_columns_read_once_the_week_is_given(tmp_path):
    trial = rs.read_trial(spss_wide(tmp_path), visits={"pre": 0, "post": 6})
    assert trial.visits == ["baseline", "week6"] and trial.outcomes == ["pain_nrs", "womac"]
    assert trial.covariates == ["age"]
    assert len(trial.data) == 12 and trial.meta["input_cells"] == 12


def test_unknown_outcome_over_visits_is_an_outcome_not_two_covariates(tmp_path):
    path = tmp_path / "sixmwt.csv"
    path.write_text("id,group,sixmwt_0,sixmwt_6,bmi_bl\n1,retro,300,350,25\n2,control,310,320,27\n")
    trial = rs.read_trial(path)
    assert trial.outcomes == ["sixmwt"] and trial.visits == ["baseline", "week6"]
    assert trial.covariates == ["bmi_bl"]  # a single <name>_<visit> column stays a subject-level covariate
    assert trial.meta["outcome_columns"] == {"sixmwt_0": "sixmwt @ 0", "sixmwt_6": "sixmwt @ 6"}


def test_unknown_outcome_with_an_unknown_visit_is_named(tmp_path):
    path = tmp_path / "prepost.csv"
    path.write_text("id,group,sixmwt_pre,sixmwt_post\n1,retro,300,350\n2,control,310,320\n")
    p = one(fails(path), "unknown_visit")
    assert_names(p, "prepost.csv", 1, "sixmwt_post")
    assert "visits:" in p["message"]


# --- one missing-value rule for every format -------------------------------------------------------

CODED = pd.DataFrame({"id": ["R1", "R1", "C1", "C1"], "group": ["retro", "retro", "control", "control"],
                      "visit": ["baseline", "week 6", "baseline", "week 6"], "pain": [7.0, -99.0, 6.0, 999.0],
                      "age": [55.0, 55.0, 999.0, 999.0]})


def write_coded(path, fmt):
    if fmt == "csv":
        CODED.to_csv(path, index=False)
    elif fmt == "xlsx":
        CODED.to_excel(path, index=False)
    elif fmt == "parquet":
        CODED.to_parquet(path, index=False)
    elif fmt == "sav":
        sav(CODED, path)
    else:
        import pyreadstat

        pyreadstat.write_dta(CODED, str(path))
    return path


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "sav", "dta"])
def test_numeric_missing_codes_mean_missing_in_every_format(tmp_path, fmt):
    # before: the codes were applied to text cells only, so 999 stayed a pain score of 999 in xlsx/parquet/sav/dta
    trial = rs.read_trial(write_coded(tmp_path / f"coded.{fmt}", fmt), missing_values=[-99, 999])
    assert trial.data["value"].tolist() == [7.0, 6.0]
    assert trial.exclusions.frame["reason"].tolist() == ["missing value", "missing value"]
    assert trial.data["age"].isna().tolist() == [False, True]
    assert len(trial.data) + trial.exclusions.n_cells == trial.meta["input_cells"] == 4


def test_missing_codes_written_as_text_or_number_in_the_mapping_agree(tmp_path):
    path = write_coded(tmp_path / "coded.xlsx", "xlsx")
    a = rs.read_trial(path, missing_values=["-99", "999.0"])
    b = rs.read_trial(path, missing_values=[-99, 999])
    pd.testing.assert_frame_equal(a.data, b.data)


def test_spss_and_stata_declared_missing_values_are_honoured(tmp_path):
    import pyreadstat

    declared = sav(CODED, tmp_path / "declared.sav", missing_ranges={"pain": [-99.0, {"lo": 900.0, "hi": 999.0}]})
    assert rs.read_trial(declared).data["value"].tolist() == [7.0, 6.0]
    stata = CODED.assign(pain=[7.0, "a", 6.0, "b"])
    pyreadstat.write_dta(stata, str(tmp_path / "declared.dta"), missing_user_values={"pain": ["a", "b"]})
    trial = rs.read_trial(tmp_path / "declared.dta")
    assert trial.data["value"].tolist() == [7.0, 6.0] and trial.exclusions.n_cells == 2


# --- value labels of covariates ------------------------------------------------------------------------

def test_value_labels_of_covariates_become_their_labels(tmp_path):
    import pyreadstat

    frame = CODED.assign(pain=[7.0, 5, 6, 6], sex=[1.0, 1, 2, 2], site=[1.0, 1, 3, 3])
    labels = {"sex": {1: "male", 2: "female"}, "site": {1: "North", 2: "East", 3: "South"}}
    sav(frame, tmp_path / "labelled.sav", variable_value_labels=labels)
    pyreadstat.write_dta(frame, str(tmp_path / "labelled.dta"), variable_value_labels=labels)
    for name in ("labelled.sav", "labelled.dta"):
        trial = rs.read_trial(tmp_path / name)
        assert trial.data["sex"].tolist() == ["male", "male", "female", "female"]
        assert trial.data["site"].tolist() == ["North", "North", "South", "South"]
        assert str(trial.data["sex"].dtype) == "string"  # a categorical covariate, as a text column is


def test_a_labelled_code_among_plain_numbers_is_a_problem(tmp_path):
    frame = CODED.assign(pain=[7.0, 5, 6, 6], age=[50.0, 50, 99, 99])
    path = sav(frame, tmp_path / "refused.sav", variable_value_labels={"age": {99.0: "Refused"}})
    p = one(fails(path), "partly_labelled")
    assert "the value 99 is labelled 'Refused'" in p["message"] and "missing_values: [99]" in p["message"]
    assert rs.read_trial(path, missing_values=[99]).data["age"].isna().sum() == 2


# --- the mapping -------------------------------------------------------------------------------------

def test_a_key_written_twice_in_the_mapping_is_refused_with_both_lines(tmp_path):
    # before: the last value silently won (a visit became week 12 instead of 6)
    cfg = tmp_path / "map.yaml"
    cfg.write_text("visits:\n  pre: 0\n  post: 6\n  post: 12\n")
    from retrostudy.io.mapping import load_mapping

    with pytest.raises(rs.DataError) as info:
        load_mapping(cfg)
    p = one(info.value, "yaml_duplicate_key")
    assert p["message"] == ("map.yaml, line 4, key 'visits.post': the key 'post' is written twice in the same place "
                            "(lines 3 and 4), and YAML would silently keep only the last one; delete or rename one "
                            "of them.")


# --- visits: signs, days, decimals, dates ------------------------------------------------------------

def test_week_minus_two_keeps_its_sign_and_is_logged_as_before_baseline(tmp_path):
    # before: 'Week -2' was read as week 2
    path = tmp_path / "screening.csv"
    path.write_text("subject,arm,visit,pain\nR1,retro,Week -2,7\nR1,retro,Week 0,6\nR1,retro,Week 6,4\n"
                    "C1,control,Week -2,6\nC1,control,Week 0,6\nC1,control,Week 6,5\n")
    trial = rs.read_trial(path)
    assert trial.meta["visit_map"]["Week -2"] == -2.0
    assert trial.visits == ["baseline", "week6"] and trial.baseline_visit == "baseline"
    log = trial.exclusions.frame
    assert log["reason"].tolist() == ["visit before the baseline"] * 2 and log["row"].tolist() == [2, 5]
    assert log["visit"].tolist() == ["week-2", "week-2"]
    assert len(trial.data) + trial.exclusions.n_cells == trial.meta["input_cells"] == 6


@pytest.mark.parametrize("label,week", [("Week -2", -2.0), ("week \u2212 2", -2.0), ("-2", -2.0), ("week-2", 2.0),
                                        ("Day 21", 3.0), ("day 0", 0.0), ("21 days", 3.0), ("week 1.5", 1.5),
                                        ("6 weeks", 6.0), ("W6", 6.0), ("post", None), ("Visit 2", None)])
def test_visit_labels(label, week):
    from retrostudy.io.visits import visit_week

    assert visit_week(label) == week


def test_day_and_decimal_week_labels_are_read(tmp_path):
    path = tmp_path / "days.csv"
    path.write_text("subject,arm,visit,pain\nR1,retro,Day 0,7\nR1,retro,week 1.5,5\nR1,retro,Day 21,6\n")
    trial = rs.read_trial(path)
    assert trial.visits == ["baseline", "week1.5", "week3"]
    assert trial.data["week"].tolist() == [0.0, 1.5, 3.0]


@pytest.mark.parametrize("cells", [["20190110", "20190221"], ["2019-01-10", "2019-02-21"], ["10/01/2019", "21/02/2019"]])
def test_dates_in_the_visit_column_are_refused_never_weeks(tmp_path, cells):
    # before: 20190110 became week 20,190,110
    path = tmp_path / "dates.csv"
    path.write_text(f"subject,arm,visit,pain\nR1,retro,{cells[0]},7\nR1,retro,{cells[1]},6\n")
    p = one(fails(path), "date_visit")
    assert_names(p, "dates.csv", 2, "visit")
    assert f"the visit column holds dates ('{cells[0]}' here, and 1 more row), not visits" in p["message"]
    assert "never turned into a week number" in p["message"] and "days since baseline / 7" in p["message"]


def test_excel_dates_in_the_visit_column_are_refused(tmp_path):
    path = tmp_path / "dates.xlsx"
    pd.DataFrame({"subject": ["R1", "R1"], "arm": ["retro", "retro"],
                  "visit": [dt.datetime(2019, 1, 10), dt.datetime(2019, 2, 21)], "pain": [7, 6]}).to_excel(path,
                                                                                                     index=False)
    p = one(fails(path), "date_visit")
    assert "('2019-01-10' here, and 1 more row)" in p["message"]


def test_excel_serial_dates_in_the_week_column_are_not_weeks(tmp_path):
    path = tmp_path / "serial.csv"
    path.write_text("subject,arm,week,pain\nR1,retro,43475,7\nR1,retro,43516,6\n")
    p = one(fails(path), "bad_week")
    assert_names(p, "serial.csv", 2, "week")
    assert "would be week 43475 (and 1 more row), more than 1000 weeks" in p["message"]


# --- absurd numbers ------------------------------------------------------------------------------------

def test_overflowing_and_infinite_numbers_are_refused(tmp_path):
    # before: 1e309 became inf and was analysed, while the text 'inf' was refused
    path = tmp_path / "huge.csv"
    path.write_text("subject,arm,visit,pain,age\nR1,retro,baseline,1e309,55\nR1,retro,week 6,inf,55\n"
                    "C1,control,baseline,5,1e309\n")
    err = fails(path)
    msgs = err.problems[err.problems["rule"] == "not_finite"]["message"].tolist()
    assert msgs[0] == ("huge.csv, row 2, column 'pain': the pain_nrs value '1e309' is not a finite number "
                       "(infinite, or too large to store); correct it, or leave the cell empty if the value is "
                       "missing.")
    assert "'inf' is not a finite number" in msgs[1]
    age = err.problems[err.problems["column"] == "age"].iloc[0]
    assert "'1e309' is not a finite number" in age["message"]


def test_every_registered_outcome_has_an_upper_bound():
    assert all(o.high is not None for o in rs.OUTCOMES.values())


def test_an_absurd_strength_is_out_of_range_and_the_bound_can_be_declared(tmp_path):
    # before: 1e308 kg passed the range check and the ANCOVA printed means of 2e307
    path = tmp_path / "kg.csv"
    path.write_text("subject,arm,visit,quad\nR1,retro,baseline,1e308\nR1,retro,week 6,250\n")
    err = fails(path)
    assert [p for p in err.messages] == [
        "kg.csv, row 2, column 'quad': the quad_strength value 1e+308 kg is outside the valid range (from 0 to "
        "200 kg); correct the value, leave the cell empty if it is missing, or declare the scale under outcomes: "
        "quad_strength: {low: ..., high: ...} in the mapping.",
        "kg.csv, row 3, column 'quad': the quad_strength value 250 kg is outside the valid range (from 0 to 200 "
        "kg); correct the value, leave the cell empty if it is missing, or declare the scale under outcomes: "
        "quad_strength: {low: ..., high: ...} in the mapping."]
    path.write_text("subject,arm,visit,quad\nR1,retro,baseline,180\nR1,retro,week 6,250\n")
    assert rs.read_trial(path, outcomes={"quad_strength": {"high": 400}}).data["value"].tolist() == [180.0, 250.0]


def test_an_unregistered_outcome_still_has_a_plausibility_bound(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("subject,arm,visit,outcome,value\nR1,retro,baseline,sixmwt,1e300\nR1,retro,week 6,sixmwt,300\n")
    p = one(fails(path), "out_of_range")
    assert "the sixmwt value 1e+300 is not plausible (its size is beyond 1e+12)" in p["message"]


# --- subject ids -----------------------------------------------------------------------------------------

def test_ids_that_differ_only_by_leading_zeros_or_case_are_refused_naming_the_rows(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("subject,arm,visit,pain\n001,retro,baseline,7\n1,retro,week 6,6\nr01,control,baseline,5\n"
                    "R01,retro,baseline,5\n")
    err = fails(path)
    zeros, case = err.problems[err.problems["rule"] == "subject_id_collision"].to_dict("records")
    assert zeros["message"].startswith("ids.csv, row 3, column 'subject': the subject ids '001' (row 2, arm retro) "
                                       "and '1' (row 3, arm retro) differ only by leading zeros")
    assert "'r01' (row 4, arm control) and 'R01' (row 5, arm retro) differ only by upper and lower case" in \
        case["message"]


def test_ids_of_one_layout_are_checked_without_a_python_loop():
    from retrostudy.io.crosschecks import _id_keys

    ids = pd.Series([f"RW-{i:05d}" for i in range(1000)] + ["rw-00007"], dtype=object)
    keys = _id_keys(ids)
    assert keys.duplicated(keep=False).sum() == 2
    assert not _id_keys(pd.Series(["R01", "R02", "R10"], dtype=object)).duplicated().any()
    assert np.array_equal(_id_keys(pd.Series(["A1", "a01"], dtype=object)).duplicated(keep=False), [True, True])
