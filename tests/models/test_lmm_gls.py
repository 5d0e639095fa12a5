"""Marginal models through fit_mmrm against nlme::gls + emmeans on Orthodont
(tests/reference/lmm/make_gls.R): distance ~ Sex * age, age as a factor, UN / CS / CSH /
AR(1) / ARH(1), on the full data and with 8 rows removed (dropout and a gap).

Tolerances (relative) and why:
- -2 log L 1e-9: nlme's own value equals the hand-computed SAS/lme4-convention value to
  1e-13 and the better of two nlme optimizers is kept.
- coefficients 1e-6, SEs 1e-5, covariance matrix 2e-5: nlme stops within ~1e-8 of the
  optimum of -2 log L (largest differences seen: SE 9.5e-7, covariance 3e-6).
- Satterthwaite df: emmeans approximates them for gls (numerical derivatives on nlme's
  numerical apVar; it prints "using appx-satterthwaite"), 3e-2 relative. The exact value is
  checked by hand instead where it is known: with complete balanced data and UN, a
  between-arm contrast at one visit is a two-sample t test, df = n_subjects - n_arms = 25.
Near misses asserted NOT matched: ML where REML is asked, nlme's N/(N-p)-scaled ML SEs
(not SAS's model-based ones), the residual df, and CS where UN is asked.
"""
from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.models.mmrm import fit_mmrm

REF = Path(__file__).resolve().parents[1] / "reference" / "lmm"
STRUCTURES = ["us", "cs", "csh", "ar1", "ar1h"]
DATASETS = ["orthodont", "orthodont_drop"]
TOL = {"m2ll": 1e-9, "est": 1e-6, "se": 1e-5, "cov": 2e-5, "df_appx": 3e-2}


def ref(data: str, structure: str) -> dict:
    return json.loads((REF / f"gls_{data}_{structure}.json").read_text())


def canonical(data: str) -> pd.DataFrame:
    o = pd.read_csv(REF / "orthodont.csv")
    if data == "orthodont_drop":
        dropped = ref(data, "us")["dropped"]
        gone = set(zip(dropped["Subject"], dropped["age"]))
        o = o.loc[[(s, a) not in gone for s, a in zip(o["Subject"], o["age"])]]
    frame = pd.DataFrame({
        "subject_id": o["Subject"], "arm": pd.Categorical(o["Sex"], categories=["Male", "Female"]),
        "visit": pd.Categorical("age" + o["age"].astype(str), categories=["age8", "age10", "age12", "age14"],
                                ordered=True),
        "week": o["age"].astype(float), "outcome": "distance", "value": o["distance"],
    })
    return frame.reset_index(drop=True)


@functools.lru_cache(maxsize=None)
def fitted(data: str, structure: str, method: str = "reml") -> rs.ModelFit:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every reference fit must converge cleanly
        return fit_mmrm(canonical(data), outcome="distance", covariance=structure, baseline="none",
                        reference_arm="Male", method=method)


def rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("data", DATASETS)
@pytest.mark.parametrize("method", ["reml", "ml"])
def test_fit_matches_gls(data, structure, method):
    r = ref(data, structure)
    block = r[method]
    fit = fitted(data, structure, method)
    assert [t.replace("[", "").replace("]", "") for t in fit.coef.index] == [
        t.replace("(Intercept)", "Intercept") for t in block["fixed"]["term"]]
    np.testing.assert_allclose(fit.fit_stats["minus2_loglik"], block["minus2_loglik"], rtol=TOL["m2ll"])
    np.testing.assert_allclose(block["convention_check"], 0.0, atol=1e-8)  # nlme's -2LL = SAS convention
    np.testing.assert_allclose(fit.coef, block["fixed"]["estimate"], rtol=TOL["est"], atol=1e-9)
    se = np.sqrt(np.diag(fit.vcov.to_numpy()))
    np.testing.assert_allclose(se, block["fixed"]["std_error_direct"], rtol=TOL["se"])
    np.testing.assert_allclose(fit.residual_covariance.to_numpy(), np.array(block["covariance"]), rtol=TOL["cov"])
    other = r["ml" if method == "reml" else "reml"]  # near miss: the other likelihood
    assert rel(fit.fit_stats["minus2_loglik"], other["minus2_loglik"]) > 1e-3
    if method == "ml":  # near miss: nlme's vcov(gls) under ML is scaled by N / (N - p)
        n, p = r["n_obs"], len(fit.coef)
        np.testing.assert_allclose(np.array(block["fixed"]["std_error"]) / se, np.sqrt(n / (n - p)), rtol=TOL["se"])
        assert rel(se, block["fixed"]["std_error"]) > 0.03


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("data", DATASETS)
def test_emmeans_match_gls_emmeans(data, structure):
    theirs = ref(data, structure)["reml"]["emmeans_satterthwaite"]
    fit = fitted(data, structure)
    emm = rs.emmeans(fit).to_frame()
    t = pd.DataFrame(theirs["emmeans"])
    m = emm.merge(t, on=["arm", "visit"], suffixes=("", "_r"))
    assert len(m) == len(t) == len(emm) == 8
    np.testing.assert_allclose(m["estimate"], m["estimate_r"], rtol=TOL["est"])
    np.testing.assert_allclose(m["std_error"], m["std_error_r"], rtol=TOL["se"])
    np.testing.assert_allclose(m["df"], m["df_r"], rtol=TOL["df_appx"])
    con = rs.contrasts(rs.emmeans(fit), family="trt_vs_ref").to_frame()
    c = con.merge(pd.DataFrame(theirs["contrasts"]), on=["contrast", "visit"], suffixes=("", "_r"))
    assert len(c) == 4
    np.testing.assert_allclose(c["estimate"], c["estimate_r"], rtol=1e-5)
    np.testing.assert_allclose(c["std_error"], c["std_error_r"], rtol=TOL["se"])
    np.testing.assert_allclose(c["df"], c["df_r"], rtol=TOL["df_appx"])
    resid = ref(data, structure)["near_miss"]["residual_df"]  # near miss: residual df (emmeans df.error)
    assert rel(c["df"], np.full(len(c), resid)) > 0.3


def test_balanced_un_contrast_df_is_exactly_two_sample_t_df():
    """Hand calculation: complete balanced data, UN, REML: the Male - Female difference at one
    visit is the two-sample t test at that visit, with n_subjects - 2 = 25 df exactly.
    (emmeans' approximation gives 24.36-25.17; the residual df would be 100.)"""
    fit = fitted("orthodont", "us")
    con = rs.contrasts(rs.emmeans(fit), family="trt_vs_ref").to_frame()
    # 1e-6: the REML optimum is met to g'H^-1 g < 1e-10, not exactly (observed 1.7e-7)
    np.testing.assert_allclose(con["df"], 25.0, rtol=1e-6)
    o = canonical("orthodont")
    for _, row in con.iterrows():  # and its SE is the pooled two-sample SE
        v = o.loc[o["visit"] == row["visit"]]
        g = [v.loc[v["arm"] == a, "value"].to_numpy() for a in ("Male", "Female")]
        sp2 = (((g[0] - g[0].mean()) ** 2).sum() + ((g[1] - g[1].mean()) ** 2).sum()) / (len(g[0]) + len(g[1]) - 2)
        np.testing.assert_allclose(row["std_error"], np.sqrt(sp2 * (1 / len(g[0]) + 1 / len(g[1]))), rtol=1e-6)
        np.testing.assert_allclose(abs(row["estimate"]), abs(g[1].mean() - g[0].mean()), rtol=1e-10)


@pytest.mark.parametrize("data", DATASETS)
def test_cs_is_a_near_miss_of_un(data):
    un, cs = ref(data, "us")["reml"], ref(data, "cs")["reml"]
    fit = fitted(data, "us")
    se = np.sqrt(np.diag(fit.vcov.to_numpy()))
    assert rel(fit.fit_stats["minus2_loglik"], cs["minus2_loglik"]) > 1e-2
    assert rel(se, cs["fixed"]["std_error_direct"]) > 1e-2
    assert rel(fit.residual_covariance.to_numpy(), np.array(cs["covariance"])) > 1e-2
    np.testing.assert_allclose(se, un["fixed"]["std_error_direct"], rtol=TOL["se"])
