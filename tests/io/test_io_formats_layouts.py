"""The same small trial in every format x layout reads to the identical canonical table."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.schema import CANONICAL_COLUMNS

import _io_minitrial as M


@pytest.mark.parametrize("fmt", M.FORMATS)
@pytest.mark.parametrize("layout", list(M.FRAMES))
def test_every_format_and_layout_reads_to_the_same_table(tmp_path, layout, fmt):
    path = M.write(M.FRAMES[layout](), tmp_path / f"trial_{layout}.{fmt}", fmt)
    trial = rs.read_trial(path, study="mini")
    pd.testing.assert_frame_equal(M.comparable(trial.data), M.expected())
    assert list(trial.data.columns[:9]) == list(CANONICAL_COLUMNS)
    assert trial.meta["layout"] == layout
    assert trial.meta["format"] == fmt
    assert (trial.data["source_file"] == path.name).all()
    # nothing lost: analysis values + excluded values == input values
    assert len(trial.data) + trial.exclusions.n_cells == M.N_INPUT_CELLS == trial.meta["input_cells"]
    assert set(trial.exclusions.frame["reason"]) == {"missing value"}
    assert trial.exclusions.n_cells == M.N_MISSING


def test_one_sheet_per_visit_workbook(tmp_path):
    path = M.write_sheets(tmp_path / "visits.xlsx")
    trial = rs.read_trial(path, study="mini")
    pd.testing.assert_frame_equal(M.comparable(trial.data), M.expected())
    assert trial.meta["layout"] == "sheets"
    assert trial.meta["sheets"] == ["Baseline", "Week 6"]
    assert len(trial.data) + trial.exclusions.n_cells == M.N_INPUT_CELLS


def test_a_dataframe_is_accepted_and_layout_detected():
    trial = rs.read_trial(M.wide_frame(), study="mini")
    pd.testing.assert_frame_equal(M.comparable(trial.data), M.expected())
    assert trial.meta["layout"] == "wide"
    assert trial.meta["format"] == "dataframe"
    # record numbers from 1
    assert trial.data.loc[trial.data["subject_id"] == "R01", "source_row"].unique().tolist() == [1]


@pytest.mark.parametrize("fmt,first_row", [("csv", 2), ("tsv", 2), ("xlsx", 2), ("parquet", 1), ("dta", 1)])
def test_source_row_is_the_row_the_user_sees(tmp_path, fmt, first_row):
    frame = M.long_frame()
    trial = rs.read_trial(M.write(frame, tmp_path / f"t.{fmt}", fmt))
    d = trial.data
    # long_frame: R01 is the first subject; its baseline pain is the first record
    r01 = d[(d["subject_id"] == "R01") & (d["visit"] == "baseline") & (d["outcome"] == "pain_nrs")]
    assert r01["source_row"].tolist() == [first_row]
    # C02 week6 tug is the last record of the file
    last = d[(d["subject_id"] == "C02") & (d["visit"] == "week6") & (d["outcome"] == "tug")]
    assert last["source_row"].tolist() == [first_row + len(frame) - 1]


def test_blank_lines_above_the_header_count_in_row_numbers(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("\n\nsubject,arm,visit,pain\nR01,retro,baseline,5\nR01,retro,week 6,\n")
    trial = rs.read_trial(path)
    assert trial.data["source_row"].tolist() == [4]
    assert trial.exclusions.frame["row"].tolist() == [5]


def test_default_study_is_the_file_stem_and_meta_is_complete(tmp_path):
    path = M.write(M.by_visit_frame(), tmp_path / "My Trial.csv", "csv")
    trial = rs.read_trial(path)
    assert trial.data["study"].unique().tolist() == ["my_trial"]
    meta = trial.meta
    assert meta["file"] == "My Trial.csv" and meta["format"] == "csv" and meta["layout"] == "by_visit"
    assert meta["columns"] == {"subject_id": "patient", "arm": "treatment", "visit": "time"}
    assert meta["outcome_columns"] == {"pain_nrs": "pain", "womac": "womac", "quad_strength": "quadriceps",
                                       "tug": "tug"}
    assert meta["covariates"] == {"age": "age", "sex": "sex"}
    assert meta["arm_map"] == {"Retro walking": "retro", "Forward walking": "forward", "Usual care": "control"}
    assert meta["baseline_visit"] == "baseline"
    assert meta["outcomes"]["pain_nrs"] == rs.OUTCOMES["pain_nrs"].to_dict()
    assert trial.baseline_visit == "baseline"


def test_adam_ignores_record_level_columns_and_logs_derived_records(tmp_path):
    frame = M.adam_frame()
    locf = frame[(frame["USUBJID"] == "R02") & (frame["AVISIT"] == "Week 6")].copy()
    locf["DTYPE"] = "LOCF"
    locf["AVAL"] = locf["BASE"]
    frame["DTYPE"] = ""
    frame = pd.concat([frame, locf], ignore_index=True)
    trial = rs.read_trial(M.write(frame, tmp_path / "adqs.csv", "csv"), study="mini")
    pd.testing.assert_frame_equal(M.comparable(trial.data), M.expected())
    assert set(trial.meta["ignored_columns"]) == {"PARAM", "ADT"}
    reasons = trial.exclusions.frame["reason"].value_counts().to_dict()
    assert reasons == {"missing value": M.N_MISSING, "derived ADaM record (DTYPE=LOCF)": 4}
    assert len(trial.data) + trial.exclusions.n_cells == len(frame) == trial.meta["input_cells"]


def test_spss_value_labels_give_the_arm(tmp_path):
    import pyreadstat

    frame = M.by_visit_frame()
    frame["treatment"] = frame["treatment"].map({"Retro walking": 1.0, "Forward walking": 2.0, "Usual care": 3.0})
    path = tmp_path / "coded.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels={
        "treatment": {1.0: "Retro walking", 2.0: "Forward walking", 3.0: "Usual care"}})
    trial = rs.read_trial(path, study="mini")
    pd.testing.assert_frame_equal(M.comparable(trial.data), M.expected())


def test_mapping_file_and_keywords_give_the_same_table(tmp_path):
    csv = tmp_path / "coded.csv"
    csv.write_text("patient,grp,when,nrs_pain,womtot\n1,A,pre,7,52\n1,A,post,4,40\n2,B,pre,6,47\n2,B,post,5,\n")
    yml = tmp_path / "coded.yaml"
    yml.write_text("layout: by_visit\ncolumns: {subject_id: patient, arm: grp, visit: when}\n"
                   "arms: {B: control, A: retro}\nvisits: {pre: 0, post: 6}\nbaseline_visit: pre\n"
                   "outcomes:\n  pain_nrs: {column: nrs_pain}\n  womac: {column: womtot, high: 100, version: custom}\n")
    a = rs.read_trial(csv, config=yml)
    b = rs.read_trial(csv, layout="by_visit", columns={"subject_id": "patient", "arm": "grp", "visit": "when"},
                      arms={"B": "control", "A": "retro"}, visits={"pre": 0, "post": 6}, baseline_visit="pre",
                      outcomes={"pain_nrs": {"column": "nrs_pain"}, "womac": {"column": "womtot", "high": 100,
                                                                                     "version": "custom"}})
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.arms == ["control", "retro"]  # the mapping's order
    assert a.visits == ["baseline", "week6"]
    assert a.meta["outcomes"]["womac"]["high"] == 100.0 and a.meta["outcomes"]["womac"]["version"] == "custom"
    assert a.exclusions.n_cells == 1 and len(a.data) == 7
    # the old key 'baseline' (now 'baseline_visit': 'baseline' names a model's mode) still reads
    yml.write_text(yml.read_text().replace("baseline_visit: pre", "baseline: pre"))
    with pytest.warns(FutureWarning, match="'baseline_visit'"):
        c = rs.read_trial(csv, config=yml)
    pd.testing.assert_frame_equal(a.data, c.data)


def test_unknown_arm_names_are_kept_in_order_of_appearance(tmp_path):
    p = tmp_path / "drug.csv"
    p.write_text("id,group,week,pain\n1,placebo,0,5\n2,drug,0,6\n1,placebo,6,4\n2,drug,6,3\n")
    trial = rs.read_trial(p)
    assert trial.arms == ["placebo", "drug"]
    assert trial.visits == ["baseline", "week6"]


def test_semicolon_csv_and_cp1252_text_are_read(tmp_path):
    p = tmp_path / "euro.csv"
    p.write_bytes("subject;arm;visit;pain;ville\nR01;retro;baseline;5;Zürich\nR01;retro;week6;3;Zürich\n"
                  .encode("cp1252"))
    trial = rs.read_trial(p)
    assert trial.data["value"].tolist() == [5.0, 3.0]
    assert trial.data["ville"].tolist() == ["Zürich", "Zürich"]
    assert trial.meta["encoding"] == "cp1252"


def test_utf16_tab_text_from_excel_is_read(tmp_path):
    p = tmp_path / "unicode.txt"
    p.write_bytes("subject\tarm\tvisit\tpain\nR01\tretro\tbaseline\t5\n".encode("utf-16"))
    trial = rs.read_trial(p)
    assert trial.data["value"].tolist() == [5.0] and trial.meta["format"] == "tsv"


def test_workbook_sheet_options(tmp_path):
    path = tmp_path / "two.xlsx"
    frame = M.by_visit_frame()
    with pd.ExcelWriter(path) as xw:
        frame.to_excel(xw, index=False, sheet_name="Data")
        frame.head(2).to_excel(xw, index=False, sheet_name="Old copy")
    with pytest.raises(rs.DataError, match=r"has 2 sheets with data; pass sheet='<name>'"):
        rs.read_trial(path)
    by_name = rs.read_trial(path, sheet="Data", study="mini")
    pd.testing.assert_frame_equal(M.comparable(by_name.data), M.expected())
    by_index = rs.read_trial(path, sheet=0, study="mini")
    pd.testing.assert_frame_equal(by_index.data, by_name.data)
    with pytest.raises(rs.DataError, match=r"no sheet 'Dat'; its sheets are \['Data', 'Old copy'\]"):
        rs.read_trial(path, sheet="Dat")


def test_sheets_mapped_to_weeks(tmp_path):
    path = tmp_path / "prepost.xlsx"
    frames = M.sheet_frames()
    with pd.ExcelWriter(path) as xw:
        frames["Baseline"].to_excel(xw, index=False, sheet_name="Pre")
        frames["Week 6"].to_excel(xw, index=False, sheet_name="Post")
        pd.DataFrame({"note": ["ignore me"]}).to_excel(xw, index=False, sheet_name="Notes")
    trial = rs.read_trial(path, layout="sheets", sheets={"Pre": 0, "Post": 6}, study="mini")
    pd.testing.assert_frame_equal(M.comparable(trial.data), M.expected())


def test_partial_arm_mapping_keeps_its_order_then_the_default(tmp_path):
    p = tmp_path / "partial.csv"
    p.write_text("id,arm,visit,pain\n1,control,baseline,5\n2,A,baseline,6\n3,FW,baseline,4\n")
    trial = rs.read_trial(p, arms={"A": "retro"})
    assert trial.arms == ["retro", "forward", "control"]
    assert trial.data["arm"].notna().all()


def test_the_canonical_table_reads_back_to_itself():
    trial = rs.read_trial(M.wide_frame(), study="mini")
    again = rs.read_trial(trial.data)
    assert again.meta["layout"] == "long"
    assert set(again.meta["ignored_columns"]) == {"source_file", "source_row"}
    pd.testing.assert_frame_equal(M.comparable(again.data), M.comparable(trial.data))


def test_sheets_layout_needs_a_workbook(tmp_path):
    path = M.write(M.by_visit_frame(), tmp_path / "bv.csv", "csv")
    with pytest.raises(rs.DataError, match=r"^bv.csv: layout='sheets' \(one sheet per visit\) needs an .xlsx"):
        rs.read_trial(path, layout="sheets")


REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "io"


def test_a_real_sas7bdat_file(tmp_path):
    # written by haven::write_sas (tests/reference/io/make_tiny_sas7bdat.R); pyreadstat cannot write sas7bdat
    sas = rs.read_trial(REFERENCE / "tiny_adam.sas7bdat")
    assert sas.meta["format"] == "sas7bdat" and sas.meta["layout"] == "adam"
    assert sas.data["subject_id"].tolist() == ["R01", "R01", "C01"]
    assert sas.data["arm"].astype(str).tolist() == ["retro", "retro", "control"]
    assert sas.data["value"].tolist() == [7.0, 4.0, 6.0]
    assert sas.data["age"].tolist() == [55.0, 55.0, 60.0]
    assert sas.data["source_row"].tolist() == [1, 2, 3]  # record numbers
    assert sas.exclusions.frame[["row", "reason"]].values.tolist() == [[4, "missing value"]]
    csv = rs.read_trial(REFERENCE / "tiny_adam.csv", study="tiny_adam")
    pd.testing.assert_frame_equal(M.comparable(csv.data), M.comparable(sas.data))
    assert csv.data["source_row"].tolist() == [2, 3, 4]  # spreadsheet rows
