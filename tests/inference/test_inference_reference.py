"""ANCOVA, EMMs, contrasts, joint tests and effect sizes against R (lm + emmeans + car).

Fixtures: tests/reference/ancova/{trial_sim,pingouin_ancova,unbalanced}.json, written by the R
scripts next to them (versions recorded in each fixture). Tolerances and why:

* coefficients, EMM and contrast estimates: rtol 1e-8 (the same least-squares solution;
  differences are rounding only);
* SE, df, t, p, CI bounds, F: rtol 1e-6 (same formulas; t/F tail functions of R and scipy
  agree to ~1e-12, so 1e-6 is loose);
* Tukey p and CI: rtol 1e-6 against R ptukey/qtukey (scipy's studentized range agrees to 1e-7 here);
* mvt ("dunnett") p: |diff| <= 1e-3 against emmeans itself, which calls mvtnorm::pmvt with its
  default GenzBretz(abseps = 0.001); |diff| <= 2e-5 against mvtnorm with 10^6 points (the
  "precise" entries; our rank-3 quasi-Monte-Carlo error is ~1e-6); mvt critical values |diff| <= 2e-5
  against the precise root of that pmvt, <= 5e-3 against emmeans' qmvt-based intervals.
Near misses (asserted NOT matched): no baseline adjustment, unadjusted p where an adjustment was
asked, emmeans "dunnettx" where "mvt" was asked (4-arm case), Cohen's d (no Hedges correction),
and the other weighting of a categorical covariate.
"""
from __future__ import annotations

import numpy as np
import pytest

import retrostudy as rs

R_ADJUST = {"none": "none", "holm": "holm", "bonferroni": "bonferroni", "tukey": "tukey", "mvt": "dunnett"}
R_METHOD = {"pairwise": "pairwise", "trt.vs.ctrl": "trt_vs_ref"}

EST, SE, MVT_EMM, MVT_PRECISE = 1e-8, 1e-6, 1e-3, 2e-5
# emmeans' own mvt critical value comes from mvtnorm::qmvt on pmvt with abseps 1e-3, so its error is
# about 1e-3 divided by the density of max|T| near the 95 % point (0.2-0.5 here): allow 5e-3.
MVT_EMM_CRIT = 5e-3


def _cases(ref_json, trial_frame, trial_sha256, pingouin_frame, unbalanced_frame):
    cases = []
    trial = ref_json("trial_sim.json")
    if trial["data_sha256"] != trial_sha256:
        pytest.fail("fixture stale: rerun Rscript tests/reference/ancova/trial_sim.R")
    for name, case in trial["cases"].items():
        outcome = name.replace("_age_sex", "")
        covs = ("age", "sex") if name.endswith("_age_sex") else ()
        cases.append((f"trial:{name}", case, trial_frame, outcome, covs))
    ping = ref_json("pingouin_ancova.json")
    cases.append(("pingouin:income", ping["cases"]["income"], pingouin_frame, "scores", ()))
    cases.append(("pingouin:income_bmi", ping["cases"]["income_bmi"], pingouin_frame, "scores", ("BMI",)))
    unb = ref_json("unbalanced.json")
    cases.append(("unbalanced:ancova", unb["cases"]["ancova"], unbalanced_frame, "pain_nrs", ("site", "age")))
    return cases


@pytest.fixture(scope="module")
def cases(ref_json, trial_frame, trial_sha256, pingouin_frame, unbalanced_frame):
    out = []
    for label, case, frame, outcome, covs in _cases(ref_json, trial_frame, trial_sha256, pingouin_frame,
                                                    unbalanced_frame):
        fit = rs.fit_ancova(frame, outcome=outcome, covariates=covs)
        out.append((label, case, fit, frame, covs))
    return out


def test_fixture_data_matches_sources(ref_json):
    import pandas as pd
    import pingouin as pg

    from pathlib import Path

    ours = pd.read_csv(Path(__file__).resolve().parents[1] / "reference" / "ancova" / "pingouin_ancova.csv")
    pd.testing.assert_frame_equal(ours, pg.read_dataset("ancova").reset_index(drop=True), check_dtype=False)


def test_model_matches_lm(cases, check):
    for label, case, fit, _, _ in cases:
        assert fit.fit_stats["n_obs"] == case["n"], label
        assert sorted(fit.data["subject_id"]) == sorted(case["subjects"]), label
        check.close(fit.coef.to_numpy(), case["coef"], EST, f"{label} coef")
        check.close(fit.vcov.to_numpy(), case["vcov"], SE, f"{label} vcov")
        check.close(fit.fit_stats["sigma"], case["sigma"], SE, f"{label} sigma")
        check.close(fit.fit_stats["df_resid"], case["df_resid"], 0, f"{label} df")
        check.close([fit.fit_stats["loglik"], fit.fit_stats["aic"], fit.fit_stats["bic"]],
                    [case["loglik"], case["aic"], case["bic"]], SE, f"{label} loglik/aic/bic")


