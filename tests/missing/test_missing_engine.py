"""The pieces of the imputation engine against independent computations.

* the per-visit ANCOVA against ``rs.fit_ancova`` + ``rs.contrasts`` (statsmodels OLS, itself
  checked against R) on the complete cases of the bundled trial;
* the conditional mean against the precision-matrix form of the conditional normal;
* the reference-based covariance (rbmi's ``compute_sigma``) against its defining properties;
* the warm-started engine refit against the public ``rs.fit_mmrm`` on the same rows;
* ICE derivation, pooling formulas, reproducibility, failures and the exclusion log.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import retrostudy as rs
from retrostudy.errors import ModelError
from retrostudy.missing.analyse import analyse, make_analysis
from retrostudy.missing.data import prepare_data
from retrostudy.missing.ice import resolve_ice
from retrostudy.missing.impute import impute, make_plan
from retrostudy.missing.model import (
    Params,
    build_model,
    fit_full,
    fit_params,
    fit_params_mmrm,
)
from retrostudy.missing.pool import (
    barnard_rubin_df,
    pool_jackknife,
    pool_rubin,
    rubin_df_original,
)
from retrostudy.missing.strategies import mixed_sigma, strategy_distribution


def _setup(frame, strategy="mar", **kw):
    data = prepare_data(frame, outcome="pain_nrs", **kw)
    ice = resolve_ice(data, None, strategy)
    model, fit, params = fit_full(build_model(data, ice))
    plan = make_plan(data, ice, np.array([len(data.arms) - 1] * len(data.arms)))
    return data, ice, model, fit, params, plan


# ------------------------------------------------------------------ analysis ANCOVA


def test_ancova_matches_fit_ancova_on_complete_cases():
    """Contrasts, SEs, residual df and LS means of the numpy ANCOVA equal rs.fit_ancova's
    (OLS by statsmodels) to rounding error on the trial's complete cases."""
    trial = rs.load_dataset("alghadir2019_sim")
    data = prepare_data(trial, outcome="pain_nrs", covariates=["age", "bmi"])
    complete = np.flatnonzero(data.observed.all(axis=1))
    an = make_analysis(data, "control", "pairwise")
    est, se, df = analyse(an, data.Y[complete], complete)
    fit = rs.fit_ancova(trial, outcome="pain_nrs", covariates=["age", "bmi"])
    con = rs.contrasts(rs.emmeans(fit), family="pairwise").to_frame()
    assert fit.fit_stats["n_subjects"] == complete.size if "n_subjects" in fit.fit_stats else True
    assert list(con["contrast"]) == list(an.contrasts)
    assert_allclose(est[0, :3, 0], con["estimate"], rtol=1e-10)
    assert_allclose(se[0, :3, 0], con["std_error"], rtol=1e-10)
    assert_allclose(df, con["df"].iloc[0], rtol=0)
    emm = rs.emmeans(fit).to_frame()  # numeric covariates at their mean = rbmi's counterfactual LS means
    assert_allclose(est[0, 3:, 0], emm["estimate"], rtol=1e-10)
    assert_allclose(se[0, 3:, 0], emm["std_error"], rtol=1e-10)


def test_ancova_with_categorical_covariate_matches_fit_ancova():
    trial = rs.load_dataset("alghadir2019_sim")
    data = prepare_data(trial, outcome="womac", covariates=["age", "sex"])
    complete = np.flatnonzero(data.observed.all(axis=1))
    est, se, _ = analyse(make_analysis(data, "control"), data.Y[complete], complete)
    con = rs.contrasts(rs.emmeans(rs.fit_ancova(trial, outcome="womac", covariates=["age", "sex"]))).to_frame()
    assert_allclose(est[0, :2, 0], con["estimate"], rtol=1e-10)
    assert_allclose(se[0, :2, 0], con["std_error"], rtol=1e-10)


# ------------------------------------------------------------------ conditional distributions


def _random_spd(rng, T):
    A = rng.normal(size=(T, T))
    return A @ A.T + T * np.eye(T)


