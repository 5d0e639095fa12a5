"""Write unbalanced.csv: a deterministic unbalanced three-arm trial with a categorical covariate.

Run from this folder: python3 make_unbalanced.py. The arms have 34/27/21 subjects, the
covariate ``site`` (A/B/C) is distributed very differently across arms and has a large
effect, so EMMs with equal and with proportional weights differ clearly. Two subjects
lack the week-6 value, one the baseline value and one the site (ANCOVA exclusions).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

rng = np.random.default_rng(20190159)
arms = ["retro"] * 34 + ["forward"] * 27 + ["control"] * 21
site_p = {"retro": [0.7, 0.2, 0.1], "forward": [0.5, 0.4, 0.1], "control": [0.3, 0.2, 0.5]}
site_eff = {"A": 0.0, "B": 1.2, "C": -1.5}
arm_eff = {"retro": -1.6, "forward": -1.0, "control": -0.4}
rows = []
for i, arm in enumerate(arms):
    sid = f"U{i + 1:03d}"
    site = str(rng.choice(["A", "B", "C"], p=site_p[arm]))
    age = int(rng.integers(45, 71))
    base = float(np.clip(np.round(rng.normal(6.5, 1.4), 1), 0, 10))
    post = 1.5 + 0.65 * base + arm_eff[arm] + site_eff[site] + 0.03 * (age - 55) + rng.normal(0, 1.1)
    post = float(np.round(post, 2))
    rows.append((sid, arm, "baseline", 0.0, base, site, age))
    rows.append((sid, arm, "week6", 6.0, post, site, age))
frame = pd.DataFrame(rows, columns=["subject_id", "arm", "visit", "week", "value", "site", "age"])
frame.insert(0, "study", "unbalanced_sim")
frame.insert(5, "outcome", "pain_nrs")
frame.loc[(frame.subject_id.isin(["U005", "U040"])) & (frame.visit == "week6"), "value"] = np.nan
frame.loc[(frame.subject_id == "U070") & (frame.visit == "baseline"), "value"] = np.nan
frame.loc[frame.subject_id == "U012", "site"] = np.nan
frame.to_csv("unbalanced.csv", index=False, lineterminator="\n")
