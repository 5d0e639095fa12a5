"""The bundled synthetic replication retro_replication_sim: reproducible bytes, documented design, MAR dropout.

The dataset is a plain random sample from a planning model (see data/retro_replication_sim/PROVENANCE.md),
so its figures are checked against what PROVENANCE.md states with independent code: pandas on the packaged
CSV for counts and patterns, a statsmodels logistic regression for the dropout mechanism (the generator
refits it with its own Newton iteration), statsmodels OLS on the generator's full courses for the answer
"had nobody left". The committed sample is fixed, so the MAR-versus-complete-case checks assert what it
shows; how often a sample from this design shows it is in PROVENANCE.md (design expectation).
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
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

import retrostudy as rs
from retrostudy.cli import main
from retrostudy.schema import OUTCOMES

ID = "retro_replication_sim"
ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data" / ID
PACKAGED_CSV = ROOT / "retrostudy" / "datasets" / f"{ID}.csv"
PACKAGED_JSON = ROOT / "retrostudy" / "datasets" / f"{ID}.json"
DATA_CSV = DATA_DIR / f"{ID}.csv"
ARMS = ("retro", "forward", "control")
VISITS = {"baseline": 0, "week2": 2, "week4": 4, "week6": 6}
OUTCOME_IDS = ("pain_nrs", "womac", "quad_strength", "tug")
HEADER = ["study", "subject_id", "arm", "visit", "week", "outcome", "value", "age", "sex", "bmi"]
N_PER_ARM = 50
BETA = 0.8  # dropout log-odds per point of last recorded pain, as built in (parameters.csv)


def _load_generator():
    spec = importlib.util.spec_from_file_location(f"{ID}_generate", DATA_DIR / "generate.py")
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
def meta() -> dict:
    return json.loads(PACKAGED_JSON.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def seen(frame) -> pd.DataFrame:
    """subject x visit: True where the visit's values are recorded (all four outcomes together)."""
    rec = frame.assign(rec=frame["value"].notna()).pivot_table(index=["subject_id", "arm"], columns="visit",
                                                               values="rec", aggfunc="sum")
    return rec[list(VISITS)].reset_index().set_index("subject_id")


@pytest.fixture(scope="module")
def trial():
    return rs.load_dataset(ID)


@pytest.fixture(scope="module")
def achieved() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "achieved.csv", keep_default_na=False)


def _achieved(achieved, quantity, arm="", outcome="") -> float:
    row = achieved[(achieved.quantity == quantity) & (achieved.arm == arm) & (achieved.outcome == outcome)]
    assert len(row) == 1, (quantity, arm, outcome)
    return float(row["achieved"].iloc[0])


# ---------------------------------------------------------------------------------------- bytes
def test_packaged_csv_is_byte_identical_to_data_copy():
    assert PACKAGED_CSV.read_bytes() == DATA_CSV.read_bytes()