def test_conditional_mean_equals_precision_form(sim):
    """impute() (regression form S_qo S_oo^-1) against mu_q - P_qq^-1 P_qo (y_o - mu_o)."""
    data, _ice, model, _fit, params, plan = _setup(sim)
    everyone = np.arange(data.n)
    Y = impute(model, plan, params, everyone)
    P = np.linalg.inv(params.sigma[0])
    mu = model.X_own @ params.beta
    for i in np.flatnonzero(~data.observed.all(axis=1))[:15]:
        q = ~data.observed[i]
        o = ~q
        expect = mu[i, q] - np.linalg.solve(P[np.ix_(q, q)], P[np.ix_(q, o)] @ (data.Y[i, o] - mu[i, o]))
        assert_allclose(Y[i, q], expect, rtol=1e-10)
        assert_allclose(Y[i, o], data.Y[i, o], rtol=0)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_mixed_sigma_keeps_own_marginal_and_reference_conditional(k):
    rng = np.random.default_rng(k)
    S_own, S_ref = _random_spd(rng, 4), _random_spd(rng, 4)
    S = mixed_sigma(S_own, S_ref, k)
    a, b = slice(0, k), slice(k, 4)
    assert_allclose(S, S.T, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(S) > 0)
    assert_allclose(S[a, a], S_own[a, a], rtol=1e-12)
    reg = S[b, a] @ np.linalg.inv(S[a, a])
    assert_allclose(reg, S_ref[b, a] @ np.linalg.inv(S_ref[a, a]), rtol=1e-10, atol=1e-12)
    cond = S[b, b] - reg @ S[a, b]
    assert_allclose(cond, S_ref[b, b] - S_ref[b, a] @ np.linalg.solve(S_ref[a, a], S_ref[a, b]), rtol=1e-10)


def test_strategy_means():
    mu_own = np.array([[1.0, 2.0, 3.0, 4.0]])
    mu_ref = np.array([[1.5, 1.7, 1.8, 2.0]])
    S = np.eye(4)
    assert_allclose(strategy_distribution("j2r", 2, mu_own, mu_ref, S, S)[0], [[1.0, 2.0, 1.8, 2.0]])
    assert_allclose(strategy_distribution("cr", 2, mu_own, mu_ref, S, S)[0], mu_ref)
    assert_allclose(strategy_distribution("cir", 2, mu_own, mu_ref, S, S)[0], [[1.0, 2.0, 2.1, 2.3]])
    assert_allclose(strategy_distribution("lmcf", 2, mu_own, mu_ref, S, S)[0], [[1.0, 2.0, 2.0, 2.0]])
    assert_allclose(strategy_distribution("j2r", 0, mu_own, mu_ref, S, S)[0], mu_ref)
    assert_allclose(strategy_distribution("mar", 1, mu_own, mu_ref, S, S)[0], mu_own)
    assert_allclose(strategy_distribution("j2r", 4, mu_own, mu_ref, S, S)[0], mu_own)  # no ICE


# ------------------------------------------------------------------ the imputation-model fit


def test_engine_refit_equals_public_fit_mmrm(sim):
    """fit_params (REML engine on the full fit's model-matrix rows, warm-started) equals
    fit_params_mmrm (rs.fit_mmrm on the sample's long frame), for a jackknife sample and a
    bootstrap sample with repeated subjects, with one covariance and one per arm. Tolerance
    1e-5 relative: both stop when g'H^-1 g < 1e-10 (-2 log L within ~1e-10 of its optimum),
    which leaves the parameters uncertain at ~1e-5 of their size on these small data."""
    rng = np.random.default_rng(5)
    for same_cov in (True, False):
        data = prepare_data(sim, outcome="pain_nrs", covariates=["age", "sex"])
        ice = resolve_ice(data, None, "j2r")
        model, _, _ = fit_full(build_model(data, ice, same_cov=same_cov))
        for sample in (np.delete(np.arange(data.n), 7), np.sort(rng.integers(0, data.n, data.n))):
            a, b = fit_params(model, sample), fit_params_mmrm(model, sample)
            assert_allclose(a.beta, b.beta, rtol=1e-5, atol=1e-7)
            assert_allclose(a.sigma, b.sigma, rtol=1e-5, atol=1e-5 * np.abs(b.sigma).max())
            if not same_cov:
                assert not np.allclose(a.sigma[0], a.sigma[2])


