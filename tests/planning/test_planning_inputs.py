"""rs.planning_inputs: numbers read through public objects, each with where it came from."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import retrostudy as rs
from retrostudy.errors import SpecError


@pytest.fixture(scope="module")
def trial():
    return rs.load_dataset("alghadir2019_sim")


@pytest.fixture(scope="module")
def inputs(trial):
    return rs.planning_inputs(trial, outcome="pain_nrs")


def test_retention_is_the_published_completion(inputs):
    # PROVENANCE.md: 21/23, 20/23, 18/22 completers at week 6, everyone at baseline
    assert inputs.n_randomized == {"retro": 23, "forward": 23, "control": 22}
    assert_allclose(inputs.retention["retro"], [1, 21 / 23])
    assert_allclose(inputs.retention["forward"], [1, 20 / 23])
    assert_allclose(inputs.retention["control"], [1, 18 / 22])


def test_sd_and_correlations_come_from_the_fits_residual_covariance(trial, inputs):
    full = rs.fit_mmrm(trial, outcome="pain_nrs", baseline="none").residual_covariance.to_numpy()
    assert_allclose(inputs.sd, np.sqrt(full[1, 1]), rtol=1e-12)
    assert_allclose(inputs.rho, full[0, 1] / np.sqrt(full[0, 0] * full[1, 1]), rtol=1e-12)
    planned = rs.fit_mmrm(trial, outcome="pain_nrs").residual_covariance.to_numpy()
    assert_allclose(inputs.sd_conditional, np.sqrt(planned[-1, -1]), rtol=1e-12)
    # the ANCOVA residual SD is the same conditional SD (two visits: the MMRM is the ANCOVA)
    anc = rs.fit_ancova(trial, outcome="pain_nrs")
    assert_allclose(inputs.sd_conditional, anc.fit_stats["sigma"], rtol=1e-6)


def test_effects_are_the_ancova_contrasts(trial, inputs):
    con = rs.contrasts(rs.emmeans(rs.fit_ancova(trial, outcome="pain_nrs")), family="trt_vs_ref").to_frame()
    assert_allclose(inputs.effects["estimate"], con["estimate"], rtol=1e-12)
    assert inputs.effect("retro") == pytest.approx(con.set_index("contrast").loc["retro - control", "estimate"])


def test_every_input_says_where_it_came_from(inputs):
    text = inputs.summary()
    for key in ("sd", "rho", "retention", "effect"):
        assert inputs.sources[key] in text
    assert "synthetic" in text
    kw = inputs.mmrm_kwargs()
    assert set(kw["sources"]) == {"sd", "corr", "retention"}
    res = rs.power_mmrm(effect=1.0, power=0.8, **kw)
    assert inputs.sources["retention"] in res.summary()
    assert inputs.to_frame()["source"].str.len().min() > 20


def test_bad_requests(trial, inputs):
    with pytest.raises(SpecError, match="not in the data"):
        rs.planning_inputs(trial, outcome="grip")
    with pytest.raises(SpecError, match="not an experimental arm"):
        inputs.ancova_kwargs("control")
    with pytest.raises(SpecError, match="covariate' or 'response'"):
        inputs.mmrm_kwargs(baseline="none")
