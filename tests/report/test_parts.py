"""Report parts checked by hand: flow counts in participants, forest orientation, labels, formatting,
settings validation, deterministic SVG."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy import figures
from retrostudy.errors import SpecError
from retrostudy.report import fmt
from retrostudy.report.analysis import (
    ModelResult,
    OutcomeResult,
    ResponderResult,
    completers,
)
from retrostudy.report.content import forest_frame
from retrostudy.report.flow import flow_counts, flow_table
from retrostudy.report.labels import covariate_label, visit_label
from retrostudy.report.spec import make_spec
from retrostudy.schema import OUTCOMES, Outcome

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trial import make_trial


def test_flow_counts_by_hand():
    trial = make_trial(n_per_arm=10)  # subjects k = 4 and 9 of each arm miss week 6 (k % 5 == 4)
    counts = flow_counts(trial, {"pain_nrs": {"retro": 8}})
    assert counts["total"] == 30
    tab = flow_table(counts).set_index(["arm", "visit"])
    assert tab.loc[("retro", "baseline"), "assessed"] == 10
    assert tab.loc[("control", "week6"), "assessed"] == 8
    assert tab.loc[("control", "week6"), "missing"] == 2
    assert (tab["missed_returned"] == 0).all()
    arm0 = counts["arms"][0]
    assert arm0["lost"] == [{"after": "week2", "n": 2}] and arm0["lost_total"] == 2
    assert arm0["analysed"]["pain_nrs"] == 8 and counts["arms"][1]["analysed"]["pain_nrs"] is None
    # the read exclusions are counted in values and in participants
    assert counts["excluded"] == [{"stage": "read", "reason": "value outside the valid range", "values": 1,
                                   "participants": 1}]


def test_flow_separates_leaving_from_missing_one_visit():
    """Replication data: by hand from the table, participants who left vs who missed week 4 and came back."""
    trial = rs.load_dataset("retro_replication_sim")
    counts = flow_counts(trial)
    rows = trial.data.loc[trial.data["value"].notna()]
    order = {v: i for i, v in enumerate(trial.visits)}
    last = rows.assign(i=rows["visit"].astype(str).map(order)).groupby("subject_id", observed=True)["i"].max()
    seen = rows.groupby("subject_id", observed=True)["visit"].agg(lambda v: set(map(str, v)))
    arm = rows.groupby("subject_id", observed=True)["arm"].first().astype(str)
    for a in counts["arms"]:
        ids = arm.index[arm == a["arm"]]
        assert a["lost_total"] == int((last[ids] < order["week6"]).sum())
        by_hand = sum("week4" not in seen[s] and last[s] > order["week4"] for s in ids)
        got = next(v["missed_returned"] for v in a["visits"] if v["visit"] == "week4")
        assert got == by_hand
    assert sum(v["missed_returned"] for a in counts["arms"] for v in a["visits"]) >= 1


def test_completers_subset():
    trial = make_trial(n_per_arm=10)
    cc, n_cc, n_all = completers(trial, "pain_nrs")
    assert (n_cc, n_all) == (24, 30)
    assert cc.data.groupby("subject_id", observed=True)["visit"].nunique().min() == 3


def _result(outcome, est, lo, hi):
    eff = pd.DataFrame({"contrast": ["retro - forward", "retro - control", "forward - control"],
                        "estimate": est, "conf_low": lo, "conf_high": hi})
    m = ModelResult("mmrm", "ok", effects=eff)
    return OutcomeResult(outcome, m, ModelResult("ancova", "failed", "not fitted in this test"), None, 10, 10,
                         ResponderResult("skipped"))


def test_forest_orientation_follows_direction():
    """Pain: lower is better, so retro - forward = -0.5 (retro lower) must plot at +0.5 (favours retro)."""
    res = [_result("pain_nrs", [-0.5, -1.0, 0.2], [-0.9, -1.5, -0.1], [-0.1, -0.5, 0.5]),
           _result("quad_strength", [0.4, 0.8, -0.3], [0.0, 0.3, -0.7], [0.8, 1.3, 0.1])]
    ff = forest_frame(res, OUTCOMES, ("pain_nrs",)).set_index(["outcome", "contrast"])
    np.testing.assert_allclose(ff.loc[("pain_nrs", "retro - forward"), ["estimate", "conf_low", "conf_high"]]
                               .to_numpy(float), [0.5, 0.1, 0.9])
    np.testing.assert_allclose(ff.loc[("quad_strength", "retro - control"), ["estimate", "conf_low", "conf_high"]]
                               .to_numpy(float), [0.8, 0.3, 1.3])
    assert ff.loc[("pain_nrs", "forward - control"), "first"] == "forward"
    assert ff.loc[("pain_nrs", "retro - forward"), "primary"] and not ff.loc[("quad_strength", "retro - forward"),
                                                                                "primary"]
    assert (ff["conf_low"] <= ff["estimate"]).all() and (ff["estimate"] <= ff["conf_high"]).all()


def test_formatting_uses_a_real_minus_sign():
    assert fmt.num(-0.004) == "\u22120.00" and fmt.num(-0.006) == "\u22120.01" and fmt.num(1.23456) == "1.23"
    assert fmt.num(np.nan) == "\u2013" and fmt.num(None) == "\u2013"
    assert fmt.pval(0.0004) == "<0.001" and fmt.pval(0.0123) == "0.012"
    assert fmt.ci(-1.5, 0.25) == "\u22121.50 to 0.25"
    assert fmt.n_pct(3, 27.2727) == "3 (27.3%)"
    assert fmt.signed("NNTB 4.6 (NNTH -2 to x-1)") == "NNTB 4.6 (NNTH \u22122 to x-1)"


def test_report_numbers_print_like_the_results_tables():
    """The report formats finite numbers as retrostudy.format (what `retrostudy fit` prints), minus as U+2212."""
    from retrostudy import format as rformat

    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0, 3, 200), [-0.004, 0.0005, 12.345, -7.0]])
    for x in values:
        assert fmt.num(x) == rformat.fmt_num(float(x)).replace("-", "\u2212")
        assert fmt.num(x, 1) == rformat.fmt_num(float(x), 1).replace("-", "\u2212")
        assert fmt.ci(x, x + 1) == rformat.fmt_ci(float(x), float(x) + 1).replace("-", "\u2212")
    for p in np.concatenate([rng.uniform(0, 1, 100), [0.0009, 0.001, 1.0]]):
        assert fmt.pval(p) == rformat.fmt_p(float(p))


def test_labels():
    assert visit_label("week6", 6.0) == "week 6" and visit_label("week6", 6.0, capital=True) == "Week 6"
    assert visit_label("baseline", 0.0) == "baseline" and visit_label("post", 6.0) == "post (week 6)"
    assert "week6 (week 6)" not in visit_label("week6", 6.0)
    assert covariate_label("age") == "Age (years)" and covariate_label("bmi", units={"bmi": "kg/m2"}) == \
        "BMI (kg/m\u00b2)"
    assert covariate_label("age", {"age": "Age at entry (y)"}) == "Age at entry (y)"
    assert OUTCOMES["pain_nrs"].display == "Pain (NRS), points"  # not "Pain (NRS) (points)"
    assert OUTCOMES["tug"].display == "Timed up-and-go (s)"
    assert Outcome("x", "Score").display == "Score"


def test_settings_are_checked_with_did_you_mean():
    trial = make_trial(n_per_arm=4)
    with pytest.raises(SpecError, match="did you mean 'covariance'"):
        make_spec(trial, {"covariace": "cs"})
    with pytest.raises(SpecError, match="did you mean 'kenward-roger'"):
        make_spec(trial, {"df_method": "kenward"})
    with pytest.raises(SpecError, match="did you mean 'fixed-sequence'"):
        make_spec(trial, {"multiplicity": "fixed-sequense"})
    spec = make_spec(trial, {"df_method": "KR", "covariance": "toeplitz", "multiplicity": "gatekeeping",
                             "primary_outcomes": ["tug"]})
    assert (spec.df_method, spec.covariance, spec.multiplicity) == ("kenward-roger", "toep", "fixed-sequence")
    assert spec.primary_outcomes == ("tug",) and spec.outcomes == ("tug", "pain_nrs")
    assert spec.exploratory_outcomes == ("pain_nrs",)
    with pytest.raises(SpecError, match="primary_outcomes names 'womac'"):
        make_spec(trial, {"primary_outcomes": ["womac"]})
    with pytest.raises(SpecError, match="responders"):
        make_spec(trial, {"responders": {"tug": {"treshold": 1}}})
    default = make_spec(trial, {})
    assert default.primary_outcomes == ("pain_nrs",) and default.reference_arm == "control"
    assert default.post_baseline_visits == ("week2", "week6")


def test_svg_is_deterministic_and_has_no_date():
    trial = make_trial(n_per_arm=5)
    a = figures.to_svg(figures.trajectory_plot(trial.data, "pain_nrs", synthetic=True))
    b = figures.to_svg(figures.trajectory_plot(trial.data, "pain_nrs", synthetic=True))
    assert a == b
    assert b"<dc:date>" not in a and b"<text" not in a  # text drawn as paths: no font lookup downstream
    c = figures.to_svg(figures.trajectory_plot(trial.data, "pain_nrs"))
    assert c != a  # the SYNTHETIC DATA mark is drawn


def test_trajectory_legend_gives_n_at_each_visit():
    import matplotlib.pyplot as plt

    trial = make_trial(n_per_arm=10)
    fig = figures.trajectory_plot(trial.data, "pain_nrs")
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)
    assert labels == ["retro (n = 10, 10, 8)", "forward (n = 10, 10, 8)", "control (n = 10, 10, 8)"]


def test_responder_settings_reach_the_analysis():
    from retrostudy.report.analysis import responder_analysis

    trial = rs.load_dataset("alghadir2019_sim")
    spec = make_spec(trial, {"responders": {"quad_strength": {"relative": 0.2}, "tug": False},
                             "responder_missing": "complete-case"})
    quad = responder_analysis(trial, "quad_strength", spec)
    assert quad.status == "ok" and quad.table.criterion.relative == 0.2
    assert quad.table.settings["missing"] == "complete-case"
    ref = rs.responders(trial, outcome="quad_strength", relative=0.2, missing="complete-case", family="pairwise")
    pd.testing.assert_frame_equal(quad.table.rates, ref.rates)
    assert responder_analysis(trial, "tug", spec).status == "skipped"
    default = responder_analysis(trial, "quad_strength", make_spec(trial, {}))
    assert default.status == "skipped" and "responders: {quad_strength: {relative: 0.2}}" in default.message
    assert responder_analysis(trial, "pain_nrs", make_spec(trial, {})).table.criterion.name == "mcii"


def test_methods_count_who_contributes_nothing_from_the_fits():
    """The 13 replication participants without any post-baseline pain: left out of the MMRM with the baseline as
    a covariate, counted per arm as the fit says, with the reason from its exclusion log."""
    from retrostudy.report.analysis import analyse_outcome
    from retrostudy.report.text import _contributed

    trial = rs.load_dataset("retro_replication_sim")
    spec = make_spec(trial, {"outcomes": ["pain_nrs"], "baseline": "covariate"})
    res = analyse_outcome(trial, "pain_nrs", spec)
    fit = rs.fit_mmrm(trial, outcome="pain_nrs", df_method="kenward-roger")
    randomized = {a: int(n) for a, n in trial.data.groupby("arm", observed=True)["subject_id"].nunique().items()}
    left = {a: randomized[a] - fit.n_analysed()[a] for a in randomized}
    assert sum(left.values()) == fit.n_excluded() == 13
    text = _contributed([res], "mmrm", spec, OUTCOMES, randomized, "week 6")
    assert f"13 left out ({', '.join(f'{a} {n}' for a, n in left.items())}): only a baseline value; none after it (13)" \
        in text
    n_used = fit.n_analysed(by=None)
    assert f"Pain (NRS): {n_used} of 150" in text
    assert f"{n_used - fit.n_analysed(by='visit')['week6']} of them without a week 6 value" in text


def test_small_trial_warning_follows_the_size():
    from retrostudy.report.text import SMALL_TRIAL, summary_paragraphs

    trial = make_trial(n_per_arm=4)
    spec = make_spec(trial, {})
    small = " ".join(summary_paragraphs({}, [], OUTCOMES, spec, {}, SMALL_TRIAL - 1, {"week6": 6.0}))
    large = " ".join(summary_paragraphs({}, [], OUTCOMES, spec, {}, SMALL_TRIAL + 50, {"week6": 6.0}))
    assert "In a trial this small" in small and "In a trial this small" not in large
