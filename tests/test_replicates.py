"""The replicate runner: seeds, determinism across execution modes, failures, checkpoints, progress, Dask.

The Dask tests start one LocalCluster of 2 worker processes (a few seconds) and one in-process
cluster; they are marked ``dask`` (deselect with ``-m "not dask"``) and skipped without distributed.
"""
from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrostudy.errors import ReplicateError, RetrostudyWarning, SpecError
from retrostudy.replicates import (
    FAILURE_COLUMNS,
    ReplicateRun,
    default_chunk_size,
    run_replicates,
)
from retrostudy.replicates.checkpoint import decode, encode, task_name
from retrostudy.replicates.chunks import RootSeed

ROOT = Path(__file__).resolve().parents[1]
CALLS: list[int] = []  # indices run by count_task in this process (serial runs only)


# -- tasks: top-level functions, as the runner's contract asks ------------------------------------


def draw_task(payload, index, seed_sequence):
    """A few random numbers of every shape a caller returns; fails where the payload says."""
    rng = np.random.default_rng(seed_sequence)
    if index in payload.get("fail", ()):
        raise ValueError(f"replicate {index} cannot be fitted")
    x = rng.normal(payload.get("mu", 0.0), 1.0, size=payload.get("size", 8))
    out = {"mean": float(x.mean()), "draws": x, "count": int(rng.integers(0, 1000)), "tag": f"r{index}"}
    if "data" in payload:  # numpy sums an array at an unaligned address in another order
        out["data_sum"] = float(payload["data"][index % 5:].sum())
    return out


def count_task(payload, index, seed_sequence):
    CALLS.append(index)
    if index == payload.get("interrupt_at"):
        raise KeyboardInterrupt  # what Ctrl-C does in the middle of a run
    return draw_task(payload, index, seed_sequence)


def blas_threads_task(payload, index, seed_sequence):
    from threadpoolctl import threadpool_info

    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


class NoCopy:
    """A payload a worker cannot copy: every chunk fails before any replicate runs."""

    def __deepcopy__(self, memo):
        raise RuntimeError("this payload cannot be copied")


def frame_task(payload, index, seed_sequence):
    return pd.DataFrame({"x": [1.0]})


