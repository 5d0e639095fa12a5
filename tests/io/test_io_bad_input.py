"""Every bad-input rule: one DataError whose message names the file, the row and the column."""
from __future__ import annotations

import re
import zipfile

import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.errors import PROBLEM_COLUMNS

HEADER = "subject,arm,visit,pain,quad,tug,age\n"
GOOD = ["R01,retro,baseline,6,20.5,11.2,55", "R01,retro,week6,4,21.0,10.8,55",
        "C01,control,baseline,7,19.0,12.0,60", "C01,control,week6,7,19.5,12.1,60"]


def csv(tmp_path, lines, name="trial.csv", header=HEADER):
    path = tmp_path / name
    path.write_text(header + "\n".join(lines) + "\n")
    return path


def fails(path, **kw) -> rs.DataError:
    with pytest.raises(rs.DataError) as info:
        rs.read_trial(path, **kw)
    err = info.value
    assert list(err.problems.columns) == list(PROBLEM_COLUMNS)
    report = rs.validate_trial(path, **kw)  # the same problems, without raising
    assert not report.ok and report.trial is None
    assert report.problems["message"].tolist() == err.problems["message"].tolist()
    return err


def one(err: rs.DataError, rule: str) -> pd.Series:
    hits = err.problems[err.problems["rule"] == rule]
    assert len(hits) >= 1, err.problems[["rule", "message"]].to_string()
    return hits.iloc[0]


def assert_names(p: pd.Series, file: str, row: int | None, column: str | None) -> None:
    msg = p["message"]
    assert msg.startswith(file), msg
    assert p["file"] == file
    if row is not None:
        assert f"row {row}" in msg and p["row"] == row, msg
    if column is not None:
        assert f"column '{column}'" in msg and p["column"] == column, msg
    # one sentence: no sentence break inside
    assert msg.endswith(".") and not re.search(r"\. [A-Z]", msg[:-1]), msg


# --- files that cannot be read ---------------------------------------------------------------

def test_png_named_csv(tmp_path):
    path = tmp_path / "trial.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    p = one(fails(path), "file_type")
    assert_names(p, "trial.csv", None, None)
    assert "PNG image" in p["message"]


def test_csv_named_xlsx(tmp_path):
    path = csv(tmp_path, GOOD, name="trial.xlsx")
    p = one(fails(path), "file_type")
    assert_names(p, "trial.xlsx", None, None)
    assert "rename it to trial.csv" in p["message"]


def test_text_named_sas7bdat_and_damaged_sas7bdat(tmp_path):
    # pyreadstat cannot write sas7bdat; the reader is tested through its error paths
    text = csv(tmp_path, GOOD, name="trial.sas7bdat")
    assert "SAS data set" in one(fails(text), "file_type")["message"]
    damaged = tmp_path / "damaged.sas7bdat"
    damaged.write_bytes(b"\x00" * 12 + bytes.fromhex("c2ea8160b31411cfbd92080009c7318c181f1011") + b"\x00" * 100)
    p = one(fails(damaged), "unreadable")
    assert_names(p, "damaged.sas7bdat", None, None)
    assert "cannot be read" in p["message"]


def test_damaged_workbook(tmp_path):
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", "<not really a workbook")
    p = one(fails(path), "unreadable")
    assert_names(p, "broken.xlsx", None, None)


def test_empty_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("\n  \n")
    assert_names(one(fails(empty), "empty_file"), "empty.csv", None, None)
    header_only = csv(tmp_path, [], name="header.csv")
    p = one(fails(header_only), "header_only")
    assert_names(p, "header.csv", 1, None)


def test_missing_path_and_folder(tmp_path):
    p = one(fails(tmp_path / "nope.csv"), "no_file")
    assert_names(p, "nope.csv", None, None)
    folder = tmp_path / "data.csv"
    folder.mkdir()
    assert "folder" in one(fails(folder), "not_a_file")["message"]


# --- columns ------------------------------------------------------------------------------------

def test_missing_required_column(tmp_path):
    path = csv(tmp_path, ["R01,baseline,6", "R01,week6,4"], header="subject,visit,pain\n")
    p = one(fails(path), "missing_column")
    assert_names(p, "trial.csv", 1, "arm")
    assert "columns: {arm: <name>}" in p["message"]


def test_mapping_names_a_column_that_is_absent(tmp_path):
    path = csv(tmp_path, GOOD)
    p = one(fails(path, columns={"arm": "group"}), "missing_column")
    assert_names(p, "trial.csv", 1, "group")


def test_duplicated_column_names(tmp_path):
    path = csv(tmp_path, ["R01,retro,baseline,6,7"], header="subject,arm,visit,pain,pain\n")
    p = one(fails(path), "duplicate_column")
    assert_names(p, "trial.csv", 1, "pain")
    assert "columns 4 'pain' and 5 'pain'" in p["message"]


def test_unnamed_column_with_values(tmp_path):
    path = csv(tmp_path, ["R01,retro,baseline,6,x"], header="subject,arm,visit,pain,\n")
    assert_names(one(fails(path), "unnamed_column"), "trial.csv", 1, "column 5")


