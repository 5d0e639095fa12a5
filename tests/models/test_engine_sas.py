"""fit_mmrm against SAS PROC MIXED, table-driven over ../shared/mmrm/sas_reference.json.

Reference: 85 PROC MIXED listings published with the R package mmrm (Apache-2.0),
transcribed into ../shared/mmrm (not committed here; the tests skip with the reason
printed when the folder is absent). Tolerances, the cases where SAS stopped early, the
one known gap and the near misses are data: tests/reference/sas/tolerances.json, with
the reason of each. Every case prints why it is skipped (`pytest -ra`).
"""
from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrostudy.errors import ModelError
from retrostudy.models.mmrm import fit_mmrm, type3_tests
from retrostudy.models.reml import evaluate

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("engine_sas_support", HERE / "test_engine_sas_support.py")
sup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sup)

if not sup.available():
    pytest.skip(f"SAS reference data not found at {sup.SHARED} (../shared/mmrm relative to the project root)",
                allow_module_level=True)

TOL = json.loads(sup.TOL_FILE.read_text())
T = TOL["tolerances"]
EARLY = set(TOL["sas_stopped_early"]["cases"])
REFUSED = TOL["refused"]
GAPS = TOL["not_reproduced"]
CASES = sup.cases()
IDS = sorted(CASES)


def _fit(cid):
    case = CASES[cid]
    reason = sup.skip_reason(case)
    if reason:
        pytest.skip(f"{cid}: {reason}")
    if cid in REFUSED:
        pytest.skip(f"{cid}: refused by design ({REFUSED[cid]}); see test_refused")
    return sup.fit_quietly(cid)


def _allowed(sas: float, printed: str, units: float, rtol: float) -> float:
    return max(rtol * abs(sas), units * 2.0 * sup.half_unit(printed))


@pytest.mark.parametrize("cid", sorted(REFUSED))
def test_refused(cid):
    """SAS did not converge; the likelihood is unbounded: we refuse with ModelError."""
    assert not CASES[cid]["converged"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ModelError, match="no interior maximum"):
            sup.run(cid)


@pytest.mark.parametrize("cid", IDS)
def test_neg2_loglik(cid):
    fit = _fit(cid)
    sas = CASES[cid]["neg2_loglik"]
    ours = fit.fit_stats["minus2_loglik"]
    np.testing.assert_allclose(ours, sas, rtol=T["neg2_loglik"]["rtol"])
    assert fit.converged and fit.fit_stats["hessian_pd"]
    if cid in EARLY:  # SAS stopped above the optimum: ours must not be worse
        assert ours <= sas + 1e-9 * abs(sas)


@pytest.mark.parametrize("cid", IDS)
def test_neg2_loglik_at_sas_theta(cid):
    fit = _fit(cid)
    case = CASES[cid]
    eng = fit.details.engine
    theta = np.array([p["estimate"] for p in case["covariance_parameters"]])
    assert list(eng.theta_names) == [p["cov_parm"] for p in case["covariance_parameters"]]
    ev = evaluate(eng.problem, eng.structure, theta, eng.method)
    np.testing.assert_allclose(ev.f, case["neg2_loglik"], rtol=T["neg2_loglik_at_sas_theta"]["rtol"])


@pytest.mark.parametrize("cid", IDS)
def test_covariance_parameters(cid):
    fit = _fit(cid)
    case = CASES[cid]
    ours = fit.details.theta.to_numpy()
    sas = np.array([p["estimate"] for p in case["covariance_parameters"]])
    rtol = T["cov_parm_stopped_early" if cid in EARLY else "cov_parm"]["rtol"]
    floor = T["cov_parm"]["floor"]
    names = [p["cov_parm"] for p in case["covariance_parameters"]]
    corr = np.array([n.startswith(("Rho", "AR", "CSH", "TOEPH")) for n in names])
    med = np.median(np.abs(sas[~corr])) if np.any(~corr) else 1.0
    scale = np.where(corr, np.maximum(np.abs(sas), floor), np.maximum(np.abs(sas), floor * med))
    assert np.all(np.abs(ours - sas) <= rtol * scale), (names, ours, sas)


def _fixed_rows(case):
    return [fe for fe in (case["fixed_effects"] or []) if fe["se"] is not None]


@pytest.mark.parametrize("cid", IDS)
def test_fixed_effects(cid):
    fit = _fit(cid)
    case = CASES[cid]
    idx = sup.column_index(fit)
    res = fit.linear(np.eye(len(fit.coef)))
    rows = _fixed_rows(case)
    assert len(rows) == len(fit.coef)
    tol = T["estimate_se"]
    for fe in rows:
        j = idx[sup.column_key(fe["effect"], fe["levels"])]
        est, se = res["estimate"][j], res["std_error"][j]
        if cid in EARLY:
            frac = T["estimate_se_stopped_early"]["se_fraction"]
            assert abs(est - fe["estimate"]) <= frac * fe["se"] + 2 * sup.half_unit(fe["printed"]["estimate"])
            assert abs(se - fe["se"]) <= frac * fe["se"] + 2 * sup.half_unit(fe["printed"]["se"])
        else:
            assert abs(est - fe["estimate"]) <= _allowed(fe["estimate"], fe["printed"]["estimate"], tol["units"],
                                                         tol["rtol"]), (fe, est)
            assert abs(se - fe["se"]) <= _allowed(fe["se"], fe["printed"]["se"], tol["units"], tol["rtol"]), (fe, se)
        if fe["df"] is not None and not (cid in GAPS and "df" in GAPS[cid]["quantities"]):
            assert abs(res["df"][j] - fe["df"]) <= T["df_printed"]["atol"], (fe, res["df"][j])


