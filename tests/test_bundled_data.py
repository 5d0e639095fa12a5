"""The bundled synthetic trial alghadir2019_sim: reproducible bytes, published targets, metadata.

Published targets (Alghadir et al. 2019, abstract) are checked by hand calculation with pandas on the
packaged CSV; p-values with scipy's two-sample t-test (an implementation independent of the
generator's own t distribution). Tolerances and their reasons are in data/alghadir2019_sim/PROVENANCE.md.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from retrostudy.schema import OUTCOMES

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data" / "alghadir2019_sim"
PACKAGED_CSV = ROOT / "retrostudy" / "datasets" / "alghadir2019_sim.csv"
PACKAGED_JSON = ROOT / "retrostudy" / "datasets" / "alghadir2019_sim.json"
DATA_CSV = DATA_DIR / "alghadir2019_sim.csv"
ARMS = ("retro", "forward", "control")
HEADER = ["study", "subject_id", "arm", "visit", "week", "outcome", "value", "age", "sex", "bmi"]

# published in the abstract of Alghadir et al. 2019 (typed here from the paper, not read from the generator)
PUBLISHED = {
    "n": 68, "age_mean": 55.6, "n_female": 38,
    "completion_pct": {"retro": 91, "forward": 87, "control": 82},
    "change": {("pain_nrs", "retro"): -1.8, ("pain_nrs", "control"): -1.0,
               ("womac", "retro"): -4.8, ("womac", "control"): -2.2},
    "p": {"pain_nrs": (0.01, 2), "womac": (0.008, 3)},  # (value, decimals it was reported to)
}


def _load_generator():
    spec = importlib.util.spec_from_file_location("alghadir2019_sim_generate", DATA_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen():
    return _load_generator()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.read_csv(PACKAGED_CSV, dtype={"subject_id": str, "value": float})


@pytest.fixture(scope="module")
def changes(frame) -> pd.DataFrame:
    """One row per subject x outcome: baseline, week6 (NaN for dropouts), change."""
    wide = frame.pivot(index=["subject_id", "arm", "outcome"], columns="visit", values="value").reset_index()
    wide["change"] = wide["week6"] - wide["baseline"]
    return wide


# ---------------------------------------------------------------------------------------- bytes
def test_packaged_csv_is_byte_identical_to_data_copy():
    assert PACKAGED_CSV.read_bytes() == DATA_CSV.read_bytes()


def test_regenerating_in_a_temp_dir_gives_identical_bytes(tmp_path):
    # a fresh interpreter, writing into an empty folder: no state shared with this test process
    run = subprocess.run([sys.executable, str(DATA_DIR / "generate.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    for rel in ("data/alghadir2019_sim/alghadir2019_sim.csv", "retrostudy/datasets/alghadir2019_sim.csv",
                "retrostudy/datasets/alghadir2019_sim.json", "data/alghadir2019_sim/achieved.csv",
                "data/alghadir2019_sim/PROVENANCE.md"):
        assert (tmp_path / rel).read_bytes() == (ROOT / rel).read_bytes(), f"{rel} differs from the generator"


def test_check_flag_reports_a_difference(gen, tmp_path, monkeypatch):
    assert gen.main(["--check"]) == 0
    # a changed parameter table must produce different bytes (so --check can fail)
    rows = list(csv.reader(open(DATA_DIR / "parameters.csv", newline="", encoding="utf-8")))
    for r in rows:
        if r[:3] == ["change_mean", "forward", "pain_nrs"]:
            r[3] = "-1.2"
    alt = tmp_path / "parameters.csv"
    with open(alt, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    assert gen.main(["--check", "--params", str(alt)]) == 1


def test_parameter_table_drives_the_generator(gen, tmp_path):
    """Edit one number in parameters.csv: the sample follows it (the table is the source of numbers)."""
    rows = list(csv.reader(open(DATA_DIR / "parameters.csv", newline="", encoding="utf-8")))
    for r in rows:
        if r[:3] == ["change_mean", "forward", "pain_nrs"]:
            r[3] = "-2.5"
        if r[:3] == ["n_female", "control", ""]:
            r[3] = "15"
    alt = tmp_path / "parameters.csv"
    with open(alt, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    text = gen.render_all(alt)["retrostudy/datasets/alghadir2019_sim.csv"]
    d = pd.read_csv(io.StringIO(text))
    w = d.pivot(index=["subject_id", "arm", "outcome"], columns="visit", values="value").reset_index()
    fwd = w[(w.arm == "forward") & (w.outcome == "pain_nrs")].dropna()
    assert abs((fwd.week6 - fwd.baseline).mean() - (-2.5)) <= 0.5 / len(fwd) + 1e-12
    assert d[d.arm == "control"].drop_duplicates("subject_id").sex.eq("female").sum() == 15


def test_every_parameter_has_a_source():
    with open(DATA_DIR / "parameters.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == ["parameter", "arm", "outcome", "value", "source"]
    for r in rows:
        float(r["value"])
        assert re.match(r"^(published|assumption): \S", r["source"]), r


# ---------------------------------------------------------------------------------------- format
def test_canonical_layout_and_formatting():
    raw = PACKAGED_CSV.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    lines = raw.decode("utf-8").splitlines()
    assert lines[0].split(",") == HEADER
    body = [ln.split(",") for ln in lines[1:]]
    assert len(body) == 68 * 2 * 4
    pattern = {"pain_nrs": r"\d+", "womac": r"\d+", "quad_strength": r"\d+\.\d", "tug": r"\d+\.\d\d"}
    for row in body:
        assert row[0] == "alghadir2019_sim"
        assert (row[3], row[4]) in {("baseline", "0"), ("week6", "6")}
        assert row[6] == "" or re.fullmatch(pattern[row[5]], row[6]), row
        assert re.fullmatch(r"\d+", row[7]) and row[8] in ("female", "male") and re.fullmatch(r"\d+\.\d", row[9])
    # deterministic order: arm (declared), subject, visit, outcome (declared)
    key = [(ARMS.index(r[2]), r[1], r[4], list(pattern).index(r[5])) for r in body]
    assert key == sorted(key)
    ids = sorted({r[1] for r in body})
    assert ids == sorted([f"R{i:02d}" for i in range(1, 24)] + [f"F{i:02d}" for i in range(1, 24)]
                         + [f"C{i:02d}" for i in range(1, 23)])


def test_values_within_outcome_ranges(frame):
    observed = frame.dropna(subset=["value"])
    for outcome, values in observed.groupby("outcome")["value"]:
        spec = OUTCOMES[outcome]
        bad = [v for v in values if not spec.in_range(float(v))]
        assert not bad, f"{outcome}: {bad[:5]} outside {spec.range_text()}"


def test_covariates_and_arm_constant_within_subject(frame):
    per_subject = frame.groupby("subject_id")[["arm", "age", "sex", "bmi"]].nunique()
    assert (per_subject == 1).all().all()
    assert frame.groupby("subject_id").size().eq(8).all()


def test_missing_values_are_whole_dropouts_at_week6(frame):
    missing = frame[frame["value"].isna()]
    assert set(missing["visit"]) == {"week6"}
    assert missing.groupby("subject_id").size().eq(4).all()  # all four outcomes missing together


# ---------------------------------------------------------------------------------------- targets
def test_counts_match_publication(frame):
    subjects = frame.drop_duplicates("subject_id")
    assert len(subjects) == PUBLISHED["n"]
    assert subjects["arm"].value_counts().to_dict() == {"retro": 23, "forward": 23, "control": 22}
    assert (subjects["sex"] == "female").sum() == PUBLISHED["n_female"]
    assert round(subjects["age"].mean(), 1) == PUBLISHED["age_mean"]
    complete = frame[frame.visit == "week6"].groupby("subject_id")["value"].apply(lambda v: v.notna().all())
    for arm, pct in PUBLISHED["completion_pct"].items():
        ids = subjects.loc[subjects.arm == arm, "subject_id"]
        n_done = int(complete[ids].sum())
        assert n_done == {"retro": 21, "forward": 20, "control": 18}[arm]
        assert round(100 * n_done / len(ids)) == pct


def test_mean_changes_match_publication(changes):
    for (outcome, arm), target in PUBLISHED["change"].items():
        comp = changes[(changes.outcome == outcome) & (changes.arm == arm)].dropna(subset=["week6"])
        # tolerance: a mean of whole-point changes over n completers moves in steps of 1/n
        tol = 0.5 / len(comp) + 1e-9
        achieved = comp["change"].mean()
        assert abs(achieved - target) <= tol, (outcome, arm, achieved, target)
        # near miss: counting dropouts as 'no change' (a naive ITT fill) must NOT match
        all_rand = changes[(changes.outcome == outcome) & (changes.arm == arm)]
        naive = all_rand["change"].fillna(0.0).mean()
        assert abs(naive - target) > 5 * tol


def _completer_changes(changes, outcome, arm):
    return changes[(changes.outcome == outcome) & (changes.arm == arm)].dropna(subset=["week6"])


def test_p_values_match_publication_precision(changes):
    achieved_csv = pd.read_csv(DATA_DIR / "achieved.csv", keep_default_na=False)
    for outcome, (p_pub, decimals) in PUBLISHED["p"].items():
        r = _completer_changes(changes, outcome, "retro")
        c = _completer_changes(changes, outcome, "control")
        p = stats.ttest_ind(r["change"], c["change"], equal_var=True).pvalue
        # tolerance: the paper reports p to `decimals` places; whole-point scores make p discrete
        assert round(p, decimals) == p_pub, (outcome, p)
        # the generator's own t distribution (achieved.csv) agrees with scipy to its 4 printed decimals
        row = achieved_csv[(achieved_csv.quantity == "p_retro_vs_control_change") & (achieved_csv.outcome == outcome)]
        np.testing.assert_allclose(float(row["achieved"].iloc[0]), p, atol=5e-5)
        # near miss: comparing week-6 values instead of changes gives a very different p
        p_wrong = stats.ttest_ind(r["week6"], c["week6"]).pvalue
        assert round(p_wrong, decimals) != p_pub


def test_direction_of_secondary_outcomes(changes):
    gain = {a: _completer_changes(changes, "quad_strength", a)["change"].mean() for a in ARMS}
    assert gain["retro"] > gain["control"]  # published: retro gained more strength than control
    tug = {a: _completer_changes(changes, "tug", a)["change"].mean() for a in ARMS}
    assert tug["retro"] < tug["control"]  # assumption: retro improves TUG more


# ---------------------------------------------------------------------------------------- metadata
def test_metadata_says_synthetic_and_is_complete(frame):
    meta = json.loads(PACKAGED_JSON.read_text(encoding="utf-8"))
    for field in ("id", "title", "description", "subjects", "visits", "outcomes", "synthetic",
                  "synthetic_statement", "calibrated_to", "citation", "licence", "generator", "seed", "arms",
                  "baseline_visit"):
        assert field in meta, field
    assert meta["id"] == "alghadir2019_sim"
    assert meta["synthetic"] is True
    assert "simulated" in meta["synthetic_statement"] and "not the trial's participant data" in meta[
        "synthetic_statement"]
    assert "10.1186/s12891-019-2537-9" in meta["citation"] and "2019;20:159" in meta["citation"]
    assert meta["licence"] == "CC0-1.0"
    assert meta["subjects"] == frame["subject_id"].nunique() == 68
    assert meta["arms"] == list(ARMS)
    assert meta["visits"] == [{"visit": "baseline", "week": 0.0}, {"visit": "week6", "week": 6.0}]
    assert meta["baseline_visit"] == "baseline"
    assert meta["sha256"] == hashlib.sha256(PACKAGED_CSV.read_bytes()).hexdigest()
    with open(DATA_DIR / "parameters.csv", newline="", encoding="utf-8") as fh:
        seed = next(r["value"] for r in csv.DictReader(fh) if r["parameter"] == "seed")
    assert meta["seed"] == int(float(seed))
    # outcome definitions agree with the package's outcome registry
    for spec in meta["outcomes"]:
        reg = OUTCOMES[spec["id"]]
        assert (spec["unit"], spec["direction"], spec["low_inclusive"]) == (reg.unit, reg.direction,
                                                                             reg.low_inclusive)
        assert spec["low"] == reg.low and spec["high"] == reg.high
    assert [o["id"] for o in meta["outcomes"]] == sorted(frame["outcome"].unique(), key=list(OUTCOMES).index)


def test_provenance_embeds_the_achieved_table():
    text = (DATA_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "simulated" in text.lower()
    achieved = (DATA_DIR / "achieved.csv").read_text(encoding="utf-8").splitlines()
    for line in achieved[1:]:
        assert "| " + " | ".join(line.split(",")) + " |" in text


def test_load_dataset_if_available():
    datasets = pytest.importorskip("retrostudy.datasets")
    if not hasattr(datasets, "load_dataset"):
        pytest.skip("retrostudy.datasets.load_dataset is not written yet")
    trial = datasets.load_dataset("alghadir2019_sim")
    assert trial.n_subjects == 68
    assert trial.meta.get("synthetic") is True
    assert len(trial.data) + trial.exclusions.n_cells == 68 * 2 * 4
