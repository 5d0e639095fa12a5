"""Boundary (singular) LMM fits are converged fits with a note, as lme4 reports them
(reference: tests/reference/lmm/lmer_boundary.json, made by make_boundary.R with lme4).

Tolerances: -2 REML log-likelihood 1e-9 relative (both sides at the constrained maximum; lme4's
two optimizers agree to 1e-13); variance components 1e-4 absolute on a scale of ~1 (the REML
surface is flat along the boundary direction); fixed effects 1e-6."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.models.reml import fit_reml

REF = Path(__file__).resolve().parents[1] / "reference" / "lmm"
CASES = json.loads((REF / "lmer_boundary.json").read_text())["cases"]
DATA = pd.read_csv(REF / "boundary.csv")
COLS = {"subject": "sid", "visit": "vis", "arm": "trt", "response": "y", "time": "wk"}


@pytest.mark.parametrize("case,random", [("ri", "intercept"), ("rs", "intercept+slope")])
def test_boundary_fit_is_converged_with_a_note_and_matches_lme4(case, random):
    ref = CASES[case]
    assert ref["is_singular"]
    with pytest.warns(rs.RetrostudyWarning, match="boundary \\(singular\\) fit"):
        fit = rs.fit_lmm(DATA, outcome=None, columns=COLS, baseline="none", random=random, reference_arm="b")
    assert fit.converged and fit.fit_stats.converged
    assert "boundary (singular) fit" in fit.fit_stats.note and "boundary (singular) fit" in fit.summary()
    np.testing.assert_allclose(fit.fit_stats.minus2_loglik, ref["minus2_reml"], rtol=1e-9)
    ours = fit.residual_covariance["estimate"].to_numpy()
    # lme4's VarCorr order: var(Intercept), var(wk), cov, residual; ours: var, cov, var(slope), residual
    theirs = np.asarray(ref["varcomp"])
    if random != "intercept":
        theirs = theirs[[0, 2, 1, 3]]
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    # same fixed effects (lme4: trt1 = a - b; ours "trt[a]"); the interior stopping point is the near miss
    np.testing.assert_allclose(fit.coef.to_numpy(), ref["fixef"], rtol=1e-6, atol=1e-9)


def test_interior_stopping_point_is_the_near_miss():
    """Without the boundary refit the optimizer stops unconverged (what was reported as a failure)."""
    fit = rs.fit_mmrm(DATA.assign(vis=DATA["vis"]), outcome=None, columns=COLS, baseline="none")  # design only
    from retrostudy.models.lmm import RandomEffectsStructure

    st = RandomEffectsStructure(np.arange(4.0), "intercept")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eng = fit_reml(fit.details.inputs.problem(), st)
    assert not (eng.converged and eng.hessian_pd)


def test_a_small_interior_variance_is_not_moved_to_the_boundary():
    rng = np.random.default_rng(11)
    frame = DATA.copy()
    frame["y"] = frame["y"] + np.repeat(rng.normal(0, 0.6, 40), 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = rs.fit_lmm(frame, outcome=None, columns=COLS, baseline="none", reference_arm="b")
    assert fit.fit_stats.note is None and fit.residual_covariance["estimate"].iloc[0] > 0.05


def test_one_value_per_subject_is_refused_with_the_count():
    trial = rs.load_dataset("alghadir2019_sim")
    with pytest.raises(rs.ModelError, match="Each of the 59 analysed subjects has one value"):
        rs.fit_lmm(trial, outcome="pain_nrs")
