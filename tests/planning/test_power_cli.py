"""`retrostudy power`: the same numbers as the API, inputs from data with their sources, files, errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.cli import main

CS_ARGS = ["power", "--design", "mmrm", "--effect", "0.5", "--sd", "1", "--corr", "0.25", "--structure", "cs",
           "--retention", "1", "0.9", "0.8", "0.7"]


def test_power_prints_longpowers_example(capsys):
    assert main(CS_ARGS + ["--power", "0.8"]) == 0
    out = capsys.readouterr().out
    assert "87 experimental + 87 control = 174 randomized" in out and "n1 = 86.9918" in out


def test_power_from_a_dataset_prints_where_each_input_came_from(capsys, tmp_path):
    out_json, out_csv = tmp_path / "plan.json", tmp_path / "plan.csv"
    assert main(["power", "--design", "ancova", "--from", "alghadir2019_sim", "--outcome", "pain_nrs",
                 "--effect", "observed", "--power", "0.9", "--arms", "3", "--adjust", "dunnett",
                 "--json", str(out_json), "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    inputs = rs.planning_inputs(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
    api = rs.power_ancova(effect=abs(inputs.effect("retro")), power=0.9, arms=3, adjust="dunnett",
                          **inputs.ancova_kwargs())
    assert f"n1 = {api.n1:.4f}" in out
    assert "sd: SD of pain_nrs at week6" in out and "synthetic data" in out and "its size used" in out
    saved = json.loads(out_json.read_text())
    assert saved["result"]["table"][0]["n1"] == pytest.approx(api.n1, rel=1e-12)
    assert pd.read_csv(out_csv)["n_total_rounded"].iloc[0] == api.n_total_rounded


def test_power_curve_and_figure(capsys, tmp_path):
    fig = tmp_path / "curve.png"
    assert main(["power", "--design", "ttest", "--effect", "0.5", "--sd", "1", "--curve", "40", "140", "50",
                 "--figure", str(fig), "--csv", str(tmp_path / "c.csv")]) == 0
    curve = pd.read_csv(tmp_path / "c.csv")
    assert curve["n_total"].tolist() == [40, 90, 140]
    assert curve["power"].iloc[1] == pytest.approx(rs.power_ttest(n1=45, effect=0.5, sd=1).power, rel=1e-12)
    assert fig.stat().st_size > 1000


def test_settings_file_with_overrides(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("design: mmrm\neffect: 0.5\npower: 0.9\nsd: 1\ncorr: [[1, 0.25], [0.25, 1]]\n"
                    "retention: [1, 0.8]\ntest: t\n")
    assert main(["power", "--settings", str(plan), "--power", "0.8"]) == 0
    out = capsys.readouterr().out
    api = rs.power_mmrm(effect=0.5, power=0.8, sd=1, corr=[[1, 0.25], [0.25, 1]], retention=[1, 0.8], test="t")
    assert f"n1 = {api.n1:.4f}" in out


@pytest.mark.parametrize("text,sentence", [
    ("design: mmrm\nfoo: 1\n", "line 2: unknown setting 'foo'"),
    ("design: !!python/object:os.system {}\n", "refuses"),
    ("- a\n- b\n", "must be a mapping"),
    ("design: [unclosed\n", "not valid YAML"),
])
def test_bad_settings_files_are_one_sentence(tmp_path, capsys, text, sentence):
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    assert main(["power", "--settings", str(plan)]) == 3
    err = capsys.readouterr().err
    assert sentence in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("extra,sentence", [
    (["--power", "1.2"], "power must be between 0 and 1"),
    (["--power", "0.8", "--allocation", "0"], "allocation must be positive"),
    ([], "Give two of --n-total, --effect and --power"),
])
def test_bad_input_exits_3_with_one_sentence(capsys, extra, sentence):
    assert main(CS_ARGS + extra) == 3
    err = capsys.readouterr().err
    assert sentence in err and len(err.strip().splitlines()) == 1


def test_errors_in_a_subprocess_have_no_traceback():
    res = subprocess.run([sys.executable, "-m", "retrostudy", "power", "--design", "mmrm", "--effect", "0.5",
                          "--power", "0.8", "--sd", "1", "--corr", "1,0.9,0.1;0.9,1,0.9;0.1,0.9,1",
                          "--retention", "1", "0.9", "0.8"], capture_output=True, text=True, check=False)
    assert res.returncode == 3 and "Traceback" not in res.stderr
    assert "not positive definite" in res.stderr
    usage = subprocess.run([sys.executable, "-m", "retrostudy", "power", "--power", "x"], capture_output=True,
                           text=True, check=False)
    assert usage.returncode == 2


# ------------------------------------------------------------------------------- retrostudy simulate

def test_simulate_from_a_dataset_matches_the_api(capsys, tmp_path):
    out_csv = tmp_path / "sim.csv"
    assert main(["simulate", "--from", "alghadir2019_sim", "--outcome", "pain_nrs", "--n-sim", "8", "--seed", "3",
                 "--analysis", "ancova", "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert "8 simulated trials of 68 subjects" in out and "sd: " not in out.split("Simulation")[1]
    inputs = rs.planning_inputs(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
    model = rs.TrialModel.from_inputs(inputs)
    api = rs.simulate_power(model, n_sim=8, seed=3, analysis="ancova", progress=False).to_frame()
    saved = pd.read_csv(out_csv)
    assert saved["rejection_rate"].tolist() == pytest.approx(api["rejection_rate"].tolist())
    assert saved["mean_estimate"].iloc[0] == pytest.approx(api["mean_estimate"].iloc[0], rel=1e-12)


def test_simulate_from_settings_under_the_null(tmp_path, capsys):
    plan = tmp_path / "sim.yaml"
    plan.write_text("arms: [new, control]\nn_per_arm: [10, 10]\nvisits: [baseline, w4, w8]\n"
                    "means: [[0, 0.5, 1], [0, 0, 0]]\nsd: 1\ncorr: 0.5\nretention: [1, 0.9, 0.8]\n"
                    "dropout: mcar\nn_sim: 6\nanalysis: mmrm\n")
    assert main(["simulate", "--settings", str(plan), "--null", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "type I error" in out and "6 simulated trials of 20 subjects" in out


@pytest.mark.parametrize("extra,sentence", [
    (["--scheduler", "tcp://127.0.0.1:9"], "No Dask scheduler answered at 'tcp://127.0.0.1:9'"),
    (["--n-sim", "0"], "n_sim must be"),
    (["--effect", "big"], "--effect must be a number"),
])
def test_simulate_bad_input_exits_3(capsys, extra, sentence):
    assert main(["simulate", "--from", "alghadir2019_sim", "--outcome", "pain_nrs"] + extra) == 3
    err = capsys.readouterr().err
    assert sentence in err and len(err.strip().splitlines()) == 1


def test_simulate_needs_a_model(tmp_path, capsys):
    assert main(["simulate", "--n-sim", "5"]) == 3
    assert "--from SOURCE --outcome OUT, or a --settings file" in capsys.readouterr().err
