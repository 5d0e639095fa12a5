"""Kenward-Roger against SAS PROC MIXED DDFM=KR and DDFM=KR(LINEAR), every structure.

Reference: ``<project root>/../shared/mmrm`` (not in this repository; skipped with the
reason printed when absent): ``sas_ods_csv/ddfm_covtype/kr_<type>.csv`` (DDFM=KR) and
``kr1_<type>.csv`` (DDFM=KR(LINEAR)), full precision, for the TRT - PBO LS-mean difference of
``MODEL FEV1 = ARMCD; REPEATED AVISIT / SUBJECT=USUBJID TYPE=<type>`` (REML) on fev_data,
and the printed listings of the same runs in ``sas_reference.json`` (cases kr_*, kr1_*).

The model is fitted twice: by this test's own REML fitter with SAS-parameterized
structures (test_kenward_roger_support.py; no package code except kenward_roger) and by
``fit_mmrm`` (the package engine), when that exists.

Tolerances and why
------------------
* ``SAS_AT_OPTIMUM`` (CS, AR(1), TOEPH): our -2RLL equals SAS's to all 8 printed decimals, so
  the same theta: SE rtol 2e-6, df within 1e-3 (observed worst 7.7e-7 and 7.2e-4).
* The other structures: SAS stopped its Newton-Raphson a little before the optimum (its
  -2RLL is HIGHER than ours by ``SAS_EARLY_STOP`` below; mmrm 0.3.18 lands elsewhere
  again). theta differs in the 5th digit, so SE rtol 2e-4 and df within 0.1 (observed
  worst 1.2e-4 and 0.07).
* The second-order (R_ij) term itself is checked where the optimum does not matter: the
  ratio SE(KR) / SE(KR(LINEAR)) at the same theta, ours vs SAS's, rtol 1e-6 (observed
  worst 1e-7) for every structure.

Near misses asserted NOT matched: the unadjusted SE (no Kenward-Roger), W from the
EXPECTED information (Kenward & Roger 1997, pbkrtest) instead of the observed one (SAS),
and KR(LINEAR) where full KR is asked (nonlinear structures, via the ratio). Not a near
miss: for a single contrast the KR df equal the Satterthwaite df with the same W (KR 1997
section 4 with l = 1 reduces to 2/A1); SAS's kr_* and kr1_* df are identical, and
``fit_mmrm``'s satterthwaite df equal its KR df (asserted below).
"""
from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrostudy.models.kenward_roger import KRPieces, kenward_roger

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1].parent / "shared" / "mmrm"
_spec = importlib.util.spec_from_file_location("kr_support_sas", HERE / "test_kenward_roger_support.py")
sup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sup)

if not (SHARED / "fev_data.csv").is_file():
    pytest.skip(f"SAS reference folder {SHARED} is absent (see its README); skipping SAS KR tests", allow_module_level=True)

#: our structure name -> SAS file suffix / case id suffix
SAS_NAME = {"us": "us", "cs": "cs", "toep": "toep", "ar1": "ar1", "csh": "csh", "ar1h": "arh1", "toeph": "toeph", "adh": "adh"}
SAS_AT_OPTIMUM = {"cs", "ar1", "toeph"}
#: SAS -2RLL minus ours (fev_data, this model): how far SAS stopped from the optimum
SAS_EARLY_STOP = {"us": 7.6e-6, "toep": 6.9e-7, "csh": 1.04e-5, "ar1h": 1.56e-6, "adh": 1.30e-5}
NONLINEAR = {"ar1", "csh", "ar1h", "toeph", "adh"}
L = np.array([0.0, 1.0])  # TRT - PBO with columns (Intercept, TRT), PBO the reference


def _tol(name):
    return (2e-6, 1e-3) if name in SAS_AT_OPTIMUM else (2e-4, 0.1)


@functools.lru_cache(maxsize=None)
def _sas(name):
    f = SAS_NAME[name]
    kr = pd.read_csv(SHARED / "sas_ods_csv" / "ddfm_covtype" / f"kr_{f}.csv").iloc[0]
    kr1 = pd.read_csv(SHARED / "sas_ods_csv" / "ddfm_covtype" / f"kr1_{f}.csv").iloc[0]
    cases = {c["id"]: c for c in json.loads((SHARED / "sas_reference.json").read_text())["cases"]}
    return kr, kr1, cases[f"kr_{f}"], cases[f"kr1_{f}"]


