"""A small deterministic canonical trial for the report tests (3 arms, 3 visits, 2 outcomes, dropout)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from retrostudy.exclusions import ExclusionLog
from retrostudy.trial import TrialData

ARMS = ("retro", "forward", "control")
VISITS = (("baseline", 0.0), ("week2", 2.0), ("week6", 6.0))


def make_frame(n_per_arm: int = 12, seed: int = 7, dropout: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    recs = []
    effect = {"retro": -2.0, "forward": -1.2, "control": -0.3}
    for _a_i, arm in enumerate(ARMS):
        for k in range(n_per_arm):
            sid = f"{arm[0].upper()}{k + 1:02d}"
            age = float(np.round(rng.normal(55, 6), 0))
            sex = "female" if rng.random() < 0.6 else "male"
            base_pain = float(np.clip(np.round(rng.normal(6.5, 1.2), 1), 0, 10))
            base_tug = float(np.round(rng.lognormal(np.log(12), 0.2), 2))
            u = rng.normal(0, 0.8)
            for _v_i, (visit, week) in enumerate(VISITS):
                if dropout and visit == "week6" and k % 5 == 4:
                    continue
                frac = week / 6.0
                pain = float(np.clip(np.round(base_pain + effect[arm] * frac + u * frac + rng.normal(0, 0.6), 1), 0, 10))
                tug = float(np.round(base_tug * (1 + 0.05 * effect[arm] * frac) + rng.normal(0, 0.5), 2))
                for out, val in (("pain_nrs", pain), ("tug", max(tug, 3.0))):
                    recs.append({"study": "toy", "subject_id": sid, "arm": arm, "visit": visit, "week": week,
                                 "outcome": out, "value": val, "source_file": "toy.csv",
                                 "source_row": len(recs) + 2, "age": age, "sex": sex})
    f = pd.DataFrame.from_records(recs)
    f["study"] = f["study"].astype("category")
    f["subject_id"] = f["subject_id"].astype("string")
    f["arm"] = pd.Categorical(f["arm"], categories=list(ARMS))
    f["visit"] = pd.Categorical(f["visit"], categories=[v for v, _ in VISITS], ordered=True)
    f["outcome"] = pd.Categorical(f["outcome"], categories=["pain_nrs", "tug"])
    f["source_file"] = f["source_file"].astype("string")
    f["source_row"] = f["source_row"].astype("Int64")
    return f


def make_trial(**kw) -> TrialData:
    log = ExclusionLog.from_records([
        {"stage": "read", "file": "toy.csv", "row": 40, "subject_id": "F03", "visit": "week2", "outcome": "tug",
         "column": "value", "value": "-1", "cells": 1, "reason": "value outside the valid range"},
    ])
    return TrialData(make_frame(**kw), log, {"study": "toy", "file": "toy.csv", "sha256": "0" * 64})
