"""The missing-data figures: deterministic SVG, the synthetic mark, the counts they draw, and the vocabularies the
command line and the report settings take (one copy in retrostudy.options) agree with the missing package."""
from __future__ import annotations

import pandas as pd

import retrostudy as rs
from retrostudy import figures
from retrostudy.figures_missing import missingness_data, tipping_point_frame


def test_missingness_counts_by_hand():
    trial = rs.load_dataset("retro_replication_sim")
    m = missingness_data(trial, ["womac"])
    rows = trial.data.query("outcome == 'womac'").dropna(subset=["value"])
    by_hand = rows.groupby(["arm", "visit"], observed=True)["subject_id"].nunique()
    for r in m.itertuples(index=False):
        assert r.observed == by_hand.get((r.arm, r.visit), 0)
        assert r.randomized == 50 and abs(r.percent - 100 * r.observed / 50) < 1e-12


def test_svg_is_deterministic_and_marked_synthetic():
    trial = rs.load_dataset("alghadir2019_sim")
    tp = rs.tipping_point(trial, outcome="pain_nrs", arm="retro", deltas=[0, 1, 2, 3], progress=False)
    a = figures.to_svg(rs.tipping_point_plot(tp, synthetic=True))
    b = figures.to_svg(rs.tipping_point_plot(tp, synthetic=True))
    assert a == b and len(a) > 10_000
    plain = figures.to_svg(rs.tipping_point_plot(tp))
    assert plain != a  # the mark is drawn (as paths: text is not searchable in the SVG)
    m1 = figures.to_svg(rs.missingness_plot(trial, ["pain_nrs"], synthetic=True))
    assert m1 == figures.to_svg(rs.missingness_plot(trial, ["pain_nrs"], synthetic=True))


def test_tipping_frame_is_oriented():
    trial = rs.load_dataset("alghadir2019_sim")
    tp = rs.tipping_point(trial, outcome="pain_nrs", arm="retro", deltas=[0, 1], progress=False)
    f = tipping_point_frame(tp)
    raw = tp.to_frame().query("contrast == 'retro - control'")
    assert list(f["estimate"]) == list(-raw["estimate"])  # pain: lower is better, so positive favours retro
    assert (f["conf_low"] <= f["conf_high"]).all() and f["first"].iloc[0] == "retro"


def test_sensitivity_plot_draws_a_panel_per_outcome():
    frame = pd.DataFrame({"outcome_label": ["A", "A", "B", "B"], "analysis": ["x", "y", "x", "y"],
                          "first": "retro", "second": "control", "estimate": [1.0, 0.5, 2.0, 1.0],
                          "conf_low": [0.1, -0.2, 1.0, 0.0], "conf_high": [1.9, 1.2, 3.0, 2.0],
                          "p_value": [0.01, 0.2, 0.001, 0.05], "primary": [True, False, True, False]})
    fig = rs.sensitivity_plot(frame)
    assert len(fig.axes) == 2
    figures.to_svg(fig)


def test_option_vocabularies_match_the_missing_package():
    from retrostudy.missing.engine import METHODS
    from retrostudy.missing.ice import STRATEGIES
    from retrostudy.options import MI_METHODS, MI_STRATEGIES, SENSITIVITY_SETTINGS

    assert MI_STRATEGIES == STRATEGIES and MI_METHODS == METHODS
    assert tuple(SENSITIVITY_SETTINGS["strategies"][0]) == STRATEGIES
