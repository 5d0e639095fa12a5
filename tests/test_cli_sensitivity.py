"""``retrostudy sensitivity``: the table as the API computes it, tables written, --help, and bad input as one
sentence with exit 3 (2 for usage), never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.cli import build_parser, main
from retrostudy.options import CONTRAST_FAMILIES, MI_BASELINE, MI_METHODS, MI_STRATEGIES


def test_prints_the_table_as_the_api_and_writes_tables(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    out = tmp_path / "s.json"
    assert main(["sensitivity", "alghadir2019_sim", "--outcome", "pain_nrs", "--strategy", "j2r",
                 "--tables", str(out)]) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 80  # fits the terminal
    assert "SYNTHETIC DATA" in text and "J2R imputation, condmean-jackknife" in text
    ref = rs.sensitivity(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", strategy="j2r").to_frame()
    row = ref.set_index("contrast").loc["retro - control"]
    assert f"retro - control week6 {row['estimate']:.2f}" in " ".join(text.split())
    tables = json.loads(out.read_text())
    assert set(tables) == {"contrasts", "lsmeans", "intercurrent_events"}
    got = pd.DataFrame(tables["contrasts"]).set_index("contrast")
    np.testing.assert_allclose(got.loc["retro - control", "estimate"], row["estimate"], rtol=1e-12)
    assert len(tables["intercurrent_events"]) == 9  # the dropouts of the bundled trial


def test_tipping_point_and_xlsx(tmp_path, capsys):
    out = tmp_path / "t.xlsx"
    assert main(["sensitivity", "alghadir2019_sim", "--outcome", "womac", "--baseline", "none", "--strategy", "lmcf",
                 "--tipping-arm", "retro", "--deltas", "0", "2", "4", "8", "16", "--tables", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    tip = rs.tipping_point(rs.load_dataset("alghadir2019_sim"), outcome="womac", baseline="none", strategy="lmcf",
                           arm="retro", deltas=[0, 2, 4, 8, 16])
    assert f"first delta with p >= alpha {tip.tipping_delta:.4g}" in text
    assert f"interpolated {tip.tipping_delta_interpolated:.4g}" in text
    sheets = pd.read_excel(out, sheet_name=None)
    assert set(sheets) == {"contrasts", "lsmeans", "intercurrent_events", "tipping_point", "tipping"}
    assert len(sheets["tipping_point"]) == 5 * 2  # five deltas x two contrasts


def test_auto_grid_is_the_reports(capsys):
    from retrostudy.report.missing_analysis import automatic_grid, baseline_sd

    trial = rs.load_dataset("alghadir2019_sim")
    assert main(["sensitivity", "--outcome", "pain_nrs", "--deltas", "auto"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    est = rs.sensitivity(trial, outcome="pain_nrs").to_frame().set_index("contrast").loc["retro - control", "estimate"]
    grid = automatic_grid(est, baseline_sd(trial, "pain_nrs", "baseline"))
    assert len(grid) == 41 and grid[0] == 0 and grid[-1] > 0  # retro's pain is lower: shifted upwards
    assert f"{grid[-1]:.2f} retro - control" in text


@pytest.mark.parametrize("argv, words", [
    (["--strategy", "jumpto"], "unknown strategy"),
    (["--strategy", "cirr"], "did you mean 'cir'"),
    (["--method", "mice"], "unknown method"),
    (["--deltas", "0", "x"], "--deltas takes numbers"),
    (["--tipping-arm", "retro"], "--tipping-arm needs --deltas"),
    (["--workers", "2", "--scheduler", "tcp://x:1"], "not allowed with argument"),
    (["--references", "retro"], "ARM=REFERENCE"),
    (["--tables", "t.docx"], "--tables takes a file ending in"),
])
def test_usage_errors_exit_2(argv, words, capsys):
    assert main(["sensitivity", "--outcome", "pain_nrs", *argv]) == 2
    assert words in capsys.readouterr().err


def _fragile_csv(path):
    """The bundled trial with one participant of sex 'other': bootstrap samples without them cannot fit sex by
    visit."""
    d = rs.load_dataset("alghadir2019_sim").data.copy()
    d["sex"] = d["sex"].astype(str)
    d.loc[d["subject_id"] == "R01", "sex"] = "other"
    d.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("case, pattern", [
    ("unknown_subject", "The ICE table names subject NOPE, who is not in the data"),
    ("visit_after_last", "names visit 'week9', which is not a visit of the data"),
    ("two_ices", "Subject R01 has two intercurrent events in the ICE table"),
    ("reference_arm", "Reference arm 'sham' is not an arm of the data"),
    ("empty_grid", "The delta grid is empty"),
    ("bootstrap", "could not be fitted, more than the 1 allowed"),
])
def test_bad_input_is_one_sentence_exit_3_without_traceback(tmp_path, case, pattern):
    ice = tmp_path / "ice.csv"
    args = ["alghadir2019_sim", "--outcome", "pain_nrs", "--strategy", "j2r"]
    if case == "unknown_subject":
        ice.write_text("subject_id,visit\nNOPE,week6\n")
        args += ["--ice", str(ice)]
    elif case == "visit_after_last":
        ice.write_text("subject_id,visit\nR01,week9\n")
        args += ["--ice", str(ice)]
    elif case == "two_ices":
        ice.write_text("subject_id,visit\nR01,week6\nR01,week6\n")
        args += ["--ice", str(ice)]
    elif case == "reference_arm":
        args += ["--reference-arm", "sham"]
    elif case == "empty_grid":
        args += ["--deltas"]
    else:
        args = [str(_fragile_csv(tmp_path / "fragile.csv")), "--outcome", "pain_nrs", "--covariates", "sex",
                "--method", "condmean-bootstrap", "--n-samples", "20", "--seed", "3"]
    proc = subprocess.run([sys.executable, "-m", "retrostudy", "sensitivity", *args], capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"}, timeout=300, check=False)
    assert proc.returncode == 3, proc.stderr
    err = proc.stderr.strip()
    assert "Traceback" not in err and pattern in err
    assert err.count("\n") == 0 and err.startswith("retrostudy: ") and err.endswith(".")


def test_help_lists_every_choice_default_and_two_examples(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sensitivity", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for word in (*MI_STRATEGIES, *MI_METHODS, *MI_BASELINE, *CONTRAST_FAMILIES, "--workers", "--scheduler", "--seed",
                 "--n-samples", "--deltas", "--tables", "retrostudy validate SOURCE", "(default mar",
                 "(default condmean-jackknife"):
        assert word in out, word
    assert out.split("Examples:")[1].count("retrostudy sensitivity") == 2
