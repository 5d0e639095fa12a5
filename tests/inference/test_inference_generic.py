"""emmeans / contrasts / joint_tests / effect_sizes accept any ModelFit (the LMM/MMRM interface).

1. An arm x visit OLS fit built by hand (design.py + numpy least squares, no fit_ancova) checked
   against R lm(value ~ arm * visit + age) + emmeans(~ arm | visit) + joint_tests
   (tests/reference/ancova/unbalanced.json, case long_ols). Tolerances as in
   test_inference_reference.py.
2. A made-up two-visit fit (coef, vcov and an L-dependent df function) checked by hand: each
   EMM is l'b with l the equal-weight average of the grid rows, SE sqrt(l'Vl), df dof(l).
3. A two-group fit whose Hedges' g must equal pingouin.compute_effsize(eftype="hedges").
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import retrostudy as rs
from retrostudy.design import build_design
from retrostudy.models.inference import CustomInference
from retrostudy.results import FitSpec, FitStats, ModelFit


def _ols_fit(frame: pd.DataFrame, rhs: str, *, factors, reference, grid, y="value", df_fn=None, visit=None):
    design, X = build_design(frame, rhs, factors=factors, reference=reference)
    yv = frame[y].to_numpy(float)
    b, *_ = np.linalg.lstsq(X, yv, rcond=None)
    n, p = X.shape
    resid = yv - X @ b
    s2 = resid @ resid / (n - p)
    V = s2 * np.linalg.inv(X.T @ X)
    dfr = float(n - p)

    def dof(L):
        return np.full(np.atleast_2d(L).shape[0], dfr) if df_fn is None else df_fn(L)

    def ftest(L):
        L = np.atleast_2d(L)
        q = np.linalg.matrix_rank(L)
        lb = L @ b
        return float(lb @ np.linalg.solve(L @ V @ L.T, lb) / q), float(q), dfr

    return ModelFit(
        model="hand", outcome="y", design=design, coef=pd.Series(b, index=design.columns),
        vcov=pd.DataFrame(V, index=design.columns, columns=design.columns),
        inference=CustomInference("residual", b, V, dof_function=dof, ftest_function=ftest),
        grid_factors=grid, reference_arm=reference["arm"], df_method="residual", data=frame,
        residual_covariance=pd.DataFrame([[s2]]),
        fit_stats=FitStats(n_subjects=n, df_resid=dfr, sigma=float(np.sqrt(s2))),
        spec=FitSpec(model="hand", outcome="y", mean=rhs, visit=visit),
    )


@pytest.fixture(scope="module")
def long_fit(unbalanced_frame):
    frame = unbalanced_frame.dropna(subset=["value"]).copy()
    frame["visit"] = frame["visit"].astype(str)
    return _ols_fit(frame, "arm * visit + age", factors={"arm": ["retro", "forward", "control"],
                                                           "visit": ["baseline", "week6"]},
                    reference={"arm": "control"}, grid=("arm", "visit"))


def test_long_ols_matches_r(long_fit, ref_json, check):
    ref = ref_json("unbalanced.json")["cases"]["long_ols"]
    check.close(long_fit.coef.to_numpy(), ref["coef"], 1e-8, "coef")
    check.close(long_fit.vcov.to_numpy(), ref["vcov"], 1e-6, "vcov")
    emm = rs.emmeans(long_fit).to_frame()
    r = ref["emmeans"]
    assert list(emm["arm"]) == r["label"] and list(emm["visit"]) == r["visit"]
    check.close(emm["estimate"], r["estimate"], 1e-8, "emm")
    for col in ("std_error", "df", "statistic", "conf_low", "conf_high"):
        check.close(emm[col], r[col], 1e-6, col)
    for adj, ours_adj in (("none", "none"), ("holm", "holm"), ("mvt", "dunnett")):
        con = rs.contrasts(rs.emmeans(long_fit), family="pairwise", adjust=ours_adj).to_frame()
        rc = ref["contrasts"][adj]
        assert list(con["contrast"]) == rc["label"] and list(con["visit"]) == rc["visit"]
        check.close(con["estimate"], rc["estimate"], 1e-8, adj)
        check.close(con["std_error"], rc["std_error"], 1e-6, adj)
        if adj == "mvt":
            precise = np.concatenate([rc["precise"][v]["p_adjusted"] for v in ("baseline", "week6")])
            np.testing.assert_allclose(con["p_adjusted"], precise, atol=2e-5)
            np.testing.assert_allclose(con["p_adjusted"], rc["p_value"], atol=1e-3)
        else:
            np.testing.assert_allclose(con["p_adjusted"], rc["p_value"], rtol=1e-6)
            check.close(con["conf_low"], rc["conf_low"], 1e-6, adj)
    # by=None averages the visits with equal weights (emmeans(ml, ~ arm))
    avg = rs.emmeans(long_fit, by=None).to_frame()
    assert set(avg["visit"]) == {"all visits"}
    np.testing.assert_allclose(avg["estimate"], emm.groupby("arm", sort=False)["estimate"].mean().to_numpy(),
                               rtol=1e-12)
    jt = rs.joint_tests(long_fit).to_frame()
    rj = ref["joint_tests"]
    # R orders terms arm, visit, age, arm:visit; compare by name
    jt = jt.set_index("term").loc[rj["term"]]
    check.close(jt["num_df"], rj["num_df"], 0, "df1")
    check.close(jt["statistic"], rj["statistic"], 1e-6, "F")
    np.testing.assert_allclose(jt["p_value"], rj["p_value"], rtol=1e-6)


def test_made_up_fit_by_hand():
    frame = pd.DataFrame({
        "arm": ["a", "b", "a", "b", "a", "b", "a", "b"],
        "visit": ["v1", "v1", "v2", "v2", "v1", "v2", "v2", "v1"],
        "x": [1.0, 2.0, 3.0, 5.0, 2.0, 4.0, 1.0, 6.0],
    })
    design, X = build_design(frame, "arm * visit + x", factors={"arm": ["a", "b"], "visit": ["v1", "v2"]},
                             reference={"arm": "b"})
    p = len(design.columns)
    b = np.array([1.0, 0.5, -0.25, 0.75, 0.2])[:p]
    rng = np.random.default_rng(1)
    M = rng.normal(size=(p, p))
    V = M @ M.T / 10 + np.eye(p) * 0.05

    def dof(L):  # an L-dependent df, as a Satterthwaite method would give
        L = np.atleast_2d(L)
        return 10.0 + 5.0 * np.abs(L).sum(axis=1)

    def ftest(L):
        L = np.atleast_2d(L)
        lb = L @ b
        return float(lb @ np.linalg.solve(L @ V @ L.T, lb) / L.shape[0]), float(L.shape[0]), 12.5

    fit = ModelFit(model="mmrm", outcome="y", design=design, coef=pd.Series(b, index=design.columns),
                   vcov=pd.DataFrame(V, index=design.columns, columns=design.columns),
                   inference=CustomInference("satterthwaite", b, V, dof_function=dof, ftest_function=ftest),
                   grid_factors=("arm", "visit"), reference_arm="b", df_method="satterthwaite",
                   residual_covariance=pd.DataFrame([[4.0, 1.0], [1.0, 9.0]], index=["v1", "v2"],
                                                    columns=["v1", "v2"]),
                   fit_stats=FitStats(n_subjects=30, df_resid=27.0), data=frame)
    emm = rs.emmeans(fit)
    xbar = frame["x"].mean()
    rows = {("a", "v1"): [1, 1, 0, xbar, 0], ("b", "v1"): [1, 0, 0, xbar, 0],
            ("a", "v2"): [1, 1, 1, xbar, 1], ("b", "v2"): [1, 0, 1, xbar, 0]}
    assert list(design.columns) == ["Intercept", "arm[a]", "visit[v2]", "x", "arm[a]:visit[v2]"]
    t = emm.to_frame()
    for i, rec in t.iterrows():
        l = np.array(rows[(rec["arm"], rec["visit"])], float)
        assert rec["estimate"] == pytest.approx(l @ b, rel=1e-12)
        assert rec["std_error"] == pytest.approx(np.sqrt(l @ V @ l), rel=1e-12)
        assert rec["df"] == pytest.approx(dof(l)[0], rel=1e-12)
        q = stats.t.ppf(0.975, rec["df"])
        assert rec["conf_high"] == pytest.approx(l @ b + q * np.sqrt(l @ V @ l), rel=1e-12)
    con = rs.contrasts(emm, family="trt_vs_ref", adjust="holm").to_frame()
    assert list(con["contrast"]) == ["a - b", "a - b"] and list(con["visit"]) == ["v1", "v2"]
    l = np.array(rows[("a", "v2")]) - np.array(rows[("b", "v2")])
    assert con["estimate"].iloc[1] == pytest.approx(l @ b, rel=1e-12)
    assert con["df"].iloc[1] == pytest.approx(dof(l)[0], rel=1e-12)
    # one contrast per visit: Holm leaves p unchanged
    np.testing.assert_allclose(con["p_adjusted"], con["p_value"], rtol=1e-12)
    es = rs.effect_sizes(rs.contrasts(emm, family="pairwise"), standardizer="residual_sd").to_frame()
    np.testing.assert_allclose(es["standardizer"], [2.0, 3.0])
    J = 1 - 3 / (4 * 27.0 - 1)
    np.testing.assert_allclose(es["estimate"], J * con["estimate"] / [2.0, 3.0], rtol=1e-12)
    jt = rs.joint_tests(fit).to_frame()
    assert list(jt["term"]) == ["arm", "visit", "x", "arm:visit"]
    assert (jt["den_df"] == 12.5).all()
    # arm main effect = average over visits of the arm difference (equal weights)
    l_arm = (np.array(rows[("a", "v1")]) - rows[("b", "v1")] + np.array(rows[("a", "v2")]) - rows[("b", "v2")]) / 2
    F_arm = (l_arm @ b) ** 2 / (l_arm @ V @ l_arm)
    assert jt.loc[jt.term == "arm", "statistic"].iloc[0] == pytest.approx(F_arm, rel=1e-10)


def test_two_group_hedges_equals_pingouin():
    import pingouin as pg

    rng = np.random.default_rng(7)
    x, y = rng.normal(5.0, 2.0, 14), rng.normal(3.5, 2.5, 11)
    frame = pd.DataFrame({"arm": ["t"] * len(x) + ["c"] * len(y), "value": np.r_[x, y]})
    fit = _ols_fit(frame, "arm", factors={"arm": ["t", "c"]}, reference={"arm": "c"}, grid=("arm",),
                   visit="post")
    es = rs.effect_sizes(rs.contrasts(rs.emmeans(fit)), standardizer="residual_sd").to_frame()
    g = pg.compute_effsize(x, y, paired=False, eftype="hedges")
    assert es["estimate"].iloc[0] == pytest.approx(g, rel=1e-12)
    d = pg.compute_effsize(x, y, paired=False, eftype="cohen")
    assert es["cohen_d"].iloc[0] == pytest.approx(d, rel=1e-12)
    assert abs(es["estimate"].iloc[0] - d) > 1e-3  # near miss: no small-sample correction


def test_baseline_sd_from_first_visit(long_fit):
    """A fit whose baseline is part of the response: the SD of the first visit's values, pooled by arm."""
    base = long_fit.data.loc[long_fit.data["visit"] == "baseline"]
    ss = sum(((g - g.mean()) ** 2).sum() for _, g in base.groupby("arm", observed=True)["value"])
    m = len(base) - 3
    es = rs.effect_sizes(rs.contrasts(rs.emmeans(long_fit)), standardizer="baseline_sd").to_frame()
    np.testing.assert_allclose(es["standardizer"], np.sqrt(ss / m), rtol=1e-12)
    np.testing.assert_allclose(es["standardizer_df"], m)
    # near miss: the SD of all baseline values ignoring arm
    assert abs(es["standardizer"].iloc[0] - base["value"].std()) > 1e-6