def test_regenerating_in_a_fresh_process_gives_identical_bytes(tmp_path):
    run = subprocess.run([sys.executable, str(DATA_DIR / "generate.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    for rel in (f"data/{ID}/{ID}.csv", f"retrostudy/datasets/{ID}.csv", f"retrostudy/datasets/{ID}.json",
                f"data/{ID}/achieved.csv", f"data/{ID}/PROVENANCE.md"):
        assert (tmp_path / rel).read_bytes() == (ROOT / rel).read_bytes(), f"{rel} differs from the generator"


def _edited_params(tmp_path, edits: dict) -> Path:
    with open(DATA_DIR / "parameters.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for r in rows:
        if tuple(r[:3]) in edits:
            r[3] = edits[tuple(r[:3])]
    alt = tmp_path / "parameters.csv"
    with open(alt, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return alt


def test_check_flag_reports_a_difference(gen, tmp_path):
    assert gen.main(["--check"]) == 0
    alt = _edited_params(tmp_path, {("dropout_hazard_ref", "control", ""): "0.2"})
    assert gen.main(["--check", "--params", str(alt)]) == 1


def test_parameter_table_drives_the_generator(gen, tmp_path):
    """Edit numbers in parameters.csv: the sample follows them (the table is the source of numbers)."""
    alt = _edited_params(tmp_path, {("n_randomized", "control", ""): "30", ("n_missed_visits", "", ""): "3",
                                    ("dropout_hazard_ref", "retro", ""): "0.0001",
                                    ("dropout_logodds_pain", "", "pain_nrs"): "0"})
    d = pd.read_csv(io.StringIO(gen.render_all(alt)[f"retrostudy/datasets/{ID}.csv"]))
    assert d[d.arm == "control"].subject_id.nunique() == 30
    retro_missing = d[(d.arm == "retro") & d.value.isna()]
    assert set(retro_missing.visit) <= {"week4"}  # no retro dropout left, at most the missed visits
    gaps = d[d.value.isna()].groupby("subject_id").visit.apply(set)
    later = d[d.value.notna() & (d.visit == "week6")].subject_id.unique()
    assert sum(v == {"week4"} and s in later for s, v in gaps.items()) == 3


def test_every_parameter_has_a_source():
    with open(DATA_DIR / "parameters.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == ["parameter", "arm", "outcome", "value", "source"]
    for r in rows:
        float(r["value"])
        assert re.match(r"^(published|assumption): \S", r["source"]), r


def test_sd_of_change_is_the_one_the_published_p_implies():
    """change_sd of pain and WOMAC: the pooled SD at which the published difference gives the published p
    (Student t, 21 retro vs 18 control completers, df 37). Tolerance 5e-4: the table holds 3 decimals."""
    with open(DATA_DIR / "parameters.csv", newline="", encoding="utf-8") as fh:
        par = {(r["parameter"], r["outcome"]): float(r["value"]) for r in csv.DictReader(fh) if not r["arm"]}
    for outcome, diff, p in (("pain_nrs", 1.8 - 1.0, 0.01), ("womac", 4.8 - 2.2, 0.008)):
        se_unit = np.sqrt(1 / 21 + 1 / 18)
        sd = diff / (stats.t.ppf(1 - p / 2, 37) * se_unit)
        np.testing.assert_allclose(par[("change_sd", outcome)], sd, atol=5e-4)
        near_miss = diff / (stats.norm.ppf(1 - p / 2) * se_unit)  # a normal quantile instead of Student t
        assert abs(par[("change_sd", outcome)] - near_miss) > 0.02


# ---------------------------------------------------------------------------------------- format
def test_canonical_layout_and_formatting():
    raw = PACKAGED_CSV.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    lines = raw.decode("utf-8").splitlines()
    assert lines[0].split(",") == HEADER
    body = [ln.split(",") for ln in lines[1:]]
    assert len(body) == 3 * N_PER_ARM * len(VISITS) * len(OUTCOME_IDS) == 2400
    pattern = {"pain_nrs": r"\d+", "womac": r"\d+", "quad_strength": r"\d+\.\d", "tug": r"\d+\.\d\d"}
    for row in body:
        assert row[0] == ID
        assert row[3] in VISITS and row[4] == str(VISITS[row[3]])
        assert row[6] == "" or re.fullmatch(pattern[row[5]], row[6]), row
        assert re.fullmatch(r"\d+", row[7]) and row[8] in ("female", "male") and re.fullmatch(r"\d+\.\d", row[9])
    key = [(ARMS.index(r[2]), r[1], int(r[4]), OUTCOME_IDS.index(r[5])) for r in body]
    assert key == sorted(key)
    ids = sorted({r[1] for r in body})
    assert ids == sorted(f"{p}{i:02d}" for p in "RFC" for i in range(1, N_PER_ARM + 1))


def test_values_within_outcome_ranges_and_covariates_constant(frame):
    for outcome, values in frame.dropna(subset=["value"]).groupby("outcome")["value"]:
        spec = OUTCOMES[outcome]
        bad = [v for v in values if not spec.in_range(float(v))]
        assert not bad, f"{outcome}: {bad[:5]} outside {spec.range_text()}"
    per_subject = frame.groupby("subject_id")[["arm", "age", "sex", "bmi"]].nunique()
    assert (per_subject == 1).all().all()
    assert frame.groupby("subject_id").size().eq(len(VISITS) * len(OUTCOME_IDS)).all()
    assert frame.drop_duplicates("subject_id")["age"].between(45, 70).all()


# ---------------------------------------------------------------------------------------- the API
def test_listed_and_flagged_synthetic():
    table = rs.list_datasets().set_index("id")
    row = table.loc[ID]
    assert row["synthetic"] == "yes" and row["subjects"] == 150
    assert row["visits"] == "baseline, week2, week4, week6"
    assert row["outcomes"] == "pain_nrs, womac, quad_strength, tug"
    assert "Alghadir" in row["citation"] and row["licence"] == "CC0-1.0"
    assert "alghadir2019_sim" in table.index  # the first bundled dataset is still there


def test_load_dataset_gives_the_documented_trial(trial, frame):
    assert isinstance(trial, rs.TrialData)
    assert trial.n_subjects == 150 and trial.arms == list(ARMS)
    assert trial.visits == list(VISITS) and trial.baseline_visit == "baseline"
    weeks = trial.data.groupby("visit", observed=True)["week"].unique()
    assert {v: list(w) for v, w in weeks.items()} == {v: [float(w)] for v, w in VISITS.items()}
    assert list(trial.outcomes) == list(OUTCOME_IDS) and trial.covariates == ["age", "sex", "bmi"]
    assert trial.meta["synthetic"] is True and "simulated" in trial.meta["synthetic_statement"]
    assert "not participant data" in trial.meta["synthetic_statement"]
    assert trial.meta["study"] == ID and trial.meta["layout"] == "long"
    # every empty cell of the CSV is in the exclusion log, nothing else is left out
    assert len(trial.data) + trial.exclusions.n_cells == len(frame)
    assert trial.exclusions.n_cells == int(frame["value"].isna().sum())


def test_same_canonical_table_as_the_first_bundled_dataset(trial):
    other = rs.load_dataset("alghadir2019_sim")
    assert list(trial.data.columns) == list(other.data.columns)
    for col in trial.data.columns:
        a, b = trial.data[col].dtype, other.data[col].dtype
        if isinstance(b, pd.CategoricalDtype):
            assert isinstance(a, pd.CategoricalDtype) and a.ordered == b.ordered, col
        else:
            assert a == b, col
    assert list(trial.data["arm"].cat.categories) == list(other.data["arm"].cat.categories)
    assert list(trial.data["outcome"].cat.categories) == list(other.data["outcome"].cat.categories)
    assert list(trial.data["visit"].cat.categories) == list(VISITS)


def test_metadata_is_complete_and_agrees_with_the_csv(meta, frame, seen):
    for field in ("id", "title", "description", "subjects", "visits", "outcomes", "synthetic",
                  "synthetic_statement", "calibrated_to", "citation", "licence", "generator", "seed", "arms",
                  "baseline_visit", "date", "missing"):
        assert field in meta, field
    assert meta["id"] == ID and meta["synthetic"] is True and meta["licence"] == "CC0-1.0"
    assert "10.1186/s12891-019-2537-9" in meta["citation"] and "2019;20:159" in meta["citation"]
    assert meta["sha256"] == hashlib.sha256(PACKAGED_CSV.read_bytes()).hexdigest()
    assert meta["arms"] == list(ARMS) and meta["reference_arm"] == "control"
    assert meta["visits"] == [{"visit": v, "week": float(w)} for v, w in VISITS.items()]
    assert meta["columns"] == HEADER and meta["subjects"] == frame["subject_id"].nunique()
    with open(DATA_DIR / "parameters.csv", newline="", encoding="utf-8") as fh:
        seed = next(r["value"] for r in csv.DictReader(fh) if r["parameter"] == "seed")
    assert meta["seed"] == int(float(seed))
    for spec in meta["outcomes"]:
        reg = OUTCOMES[spec["id"]]
        assert (spec["unit"], spec["direction"], spec["low_inclusive"]) == (reg.unit, reg.direction, reg.low_inclusive)
        assert spec["low"] == reg.low and spec["high"] == reg.high
    full = seen[list(VISITS)] == len(OUTCOME_IDS)
    for arm in ARMS:
        in_arm = full[seen["arm"] == arm]
        assert meta["subjects_per_arm"][arm] == len(in_arm) == N_PER_ARM
        assert meta["completers_per_arm"][arm] == int(in_arm["week6"].sum())
        assert meta["seen_per_arm_and_visit"][arm] == {v: int(in_arm[v].sum()) for v in VISITS}
    assert meta["n_female"] == int((frame.drop_duplicates("subject_id")["sex"] == "female").sum())


# ---------------------------------------------------------------------------------------- missingness
def test_missing_values_are_monotone_dropout_plus_the_documented_gap(seen, meta):
    counts = seen[list(VISITS)]
    assert counts.isin([0, len(OUTCOME_IDS)]).all().all()  # all four outcomes recorded or missing together
    rec = counts == len(OUTCOME_IDS)
    assert rec["baseline"].all()
    gaps = []
    first_missed = {arm: {v: 0 for v in list(VISITS)[1:]} for arm in ARMS}
    for sid, r in rec.iterrows():
        pattern = r.tolist()
        last = max(i for i, x in enumerate(pattern) if x)
        holes = [list(VISITS)[i] for i in range(last) if not pattern[i]]
        if holes:
            gaps.append({"subject_id": sid, "visit": holes[0]})
            assert len(holes) == 1
        if last < len(VISITS) - 1:
            first_missed[seen.loc[sid, "arm"]][list(VISITS)[last + 1]] += 1
    assert gaps == meta["missed_visits"] == [{"subject_id": "F37", "visit": "week4"}]
    assert first_missed == meta["dropouts_per_arm_by_first_missed_visit"]
    # documented in PROVENANCE.md: 7, 7 and 15 of 50 left before week 6 (14 / 14 / 30 %)
    assert {a: sum(first_missed[a].values()) for a in ARMS} == {"retro": 7, "forward": 7, "control": 15}


def _periods_at_risk(frame, seen) -> pd.DataFrame:
    """One row per participant and follow-up visit at risk: left before it (0/1), last recorded pain."""
    pain = frame[frame.outcome == "pain_nrs"].pivot(index="subject_id", columns="visit", values="value")[list(VISITS)]
    rows = []
    names = list(VISITS)
    for sid, r in pain.iterrows():
        recorded = [i for i, v in enumerate(names) if not np.isnan(r[v])]
        last = max(recorded)
        for k in range(1, min(last + 1, len(names) - 1) + 1):
            prev = max(i for i in recorded if i < k)
            rows.append({"subject_id": sid, "arm": seen.loc[sid, "arm"], "visit": names[k],
                         "left": int(k > last), "last_pain": float(r[names[prev]])})
    return pd.DataFrame(rows)


def test_dropout_depends_on_the_last_recorded_pain(frame, seen, achieved):
    """Logistic regression of leaving before a visit on arm and last recorded pain (statsmodels).

    Built in: 0.8 per point. Within sampling error means |estimate - 0.8| <= 2.576 SE (a 99 % interval;
    over 200 other seeds of this design it held in 99.5 %, PROVENANCE.md). MCAR (slope 0) must be
    rejected: the estimate is over 3 SE from zero.
    """
    d = _periods_at_risk(frame, seen)
    assert len(d) == _achieved(achieved, "n_periods_at_risk") and d["left"].sum() == 29
    X = pd.get_dummies(d["arm"]).reindex(columns=list(ARMS)).astype(float)
    X["pain"] = d["last_pain"] - 6.0
    fit = sm.Logit(d["left"].astype(float), X).fit(disp=0)
    b, se = float(fit.params["pain"]), float(fit.bse["pain"])
    assert b > 0 and abs(b - BETA) <= 2.576 * se
    assert b / se > 3
    # the generator's own Newton refit (achieved.csv) agrees with statsmodels to its 4 printed decimals
    np.testing.assert_allclose(_achieved(achieved, "dropout_logodds_pain", outcome="pain_nrs"), b, atol=5e-5)
    np.testing.assert_allclose(_achieved(achieved, "dropout_logodds_pain_se", outcome="pain_nrs"), se, atol=5e-5)
    # those who left had more pain at their last visit (6.72 vs 5.34, PROVENANCE.md)
    means = d.groupby("left")["last_pain"].mean()
    np.testing.assert_allclose([means[1], means[0]], [6.72, 5.34], atol=0.005)


def _week6(table, column="arm") -> dict:
    f = table.to_frame()
    f = f[f["visit"].astype(str) == "week6"]
    return dict(zip(f[column].astype(str), f["estimate"]))


def test_mar_and_complete_cases_differ_in_the_documented_direction(trial, gen):
    """MMRM on every recorded visit (valid under MAR) vs ANCOVA on the week-6 completers (complete cases).

    Documented (PROVENANCE.md): complete cases give lower week-6 pain in every arm (those who left had more
    pain) and a less negative retro - control difference (more control participants left); the values are
    the table of PROVENANCE.md to its 2 decimals. The ANCOVA on every participant's full course (the
    generator's, values dropout left unrecorded included) is recovered by MAR, not by complete cases.
    """
    mmrm = rs.fit_mmrm(trial, outcome="pain_nrs", covariance="us")
    ancova = rs.fit_ancova(trial, outcome="pain_nrs")
    assert mmrm.fit_stats["n_subjects"] == 137  # 13 left before week 2: nothing after baseline to model
    assert ancova.fit_stats["n_subjects"] == 121  # baseline and week 6 recorded
    emm_mar, emm_cc = rs.emmeans(mmrm), rs.emmeans(ancova)
    mar, cc = _week6(emm_mar), _week6(emm_cc)
    for arm in ARMS:
        assert cc[arm] < mar[arm], arm
    np.testing.assert_allclose([mar[a] for a in ARMS], [3.87, 4.58, 4.72], atol=0.005)
    np.testing.assert_allclose([cc[a] for a in ARMS], [3.75, 4.47, 4.53], atol=0.005)
    con_mar = _week6(rs.contrasts(emm_mar), "contrast")["retro - control"]
    con_cc = _week6(rs.contrasts(emm_cc), "contrast")["retro - control"]
    assert con_mar < con_cc < 0
    np.testing.assert_allclose([con_mar, con_cc], [-0.86, -0.78], atol=0.005)

    sim = gen.simulate(gen.Params.read(DATA_DIR / "parameters.csv"))
    full = pd.DataFrame([{"arm": s["arm"], "y0": s["units"][(0, "pain_nrs")], "y6": s["units"][(3, "pain_nrs")]}
                         for s in sim["subjects"]])
    full["arm"] = pd.Categorical(full["arm"], ["control", "retro", "forward"])
    truth = float(smf.ols("y6 ~ arm + y0", full).fit().params["arm[T.retro]"])
    np.testing.assert_allclose(truth, -0.86, atol=0.005)
    assert abs(con_mar - truth) < abs(con_cc - truth)


def test_true_effects_are_the_published_ones_within_sampling_error(achieved):
    """A replication's sample scatters around the true changes: all-randomized mean changes within 3 SE."""
    for outcome in OUTCOME_IDS:
        sd = _achieved(achieved, "change_sd_all_randomized", outcome=outcome)
        for arm in ARMS:
            row = achieved[(achieved.quantity == "change_mean_all_randomized") & (achieved.arm == arm)
                           & (achieved.outcome == outcome)].iloc[0]
            assert abs(float(row["achieved"]) - float(row["target"])) <= 3 * sd / np.sqrt(N_PER_ARM), (outcome, arm)


def test_provenance_embeds_the_tables_and_says_synthetic():
    text = (DATA_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "**These data are simulated.**" in text and "CC0-1.0" in text
    for name in ("achieved.csv",):
        for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines()[1:]:
            assert "| " + " | ".join(line.split(",")) + " |" in text
    with open(DATA_DIR / "parameters.csv", newline="", encoding="utf-8") as fh:
        for r in list(csv.reader(fh))[1:]:
            assert "| " + " | ".join(c.replace("|", "/") for c in r) + " |" in text


# ---------------------------------------------------------------------------------------- where it is said
def test_cli_datasets_and_show_say_synthetic(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith(ID) or ln.strip().startswith(ID))
    assert " yes " in line
    assert "not participant data" in out
    assert main(["show", ID, "--rows", "3"]) == 0
    out = capsys.readouterr().out
    meta = json.loads(PACKAGED_JSON.read_text(encoding="utf-8"))
    assert " ".join(meta["synthetic_statement"].split()) in " ".join(out.split())  # wrapped to the terminal
    assert "252 value(s) excluded" in out  # every empty cell logged, not dropped


def test_report_carries_the_boxed_statement(tmp_path):
    pypdf = pytest.importorskip("pypdf")
    from retrostudy.report import build_report

    meta = json.loads(PACKAGED_JSON.read_text(encoding="utf-8"))
    m = build_report(ID, out=tmp_path / "rep.pdf", outcomes=["pain_nrs"])
    assert m.input["kind"] == "dataset" and m.input["sha256"] == meta["sha256"]
    text = " ".join(" ".join(p.extract_text() for p in pypdf.PdfReader(str(tmp_path / "rep.pdf")).pages).split())
    assert "Synthetic data." in text and " ".join(meta["synthetic_statement"].split()) in text
    assert "SYNTHETIC data set" in text and "Calibrated to:" in text
    assert "baseline, week 2, week 4, week 6" in text  # the visits, as the report words them
