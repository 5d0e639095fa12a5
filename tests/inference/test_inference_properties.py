"""Invariances that any correct ANCOVA + emmeans + effect-size chain has (hypothesis).

Rescaling the outcome (value -> a + b * value, b != 0, at baseline and follow-up alike) must map
EMMs to a + b * EMM and contrasts to b * contrast, leave every t, p and F unchanged, and leave
Hedges' g unchanged up to the sign of b.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import retrostudy as rs


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=st.floats(-50, 50), b=st.sampled_from([-3.0, -0.5, 0.1, 2.0, 7.5]),
       weights=st.sampled_from(["equal", "proportional"]), adjust=st.sampled_from(["none", "holm", "tukey"]))
def test_affine_invariance(unbalanced_frame, a, b, weights, adjust):
    base = rs.fit_ancova(unbalanced_frame, outcome="pain_nrs", covariates=("site", "age"))
    moved = unbalanced_frame.assign(value=a + b * unbalanced_frame["value"])
    fit = rs.fit_ancova(moved, outcome="pain_nrs", covariates=("site", "age"))
    e0, e1 = rs.emmeans(base, weights=weights), rs.emmeans(fit, weights=weights)
    np.testing.assert_allclose(e1.to_frame()["estimate"], a + b * e0.to_frame()["estimate"], rtol=1e-9, atol=1e-9)
    c0 = rs.contrasts(e0, family="pairwise", adjust=adjust)
    c1 = rs.contrasts(e1, family="pairwise", adjust=adjust)
    t0, t1 = c0.to_frame(), c1.to_frame()
    np.testing.assert_allclose(t1["estimate"], b * t0["estimate"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(t1["std_error"], abs(b) * t0["std_error"], rtol=1e-8)
    np.testing.assert_allclose(t1["p_adjusted"], t0["p_adjusted"], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(rs.joint_tests(fit).to_frame()["statistic"],
                               rs.joint_tests(base).to_frame()["statistic"], rtol=1e-7)
    for std in ("baseline_sd", "residual_sd"):
        g0 = rs.effect_sizes(c0, standardizer=std).to_frame()
        g1 = rs.effect_sizes(c1, standardizer=std).to_frame()
        np.testing.assert_allclose(g1["estimate"], np.sign(b) * g0["estimate"], rtol=1e-8, atol=1e-12)
