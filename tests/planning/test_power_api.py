"""The analytic planners as an API: the result object, round trips, monotonicity, bad input."""
from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

import retrostudy as rs
from retrostudy.errors import SpecError

CS = {"sd": 1.0, "corr": 0.25, "structure": "cs", "retention": [1, 0.9, 0.8, 0.7]}


def test_result_is_frozen_with_a_one_row_tidy_frame_and_json():
    res = rs.power_mmrm(effect=0.5, power=0.8, **CS)
    assert isinstance(res, rs.PowerResult)
    with pytest.raises(AttributeError):
        res.n1 = 3  # frozen
    frame = res.to_frame()
    assert len(frame) == 1 and frame.loc[0, "n_total_rounded"] == 174 and frame.loc[0, "solved_for"] == "n_total"
    assert frame.loc[0, "n1"] == res.n1 and res.phi == res.phi1
    assert json.loads(json.dumps(res.to_dict()))["table"][0]["n1"] == pytest.approx(res.n1)
    text = res.summary()
    assert "87 experimental + 87 control = 174" in text and "86.9918" in text and "longpower" in text
    assert "<pre>" in res._repr_html_()


@pytest.mark.parametrize("func,size", [(rs.power_ttest, "n1"), (rs.power_ancova, "n1"), (rs.power_mmrm, "n_total")])
def test_solving_for_each_unknown_round_trips(func, size):
    extra = {"ttest": {}, "ancova": {"rho": 0.6}, "mmrm": {k: v for k, v in CS.items() if k != "sd"}}
    kw = {"sd": 1.3, "allocation": 1.5, **extra[func.__name__.split("_")[1]]}
    a = func(effect=0.7, power=0.85, **kw)
    n = getattr(a, size)
    b = func(**{size: n}, effect=0.7, **kw)
    c = func(**{size: n}, power=0.85, **kw)
    assert_allclose([b.power, c.effect], [0.85, 0.7], rtol=1e-7)


def test_power_grows_with_n_and_effect_and_falls_with_dropout():
    p = [rs.power_mmrm(n_total=n, effect=0.5, **CS).power for n in (60, 100, 140)]
    assert p[0] < p[1] < p[2]
    full = rs.power_mmrm(effect=0.5, power=0.8, sd=1, corr=0.25, structure="cs", retention=[1, 1, 1, 1])
    drop = rs.power_mmrm(effect=0.5, power=0.8, **CS)
    assert full.n_total < drop.n_total and full.phi1 == pytest.approx(1.0)
    # dropout only in the control arm costs less than in both arms
    one = rs.power_mmrm(effect=0.5, power=0.8, sd=1, corr=0.25, structure="cs", retention=[1, 1, 1, 1],
                        retention2=CS["retention"])
    assert full.n_total < one.n_total < drop.n_total


def test_ancova_needs_fewer_than_the_t_test_by_the_design_factor():
    t = rs.power_ttest(effect=1.0, sd=2.0, power=0.9)
    a = rs.power_ancova(effect=1.0, sd=2.0, rho=0.6, power=0.9, method="z")
    from scipy.stats import norm

    assert a.n1 == pytest.approx((1 - 0.36) * 2 * (norm.ppf(0.975) + norm.ppf(0.9)) ** 2 * 4.0, rel=1e-12)
    assert a.n1 < t.n1 * 0.7


def test_one_sided_needs_fewer_and_dunnett_fewer_than_bonferroni():
    two = rs.power_mmrm(effect=0.5, power=0.8, **CS)
    one = rs.power_mmrm(effect=0.5, power=0.8, alternative="one-sided", **CS)
    assert one.n_total < two.n_total
    bonf = rs.power_mmrm(effect=0.5, power=0.8, arms=3, adjust="bonferroni", **CS)
    dunn = rs.power_mmrm(effect=0.5, power=0.8, arms=3, adjust="dunnett", **CS)
    none = rs.power_mmrm(effect=0.5, power=0.8, arms=3, **CS)
    assert none.n1 < dunn.n1 < bonf.n1
    assert dunn.n_total == pytest.approx(3 * dunn.n1)
    assert "per experimental arm x 2" in dunn.summary()


def test_t_version_is_one_step_from_the_z_size():
    z = rs.power_mmrm(effect=0.5, power=0.8, **CS)
    t = rs.power_mmrm(effect=0.5, power=0.8, test="t", **CS)
    assert t.df == pytest.approx(z.n_total - 2)
    assert t.n_total > z.n_total and "one-step" in t.summary()


