"""fit_lmm against lme4 / lmerTest / pbkrtest / emmeans (tests/reference/lmm/make_lmer.R).

Tolerances (relative) and why:
- -2 log L 1e-9: lme4's two optimizers agree to 1e-15 on it (``optimizer_agreement``).
- fixed effects and SEs 1e-6: both sides solve the same GLS at optima that agree to
  < 3e-6 in the variance components; the estimates' sensitivity to them is smaller.
- variance components 2e-5: lme4's own nloptwrap and bobyqa answers differ by up to 2.6e-6.
- Satterthwaite df 1e-5: lmerTest differentiates numerically (numDeriv); observed 3e-7.
- Kenward-Roger df and SE 1e-5 / 1e-6: pbkrtest uses the expected information
  (``information="expected"``); matched to ~3e-8.
Near misses asserted NOT matched: ML where REML is asked (and back), residual df where
Satterthwaite / KR df are asked, and statsmodels' non-converged optimum on dietox.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.models.lmm import fit_lmm

REF = Path(__file__).resolve().parents[1] / "reference" / "lmm"
TOL = {"m2ll": 1e-9, "est": 1e-6, "se": 1e-6, "vc": 2e-5, "df": 1e-5}

#: R's VarCorr names -> ours
VC_NAMES = {"var((Intercept))": "var(Intercept)", "residual": "Residual"}


def _vc_name(name: str) -> str:
    if name in VC_NAMES:
        return VC_NAMES[name]
    return "cov(Intercept,slope)" if name.startswith("cov(") else "var(slope)"


def ref(case: str) -> dict:
    return json.loads((REF / f"lmer_{case}.json").read_text())


@functools.lru_cache(maxsize=None)
def dietox() -> pd.DataFrame:
    return pd.read_csv(REF / "dietox.csv")


def dietox_canonical() -> pd.DataFrame:
    d = dietox()
    frame = pd.DataFrame({
        "subject_id": d["Pig"].astype(str),
        "arm": pd.Categorical("evit" + d["Evit"].astype(str), categories=["evit1", "evit2", "evit3"]),
        "visit": pd.Categorical("week" + d["Time"].astype(str), categories=[f"week{i}" for i in range(1, 13)],
                                ordered=True),
        "week": d["Time"].astype(float), "outcome": "weight", "value": d["Weight"],
    })
    return frame


# case -> (data factory, fit_lmm keyword arguments)
CASES = {
    "sleepstudy_ri": (lambda: pd.read_csv(REF / "sleepstudy.csv"),
                      dict(columns={'response': "Reaction", 'subject': "Subject", 'time': "Days"}, mean="Days", baseline="none")),
    "sleepstudy_rs": (lambda: pd.read_csv(REF / "sleepstudy.csv"),
                      dict(columns={'response': "Reaction", 'subject': "Subject", 'time': "Days"}, mean="Days", baseline="none",
                           random="intercept+slope")),
    "dietox_ri": (dietox, dict(columns={'response': "Weight", 'subject': "Pig", 'time': "Time"}, mean="Time", baseline="none")),
    "dietox_rs": (dietox, dict(columns={'response': "Weight", 'subject': "Pig", 'time': "Time"}, mean="Time", baseline="none",
                               random="intercept+slope")),
    "dietox_armvisit_ri": (dietox_canonical, dict(outcome="weight", baseline="none", reference_arm="evit1")),
    "dietox_armvisit_rs": (dietox_canonical, dict(outcome="weight", baseline="none", reference_arm="evit1",
                                                  random="intercept+slope")),
    "dietox_armvisit_base_ri": (dietox_canonical, dict(outcome="weight", baseline="covariate",
                                                       reference_arm="evit1")),
}
EMM_CASES = [c for c in CASES if c.startswith("dietox_armvisit")]


@functools.lru_cache(maxsize=None)
def fitted(case: str, **kw) -> rs.ModelFit:
    make, base = CASES[case]
    return fit_lmm(make(), **{**base, **kw})


def fitted_kw(case: str, df_method: str = "satterthwaite", method: str = "reml", information: str = "observed"):
    return fitted(case, df_method=df_method, method=method, information=information)


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def assert_cov_close(ours, theirs, tol):
    """Covariance matrices equal on the correlation scale: |a_ij - b_ij| <= tol sqrt(b_ii b_jj)
    (a near-zero covariance has no meaningful relative error)."""
    d = np.sqrt(np.diag(theirs))
    assert ours.shape == theirs.shape
    assert np.max(np.abs(ours - theirs) / np.outer(d, d)) <= tol


def varcomp(fit) -> pd.Series:
    return fit.residual_covariance["estimate"]


def ref_varcomp(block: dict) -> pd.Series:
    return pd.Series(block["varcomp"]["value"], index=[_vc_name(n) for n in block["varcomp"]["name"]])


def check_terms(fit, r_terms):
    """Our columns are R's model.matrix columns in the same order."""
    ours = [t.replace("[", "").replace("]", "") for t in fit.coef.index]
    theirs = [t.replace("(Intercept)", "Intercept") for t in r_terms]
    assert ours == theirs


