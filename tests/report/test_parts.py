"""Report parts checked by hand: flow counts, forest orientation, formatting, deterministic SVG."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrostudy import figures
from retrostudy.report import fmt
from retrostudy.report.analysis import ModelResult, OutcomeResult, complete_case
from retrostudy.report.content import forest_frame
from retrostudy.report.flow import flow_counts, flow_table
from retrostudy.schema import OUTCOMES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trial import make_trial  # noqa: E402


def test_flow_counts_by_hand():
    trial = make_trial(n_per_arm=10)  # subjects k = 4 and 9 of each arm miss week 6 (k % 5 == 4)
    counts = flow_counts(trial, analysed={"retro": 8})
    assert counts["total"] == 30
    tab = flow_table(counts).set_index(["arm", "visit"])
    assert tab.loc[("retro", "baseline"), "assessed"] == 10
    assert tab.loc[("control", "week6"), "assessed"] == 8
    assert tab.loc[("control", "week6"), "missing"] == 2
    assert counts["excluded"] == [{"stage": "read", "reason": "value outside the valid range", "values": 1}]
    assert counts["arms"][0]["analysed"] == 8 and counts["arms"][1]["analysed"] is None


def test_complete_case_subset():
    trial = make_trial(n_per_arm=10)
    cc, n_cc, n_all = complete_case(trial, "pain_nrs")
    assert (n_cc, n_all) == (24, 30)
    assert cc.data.groupby("subject_id", observed=True)["visit"].nunique().min() == 3


def _result(outcome, est, lo, hi):
    eff = pd.DataFrame({"contrast": ["retro - forward", "retro - control", "forward - control"],
                        "estimate": est, "conf_low": lo, "conf_high": hi})
    m = ModelResult("mmrm", "ok", effects=eff)
    return OutcomeResult(outcome, m, ModelResult("ancova", "failed", "not fitted in this test"), None, 10, 10)


def test_forest_orientation_follows_direction():
    """Pain: lower is better, so retro - forward = -0.5 (retro lower) must plot at +0.5 (favours retro)."""
    res = [_result("pain_nrs", [-0.5, -1.0, 0.2], [-0.9, -1.5, -0.1], [-0.1, -0.5, 0.5]),
           _result("quad_strength", [0.4, 0.8, -0.3], [0.0, 0.3, -0.7], [0.8, 1.3, 0.1])]
    ff = forest_frame(res, OUTCOMES).set_index(["outcome", "contrast"])
    np.testing.assert_allclose(ff.loc[("pain_nrs", "retro - forward"), ["estimate", "conf_low", "conf_high"]]
                               .to_numpy(float), [0.5, 0.1, 0.9])
    np.testing.assert_allclose(ff.loc[("quad_strength", "retro - control"), ["estimate", "conf_low", "conf_high"]]
                               .to_numpy(float), [0.8, 0.3, 1.3])
    assert ff.loc[("pain_nrs", "forward - control"), "first"] == "forward"
    assert (ff["conf_low"] <= ff["estimate"]).all() and (ff["estimate"] <= ff["conf_high"]).all()


def test_formatting():
    assert fmt.num(-0.004) == "-0.00" and fmt.num(-0.006) == "-0.01" and fmt.num(1.23456) == "1.23"
    assert fmt.num(np.nan) == "\u2013" and fmt.num(None) == "\u2013"
    assert fmt.pval(0.0004) == "<0.001" and fmt.pval(0.0123) == "0.012"
    assert fmt.ci(-1.5, 0.25) == "-1.50 to 0.25"
    assert fmt.n_pct(3, 27.2727) == "3 (27.3%)"


def test_report_numbers_print_like_the_results_tables():
    """The report formats finite numbers exactly as retrostudy.format (what `retrostudy fit` prints)."""
    rformat = pytest.importorskip("retrostudy.format")
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0, 3, 200), [-0.004, 0.0005, 12.345, -7.0]])
    for x in values:
        assert fmt.num(x) == rformat.fmt_num(float(x))
        assert fmt.num(x, 1) == rformat.fmt_num(float(x), 1)
        assert fmt.ci(x, x + 1) == rformat.fmt_ci(float(x), float(x) + 1)
    for p in np.concatenate([rng.uniform(0, 1, 100), [0.0009, 0.001, 1.0]]):
        assert fmt.pval(p) == rformat.fmt_p(float(p))


def test_svg_is_deterministic_and_has_no_date():
    trial = make_trial(n_per_arm=5)
    a = figures.to_svg(figures.trajectory_plot(trial.data, "pain_nrs"))
    b = figures.to_svg(figures.trajectory_plot(trial.data, "pain_nrs"))
    assert a == b
    assert b"<dc:date>" not in a and b"<text" not in a  # text drawn as paths: no font lookup downstream