def _check_table(check, ours, ref, label, *, p_col="p_value", p_tol=SE):
    check.close(ours["estimate"], ref["estimate"], EST, f"{label} estimate")
    check.close(ours["std_error"], ref["std_error"], SE, f"{label} SE")
    check.close(ours["df"], ref["df"], SE, f"{label} df")
    if "statistic" in ref:
        check.close(ours["statistic"], ref["statistic"], SE, f"{label} t")
        np.testing.assert_allclose(ours[p_col], ref["p_value"], rtol=p_tol, atol=0, err_msg=f"{label} p")
    check.close(ours["conf_low"], ref["conf_low"], SE, f"{label} lower")
    check.close(ours["conf_high"], ref["conf_high"], SE, f"{label} upper")


def test_emmeans_match(cases, check):
    for label, case, fit, _, _ in cases:
        for weights, ref in case["emmeans"].items():
            tab = rs.emmeans(fit, weights=weights).to_frame()
            assert list(tab["arm"]) == ref["label"], label
            _check_table(check, tab, ref, f"{label} emmeans {weights}")
            assert set(tab["visit"]) == {fit.spec["visit"]}


def test_contrasts_match(cases, check):
    for label, case, fit, _, _ in cases:
        emm = rs.emmeans(fit)
        for key, ref in case["contrasts"].items():
            method, adj = key.rsplit("_", 1)
            if adj == "dunnettx":
                continue
            con = rs.contrasts(emm, family=R_METHOD[method], adjust=R_ADJUST[adj]).to_frame()
            what = f"{label} {key}"
            assert list(con["contrast"]) == ref["label"], what
            check.close(con["estimate"], ref["estimate"], EST, what)
            check.close(con["std_error"], ref["std_error"], SE, what)
            check.close(con["statistic"], ref["statistic"], SE, what)
            if adj != "mvt":
                np.testing.assert_allclose(con["p_adjusted"], ref["p_value"], rtol=SE, atol=0, err_msg=what)
                check.close(con["conf_low"], ref["conf_low"], SE, what)
                check.close(con["conf_high"], ref["conf_high"], SE, what)
            else:
                np.testing.assert_allclose(con["p_adjusted"], ref["p_value"], atol=MVT_EMM, rtol=0, err_msg=what)
                np.testing.assert_allclose(con["p_adjusted"], ref["precise"]["p_adjusted"], atol=MVT_PRECISE,
                                           rtol=0, err_msg=what)
                crit = (con["conf_high"] - con["estimate"]) / con["std_error"]
                np.testing.assert_allclose(crit, ref["precise"]["crit"], atol=MVT_PRECISE, err_msg=what)
                ref_crit = (np.asarray(ref["conf_high"]) - np.asarray(ref["estimate"])) / np.asarray(ref["std_error"])
                np.testing.assert_allclose(crit, ref_crit, atol=MVT_EMM_CRIT, err_msg=what)
            if adj != "none":  # near miss: unadjusted p where an adjustment was asked
                check.not_close(con["p_adjusted"], case["contrasts"][f"{method}_none"]["p_value"], 1e-3, what)


def test_joint_tests_and_type3(cases, check):
    for label, case, fit, _, _ in cases:
        jt = rs.joint_tests(fit).to_frame()
        ref = case["joint_tests"]
        assert list(jt["term"]) == ref["term"], label
        check.close(jt["num_df"], ref["num_df"], 0, label)
        check.close(jt["den_df"], ref["den_df"], 0, label)
        check.close(jt["statistic"], ref["statistic"], SE, f"{label} F")
        np.testing.assert_allclose(jt["p_value"], ref["p_value"], rtol=SE, err_msg=label)
        np.testing.assert_allclose(jt["statistic"], ref["statistic_rounded"], atol=5e-4 + 1e-12)
        a3 = case["anova_type3"]
        assert a3["term"] == ref["term"], label  # car names terms as joint_tests does here
        check.close(jt["statistic"], a3["statistic"], SE, f"{label} car F")
        np.testing.assert_allclose(jt["p_value"], a3["p_value"], rtol=SE, err_msg=label)


