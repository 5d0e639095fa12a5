"""Responder analysis: hand-checkable cases, the default thresholds, the missing-data rules, the result
object, properties of the intervals and the figure. (The R and published references are in
test_responders_reference.py.)"""
from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

import retrostudy as rs
from retrostudy.errors import ModelError, SpecError
from retrostudy.inference import proportions as prop
from retrostudy.inference.response_criteria import CRITERIA, ResponseCriterion

# ------------------------------------------------------------------ a trial you can count by hand

# pain (0-10, lower is better): subject -> (arm, baseline, week 6); None = missing
HAND = {
    "A1": ("a", 8, 5), "A2": ("a", 6, 4), "A3": ("a", 7, 6), "A4": ("a", 5, None), "A5": ("a", 4, 2),
    "B1": ("b", 8, 7), "B2": ("b", 6, 6), "B3": ("b", 7, 4), "B4": ("b", None, 3),
    "C1": ("c", 6, 6), "C2": ("c", 5, 5), "C3": ("c", 7, 8), "C4": ("c", 3, 1),
}


def _hand_frame(values=HAND, outcome="pain_nrs") -> pd.DataFrame:
    rows = []
    for sid, (arm, base, post) in values.items():
        for visit, week, v in (("baseline", 0.0, base), ("week6", 6.0, post)):
            if v is not None:
                rows.append({"subject_id": sid, "arm": arm, "visit": visit, "week": week, "outcome": outcome,
                             "value": float(v), "age": 50.0 + len(rows) % 7})
    frame = pd.DataFrame(rows)
    frame["arm"] = pd.Categorical(frame["arm"], categories=["a", "b", "c"])
    return frame


def test_hand_counts_non_responder_rule():
    # improvement >= 1.99: A1 (3), A2 (2), A5 (2) | B3 (3) | C4 (2); A4, B4 missing -> non-responders
    res = rs.responders(_hand_frame(), outcome="pain_nrs")
    r = res.rates.set_index("arm")
    assert r["responders"].tolist() == [3, 1, 1] and r["n"].tolist() == [5, 4, 4]
    assert r["n_missing"].tolist() == [1, 1, 0] and r["n_randomized"].tolist() == [5, 4, 4]
    np.testing.assert_allclose(r["rate"], [3 / 5, 1 / 4, 1 / 4], rtol=1e-15)
    t = res.table.set_index(["contrast", "measure"])
    assert list(dict.fromkeys(res.table["contrast"])) == ["a vs c", "b vs c"]
    np.testing.assert_allclose(t.loc[("a vs c", "risk_difference"), "estimate"], 3 / 5 - 1 / 4, rtol=1e-15)
    np.testing.assert_allclose(t.loc[("a vs c", "risk_ratio"), "estimate"], (3 / 5) / (1 / 4), rtol=1e-15)
    np.testing.assert_allclose(t.loc[("a vs c", "nnt"), "estimate"], 1 / (3 / 5 - 1 / 4), rtol=1e-12)
    sub = res.subjects.set_index("subject_id")
    assert sub.loc["A4", "responder"] == 0.0 and sub.loc["A4", "missing"] == "no pain_nrs value at week6"
    assert sub.loc["B4", "missing"] == "no pain_nrs value at baseline (baseline)"
    assert sub.loc["A1", "improvement"] == 3.0 and sub.loc["C3", "change"] == 1.0
    assert any("2 randomized subject(s)" in n and "non-responders" in n for n in res.settings["notes"])
    # B4 has no baseline: a non-responder in the rates, but out of the logistic model (logged)
    assert "B4" in set(res.exclusions.frame["subject_id"])
    assert t.loc[("b vs c", "odds_ratio"), "n_first"] == 3


def test_hand_counts_complete_case_rule():
    res = rs.responders(_hand_frame(), outcome="pain_nrs", missing="complete-case", family="pairwise")
    r = res.rates.set_index("arm")
    assert r["responders"].tolist() == [3, 1, 1] and r["n"].tolist() == [4, 3, 4]
    assert res.settings["missing"] == "complete-case"
    log = res.exclusions.frame
    assert set(log.loc[log["stage"] == "responders", "subject_id"]) == {"A4", "B4"}
    assert list(dict.fromkeys(res.table["contrast"])) == ["a vs b", "a vs c", "b vs c"]
    assert math.isnan(res.subjects.set_index("subject_id").loc["A4", "responder"])