@pytest.mark.parametrize("cid", sorted(EARLY))
def test_fixed_effects_at_sas_theta(cid):
    """Early stops: at SAS's own theta we reproduce SAS's model-based estimates and SEs."""
    fit = _fit(cid)
    case = CASES[cid]
    eng = fit.details.engine
    theta = np.array([p["estimate"] for p in case["covariance_parameters"]])
    ev = evaluate(eng.problem, eng.structure, theta, eng.method)
    idx = sup.column_index(fit)
    units = T["estimate_se_at_sas_theta"]["units"]
    for fe in _fixed_rows(case):
        j = idx[sup.column_key(fe["effect"], fe["levels"])]
        assert abs(ev.beta[j] - fe["estimate"]) <= _allowed(fe["estimate"], fe["printed"]["estimate"], units, 0)
        if case["se_method"] == "Model-Based" and not case["ddfm"].startswith("Kenward"):
            se = np.sqrt(ev.Ainv[j, j])
            assert abs(se - fe["se"]) <= _allowed(fe["se"], fe["printed"]["se"], units, 0)


def _type3_row(table, effect):
    key = sorted(effect.split("*"))
    for _, row in table.iterrows():
        if sorted(row["term"].split(":")) == key:
            return row
    raise AssertionError(f"no term {effect}")


@pytest.mark.parametrize("cid", [c for c in IDS if CASES[c]["type3_tests"]])
def test_type3(cid):
    fit = _fit(cid)
    table = type3_tests(fit)
    for t in CASES[cid]["type3_tests"]:
        row = _type3_row(table, t["effect"])
        assert row["num_df"] == t["num_df"]
        if cid in EARLY:
            np.testing.assert_allclose(row["statistic"], t["f"], rtol=T["type3_f"]["rtol_stopped_early"], atol=0.01)
        else:
            assert abs(row["statistic"] - t["f"]) <= _allowed(t["f"], t["printed"]["f"], T["type3_f"]["units"], 0)
        if not (cid in GAPS and "df" in GAPS[cid]["quantities"]):
            assert abs(row["den_df"] - t["den_df"]) <= T["df_printed"]["atol"], (t, row)


def _check_linear(fit, cid, rows, make_L):
    tol = T["estimate_se"]
    for ls in rows:
        r = fit.linear(make_L(ls["levels"]))
        est, se, df = r["estimate"][0], r["std_error"][0], r["df"][0]
        if cid in EARLY:
            frac = T["estimate_se_stopped_early"]["se_fraction"]
            assert abs(est - ls["estimate"]) <= frac * ls["se"] + 2 * sup.half_unit(ls["printed"]["estimate"])
            assert abs(se - ls["se"]) <= frac * ls["se"] + 2 * sup.half_unit(ls["printed"]["se"])
        else:
            assert abs(est - ls["estimate"]) <= _allowed(ls["estimate"], ls["printed"]["estimate"], tol["units"],
                                                         tol["rtol"])
            assert abs(se - ls["se"]) <= _allowed(ls["se"], ls["printed"]["se"], tol["units"], tol["rtol"])
        if not (cid in GAPS and "df" in GAPS[cid]["quantities"]):
            assert abs(df - ls["df"]) <= T["df_printed"]["atol"], (ls, df)


@pytest.mark.parametrize("cid", [c for c in IDS if CASES[c]["lsmeans"]])
def test_lsmeans_and_differences(cid):
    fit = _fit(cid)
    case = CASES[cid]
    _check_linear(fit, cid, case["lsmeans"], lambda lv: sup.lsmean_row(fit, lv))

    def diff(lv):
        a = {k: v for k, v in lv.items() if not k.startswith("_")}
        b = {k[1:]: v for k, v in lv.items() if k.startswith("_")}
        return sup.lsmean_row(fit, a) - sup.lsmean_row(fit, b)

    _check_linear(fit, cid, case["lsmean_differences"] or [], diff)


def _ods_ids():
    out = []
    for c in IDS:
        if c.startswith(("kr_", "kr1_")) or (c.startswith("empirical_") and CASES[c]["converged"]):
            out.append(c)
    return out


