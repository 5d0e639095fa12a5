"""The multivariate-t probabilities behind adjust="dunnett", checked against exact results.

* rank 1: P(max|T| < c) is the t (or normal) distribution;
* independent components (corr = I): the product of t probabilities is wrong for t (they share
  the denominator) but exact for the normal: P = (2 Phi(c) - 1)^k;
* all pairwise differences of k equal-variance means (a singular correlation): the Tukey
  studentized range, P = ptukey(sqrt(2) c, k, df) (R: ptukey(sqrt(2)*2.4, 3, 31) = 0.0571297082449
  for the upper tail, stored below);
* the critical value: pmvt_max(qmvt_max(conf)) = conf.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy import stats

mt = importlib.import_module("retrostudy.inference.mvt")


def _pairwise_corr(k: int) -> np.ndarray:
    rows = [np.eye(k)[i] - np.eye(k)[j] for i in range(k) for j in range(i + 1, k)]
    C = np.array(rows)
    S = C @ C.T
    d = np.sqrt(np.diag(S))
    return S / np.outer(d, d)


def test_rank_one_is_t():
    corr = np.ones((2, 2))
    assert mt.pmvt_max(2.0, 12.0, corr) == pytest.approx(1 - 2 * stats.t.sf(2.0, 12.0), rel=1e-12)
    assert mt.pmvt_max(2.0, np.inf, corr) == pytest.approx(1 - 2 * stats.norm.sf(2.0), rel=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_independent_normal(k):
    p = mt.pmvt_max(2.1, np.inf, np.eye(k))
    assert p == pytest.approx((2 * stats.norm.cdf(2.1) - 1) ** k, abs=1e-5 if k > 2 else 1e-8)


def test_pairwise_three_means_is_tukey():
    corr = _pairwise_corr(3)
    p = 1 - mt.pmvt_max(2.4, 31.0, corr)
    assert p == pytest.approx(0.0571297082449, abs=1e-9)  # R ptukey(sqrt(2)*2.4, 3, 31, lower=FALSE)
    assert mt.qmvt_max(0.95, 31.0, corr) == pytest.approx(2.46118886388, abs=1e-7)  # qtukey(.95,3,31)/sqrt(2)
    # near miss: Bonferroni's critical value is larger
    assert stats.t.ppf(1 - 0.05 / 6, 31) - mt.qmvt_max(0.95, 31.0, corr) > 0.02


def test_pairwise_four_means_is_tukey():
    corr = _pairwise_corr(4)
    for c in (1.5, 2.4, 3.0):
        expected = stats.studentized_range.sf(np.sqrt(2) * c, 4, 20.0)
        assert 1 - mt.pmvt_max(c, 20.0, corr) == pytest.approx(expected, abs=1e-5)


def test_quantile_inverts_probability():
    corr = np.array([[1, 0.5, 0.45], [0.5, 1, 0.52], [0.45, 0.52, 1.0]])
    c = mt.qmvt_max(0.95, 31.0, corr)
    assert mt.pmvt_max(c, 31.0, corr) == pytest.approx(0.95, abs=1e-9)
    # mvtnorm::pmvt(-c, c, df = 31, corr, GenzBretz(maxpts = 1e7)) at our c is 0.95000029 (+/- 6e-8)
    assert c == pytest.approx(2.471297, abs=2e-5)
