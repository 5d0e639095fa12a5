"""Shared fixtures of the missing-data tests: a small simulated trial and rbmi's antidepressant data.

rbmi's data and the SAS five-macros numbers are read from ``../shared/rbmi`` relative to the
project root (or the folder named by the environment variable ``RETROSTUDY_SHARED``, for a
checkout elsewhere); they are not part of the project and the tests that need them are
skipped, with the reason, when they are absent. rbmi's own numbers are committed under
``tests/reference/rbmi`` (made by ``make_rbmi.R`` there).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("RETROSTUDY_SHARED") or ROOT.parent / "shared") / "rbmi"
REF = Path(os.environ.get("RETROSTUDY_RBMI_REF") or ROOT / "tests" / "reference" / "rbmi")  # env: a fresh make_rbmi.R run

#: rs.sensitivity arguments for rbmi's antidepressant data as rbmi's quickstart sets it up:
#: CHANGE ~ THERAPY * VISIT + BASVAL * VISIT, ANCOVA on BASVAL, no baseline visit in the frame.
AD = {"columns": {"subject": "PATIENT", "visit": "VISIT", "arm": "THERAPY", "response": "CHANGE"},
      "covariates": ["BASVAL"], "baseline": "absent"}


@pytest.fixture(scope="session")
def ad_kw() -> dict:
    return dict(AD, covariates=list(AD["covariates"]), columns=dict(AD["columns"]))


@pytest.fixture(scope="session")
def antidepressant() -> pd.DataFrame:
    path = SHARED / "antidepressant_data.csv"
    if not path.exists():
        pytest.skip(f"rbmi's antidepressant data not found at {path} (../shared/rbmi relative to the project root)")
    return pd.read_csv(path, dtype={"PATIENT": str, "VISIT": str, "THERAPY": str})


@pytest.fixture(scope="session")
def five_macros() -> dict:
    path = SHARED / "five_macros_results.json"
    if not path.exists():
        pytest.skip(f"The SAS five-macros numbers were not found at {path} (../shared/rbmi relative to the project root)")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def rbmi_ref():
    def load(name: str) -> dict:
        path = REF / name
        if not path.exists():
            pytest.skip(f"rbmi reference {path.name} not found in tests/reference/rbmi")
        return json.loads(path.read_text())

    return load


def simulated_trial(n_per_arm: int = 24, seed: int = 11, arms=("retro", "forward", "control"),
                    weeks=(0.0, 2.0, 4.0, 6.0), dropout: float = 0.25) -> pd.DataFrame:
    """A canonical long table: three arms, four visits, monotone dropout after week 0 and one
    intermittent missing value; subject covariates age (numeric) and sex (text)."""
    rng = np.random.default_rng(seed)
    T = len(weeks)
    cov = 1.5 * np.array([[1.0 * (0.6 ** abs(i - j)) for j in range(T)] for i in range(T)])
    effect = {"retro": -1.2, "forward": -0.6, "control": 0.0}
    rows = []
    k = 0
    for a in arms:
        for _ in range(n_per_arm):
            k += 1
            age = float(rng.integers(45, 75))
            sex = str(rng.choice(["female", "male"]))
            mu = 6.0 + 0.02 * (age - 60) - np.array(weeks) / 6 * (1.0 + 0.0 * (a == "control")) \
                + np.array(weeks) / 6 * effect.get(a, 0.0) + (0.3 if sex == "male" else 0.0)
            y = rng.multivariate_normal(mu, cov)
            last = T
            if rng.random() < dropout:
                last = int(rng.integers(1, T))
            for t in range(last):
                rows.append({"study": "sim", "subject_id": f"S{k:03d}", "arm": a, "visit": f"week{int(weeks[t])}",
                             "week": weeks[t], "outcome": "pain_nrs", "value": float(np.round(y[t], 3)),
                             "age": age, "sex": sex})
    frame = pd.DataFrame(rows)
    # one intermittent missing value (week 2 of the first complete subject of the first arm)
    full = frame.groupby("subject_id")["visit"].count()
    sid = full[full == T].index[0]
    frame = frame.loc[~((frame["subject_id"] == sid) & (frame["visit"] == "week2"))].reset_index(drop=True)
    frame["arm"] = pd.Categorical(frame["arm"], categories=list(arms))
    frame["visit"] = pd.Categorical(frame["visit"], categories=[f"week{int(w)}" for w in weeks], ordered=True)
    frame["outcome"] = pd.Categorical(frame["outcome"])
    return frame


@pytest.fixture(scope="session")
def sim() -> pd.DataFrame:
    return simulated_trial()