def test_post_ice_values_stay_out_of_the_imputation_model(sim):
    """Under J2R a value observed at or after the ICE is not in the model's rows; under MAR it is."""
    data = prepare_data(sim, outcome="pain_nrs")
    sid = next(s for s, o in zip(data.subjects, data.observed) if o.all())
    table = pd.DataFrame({"subject_id": [sid], "visit": ["week4"]})
    for strategy, kept in (("j2r", False), ("mar", True)):
        ice = resolve_ice(data, table, strategy)
        model = build_model(data, ice)
        i = list(data.subjects).index(sid)
        assert model.fit_mask[i, 1] == kept and model.fit_mask[i, 2] == kept
        assert model.fit_mask[i, 0]
    res = rs.sensitivity(sim, outcome="pain_nrs", strategy="j2r", ice=table, method="approx-bayes", n_samples=2,
                         seed=1)
    log = res.exclusions.to_frame()
    assert len(log.loc[log["subject_id"] == sid]) == 2
    assert log.loc[log["subject_id"] == sid, "reason"].str.contains("not used to fit the J2R imputation model").all()


# ------------------------------------------------------------------ intercurrent events


def test_ice_derived_from_monotone_dropout():
    frame = pd.DataFrame({
        "id": ["A"] * 4 + ["B"] * 2 + ["C"] * 3 + ["D"] * 2 + ["E"] * 4,
        "v": ["1", "2", "3", "4", "1", "2", "1", "3", "4", "1", "3", "1", "2", "3", "4"],
        "g": ["x"] * 4 + ["y"] * 2 + ["x"] * 3 + ["y"] * 2 + ["y"] * 4,
        "y": [1.0, 2, 3, 4, 1, 2, 1, 3, 4, 1, 3, 1, 2, 3, 4],
    })
    data = prepare_data(frame, outcome=None, subject="id", visit="v", arm="g", response="y", baseline="absent")
    spec = resolve_ice(data, None, "j2r")
    got = dict(zip(data.subjects, spec.index))
    # A complete: none (4); B drops after 2: ICE at visit 3; C intermittent 2 only: no ICE;
    # D misses 2 (MAR) and 4 (dropout): ICE at 4
    assert got == {"A": 4, "B": 2, "C": 4, "D": 3, "E": 4}
    assert list(spec.strategy) == ["mar", "j2r", "mar", "j2r", "mar"]
    assert spec.is_mar(4)[3].tolist() == [True, True, True, False]


def test_ice_from_a_column_and_a_table_agree(sim):
    data = prepare_data(sim, outcome="pain_nrs")
    derived = resolve_ice(data, None, "cr")
    table = derived.table(data)
    col = sim.assign(ice_visit=sim["subject_id"].map(dict(zip(table["subject_id"], table["visit"]))))
    from_table = resolve_ice(data, table[["subject_id", "visit"]], "cr")
    from_col = resolve_ice(data, "ice_visit", "cr", col)
    assert np.array_equal(from_table.index, derived.index) and np.array_equal(from_col.index, derived.index)
    quick = {"method": "condmean-bootstrap", "n_samples": 3, "seed": 1}  # equality needs no jackknife
    a = rs.sensitivity(sim, outcome="pain_nrs", strategy="cr", **quick).to_frame()
    b = rs.sensitivity(col, outcome="pain_nrs", strategy="cr", ice="ice_visit", **quick).to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_baseline_none_never_puts_the_ice_at_baseline(sim):
    frame = sim.loc[~((sim["subject_id"] == "S002") & (sim["visit"] != "week0"))]  # S002: baseline only
    data = prepare_data(frame, outcome="pain_nrs", baseline="none")
    spec = resolve_ice(data, None, "j2r")
    i = list(data.subjects).index("S002")
    assert data.visits[spec.index[i]] == "week2"
    res = rs.sensitivity(frame, outcome="pain_nrs", baseline="none", strategy="j2r", method="approx-bayes",
                         n_samples=2, seed=1)
    assert list(res.to_frame()["visit"].unique()) == ["week2", "week4", "week6"]


# ------------------------------------------------------------------ pooling


