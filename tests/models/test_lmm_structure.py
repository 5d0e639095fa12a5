"""The LMM covariance V = Z G Z' + s2 I as a covariance structure of the REML engine."""
from __future__ import annotations

import numpy as np
import pytest

from retrostudy.errors import SpecError
from retrostudy.models.lmm import RandomEffectsStructure

TIMES = np.array([0.0, 2.0, 4.0, 6.0, 10.0])


def _direct(times, G, s2):
    """Z G Z' + s2 I built from Z itself (independent of the basis used by the class)."""
    Z = np.column_stack([np.ones_like(times), times])[:, : G.shape[0]]
    return Z @ G @ Z.T + s2 * np.eye(len(times))


@pytest.mark.parametrize("random", ["intercept", "intercept+slope"])
def test_matrix_is_zgz_plus_s2(random):
    s = RandomEffectsStructure(TIMES, random)
    G = np.array([[3.0]]) if random == "intercept" else np.array([[3.0, -0.4], [-0.4, 0.25]])
    theta = np.array([3.0, 1.7]) if random == "intercept" else np.array([3.0, -0.4, 0.25, 1.7])
    np.testing.assert_allclose(s.matrix(theta), _direct(TIMES, G, 1.7), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(s.g_matrix(theta), G)
    assert s.linear and s.n_params == len(theta) == len(s.param_names)
    assert s.param_names[-1] == "Residual"


@pytest.mark.parametrize("random", ["intercept", "intercept+slope"])
def test_jacobian_matches_finite_differences_and_hessian_is_zero(random):
    s = RandomEffectsStructure(TIMES, random)
    theta = np.array([3.0, 1.7]) if random == "intercept" else np.array([3.0, -0.4, 0.25, 1.7])
    J = s.jacobian(theta)
    h = 1e-6
    for k in range(s.n_params):
        e = np.zeros_like(theta)
        e[k] = h
        fd = (s.matrix(theta + e) - s.matrix(theta - e)) / (2 * h)
        np.testing.assert_allclose(J[k], fd, rtol=1e-8, atol=1e-8)
    assert J.shape == (s.n_params, len(TIMES), len(TIMES))
    assert np.all(s.hessian(theta) == 0.0)


@pytest.mark.parametrize("random", ["intercept", "intercept+slope"])
def test_unconstrained_round_trip_and_validity(random):
    s = RandomEffectsStructure(TIMES, random)
    theta = np.array([3.0, 1.7]) if random == "intercept" else np.array([3.0, -0.4, 0.25, 1.7])
    u = s.to_unconstrained(theta)
    np.testing.assert_allclose(s.from_unconstrained(u), theta, rtol=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(20):  # any u gives a valid theta
        assert s.valid(s.from_unconstrained(rng.normal(size=s.n_params) * 2))
    bad = theta.copy()
    bad[-1] = -1.0
    assert not s.valid(bad)
    if random == "intercept+slope":
        assert not s.valid(np.array([1.0, 2.0, 1.0, 1.0]))  # |cov| > sqrt(var var): G not PD


@pytest.mark.parametrize("random", ["intercept", "intercept+slope"])
def test_start_recovers_exact_covariance_and_is_valid_for_noisy_input(random):
    s = RandomEffectsStructure(TIMES, random)
    theta = np.array([3.0, 1.7]) if random == "intercept" else np.array([3.0, -0.4, 0.25, 1.7])
    np.testing.assert_allclose(s.start(s.matrix(theta)), theta, rtol=1e-10)
    noisy = np.diag([5.0, 1.0, 7.0, 2.0, 3.0])  # no between-visit covariance at all
    assert s.valid(s.start(noisy))


def test_random_slope_with_two_times_is_refused():
    with pytest.raises(SpecError, match="at least 3 distinct visit times"):
        RandomEffectsStructure([0.0, 6.0], "intercept+slope")
    RandomEffectsStructure([0.0, 6.0], "intercept")  # a random intercept is fine


def test_bad_arguments():
    with pytest.raises(SpecError, match="random must be"):
        RandomEffectsStructure(TIMES, "slope-only")
    with pytest.raises(SpecError, match="same time"):
        RandomEffectsStructure([0.0, 6.0, 6.0], "intercept")
