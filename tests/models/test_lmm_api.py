"""fit_lmm's interface: arguments, refusals, the result object, and agreement with fit_mmrm."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.errors import SpecError
from retrostudy.models.lmm import fit_lmm
from retrostudy.models.mmrm import fit_mmrm

REF = Path(__file__).resolve().parents[1] / "reference" / "lmm"


def orthodont(weeks=(8, 10, 12, 14)) -> pd.DataFrame:
    o = pd.read_csv(REF / "orthodont.csv")
    o = o.loc[o["age"].isin(weeks)]
    return pd.DataFrame({
        "subject_id": o["Subject"], "arm": pd.Categorical(o["Sex"], categories=["Male", "Female"]),
        "visit": pd.Categorical("age" + o["age"].astype(str), categories=[f"age{w}" for w in weeks], ordered=True),
        "week": o["age"].astype(float), "outcome": "distance", "value": o["distance"],
    }).reset_index(drop=True)


def test_random_slope_with_two_visits_is_refused_with_a_sentence():
    two = orthodont((8, 14))
    with pytest.raises(SpecError, match="at least 3 distinct visit times"):
        fit_lmm(two, outcome="distance", random="intercept+slope", baseline="none")
    # baseline as covariate leaves 3 response visits of 4: fine; of 3: refused
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a boundary optimum; see test_optimum_on_the_boundary_is_never_silent
        fit_lmm(orthodont(), outcome="distance", random="intercept+slope", baseline="covariate")
    with pytest.raises(SpecError, match="at least 3"):
        fit_lmm(orthodont((8, 10, 12)), outcome="distance", random="intercept+slope", baseline="covariate")


def test_bad_arguments_raise_spec_errors():
    d = orthodont()
    with pytest.raises(SpecError, match="random must be"):
        fit_lmm(d, outcome="distance", random="slope only")
    with pytest.raises(SpecError, match="df_method"):
        fit_lmm(d, outcome="distance", df_method="containment")
    with pytest.raises(SpecError, match="Kenward-Roger needs method='reml'"):
        fit_lmm(d, outcome="distance", df_method="kenward-roger", method="ml")
    with pytest.raises(SpecError, match="not in the data"):
        fit_lmm(d, outcome="pain_nrs")
    jitter = d.copy()
    jitter.loc[0, "week"] = 8.5  # actual visit day differs from the schedule
    with pytest.raises(SpecError, match="varies within visit"):
        fit_lmm(jitter, outcome="distance", random="intercept+slope", baseline="none")
    fit_lmm(jitter, outcome="distance", baseline="none")  # a random intercept does not use time


def test_result_object():
    fit = fit_lmm(orthodont(), outcome="distance", random="intercept+slope", baseline="none",
                  reference_arm="Male")
    assert fit.model == "lmm" and fit.grid_factors == ("arm", "visit") and fit.reference_arm == "Male"
    vc = fit.residual_covariance
    assert list(vc.index) == ["var(Intercept)", "cov(Intercept,slope)", "var(slope)", "Residual"]
    assert list(vc.columns) == ["estimate", "std_error"] and np.all(vc["std_error"] > 0)
    G = fit.details.G.to_numpy()
    times = fit.details.times.to_numpy()
    Z = np.column_stack([np.ones_like(times), times])
    np.testing.assert_allclose(fit.details.sigma.to_numpy(), Z @ G @ Z.T + vc.loc["Residual", "estimate"] * np.eye(4))
    np.testing.assert_array_equal(times, [8.0, 10.0, 12.0, 14.0])
    # lme4 1.1.31 (lmer(distance ~ arm * visit + (age | Subject))): -2 REML 422.449352803
    assert fit.fit_stats["minus2_loglik"] <= 422.449352803 + 1e-8
    for key in ("n_subjects", "n_obs", "loglik", "minus2_loglik", "aic", "bic", "method", "iterations",
                "gradient_norm", "hessian_pd"):
        assert key in fit.fit_stats
    assert fit.fit_stats["n_obs"] == 108 and fit.fit_stats["n_subjects"] == 27 and fit.converged
    json.dumps(fit.to_dict())
    assert "LMM" in fit.summary() and "arm[Female]:visit[age14]" in fit.coef.index
    np.testing.assert_allclose(fit.fit_stats["aic"], fit.fit_stats["minus2_loglik"] + 2 * 4)


def test_optimum_on_the_boundary_is_never_silent():
    """Orthodont after baseline (3 visits, baseline as covariate): the intercept variance goes
    to 0 (lme4 also stops with max|grad| 0.046). Such a fit must say so."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_lmm(orthodont(), outcome="distance", random="intercept+slope", baseline="covariate")
    warned = any(issubclass(w.category, rs.ConvergenceWarning) for w in caught)
    assert fit.converged != warned
    assert fit.fit_stats["converged"] == fit.converged


def test_random_intercept_is_the_compound_symmetry_marginal_model():
    """Same likelihood, same estimates: a random intercept with positive variance is CS with
    CS = var(Intercept) and Residual = s2 (an internal cross-check through two code paths)."""
    d = orthodont()
    lmm = fit_lmm(d, outcome="distance", baseline="none", reference_arm="Male")
    cs = fit_mmrm(d, outcome="distance", covariance="cs", baseline="none", reference_arm="Male")
    np.testing.assert_allclose(lmm.fit_stats["minus2_loglik"], cs.fit_stats["minus2_loglik"], rtol=1e-12)
    np.testing.assert_allclose(lmm.coef, cs.coef, rtol=1e-9)
    np.testing.assert_allclose(lmm.vcov, cs.vcov, rtol=1e-7)
    np.testing.assert_allclose(lmm.table["df"], cs.table["df"], rtol=1e-6)
    np.testing.assert_allclose(lmm.residual_covariance["estimate"], cs.details.theta.to_numpy(), rtol=1e-7)


def test_other_df_methods_and_the_default_mean():
    d = orthodont()
    res = fit_lmm(d, outcome="distance", df_method="residual", baseline="none")
    n, p = res.fit_stats["n_obs"], len(res.coef)
    np.testing.assert_array_equal(res.table["df"], n - p)
    bw = fit_lmm(d, outcome="distance", df_method="between-within", baseline="none")
    assert set(bw.table["df"]) <= {25.0, 108.0 - 27 - 6}
    assert res.spec["mean"] == "arm * visit" and res.reference_arm == "Female"  # last arm, as fit_mmrm
    withcov = d.assign(tall=d["subject_id"].str[-1].astype(int) % 2)  # a subject-level covariate
    fit = fit_lmm(withcov, outcome="distance", covariates=("tall",))
    assert fit.spec["mean"] == "arm * visit + tall + baseline" and "tall" in fit.coef.index


def test_plain_frame_without_visit_column():
    s = pd.read_csv(REF / "sleepstudy.csv")
    fit = fit_lmm(s, columns={'response': "Reaction", 'subject': "Subject", 'time': "Days"}, mean="Days", baseline="none",
                  random="intercept+slope")
    assert fit.grid_factors == () and list(fit.coef.index) == ["Intercept", "Days"]
    with pytest.raises(SpecError, match="give the mean model"):
        fit_lmm(s, columns={'response': "Reaction", 'subject': "Subject", 'time': "Days"}, baseline="none")
