"""rs.list_datasets and rs.load_dataset: packaged metadata + canonical CSV read through read_trial."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
import retrostudy.datasets as ds

PACKAGED = Path(ds.__file__).parent


@pytest.fixture
def mini_root(tmp_path, monkeypatch):
    meta = {"id": "mini", "title": "A tiny made-up trial", "subjects": 2, "synthetic": True,
            "synthetic_statement": "Made up for a test.", "citation": "Nobody 2024", "licence": "CC0-1.0",
            "file": "mini.csv", "visits": [{"visit": "baseline", "week": 0}, {"visit": "week6", "week": 6}],
            "outcomes": [{"id": "pain_nrs", "low": 0, "high": 10, "decimals": 0}], "baseline_visit": "baseline"}
    (tmp_path / "mini.json").write_text(json.dumps(meta))
    (tmp_path / "mini.csv").write_text(
        "study,subject_id,arm,visit,week,outcome,value,age,sex,bmi\n"
        "mini,R01,retro,baseline,0,pain_nrs,6,50,female,25.0\n"
        "mini,R01,retro,week6,6,pain_nrs,,50,female,25.0\n"
        "mini,C01,control,baseline,0,pain_nrs,7,60,male,30.5\n"
        "mini,C01,control,week6,6,pain_nrs,7,60,male,30.5\n")
    (tmp_path / "notes.txt").write_text("not metadata")
    monkeypatch.setattr(ds, "_root", lambda: tmp_path)
    return tmp_path


def test_list_and_load_with_a_temporary_resource_folder(mini_root):
    table = rs.list_datasets()
    assert table.columns.tolist() == ["id", "title", "subjects", "visits", "outcomes", "synthetic", "citation",
                                      "licence"]
    assert table.to_dict(orient="records") == [{
        "id": "mini", "title": "A tiny made-up trial", "subjects": 2, "visits": "baseline, week6",
        "outcomes": "pain_nrs", "synthetic": "yes", "citation": "Nobody 2024", "licence": "CC0-1.0"}]
    trial = rs.load_dataset("mini")
    assert trial.meta["synthetic"] is True and trial.meta["synthetic_statement"] == "Made up for a test."
    assert trial.meta["citation"] == "Nobody 2024" and trial.meta["dataset"] == "mini"
    assert trial.data["value"].tolist() == [6.0, 7.0, 7.0]
    assert trial.data["source_file"].unique().tolist() == ["mini.csv"]
    assert trial.data["source_row"].tolist() == [2, 4, 5]
    assert trial.exclusions.frame[["row", "reason"]].values.tolist() == [[3, "missing value"]]
    assert trial.covariates == ["age", "sex", "bmi"]


def test_unknown_name_lists_the_available_ones(mini_root):
    with pytest.raises(rs.SpecError, match=r"no bundled dataset 'mni'; available: 'mini' \(did you mean 'mini'\?\)"):
        rs.load_dataset("mni")


@pytest.mark.skipif(not (PACKAGED / "alghadir2019_sim.json").exists(), reason="bundled dataset not present")
def test_the_bundled_trial():
    table = rs.list_datasets().set_index("id")
    row = table.loc["alghadir2019_sim"]
    assert row["synthetic"] == "yes" and row["subjects"] == 68
    assert row["outcomes"] == "pain_nrs, womac, quad_strength, tug" and row["visits"] == "baseline, week6"
    assert "Alghadir" in row["citation"] and row["licence"]

    trial = rs.load_dataset("alghadir2019_sim")
    assert trial.n_subjects == 68 and trial.arms == ["retro", "forward", "control"]
    assert trial.visits == ["baseline", "week6"] and trial.baseline_visit == "baseline"
    assert trial.meta["synthetic"] is True and "simulated" in trial.meta["synthetic_statement"]
    assert trial.meta["layout"] == "long" and trial.meta["study"] == "alghadir2019_sim"
    # independent check: the packaged CSV read by pandas, non-missing rows, same values in the same places
    raw = pd.read_csv(PACKAGED / "alghadir2019_sim.csv", dtype={"subject_id": str})
    raw["row"] = np.arange(2, len(raw) + 2)
    present = raw.dropna(subset=["value"])
    got = trial.data.set_index("source_row").sort_index()
    assert got.index.tolist() == present["row"].tolist()
    np.testing.assert_array_equal(got["value"].to_numpy(), present["value"].to_numpy())
    assert got["subject_id"].tolist() == present["subject_id"].tolist()
    assert got["outcome"].astype(str).tolist() == present["outcome"].tolist()
    assert len(trial.data) + trial.exclusions.n_cells == len(raw) == 68 * 2 * 4
    assert trial.exclusions.frame["row"].tolist() == raw.loc[raw["value"].isna(), "row"].tolist()


def test_load_source_resolves_files_and_bundled_names(tmp_path):
    import hashlib

    import pytest

    from retrostudy.datasets import load_source
    from retrostudy.errors import DataError, SpecError

    path = tmp_path / "t.csv"
    path.write_text("patient,group,time,pain\n1,RW,0,7\n1,RW,6,4\n2,UC,0,6\n2,UC,6,6\n")
    trial = load_source(path)
    assert trial.meta["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()  # the loader hashes the bytes
    assert load_source("alghadir2019_sim").meta["synthetic"] is True
    with pytest.raises(SpecError, match="alghadir2019_sim"):  # a mistyped name lists the datasets
        load_source("alghadir2019")
    with pytest.raises(DataError, match="does not exist"):  # a missing file gets the loader's sentence
        load_source(tmp_path / "nope.csv")
    with pytest.raises(SpecError, match="bundled dataset"):
        load_source("alghadir2019_sim", config={"layout": "long"})
