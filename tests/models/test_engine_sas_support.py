"""Support for test_engine_sas.py (no tests here): turn a SAS PROC MIXED case of
../shared/mmrm/sas_reference.json into a fit_mmrm call. The SAS data and listings
are not part of this repository: they are read at test time from
``<project root>/../shared/mmrm`` (see tests/reference/sas/README.md).
"""
from __future__ import annotations

import functools
import json
import re
import warnings
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from retrostudy.models.mmrm import fit_mmrm

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "mmrm"
TOL_FILE = ROOT / "tests" / "reference" / "sas" / "tolerances.json"

_FORMULA = re.compile(r"^(\w+) ~ (.*) \+ (\w+)\((.*)\)$")
_REF = re.compile(r"(\w+)\s*\(\s*ref\s*=\s*'([^']+)'\s*\)", re.I)
CLASS_VARS = ("USUBJID", "AVISIT", "ARMCD", "RACE", "SEX")


def available() -> bool:
    return (SHARED / "sas_reference.json").is_file() and (SHARED / "fev_data.csv").is_file()


@functools.lru_cache(maxsize=None)
def reference() -> dict:
    return json.loads((SHARED / "sas_reference.json").read_text())


@functools.lru_cache(maxsize=None)
def tolerances() -> dict:
    return json.loads(TOL_FILE.read_text())


@functools.lru_cache(maxsize=None)
def fev_data() -> pd.DataFrame:
    return pd.read_csv(SHARED / "fev_data.csv")


def cases() -> dict:
    return {c["id"]: c for c in reference()["cases"]}


def skip_reason(case: dict) -> str | None:
    """Why a case cannot be run by the engine (None: it can)."""
    return None


def class_levels(case: dict, data: pd.DataFrame) -> tuple[dict, dict]:
    """SAS level order of each class variable (sorted, the ref= level last) and refs."""
    refs = {k.upper(): v for k, v in _REF.findall(case["sas_code"])}
    factors, reference = {}, {}
    for var in CLASS_VARS[1:]:
        lv = sorted(data[var].astype(str).unique())
        ref = refs.get(var, lv[-1])
        factors[var] = [x for x in lv if x != ref] + [ref]
        reference[var] = ref
    return factors, reference


def lsmeans_effect(case: dict) -> str | None:
    m = re.search(r"LSMEANS\s+([\w*]+)", case["sas_code"], re.I)
    return m.group(1) if m else None


@functools.lru_cache(maxsize=None)
def run(case_id: str, method: str | None = None, covariance: str | None = None, df_method: str | None = None):
    """Fit the case (optionally with one setting replaced, for near misses)."""
    case = cases()[case_id]
    eq = case["mmrm_equivalent"]
    m = _FORMULA.match(eq["formula"])
    rhs, struct, inner = m.group(2), m.group(3), m.group(4)
    lhs, _, subj = inner.partition("|")
    visit = lhs.strip()
    coords = None
    if struct.startswith("sp_"):  # SP(EXP)(VISITN VISITN2): REPEATED AVISIT, coordinates per row
        coords = [c.strip() for c in lhs.split(",")]
        visit = "AVISIT"
    subj = subj.strip()
    group = None
    if "/" in subj:
        group, _, subj = (s.strip() for s in subj.partition("/"))
    data = fev_data()
    if case["data_rows"] != "all":
        a, b = (int(x) for x in case["data_rows"].split(":"))
        data = data.iloc[a - 1:b]
    factors, ref = class_levels(case, data)
    ddfm = case["ddfm"].lower()
    if case["se_method"] == "Empirical":
        df, vc = "between-within", "empirical"
    elif ddfm.startswith("kenward"):
        # SAS's "Fixed Effects SE Method" says which KR it ran (the kr*_spexp listings are swapped)
        df = "kenward-roger-linear" if case["se_method"].startswith("Prasad") else "kenward-roger"
        vc = "model"
    elif ddfm.startswith("between"):
        df, vc = "between-within", "model"
    else:
        df, vc = "satterthwaite", "model"
    used = set(re.findall(r"\w+", rhs)) | {visit} | ({group} if group else set())
    fit = fit_mmrm(
        data, columns={'response': "FEV1", 'subject': subj, 'visit': visit, 'arm': None, 'group': group, 'weights': eq.get("weights")}, mean=rhs, baseline="none",
        covariance=covariance or struct, method=method or ("reml" if eq["reml"] else "ml"),
        df_method=df_method or df, vcov=vc, coordinates=coords,
        factors={k: v for k, v in factors.items() if k in used},
        reference_levels={k: v for k, v in ref.items() if k in used},
    )
    return fit


def column_key(effect: str, levels: dict) -> frozenset:
    """Our design column for a SAS fixed-effect row ("AVISIT*ARMCD", {AVISIT: VIS2, ...})."""
    if effect == "Intercept":
        return frozenset()
    return frozenset((v, levels.get(v)) for v in effect.split("*"))


def column_index(fit) -> dict:
    return {frozenset(parts): j for j, parts in enumerate(fit.design.column_parts)}


def lsmean_row(fit, spec: dict) -> np.ndarray:
    """SAS LS-mean row: equal weights over the other class factors, numerics at their mean."""
    design = fit.design
    other = [f for f in design.factors if f not in spec]
    grid = pd.DataFrame(list(product(*[design.factors[f].levels for f in other])) or [()], columns=other)
    for var, lvl in spec.items():
        grid[var] = lvl
    for var in design.numerics:
        grid[var] = float(fit.data[var].astype(float).mean())
    return design.matrix(grid).mean(axis=0)


def half_unit(printed: str | None) -> float:
    """Half a unit of the last digit SAS printed ("1.6805" -> 5e-5, "133" -> 0.5)."""
    if printed is None or printed in (".", ""):
        return np.nan
    s = printed.strip().lstrip("-")
    if "E" in s.upper():
        mant, _, exp = s.upper().partition("E")
        dec = len(mant.partition(".")[2])
        return 0.5 * 10.0 ** (int(exp) - dec)
    dec = len(s.partition(".")[2])
    return 0.5 * 10.0 ** (-dec)


def fit_quietly(case_id: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run(case_id, **kw)