def test_rubin_pooling_by_hand():
    rng = np.random.default_rng(3)
    est = rng.normal(1.0, 0.3, size=(20, 1))
    se = rng.uniform(0.9, 1.1, size=(20, 1))
    point, tot, df = pool_rubin(est, se, 100.0)
    M = 20
    W, B = np.mean(se**2), np.var(est, ddof=1)
    T = W + (1 + 1 / M) * B
    lam = (1 + 1 / M) * B / T
    v_obs = 101 / 103 * 100 * (1 - lam)
    v_old = (M - 1) / lam**2
    assert_allclose(point, est.mean(), rtol=1e-14)
    assert_allclose(tot, np.sqrt(T), rtol=1e-14)
    assert_allclose(df, 1 / (1 / v_old + 1 / v_obs), rtol=1e-12)
    # near miss: Rubin's 1987 df is larger here, and is the limit for an infinite complete-data df
    assert not np.allclose(df, rubin_df_original(B, T, M), rtol=1e-3)
    assert_allclose(barnard_rubin_df(np.inf, B, T, M), rubin_df_original(B, T, M), rtol=1e-14)


def test_jackknife_se_formula():
    reps = np.array([[1.0], [2.0], [4.0]])
    _, se, df = pool_jackknife(np.array([2.0]), reps)
    assert_allclose(se, np.sqrt(2 / 3 * np.sum((reps - reps.mean()) ** 2)), rtol=1e-14)
    assert np.isinf(df).all()


# ------------------------------------------------------------------ reproducibility and failures


def test_same_seed_same_bytes_and_different_seed_differs(sim):
    kw = {"outcome": "pain_nrs", "strategy": "j2r", "method": "approx-bayes", "n_samples": 5}
    a = rs.sensitivity(sim, seed=42, **kw).to_frame()
    b = rs.sensitivity(sim, seed=42, **kw).to_frame()
    c = rs.sensitivity(sim, seed=43, **kw).to_frame()
    assert a.to_json() == b.to_json()
    assert not np.allclose(a["estimate"], c["estimate"])
    boot = rs.sensitivity(sim, outcome="pain_nrs", method="condmean-bootstrap", n_samples=5, seed=1)
    assert boot.settings["seed"] == 1 and boot.settings["df"] == "normal"
    assert np.isinf(boot.to_frame()["df"]).all()


def test_bayes_reproducible_and_settings(sim):
    kw = {"outcome": "pain_nrs", "strategy": "cir", "method": "bayes", "n_samples": 4, "burn_in": 10, "thin": 2}
    a = rs.sensitivity(sim, seed=5, **kw)
    b = rs.sensitivity(sim, seed=5, **kw)
    assert a.to_frame().to_json() == b.to_frame().to_json()
    assert a.settings["prior"] == "inverse-wishart" and a.settings["df"] == "Barnard-Rubin t"
    assert "Barnard-Rubin" in a.summary() and "prior" in a.summary()


def _fragile(sim):
    """One subject of sex 'other': about a third of the bootstrap samples leave that level out, and
    then the imputation model (sex by visit) is not estimable."""
    counts = sim.groupby("subject_id")["visit"].count()
    complete = counts[counts == 4].index[1]
    return sim.assign(sex=np.where(sim["subject_id"] == complete, "other", sim["sex"]))


def test_failed_bootstrap_samples_are_counted_with_their_seed(sim):
    frame = _fragile(sim)
    with pytest.raises(ModelError, match=r"seed \d+/\d+"):
        rs.sensitivity(frame, outcome="pain_nrs", method="condmean-bootstrap", n_samples=20, seed=3, max_errors=0,
                       covariates=["sex"])
    res = rs.sensitivity(frame, outcome="pain_nrs", method="condmean-bootstrap", n_samples=20, seed=3,
                         max_errors=200, covariates=["sex"])
    assert res.settings["n_failed"] == len(res.failures) > 0
    assert res.settings["n_samples"] == 20
    assert res.failures["seed"].str.startswith("3/").all()
    assert "replaced" in res.summary()


