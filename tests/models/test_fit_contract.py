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
    ca = rs.contrasts(rs.emmeans(fit), family="pairwise", adjust="holm").to_frame()
    cb = rs.contrasts(rs.emmeans(again), family="pairwise", adjust="holm").to_frame()
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


def test_old_keyword_spellings_still_work_with_a_futurewarning():
    frame = TRIAL.data.loc[TRIAL.data["outcome"] == "pain_nrs"].rename(
        columns={"subject_id": "sid", "visit": "vis", "value": "y"})
    new = rs.fit_mmrm(frame, outcome=None, columns={"subject": "sid", "visit": "vis", "response": "y"},
                      baseline="none", reference_levels={"arm": "forward"})
    with pytest.warns(FutureWarning, match=r"columns=\{'subject': 'sid'"):
        old = rs.fit_mmrm(frame, outcome=None, subject="sid", visit="vis", response="y", baseline="none",
                          reference={"arm": "forward"})
    np.testing.assert_array_equal(new.coef.to_numpy(), old.coef.to_numpy())
    assert new.spec.columns == old.spec.columns and new.reference_arm == "forward"
    with pytest.warns(FutureWarning, match="use family="):
        a = rs.contrasts(rs.emmeans(new), method="pairwise").to_frame()
    pd.testing.assert_frame_equal(a, rs.contrasts(rs.emmeans(new), family="pairwise").to_frame())
    with pytest.warns(FutureWarning, match="fit_lmm"):
        rs.fit_lmm(frame, outcome=None, subject="sid", visit="vis", response="y", baseline="none")


def test_unknown_columns_key_is_a_sentence():
    with pytest.raises(rs.SpecError, match="unknown key.*'id'.*subject"):
        rs.fit_mmrm(TRIAL, outcome="pain_nrs", columns={"id": "subject_id"})


def test_columns_replace_every_field_and_a_required_one_cannot_be_none():
    from dataclasses import fields

    from retrostudy.deprecation import resolve_columns

    given = {f.name: f"col_{f.name}" for f in fields(Columns)}  # a new Columns field must reach the fit too
    assert dict(resolve_columns("fit_mmrm", given, Columns())) == given
    assert resolve_columns("fit_mmrm", {"arm": None}, Columns()).arm is None  # no arm: one group
    for key in ("subject", "visit", "response"):
        with pytest.raises(rs.SpecError, match=f"needs a {key} column"):
            rs.fit_mmrm(TRIAL, outcome="pain_nrs", columns={key: None})


def test_generic_frame_without_a_marked_baseline_is_refused():
    """A frame of change scores at visits 4-7: the default baseline='covariate' must not turn visit 4
    into a covariate silently (issue: it did)."""
    rng = np.random.default_rng(5)
    rows = [{"sid": f"s{i}", "trt": "a" if i % 2 else "b", "vis": f"VIS{v}", "chg": rng.normal()}
            for i in range(30) for v in range(4, 8)]
    frame = pd.DataFrame(rows)
    cols = {"subject": "sid", "visit": "vis", "arm": "trt", "response": "chg"}
    with pytest.raises(rs.SpecError, match=r"Nothing marks a baseline.*baseline_visit='VIS4'.*baseline='none'"):
        rs.fit_mmrm(frame, outcome=None, columns=cols)
    fit = rs.fit_mmrm(frame, outcome=None, columns=cols, baseline="none")
    assert fit.n_analysed(by="visit") == {"VIS4": 30, "VIS5": 30, "VIS6": 30, "VIS7": 30}
    marked = frame.replace({"vis": {"VIS4": "baseline"}})
    marked["vis"] = pd.Categorical(marked["vis"], categories=["baseline", "VIS5", "VIS6", "VIS7"], ordered=True)
    with pytest.warns(rs.RetrostudyWarning, match="Took visit 'baseline' as the baseline"):
        rs.fit_mmrm(marked, outcome=None, columns=cols)


def test_every_subject_a_longitudinal_fit_leaves_out_is_logged():
    """Subjects with only a baseline value are not analysed when the baseline is a covariate: logged."""
    data = TRIAL.data.copy()
    lost = data["subject_id"].isin(["R01", "C01"]) & (data["visit"] == "week6")
    data.loc[lost, "value"] = np.nan
    fit = rs.fit_mmrm(data, outcome="pain_nrs")
    assert "R01" not in fit.subjects_used() and fit.n_excluded() >= 2
    log = fit.exclusions.to_frame()
    mine = log.loc[(log["stage"] == "mmrm") & log["subject_id"].isin(["R01", "C01"])]
    assert set(mine["reason"]) >= {"missing response value", "only a baseline value (baseline); none after it"}
    # cell count invariant for the outcome: analysed + logged by the model = non-missing input cells + logged missing
    n_in = int(data.loc[data["outcome"] == "pain_nrs", "value"].notna().sum())
    model_log = log.loc[log["stage"] == "mmrm"]
    only_base = model_log.loc[model_log["reason"].str.startswith("only a baseline"), "cells"].sum()
    n_base_used = fit.n_analysed(by=None)  # one baseline cell per analysed subject
    assert fit.fit_stats.n_obs + n_base_used + only_base == n_in


def test_no_satterthwaite_or_kr_df_from_a_non_pd_hessian():
    """Negative df and NaN p came out of a fit whose Hessian was not PD: such df are refused."""
    from dataclasses import replace

    from retrostudy.models.inference import make_inference

    eng = replace(FITS["mmrm-kr"].details.engine, hessian_pd=False)
    for df_method in ("satterthwaite", "kenward-roger"):
        with pytest.raises(rs.ModelError, match="not positive definite.*between-within"):
            make_inference(df_method, eng)
    inf = make_inference("residual", eng)
    assert inf.dof(np.eye(2, len(FITS["mmrm-kr"].coef)))[0] > 0


def test_one_arm_and_too_few_subjects_are_sentences():
    one = TRIAL.data.loc[TRIAL.data["arm"] == "retro"]
    for fit in (lambda: rs.fit_mmrm(one, outcome="pain_nrs"),
                lambda: rs.fit_lmm(one, outcome="pain_nrs", baseline="none"),
                lambda: rs.fit_ancova(one, outcome="pain_nrs")):
        with pytest.raises(rs.ModelError, match="at least two"):
            fit()
    few = TRIAL.data.loc[TRIAL.data["subject_id"].isin(["R01", "R02", "F01", "C01", "C02"])]
    with pytest.raises(rs.ModelError, match="5 analysable subjects are too few for the 6 coefficients"):
        rs.fit_ancova(few, outcome="pain_nrs", covariates=["age", "sex"])
