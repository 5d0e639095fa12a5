"""The report's multiplicity: Holm / Bonferroni against R p.adjust, the interval that goes with each adjusted
p-value, the fixed sequence by hand, and the family over the primary outcomes of a real report."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.report.multiplicity import (
    across_primary,
    adjust_p,
    bonferroni_ci,
    within_outcome,
)

REF = Path(__file__).resolve().parents[1] / "reference" / "multiplicity" / "p_adjust.json"


@pytest.fixture(scope="module")
def ref():
    return json.loads(REF.read_text())


def test_holm_and_bonferroni_match_r(ref):
    rtol = ref["tolerance"]["rtol"]
    for case in ref["cases"]:
        p = np.array(case["p"])
        np.testing.assert_allclose(adjust_p(p, "holm"), case["holm"], rtol=rtol, err_msg=case["name"])
        np.testing.assert_allclose(adjust_p(p, "bonferroni"), case["bonferroni"], rtol=rtol, err_msg=case["name"])
        np.testing.assert_array_equal(adjust_p(p, "none"), p)


def test_holm_is_not_hochberg(ref):
    """Near miss: Hochberg's step-up values (what a step direction mix-up gives) differ in every case."""
    for case in ref["cases"]:
        assert np.max(np.abs(adjust_p(np.array(case["p"]), "holm") - case["near_miss_hochberg"])) > 1e-3


def test_holm_agrees_with_statsmodels_and_keeps_nan():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(3)
    for _ in range(50):
        p = rng.uniform(0, 1, rng.integers(1, 15)) ** 2
        np.testing.assert_allclose(adjust_p(p, "holm"), multipletests(p, method="holm")[1], rtol=1e-12)
    out = adjust_p([0.01, np.nan, 0.04], "holm")
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)


def test_bonferroni_critical_values_match_r(ref):
    for c in ref["bonferroni_critical_t"]:
        lo, hi = bonferroni_ci([0.0], [1.0], [c["df"]], c["m"], c["conf"])
        np.testing.assert_allclose(hi, [c["q"]], rtol=1e-10)
        np.testing.assert_allclose(lo, [-c["q"]], rtol=1e-10)


def _table(p, est=None, se=None, df=55.0, visit="week6"):
    p = np.asarray(p, float)
    est = np.ones_like(p) if est is None else np.asarray(est, float)
    se = np.full_like(p, 0.5) if se is None else np.asarray(se, float)
    from scipy import stats

    q = stats.t.ppf(0.975, df)
    return pd.DataFrame({"contrast": [f"a{i} - b" for i in range(len(p))], "visit": visit, "estimate": est,
                         "std_error": se, "df": df, "p_value": p, "conf_low": est - q * se, "conf_high": est + q * se})


def test_interval_goes_with_the_adjustment():
    """Bonferroni p below 0.05 exactly when the Bonferroni interval excludes 0; Holm keeps unadjusted CIs."""
    from scipy import stats

    rng = np.random.default_rng(5)
    est = rng.normal(1.2, 0.6, 6)
    se = np.full(6, 0.5)
    t = est / se
    p = 2 * stats.t.sf(np.abs(t), 55.0)
    tab = _table(p, est, se)
    out, kind = within_outcome(tab, "bonferroni", 0.95)
    excl = (out["conf_low"] > 0) | (out["conf_high"] < 0)
    assert (excl == (out["p_adjusted"] < 0.05)).all()
    assert "Bonferroni" in kind.ci_label and "exactly when" in kind.note
    out_h, kind_h = within_outcome(tab, "holm", 0.95)
    np.testing.assert_allclose(out_h[["conf_low", "conf_high"]], tab[["conf_low", "conf_high"]])
    assert "unadj" in kind_h.ci_label and "no matching single-step interval" in kind_h.note
    # near miss: Holm p next to Bonferroni intervals (what emmeans prints) is NOT what the report shows
    assert not np.allclose(out_h["conf_low"], out["conf_low"])