def test_threshold_is_inclusive_and_relative_rule():
    # exactly 2 points = 2.0 >= 2; 50 % of 4 = 2 -> A5 meets both; A2 meets 2 points but only 33 %
    res = rs.responders(_hand_frame(), outcome="pain_nrs", threshold=2, relative=0.5)
    sub = res.subjects.set_index("subject_id")["responder"]
    assert sub["A5"] == 1.0 and sub["A2"] == 0.0 and sub["A1"] == 0.0  # A1: 3/8 = 37.5 %
    assert sub["C4"] == 1.0  # 2/3 = 67 %
    anyrule = rs.responders(_hand_frame(), outcome="pain_nrs", threshold=2, relative=0.5, rule="any")
    assert anyrule.subjects.set_index("subject_id")["responder"][["A1", "A2"]].tolist() == [1.0, 1.0]
    rel = rs.responders(_hand_frame(), outcome="pain_nrs", relative=0.4)
    assert rel.criterion.absolute is None and rel.settings["relative"] == 0.4
    assert rel.subjects.set_index("subject_id")["responder"]["B3"] == 1.0  # 3/7 = 43 %


def test_higher_is_better_and_custom_direction():
    strength = {k: (a, b, p) for k, (a, b, p) in HAND.items()}
    res = rs.responders(_hand_frame(strength, "quad_strength"), outcome="quad_strength", threshold=1.0)
    sub = res.subjects.set_index("subject_id")
    assert sub.loc["C3", "improvement"] == 1.0 and sub.loc["C3", "responder"] == 1.0  # 7 -> 8 is better
    assert sub.loc["A1", "responder"] == 0.0
    with pytest.raises(SpecError, match="direction"):
        rs.responders(_hand_frame(outcome="grip"), outcome="grip", threshold=1.0)
    up = rs.responders(_hand_frame(outcome="grip"), outcome="grip", threshold=1.0, direction="higher_is_better")
    assert up.subjects.set_index("subject_id").loc["C3", "responder"] == 1.0


def test_relative_threshold_with_zero_baseline_is_not_met():
    vals = dict(HAND, C4=("c", 0, 0), C2=("c", 0, 0))
    res = rs.responders(_hand_frame(vals), outcome="pain_nrs", relative=0.3)
    assert res.subjects.set_index("subject_id").loc["C4", "responder"] == 0.0
    assert any("baseline of 0" in n for n in res.settings["notes"])


# ------------------------------------------------------------------ defaults and their sources


def test_default_thresholds_and_citations():
    trial = rs.load_dataset("alghadir2019_sim")
    pain = rs.responders(trial, outcome="pain_nrs").criterion
    assert pain.absolute == pytest.approx(1.99) and pain.relative is None and "Tubach" in pain.source
    womac = rs.responders(trial, outcome="womac").criterion
    assert womac.absolute == pytest.approx(0.091 * 96) and "2005;64:29-33" in womac.source
    tug = rs.responders(trial, outcome="tug").criterion
    assert tug.absolute == 1.10 and "Alghadir" in tug.source and "detectable" in tug.source
    high = rs.responders(trial, outcome="pain_nrs", criteria="omeract-oarsi-high").criterion
    assert (high.absolute, high.relative, high.rule) == (2.0, 0.5, "all") and "12:389" in high.source
    moderate = rs.responders(trial, outcome="womac", criteria="omeract-oarsi-moderate").criterion
    assert moderate.absolute == pytest.approx(9.6) and moderate.relative == 0.2
    with pytest.raises(SpecError, match="no default response threshold for 'quad_strength'"):
        rs.responders(trial, outcome="quad_strength")
    assert set(CRITERIA) == {"mcii", "omeract-oarsi-high", "omeract-oarsi-moderate"}


def test_user_thresholds_replace_the_defaults_and_a_criterion_object_is_accepted():
    trial = rs.load_dataset("alghadir2019_sim")
    res = rs.responders(trial, outcome="pain_nrs", threshold=3)
    assert res.criterion.name == "user" and res.settings["threshold"] == 3.0 and res.settings["relative"] is None
    crit = ResponseCriterion("pain_nrs", "lower_is_better", absolute=3.0)
    same = rs.responders(trial, outcome="pain_nrs", criteria=crit)
    pd.testing.assert_frame_equal(same.table, res.table)
    with pytest.raises(SpecError):
        rs.responders(trial, outcome="pain_nrs", criteria=crit, threshold=2)
    with pytest.raises(SpecError):
        rs.responders(trial, outcome="womac", criteria=crit)


