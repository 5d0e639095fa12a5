"""Bad input to rs.sensitivity / rs.tipping_point: one plain sentence each, the right error class."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.errors import SpecError


def _one_sentence(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text and text.endswith("."), text  # an argument name may start it (as fit_mmrm does)
    return text


@pytest.mark.parametrize("table, pattern", [
    (pd.DataFrame({"subject_id": ["NOPE"], "visit": ["week4"]}), "names subject NOPE, who is not in the data"),
    (pd.DataFrame({"subject_id": ["S003"], "visit": ["week8"]}), "not a visit of the data"),
    (pd.DataFrame({"subject_id": ["S003", "S003"], "visit": ["week2", "week4"]}), "two intercurrent events"),
    (pd.DataFrame({"subject_id": ["S003"], "visit": ["week0"]}), "at the baseline visit"),
    (pd.DataFrame({"subject_id": ["S003"], "visit": ["week4"], "strategy": ["J3R"]}), "strategy of subject S003"),
    (pd.DataFrame({"patient": ["S003"], "visit": ["week4"]}), "needs a subject column"),
])
def test_bad_ice_table(sim, table, pattern):
    with pytest.raises(SpecError, match=pattern) as info:
        rs.sensitivity(sim, outcome="pain_nrs", strategy="j2r", ice=table)
    _one_sentence(info.value)


def test_ice_visit_after_the_last_visit():
    frame = pd.DataFrame({"id": list("aabb"), "v": ["1", "2", "1", "2"], "g": list("xxyy"), "y": [1.0, 2, 3, 4]})
    with pytest.raises(SpecError, match="after the last visit '2'") as info:
        rs.sensitivity(frame, columns={"subject": "id", "visit": "v", "arm": "g", "response": "y"}, baseline="absent",
                       ice=pd.DataFrame({"id": ["a"], "v": ["3"]}))
    _one_sentence(info.value)


def test_two_ices_in_a_column(sim):
    frame = sim.assign(ice_visit=np.where(sim["visit"] == "week2", "week2", "week4"))
    with pytest.raises(SpecError, match="two intercurrent events in column 'ice_visit'"):
        rs.sensitivity(frame, outcome="pain_nrs", ice="ice_visit")


@pytest.mark.parametrize("kwargs, pattern", [
    ({"reference_arm": "placebo"}, "Reference arm 'placebo' is not an arm"),
    ({"references": {"retro": "placebo"}}, "reference arm 'placebo' of arm 'retro' does not exist"),
    ({"references": {"sham": "control"}}, "references names arm 'sham'"),
    ({"strategy": "jump"}, "strategy must be one of"),
    ({"method": "mice"}, "method must be one of"),
    ({"n_samples": 10}, "leave n_samples=None"),
    ({"method": "approx-bayes", "n_samples": 1}, "at least 2"),
    ({"baseline": "covariate"}, "baseline must be one of"),
    ({"covariates": ["height"]}, "Covariate 'height' is not a column"),
    ({"family": "all"}, "family must be"),
    ({"conf_level": 95}, "conf_level must be between 0 and 1"),
    ({"outcome": "gait"}, "Outcome 'gait' is not in the data"),
    ({"columns": {"patient": "subject_id"}}, "columns= has unknown key"),
])
def test_bad_options(sim, kwargs, pattern):
    kw = {"outcome": "pain_nrs", **kwargs}
    with pytest.raises(SpecError, match=pattern) as info:
        rs.sensitivity(sim, **kw)
    _one_sentence(info.value)


@pytest.mark.parametrize("delta, pattern", [
    (pd.DataFrame({"arm": ["sham"], "visit": ["week6"], "delta": [1.0]}), "names arm 'sham'"),
    (pd.DataFrame({"subject_id": ["NOPE"], "visit": ["week6"], "delta": [1.0]}), "names subject NOPE"),
    (pd.DataFrame({"arm": ["retro"], "visit": ["week9"], "delta": [1.0]}), "names visit 'week9'"),
    (pd.DataFrame({"arm": ["retro"], "visit": ["week6"], "delta": ["a lot"]}), "not a number"),
    (pd.DataFrame({"arm": ["retro", "retro"], "visit": ["week6"] * 2, "delta": [1.0, 2.0]}), "two rows for arm retro"),
    (pd.DataFrame({"arm": ["retro"], "subject_id": ["S001"], "visit": ["week6"], "delta": [1.0]}), "either a subject or an arm"),
])
def test_bad_delta_table(sim, delta, pattern):
    with pytest.raises(SpecError, match=pattern) as info:
        rs.sensitivity(sim, outcome="pain_nrs", delta=delta)
    _one_sentence(info.value)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"deltas": [], "arm": "retro"}, "The delta grid is empty"),
    ({"deltas": "big", "arm": "retro"}, "deltas must be a list of numbers"),
    ({"deltas": [0, 1], "arm": "sham"}, "Arm 'sham' is not an arm"),
    ({"deltas": [0, 1], "arm": "retro", "contrast": "retro - sham"}, "Contrast 'retro - sham' is not one of"),
])
def test_bad_tipping_point(sim, kwargs, pattern):
    with pytest.raises(SpecError, match=pattern) as info:
        rs.tipping_point(sim, outcome="pain_nrs", **kwargs)
    _one_sentence(info.value)


def test_lmcf_needs_a_visit_before_the_ice():
    trial = rs.load_dataset("alghadir2019_sim")  # one post-baseline visit: every ICE is at the first imputed visit
    with pytest.raises(SpecError, match="LMCF carries the last mean") as info:
        rs.sensitivity(trial, outcome="pain_nrs", strategy="lmcf")
    _one_sentence(info.value)
    res = rs.sensitivity(trial, outcome="pain_nrs", strategy="lmcf", baseline="none")  # the baseline comes first
    assert len(res.to_frame()) == 2


def test_visit_without_values_for_the_imputation_model(sim):
    frame = sim.loc[~((sim["visit"] == "week6") & ~sim["subject_id"].isin(["S001", "S040", "S070"]))]
    table = pd.DataFrame({"subject_id": ["S001", "S040", "S070"], "visit": ["week6"] * 3})
    with pytest.raises(SpecError, match="no value at visit week6 is left to fit the imputation model") as info:
        rs.sensitivity(frame, outcome="pain_nrs", strategy="j2r", ice=table)
    _one_sentence(info.value)


def test_arm_changing_within_subject(sim):
    frame = sim.copy()
    frame["arm"] = frame["arm"].astype(str)
    frame.loc[(frame["subject_id"] == "S001") & (frame["visit"] == "week6"), "arm"] = "control"
    with pytest.raises(SpecError, match="Subject S001 is in more than one arm"):
        rs.sensitivity(frame, outcome="pain_nrs")
