"""Simulation of the planned analysis: the data-generating model, the two engines, seeds, failures.

The 10,000-replicate comparisons with the analytic power and the Kenward-Roger type I error are
in tests/benchmarks/check_power_simulation.py (run by hand); here the checks are small and fast.
"""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import retrostudy as rs
from retrostudy.errors import SpecError
from retrostudy.planning import AnalysisPlan, TrialModel, simulate_power
from retrostudy.planning.model import generate, true_effects

THREE = {"arms": ("a", "b", "control"), "n_per_arm": (12, 12, 12), "visits": ("baseline", "w2", "w6"),
             "means": [[5, 4.5, 4], [5, 4.8, 4.5], [5, 5, 5]], "sd": 1.5, "corr": [[1, 0.6, 0.5], [0.6, 1, 0.6],
                                                                     [0.5, 0.6, 1]],
             "retention": [1, 0.9, 0.8], "dropout": "mar", "mar_slope": 1.0}


@pytest.fixture(scope="module")
def model():
    return TrialModel(**THREE)


def test_generate_draws_the_stated_means_covariance_and_retention():
    big = TrialModel(**{**THREE, "n_per_arm": (40_000, 40_000, 40_000), "dropout": "mcar"})
    y, obs, yp = generate(big, np.random.default_rng(5))
    arm = np.repeat(np.arange(3), 40_000)
    for i in range(3):
        assert_allclose(y[arm == i].mean(axis=0), big.means[i], atol=0.03)  # SE 1.5 / 200 = 0.0075
        assert_allclose(obs[arm == i].mean(axis=0), [1, 0.9, 0.8], atol=0.01)
    assert_allclose(np.cov(y[arm == 0].T), big.covariance, atol=0.05)
    assert (yp == y).all()
    assert not np.any(np.diff(obs.astype(int), axis=1) > 0)  # monotone


def test_mar_dropout_depends_on_the_last_observed_value():
    big = TrialModel(**{**THREE, "n_per_arm": (30_000, 30_000, 30_000)})
    y, obs, _ = generate(big, np.random.default_rng(6))
    left = ~obs[:, 1]
    assert y[left, 0].mean() > y[~left, 0].mean() + 0.3  # leavers had higher values (slope 1 per SD)
    ret = obs.mean(axis=0)
    assert_allclose(ret[:2], [1, 0.9], atol=0.005)  # the first dropout visit is calibrated exactly
    assert abs(ret[2] - 0.8) < 0.03  # later visits: close (those still in are not N(0, 1) any more)


def test_jump_to_reference_truth_under_mcar_is_retention_times_effect():
    m = TrialModel(**{**THREE, "dropout": "mcar", "departure": "j2r"})
    truth, se = true_effects(m, n_per_arm=100_000)
    for arm, eff in (("a", -1.0), ("b", -0.5)):
        assert abs(truth[f"{arm} - control"] - 0.8 * eff) < 4 * se[f"{arm} - control"] + 1e-12


def test_refit_engine_equals_the_public_api(model):
    for analysis in ("mmrm", "ancova"):
        fast = simulate_power(model, n_sim=12, seed=3, analysis=analysis, adjust="dunnett", progress=False)
        ref = simulate_power(model, n_sim=12, seed=3, analysis=analysis, adjust="dunnett", engine="api",
                             progress=False)
        a, b = fast.replicates, ref.replicates
        assert len(a) == len(b) == 24 and (a["n_subjects"] == b["n_subjects"]).all()
        # REML stops at a gradient tolerance: refits and fresh fits agree to ~1e-6
        for col in ("estimate", "std_error", "df", "p_value", "p_adjusted", "conf_low", "conf_high"):
            assert_allclose(a[col], b[col], rtol=2e-5, atol=2e-6, err_msg=f"{analysis} {col}")
        assert (a["reject"] == b["reject"]).all()


def test_same_seed_same_result_and_results_do_not_depend_on_the_run_length(model):
    one = simulate_power(model, n_sim=10, seed=11, progress=False)
    two = simulate_power(model, n_sim=10, seed=11, progress=False)
    assert one.replicates.equals(two.replicates)
    longer = simulate_power(model, n_sim=14, seed=11, progress=False)  # the first 10 children are the same
    assert_allclose(longer.replicates["estimate"].to_numpy()[:20], one.replicates["estimate"].to_numpy())
    other = simulate_power(model, n_sim=10, seed=12, progress=False)
    assert not np.allclose(other.replicates["estimate"], one.replicates["estimate"])