@functools.lru_cache(maxsize=None)
def _data():
    d = pd.read_csv(SHARED / "fev_data.csv").dropna(subset=["FEV1"])
    d = d.assign(t=d["AVISIT"].str[-1].astype(int) - 1)
    X = np.column_stack([np.ones(len(d)), (d["ARMCD"] == "TRT").to_numpy(float)])
    return d, sup.by_pattern(d, subject="USUBJID", time_index="t", response="FEV1", X=X)


@functools.lru_cache(maxsize=None)
def _own_fit(name):
    _, pats = _data()
    s = sup.SAS_STRUCTURES[name](4)
    theta = sup.fit_reml([s], pats, s.start(np.diag([110.0, 40.0, 30.0, 150.0]) + 10.0))
    m2, beta, _ = sup.reml_terms([s], theta, pats)
    pieces = sup.pieces_from([s], theta, pats, KRPieces, beta=beta)
    return dict(
        structure=s,
        theta=theta,
        m2=m2,
        beta=beta,
        kr=kenward_roger(pieces),
        kr1=kenward_roger(pieces, linear=True),
        kr_expected=kenward_roger(pieces, information="expected"),
    )


def _se(res, Lm=L):
    return float(np.sqrt(Lm @ res.vcov @ Lm))


@pytest.mark.parametrize("name", list(SAS_NAME))
def test_own_fit_reaches_sas_optimum(name):
    fit = _own_fit(name)
    _, _, case, _ = _sas(name)
    gap = case["neg2_loglik"] - fit["m2"]
    assert -1e-7 <= gap <= SAS_EARLY_STOP.get(name, 0.0) + 1e-7
    printed = {p["cov_parm"]: p["estimate"] for p in case["covariance_parameters"]}
    ours = dict(zip(fit["structure"].param_names, fit["theta"]))
    assert set(printed) == set(ours)  # SAS's parameters, SAS's names
    # 1e-3 relative (issue 5); near-zero covariances (UN(4,3) = -2.70 among variances ~150)
    # carry the absolute error of the large ones where SAS stopped early: 1e-4 of the largest
    scale = max(abs(v) for v in printed.values())
    for k, v in printed.items():
        assert ours[k] == pytest.approx(v, rel=1e-3, abs=max(5e-5, 1e-4 * scale if name in SAS_EARLY_STOP else 0))


@pytest.mark.parametrize("name", list(SAS_NAME))
def test_kr_and_kr_linear_match_sas_full_precision(name):
    fit = _own_fit(name)
    kr, kr1, _, _ = _sas(name)
    se_rtol, df_atol = _tol(name)
    assert fit["beta"][1] == pytest.approx(kr.Estimate, rel=se_rtol / 2)
    assert _se(fit["kr"]) == pytest.approx(kr.StdErr, rel=se_rtol)
    assert _se(fit["kr1"]) == pytest.approx(kr1.StdErr, rel=se_rtol)
    assert fit["kr"].dof(L)[0] == pytest.approx(kr.DF, abs=df_atol)
    assert fit["kr1"].dof(L)[0] == pytest.approx(kr1.DF, abs=df_atol)
    assert kr.DF == kr1.DF  # SAS: the df do not involve the second-order term
    # near misses: unadjusted SE; W from the expected information
    unadj = float(np.sqrt(L @ fit["kr"].vcov_unadjusted @ L))
    assert abs(unadj / kr.StdErr - 1) > 5 * se_rtol
    assert abs(_se(fit["kr_expected"]) / kr.StdErr - 1) > 4 * se_rtol
    assert abs(fit["kr_expected"].dof(L)[0] - kr.DF) > 3 * df_atol


@pytest.mark.parametrize("name", list(SAS_NAME))
def test_second_order_term_in_sas_parameterization(name):
    """SE(KR) / SE(KR(LINEAR)) at one theta: ours vs SAS's (independent of where SAS stopped)."""
    fit = _own_fit(name)
    kr, kr1, _, _ = _sas(name)
    ours = _se(fit["kr"]) / _se(fit["kr1"])
    sas = kr.StdErr / kr1.StdErr
    assert ours == pytest.approx(sas, rel=1e-6)
    if name in NONLINEAR:  # near miss: KR(LINEAR) where KR is asked
        assert abs(sas - 1.0) > 50 * abs(ours - sas)
    else:
        assert sas == 1.0 and ours == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("name", list(SAS_NAME))
