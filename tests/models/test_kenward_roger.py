"""Kenward-Roger (retrostudy.models.kenward_roger) against pbkrtest and a brute-force
implementation.

References
----------
* tests/reference/kr/kr_sleepstudy.json, made by make_kr_sleepstudy.R (pbkrtest 0.5.2,
  lme4 1.1.31, R 4.2.2; versions in the file): vcovAdj, Lb_ddf and KRmodcomp on an
  unbalanced sleepstudy. pbkrtest uses the EXPECTED information and a linear
  parameterization (G elements, sigma^2), so we call ``information="expected"`` here.
  Tolerance 1e-7 relative: both sides evaluate closed forms at the same theta (lme4's
  17-digit estimate); the rest is floating-point. Near misses asserted NOT matched: the
  unadjusted vcov / SE (what KR adjusts), the observed-information variant (what SAS does,
  not pbkrtest), and the residual df n - p.
* A dense N x N implementation of Kenward & Roger (1997) in test_kenward_roger_support.py
  (observed information from finite differences of the REML log-likelihood): checks the
  pattern-vectorized sums, weights and GROUP= blocks.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrostudy.errors import SpecError
from retrostudy.models.kenward_roger import KRPieces, kenward_roger

HERE = Path(__file__).resolve().parent
REF = HERE.parent / "reference" / "kr"
_spec = importlib.util.spec_from_file_location("kr_support", HERE / "test_kenward_roger_support.py")
sup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sup)


@pytest.fixture(scope="module")
def sleep():
    ref = json.loads((REF / "kr_sleepstudy.json").read_text())
    data = pd.read_csv(REF / "kr_sleepstudy.csv")
    return ref, data


def _sleep_pieces(ref, data, case):
    c = ref[case]
    days = np.arange(10.0)
    slope = "Days |" in c["formula"]
    Z = np.column_stack([np.ones(10), days]) if slope else np.ones((10, 1))
    struct = sup.RandomEffects(Z)
    cols = [np.ones(len(data)), data["Days"].to_numpy(float)]
    if "grp" in c["formula"]:
        gb = (data["grp"] == "b").to_numpy(float)
        cols += [gb, gb * data["Days"].to_numpy(float)]
    X = np.column_stack(cols)
    pats = sup.by_pattern(data, subject="Subject", time_index="Days", response="Reaction", X=X)
    beta = np.asarray(c["beta"])
    return sup.pieces_from([struct], np.asarray(c["theta"]), pats, KRPieces, beta=beta), pats, struct


@pytest.mark.parametrize("case", ["ri", "rs", "rsg"])
def test_matches_pbkrtest_vcovadj_and_W(sleep, case):
    ref, data = sleep
    c = ref[case]
    pieces, _, _ = _sleep_pieces(ref, data, case)
    res = kenward_roger(pieces, information="expected")
    Phi, Phi_A, W = (np.asarray(c[k]) for k in ("Phi", "Phi_A", "W"))
    np.testing.assert_allclose(res.vcov_unadjusted, Phi, rtol=1e-7)
    np.testing.assert_allclose(res.theta_cov, W, rtol=1e-7)
    np.testing.assert_allclose(res.P, np.asarray(c["P"]), rtol=1e-7, atol=1e-14)
    np.testing.assert_allclose(res.vcov, Phi_A, rtol=1e-7)
    # near miss: the adjustment is real (relative change well above the tolerance)
    assert np.max(np.abs(Phi_A - Phi) / np.abs(Phi_A)) > 1e-4
    obs = kenward_roger(pieces, information="observed")
    assert not np.allclose(obs.theta_cov, W, rtol=1e-3)


@pytest.mark.parametrize("case", ["ri", "rs", "rsg"])
def test_matches_pbkrtest_df_single_rows(sleep, case):
    ref, data = sleep
    c = ref[case]
    pieces, _, _ = _sleep_pieces(ref, data, case)
    res = kenward_roger(pieces, information="expected")
    L = np.asarray(c["single_rows"]["L"], float)
    exp = np.asarray(c["single_rows"]["result"], float)  # df, se_adj, se
    df = res.dof(L)
    np.testing.assert_allclose(df, exp[:, 0], rtol=1e-7)
    se = np.sqrt(np.einsum("rk,kl,rl->r", L, res.vcov, L))
    np.testing.assert_allclose(se, exp[:, 1], rtol=1e-8)
    for r in range(len(L)):  # one-row F test gives the same df, lambda = 1
        F, ndf, ddf, lam = res.ftest(L[r])
        assert ndf == 1 and ddf == pytest.approx(df[r], rel=1e-10) and lam == pytest.approx(1.0, abs=1e-12)
    n_res = ref["n_obs"] - len(c["beta"])
    assert np.all(np.abs(df - n_res) > 10)  # near miss: residual df
    assert np.all(np.abs(se - exp[:, 2]) / exp[:, 1] > 1e-5)  # near miss: unadjusted SE


@pytest.mark.parametrize("case", ["ri", "rs", "rsg"])
def test_matches_pbkrtest_krmodcomp(sleep, case):
    ref, data = sleep
    c = ref[case]
    pieces, _, _ = _sleep_pieces(ref, data, case)
    res = kenward_roger(pieces, information="expected")
    for ft in c["ftests"]:
        F, ndf, ddf, lam = res.ftest(np.asarray(ft["L"], float))
        assert ndf == ft["ndf"]
        np.testing.assert_allclose([F, ddf, lam], [ft["F_scaled"], ft["ddf"], ft["F_scaling"]], rtol=1e-7)
        assert abs(F - ft["F_unscaled"]) / F > 1e-4 or ft["ndf"] == 1  # near miss: unscaled F


def _small_data(seed=7, n=36, T=4, weights=False, groups=False):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        arm = s % 2
        keep = rng.random(T) > 0.25
        keep[0] = True
        x = rng.normal()
        for t in range(T):
            if keep[t]:
                rows.append(dict(s=s, t=t, arm=arm, x=x, y=10 + 2 * arm + t + x + rng.normal(0, 3), w=0.5 + rng.random()))
    d = pd.DataFrame(rows)
    d["y"] += np.repeat(rng.normal(0, 2, n), d.groupby("s").size().to_numpy())
    X = np.column_stack([np.ones(len(d)), d["arm"], d["x"], d["t"] == 1, d["t"] == 2, d["t"] == 3]).astype(float)
    return sup.by_pattern(d, subject="s", time_index="t", response="y", X=X, weight="w" if weights else None, group="arm" if groups else None)


@pytest.mark.parametrize(
    "name,weights,groups,linear",
    [("ar1", False, False, False), ("csh", True, False, False), ("adh", False, False, True), ("ar1h", False, True, False), ("us", True, True, False)],
)
def test_vectorized_equals_dense_kenward_roger(name, weights, groups, linear):
    pats = _small_data(weights=weights, groups=groups)
    T = 4
    ng = 2 if groups else 1
    structs = [sup.SAS_STRUCTURES[name](T) for _ in range(ng)]
    S0 = np.diag([12.0, 13.0, 14.0, 15.0]) + 4.0
    theta0 = np.concatenate([s.start(S0) for s in structs])
    theta = sup.fit_reml(structs, pats, theta0)
    assert np.max(np.abs(sup.reml_grad(structs, theta, pats))) < 1e-7  # at the REML optimum
    res = kenward_roger(sup.pieces_from(structs, theta, pats, KRPieces), linear=linear)
    Phi, Phi_A, W, P = sup.dense_kr(structs, theta, pats, linear=linear)
    np.testing.assert_allclose(res.vcov_unadjusted, Phi, rtol=1e-10)
    np.testing.assert_allclose(res.P, P, rtol=1e-9, atol=1e-14)
    # W: analytic observed information vs central differences of the analytic REML gradient
    # (truncation error of the differences ~1e-9 relative)
    np.testing.assert_allclose(res.theta_cov, W, rtol=1e-6, atol=1e-8 * np.abs(W).max())
    np.testing.assert_allclose(res.vcov, Phi_A, rtol=1e-7)
    # with the same W, the vectorized sums equal the dense N x N formulas to rounding
    p_w = sup.pieces_from(structs, theta, pats, KRPieces)
    p_w = KRPieces(p_w.X_blocks, p_w.obs_index, p_w.structure, theta, beta=p_w.beta, weights=p_w.weights,
                   groups=p_w.groups, theta_cov=W)
    np.testing.assert_allclose(kenward_roger(p_w, linear=linear).vcov, Phi_A, rtol=1e-9)
    exp_ = kenward_roger(sup.pieces_from(structs, theta, pats, KRPieces), linear=linear, information="expected")
    Phi_e, Phi_Ae, W_e, _ = sup.dense_kr(structs, theta, pats, linear=linear, information="expected")
    np.testing.assert_allclose(exp_.theta_cov, W_e, rtol=1e-9)
    np.testing.assert_allclose(exp_.vcov, Phi_Ae, rtol=1e-9)


def test_linear_variant_is_invariant_full_is_not():
    """KR(LINEAR) does not depend on the parameterization (at the REML optimum); full KR does."""
    pats = _small_data(seed=11, n=40)
    a, b = sup.AR1(4), sup.AR1Log(4)
    th_a = sup.fit_reml([a], pats, [0.3, 20.0])
    th_b = np.array([np.log(th_a[1]), np.arctanh(th_a[0])])
    pa, pb = sup.pieces_from([a], th_a, pats, KRPieces), sup.pieces_from([b], th_b, pats, KRPieces)
    la, lb = kenward_roger(pa, linear=True), kenward_roger(pb, linear=True)
    np.testing.assert_allclose(la.vcov, lb.vcov, rtol=1e-6)
    np.testing.assert_allclose(la.dof(np.eye(6)), lb.dof(np.eye(6)), rtol=1e-6)
    fa, fb = kenward_roger(pa), kenward_roger(pb)
    rel = np.abs(np.diag(fa.vcov) - np.diag(fb.vcov)) / np.diag(fa.vcov)
    assert rel.max() > 1e-4  # full KR differs between parameterizations
    # and the expected information is not invariant-equal to the observed one here
    assert not np.allclose(kenward_roger(pa, information="expected").vcov, la.vcov, rtol=1e-5)


def test_theta_cov_supplied_and_errors():
    pats = _small_data(seed=5)
    s = sup.AR1(4)
    th = sup.fit_reml([s], pats, [0.3, 20.0])
    p = sup.pieces_from([s], th, pats, KRPieces)
    base = kenward_roger(p)
    p2 = KRPieces(p.X_blocks, p.obs_index, s, th, beta=p.beta, theta_cov=base.theta_cov)
    sup_ = kenward_roger(p2)
    assert sup_.information_kind == "supplied"
    np.testing.assert_allclose(sup_.vcov, base.vcov, rtol=1e-12)
    with pytest.raises(RuntimeError, match="internal: the observed information needs residuals"):
        kenward_roger(KRPieces(p.X_blocks, p.obs_index, s, th))  # a caller's mistake, not the user's
    with pytest.raises(SpecError):
        kenward_roger(p, information="fisher")
    with pytest.raises(SpecError):
        base.ftest(np.array([[0, 1, 0, 0, 0, 0], [0, 2, 0, 0, 0, 0]]))  # dependent rows


def test_precomputed_moments_give_the_same_result():
    """XX_blocks (the engine's Pattern.XX layout [(a,b),(k,l)]) replaces the O(n m^2 k^2) step."""
    pats = _small_data(seed=13, weights=True)
    s = sup.ANTE1(4)
    th = sup.fit_reml([s], pats, s.start(np.diag([12.0, 13.0, 14.0, 15.0]) + 4.0))
    p = sup.pieces_from([s], th, pats, KRPieces)
    XX = []
    for X, w in zip(p.X_blocks, p.weights):
        Xs = X * np.sqrt(w)[:, :, None]
        n, m, k = Xs.shape
        Xf = Xs.reshape(n, m * k)
        XX.append((Xf.T @ Xf).reshape(m, k, m, k).transpose(0, 2, 1, 3).reshape(m * m, k * k))
    q = KRPieces(p.X_blocks, p.obs_index, s, th, beta=p.beta, residuals=p.residuals, weights=p.weights, XX_blocks=XX)
    a, b = kenward_roger(p), kenward_roger(q)
    np.testing.assert_allclose(b.vcov, a.vcov, rtol=1e-12)
    np.testing.assert_allclose(b.theta_cov, a.theta_cov, rtol=1e-10)
    bad = KRPieces(p.X_blocks, p.obs_index, s, th, beta=p.beta, residuals=p.residuals, weights=p.weights,
                   XX_blocks=[x * 1.01 for x in XX])
    assert not np.allclose(kenward_roger(bad).vcov, a.vcov, rtol=1e-4)  # the moments are really used


def test_closed_form_kr_for_one_visit_equals_the_general_path():
    """V = theta I (baseline covariate + one visit): the closed-form KR equals the pattern-sum KR."""
    import retrostudy as rs
    from retrostudy.models import kenward_roger as krm

    fit = rs.fit_mmrm(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", df_method="kenward-roger")
    eng = fit.details.engine
    closed = krm._scalar_variance_kr(eng, "observed")
    assert closed is not None
    st = eng.structure
    pats = eng.problem.patterns
    general = kenward_roger(KRPieces(
        X_blocks=[p.X for p in pats], obs_index=[p.visits for p in pats], structure=st, theta=eng.theta,
        beta=eng.beta, residuals=[p.y - p.X @ eng.beta for p in pats], theta_cov=eng.theta_cov,
        XX_blocks=[p.XX for p in pats]))
    L = np.eye(len(fit.coef))
    np.testing.assert_allclose(closed.vcov, general.vcov, rtol=1e-12)
    np.testing.assert_allclose(closed.dof(L), general.dof(L), rtol=1e-10)
    np.testing.assert_allclose(closed.dof(L), eng.problem.n_obs - eng.problem.p, rtol=1e-8)  # n - p
    F1, F2 = closed.ftest(L[1:3]), general.ftest(L[1:3])
    np.testing.assert_allclose(F1, F2, rtol=1e-10)