def test_mmrm_fit_plugs_in(trial_frame):
    """With one post-baseline visit, the MMRM (REML, baseline covariate) is the ANCOVA: same EMMs,
    contrasts and effect sizes through the same inference code (REML sigma^2 equals the OLS
    residual mean square at the optimum; SE rtol 1e-5 allows for optimizer tolerance)."""
    try:
        fit_mmrm = rs.fit_mmrm
    except Exception as exc:  # built concurrently
        pytest.skip(f"fit_mmrm not available: {exc}")
    mm = fit_mmrm(trial_frame, outcome="pain_nrs")
    an = rs.fit_ancova(trial_frame, outcome="pain_nrs")
    for adjust in ("none", "dunnett"):
        cm = rs.contrasts(rs.emmeans(mm), family="pairwise", adjust=adjust).to_frame()
        ca = rs.contrasts(rs.emmeans(an), family="pairwise", adjust=adjust).to_frame()
        assert list(cm["contrast"]) == list(ca["contrast"]) and list(cm["visit"]) == list(ca["visit"])
        np.testing.assert_allclose(cm["estimate"], ca["estimate"], rtol=1e-8)
        np.testing.assert_allclose(cm["std_error"], ca["std_error"], rtol=1e-5)
        np.testing.assert_allclose(cm["df"], ca["df"], rtol=1e-5)
        np.testing.assert_allclose(cm["p_adjusted"], ca["p_adjusted"], rtol=1e-4)
    em = rs.effect_sizes(rs.contrasts(rs.emmeans(mm)), standardizer="baseline_sd").to_frame()
    ea = rs.effect_sizes(rs.contrasts(rs.emmeans(an)), standardizer="baseline_sd").to_frame()
    np.testing.assert_allclose(em["estimate"], ea["estimate"], rtol=1e-8)