@pytest.mark.parametrize("kwargs, match", [
    ({"missing": "impute"}, "missing must be one of"),
    ({"ci_method": "wald"}, "ci_method must be one of"),
    ({"family": "custom"}, "family must be"),
    ({"visit": "baseline"}, "is the baseline visit"),
    ({"visit": "week9"}, "not in the data"),
    ({"reference_arm": "placebo"}, "Reference arm"),
    ({"covariates": ("height",)}, "Covariate 'height'"),
    ({"threshold": -1}, "number >= 0"),
    ({"rule": "most"}, "rule must be"),
    ({"criteria": "wombat"}, "criteria must be one of"),
    ({"conf_level": 95}, "conf_level"),
])
def test_bad_arguments_are_one_sentence(kwargs, match):
    with pytest.raises(SpecError, match=match):
        rs.responders(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", **kwargs)


def test_one_arm_only_is_a_model_error():
    frame = _hand_frame()
    frame = frame.loc[frame["arm"] == "a"]
    with pytest.raises((ModelError, SpecError)):
        rs.responders(frame, outcome="pain_nrs")


# ------------------------------------------------------------------ the result object


def test_result_object_contract():
    res = rs.responders(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", family="pairwise")
    frame = res.to_frame()
    assert list(frame.columns) == ["contrast", "visit", "measure", "estimate", "std_error", "df", "statistic",
                                   "p_value", "conf_low", "conf_high", "ci_method", "first", "second",
                                   "responders_first", "n_first", "rate_first", "responders_second", "n_second",
                                   "rate_second"]
    assert set(frame["measure"]) == {"risk_difference", "risk_ratio", "odds_ratio", "nnt"}
    frame.loc[0, "estimate"] = 99.0
    assert res.table.loc[0, "estimate"] != 99.0
    d = res.to_dict()
    json.dumps(d)
    assert d["settings"]["missing"] == "non-responder" and d["criterion"]["absolute"] == pytest.approx(1.99)
    assert len(d["rates"]) == 3 and len(d["subjects"]) == 68
    text = res.summary()
    for bit in ("missing: non-responder", "ci_method: miettinen-nurminen", "improvement >= 1.99 points",
                "Tubach", "NNTB", "not adjusted for multiplicity"):
        assert bit in text, bit
    assert "<table" in res._repr_html_() and "Tubach" in res._repr_html_()
    with pytest.raises(AttributeError):
        res.table = None  # frozen
    for col in ("estimate", "conf_low", "p_value", "n_first"):
        assert frame[col].dtype == np.float64


def test_nnt_words_follow_altman():
    assert prop.nnt_text(*prop.nnt_from_rd(0.25, 0.1, 0.4)) == "NNTB 4.0 (2.5 to 10.0)"
    assert prop.nnt_text(*prop.nnt_from_rd(-0.2, -0.5, -0.1)) == "NNTH 5.0 (2.0 to 10.0)"
    assert prop.nnt_text(*prop.nnt_from_rd(0.1, -0.05, 0.25)) == "NNTB 10.0 (NNTB 4.0 to \u221e to NNTH 20.0)"
    nnt, lo, hi = prop.nnt_from_rd(0.1, -0.05, 0.25)
    assert (nnt, lo, hi) == (10.0, 4.0, -20.0)  # conf_low > 0 > conf_high marks "through infinity"
    assert prop.nnt_text(*prop.nnt_from_rd(0.0, -0.1, 0.1)).startswith("NNT \u221e")


def test_ci_method_newcombe_changes_rd_and_nnt_only():
    trial = rs.load_dataset("alghadir2019_sim")
    mn = rs.responders(trial, outcome="tug").table.set_index(["contrast", "measure"])
    nc = rs.responders(trial, outcome="tug", ci_method="newcombe").table.set_index(["contrast", "measure"])
    for m in ("risk_ratio", "odds_ratio"):
        pd.testing.assert_frame_equal(mn.xs(m, level=1), nc.xs(m, level=1))
    assert not np.allclose(mn.xs("risk_difference", level=1)["conf_low"], nc.xs("risk_difference", level=1)["conf_low"])


def test_doctests_of_the_responder_modules():
    import sys

    from retrostudy.inference import responders as _pkg  # noqa: F401  (the function; the module is below)
    from retrostudy.inference import response_criteria

    for mod in (prop, response_criteria, sys.modules["retrostudy.inference.responders"]):
        failed, _ = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert failed == 0, mod.__name__


# ------------------------------------------------------------------ properties of the intervals

tables = st.integers(1, 60).flatmap(lambda n1: st.integers(1, 60).flatmap(
    lambda n2: st.tuples(st.integers(0, n1), st.just(n1), st.integers(0, n2), st.just(n2))))


@settings(max_examples=150, deadline=None)
@given(tables, st.sampled_from([0.9, 0.95, 0.99]))
def test_mn_bounds_solve_the_score_equation_and_agree_with_the_test(t, conf):
    x1, n1, x2, n2 = t
    z = stats.norm.ppf(0.5 + conf / 2)
    est = x1 / n1 - x2 / n2
    lo, hi = prop.mn_interval_rd(x1, n1, x2, n2, conf)
    assert -1 <= lo <= est <= hi <= 1
    if lo > -1:
        assert abs(prop.score_statistic_rd(x1, n1, x2, n2, lo) - z) < 1e-6
    if hi < 1:
        assert abs(prop.score_statistic_rd(x1, n1, x2, n2, hi) + z) < 1e-6
    rlo, rhi = prop.mn_interval_rr(x1, n1, x2, n2, conf)
    assert 0 <= rlo <= rhi
    _, p = prop.score_test(x1, n1, x2, n2)
    if abs(p - (1 - conf)) > 1e-6:  # all three are the same score statistic at no difference
        assert (lo > 0 or hi < 0) == (rlo > 1 or rhi < 1) == (p < 1 - conf)
    nlo, nhi = prop.newcombe_interval_rd(x1, n1, x2, n2, conf)
    assert -1 <= nlo <= est <= nhi <= 1


@settings(max_examples=150, deadline=None)
@given(tables, st.floats(-0.98, 0.98))
def test_restricted_mle_maximises_the_constrained_likelihood(t, delta):
    x1, n1, x2, n2 = t

    def loglik(q2):
        q1 = q2 + delta
        terms = [(x1, q1), (n1 - x1, 1 - q1), (x2, q2), (n2 - x2, 1 - q2)]
        return sum(k * math.log(q) if k else 0.0 for k, q in terms if k or q >= 0)

    lo, hi = max(0.0, -delta), min(1.0, 1.0 - delta)
    q1, q2 = prop.restricted_mle_rd(x1, n1, x2, n2, delta)
    assert q1 - q2 == pytest.approx(delta, abs=1e-9) and lo - 1e-12 <= q2 <= hi + 1e-12
    eps = 1e-12
    best = optimize.minimize_scalar(lambda q: -loglik(q), bounds=(lo + eps, hi - eps), method="bounded",
                                    options={"xatol": 1e-12})
    ours = loglik(min(max(q2, lo + eps), hi - eps))
    assert ours >= -best.fun - 1e-7 * max(1.0, abs(best.fun))


@settings(max_examples=100, deadline=None)
@given(tables, st.floats(0.05, 20.0))
def test_restricted_mle_rr_maximises_the_constrained_likelihood(t, ratio):
    x1, n1, x2, n2 = t
    q1, q2 = prop.restricted_mle_rr(x1, n1, x2, n2, ratio)
    hi = min(1.0, 1.0 / ratio)

    def loglik(q):
        p1 = ratio * q
        terms = [(x1, p1), (n1 - x1, 1 - p1), (x2, q), (n2 - x2, 1 - q)]
        return sum(k * math.log(max(v, 1e-300)) for k, v in terms if k)

    best = optimize.minimize_scalar(lambda q: -loglik(q), bounds=(1e-12, hi - 1e-12), method="bounded",
                                    options={"xatol": 1e-13})
    assert q1 == pytest.approx(ratio * q2, rel=1e-12, abs=1e-15)
    assert loglik(min(max(q2, 1e-12), hi - 1e-12)) >= -best.fun - 1e-7 * max(1.0, abs(best.fun))


# ------------------------------------------------------------------ the figure


def test_cdf_figure_marks_threshold_and_rates():
    from retrostudy.figures import to_svg
    from retrostudy.figures_responders import response_cdf_data, response_cdf_plot

    res = rs.responders(rs.load_dataset("alghadir2019_sim"), outcome="tug")
    data = response_cdf_data(res)
    # the weighted complementary ECDF at the threshold is the responder rate (one threshold)
    for arm, rate in zip(res.rates["arm"], res.rates["rate"]):
        sub = data.loc[data["arm"] == arm]
        assert sub.loc[sub["x"] >= 1.10 - 1e-9, "weight"].sum() == pytest.approx(100 * rate)
    fig = response_cdf_plot(res, synthetic=True)
    ax = fig.axes[0]
    vlines = [ln for ln in ax.get_lines() if np.allclose(ln.get_xdata(), 1.10) and ln.get_linestyle() == "--"]
    assert vlines, "threshold line"
    dots = sorted(float(ln.get_ydata()[0]) for ln in ax.get_lines() if ln.get_marker() == "o")
    np.testing.assert_allclose(dots, sorted(100 * res.rates["rate"]), rtol=1e-12)
    assert any("SYNTHETIC" in t.get_text() for t in ax.texts)
    svg = to_svg(fig)
    assert svg == to_svg(response_cdf_plot(res, synthetic=True))  # deterministic bytes
    both = rs.responders(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", criteria="omeract-oarsi-high")
    fig2 = response_cdf_plot(both, title="")
    assert not [ln for ln in fig2.axes[0].get_lines() if ln.get_marker() == "o"]  # two thresholds: no dots
    import matplotlib.pyplot as plt

    plt.close("all")
