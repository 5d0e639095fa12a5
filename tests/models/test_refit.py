"""Refits on the same design equal fresh fits of the changed data (the reference is the
package's own, independently validated, fit_mmrm / fit_lmm path on the edited frame).

Tolerance: both fits stop when g'H^-1 g < 1e-10 (twice the predicted decrease of -2 log L), so
their optima agree in -2 log L to ~1e-10 but the estimates only to ~1e-7 relative (the
likelihood is flat to second order); estimates are compared at 1e-6, -2 log L at 1e-10."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.errors import SpecError
from retrostudy.models.refit import Refitter

TRIAL = rs.load_dataset("alghadir2019_sim")
RNG = np.random.default_rng(20261206)


def _toy(n: int = 40, T: int = 4) -> pd.DataFrame:
    rows = []
    for i in range(n):
        arm = "trt" if i % 2 else "pbo"
        u = RNG.normal(0, 1.0)
        for t in range(T):
            if t > 0 and RNG.random() < 0.12:
                break  # monotone dropout
            rows.append({"sid": f"s{i:03d}", "arm": arm, "vis": f"v{t}", "x": float(i % 5),
                         "y": 1.0 + 0.5 * t * (arm == "trt") + u + RNG.normal(0, 1.0)})
    return pd.DataFrame(rows)


TOY = _toy()
KW = dict(outcome=None, columns={'subject': "sid", 'visit': "vis", 'arm': "arm", 'response': "y"}, mean="arm * vis + x", baseline="none")


@pytest.fixture(scope="module")
def toy_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return rs.fit_mmrm(TOY, covariance="us", df_method="kenward-roger", **KW)


def _fresh(frame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return rs.fit_mmrm(frame, covariance="us", df_method="kenward-roger", **{**KW, **kw})


def test_refit_without_a_subject_equals_a_fresh_fit(toy_fit):
    r = Refitter(toy_fit)
    who = r.subjects[3]
    got = r.fit(drop_subjects=[who])
    ref = _fresh(TOY.loc[TOY["sid"] != who])
    np.testing.assert_allclose(got.beta, ref.coef.to_numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.vcov, ref.vcov.to_numpy(), rtol=1e-5, atol=1e-12)
    L = np.eye(len(ref.coef))
    np.testing.assert_allclose(got.inference.dof(L), ref.dof(L), rtol=1e-5)
    assert got.minus2_loglik == pytest.approx(ref.fit_stats.minus2_loglik, rel=1e-10)
    assert got.n_subjects == TOY["sid"].nunique() - 1
    # near miss: the full fit is not the leave-one-out fit
    assert not np.allclose(got.beta, toy_fit.coef.to_numpy(), rtol=1e-6)


def test_refit_with_a_new_response_equals_a_fresh_fit(toy_fit):
    y = toy_fit.data["y"].to_numpy() + RNG.normal(0, 0.5, len(toy_fit.data))
    got = Refitter(toy_fit).fit(response=y)
    edited = toy_fit.data.assign(y=y)
    ref = _fresh(edited)
    np.testing.assert_allclose(got.beta, ref.coef.to_numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.sigma[0], ref.residual_covariance.to_numpy(), rtol=1e-6)


def test_bootstrap_weights_equal_duplicated_subjects(toy_fit):
    r = Refitter(toy_fit)
    w = RNG.multinomial(len(r.subjects), np.full(len(r.subjects), 1.0 / len(r.subjects)))
    got = r.fit(subject_weights=w)
    parts = []
    for s, k in zip(r.subjects, w):
        for c in range(k):
            parts.append(toy_fit.data.loc[toy_fit.data["sid"] == s].assign(sid=f"{s}#{c}"))
    ref = _fresh(pd.concat(parts, ignore_index=True))
    np.testing.assert_allclose(got.beta, ref.coef.to_numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.vcov, ref.vcov.to_numpy(), rtol=1e-5, atol=1e-12)
    assert got.n_subjects == int(w.sum())


def test_keep_rows_equals_a_fresh_fit_without_them(toy_fit):
    keep = np.ones(len(toy_fit.data), dtype=bool)
    keep[RNG.choice(np.flatnonzero(toy_fit.data["vis"].astype(str) != "v0"), 12, replace=False)] = False
    got = toy_fit.refit(keep=keep)
    ref = _fresh(toy_fit.data.loc[keep])
    assert got.fit_stats.n_obs == ref.fit_stats.n_obs == keep.sum()
    np.testing.assert_allclose(got.coef, ref.coef, rtol=1e-6, atol=1e-9)
    assert got.fit_stats.minus2_loglik == pytest.approx(ref.fit_stats.minus2_loglik, rel=1e-10)


def test_modelfit_refit_logs_who_was_left_out_and_pickles():
    fit = rs.fit_mmrm(TRIAL, outcome="pain_nrs", baseline="none", df_method="kenward-roger")
    first = fit.subjects_used()[0]
    fit2 = fit.refit(drop_subjects=[first])
    assert fit2.n_analysed(by=None) == 67 and first not in fit2.subjects_used()
    log = fit2.exclusions.to_frame()
    assert (log["stage"] == "refit").sum() == 1 and log.loc[log["stage"] == "refit", "subject_id"].iloc[0] == first
    ref = rs.fit_mmrm(TRIAL.data.loc[TRIAL.data["subject_id"] != first], outcome="pain_nrs", baseline="none",
                      df_method="kenward-roger")
    np.testing.assert_allclose(rs.emmeans(fit2).to_frame()["estimate"], rs.emmeans(ref).to_frame()["estimate"],
                               rtol=1e-6)
    np.testing.assert_allclose(rs.emmeans(fit2).to_frame()["df"], rs.emmeans(ref).to_frame()["df"], rtol=1e-5)
    again = pickle.loads(pickle.dumps(fit2))
    assert again.refit().coef.to_numpy() == pytest.approx(fit2.coef.to_numpy(), rel=1e-8)


def test_lmm_refit():
    fit = rs.fit_lmm(TRIAL, outcome="womac", baseline="none")
    first = fit.subjects_used()[5]
    got = fit.refit(drop_subjects=[first])
    ref = rs.fit_lmm(TRIAL.data.loc[TRIAL.data["subject_id"] != first], outcome="womac", baseline="none")
    np.testing.assert_allclose(got.coef, ref.coef, rtol=1e-6)
    np.testing.assert_allclose(got.residual_covariance["estimate"], ref.residual_covariance["estimate"], rtol=1e-6)


def test_bad_refit_arguments_are_sentences(toy_fit):
    r = Refitter(toy_fit)
    with pytest.raises(SpecError, match="did not use"):
        r.fit(drop_subjects=["nobody"])
    with pytest.raises(SpecError, match="whole numbers"):
        r.fit(subject_weights=np.full(len(r.subjects), 0.5))
    with pytest.raises(SpecError, match="analysed rows"):
        r.fit(response=np.zeros(3))
    with pytest.raises(SpecError, match="MMRM or LMM"):
        Refitter(rs.fit_ancova(TRIAL, outcome="pain_nrs"))


def test_chord_refits_equal_newton_refits(toy_fit):
    """df_method='none' refits (imputation models: beta and Sigma only) run the chord method with the full fit's
    Hessian; they reach the same optimum as the full Newton refit (-2 log L to 1e-10; estimates to 1e-7 absolute on
    coefficients of order 1 and Sigma to 1e-5, the precision the convergence criterion g'H^-1 g < 1e-10 gives)."""
    light, full = Refitter(toy_fit, df_method="none"), Refitter(toy_fit)
    for who in light.subjects[:5]:
        a, b = light.fit(drop_subjects=[who]), full.fit(drop_subjects=[who])
        assert a.engine.optimizer == "chord" and b.engine.optimizer == "newton"
        assert a.minus2_loglik == pytest.approx(b.minus2_loglik, rel=1e-10)
        np.testing.assert_allclose(a.beta, b.beta, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(a.sigma, b.sigma, rtol=1e-5)
    w = np.bincount(RNG.integers(0, len(light.subjects), len(light.subjects)), minlength=len(light.subjects))
    a, b = light.fit(subject_weights=w), full.fit(subject_weights=w)  # a bootstrap sample: further away
    assert a.minus2_loglik == pytest.approx(b.minus2_loglik, rel=1e-10)
    np.testing.assert_allclose(a.sigma, b.sigma, rtol=1e-5)