def same_results(a, b) -> bool:
    """Bit-for-bit equality of two result lists of draw_task (None for failures)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is None or y is None:
            if not (x is None and y is None):
                return False
            continue
        if x.keys() != y.keys() or x["tag"] != y["tag"] or x["count"] != y["count"]:
            return False
        if "data_sum" in x and np.float64(x["data_sum"]).tobytes() != np.float64(y["data_sum"]).tobytes():
            return False
        if np.float64(x["mean"]).tobytes() != np.float64(y["mean"]).tobytes():
            return False
        if x["draws"].dtype != y["draws"].dtype or x["draws"].tobytes() != y["draws"].tobytes():
            return False
    return True


def failures_without_traceback(run: ReplicateRun) -> pd.DataFrame:
    return run.failures.drop(columns="traceback")


# -- seeds and determinism ------------------------------------------------------------------------


def test_replicate_seeds_are_the_children_of_spawn():
    spawned = np.random.SeedSequence(20240607).spawn(50)
    root = RootSeed(20240607)
    for i in (0, 1, 17, 49):
        np.testing.assert_array_equal(root.child(i).generate_state(4), spawned[i].generate_state(4))
    # a near miss: consecutive integer seeds are not the spawned children
    assert not np.array_equal(np.random.SeedSequence(20240607 + 1).generate_state(4), spawned[1].generate_state(4))


def test_each_replicate_gets_its_own_spawned_seed():
    run = run_replicates(draw_task, 12, payload={}, seed=7, progress=False)
    children = np.random.SeedSequence(7).spawn(12)
    for i in (0, 5, 11):
        expected = draw_task({}, i, children[i])
        assert same_results([run.results[i]], [expected])
    assert [r["tag"] for r in run.results] == [f"r{i}" for i in range(12)]


@pytest.mark.parametrize("chunk_size", [1, 7, None, 100])
def test_chunk_size_does_not_change_a_bit(chunk_size):
    reference = run_replicates(draw_task, 30, payload={"fail": (4,)}, seed=11, chunk_size=3, progress=False)
    run = run_replicates(draw_task, 30, payload={"fail": (4,)}, seed=11, chunk_size=chunk_size, progress=False)
    assert same_results(run.results, reference.results)
    pd.testing.assert_frame_equal(failures_without_traceback(run), failures_without_traceback(reference))


def test_another_seed_gives_other_results():
    a = run_replicates(draw_task, 5, payload={}, seed=1, progress=False)
    b = run_replicates(draw_task, 5, payload={}, seed=2, progress=False)
    assert not same_results(a.results, b.results)


def test_seed_none_records_fresh_entropy_that_repeats_the_run():
    first = run_replicates(draw_task, 6, payload={}, progress=False)
    second = run_replicates(draw_task, 6, payload={}, progress=False)
    assert isinstance(first.seed, int) and first.seed != second.seed
    again = run_replicates(draw_task, 6, payload={}, seed=first.seed, progress=False)
    assert same_results(again.results, first.results)
    assert not same_results(second.results, first.results)


def test_a_spawned_seed_sequence_is_a_valid_root():
    parent = np.random.SeedSequence(99).spawn(3)[2]
    run = run_replicates(draw_task, 4, payload={}, seed=parent, progress=False)
    assert run.seed == 99 and run.spawn_key == (2,)
    children = np.random.SeedSequence(99, spawn_key=(2,)).spawn(4)
    assert same_results(run.results, [draw_task({}, i, children[i]) for i in range(4)])
    np.testing.assert_array_equal(run.seed_sequence(3).generate_state(2), children[3].generate_state(2))


def test_default_chunk_size_gives_a_hundred_chunks_serially_and_fewer_dask_tasks():
    assert default_chunk_size(2000, 0) == 20
    assert default_chunk_size(2000, 2) == 100
    assert default_chunk_size(2000, 4) == 63  # 32 chunks
    assert default_chunk_size(50, 0) == 1
    assert default_chunk_size(10_000, 64) == math.ceil(10_000 / 512)
    assert default_chunk_size(0, 0) == 1


def test_an_empty_run_is_a_run():
    run = run_replicates(draw_task, 0, payload={}, seed=1, progress=False)
    assert run.results == () and run.n_failed == 0 and list(run.failures.columns) == list(FAILURE_COLUMNS)


# -- failures ---------------------------------------------------------------------------------------


def test_failures_are_counted_with_their_seeds_never_dropped():
    run = run_replicates(draw_task, 20, payload={"fail": (3, 17)}, seed=5, chunk_size=4, progress=False)
    assert run.n == 20 and run.n_failed == 2 and run.n_ok == 18
    assert len(run.results) == 20 and run.results[3] is None and run.results[17] is None
    assert list(run.failures.columns) == list(FAILURE_COLUMNS)
    assert run.failures["index"].tolist() == [3, 17]
    assert run.failures["seed_entropy"].tolist() == [5, 5]
    assert run.failures["seed_spawn_key"].tolist() == [(3,), (17,)]
    assert run.failures["error"].tolist() == ["ValueError", "ValueError"]
    assert run.failures["message"].iloc[0] == "replicate 3 cannot be fitted"
    assert "draw_task" in run.failures["traceback"].iloc[0]
    np.testing.assert_array_equal(run.ok, [i not in (3, 17) for i in range(20)])
    # the recorded seed reproduces the failure by hand
    seq = np.random.SeedSequence(run.failures["seed_entropy"].iloc[1], spawn_key=run.failures["seed_spawn_key"].iloc[1])
    with pytest.raises(ValueError, match="replicate 17"):
        draw_task({"fail": (17,)}, 17, seq)
    assert "2 failed" in run.summary()


def test_max_errors_stops_with_a_sentence_naming_the_first_seeds():
    with pytest.raises(ReplicateError) as info:
        run_replicates(draw_task, 40, payload={"fail": (2, 5, 9)}, seed=8, chunk_size=1, max_errors=1,
                       progress=False, label="bootstrap")
    err = info.value
    message = str(err)
    assert message.startswith("bootstrap: 2 of 6 finished replicates failed, more than max_errors=1")
    assert "replicate 2 (seed entropy 8, spawn key (2,)): ValueError: replicate 2 cannot be fitted" in message
    assert err.n_done == 6 and err.failures["index"].tolist() == [2, 5]
    assert "\n" not in message


def test_max_errors_zero_stops_at_the_first_failure_and_a_bound_not_reached_does_not():
    with pytest.raises(ReplicateError, match="1 of 1 finished"):
        run_replicates(draw_task, 10, payload={"fail": (0,)}, seed=1, chunk_size=1, max_errors=0, progress=False)
    run = run_replicates(draw_task, 10, payload={"fail": (0, 1)}, seed=1, chunk_size=1, max_errors=2, progress=False)
    assert run.n_failed == 2


def test_keyboard_interrupt_is_not_swallowed():
    with pytest.raises(KeyboardInterrupt):
        run_replicates(count_task, 10, payload={"interrupt_at": 4}, seed=1, progress=False)


# -- on_chunk, progress, BLAS threads, imports -------------------------------------------------------


def test_on_chunk_sees_the_running_results():
    seen: list[tuple[int, int]] = []
    run = run_replicates(draw_task, 25, payload={"fail": (6,)}, seed=3, chunk_size=10, progress=False,
                         on_chunk=lambda done, results: seen.append((done, len(results))))
    assert seen == [(10, 9), (20, 19), (25, 24)]
    assert run.n_ok == 24


def test_progress_false_writes_nothing(capsys):
    run_replicates(draw_task, 30, payload={}, seed=1, progress=False)
    assert capsys.readouterr().err == ""


def test_short_runs_stay_silent_by_default(capsys):
    run_replicates(draw_task, 30, payload={}, seed=1)  # well under the 2 s delay
    assert capsys.readouterr().err == ""


def test_progress_true_shows_in_a_non_tty_with_tqdm(capsys):
    pytest.importorskip("tqdm")
    run_replicates(draw_task, 30, payload={"fail": (2,)}, seed=1, chunk_size=5, progress=True, label="imputations")
    err = capsys.readouterr().err
    assert "imputations" in err and "30/30" in err


def test_progress_without_tqdm_is_a_plain_line(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import tqdm.auto now raises ImportError
    run_replicates(draw_task, 30, payload={"fail": (2,)}, seed=1, chunk_size=5, progress=True, label="draws")
    assert capsys.readouterr().err.strip().splitlines()[-1] == "draws: 30/30 (100%), 1 failed, 0 s"


def test_serial_runs_pin_blas_to_one_thread_and_restore_the_callers_setting():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        outside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        run = run_replicates(blas_threads_task, 3, seed=1, progress=False)
        after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert all(threads == [1] * len(outside) for threads in run.results)
    assert after == outside and outside == [2] * len(outside)
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"] == before


def test_the_serial_path_imports_no_dask():
    code = ("import sys\nfrom retrostudy.replicates import run_replicates\n"
            "def t(p, i, s):\n    return i\n"
            "run = run_replicates(t, 5, seed=1)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


# -- bad arguments: one sentence each ------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, fragment", [
    ({"n": -1}, "n must be a whole number of at least 0"),
    ({"n": 2.5}, "n must be a whole number"),
    ({"n": True}, "n must be a whole number"),
    ({"chunk_size": 0}, "chunk_size must be a whole number of at least 1"),
    ({"max_errors": -1}, "max_errors must be a whole number of at least 0"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:1"}, "not both"),
    ({"progress": "yes"}, "progress must be None"),
    ({"seed": np.random.default_rng(1)}, "not a Generator"),
    ({"seed": -3}, "is not a valid numpy seed"),
    ({"seed": 1.5}, "seed must be an int"),
    ({"fingerprint": object()}, "fingerprint must be JSON data"),
    ({"on_chunk": 3}, "on_chunk must be a function"),
    ({"connect_timeout": 0}, "connect_timeout must be a positive number"),
])
def test_bad_arguments_get_one_sentence(kwargs, fragment):
    args = {"n": 3, "progress": False, **kwargs}
    n = args.pop("n")
    with pytest.raises(SpecError, match=fragment) as info:
        run_replicates(draw_task, n, payload={}, **args)
    assert "\n" not in str(info.value)


def test_a_task_that_is_not_callable_is_refused():
    with pytest.raises(SpecError, match="task must be a function"):
        run_replicates("draw_task", 3)


# -- checkpoints ---------------------------------------------------------------------------------------


def test_the_checkpoint_encoding_gives_back_exactly_what_was_stored():
    value = {
        "floats": [0.1, -0.0, float("nan"), float("inf"), -float("inf"), 1e-310, 2.0**0.5],
        "ints": [0, -1, 2**70], "flags": [True, False, None], "text": "pain ≥ 3",
        "f32": np.float32(1 / 3), "i64": np.int64(-7), "b": np.bool_(True), "c": np.complex128(1 - 2j),
        "z": 3 + 4j, "tuple": (1, (2.5, "x")), 5: "int key", ("a", 1): "tuple key",
        "arrays": [np.arange(6, dtype=np.int32).reshape(2, 3), np.array([[np.nan, -0.0], [1e300, 1 / 3]]),
                   np.array([1 + 2j, -0.5j]), np.array([True, False]), np.array(["retro", "forward"]),
                   np.array(3.25, dtype=np.float32), np.zeros((0, 2))],
        "__retrostudy__": "a user key equal to the tag",
    }
    back = decode(encode(value))
    assert back.keys() == value.keys()
    for key in ("ints", "flags", "text", "tuple", 5, ("a", 1), "__retrostudy__", "z"):
        assert back[key] == value[key] and type(back[key]) is type(value[key])
    assert np.array(back["floats"]).tobytes() == np.array(value["floats"]).tobytes()
    for key in ("f32", "i64", "b", "c"):
        assert type(back[key]) is type(value[key]) and back[key].tobytes() == value[key].tobytes()
    for got, want in zip(back["arrays"], value["arrays"]):
        assert got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()


def test_resume_after_an_interrupt_runs_only_what_is_left_and_gives_the_same_result(tmp_path):
    fresh = run_replicates(count_task, 40, payload={"fail": (7, 31)}, seed=4, chunk_size=5, progress=False)
    CALLS.clear()
    with pytest.raises(KeyboardInterrupt):
        run_replicates(count_task, 40, payload={"fail": (7, 31), "interrupt_at": 23}, seed=4, chunk_size=5,
                       progress=False, checkpoint=tmp_path / "ck")
    assert sorted(p.name for p in (tmp_path / "ck").glob("chunk-*.json")) == [f"chunk-00000{k}.json" for k in range(4)]
    CALLS.clear()
    resumed = run_replicates(count_task, 40, payload={"fail": (7, 31)}, seed=4, chunk_size=5, progress=False,
                             checkpoint=tmp_path / "ck")
    assert CALLS == list(range(20, 40))  # chunks 0-3 came from the checkpoint
    assert resumed.from_checkpoint == 20 and "20 read from the checkpoint" in resumed.summary()
    assert same_results(resumed.results, fresh.results)
    pd.testing.assert_frame_equal(failures_without_traceback(resumed), failures_without_traceback(fresh))
    # a finished checkpoint runs nothing
    CALLS.clear()
    again = run_replicates(count_task, 40, payload={"fail": (7, 31)}, seed=4, chunk_size=5, progress=False,
                           checkpoint=tmp_path / "ck")
    assert CALLS == [] and again.from_checkpoint == 40 and same_results(again.results, fresh.results)
    pd.testing.assert_frame_equal(again.failures, resumed.failures)


def test_resume_after_deleting_chunk_files_and_after_max_errors(tmp_path):
    ck = tmp_path / "ck"
    full = run_replicates(count_task, 30, payload={"fail": (12,)}, seed=9, chunk_size=4, progress=False,
                          checkpoint=ck)
    (ck / "chunk-000001.json").unlink()
    (ck / "chunk-000006.json").unlink()
    CALLS.clear()
    resumed = run_replicates(count_task, 30, payload={"fail": (12,)}, seed=9, chunk_size=4, progress=False,
                             checkpoint=ck)
    assert CALLS == [4, 5, 6, 7, 24, 25, 26, 27]
    assert same_results(resumed.results, full.results)
    pd.testing.assert_frame_equal(resumed.failures, full.failures)
    # a run stopped by max_errors keeps its finished chunks; the rerun stops at the same place
    with pytest.raises(ReplicateError, match="1 of 16 finished"):
        run_replicates(count_task, 30, payload={"fail": (12,)}, seed=10, chunk_size=4, max_errors=0,
                       progress=False, checkpoint=tmp_path / "stopped")
    assert len(list((tmp_path / "stopped").glob("chunk-*.json"))) == 4
    with pytest.raises(ReplicateError, match="1 of 16 finished"):
        run_replicates(count_task, 30, payload={"fail": (12,)}, seed=10, chunk_size=4, max_errors=0,
                       progress=False, checkpoint=tmp_path / "stopped")


def test_a_seed_none_run_resumes_with_its_recorded_seed(tmp_path):
    first = run_replicates(draw_task, 10, payload={}, chunk_size=2, progress=False, checkpoint=tmp_path / "ck")
    manifest = json.loads((tmp_path / "ck" / "manifest.json").read_text())
    assert manifest["seed"]["entropy"] == first.seed and manifest["chunk_size"] == 2
    (tmp_path / "ck" / "chunk-000003.json").unlink()
    second = run_replicates(draw_task, 10, payload={}, progress=False, checkpoint=tmp_path / "ck")
    assert second.seed == first.seed and second.chunk_size == 2 and same_results(second.results, first.results)


@pytest.mark.parametrize("change, fragment", [
    ({"n": 21}, "another number of replicates"),
    ({"seed": 2}, "another seed"),
    ({"chunk_size": 4}, "another chunk size"),
    ({"fingerprint": "data-v2"}, "another fingerprint"),
    ({"task": count_task}, "another task"),
])
def test_a_checkpoint_of_another_run_is_refused(tmp_path, change, fragment):
    base = {"task": draw_task, "n": 20, "seed": 1, "chunk_size": 5, "fingerprint": "data-v1"}
    run_replicates(**{k: v for k, v in base.items()}, payload={}, progress=False, checkpoint=tmp_path)
    args = {**base, **change}
    with pytest.raises(SpecError, match=fragment) as info:
        run_replicates(**args, payload={}, progress=False, checkpoint=tmp_path)
    assert "rerun with the same arguments" in str(info.value) and "\n" not in str(info.value)


def test_the_manifest_names_the_task_a_partial_wraps():
    import functools

    assert task_name(draw_task) == f"{__name__}:draw_task"
    assert task_name(functools.partial(count_task, {})) == f"{__name__}:count_task"


def test_checkpoint_directories_that_are_not_checkpoints_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SpecError, match="holds files but no manifest.json"):
        run_replicates(draw_task, 3, payload={}, seed=1, progress=False, checkpoint=tmp_path)
    (tmp_path / "manifest.json").write_text('{"format": "something else"}')
    with pytest.raises(SpecError, match="is not a retrostudy replicate checkpoint"):
        run_replicates(draw_task, 3, payload={}, seed=1, progress=False, checkpoint=tmp_path)
    with pytest.raises(SpecError, match="is a file, not a directory"):
        run_replicates(draw_task, 3, payload={}, seed=1, progress=False, checkpoint=tmp_path / "notes.txt")


def test_a_result_a_checkpoint_cannot_store_is_a_sentence(tmp_path):
    with pytest.raises(SpecError, match=r"Replicate 0 returned a pandas\..*DataFrame, which a checkpoint cannot store"):
        run_replicates(frame_task, 3, seed=1, progress=False, checkpoint=tmp_path / "ck")
    run = run_replicates(frame_task, 3, seed=1, progress=False)  # fine without a checkpoint
    assert isinstance(run.results[0], pd.DataFrame)


def test_a_damaged_chunk_file_is_run_again_with_a_warning(tmp_path):
    full = run_replicates(draw_task, 12, payload={}, seed=2, chunk_size=4, progress=False, checkpoint=tmp_path)
    (tmp_path / "chunk-000001.json").write_text('{"format": "retrostudy-replicates/1", "start": 4, "sto')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = run_replicates(draw_task, 12, payload={}, seed=2, chunk_size=4, progress=False, checkpoint=tmp_path)
    assert any(issubclass(w.category, RetrostudyWarning) and "chunk-000001.json" in str(w.message) for w in caught)
    assert again.from_checkpoint == 8 and same_results(again.results, full.results)


def test_the_checkpoint_holds_no_pickle(tmp_path):
    run_replicates(draw_task, 6, payload={"fail": (1,)}, seed=2, chunk_size=3, progress=False, checkpoint=tmp_path)
    for path in tmp_path.iterdir():
        json.loads(path.read_text())  # every file is plain JSON


# -- Dask -----------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.dask
def test_local_cluster_of_two_workers_equals_serial_bit_for_bit(tmp_path):
    pytest.importorskip("distributed")
    # the payload's array reaches the workers intact and aligned (Dask's transport alone gave an address
    # 57 mod 64 here, and numpy's sum of it differed from the serial one in the last bit)
    payload = {"fail": (5, 33), "size": 16, "data": np.random.default_rng(3).normal(size=(3001,))}
    serial = run_replicates(draw_task, 60, payload=payload, seed=123, progress=False)
    parallel = run_replicates(draw_task, 60, payload=payload, seed=123, workers=2, chunk_size=7, progress=False)
    assert same_results(parallel.results, serial.results)
    pd.testing.assert_frame_equal(failures_without_traceback(parallel), failures_without_traceback(serial))
    assert parallel.workers == 2 and parallel.scheduler == "LocalCluster of 2 workers" and parallel.startup > 0
    assert serial.workers == 0 and serial.scheduler == "serial"


@pytest.mark.dask
def test_an_existing_client_blas_pinning_resume_and_max_errors_on_dask(tmp_path):
    distributed = pytest.importorskip("distributed")
    serial = run_replicates(draw_task, 30, payload={"fail": (8,)}, seed=5, chunk_size=1, progress=False)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    # an in-process cluster: its workers pin this process's BLAS pools for good, so restore them after
    with threadpoolctl.threadpool_limits(limits=None), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None,
                                     protocol="tcp://") as cl, \
            distributed.Client(cl, set_as_default=False) as client:
        run = run_replicates(draw_task, 30, payload={"fail": (8,)}, seed=5, scheduler=client, progress=False)
        assert same_results(run.results, serial.results) and run.n_failed == 1
        assert run.scheduler.startswith("Dask client") and run.workers == 2
        by_address = run_replicates(draw_task, 30, payload={"fail": (8,)}, seed=5, scheduler=cl.scheduler_address,
                                    chunk_size=4, progress=False)
        assert same_results(by_address.results, serial.results)
        assert by_address.scheduler == f"Dask scheduler {cl.scheduler_address}" and by_address.workers == 2
        threads = run_replicates(blas_threads_task, 4, seed=1, scheduler=client, progress=False)
        assert all(t == [1] * len(t) for t in threads.results)
        # a serial checkpoint finished on the cluster
        ck = tmp_path / "ck"
        with pytest.raises(KeyboardInterrupt):
            run_replicates(count_task, 30, payload={"fail": (8,), "interrupt_at": 13}, seed=5, chunk_size=1,
                           progress=False, checkpoint=ck)
        resumed = run_replicates(count_task, 30, payload={"fail": (8,)}, seed=5, chunk_size=1, scheduler=client,
                                 progress=False, checkpoint=ck)
        assert resumed.from_checkpoint == 13 and same_results(resumed.results, serial.results)
        with pytest.raises(ReplicateError, match="more than max_errors=0"):
            run_replicates(draw_task, 30, payload={"fail": (8,)}, seed=5, scheduler=client, max_errors=0,
                           progress=False)
        # chunks that did not run at all: every replicate counted as failed, nothing checkpointed
        lost = run_replicates(draw_task, 12, payload=NoCopy(), seed=5, chunk_size=4, scheduler=client,
                              progress=False, checkpoint=tmp_path / "lost")
        assert lost.n_failed == 12 and lost.results == (None,) * 12
        assert set(lost.failures["message"]) == {"its chunk did not run: this payload cannot be copied"}
        assert set(lost.failures["error"]) == {"RuntimeError"}
        assert list((tmp_path / "lost").glob("chunk-*.json")) == []


@pytest.mark.dask
def test_a_scheduler_that_does_not_answer_is_one_sentence():
    pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(SpecError) as info:
        run_replicates(draw_task, 5, payload={}, seed=1, scheduler=address, connect_timeout=1, progress=False)
    message = str(info.value)
    assert message.startswith(f"No Dask scheduler answered at '{address}' within 1 s")
    assert "\n" not in message and info.value.__suppress_context__


@pytest.mark.dask
def test_a_scheduler_without_workers_is_one_sentence():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None, protocol="tcp://") as cl, \
            pytest.raises(SpecError, match=r"has no workers after 1 s .*; start some with `dask worker tcp://"):
        run_replicates(draw_task, 5, payload={}, seed=1, scheduler=cl.scheduler_address, connect_timeout=1,
                       progress=False)


def test_a_task_or_payload_that_cannot_be_sent_is_one_sentence():
    pytest.importorskip("cloudpickle")
    import threading

    from retrostudy.replicates.cluster import _scatter

    class SerializingClient:  # scatter serializes its data as a Dask client sending it to workers does
        def scatter(self, data, **kwargs):
            import cloudpickle

            return [cloudpickle.loads(cloudpickle.dumps(obj)) for obj in data]

    assert _scatter(SerializingClient(), draw_task, {"x": 1}) == (draw_task, {"x": 1})
    with pytest.raises(SpecError, match="The payload cannot be sent to Dask workers"):
        _scatter(SerializingClient(), draw_task, {"lock": threading.Lock()})
    lock = threading.Lock()
    with pytest.raises(SpecError, match="The task function cannot be sent to Dask workers"):
        _scatter(SerializingClient(), lambda p, i, s: lock, {})


def profiler_setting(payload, index, seed_sequence):
    import dask

    return [dask.config.get(key) for key in payload]


@pytest.mark.dask
def test_the_runners_local_cluster_has_quiet_workers():
    pytest.importorskip("distributed")
    from retrostudy.replicates.cluster import QUIET_WORKERS

    run = run_replicates(profiler_setting, 2, payload=list(QUIET_WORKERS), seed=1, workers=1, progress=False)
    assert run.results[0] == list(QUIET_WORKERS.values())  # read on the worker, not in this process