def test_exclusion_log_names_every_subject_left_out(sim):
    frame = sim.copy()
    frame.loc[frame["subject_id"] == "S005", "age"] = np.nan
    frame = frame.loc[~((frame["subject_id"] == "S006") & (frame["visit"] == "week0"))]
    res = rs.sensitivity(frame, outcome="pain_nrs", covariates=["age"], method="approx-bayes", n_samples=2, seed=1)
    log = res.exclusions.to_frame()
    assert log.loc[log["subject_id"] == "S005", "reason"].iloc[0] == "missing covariate age"
    assert log.loc[log["subject_id"] == "S006", "reason"].iloc[0] == "no baseline value (week0)"
    assert res.settings["n_subjects"] == frame["subject_id"].nunique() - 2


# ------------------------------------------------------------------ delta


def test_arm_delta_table_equals_tipping_grid_and_shifts_only_imputed_values(sim):
    quick = {"method": "condmean-bootstrap", "n_samples": 4, "seed": 9}
    tp = rs.tipping_point(sim, outcome="pain_nrs", arm="retro", deltas=[0.0, 1.5], **quick)
    delta = pd.DataFrame({"arm": ["retro"] * 3, "visit": ["week2", "week4", "week6"], "delta": [1.5] * 3})
    res = rs.sensitivity(sim, outcome="pain_nrs", delta=delta, **quick)
    got = tp.to_frame().query("delta == 1.5").drop(columns="delta").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, res.to_frame())
    base = rs.sensitivity(sim, outcome="pain_nrs", **quick).to_frame()
    pd.testing.assert_frame_equal(tp.to_frame().query("delta == 0").drop(columns="delta").reset_index(drop=True), base)
    # the shift of the week-6 retro estimate is delta x (share of retro subjects imputed at week 6), to
    # first order: the ANCOVA adds each subject's delta / n_arm to the arm's mean
    data = prepare_data(sim, outcome="pain_nrs")
    retro = data.arm_code == 0
    share = np.mean(~data.observed[retro, -1])
    shift = res.to_frame()["estimate"].iloc[-2] - base["estimate"].iloc[-2]
    assert_allclose(shift, 1.5 * share, rtol=0.05)


def test_subject_delta_equals_arm_delta_when_given_to_every_subject(sim):
    data = prepare_data(sim, outcome="pain_nrs")
    subs = [s for s, a in zip(data.subjects, data.arm_code) if a == 1]
    by_subject = pd.DataFrame({"subject_id": np.repeat(subs, 3), "visit": ["week2", "week4", "week6"] * len(subs),
                               "delta": -0.7})
    by_arm = pd.DataFrame({"arm": ["forward"] * 3, "visit": ["week2", "week4", "week6"], "delta": -0.7})
    quick = {"method": "approx-bayes", "n_samples": 3, "seed": 4}
    a = rs.sensitivity(sim, outcome="pain_nrs", strategy="j2r", delta=by_subject, **quick).to_frame()
    b = rs.sensitivity(sim, outcome="pain_nrs", strategy="j2r", delta=by_arm, **quick).to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_params_container():
    p = Params(beta=np.zeros(2), sigma=np.ones((1, 1, 1)))
    assert p.beta.shape == (2,)


def test_parallel_equals_serial(sim):
    """The same seed gives the same bytes serially and on a Dask LocalCluster of two workers."""
    pytest.importorskip("retrostudy.replicates", reason="the replicate runner (retrostudy.replicates) is not installed")
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    kw = {"outcome": "pain_nrs", "strategy": "j2r", "method": "condmean-bootstrap", "n_samples": 6, "seed": 8,
          "progress": False}
    serial = rs.sensitivity(sim, **kw)
    parallel = rs.sensitivity(sim, workers=2, **kw)
    assert serial.to_frame().to_json() == parallel.to_frame().to_json()
    assert serial.replicates.to_json() == parallel.replicates.to_json()


