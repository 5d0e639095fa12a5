"""Shared fixtures of the inference tests: reference fixtures and the data they were made from."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tests" / "reference" / "ancova"
TRIAL_CSV = ROOT / "retrostudy" / "datasets" / "alghadir2019_sim.csv"


def canonical(frame: pd.DataFrame, arms: list[str], visits: list[str]) -> pd.DataFrame:
    """A canonical long table with declared arm and visit order."""
    out = frame.copy()
    out["subject_id"] = out["subject_id"].astype(str)
    out["arm"] = pd.Categorical(out["arm"], categories=arms)
    out["visit"] = pd.Categorical(out["visit"], categories=visits, ordered=True)
    out["outcome"] = pd.Categorical(out["outcome"])
    return out


@pytest.fixture(scope="session")
def ref_json():
    def load(name: str) -> dict:
        return json.loads((REF / name).read_text())
    return load


@pytest.fixture(scope="session")
def trial_frame() -> pd.DataFrame:
    """The bundled synthetic trial as a canonical DataFrame (empty values are NaN)."""
    if not TRIAL_CSV.exists():
        pytest.skip(f"bundled CSV {TRIAL_CSV.name} not present")
    raw = pd.read_csv(TRIAL_CSV)
    return canonical(raw, ["retro", "forward", "control"], ["baseline", "week6"])


@pytest.fixture(scope="session")
def trial_sha256() -> str:
    return hashlib.sha256(TRIAL_CSV.read_bytes()).hexdigest() if TRIAL_CSV.exists() else ""


@pytest.fixture(scope="session")
def pingouin_frame() -> pd.DataFrame:
    """pingouin's `ancova` data as a canonical table: arm = Method, baseline = Income, post = Scores."""
    d = pd.read_csv(REF / "pingouin_ancova.csv")
    d["subject_id"] = [f"S{i + 1:02d}" for i in range(len(d))]
    base = d.assign(visit="baseline", week=0.0, value=d["Income"].astype(float))
    post = d.assign(visit="post", week=1.0, value=d["Scores"].astype(float))
    long = pd.concat([base, post], ignore_index=True).rename(columns={"Method": "arm"})
    long["outcome"] = "scores"
    long = long.loc[:, ["subject_id", "arm", "visit", "week", "outcome", "value", "BMI"]]
    return canonical(long, ["A", "B", "C", "D"], ["baseline", "post"])


@pytest.fixture(scope="session")
def unbalanced_frame() -> pd.DataFrame:
    d = pd.read_csv(REF / "unbalanced.csv")
    return canonical(d, ["retro", "forward", "control"], ["baseline", "week6"])


def assert_close(actual, expected, rtol, what=""):
    """assert_allclose with an absolute floor of rtol * max|expected| (for values near zero)."""
    actual = np.asarray(actual, float)
    expected = np.asarray(expected, float)
    atol = rtol * float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def assert_not_close(actual, expected, rtol, what=""):
    actual = np.asarray(actual, float)
    expected = np.asarray(expected, float)
    assert not np.allclose(actual, expected, rtol=rtol, atol=0.0), f"near miss matched: {what}"


@pytest.fixture(scope="session")
def check():
    """The comparison helpers (fixtures, since test folders have no __init__.py)."""
    class _Check:
        close = staticmethod(assert_close)
        not_close = staticmethod(assert_not_close)
    return _Check
