"""A small trial written in every layout and format, and its canonical table built by hand.

The expected table is built directly from the ``TRUTH`` records below (not through
retrostudy), so comparing a read file with it checks the reader independently.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

ARMS = ("retro", "forward", "control")
OUTCOMES = ("pain_nrs", "womac", "quad_strength", "tug")
NAN = math.nan

# subject, arm, age, sex, {outcome: (baseline, week6)}
SUBJECTS = [
    ("R01", "retro", 55, "F", {"pain_nrs": (7, 4), "womac": (45, 38), "quad_strength": (18.5, 21.0), "tug": (12.4, 10.9)}),
    ("R02", "retro", 61, "M", {"pain_nrs": (6, NAN), "womac": (40, NAN), "quad_strength": (20.1, NAN), "tug": (11.8, NAN)}),
    ("R10", "retro", 49, "F", {"pain_nrs": (8, 5), "womac": (52, 44), "quad_strength": (16.0, 17.5), "tug": (13.0, 12.1)}),
    ("F01", "forward", 58, "M", {"pain_nrs": (6, 5), "womac": (38, 36), "quad_strength": (22.3, 22.9), "tug": (10.2, 9.8)}),
    ("F02", "forward", 52, "F", {"pain_nrs": (7, 6), "womac": (NAN, 41), "quad_strength": (17.7, 18.0), "tug": (12.0, 11.6)}),
    ("C01", "control", 57, "F", {"pain_nrs": (7, 6), "womac": (44, 42), "quad_strength": (19.0, 19.2), "tug": (11.5, 11.4)}),
    ("C02", "control", 63, "M", {"pain_nrs": (5, 5), "womac": (36, 35), "quad_strength": (24.0, 23.1), "tug": (NAN, 10.0)}),
]
VISITS = (("baseline", 0.0), ("week6", 6.0))
N_INPUT_CELLS = len(SUBJECTS) * 2 * 4
N_MISSING = sum(1 for s in SUBJECTS for vals in s[4].values() for v in vals if v != v)

ARM_LABELS = {  # how each layout spells the arms (exercises the synonyms)
    "long": {"retro": "RW", "forward": "FW", "control": "UC"},
    "by_visit": {"retro": "Retro walking", "forward": "Forward walking", "control": "Usual care"},
    "wide": {"retro": "retro", "forward": "forward", "control": "control"},
    "adam": {"retro": "Backward walking", "forward": "Forward walking", "control": "Control"},
    "sheets": {"retro": "rw", "forward": "fw", "control": "usual care"},
}


def expected(study: str = "mini") -> pd.DataFrame:
    """The canonical table of the trial, built by hand (without source columns)."""
    rows = []
    for arm in ARMS:
        subs = sorted([s for s in SUBJECTS if s[1] == arm], key=lambda s: (s[0][0], int(s[0][1:])))
        for sid, _, age, sex, vals in subs:
            for vi, (visit, week) in enumerate(VISITS):
                for o in OUTCOMES:
                    v = vals[o][vi]
                    if v == v:
                        rows.append((study, sid, arm, visit, week, o, float(v), float(age), sex))
    f = pd.DataFrame(rows, columns=["study", "subject_id", "arm", "visit", "week", "outcome", "value", "age", "sex"])
    f["study"] = pd.Categorical(f["study"])
    f["subject_id"] = f["subject_id"].astype("string")
    f["arm"] = pd.Categorical(f["arm"], categories=list(ARMS))
    f["visit"] = pd.Categorical(f["visit"], categories=["baseline", "week6"], ordered=True)
    f["outcome"] = pd.Categorical(f["outcome"], categories=list(OUTCOMES))
    f["sex"] = f["sex"].astype("string")
    return f


def long_frame() -> pd.DataFrame:
    lab = ARM_LABELS["long"]
    rows = []
    for sid, arm, age, sex, vals in SUBJECTS:
        for vi, (_visit, week) in enumerate(VISITS):
            for o, name in zip(OUTCOMES, ("pain", "WOMAC", "quad", "TUG")):
                rows.append((sid, lab[arm], "Baseline" if vi == 0 else "week 6", week, name, vals[o][vi], age, sex))
    return pd.DataFrame(rows, columns=["subject", "group", "visit", "week", "outcome", "value", "age", "sex"])


def by_visit_frame() -> pd.DataFrame:
    lab = ARM_LABELS["by_visit"]
    rows = []
    for sid, arm, age, sex, vals in SUBJECTS:
        for vi, (_visit, _week) in enumerate(VISITS):
            rows.append((sid, lab[arm], "BL" if vi == 0 else "Week 6", age, sex,
                         *(vals[o][vi] for o in OUTCOMES)))
    return pd.DataFrame(rows, columns=["patient", "treatment", "time", "age", "sex", "pain", "womac",
                                       "quadriceps", "tug"])


def wide_frame() -> pd.DataFrame:
    lab = ARM_LABELS["wide"]
    names = {"pain_nrs": "pain", "womac": "womac", "quad_strength": "strength", "tug": "tug"}
    rows, cols = [], ["id", "arm", "age", "sex"]
    for o in OUTCOMES:
        cols += [f"{names[o]}_0", f"{names[o]}_6"] if o != "womac" else ["womac_baseline", "womac_week6"]
    for sid, arm, age, sex, vals in SUBJECTS:
        rows.append((sid, lab[arm], age, sex, *(vals[o][vi] for o in OUTCOMES for vi in (0, 1))))
    return pd.DataFrame(rows, columns=cols)


def adam_frame() -> pd.DataFrame:
    lab = ARM_LABELS["adam"]
    codes = {"pain_nrs": "PAIN", "womac": "WOMAC", "quad_strength": "QUAD", "tug": "TUG"}
    rows = []
    for sid, arm, age, sex, vals in SUBJECTS:
        for o in OUTCOMES:
            base = vals[o][0]
            for vi, (_visit, week) in enumerate(VISITS):
                aval = vals[o][vi]
                rows.append(("MINI", sid, lab[arm], "Baseline" if vi == 0 else "Week 6", week, codes[o],
                             f"{o} long name", aval, base, aval - base, age, sex, f"2019-0{vi + 1}-01"))
    return pd.DataFrame(rows, columns=["STUDYID", "USUBJID", "TRT01P", "AVISIT", "AVISITN", "PARAMCD", "PARAM",
                                       "AVAL", "BASE", "CHG", "AGE", "SEX", "ADT"])


def sheet_frames() -> dict[str, pd.DataFrame]:
    lab = ARM_LABELS["sheets"]
    out = {}
    for vi, (_visit, _week) in enumerate(VISITS):
        rows = [(sid, lab[arm], age, sex, *(vals[o][vi] for o in OUTCOMES)) for sid, arm, age, sex, vals in SUBJECTS]
        out["Baseline" if vi == 0 else "Week 6"] = pd.DataFrame(
            rows, columns=["subject", "arm", "age", "sex", "pain", "womac", "quad", "tug"])
    return out


FRAMES = {"long": long_frame, "by_visit": by_visit_frame, "wide": wide_frame, "adam": adam_frame}
FORMATS = ("csv", "tsv", "xlsx", "parquet", "xpt", "sav", "dta")


def write(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write ``frame`` as ``fmt`` (csv/tsv empty cells for missing)."""
    if fmt in ("csv", "tsv"):
        frame.to_csv(path, sep="," if fmt == "csv" else "\t", index=False, na_rep="")
    elif fmt == "xlsx":
        frame.to_excel(path, index=False, sheet_name="Data")
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        import pyreadstat

        out = frame.copy()
        for c in out.columns:
            if out[c].dtype != object and not pd.api.types.is_numeric_dtype(out[c]):
                out[c] = out[c].astype(object)
            if pd.api.types.is_numeric_dtype(out[c]):
                out[c] = out[c].astype("float64")
        {"xpt": pyreadstat.write_xport, "sav": pyreadstat.write_sav, "dta": pyreadstat.write_dta}[fmt](out, str(path))
    return path


def write_sheets(path: Path) -> Path:
    with pd.ExcelWriter(path) as xw:
        for name, f in sheet_frames().items():
            f.to_excel(xw, index=False, sheet_name=name)
    return path


def comparable(data: pd.DataFrame) -> pd.DataFrame:
    """The canonical table without the source columns (which legitimately differ)."""
    return data.drop(columns=["source_file", "source_row"]).reset_index(drop=True)


def np_allclose(a, b) -> bool:
    return bool(np.allclose(a, b))