def test_effect_sizes_match(cases, check):
    for label, case, fit, _, _ in cases:
        emm = rs.emmeans(fit)
        for std, refs in case["effect_sizes"].items():
            for method in ("pairwise", "trt_vs_ref"):
                if method not in refs:
                    continue
                ref = refs[method]
                es = rs.effect_sizes(rs.contrasts(emm, family=method), standardizer=std).to_frame()
                what = f"{label} {std} {method}"
                assert list(es["contrast"]) == ref["label"], what
                check.close(es["standardizer"], np.full(len(es), refs["sigma"]), EST, what)
                check.close(es["standardizer_df"], np.full(len(es), refs["edf"]), 0, what)
                J = 1 - 3 / (4 * refs["edf"] - 1)
                check.close(es["cohen_d"], ref["estimate"], EST, what)
                check.close(es["estimate"], J * np.asarray(ref["estimate"]), EST, what)
                check.close(es["std_error"], J * np.asarray(ref["std_error"]), SE, what)
                check.close(es["conf_low"], J * np.asarray(ref["conf_low"]), SE, what)
                check.close(es["conf_high"], J * np.asarray(ref["conf_high"]), SE, what)
                check.not_close(es["estimate"], ref["estimate"], 1e-3, f"{what}: Cohen's d without J")


def test_change_response(cases, check):
    for label, case, fit, frame, covs in cases:
        chg = rs.fit_ancova(frame, outcome=fit.outcome, covariates=covs, response="change")
        emm = rs.emmeans(chg)
        _check_table(check, emm.to_frame(), case["change"]["emmeans"], f"{label} change emmeans")
        con = rs.contrasts(emm, family="pairwise").to_frame()
        _check_table(check, con, case["change"]["pairwise_none"], f"{label} change contrasts")
        # same contrasts as the value response
        same = rs.contrasts(rs.emmeans(fit), family="pairwise").to_frame()
        check.close(con["estimate"], same["estimate"], EST, label)
        check.close(con["p_value"], same["p_value"], SE, label)


def test_near_miss_no_baseline(cases, check):
    for label, case, fit, _, _ in cases:
        con = rs.contrasts(rs.emmeans(fit), family="pairwise").to_frame()
        nm = case["near_miss_no_baseline"]["pairwise_none"]
        check.not_close(con["estimate"], nm["estimate"], 1e-3, f"{label} no-baseline estimate")
        check.not_close(con["std_error"], nm["std_error"], 1e-3, f"{label} no-baseline SE")


def test_near_miss_dunnettx(cases):
    label, case, fit, _, _ = next(c for c in cases if c[0] == "pingouin:income")
    con = rs.contrasts(rs.emmeans(fit), family="trt_vs_ref", adjust="dunnett").to_frame()
    dx = np.asarray(case["contrasts"]["trt.vs.ctrl_dunnettx"]["p_value"])
    assert np.max(np.abs(con["p_adjusted"].to_numpy() - dx)) > 5e-3, "matched emmeans dunnettx instead of mvt"


def test_weights_near_miss(cases, check):
    label, case, fit, _, _ = next(c for c in cases if c[0] == "unbalanced:ancova")
    eq = rs.emmeans(fit, weights="equal").to_frame()
    prop = rs.emmeans(fit, weights="proportional").to_frame()
    check.not_close(eq["estimate"], case["emmeans"]["proportional"]["estimate"], 1e-4, "equal vs proportional")
    check.not_close(prop["estimate"], case["emmeans"]["equal"]["estimate"], 1e-4, "proportional vs equal")
    # with no arm x site interaction, the weighting shifts every EMM by the same amount
    check.close(np.diff(eq["estimate"]), np.diff(prop["estimate"]), EST, "contrasts unchanged by weighting")


def test_pingouin_ancova_own_numbers(pingouin_frame, check):
    import pandas as pd
    import pingouin as pg

    d = pg.read_dataset("ancova")
    fit = rs.fit_ancova(pingouin_frame, outcome="scores")
    jt = rs.joint_tests(fit).to_frame().set_index("term")
    for covar, covs in (("Income", ()), (["Income", "BMI"], ("BMI",))):
        aov = pg.ancova(data=d, dv="Scores", covar=covar, between="Method").set_index("Source")
        f2 = rs.fit_ancova(pingouin_frame, outcome="scores", covariates=covs)
        jt = rs.joint_tests(f2).to_frame().set_index("term")
        check.close(jt.loc["arm", "statistic"], aov.loc["Method", "F"], SE, "pingouin F Method")
        check.close(jt.loc["arm", "p_value"], aov.loc["Method", "p_unc"], SE, "pingouin p Method")
        check.close(jt.loc["baseline", "statistic"], aov.loc["Income", "F"], SE, "pingouin F Income")
        assert isinstance(aov, pd.DataFrame)
