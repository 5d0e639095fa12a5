"""The REML engine checked against hand calculations that do not share its shortcuts.

* Covariance structures: analytic first/second derivatives vs central finite
  differences; unconstrained round trips.
* The pattern-vectorized likelihood vs a dense N x N implementation of the textbook
  REML/ML formulas (Harville 1977), including SAS WEIGHTs and GROUP= blocks.
* Analytic gradient and observed Hessian vs finite differences of the likelihood.
* fit_mmrm on the canonical long table: baseline handling, exclusions, errors.
The numbers against SAS PROC MIXED are in test_engine_sas.py.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import linalg

from retrostudy.errors import ModelError, SpecError
from retrostudy.models.dof import satterthwaite_dof, satterthwaite_ftest
from retrostudy.models.kenward_roger import kenward_roger_engine
from retrostudy.models.mmrm import fit_mmrm
from retrostudy.models.reml import evaluate, fit_reml, prepare
from retrostudy.models.sandwich import empirical_vcov
from retrostudy.models.structures import STRUCTURES, make_structure

RNG = np.random.default_rng(20240605)


def _spd(T, rng=RNG):
    A = rng.normal(size=(T, T))
    return A @ A.T + T * np.eye(T)


@pytest.mark.parametrize("name", sorted(STRUCTURES))
@pytest.mark.parametrize("groups", [None, ["a", "b"]])
def test_structure_derivatives(name, groups):
    st = make_structure(name, 4, groups=groups)
    S = _spd(4)
    theta = st.start(S if groups is None else np.stack([S, 1.7 * S]))
    assert st.valid(theta) and len(theta) == st.n_params == len(st.param_names)
    np.testing.assert_allclose(st.from_unconstrained(st.to_unconstrained(theta)), theta, rtol=1e-9, atol=1e-12)
    J, H = st.group_jacobians(theta), st.group_hessians(theta)
    h = 1e-6
    for k in range(st.n_params):
        e = np.zeros(st.n_params)
        e[k] = h
        Jn = (st.group_matrices(theta + e) - st.group_matrices(theta - e)) / (2 * h)
        Hn = (st.group_jacobians(theta + e) - st.group_jacobians(theta - e)) / (2 * h)
        np.testing.assert_allclose(J[:, k], Jn, atol=1e-6)
        np.testing.assert_allclose(H[:, k], Hn, atol=1e-6)
    if st.linear:
        assert not np.any(H)


def test_structure_sas_names_and_order():
    assert make_structure("cs", 4).param_names == ["CS", "Residual"]
    assert make_structure("cs", 4, groups=["x", "y"]).param_names == ["Variance", "CS"] * 2
    assert make_structure("ar1", 3).param_names == ["AR(1)", "Residual"]
    assert make_structure("toep", 3).param_names == ["TOEP(2)", "TOEP(3)", "Residual"]
    ar = make_structure("ar1", 3)
    np.testing.assert_allclose(ar.matrix([0.5, 2.0]), 2.0 * 0.5 ** np.abs(np.subtract.outer(range(3), range(3))))
    with pytest.raises(SpecError, match="Unknown covariance"):
        make_structure("banded", 3)


def _toy(n_sub=40, T=4, p_drop=0.25, rng=None):
    rng = rng or np.random.default_rng(3)
    rows = []
    for i in range(n_sub):
        arm = "trt" if i % 2 else "pbo"
        age = rng.normal(50, 10)
        for t in range(T):
            if t > 0 and rng.random() < p_drop:
                continue
            rows.append({"sid": f"s{i}", "vis": f"v{t}", "arm": arm, "age": age, "w": rng.uniform(0.5, 2.0),
                         "y": 10 + t + (arm == "trt") * 0.5 * t + 0.05 * age + rng.normal(0, 2)})
    return pd.DataFrame(rows)


def _dense_m2ll(y, X, V, method):
    """-2 log L from the N x N textbook formula."""
    n, p = X.shape
    Vi = np.linalg.inv(V)
    A = X.T @ Vi @ X
    b = np.linalg.solve(A, X.T @ Vi @ y)
    r = y - X @ b
    out = np.linalg.slogdet(V)[1] + r @ Vi @ r
    if method == "reml":
        return out + np.linalg.slogdet(A)[1] + (n - p) * np.log(2 * np.pi)
    return out + n * np.log(2 * np.pi)


@pytest.mark.parametrize("method", ["reml", "ml"])
@pytest.mark.parametrize("name,weighted,grouped", [("us", False, False), ("adh", True, False),
                                                   ("csh", False, True), ("toeph", True, True)])
def test_likelihood_matches_dense(method, name, weighted, grouped):
    d = _toy()
    X = np.column_stack([np.ones(len(d)), d["arm"].eq("trt"), d["age"], pd.get_dummies(d["vis"]).to_numpy()[:, 1:]])
    vis = d["vis"].str[1:].astype(int).to_numpy()
    g = d["arm"].eq("trt").astype(int).to_numpy() if grouped else None
    w = d["w"].to_numpy() if weighted else None
    prob = prepare(d["y"].to_numpy(), X.astype(float), d["sid"].to_numpy(), vis, 4, group=g,
                   n_groups=2 if grouped else 1, weights=w)
    st = make_structure(name, 4, groups=["pbo", "trt"] if grouped else None)
    theta = st.start(np.stack([_spd(4), _spd(4)]) if grouped else _spd(4))
    ev = evaluate(prob, st, theta, method)
    sig = st.group_matrices(theta)
    blocks = []
    order = []
    for _sid, sub in d.groupby("sid", sort=False):
        idx = sub["vis"].str[1:].astype(int).to_numpy()
        S = sig[int(sub["arm"].iloc[0] == "trt") if grouped else 0][np.ix_(idx, idx)]
        if weighted:
            Wm = np.diag(1 / np.sqrt(sub["w"].to_numpy()))
            S = Wm @ S @ Wm
        blocks.append(S)
        order.extend(sub.index)
    dense = _dense_m2ll(d["y"].to_numpy()[order], X[order].astype(float), linalg.block_diag(*blocks), method)
    np.testing.assert_allclose(ev.f, dense, rtol=1e-11)


@pytest.mark.parametrize("method", ["reml", "ml"])
@pytest.mark.parametrize("name", ["us", "ar1", "csh", "adh", "toeph"])
def test_gradient_and_hessian_match_finite_differences(method, name):
    d = _toy(60)
    X = np.column_stack([np.ones(len(d)), d["arm"].eq("trt"), pd.get_dummies(d["vis"]).to_numpy()[:, 1:]])
    prob = prepare(d["y"].to_numpy(), X.astype(float), d["sid"].to_numpy(), d["vis"].str[1:].astype(int), 4,
                   weights=d["w"].to_numpy())
    st = make_structure(name, 4)
    theta = st.start(_spd(4))
    ev = evaluate(prob, st, theta, method, order=2)
    P = len(theta)
    gn, Hn = np.zeros(P), np.zeros((P, P))
    for k in range(P):
        h = 1e-5 * max(1.0, abs(theta[k]))
        e = np.zeros(P)
        e[k] = h
        gn[k] = (evaluate(prob, st, theta + e, method).f - evaluate(prob, st, theta - e, method).f) / (2 * h)
        Hn[k] = (evaluate(prob, st, theta + e, method, 1).grad - evaluate(prob, st, theta - e, method, 1).grad) / (2 * h)
    np.testing.assert_allclose(ev.grad, gn, rtol=1e-5, atol=1e-6 * np.abs(gn).max())
    np.testing.assert_allclose(ev.hess, Hn, rtol=1e-5, atol=1e-6 * np.abs(Hn).max())


def test_fit_is_row_order_invariant_and_kr_blocks_consistent():
    d = _toy(80)
    f1 = fit_mmrm(d, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, mean="arm * vis + age", baseline="none")
    f2 = fit_mmrm(d.sample(frac=1.0, random_state=1), columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"},
                  mean="arm * vis + age", baseline="none")
    np.testing.assert_allclose(f1.coef.to_numpy(), f2.coef.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(f1.fit_stats["minus2_loglik"], f2.fit_stats["minus2_loglik"], rtol=1e-12)
    eng = f1.details.engine
    kr = kenward_roger_engine(eng, linear=False)
    np.testing.assert_allclose(-kr.P, eng.Q, rtol=1e-10)  # the engine's and KR's pattern sums agree
    np.testing.assert_allclose(kr.vcov, kenward_roger_engine(eng, linear=True).vcov, rtol=1e-12)  # UN is linear


def test_sandwich_matches_dense():
    d = _toy(50)
    fit = fit_mmrm(d, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, mean="arm * vis", baseline="none",
                   covariance="cs", vcov="empirical", df_method="between-within")
    eng = fit.details.engine
    X = fit.design.matrix(fit.data)
    r = fit.data["y"].to_numpy() - X @ eng.beta
    meat = np.zeros((X.shape[1],) * 2)
    sig = eng.sigma[0]
    for _, idx in fit.data.groupby("sid").indices.items():
        v = fit.data["vis"].str[1:].astype(int).to_numpy()[idx]
        g = X[idx].T @ np.linalg.solve(sig[np.ix_(v, v)], r[idx])
        meat += np.outer(g, g)
    np.testing.assert_allclose(empirical_vcov(eng), eng.vcov_beta @ meat @ eng.vcov_beta, rtol=1e-9)
    np.testing.assert_allclose(fit.vcov.to_numpy(), eng.vcov_beta @ meat @ eng.vcov_beta, rtol=1e-9)


def test_satterthwaite_single_row_ftest_equals_t():
    d = _toy(60)
    fit = fit_mmrm(d, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, mean="arm * vis", baseline="none")
    eng = fit.details.engine
    L = np.zeros(len(fit.coef))
    L[1] = 1
    df = satterthwaite_dof(L, eng.vcov_beta, eng.Q, eng.theta_cov)[0]
    F, q, ddf = satterthwaite_ftest(L, eng.beta, eng.vcov_beta, eng.Q, eng.theta_cov)
    assert q == 1 and np.isclose(ddf, df)
    t = fit.linear(L)["statistic"][0]
    np.testing.assert_allclose(F, t**2, rtol=1e-10)


# ----------------------------------------------------------------------------- fit_mmrm
def _canonical(n=30, seed=5):
    rng = np.random.default_rng(seed)
    rows = []
    arms = ["retro", "forward", "control"]
    weeks = {"baseline": 0.0, "week3": 3.0, "week6": 6.0}
    for i in range(n):
        arm = arms[i % 3]
        base = rng.normal(6, 1)
        for v, wk in weeks.items():
            if v == "week6" and i % 7 == 0:
                continue
            if v == "baseline" and i == 4:
                continue  # no baseline: excluded under baseline="covariate"
            val = base - (0.3 if arm == "retro" else 0.1) * wk + rng.normal(0, 0.7)
            rows.append({"study": "t", "subject_id": f"R{i:02d}", "arm": arm, "visit": v, "week": wk,
                         "outcome": "pain_nrs", "value": val, "age": 60 + i % 9})
    frame = pd.DataFrame(rows)
    frame["arm"] = pd.Categorical(frame["arm"], categories=arms)
    frame["visit"] = pd.Categorical(frame["visit"], categories=list(weeks), ordered=True)
    return frame


def test_fit_mmrm_canonical_baseline_covariate():
    frame = _canonical()
    fit = fit_mmrm(frame, outcome="pain_nrs", covariates=["age"])
    assert fit.grid_factors == ("arm", "visit") and fit.reference_arm == "control"
    assert "baseline" in fit.coef.index and "age" in fit.coef.index
    assert list(fit.residual_covariance.index) == ["week3", "week6"]
    log = fit.exclusions.to_frame()
    assert (log["reason"].str.contains("no baseline")).sum() == 2 and set(log["subject_id"]) == {"R04"}
    assert fit.fit_stats["n_subjects"] == 29 and fit.fit_stats["n_obs"] == len(fit.data)
    by_visit = fit_mmrm(frame, outcome="pain_nrs", baseline="covariate_by_visit")
    assert any(set(k.split(":")) == {"baseline", "visit"} for k in by_visit.design.term_index)
    assert len(by_visit.coef) == 8
    clda = fit_mmrm(frame, outcome="pain_nrs", baseline="none", mean="visit + arm:visit")
    assert list(clda.residual_covariance.index) == ["baseline", "week3", "week6"]
    assert fit.to_dict()["fit_stats"]["method"] == "reml"


def test_fit_mmrm_spec_errors():
    frame = _canonical()
    with pytest.raises(SpecError, match="not a variable"):
        fit_mmrm(frame, outcome="pain_nrs", mean="arm * visti")
    with pytest.raises(SpecError, match="empirical"):
        fit_mmrm(frame, outcome="pain_nrs", vcov="empirical")
    with pytest.raises(SpecError, match="Kenward-Roger needs"):
        fit_mmrm(frame, outcome="pain_nrs", method="ml", df_method="kenward-roger")
    with pytest.raises(SpecError, match="df_method"):
        fit_mmrm(frame, outcome="pain_nrs", df_method="containment")
    with pytest.raises(SpecError, match="Outcome"):
        fit_mmrm(frame, outcome="womac")


def test_unidentifiable_models_are_refused():
    d = _toy(2, T=4, p_drop=0.0)  # 8 observations cannot carry 10 UN parameters
    prob = prepare(d["y"].to_numpy(), np.ones((len(d), 1)), d["sid"].to_numpy(), d["vis"].str[1:].astype(int), 4)
    with pytest.raises(ModelError, match="covariance structure has 10 parameters"):
        fit_reml(prob, make_structure("us", 4), method="reml")
    d2 = _toy(20)
    d2["const"] = 1.0
    with pytest.raises(ModelError, match="rank"):
        fit_mmrm(d2, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, mean="arm + const", baseline="none")


def test_duplicate_visit_rows_are_refused():
    d = _toy(10)
    d = pd.concat([d, d.iloc[[0]]])
    with pytest.raises(SpecError, match="two rows for the same visit"):
        fit_mmrm(d, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, baseline="none")


def test_between_within_df_on_fev_like_data():
    d = _toy(40)
    fit = fit_mmrm(d, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, mean="arm * vis", baseline="none",
                   df_method="between-within")
    bw = fit.inference.summary
    n_sub, n_obs = d["sid"].nunique(), len(d)
    assert bw["between"] == n_sub - 2 and bw["within"] == n_obs - n_sub - 6
    df = fit.linear(np.eye(len(fit.coef)))["df"]
    assert df[0] == bw["between"] and df[1] == bw["between"] and np.all(df[2:] == bw["within"])


def test_ml_aic_counts_fixed_effects():
    d = _toy(40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reml = fit_mmrm(d, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, baseline="none", covariance="cs")
        ml = fit_mmrm(d, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, baseline="none", covariance="cs",
                      method="ml")
    assert np.isclose(reml.fit_stats["aic"], reml.fit_stats["minus2_loglik"] + 2 * 2)
    assert np.isclose(ml.fit_stats["aic"], ml.fit_stats["minus2_loglik"] + 2 * (2 + len(ml.coef)))


def test_spatial_structure_derivatives():
    from retrostudy.models.spatial import SpatialStructure

    coords = RNG.normal(size=(3, 4, 2))
    for kind in ("sp_exp", "sp_gau"):
        st = SpatialStructure(kind, coords)
        theta = np.array([1.3, 2.5])
        J, H = st.group_jacobians(theta), st.group_hessians(theta)
        for k in range(2):
            e = np.zeros(2)
            e[k] = 1e-6
            np.testing.assert_allclose(J[:, k], (st.group_matrices(theta + e) - st.group_matrices(theta - e)) / 2e-6,
                                       atol=1e-7)
            np.testing.assert_allclose(H[:, k], (st.group_jacobians(theta + e) - st.group_jacobians(theta - e)) / 2e-6,
                                       atol=1e-7)
        assert st.param_names[1] == "Residual" and st.subject_view(1).n_groups == 1




@pytest.mark.parametrize("alias,key", [("ante(1)", "adh"), ("ANTE(1)", "adh"), ("arh1", "ar1h"), ("ARH(1)", "ar1h"),
                                       ("UN", "us"), ("Toeplitz", "toep"), ("ar(1)", "ar1")])
def test_fit_mmrm_accepts_every_documented_alias(alias, key):
    """make_structure documents the SAS names; fit_mmrm refused 'ante(1)' and 'arh1' before."""
    d = _toy(40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_mmrm(d, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, baseline="none", covariance=alias)
        b = fit_mmrm(d, columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, baseline="none", covariance=key)
    assert a.spec.covariance == b.spec.covariance == key
    assert a.fit_stats.minus2_loglik == b.fit_stats.minus2_loglik


def test_unknown_covariance_names_the_closest():
    with pytest.raises(SpecError, match="did you mean 'toep'"):
        fit_mmrm(_toy(10), columns={'response': "y", 'subject': "sid", 'visit': "vis", 'arm': "arm"}, covariance="toepliz")


def test_durbin_levinson_agrees_with_statsmodels():
    from statsmodels.tsa.stattools import levinson_durbin_pacf

    from retrostudy.models._linalg import levinson, pacf_from_acf

    rng = np.random.default_rng(3)
    for k in (1, 2, 5, 9):
        pacf = rng.uniform(-0.9, 0.9, k)
        _, acf = levinson_durbin_pacf(np.r_[1.0, pacf])  # statsmodels' pacf starts at lag 0
        np.testing.assert_allclose(levinson(pacf), acf[1:], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(pacf_from_acf(acf[1:]), pacf, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["reml", "ml"])
@pytest.mark.parametrize("name", ["us", "csh", "ar1", "toep", "adh"])
def test_one_visit_closed_form_equals_the_general_evaluation(method, name):
    """V = theta c I (one visit): the closed-form optimum, -2 log L, gradient, Hessian, C and Q equal
    the pattern loops' at that theta, and theta is the optimum (gradient 0; a step either way is worse)."""
    from retrostudy.models import reml as engine

    rng = np.random.default_rng(11)
    n, p = 40, 4
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    y = X @ rng.normal(size=p) + rng.normal(scale=1.7, size=n)
    problem = prepare(y, X, np.arange(n), np.zeros(n, dtype=np.int64), 1)
    structure = make_structure(name, 1)
    fit = fit_reml(problem, structure, method=method)
    assert fit.optimizer == "closed form" and fit.converged and fit.iterations == 0
    rss = float(np.sum((y - X @ np.linalg.lstsq(X, y, rcond=None)[0]) ** 2))
    s2 = rss / (n - p if method == "reml" else n)
    np.testing.assert_allclose(fit.sigma[0, 0, 0], s2, rtol=1e-12)
    assert not np.isclose(fit.sigma[0, 0, 0], rss / (n - p if method == "ml" else n), rtol=1e-6)  # the other divisor
    general = evaluate(problem, structure, fit.theta, method, order=2)
    np.testing.assert_allclose(fit.minus2_loglik, general.f, rtol=1e-12)
    np.testing.assert_allclose(fit.beta, general.beta, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fit.vcov_beta, general.Ainv, rtol=1e-10)
    np.testing.assert_allclose(fit.hessian, general.hess, rtol=1e-10)
    np.testing.assert_allclose(fit.Q, general.Q, rtol=1e-10)
    np.testing.assert_allclose(fit.gradient, 0.0, atol=1e-10 * abs(general.hess[0, 0]))
    np.testing.assert_allclose(general.grad, 0.0, atol=1e-8 * abs(general.hess[0, 0]))
    for step in (0.999, 1.001):
        assert evaluate(problem, structure, fit.theta * step, method).f > fit.minus2_loglik
    # two visits, or a weighted fit: the general Newton path
    assert engine._one_visit_fit(prepare(y, X, np.arange(n), np.zeros(n, dtype=np.int64), 1,
                                         weights=np.full(n, 2.0)), structure, method, X.T @ X) is None
