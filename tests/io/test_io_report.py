"""ValidationReport: summary of what was read, problems as sentences, JSON-safe dict, HTML."""
from __future__ import annotations

import dataclasses
import json

import _io_minitrial as M
import pytest

import retrostudy as rs


def test_report_of_a_good_file(tmp_path):
    path = M.write(M.wide_frame(), tmp_path / "wide.csv", "csv")
    report = rs.validate_trial(path)
    assert report.ok and report.layout == "wide" and report.problems.empty
    assert isinstance(report.trial, rs.TrialData)
    text = report.summary()
    assert text.splitlines()[0] == "wide.csv: read as csv, layout 'wide'; study 'wide'."
    assert "7 subjects in arms retro, forward, control; visits baseline, week6 (baseline: baseline)" in text
    assert "Column roles: subject_id <- 'id', arm <- 'arm'." in text
    assert "'womac_week6' -> womac @ week6" in text
    assert "Subject-level covariates: age <- 'age', sex <- 'sex'." in text
    assert f"{M.N_INPUT_CELLS - M.N_MISSING} values read; {M.N_MISSING} left out (input values: {M.N_INPUT_CELLS})" in text
    assert f"[read] missing value: {M.N_MISSING} value(s)" in text
    counts = report.counts()
    # subjects per outcome x arm x visit: R02 missed week 6 entirely
    assert counts.loc[("pain_nrs", "retro"), "baseline"] == 3 and counts.loc[("pain_nrs", "retro"), "week6"] == 2
    assert counts.loc[("womac", "forward"), "baseline"] == 1
    d = report.to_dict()
    json.dumps(d)
    assert d["ok"] is True and d["n_rows"] == M.N_INPUT_CELLS - M.N_MISSING and d["meta"]["layout"] == "wide"
    assert "<table" in report._repr_html_()
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.ok = False


def test_report_of_a_bad_file_lists_every_problem_as_a_sentence(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("subject,arm,visit,pain\nR01,retro,baseline,12\nR01,retro,week6,x\n")
    report = rs.validate_trial(path)
    assert not report.ok and report.trial is None and report.layout == "unknown"
    lines = report.summary().splitlines()
    assert lines[0] == "bad.csv: 2 problems found."
    assert lines[1].startswith("  1. bad.csv, row 2, column 'pain': the pain_nrs value 12 is outside")
    assert lines[2].startswith("  2. bad.csv, row 3, column 'pain': the pain_nrs value 'x' is not a number")
    d = report.to_dict()
    json.dumps(d)
    assert [p["row"] for p in d["problems"]] == [2, 3]
    assert "bad.csv" in report._repr_html_()


def test_validate_accepts_a_frame_and_unreadable_paths_without_raising(tmp_path):
    assert rs.validate_trial(M.long_frame()).ok
    report = rs.validate_trial(tmp_path / "missing.xlsx")
    assert not report.ok and report.problems.loc[0, "rule"] == "no_file"
    assert report.summary().startswith("missing.xlsx: 1 problem found.")


def test_validate_still_raises_spec_error_for_a_bad_option(tmp_path):
    with pytest.raises(rs.SpecError):
        rs.validate_trial(M.long_frame(), colums={})