@pytest.mark.parametrize("cid", _ods_ids())
def test_ods_full_precision(cid):
    """Kenward-Roger (ddfm_covtype) and EMPIRICAL (Robust) ODS tables at full precision."""
    fit = _fit(cid)
    ods = sup.SHARED / "sas_ods_csv"
    path = ods / "ddfm_covtype" / f"{cid}.csv" if cid.startswith("kr") else ods / "Robust" / f"{cid}_lsmean.csv"
    o = pd.read_csv(path).iloc[0]
    r = fit.linear(sup.lsmean_row(fit, {"ARMCD": "TRT"}) - sup.lsmean_row(fit, {"ARMCD": "PBO"}))
    early = cid in EARLY
    rtol = T["ods_rel"]["rtol_stopped_early" if early else "rtol"]
    np.testing.assert_allclose(r["estimate"][0], o["Estimate"], rtol=rtol)
    np.testing.assert_allclose(r["std_error"][0], o["StdErr"], rtol=rtol)
    if early:
        np.testing.assert_allclose(r["df"][0], o["DF"], atol=T["df_ods"]["atol_stopped_early"])
    else:
        np.testing.assert_allclose(r["df"][0], o["DF"], rtol=T["df_ods"]["rtol"])
    if cid.startswith("empirical"):
        cb = pd.read_csv(ods / "Robust" / f"{cid}_covb.csv")
        np.testing.assert_allclose(fit.vcov.to_numpy(), cb[["Col1", "Col2"]].to_numpy()[:2], rtol=rtol)


@pytest.mark.parametrize("model", sup.reference()["anova_csv_cases"], ids=lambda m: m["id"])
def test_type3_anova_csv(model):
    """Full-precision Type 3 tests (AR(1), REML, Satterthwaite) from sas_ods_csv/anova."""
    rhs = {"FEV1 ~ ARMCD * FEV1_BL + ar1(AVISIT | USUBJID)": "ARMCD * FEV1_BL",
           "FEV1 ~ ARMCD * SEX + ARMCD * FEV1_BL - FEV1_BL + ar1(AVISIT | USUBJID)": "ARMCD * SEX + ARMCD:FEV1_BL"}
    fit = fit_mmrm(sup.fev_data(), columns={'response': "FEV1", 'subject': "USUBJID", 'visit': "AVISIT", 'arm': None},
                   mean=rhs[model["mmrm_formula"]], baseline="none", covariance="ar1")
    table = type3_tests(fit)
    for t in model["type3_tests"]:
        row = _type3_row(table, t["Effect"])
        assert row["num_df"] == t["NumDF"]
        np.testing.assert_allclose(row["statistic"], t["FValue"], rtol=1e-5)
        np.testing.assert_allclose(row["den_df"], t["DenDF"], rtol=1e-5)


# ------------------------------------------------------------------ canonical case, near misses
def _vis4_diff(fit):
    return fit.linear(sup.lsmean_row(fit, {"ARMCD": "TRT", "AVISIT": "VIS4"})
                      - sup.lsmean_row(fit, {"ARMCD": "PBO", "AVISIT": "VIS4"}))


def test_canonical_case():
    """FEV1 ~ RACE + SEX + ARMCD*AVISIT, UN, REML, Satterthwaite (issue 5)."""
    fit = sup.fit_quietly("sas_log_reml")
    np.testing.assert_allclose(fit.fit_stats["minus2_loglik"], 3386.44987722, rtol=1e-8)
    r = _vis4_diff(fit)
    assert abs(r["estimate"][0] - 4.3985) <= 1e-3 * 1.6805
    assert abs(r["std_error"][0] - 1.6805) <= 1e-3 * 1.6805
    assert abs(r["df"][0] - 133) <= 0.5


def test_near_miss_ml_instead_of_reml():
    ml = sup.fit_quietly("sas_log_reml", method="ml")
    assert not np.isclose(ml.fit_stats["minus2_loglik"], 3386.44987722, rtol=1e-3)
    np.testing.assert_allclose(ml.fit_stats["minus2_loglik"], CASES["sas_log"]["neg2_loglik"], rtol=1e-8)
    assert abs(_vis4_diff(ml)["std_error"][0] - 1.6805) > 5e-3


def test_near_miss_residual_df():
    res = sup.fit_quietly("sas_log_reml", df_method="residual")
    df = _vis4_diff(res)["df"][0]
    assert df == 537 - 11 and abs(df - 133) > 100


def test_near_miss_cs_instead_of_us():
    cs = sup.fit_quietly("sas_log_reml", covariance="cs")
    assert abs(cs.fit_stats["minus2_loglik"] - 3386.44987722) > 100
    assert abs(_vis4_diff(cs)["std_error"][0] - 1.6805) > 1e-2


@pytest.mark.parametrize("cid", IDS)
def test_fit_statistics(cid):
    """AIC/BIC as SAS: REML counts covariance parameters only, ML adds the fixed effects;
    BIC uses the number of subjects in the data (SAS's "Subjects", 200, also those
    without any FEV1)."""
    fit = _fit(cid)
    fs = CASES[cid]["fit_statistics"]
    assert abs(fit.fit_stats["aic"] - fs["AIC (Smaller is Better)"]) <= 0.051
    assert abs(fit.fit_stats["bic"] - fs["BIC (Smaller is Better)"]) <= 0.051
