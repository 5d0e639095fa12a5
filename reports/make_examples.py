"""Rebuild the two example reports in this folder (deterministic; run from anywhere):

    python reports/make_examples.py

1. ``alghadir2019_sim.pdf``: the bundled synthetic data set, made by ``retrostudy report`` (the default).
2. ``dropout_example.pdf``: a user-style wide CSV (``dropout_trial.csv``, written here by a seeded
   generator) with three visits and dropout that grows over time and is more frequent in the
   control arm, read with ``rs.read_trial`` like any user file.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def make_dropout_csv(path: Path, seed: int = 20240611) -> None:
    """A wide file: one row per subject, ``<outcome>_<visit>`` columns, empty cells after dropout."""
    rng = np.random.default_rng(seed)
    arms = {"retro": (20, -2.0, -5.5, 1.5), "forward": (20, -1.3, -3.5, 0.9), "control": (20, -0.6, -1.5, 0.2)}
    drop = {"retro": (0.05, 0.10), "forward": (0.05, 0.15), "control": (0.10, 0.25)}
    rows = []
    for arm, (n, d_pain, d_womac, d_tug) in arms.items():
        for _ in range(n):
            age = int(np.clip(round(rng.normal(56, 6)), 40, 75))
            sex = "F" if rng.random() < 0.55 else "M"
            bmi = round(float(rng.normal(29, 3.5)), 1)
            u = rng.normal(0, 1)
            pain0 = float(np.clip(round(rng.normal(6.4, 1.3)), 2, 10))
            womac0 = float(np.clip(round(rng.normal(40, 9)), 10, 90))
            tug0 = round(float(rng.lognormal(np.log(12.5), 0.18)), 1)
            rec = {"subject": f"S{len(rows) + 1:03d}", "group": arm, "age": age, "sex": sex, "bmi": bmi}
            gone = False
            for visit, frac in (("baseline", 0.0), ("week2", 1 / 3), ("week6", 1.0)):
                p_drop = {"baseline": 0.0, "week2": drop[arm][0], "week6": drop[arm][1]}[visit]
                # dropout more likely for those doing worse (missing at random given earlier values)
                gone = gone or rng.random() < p_drop * (1.5 if pain0 >= 7 else 0.75)
                if gone:
                    rec.update({f"pain_{visit}": None, f"womac_{visit}": None, f"tug_{visit}": None})
                    continue
                rec[f"pain_{visit}"] = float(np.clip(round(pain0 + d_pain * frac + 0.6 * u * frac
                                                           + rng.normal(0, 0.7)), 0, 10))
                rec[f"womac_{visit}"] = float(np.clip(round(womac0 + d_womac * frac + 3 * u * frac
                                                            + rng.normal(0, 3)), 0, 96))
                rec[f"tug_{visit}"] = round(max(4.0, tug0 - d_tug * frac + 0.5 * u * frac + rng.normal(0, 0.5)), 1)
            rows.append(rec)
    pd.DataFrame(rows).to_csv(path, index=False, lineterminator="\n")


def main() -> int:
    import subprocess

    import retrostudy as rs

    say = lambda msg: print(f"  {msg}", file=sys.stderr)  # noqa: E731
    print("alghadir2019_sim.pdf (retrostudy report --out alghadir2019_sim.pdf)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "retrostudy", "report", "--out", "alghadir2019_sim.pdf"], cwd=HERE,
                   check=True)
    csv = HERE / "dropout_trial.csv"
    make_dropout_csv(csv)
    print("dropout_example.pdf", file=sys.stderr)
    # the CSV is rewritten on every run, so its modification date would change the report's date: fix it
    rs.build_report(csv, out=HERE / "dropout_example.pdf", date="2024-06-11", progress=say)
    return 0


if __name__ == "__main__":
    sys.exit(main())