def test_result_table_null_model_and_any_row(model):
    res = simulate_power(model.null(), n_sim=40, seed=1, analysis="ancova", progress=False)
    frame = res.to_frame()
    assert list(frame["contrast"]) == ["a - control", "b - control", "any"]
    assert (frame["truth"].iloc[:2] == 0).all()
    assert "type I error" in res.summary() and "at least one comparison rejected" in res.summary()
    assert frame.loc[2, "rejection_rate"] >= frame.loc[:1, "rejection_rate"].max()
    p = frame.loc[0, "rejection_rate"]
    assert frame.loc[0, "rejection_mc_se"] == pytest.approx(np.sqrt(p * (1 - p) / 40))
    assert res.to_dict()["model"]["arms"] == ["a", "b", "control"]


def test_small_simulation_agrees_with_the_exact_ancova_power():
    m = TrialModel(arms=("new", "control"), n_per_arm=(25, 25), visits=("baseline", "week6"),
                   means=[[0, 0.7], [0, 0]], sd=1.0, corr=[[1, 0.6], [0.6, 1]], retention=[1, 1])
    res = simulate_power(m, n_sim=600, seed=4, analysis="ancova", progress=False)
    exact = rs.power_ancova(n1=25, effect=0.7, sd=1, rho=0.6).power
    row = res.to_frame().iloc[0]
    assert abs(row["rejection_rate"] - exact) < 4 * row["rejection_mc_se"]
    assert abs(row["coverage"] - 0.95) < 4 * row["coverage_mc_se"]


BAD_MODELS = [
    ({"retention": [1, 0.8, 0.9]}, "must not increase over visits"),
    ({"retention": [0.9, 0.8, 0.7]}, "at the baseline visit must be 1"),
    ({"corr": [[1, 0.9, 0.1], [0.9, 1, 0.9], [0.1, 0.9, 1]]}, "not positive definite"),
    ({"sd": -1}, "sd at baseline must be positive"),
    ({"n_per_arm": (12, 1, 12)}, "at least 2 per arm"),
    ({"means": [[5, 4], [5, 5]]}, "arms x visits table"),
    ({"dropout": "mnar"}, "dropout must be 'mcar' or 'mar'"),
    ({"departure": "cir"}, "departure must be 'none' or 'j2r'"),
]


@pytest.mark.parametrize("change,sentence", BAD_MODELS, ids=[b[1][:25] for b in BAD_MODELS])
def test_bad_models_are_one_sentence(change, sentence):
    with pytest.raises(SpecError, match=sentence.replace("(", r"\(")):
        TrialModel(**{**THREE, **change})


def test_bad_plans_are_one_sentence(model):
    with pytest.raises(SpecError, match="analysis must be"):
        AnalysisPlan(analysis="t-test")
    with pytest.raises(SpecError, match="engine must be"):
        AnalysisPlan(engine="fast")
    with pytest.raises(SpecError, match="n_sim must be"):
        simulate_power(model, n_sim=0)


def test_two_workers_give_the_serial_result_and_a_silent_scheduler_is_one_sentence(model):
    serial = simulate_power(model, n_sim=16, seed=5, progress=False)
    parallel = simulate_power(model, n_sim=16, seed=5, progress=False, workers=2)
    assert parallel.replicates.equals(serial.replicates)
    assert parallel.settings["workers"] == 2
    with pytest.raises(SpecError, match="tcp://127.0.0.1:9"):
        simulate_power(model, n_sim=2, scheduler="tcp://127.0.0.1:9", progress=False)


def test_progress_shows_the_running_power_and_its_mc_se_and_the_user_hook_still_runs(model, capsys):
    seen = []
    res = simulate_power(model, n_sim=60, seed=3, progress=True, on_chunk=lambda done, so_far: seen.append(done))
    err = capsys.readouterr().err
    table = res.to_frame().set_index("contrast")
    final = ", ".join(f"{name} {table.loc[name, 'rejection_rate']:.3f} ({table.loc[name, 'rejection_mc_se']:.3f})"
                      for name in ("a - control", "b - control"))
    assert f"power (MC SE) {final}" in err  # the last running estimate is the result's
    assert seen and seen[-1] == 60


def test_a_replicate_is_one_flat_record_read_back_into_the_tidy_table(model):
    from retrostudy.planning.simulate import RECORD_FIELDS, RECORD_TAIL, build_payload, simulate_replicate

    plan = AnalysisPlan()
    truth, _ = true_effects(model)
    payload = build_payload(model, plan, truth=np.array(list(truth.values())))
    rec = simulate_replicate(payload, 0, np.random.SeedSequence(9, spawn_key=(0,)))
    assert rec.shape == (len(RECORD_FIELDS) * 2 + len(RECORD_TAIL),) and rec.dtype == float
    row = simulate_power(model, n_sim=1, seed=9, progress=False).replicates
    k = 2
    for j, key in enumerate(RECORD_FIELDS):
        np.testing.assert_array_equal(row[key].to_numpy(), rec[j * k:(j + 1) * k])
    assert row["converged"].all() and (row["n_subjects"] == rec[-2]).all() and (row["n_observed_final"] == rec[-1]).all()
