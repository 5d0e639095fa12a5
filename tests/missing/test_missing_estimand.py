"""The Estimand: default for the bundled trial, mapping / YAML round trip, the sentences, bad input."""
from __future__ import annotations

import pytest
import yaml

import retrostudy as rs
from retrostudy.errors import SpecError
from retrostudy.missing import Estimand, IntercurrentEvent


def test_default_matches_the_bundled_trial():
    trial = rs.load_dataset("alghadir2019_sim")
    for outcome in ("pain_nrs", "womac"):
        e = Estimand.default(outcome)
        assert e.treatments == tuple(trial.arms)
        assert e.visit == trial.visits[-1]
        assert e.contrasts == ("retro - control", "forward - control", "retro - forward")
        assert e.intercurrent_events[0].strategy == "hypothetical"
        assert e.intercurrent_events[0].imputation == "mar"
        assert e.summary == "difference in means"
    text = Estimand.default("pain_nrs").describe()
    assert "Population: all randomized subjects with a baseline value." in text
    assert "retro − control, forward − control, retro − forward" in text


def test_round_trip_through_safe_yaml():
    e = Estimand.default("womac").with_imputation("j2r")
    assert e.intercurrent_events[0].strategy == "treatment policy"
    text = yaml.safe_dump({"estimand": e.to_dict()})
    back = Estimand.from_mapping(yaml.safe_load(text)["estimand"])
    assert back == e


@pytest.mark.parametrize("mapping, pattern", [
    ({"population": "all"}, "needs variable, outcome, visit, treatments"),
    ({**Estimand.default().to_dict(), "power": 0.9}, "Unknown estimand key 'power'"),
    ({**Estimand.default().to_dict(), "contrasts": ["retro - sham"]}, "must read 'a - b'"),
    ({**Estimand.default().to_dict(), "intercurrent_events": [{"event": "dropout", "strategy": "ignore"}]},
     "must be one of treatment policy"),
    ({**Estimand.default().to_dict(), "intercurrent_events": [{"event": "dropout"}]}, "with event and strategy"),
    ({**Estimand.default().to_dict(), "treatments": "retro"}, "must be a list of arms"),
    ("population: all", "must be a mapping"),
])
def test_bad_mapping(mapping, pattern):
    with pytest.raises(SpecError, match=pattern):
        Estimand.from_mapping(mapping)


def test_bad_imputation_of_an_event():
    with pytest.raises(SpecError, match="imputation must be one of"):
        IntercurrentEvent(event="dropout", strategy="hypothetical", imputation="worst case")


def test_result_carries_the_estimand_it_computed(sim):
    quick = {"method": "condmean-bootstrap", "n_samples": 2, "seed": 1}
    res = rs.sensitivity(sim, outcome="pain_nrs", strategy="cir", family="pairwise", **quick)
    e = res.estimand
    assert e.contrasts == tuple(res.to_frame()["contrast"].unique())
    assert e.intercurrent_events[0].imputation == "cir"
    assert e.intercurrent_events[0].strategy == "treatment policy"
    assert e.population.startswith(f"the {res.settings['n_subjects']} subjects")
    declared = Estimand.default("pain_nrs")
    assert rs.sensitivity(sim, outcome="pain_nrs", estimand=declared, **quick).estimand is declared
    assert res.to_dict()["estimand"]["intercurrent_events"][0]["imputation"] == "cir"