@pytest.mark.parametrize("case", list(CASES))
def test_reml_satterthwaite_matches_lmerTest(case):
    r = ref(case)["reml"]
    fit = fitted_kw(case)
    tab = fit.table
    fx = r["fixed_satterthwaite"]
    check_terms(fit, fx["term"])
    assert fit.model == "lmm" and fit.converged
    np.testing.assert_allclose(fit.fit_stats["minus2_loglik"], r["minus2_loglik"], rtol=TOL["m2ll"])
    np.testing.assert_allclose(tab["estimate"], fx["estimate"], rtol=TOL["est"], atol=1e-9)
    np.testing.assert_allclose(tab["std_error"], fx["std_error"], rtol=TOL["se"])
    np.testing.assert_allclose(tab["df"], fx["df"], rtol=TOL["df"])
    np.testing.assert_allclose(tab["p_value"], fx["p_value"], rtol=1e-4, atol=1e-12)
    rv = ref_varcomp(r)
    np.testing.assert_allclose(varcomp(fit)[rv.index], rv, rtol=TOL["vc"])
    assert_cov_close(fit.vcov.to_numpy(), np.array(r["vcov"]), 1e-5)
    # near misses: the ML optimum, the residual df
    ml = ref(case)["ml"]
    assert rel(fit.fit_stats["minus2_loglik"], ml["minus2_loglik"]) > 100 * TOL["m2ll"]
    assert rel(varcomp(fit)[rv.index], ref_varcomp(ml)) > 10 * TOL["vc"]
    assert rel(tab["df"], np.full(len(tab), ref(case)["near_miss"]["residual_df"])) > 0.05


@pytest.mark.parametrize("case", list(CASES))
def test_ml_matches_lmer(case):
    r = ref(case)["ml"]
    fit = fitted_kw(case, method="ml")
    tab = fit.table
    fx = r["fixed_satterthwaite"]
    np.testing.assert_allclose(fit.fit_stats["minus2_loglik"], r["minus2_loglik"], rtol=TOL["m2ll"])
    np.testing.assert_allclose(tab["estimate"], fx["estimate"], rtol=TOL["est"], atol=1e-9)
    np.testing.assert_allclose(tab["std_error"], fx["std_error"], rtol=TOL["se"])
    np.testing.assert_allclose(tab["df"], fx["df"], rtol=TOL["df"])
    rv = ref_varcomp(r)
    np.testing.assert_allclose(varcomp(fit)[rv.index], rv, rtol=TOL["vc"])
    assert fit.fit_stats["method"] == "ml"
    reml = ref(case)["reml"]  # near miss: REML where ML is asked
    assert rel(fit.fit_stats["minus2_loglik"], reml["minus2_loglik"]) > 100 * TOL["m2ll"]
    assert rel(tab["std_error"], reml["fixed_satterthwaite"]["std_error"]) > 10 * TOL["se"]