def test_ambiguous_layout_says_which_option_to_pass(tmp_path):
    path = csv(tmp_path, ["R01,retro,baseline,pain,6,5"], header="subject,arm,visit,outcome,value,womac\n")
    p = one(fails(path), "ambiguous_layout")
    assert "layout='long'" in p["message"] and "layout='by_visit'" in p["message"]
    trial = rs.read_trial(path, layout="long", covariates=[])
    assert trial.data["value"].tolist() == [6.0]


def test_unrecognised_layout(tmp_path):
    path = csv(tmp_path, ["1,2,3"], header="a,b,c\n")
    p = one(fails(path), "unknown_layout")
    assert "layout=" in p["message"] and "'a', 'b' and 'c'" in p["message"]


# --- labels -------------------------------------------------------------------------------------

def test_unknown_arm_lists_known_and_suggests_closest(tmp_path):
    path = csv(tmp_path, GOOD + ["R02,Retro walkng,baseline,5,20,11,50", "R02,Retro walkng,week6,4,20,11,50"])
    err = fails(path)
    p = one(err, "unknown_arm")
    assert_names(p, "trial.csv", 6, "arm")
    assert "'Retro walkng'" in p["message"] and "(2 rows)" in p["message"]
    assert "known arms are 'retro', 'forward' and 'control'" in p["message"]
    assert "closest is 'retro walking' (retro)" in p["message"]
    assert len(err.problems) == 1  # one problem per distinct label, not per row


def test_unknown_arm_with_mapping(tmp_path):
    path = csv(tmp_path, ["1,A,baseline,5,,,", "2,B,baseline,5,,,", "3,C,baseline,5,,,"])
    p = one(fails(path, arms={"A": "retro", "B": "control"}), "unknown_arm")
    assert_names(p, "trial.csv", 4, "arm")
    assert "'C'" in p["message"] and "'retro' and 'control'" in p["message"]


def test_unknown_visit_lists_known_and_suggests_closest(tmp_path):
    path = csv(tmp_path, GOOD + ["C01,control,wek 12,7,19,12,60"])
    p = one(fails(path), "unknown_visit")
    assert_names(p, "trial.csv", 6, "visit")
    assert "'wek 12'" in p["message"] and "'baseline'" in p["message"] and "visits:" in p["message"]


def test_visit_and_week_disagree(tmp_path):
    path = csv(tmp_path, ["R01,retro,baseline,0,6", "R01,retro,week 6,12,4"], header="subject,arm,visit,week,pain\n")
    p = one(fails(path), "visit_week_mismatch")
    assert_names(p, "trial.csv", 3, "week")


# --- values -------------------------------------------------------------------------------------

def test_value_outside_range(tmp_path):
    path = csv(tmp_path, GOOD[:1] + ["R01,retro,week6,14,21.0,10.8,55"] + GOOD[2:])
    p = one(fails(path), "out_of_range")
    assert_names(p, "trial.csv", 3, "pain")
    assert "value 14 is outside the valid range (from 0 to 10)" in p["message"]
    assert p["value"] == 14.0


def test_declared_range_accepts_the_value(tmp_path):
    path = csv(tmp_path, GOOD[:1] + ["R01,retro,week6,14,21.0,10.8,55"] + GOOD[2:])
    trial = rs.read_trial(path, outcomes={"pain_nrs": {"high": 100}})
    assert 14.0 in trial.data["value"].tolist()


def test_negative_strength_and_zero_tug(tmp_path):
    path = csv(tmp_path, GOOD[:1] + ["R01,retro,week6,4,-3,0,55"] + GOOD[2:])
    err = fails(path)
    msgs = err.problems.set_index("column")["message"]
    assert_names(err.problems[err.problems["column"] == "quad"].iloc[0], "trial.csv", 3, "quad")
    assert "quad_strength value -3 kg is outside the valid range (from 0 to 200 kg)" in msgs["quad"]
    assert_names(err.problems[err.problems["column"] == "tug"].iloc[0], "trial.csv", 3, "tug")
    assert "tug value 0 s is outside the valid range (above 0 and at most 300 s)" in msgs["tug"]
    assert "(1 more problem;" in str(err)


def test_non_numeric_value(tmp_path):
    path = csv(tmp_path, GOOD[:1] + ["R01,retro,week6,4,21;5,10.8,55", "R02,retro,baseline,5,2,3,55"])
    p = one(fails(path), "non_numeric")
    assert_names(p, "trial.csv", 3, "quad")
    assert "'21;5' is not a number" in p["message"]
    dec = csv(tmp_path, ['R01,retro,week6,"6,5",20,10,55'], name="comma.csv")
    assert "decimal separator" in one(fails(dec), "non_numeric")["message"]


def test_conflicting_duplicate_shows_both_rows(tmp_path):
    path = csv(tmp_path, GOOD + ["C01,control,week6,6,19.5,12.1,60"])
    p = one(fails(path), "conflicting_duplicate")
    assert_names(p, "trial.csv", 6, "pain")
    assert "7 in row 5 and 6 in row 6" in p["message"]


