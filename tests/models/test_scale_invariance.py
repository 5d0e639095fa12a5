"""Fits do not depend on the unit of the outcome: the same data multiplied by 1e-9 .. 1e9 give the
same t statistics, df and p-values, coefficients scaled by the factor, -2 log L shifted by
2 n log(factor) (REML: (n - p) log(factor^2) for the response part), and no refusal: the rank
check and the Newton steps work on diagonally scaled matrices (issue: an outcome near 3e6
was refused as rank deficient)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import retrostudy as rs

TRIAL = rs.load_dataset("alghadir2019_sim")
SCALES = [1e-9, 1e-6, 1e-3, 1e3, 3e6, 1e9]
FITS = {
    "mmrm-baseline-covariate": lambda d: rs.fit_mmrm(d, outcome="womac", df_method="kenward-roger"),
    "mmrm-csh": lambda d: rs.fit_mmrm(d, outcome="womac", baseline="none", covariance="csh"),
    "lmm": lambda d: rs.fit_lmm(d, outcome="womac", baseline="none"),
    "ancova": lambda d: rs.fit_ancova(d, outcome="womac"),
}


def _scaled(factor):
    d = TRIAL.data.copy()
    d["value"] = d["value"] * factor
    return d


@pytest.fixture(scope="module")
def unit_fits():
    return {name: f(TRIAL.data) for name, f in FITS.items()}


@pytest.mark.parametrize("factor", SCALES)
@pytest.mark.parametrize("name", list(FITS))
def test_same_inference_at_any_scale(name, factor, unit_fits):
    ref = unit_fits[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence or Hessian warnings either
        fit = FITS[name](_scaled(factor))
    a, b = fit.to_frame(), ref.to_frame()
    np.testing.assert_allclose(a["statistic"], b["statistic"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(a["df"], b["df"], rtol=1e-5)
    # coefficients scale with the outcome, except the baseline slope (unit-free)
    slope = np.array(["baseline" in t for t in a["term"]])
    np.testing.assert_allclose(a["estimate"][~slope], factor * b["estimate"][~slope], rtol=1e-5,
                               atol=1e-7 * factor * np.abs(b["estimate"]).max())
    np.testing.assert_allclose(a["estimate"][slope], b["estimate"][slope], rtol=1e-5)
    assert fit.converged
