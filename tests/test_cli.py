"""The command line: exit codes, one-sentence errors, and what each command prints."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import retrostudy as rs
from retrostudy.cli import main


def test_datasets_lists_the_bundled_trial_as_synthetic(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "alghadir2019_sim" in out and "yes" in out
    assert "not participant data" in out


def test_show_prints_the_canonical_table_and_the_synthetic_statement(capsys):
    assert main(["show", "alghadir2019_sim", "--rows", "3"]) == 0
    out = capsys.readouterr().out
    assert "subject_id" in out and "source_row" in out
    assert "simulated" in out.lower()
    assert "36 value(s) excluded" in out  # the dropouts' week-6 values, logged not dropped


def test_validate_bad_file_prints_every_problem_and_exits_3(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("patient,group,time,pain,womac\n1,RW,0,7,50\n1,RW,6,14,40\n2,FW,0,6,x\n2,FW,6,5,30\n")
    assert main(["validate", str(path)]) == 3
    out = capsys.readouterr().out
    assert "bad.csv, row 3, column 'pain'" in out and "14" in out
    assert "bad.csv, row 4, column 'womac'" in out


def test_data_error_in_a_subprocess_is_one_sentence_without_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("patient,group,time,pain\n1,RW,0,7\n1,RW,6,14\n")
    res = subprocess.run([sys.executable, "-m", "retrostudy", "fit", str(path), "--outcome", "pain_nrs"],
                         capture_output=True, text=True)
    assert res.returncode == 3
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("retrostudy: bad.csv, row 3, column 'pain'")
    assert len(res.stderr.strip().splitlines()) == 1


def test_unknown_dataset_or_missing_file_exits_3(capsys):
    assert main(["show", "no_such_thing.csv"]) == 3
    assert "no_such_thing.csv" in capsys.readouterr().err


def test_fit_prints_the_same_contrasts_as_the_api(capsys):
    assert main(["fit", "alghadir2019_sim", "--outcome", "pain_nrs", "--adjust", "holm"]) == 0
    out = capsys.readouterr().out
    con = rs.contrasts(rs.emmeans(rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")),
                       method="pairwise", adjust="holm").to_frame()
    row = con.set_index("contrast").loc["retro - control"]
    line = next(line for line in out.splitlines() if line.strip().startswith("retro - control"))
    printed = [float(x) for x in line.split()[4:7]]  # estimate, std_error, df
    np.testing.assert_allclose(printed, [row.estimate, row.std_error, row.df], rtol=5e-4)
    assert "holm" in out and "simulated" in out.lower()


@pytest.mark.parametrize("argv", [["fit"], ["fit", "--model", "nope", "--outcome", "x"], ["report", "--adjust", "x"]])
def test_usage_errors_exit_2(argv):
    assert main(argv) == 2


def test_report_settings_file_reaches_the_methods(tmp_path, capsys):
    settings = tmp_path / "settings.yaml"
    settings.write_text("covariance: cs\ncovariates: [age]\n")
    out = tmp_path / "r.pdf"
    assert main(["report", "alghadir2019_sim", "--outcomes", "pain_nrs", "--settings", str(settings),
                 "--out", str(out)]) == 0
    from pypdf import PdfReader

    text = " ".join(" ".join(p.extract_text() for p in PdfReader(out).pages).split())
    assert "compound symmetry (CS)" in text and "(age)" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text("colour: red\n")
    assert main(["report", "alghadir2019_sim", "--settings", str(bad), "--out", str(tmp_path / "b.pdf")]) == 3
    assert not (tmp_path / "b.pdf").exists()
    assert "colour" in capsys.readouterr().err