@pytest.mark.parametrize("case", list(CASES))
def test_kenward_roger_expected_information_matches_pbkrtest(case):
    r = ref(case)["reml"]
    fit = fitted_kw(case, df_method="kenward-roger", information="expected")
    tab = fit.table
    fx = r["fixed_kenward_roger"]
    np.testing.assert_allclose(tab["std_error"], fx["std_error"], rtol=TOL["se"])
    np.testing.assert_allclose(tab["df"], fx["df"], rtol=TOL["df"])
    assert_cov_close(fit.vcov.to_numpy(), np.array(r["vcov_kenward_roger"]), 1e-5)
    assert rel(tab["df"], np.full(len(tab), ref(case)["near_miss"]["residual_df"])) > 0.05


@pytest.mark.parametrize("case", ["dietox_ri", "dietox_rs", "dietox_armvisit_rs", "dietox_armvisit_base_ri"])
def test_kenward_roger_observed_information_is_satterthwaite_df(case):
    """With one contrast, KR's df is the Satterthwaite df with the same W (Kenward & Roger
    1997, sec. 4): the SAS-style default (observed W) therefore reproduces lmerTest's df,
    and differs from pbkrtest's expected-information df by more than the tolerance."""
    r = ref(case)["reml"]
    tab = fitted_kw(case, df_method="kenward-roger").table
    np.testing.assert_allclose(tab["df"], r["fixed_satterthwaite"]["df"], rtol=TOL["df"])
    assert rel(tab["df"], r["fixed_kenward_roger"]["df"]) > 5 * TOL["df"]


def test_dietox_random_slope_reaches_lme4_optimum_not_statsmodels():
    sm = json.loads((REF / "dietox_statsmodels.json").read_text())["fits"]["dietox_rs"]
    fit = fitted_kw("dietox_rs")
    m2 = fit.fit_stats["minus2_loglik"]
    np.testing.assert_allclose(-m2 / 2, -2217.047459, atol=5e-7)  # lme4's logLik, as printed
    assert m2 <= ref("dietox_rs")["reml"]["minus2_loglik"] + 1e-8
    assert m2 < sm["minus2_loglik"] - 6.0  # statsmodels 0.15 stops at -2 log L 4440.78
    assert fit.fit_stats["hessian_pd"] and fit.fit_stats["gradient_norm"] < 1e-4


def _merge(ours: pd.DataFrame, theirs: dict, keys: list[str]) -> pd.DataFrame:
    t = pd.DataFrame(theirs).rename(columns={"estimate": "estimate_r", "std_error": "std_error_r", "df": "df_r",
                                            "p_value": "p_value_r"})
    out = ours.merge(t, on=keys, how="inner")
    assert len(out) == len(t) == len(ours)
    return out


@pytest.mark.parametrize("case", EMM_CASES)
@pytest.mark.parametrize("df_method", ["satterthwaite", "kenward-roger"])
def test_emmeans_and_contrasts_match_R_emmeans(case, df_method):
    key = "emmeans_satterthwaite" if df_method == "satterthwaite" else "emmeans_kenward_roger"
    info = "expected" if df_method == "kenward-roger" else "observed"
    fit = fitted_kw(case, df_method=df_method, information=info)
    emm = rs.emmeans(fit)
    theirs = ref(case)[key]
    m = _merge(emm.to_frame(), {k: theirs["emmeans"][k] for k in ("arm", "visit", "estimate", "std_error", "df")},
               ["arm", "visit"])
    np.testing.assert_allclose(m["estimate"], m["estimate_r"], rtol=TOL["est"])
    np.testing.assert_allclose(m["std_error"], m["std_error_r"], rtol=TOL["se"])
    np.testing.assert_allclose(m["df"], m["df_r"], rtol=TOL["df"])
    con = rs.contrasts(emm, family="trt_vs_ref")
    c = _merge(con.to_frame(), {k: theirs["contrasts"][k] for k in ("contrast", "visit", "estimate", "std_error", "df", "p_value")},
               ["contrast", "visit"])
    np.testing.assert_allclose(c["estimate"], c["estimate_r"], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(c["std_error"], c["std_error_r"], rtol=TOL["se"])
    np.testing.assert_allclose(c["df"], c["df_r"], rtol=TOL["df"])
    np.testing.assert_allclose(c["p_value"], c["p_value_r"], rtol=1e-4)
    resid = ref(case)["near_miss"]["residual_df"]
    assert rel(c["df"], np.full(len(c), resid)) > 0.05