def test_bmlmi_pooling_by_hand_and_against_the_jackknife(sim):
    """von Hippel & Bartlett's pooling: with identical imputations (nothing missing) it is the
    bootstrap: variance (1 + 1/B) var(estimates), df B - 1; on data with dropout, bootstrapped ML
    MI under MAR agrees with conditional mean + jackknife within Monte Carlo error (the point
    estimate is a mean of B bootstrap estimates: MC SE ~ SE / sqrt(B); the SEs to 25 %)."""
    from retrostudy.missing.pool import pool_bmlmi

    rng = np.random.default_rng(0)
    one = rng.normal(size=(30, 1))
    point, se, df = pool_bmlmi(np.repeat(one[:, None, :], 2, axis=1))
    assert_allclose(point, one.mean(), rtol=1e-14)
    assert_allclose(se**2, (1 + 1 / 30) * one.var(ddof=1), rtol=1e-12)
    assert_allclose(df, 29.0, rtol=1e-12)
    B = 40
    res = rs.sensitivity(sim, outcome="pain_nrs", method="bmlmi", n_samples=B, seed=3)
    jack = rs.sensitivity(sim, outcome="pain_nrs").to_frame()
    got = res.to_frame()
    assert np.all(np.abs(got["estimate"] - jack["estimate"]) <= 4 * jack["std_error"] / np.sqrt(B))
    assert_allclose(got["std_error"], jack["std_error"], rtol=0.25)
    assert res.settings["df"] == "von Hippel-Bartlett t" and res.settings["n_imputations"] == 2


def test_remembered_full_fit_gives_the_fresh_fits_result(sim):
    """The full imputation-model fit is remembered across strategies: the result equals a fresh fit's, and other
    data (one value changed) get their own fit."""
    from retrostudy.missing.model import clear_cache

    clear_cache()
    fresh = rs.sensitivity(sim, outcome="pain_nrs", strategy="cir").to_frame()
    rs.sensitivity(sim, outcome="pain_nrs", strategy="mar")  # fills the cache with the same model
    again = rs.sensitivity(sim, outcome="pain_nrs", strategy="cir").to_frame()
    pd.testing.assert_frame_equal(fresh, again)
    other = sim.copy()
    i = other.index[(other["outcome"] == "pain_nrs") & other["value"].notna()][5]
    other.loc[i, "value"] += 1.0
    changed = rs.sensitivity(other, outcome="pain_nrs", strategy="cir").to_frame()
    clear_cache()
    pd.testing.assert_frame_equal(changed, rs.sensitivity(other, outcome="pain_nrs", strategy="cir").to_frame())
    assert not np.allclose(changed["estimate"], fresh["estimate"])


def test_imputed_values_are_what_the_analysis_used(sim):
    """The result's imputed data set (conditional means under J2R, baseline a response): an OLS ANCOVA of the
    last visit on arm and the baseline value, fitted to it with statsmodels, gives the pooled estimate (the
    jackknife changes the SE, not the full-data estimate); observed values are left as they were."""
    import statsmodels.formula.api as smf

    res = rs.sensitivity(sim, outcome="pain_nrs", strategy="j2r", baseline="none")
    imp = res.imputed
    wide = imp.pivot(index=["subject_id", "arm"], columns="visit", values="value").reset_index()
    wide.columns = [str(c) for c in wide.columns]
    ols = smf.ols("week6 ~ C(arm, Treatment('control')) + week0", data=wide).fit()
    est = res.to_frame().set_index(["contrast", "visit"]).loc[("retro - control", "week6"), "estimate"]
    assert_allclose(ols.params["C(arm, Treatment('control'))[T.retro]"], est, rtol=1e-10)
    obs = sim.loc[(sim["outcome"] == "pain_nrs") & sim["value"].notna()].set_index(["subject_id", "visit"])["value"]
    kept = imp.loc[~imp["imputed"]].set_index(["subject_id", "visit"])["value"]
    assert_allclose(kept.to_numpy(), obs.reindex(kept.index).to_numpy(), rtol=0)
    assert imp["imputed"].sum() == len(imp) - len(obs.reindex(imp.set_index(["subject_id", "visit"]).index).dropna())
    # near miss: the MAR imputations are not the J2R ones
    mar = rs.sensitivity(sim, outcome="pain_nrs", strategy="mar", baseline="none").imputed
    assert not np.allclose(mar.loc[mar["imputed"], "value"], imp.loc[imp["imputed"], "value"])
    assert rs.sensitivity(sim, outcome="pain_nrs", method="approx-bayes", n_samples=2, seed=1).imputed.empty