def test_sources_are_printed():
    res = rs.power_ttest(effect=1, sd=1.5, power=0.8, sources={"sd": "pooled SD at week 6 of pain_nrs"})
    assert "sd: pooled SD at week 6 of pain_nrs" in res.summary()


def test_docstring_examples_run():
    from retrostudy.planning import analytic, critical

    for module in (analytic, critical):
        failures, tried = doctest.testmod(module, raise_on_error=False, verbose=False)
        assert tried > 0 and failures == 0, module.__name__


# ------------------------------------------------------------------------------- bad input: one sentence each

BAD = [
    (rs.power_mmrm, dict(effect=0.5, power=1.2, **CS), "power must be between 0 and 1"),
    (rs.power_mmrm, dict(effect=0.5, power=0.0, **CS), "power must be between 0 and 1"),
    (rs.power_mmrm, dict(effect=0.5, power=0.8, **{**CS, "sd": -1}), "sd must be positive"),
    (rs.power_mmrm, {"effect": 0.5, "power": 0.8, "sd": 1, "corr": [[1, 0.9, 0.1], [0.9, 1, 0.9], [0.1, 0.9, 1]],
                         "retention": [1, 0.9, 0.8]}, "not positive definite"),
    (rs.power_mmrm, {"effect": 0.5, "power": 0.8, "sd": 1, "corr": np.eye(3), "retention": [1, 0.8, 0.9]},
     "must not increase over visits: 0.8 at visit 2 is followed by 0.9 at visit 3"),
    (rs.power_mmrm, dict(effect=0.5, power=0.8, allocation=0, **CS), "allocation must be positive"),
    (rs.power_mmrm, dict(effect=0.5, **CS), "solves for exactly one of n_total, effect, power"),
    (rs.power_mmrm, dict(effect=0.5, power=0.8, n_total=100, **CS), "all of them were given"),
    (rs.power_mmrm, {"effect": 0.5, "power": 0.8, "sd": 1, "corr": np.eye(3), "retention": [1, 0.9]}, "retention has 2"),
    (rs.power_mmrm, {"effect": 0.5, "power": 0.8, "sd": 1, "corr": 0.3, "retention": [1, 0.9]}, "structure='cs' or 'ar1'"),
    (rs.power_mmrm, {"effect": 0.5, "power": 0.8, "sd": 1, "corr": [[2, 0.5], [0.5, 2]], "retention": [1, 0.9]},
     "1 on its diagonal"),
    (rs.power_mmrm, {"effect": 0.5, "power": 0.8, "sd": 1, "corr": np.eye(2), "retention": [1, 1.2]}, "in (0, 1]"),
    (rs.power_mmrm, dict(effect=0.5, power=0.8, test="wald", **CS), "test must be"),
    (rs.power_mmrm, dict(effect=0.5, power=0.8, arms=3, adjust="holm", **CS), "adjust must be one of"),
    (rs.power_mmrm, dict(effect=0.5, power=0.8, alternative="greater", **CS), "alternative must be"),
    (rs.power_mmrm, dict(effect=0.0, power=0.8, **CS), "effect must be a non-zero number"),
    (rs.power_ttest, {"effect": 0.5, "power": 0.8, "sd": 0}, "sd must be positive"),
    (rs.power_ttest, {"effect": 0.5, "power": 0.8, "sd": 1, "alpha": 1.5}, "alpha must be between"),
    (rs.power_ancova, {"effect": 0.5, "power": 0.8, "sd": 1, "rho": 1.0}, "rho must be between -1 and 1"),
    (rs.power_ancova, {"effect": 0.5, "power": 0.8, "sd": 1, "rho": 0.5, "method": "borm"}, "method must be one of"),
    (rs.power_ancova, {"effect": 0.5, "power": 0.8, "sd": 1, "rho": 0.5, "retention": 0}, "proportion in (0, 1]"),
    (rs.power_ttest, {"effect": 1e-9, "power": 0.8, "sd": 1}, "the effect is too small"),
]


@pytest.mark.parametrize("func,kwargs,sentence", BAD, ids=[b[2][:30] for b in BAD])
def test_bad_input_is_one_sentence(func, kwargs, sentence):
    with pytest.raises(SpecError) as info:
        func(**kwargs)
    msg = str(info.value)
    assert sentence in msg
    assert "\n" not in msg and msg.endswith((".", ")"))
