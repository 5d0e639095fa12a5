"""The command line: exit codes, one-sentence errors, help, aliases, and what each command prints."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.cli import build_parser, main
from retrostudy.options import (
    ADJUST,
    COVARIANCES,
    DF_METHODS,
    MULTIPLICITY,
    REPORT_SETTINGS,
)


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
    out = " ".join(capsys.readouterr().out.split())
    assert "bad.csv, row 3, column 'pain'" in out and "14" in out
    assert "bad.csv, row 4, column 'womac'" in out


def test_validate_takes_a_dataset_id_like_show(capsys):
    assert main(["validate", "retro_replication_sim"]) == 0
    out = capsys.readouterr().out
    assert "Bundled dataset retro_replication_sim" in out
    assert "outcomes pain_nrs, womac, quad_strength, tug" in " ".join(out.split())
    assert main(["validate", "alghadir2019"]) == 3  # an unknown id: the loader's sentence with the closest id
    assert "did you mean 'alghadir2019_sim'" in capsys.readouterr().err


def test_data_error_in_a_subprocess_is_one_sentence_without_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("patient,group,time,pain\n1,RW,0,7\n1,RW,6,14\n")
    res = subprocess.run([sys.executable, "-m", "retrostudy", "fit", str(path), "--outcome", "pain_nrs"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 3
    assert "Traceback" not in res.stderr
    assert res.stderr.startswith("retrostudy: bad.csv, row 3, column 'pain'")
    assert len(res.stderr.strip().splitlines()) == 1


def test_unknown_dataset_or_missing_file_exits_3(capsys):
    assert main(["show", "no_such_thing.csv"]) == 3
    assert "no_such_thing.csv" in capsys.readouterr().err


def test_fit_prints_n_contrasts_as_the_api_and_effect_sizes(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")  # one line per contrast
    assert main(["fit", "alghadir2019_sim", "--outcome", "pain_nrs"]) == 0  # default adjust: holm, as report
    out = capsys.readouterr().out
    fit = rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
    con = rs.contrasts(rs.emmeans(fit), family="pairwise", adjust="holm").to_frame().set_index("contrast")
    raw = rs.contrasts(rs.emmeans(fit), family="pairwise", adjust="none").to_frame().set_index("contrast")
    line = next(line for line in out.splitlines() if line.strip().startswith("retro - control")
                and "week6" in line and len(line.split()) > 8)
    printed = [float(x) for x in line.split()[4:11]]  # estimate, se, df, t, p, p_adjusted, conf_low
    r, h = raw.loc["retro - control"], con.loc["retro - control"]
    np.testing.assert_allclose(printed[:3], [r.estimate, r.std_error, r.df], atol=5e-3)  # printed to 2 decimals
    np.testing.assert_allclose(printed[5], h.p_adjusted, atol=5e-4)  # Holm p ...
    np.testing.assert_allclose(printed[6], r.conf_low, atol=5e-3)  # ... next to the unadjusted interval
    assert abs(printed[6] - h.conf_low) > 5e-3  # near miss: not the Bonferroni interval emmeans pairs with Holm
    assert "n: 59 participants, 59 observations analysed (retro 21, forward 20, control 18) of 68" in \
        " ".join(out.split())
    assert "Effect sizes (Hedges' g" in out and "simulated" in out.lower()
    emm_block = out.split("Estimated marginal means")[1].split("Contrasts")[0]
    assert "p_value" not in emm_block and "statistic" not in emm_block  # no test that a mean is 0


def test_fit_accepts_aliases_and_prints_kr_df_with_one_decimal(capsys):
    assert main(["fit", "--outcome", "pain_nrs", "--model", "mmrm", "--df-method", "KR", "--covariance",
                 "toeplitz"]) == 0
    out = capsys.readouterr().out
    assert "df: kenward-roger" in out
    emm_block = out.split("Estimated marginal means")[1].split("Contrasts")[0]
    dfs = [tok for line in emm_block.splitlines()[2:] for tok in line.split()[4:5]]
    assert dfs and all(len(d.split(".")[1]) == 1 for d in dfs)  # 55.0, not 55.0001


@pytest.mark.parametrize("argv, words", [
    (["fit"], "required"),
    (["fit", "--model", "nope", "--outcome", "x"], "unknown model"),
    (["fit", "--outcome", "x", "--df-method", "kenward"], "did you mean 'kenward-roger'"),
    (["fit", "--outcome", "x", "--covariance", "toeplits"], "did you mean 'toep'"),
    (["report", "--adjust", "x"], "unknown adjust"),
    (["report", "--multiplicity", "holmes"], "did you mean 'holm'"),
    (["report", "--out", "x.html"], "must end in .pdf"),
    (["report", "--tables", "x.docx"], ".csv, .json, .xlsx"),
])
def test_usage_errors_exit_2_with_a_hint(argv, words, capsys):
    assert main(argv) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("command", ["datasets", "validate", "show", "fit", "report", "sensitivity"])
def test_every_help_lists_choices_defaults_and_two_examples(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    examples = out.split("Examples:")[1]
    assert examples.count("retrostudy ") == 2
    assert "\u2026" not in out
    if command in ("fit", "report"):
        for word in ADJUST:
            assert word in out
        assert "retrostudy validate SOURCE" in out  # how to list outcome ids
        assert "(default" in out
    if command == "fit":
        for word in (*COVARIANCES, *DF_METHODS, "ancova", "mmrm", "lmm", "pairwise", "trt_vs_ref", "kr"):
            assert word in out
    if command == "report":
        from retrostudy.options import SENSITIVITY_SETTINGS

        for word in (*MULTIPLICITY, *REPORT_SETTINGS, *SENSITIVITY_SETTINGS):
            assert word in out
    if command == "validate":
        for word in ("layout", "columns", "arms", "visits", "baseline", "outcomes", "covariates", "missing_values"):
            assert word in out


def test_main_help_documents_every_mapping_and_settings_key(capsys):
    from retrostudy.io.mapping import MAPPING_KEYS, OUTCOME_KEYS

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for key in (*MAPPING_KEYS, *OUTCOME_KEYS, *REPORT_SETTINGS):
        assert key in out, key


def test_output_fits_the_terminal_width(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "72")
    assert main(["fit", "--outcome", "tug", "--model", "mmrm"]) == 0
    assert main(["show", "alghadir2019_sim", "--rows", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 72


def test_report_prints_the_primary_results_and_writes_tables(tmp_path, capsys):
    out = tmp_path / "r.pdf"
    assert main(["report", "alghadir2019_sim", "--outcomes", "pain_nrs", "tug", "--out", str(out),
                 "--tables", str(tmp_path / "t.json"), "--date", "2024-01-02"]) == 0
    text = capsys.readouterr().out
    assert "sha256" not in text and "SYNTHETIC DATA" in text
    assert "Pain (NRS)" in text and "retro vs control" in text and "p adj." in text
    assert "Timed up-and-go" not in text  # exploratory: not in the primary summary
    manifest = json.loads((tmp_path / "r.manifest.json").read_text())
    assert manifest["timestamp"]["date"] == "2024-01-02" and manifest["spec"]["primary_outcomes"] == ["pain_nrs"]
    tables = json.loads((tmp_path / "t.json").read_text())
    assert {"emmeans", "contrasts", "effect_sizes", "responders", "responder_rates"} <= set(tables)
    con = pd.DataFrame(tables["contrasts"])
    row = con.query("outcome == 'pain_nrs' and model == 'mmrm' and contrast == 'retro - control' "
                    "and visit == 'week6'").iloc[0]
    fit = rs.fit_mmrm(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", baseline="constrained",
                      df_method="kenward-roger")  # the report's default primary analysis (cLDA)
    ref = rs.contrasts(rs.emmeans(fit), family="pairwise").to_frame().set_index("contrast").loc["retro - control"]
    np.testing.assert_allclose(row["estimate"], ref["estimate"], rtol=1e-10)  # tidy sign: first minus second


def test_fit_tables_as_csv_and_xlsx(tmp_path, capsys):
    assert main(["fit", "--outcome", "pain_nrs", "--tables", str(tmp_path / "f.csv")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f-coefficients.csv", "f-contrasts.csv",
                                                         "f-effect_sizes.csv", "f-emmeans.csv"]
    assert main(["fit", "--outcome", "pain_nrs", "--tables", str(tmp_path / "f.xlsx")]) == 0
    sheets = pd.read_excel(tmp_path / "f.xlsx", sheet_name=None)
    assert set(sheets) == {"emmeans", "contrasts", "effect_sizes", "coefficients"}
    assert len(sheets["contrasts"]) == 3


def test_report_settings_file_reaches_the_methods(tmp_path, capsys):
    settings = tmp_path / "settings.yaml"
    settings.write_text("covariance: cs\ncovariates: [age]\n")
    out = tmp_path / "r.pdf"
    assert main(["report", "alghadir2019_sim", "--outcomes", "pain_nrs", "--settings", str(settings),
                 "--out", str(out)]) == 0
    from pypdf import PdfReader

    text = " ".join(" ".join(p.extract_text() for p in PdfReader(out).pages).split())
    assert "compound symmetry (CS)" in text and "age as main effects" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text("covariace: cs\n")
    assert main(["report", "alghadir2019_sim", "--settings", str(bad), "--out", str(tmp_path / "b.pdf")]) == 3
    assert not (tmp_path / "b.pdf").exists()
    assert "did you mean 'covariance'" in capsys.readouterr().err
