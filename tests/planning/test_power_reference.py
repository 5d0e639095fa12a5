"""Analytic power and sample size against R longpower, Superpower, pwr, power.t.test and mvtnorm.

Fixture: tests/reference/power/power_reference.json, written by make_power_reference.R next to it
(versions recorded in the fixture). Tolerances and why:

* longpower (power.mmrm, power.mmrm.ar1) and the Lu-Luo-Chen tables: rtol 1e-9. Same closed
  formula; longpower's uniroot runs at tol = eps^2, so the differences are rounding only (~1e-13).
* power.t.test / pwr.t2n.test: rtol 1e-8 (both solve the exact noncentral t; R's root at tol 1e-12).
* ANCOVA "exact" (Shieh 2020): rtol 1e-7 against R integrate() of the formula over the whole line;
  against Superpower itself |diff| <= 2e-5, because Superpower integrates by Simpson's rule between
  the 1e-5 and 1 - 1e-5 quantiles of t and so loses up to 2e-5 of the probability.
* ANCOVA "t" (noncentral t with the design factor; Superpower "approx"): rtol 1e-8.
* Dunnett critical values: |diff| <= 5e-6 against mvtnorm (qmvnorm / qmvt find the quantile with an
  error of about 1e-6); sizes derived from them: rtol 1e-6.
Near misses (asserted NOT matched): the z size where the t size was asked (Table 1, t-test), the
t-test size and power where the ANCOVA's design factor applies, longpower's size at alpha = 0.05
where a three-arm design with an adjustment was asked, and Superpower's truncated integral.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

import retrostudy as rs

REF = json.loads((Path(__file__).resolve().parents[1] / "reference" / "power" / "power_reference.json").read_text())


def _not_close(actual, desired, rtol):
    assert not np.allclose(actual, desired, rtol=rtol, atol=0), f"{actual} matches the near miss {desired}"


def _mmrm_kwargs(args: dict) -> dict:
    kw = {"sd": args["sd"], "allocation": args.get("allocation", 1.0), "retention": args["retention"],
          "alternative": args.get("alternative", "two-sided")}
    if "rho" in args:
        kw.update(corr=args["rho"], structure="ar1", times=args["times"])
    else:
        kw["corr"] = args["corr"]
    for key in ("corr2", "retention2", "n_total", "effect", "power", "arms", "adjust"):
        if key in args:
            kw[key] = args[key]
    return kw


# ------------------------------------------------------------------------------- Lu, Luo & Chen

@pytest.mark.parametrize("row", REF["llc_table1"], ids=lambda r: f"phi{r['phi1']}-{r['phi2']}-lam{r['lambda']:.3g}")
def test_llc_table1_z_and_t(row):
    def retention(phi):  # phi = 1: one complete visit; phi = 2: two uncorrelated visits, half retained
        return [1.0, 1.0] if phi == 1 else [1.0, 0.5]

    kw = {"effect": 0.5, "sd": 1, "power": 0.9, "corr": np.eye(2), "retention": retention(row["phi1"]),
              "retention2": retention(row["phi2"]), "allocation": row["lambda"]}
    z = rs.power_mmrm(**kw)
    t = rs.power_mmrm(**kw, test="t")
    assert_allclose([z.phi1, z.phi2], [row["phi1"], row["phi2"]], rtol=1e-12)
    assert_allclose(z.n_total, row["N_z"], rtol=1e-9)
    assert_allclose(z.n_total, row["N_z_power_mmrm"], rtol=1e-9)
    assert_allclose(t.n_total, row["N_t"], rtol=1e-9)
    _not_close(t.n_total, row["N_z"], 1e-3)  # near miss: the normal approximation where t was asked


def test_llc_table1_first_row_is_the_published_168_and_170():
    row = REF["llc_table1"][0]
    assert round(row["N_z"], 4) == 168.1188 and round(row["N_t"], 4) == 170.1476


@pytest.mark.parametrize("row", REF["llc_table2"], ids=lambda r: f"J{r['J']}-a{r['aJ']}-p{r['p1J']}")
def test_llc_table2_phi_by_the_general_formula_and_the_ar1_shortcut(row):
    J = row["J"]
    R = rs.planning.structured_corr(row["rho"], J, "ar1") if row["rho"] > 0 else np.eye(J)
    assert_allclose(rs.planning.mmrm_phi(R, np.asarray(row["retention"], float)), row["phi1"], rtol=1e-9)
    res = rs.power_mmrm(effect=1, sd=1, corr=R, retention=row["retention"], power=0.8)
    assert_allclose([res.phi1, res.n1], [row["phi1"], row["n1"]], rtol=1e-9)


@pytest.mark.parametrize("name", sorted(REF["mmrm"]))
def test_power_mmrm_matches_longpower(name):
    case = REF["mmrm"][name]
    res = rs.power_mmrm(**_mmrm_kwargs(case["args"]))
    assert res.solved_for == case["solved_for"]
    assert_allclose([res.n1, res.n2, res.n_total, res.power, res.effect],
                    [case["n1"], case["n2"], case["n_total"], case["power"], case["delta"]], rtol=1e-9)
    if "phi1" in case:
        assert_allclose([res.phi1, res.phi2], [case["phi1"], case["phi2"]], rtol=1e-9)


def test_the_issue_example_86_99175_per_arm_and_power_0_8000372_at_174():
    cs = REF["mmrm"]["cs_n"]
    res = rs.power_mmrm(**_mmrm_kwargs(cs["args"]))
    assert round(res.n1, 5) == 86.99175 and res.n_total_rounded == 174
    pw = rs.power_mmrm(**_mmrm_kwargs(REF["mmrm"]["cs_power"]["args"]))
    assert round(pw.power, 7) == 0.8000372


# ------------------------------------------------------------------------------- t-test

@pytest.mark.parametrize("name", sorted(REF["ttest"]))
def test_power_ttest_matches_r(name):
    case = REF["ttest"][name]
    res = rs.power_ttest(**case["args"])
    key = {"n1": "n1", "power": "power", "effect": "effect"}[case["solved_for"]]
    assert_allclose(getattr(res, key), case[key], rtol=1e-8)
    if name == "n_d05":
        assert round(res.n1, 5) == 63.76561
        _not_close(res.n1, case["n1_z"], 1e-3)  # near miss: the normal-theory size 62.79


def test_power_ttest_agrees_with_statsmodels_and_pingouin():
    import pingouin as pg
    from statsmodels.stats.power import TTestIndPower

    for d, n1, ratio in [(0.5, 30, 1.0), (0.3, 80, 2.0), (1.1, 12, 0.5)]:
        res = rs.power_ttest(effect=d * 2.0, sd=2.0, n1=n1, allocation=1 / ratio)
        sm = TTestIndPower().power(effect_size=d, nobs1=n1, alpha=0.05, ratio=ratio)
        pgv = pg.power_ttest2n(nx=n1, ny=n1 * ratio, d=d)
        assert_allclose(res.power, [sm, pgv], rtol=1e-6)  # pingouin integrates the same nct; 1e-6 is its accuracy


# ------------------------------------------------------------------------------- ANCOVA

ANCOVA_POWER = {k: v for k, v in REF["ancova"].items() if "n1" in v["args"]}
ANCOVA_N = {k: v for k, v in REF["ancova"].items() if "n1" not in v["args"]}


@pytest.mark.parametrize("name", sorted(ANCOVA_POWER))
def test_power_ancova_matches_shieh_and_the_design_factor_t(name):
    case = ANCOVA_POWER[name]
    exact = rs.power_ancova(**case["args"])
    approx = rs.power_ancova(**case["args"], method="t")
    assert_allclose(exact.power, case["power_exact_full"], rtol=1e-7)
    assert abs(exact.power - case["power_exact"]) <= 2e-5  # Superpower's truncated Simpson rule
    assert_allclose(approx.power, case["power_t"], rtol=1e-8)
    # near misses: forgetting the design factor (the t-test power), and Superpower's truncation
    _not_close(exact.power, case["power_ttest_near_miss"], 1e-2)
    assert abs(exact.power - case["power_exact"]) > 1e-6
    ttest = rs.power_ttest(n1=case["args"]["n1"], allocation=case["args"]["allocation"],
                           effect=case["args"]["effect"], sd=case["args"]["sd"])
    assert_allclose(ttest.power, case["power_ttest_near_miss"], rtol=1e-8)


@pytest.mark.parametrize("name", sorted(ANCOVA_N))
def test_ancova_sample_sizes_exact_t_and_borm(name):
    case = ANCOVA_N[name]
    a = case["args"]
    assert_allclose(rs.power_ancova(**a).n1, case["n1_exact_full"], rtol=1e-8)
    assert_allclose(rs.power_ancova(**a, method="t").n1, case["n1_t"], rtol=1e-8)
    z = rs.power_ancova(**a, method="z")
    assert_allclose(z.n1, case["n1_z_borm"], rtol=1e-10)
    # Borm's design factor: the ANCOVA needs (1 - rho^2) times the normal-theory t-test size
    from scipy.stats import norm

    n_normal_ttest = 2 * (norm.ppf(0.975) + norm.ppf(a["power"])) ** 2 * a["sd"] ** 2 / a["effect"] ** 2
    assert_allclose(z.n1 / (1 - a["rho"] ** 2), n_normal_ttest, rtol=1e-12)
    tt = rs.power_ttest(effect=a["effect"], sd=a["sd"], power=a["power"])
    assert_allclose(tt.n1, case["n1_ttest_near_miss"], rtol=1e-8)
    _not_close(rs.power_ancova(**a).n1, case["n1_ttest_near_miss"], 1e-2)  # near miss: no design factor
    # small-sample ordering: normal formula < design-factor t < exact (the baseline imbalance costs)
    assert z.n1 < rs.power_ancova(**a, method="t").n1 < rs.power_ancova(**a).n1


# ------------------------------------------------------------------------------- three arms

@pytest.mark.parametrize("case", REF["dunnett"], ids=lambda c: f"a{c['allocation']}-df{c['df']}")
def test_dunnett_critical_values_match_mvtnorm(case):
    from retrostudy.planning.critical import critical_value

    df = np.inf if case["df"] == "Inf" else float(case["df"])
    c = critical_value(0.05, comparisons=2, adjust="dunnett", df=df, rho=case["corr"])
    assert abs(c - case["crit"]) <= 5e-6
    bonf = critical_value(0.05, comparisons=2, adjust="bonferroni", df=df)
    assert bonf - case["crit"] > 1e-3  # near miss: Bonferroni is conservative


def test_dunnett_agrees_with_the_package_multivariate_t():
    from retrostudy.inference.mvt import qmvt_max
    from retrostudy.planning.critical import critical_value

    for rho, df in [(0.5, np.inf), (0.4, 25.0), (0.7, 200.0)]:
        corr = np.array([[1.0, rho], [rho, 1.0]])
        assert_allclose(critical_value(0.05, comparisons=2, adjust="dunnett", df=df, rho=rho),
                        qmvt_max(0.95, df, corr), atol=1e-7)


@pytest.mark.parametrize("name", sorted(REF["three_arms"]))
def test_three_arm_designs_with_multiplicity(name):
    case = REF["three_arms"][name]
    args = dict(case["args"])
    tol = 1e-6 if args["adjust"] == "dunnett" else 1e-9  # Dunnett: through mvtnorm's quantile (see above)
    if name.startswith("mmrm"):
        res = rs.power_mmrm(**_mmrm_kwargs(args))
        if "n1" in case:
            assert_allclose([res.n1, res.n2, res.n_total], [case["n1"], case["n2"], case["n_total"]], rtol=tol)
            two_arm = rs.power_mmrm(**{**_mmrm_kwargs(args), "arms": 2})
            _not_close(res.n1, two_arm.n1, 1e-2)  # near miss: no adjustment for the second comparison
            assert res.n_total == pytest.approx(3 * res.n1)
        else:
            assert_allclose(res.power, case["power"], rtol=tol)
    else:
        assert_allclose(rs.power_ttest(**args).n1, case["n1"], rtol=tol)