@pytest.mark.parametrize("variant", ["kr", "kr1"])
def test_printed_listing(name, variant):
    """Fixed effects and LS-means as printed (4 decimals; df as integers) in the KR listings."""
    fit = _own_fit(name)
    _, _, case_kr, case_kr1 = _sas(name)
    case = case_kr if variant == "kr" else case_kr1
    res = fit[variant]
    se_rtol, df_atol = _tol(name)
    rows = {
        ("fixed", "Intercept"): np.array([1.0, 0.0]),
        ("fixed", "TRT"): np.array([0.0, 1.0]),
        ("lsmean", "TRT"): np.array([1.0, 1.0]),
        ("lsmean", "PBO"): np.array([1.0, 0.0]),
    }
    printed = {}
    for fe in case["fixed_effects"]:
        if fe["se"] is not None:
            printed[("fixed", fe["levels"].get("ARMCD", "Intercept"))] = fe
    for ls in case["lsmeans"]:
        printed[("lsmean", ls["levels"]["ARMCD"])] = ls
    assert set(printed) == set(rows)
    for key, Lr in rows.items():
        p = printed[key]
        half = 0.5 * 10.0 ** -len(p["printed"]["se"].split(".")[1])
        assert _se(res, Lr) == pytest.approx(p["se"], abs=half + se_rtol * p["se"]), key
        assert float(res.dof(Lr)[0]) == pytest.approx(p["df"], abs=0.5 + df_atol), key
        assert float(Lr @ fit["beta"]) == pytest.approx(p["estimate"], abs=0.5e-4 + 5e-5 * abs(p["estimate"])), key


def test_spatial_kr_cases_are_out_of_scope():
    cases = {c["id"]: c for c in json.loads((SHARED / "sas_reference.json").read_text())["cases"]}
    spatial = [k for k, c in cases.items() if "enward" in c["ddfm"] and c["covariance_sas_type"].startswith("SP(")]
    assert sorted(spatial) == ["kr1_spexp", "kr_spexp", "sas_sp_gau_kr_run1", "sas_sp_gau_kr_run2"]
    # SP(EXP)/SP(GAU) use per-observation coordinates (VISITN2 differs by subject), which the
    # pattern-based pieces do not describe; reported, not silently passed.
    print("not run (spatial structures, per-subject coordinates):", ", ".join(spatial))


# --------------------------------------------------------------------------- through fit_mmrm
def _engine():
    try:
        from retrostudy.models.mmrm import fit_mmrm
    except ImportError as exc:  # pragma: no cover
        pytest.skip(f"fit_mmrm is not importable: {exc}")
    return fit_mmrm


@functools.lru_cache(maxsize=None)
def _engine_fit(name, df_method):
    fit_mmrm = _engine()
    d, _ = _data()
    return fit_mmrm(
        d, covariance=name, mean="ARMCD", df_method=df_method, columns={'subject': "USUBJID", 'visit': "AVISIT", 'arm': "ARMCD", 'response': "FEV1"},
        baseline="none", reference_levels={"ARMCD": "PBO"},
        factors={"ARMCD": ["PBO", "TRT"], "AVISIT": ["VIS1", "VIS2", "VIS3", "VIS4"]},
    )


def _engine_L(fit):
    return np.array([1.0 if "TRT" in c else 0.0 for c in fit.coef.index])


@pytest.mark.parametrize("name", list(SAS_NAME))
def test_fit_mmrm_kenward_roger_matches_sas(name):
    kr, kr1, _, _ = _sas(name)
    se_rtol, df_atol = _tol(name)
    a = _engine_fit(name, "kenward-roger")
    b = _engine_fit(name, "kenward-roger-linear")
    ra, rb = a.linear(_engine_L(a)), b.linear(_engine_L(b))
    assert ra["std_error"][0] == pytest.approx(kr.StdErr, rel=se_rtol)
    assert rb["std_error"][0] == pytest.approx(kr1.StdErr, rel=se_rtol)
    assert ra["df"][0] == pytest.approx(kr.DF, abs=df_atol)
    assert rb["df"][0] == pytest.approx(kr1.DF, abs=df_atol)
    assert ra["std_error"][0] / rb["std_error"][0] == pytest.approx(kr.StdErr / kr1.StdErr, rel=1e-6)
    # same W in both: single-contrast KR df == Satterthwaite df (not a near miss, a property)
    s = _engine_fit(name, "satterthwaite")
    rs = s.linear(_engine_L(s))
    assert rs["df"][0] == pytest.approx(ra["df"][0], rel=1e-8)
    assert abs(rs["std_error"][0] / kr.StdErr - 1) > 5 * se_rtol  # near miss: unadjusted SE
