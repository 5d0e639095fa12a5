"""The ModelFit contract: typed parts, picklable across processes, methods instead of internals."""
from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.results import Columns, FitSpec, FitStats

TRIAL = rs.load_dataset("alghadir2019_sim")


def _fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "ancova": rs.fit_ancova(TRIAL, outcome="pain_nrs", covariates=["age"]),
            "mmrm-kr": rs.fit_mmrm(TRIAL, outcome="womac", baseline="none", df_method="kenward-roger"),
            "mmrm-sat-csh": rs.fit_mmrm(TRIAL, outcome="pain_nrs", baseline="none", covariance="csh"),
            "mmrm-bw-emp": rs.fit_mmrm(TRIAL, outcome="pain_nrs", baseline="none", vcov="empirical",
                                       df_method="between-within"),
            "lmm": rs.fit_lmm(TRIAL, outcome="pain_nrs", baseline="none", df_method="kenward-roger"),
        }


FITS = _fits()


@pytest.mark.parametrize("name", list(FITS))
def test_pickle_round_trip_gives_the_same_inference(name):
    fit = FITS[name]
    again = pickle.loads(pickle.dumps(fit))
    a, b = rs.emmeans(fit).to_frame(), rs.emmeans(again).to_frame()
    pd.testing.assert_frame_equal(a, b)
    ca = rs.contrasts(rs.emmeans(fit), method="pairwise", adjust="holm").to_frame()
    cb = rs.contrasts(rs.emmeans(again), method="pairwise", adjust="holm").to_frame()
    pd.testing.assert_frame_equal(ca, cb)


def test_a_fit_crosses_a_process_boundary(tmp_path):
    """Another interpreter unpickles the fit and gets the same EMMs (what a Dask worker does)."""
    fit = FITS["mmrm-kr"]
    path = tmp_path / "fit.bin"
    path.write_bytes(pickle.dumps(fit))
    code = ("import pickle, sys, retrostudy as rs; fit = pickle.loads(open(sys.argv[1], 'rb').read()); "
            "print(repr(rs.emmeans(fit).to_frame()['estimate'].tolist()), fit.dof([[0, 1] + [0] * (len(fit.coef) - 2)])[0])")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    est, df = out.stdout.strip().rsplit(" ", 1)
    assert est == repr(rs.emmeans(fit).to_frame()["estimate"].tolist())
    L = np.zeros((1, len(fit.coef)))
    L[0, 1] = 1
    assert float(df) == pytest.approx(fit.dof(L)[0], rel=1e-12)


def test_typed_parts_and_mapping_access():
    fit = FITS["mmrm-kr"]
    assert isinstance(fit.fit_stats, FitStats) and isinstance(fit.spec, FitSpec)
    assert isinstance(fit.spec.columns, Columns) and fit.spec.columns.subject == "subject_id"
    assert fit.fit_stats["aic"] == fit.fit_stats.aic and "aic" in fit.fit_stats
    assert "df_resid" not in fit.fit_stats  # unset fields are not keys
    assert fit.spec["mean"] == fit.spec.mean == "arm * visit"
    anc = FITS["ancova"]
    assert anc.spec["rhs"] == anc.spec.mean == "arm + baseline + age"  # the old key still reads
    assert anc.spec.visit == "week6" and anc.spec.baseline_visit == "baseline"
    assert fit.spec.baseline_visit == "baseline" and fit.spec.visit is None


def test_extra_is_deprecated_but_still_reads():
    fit = FITS["mmrm-kr"]
    with pytest.warns(FutureWarning, match="details"):
        eng = fit.extra["engine"]
    assert eng is fit.details.engine


def test_n_analysed_subjects_used_and_fitted():
    anc = FITS["ancova"]
    per_arm = anc.n_analysed()
    assert per_arm == {"retro": 21, "forward": 20, "control": 18}  # the completers (PROVENANCE.md)
    assert anc.n_analysed(by=None) == 59 == len(anc.subjects_used())
    mm = FITS["mmrm-kr"]
    assert mm.n_analysed() == {"retro": 23, "forward": 23, "control": 22}  # every randomized subject
    by_visit = mm.n_analysed(by="visit")
    assert by_visit == {"baseline": 68, "week6": 59}
    # fitted + residuals = the response; OLS residuals are orthogonal to the design
    np.testing.assert_allclose(anc.fitted() + anc.residuals(), anc.data["value"], rtol=1e-12)
    X = anc.design.matrix(anc.data)
    np.testing.assert_allclose(X.T @ anc.residuals(), 0.0, atol=1e-9)
    np.testing.assert_allclose(mm.fitted() + mm.residuals(), mm.data["value"], rtol=1e-12)


def test_summary_counts_subjects_the_model_left_out():
    anc = FITS["ancova"]
    assert anc.n_excluded() == 68 - 59
    assert anc.settings["excluded_subjects"] == 9
    assert "excluded_subjects: 9" in anc.summary()