def test_family_over_primary_outcomes_and_fixed_sequence_by_hand():
    pain = _table([0.20, 0.009, 0.15])
    womac = _table([0.17, 0.026, 0.18])
    for t in (pain, womac):
        t["p_adjusted"] = adjust_p(t["p_value"], "holm")  # within-outcome Holm, as within_outcome gives
    holm, kind = across_primary({"pain": pain, "womac": womac}, ["pain", "womac"], "holm", "holm", 0.95)
    np.testing.assert_allclose(np.r_[holm["pain"]["p_adjusted"], holm["womac"]["p_adjusted"]],
                               adjust_p([0.20, 0.009, 0.15, 0.17, 0.026, 0.18], "holm"))
    assert kind.family_size == 6 and "6 tests" in kind.p_label
    # fixed sequence: pain's worst within-outcome p (0.45) closes the gate, so WOMAC is not reached
    seq, kind = across_primary({"pain": pain, "womac": womac}, ["pain", "womac"], "fixed-sequence", "holm", 0.95)
    worst_pain = float(pain["p_adjusted"].max())
    np.testing.assert_allclose(seq["pain"]["p_adjusted"], pain["p_adjusted"])
    np.testing.assert_allclose(seq["womac"]["p_adjusted"], np.maximum(womac["p_adjusted"], worst_pain))
    assert seq["pain"]["tested"].all() and not seq["womac"]["tested"].any()
    # every contrast of pain significant: the gate opens and WOMAC keeps its own within-outcome p
    pain_ok = _table([0.001, 0.002, 0.004])
    pain_ok["p_adjusted"] = adjust_p(pain_ok["p_value"], "holm")
    seq2, _ = across_primary({"pain": pain_ok, "womac": womac}, ["pain", "womac"], "fixed-sequence", "holm", 0.95)
    np.testing.assert_allclose(seq2["womac"]["p_adjusted"], np.maximum(womac["p_adjusted"], float(pain_ok["p_adjusted"].max())))
    assert seq2["womac"]["tested"].all()


def test_report_family_is_holm_over_the_primary_outcomes():
    """The report's adjusted p of pain and WOMAC = Holm over their 6 unadjusted MMRM p-values (the report's
    default MMRM: cLDA, unstructured, Kenward-Roger)."""
    from retrostudy.report.analysis import analyse_outcome, final_family
    from retrostudy.report.spec import make_spec

    trial = rs.load_dataset("alghadir2019_sim")
    spec = make_spec(trial, {})
    assert spec.primary_outcomes == ("pain_nrs", "womac") and spec.multiplicity == "holm"
    results = [analyse_outcome(trial, o, spec) for o in ("pain_nrs", "womac", "tug")]
    fam = final_family(results, spec)
    raw = []
    for o in ("pain_nrs", "womac"):
        fit = rs.fit_mmrm(trial, outcome=o, baseline="constrained", df_method="kenward-roger")
        con = rs.contrasts(rs.emmeans(fit), family="pairwise", adjust="none").to_frame()
        raw.append(con.loc[con["visit"] == "week6", "p_value"].to_numpy())
    expect = adjust_p(np.concatenate(raw), "holm")
    np.testing.assert_allclose(np.r_[fam["pain_nrs"][0]["p_adjusted"], fam["womac"][0]["p_adjusted"]], expect,
                               rtol=1e-10)
    # near miss: Holm within each outcome (what the report did before) is not the family's adjustment
    within = np.r_[adjust_p(raw[0], "holm"), adjust_p(raw[1], "holm")]
    assert not np.allclose(within, expect)
    # the exploratory outcome keeps Holm within its own three contrasts
    clda = rs.fit_mmrm(trial, outcome="tug", baseline="constrained", df_method="kenward-roger")
    tug = rs.contrasts(rs.emmeans(clda), family="pairwise", adjust="none").to_frame()
    np.testing.assert_allclose(fam["tug"][0]["p_adjusted"],
                               adjust_p(tug.loc[tug["visit"] == "week6", "p_value"], "holm"), rtol=1e-10)