def test_identical_duplicates_are_collapsed_and_logged(tmp_path):
    path = csv(tmp_path, GOOD + [GOOD[3]])
    trial = rs.read_trial(path)
    assert len(trial.data) == 12
    log = trial.exclusions.frame
    assert log["reason"].tolist() == ["identical duplicate of row 5"] * 3
    assert log["row"].tolist() == [6, 6, 6]
    assert len(trial.data) + trial.exclusions.n_cells == trial.meta["input_cells"] == 15


def test_subject_in_two_arms(tmp_path):
    path = csv(tmp_path, GOOD[:1] + ["R01,control,week6,4,21.0,10.8,55"] + GOOD[2:])
    p = one(fails(path), "two_arms")
    assert_names(p, "trial.csv", 3, "arm")
    assert "'retro' in row 2 and 'control' in row 3" in p["message"]


def test_covariate_changes_within_subject(tmp_path):
    path = csv(tmp_path, GOOD[:1] + ["R01,retro,week6,4,21.0,10.8,56"] + GOOD[2:])
    p = one(fails(path), "covariate_changes")
    assert_names(p, "trial.csv", 3, "age")
    assert "(55 in row 2, 56 in row 3)" in p["message"]


def test_empty_subject_id(tmp_path):
    path = csv(tmp_path, GOOD + [",control,week6,6,19.5,12.1,60"])
    p = one(fails(path), "empty_subject_id")
    assert_names(p, "trial.csv", 6, "subject")


def test_empty_arm_is_filled_from_the_subject_or_reported(tmp_path):
    filled = rs.read_trial(csv(tmp_path, GOOD[:1] + ["R01,,week6,4,21.0,10.8,55"]))
    assert filled.data["arm"].unique().tolist() == ["retro"]
    p = one(fails(csv(tmp_path, GOOD + ["X01,,week6,4,21.0,10.8,55"], name="b.csv")), "empty_arm")
    assert_names(p, "b.csv", 6, "arm")


def test_adam_chg_and_base_are_cross_checked(tmp_path):
    header = "USUBJID,TRT01P,AVISIT,AVISITN,PARAMCD,AVAL,BASE,CHG\n"
    rows = ["S1,RW,Baseline,0,PAIN,7,7,0", "S1,RW,Week 6,6,PAIN,4,7,-2", "S2,UC,Baseline,0,PAIN,6,6,0",
            "S2,UC,Week 6,6,PAIN,5,7,-2"]
    err = fails(csv(tmp_path, rows, name="adqs.csv", header=header))
    assert_names(one(err, "adam_chg"), "adqs.csv", 3, "CHG")
    assert "AVAL - BASE is -3" in one(err, "adam_chg")["message"]
    assert_names(one(err, "adam_base"), "adqs.csv", 5, "BASE")


def test_every_problem_is_collected_and_the_rest_counted(tmp_path):
    path = csv(tmp_path, ["R01,retro,baseline,16,20,11,55", "R01,retro,week6,x,20,0,55",
                          ",retro,week6,4,20,11,55", "F01,fw,baseline,5,-1,11,50"])
    err = fails(path)
    assert set(err.problems["rule"]) == {"out_of_range", "non_numeric", "empty_subject_id"}
    assert len(err.problems) == 5  # 16, 'x', TUG 0, empty id, strength -1
    assert str(err).startswith("trial.csv, row 2, column 'pain':")
    assert str(err).endswith("(4 more problems; see .problems or `retrostudy validate`)")


def test_xlsx_problem_names_the_sheet_and_spreadsheet_row(tmp_path):
    frame = pd.DataFrame({"subject": ["R01", "R01"], "arm": ["retro", "retro"], "visit": ["baseline", "week6"],
                          "pain": [5, 11]})
    path = tmp_path / "book.xlsx"
    frame.to_excel(path, index=False, sheet_name="Pain data")
    p = one(fails(path), "out_of_range")
    assert p["message"].startswith("book.xlsx, sheet 'Pain data', row 3, column 'pain':")


def test_week_that_is_not_a_number(tmp_path):
    path = csv(tmp_path, ["R01,retro,0,6", "R01,retro,six,4"], header="subject,arm,week,pain\n")
    p = one(fails(path), "bad_week")
    assert_names(p, "trial.csv", 3, "week")


def test_unknown_outcome_when_the_mapping_declares_outcomes(tmp_path):
    path = csv(tmp_path, ["R01,retro,baseline,pian,6", "R01,retro,baseline,womac,40"],
               header="subject,arm,visit,outcome,value\n")
    p = one(fails(path, outcomes={"pain_nrs": {}, "womac": {}}), "unknown_outcome")
    assert_names(p, "trial.csv", 2, "outcome")
    assert "closest is 'pain_nrs'" in p["message"]


def test_declared_baseline_must_be_a_visit(tmp_path):
    path = csv(tmp_path, GOOD)
    err = fails(path, baseline_visit="week 2")
    p = one(err, "unknown_baseline")
    assert "'week 2' is not a visit of trial.csv" in p["message"] and "'baseline' and 'week6'" in p["message"]
