"""fit_ancova behaviour: exclusions with reasons, defaults, errors, provenance, printing."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import retrostudy as rs
from retrostudy.errors import DataError, ModelError, SpecError


def test_exclusions_logged_with_reasons(unbalanced_frame):
    fit = rs.fit_ancova(unbalanced_frame, outcome="pain_nrs", covariates=("site", "age"))
    log = fit.exclusions.to_frame()
    assert set(log["stage"]) == {"ancova"}
    reasons = dict(zip(log["subject_id"], log["reason"]))
    assert reasons == {
        "U005": "no pain_nrs value at week6",
        "U040": "no pain_nrs value at week6",
        "U070": "no pain_nrs value at baseline (baseline)",
        "U012": "covariate site missing",
    }
    assert dict(zip(log["subject_id"], log["cells"])) == {"U005": 1, "U040": 1, "U070": 1, "U012": 2}
    assert fit.fit_stats["n_subjects"] == 82 - 4
    assert not set(reasons) & set(fit.data["subject_id"])
    # without the covariate, U012 is analysed
    fit2 = rs.fit_ancova(unbalanced_frame, outcome="pain_nrs")
    assert "U012" in set(fit2.data["subject_id"]) and len(fit2.exclusions) == 3


def test_defaults_and_spec(trial_frame):
    fit = rs.fit_ancova(trial_frame, outcome="pain_nrs")
    assert fit.reference_arm == "control"  # the last declared arm
    assert fit.spec["visit"] == "week6" and fit.spec["baseline_visit"] == "baseline"
    assert fit.grid_factors == ("arm",) and fit.df_method == "residual"
    assert list(fit.coef.index) == ["Intercept", "arm[retro]", "arm[forward]", "baseline"]
    assert fit.fit_stats["n_subjects"] == 59 and len(fit.exclusions) == 9
    assert set(fit.exclusions.to_frame()["reason"]) == {"no pain_nrs value at week6"}
    assert len(fit.provenance["data_sha256"]) == 64 and "statsmodels" in fit.provenance["versions"]
    json.dumps(fit.to_dict())
    # dof and ftest: residual df, F = t^2 for one row
    L = np.eye(len(fit.coef))[[1]]
    F, q, ddf = fit.ftest(L)
    t = fit.table.set_index("term").loc["arm[retro]", "statistic"]
    assert (q, ddf) == (1.0, 59 - 4) and F == pytest.approx(t**2, rel=1e-12)
    assert fit.dof(np.eye(4)).tolist() == [55.0] * 4
    # reference arm and visit can be chosen
    other = rs.fit_ancova(trial_frame, outcome="pain_nrs", reference_arm="forward")
    con = rs.contrasts(rs.emmeans(other)).to_frame()
    assert list(con["contrast"]) == ["retro - forward", "control - forward"]


def test_trialdata_and_dataframe_agree(trial_frame):
    from retrostudy.trial import TrialData

    a = rs.fit_ancova(trial_frame, outcome="womac")
    b = rs.fit_ancova(TrialData(trial_frame), outcome="womac")
    np.testing.assert_array_equal(a.coef.to_numpy(), b.coef.to_numpy())


def test_load_dataset_if_available(trial_frame):
    try:
        trial = rs.load_dataset("alghadir2019_sim")
    except Exception as exc:  # the loader is built concurrently
        pytest.skip(f"rs.load_dataset not usable yet: {exc}")
    a = rs.fit_ancova(trial, outcome="tug")
    b = rs.fit_ancova(trial_frame, outcome="tug")
    np.testing.assert_allclose(a.coef.to_numpy(), b.coef.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"outcome": "nope"}, SpecError, "not in the data"),
    ({"outcome": "pain_nrs", "visit": "baseline"}, SpecError, "baseline visit"),
    ({"outcome": "pain_nrs", "visit": "week9"}, SpecError, "available visits"),
    ({"outcome": "pain_nrs", "covariates": ("height",)}, SpecError, "not a column"),
    ({"outcome": "pain_nrs", "covariates": ("age:visit",)}, SpecError, "longitudinal"),
    ({"outcome": "pain_nrs", "reference_arm": "placebo"}, SpecError, "not an arm"),
    ({"outcome": "pain_nrs", "response": "ratio"}, SpecError, "response"),
])
def test_spec_errors(trial_frame, kwargs, error, words):
    with pytest.raises(error, match=words):
        rs.fit_ancova(trial_frame, **kwargs)


def test_data_and_model_errors(trial_frame):
    dup = pd.concat([trial_frame, trial_frame.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="more than one"):
        rs.fit_ancova(dup, outcome=str(trial_frame["outcome"].iloc[0]))
    varying = trial_frame.copy()
    varying.loc[varying.index[0], "age"] = 99
    with pytest.raises(DataError, match="constant within subject"):
        rs.fit_ancova(varying, outcome="pain_nrs", covariates=("age",))
    const = trial_frame.assign(k=1.0)
    with pytest.raises(ModelError, match="full rank"):
        rs.fit_ancova(const, outcome="pain_nrs", covariates=("k",))
    one_arm = trial_frame.loc[trial_frame["arm"] == "control"]
    with pytest.raises(ModelError, match="at least two"):
        rs.fit_ancova(one_arm, outcome="pain_nrs")


def test_argument_errors(trial_frame):
    fit = rs.fit_ancova(trial_frame, outcome="pain_nrs")
    emm = rs.emmeans(fit)
    with pytest.raises(SpecError, match="weights"):
        rs.emmeans(fit, weights="cells")
    with pytest.raises(SpecError, match="adjust"):
        rs.contrasts(emm, adjust="sidak")
    with pytest.raises(SpecError, match="pairwise"):
        rs.contrasts(emm, family="trt_vs_ref", adjust="tukey")
    with pytest.raises(SpecError, match="3 weights"):
        rs.contrasts(emm, family={"bad": [1, -1]})
    with pytest.raises(SpecError, match="standardizer"):
        rs.effect_sizes(rs.contrasts(emm), standardizer="pooled")


def test_custom_contrast(trial_frame):
    fit = rs.fit_ancova(trial_frame, outcome="pain_nrs")
    emm = rs.emmeans(fit)
    custom = rs.contrasts(emm, family={"walking - control": {"retro": 0.5, "forward": 0.5, "control": -1}})
    t = emm.to_frame().set_index("arm")["estimate"]
    expected = 0.5 * t["retro"] + 0.5 * t["forward"] - t["control"]
    assert custom.to_frame()["estimate"].iloc[0] == pytest.approx(expected, rel=1e-12)
    same = rs.contrasts(emm, family={"walking - control": [0.5, 0.5, -1]})
    assert same.to_frame()["std_error"].iloc[0] == pytest.approx(custom.to_frame()["std_error"].iloc[0])


def test_bonferroni_interval_and_conf_level(trial_frame):
    fit = rs.fit_ancova(trial_frame, outcome="pain_nrs", conf_level=0.9)
    con = rs.contrasts(rs.emmeans(fit), family="pairwise", adjust="bonferroni").to_frame()
    q = stats.t.ppf(1 - 0.1 / 6, con["df"])
    np.testing.assert_allclose(con["conf_high"], con["estimate"] + q * con["std_error"], rtol=1e-12)
    np.testing.assert_allclose(con["p_adjusted"], np.minimum(1, 3 * con["p_value"]), rtol=1e-12)


def test_printing(trial_frame):
    from retrostudy.format import inference_text

    fit = rs.fit_ancova(trial_frame, outcome="pain_nrs")
    emm = rs.emmeans(fit, weights="proportional")
    con = rs.contrasts(emm, family="pairwise", adjust="holm")
    es = rs.effect_sizes(con)
    for res, words in ((emm, ["weights: proportional", "conf_level: 0.95", "df_method: residual"]),
                       (con, ["adjust: holm", "retro - control", "bonferroni"]),
                       (es, ["standardizer: baseline_sd", "Hedges"]),
                       (rs.joint_tests(fit), ["arm", "baseline"])):
        text, html = res.summary(), res._repr_html_()
        for w in words:
            assert w in text and w in html, (type(res).__name__, w)
        json.dumps(res.to_dict())
        assert res.to_frame() is not res.table
    out = inference_text(fit, adjust="tukey")
    for w in ("Estimated marginal means", "retro - forward", "forward - control", "Joint tests", "Hedges",
              "adjust: tukey", "adjust: dunnett", "59 subjects analysed", "9 excluded"):
        assert w in out, w
