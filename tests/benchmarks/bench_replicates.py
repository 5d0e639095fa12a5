"""Benchmark (not collected by pytest): the replicate runner's overhead, serially and on Dask.

A ~5 ms numpy task (least-squares fits of simulated responses on a fixed design, one BLAS
thread) is run 2,000 times: as a plain loop (the floor), through ``run_replicates`` serially,
and on LocalClusters of 1 and 2 workers whose start-up is timed separately (the runs use the
started cluster's client). Targets: a serial overhead well under 1 % of the task; 2 workers at
least 1.7x faster than 1 with start-up excluded. The results of every mode are checked equal.

Run: python tests/benchmarks/bench_replicates.py [n_replicates] [task_ms]
(The machine's load matters: two cores shared with other work give less than 2x.)
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

from retrostudy.replicates import run_replicates
from retrostudy.replicates.chunks import RootSeed, single_blas_thread
from retrostudy.replicates.cluster import dask_target


def ols_task(payload, index, seed_sequence):
    """``payload["repeats"]`` least-squares fits of a simulated response; returns the mean slope."""
    rng = np.random.default_rng(seed_sequence)
    x = payload["x"]
    slopes = []
    for _ in range(payload["repeats"]):
        y = x @ payload["beta"] + rng.normal(size=x.shape[0])
        coef = np.linalg.solve(x.T @ x, x.T @ y)
        slopes.append(coef[1])
    return {"slope": float(np.mean(slopes)), "last": coef}


def make_payload(task_ms: float) -> dict:
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(400), rng.normal(size=(400, 29))])
    payload = {"x": x, "beta": rng.normal(size=30), "repeats": 1}
    with single_blas_thread():
        ols_task(payload, 0, RootSeed(1).child(0))
        t = time.perf_counter()
        for i in range(50):
            ols_task(payload, i, RootSeed(1).child(i))
        one = (time.perf_counter() - t) / 50
    payload["repeats"] = max(1, round(task_ms / 1000 / one))
    return payload


def plain_loop(payload: dict, n: int, seed: int) -> tuple[float, list]:
    root = RootSeed(seed)
    t = time.perf_counter()
    with single_blas_thread():
        results = [ols_task(payload, i, root.child(i)) for i in range(n)]
    return time.perf_counter() - t, results


def same(a, b) -> bool:
    return all(x["slope"] == y["slope"] and np.array_equal(x["last"], y["last"]) for x, y in zip(a, b, strict=True))


def main(n: int = 2000, task_ms: float = 5.0) -> None:
    seed = 20240607
    payload = make_payload(task_ms)
    print(f"bench_replicates: {n} replicates of a ~{task_ms:g} ms numpy task ({payload['repeats']} OLS fits "
          f"of 400 x 30), load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    loop_s, loop_results = plain_loop(payload, n, seed)
    print(f"  plain loop                 {loop_s:7.2f} s   {1e3 * loop_s / n:6.2f} ms per replicate")

    run = run_replicates(ols_task, n, payload=payload, seed=seed, progress=False)
    serial_s = run.elapsed
    assert same(run.results, loop_results)
    print(f"  run_replicates serial      {serial_s:7.2f} s   overhead {1e6 * (serial_s - loop_s) / n:+7.1f} us "
          f"per replicate ({100 * (serial_s / loop_s - 1):+.1f} %)")

    times = {}
    for workers in (1, 2):
        with dask_target(workers=workers, scheduler=None, connect_timeout=30.0) as target:
            t = time.perf_counter()
            run = run_replicates(ols_task, n, payload=payload, seed=seed, scheduler=target.client,
                                 progress=False)
            times[workers] = time.perf_counter() - t
            t_close = time.perf_counter()
        close_s = time.perf_counter() - t_close
        assert same(run.results, loop_results)
        print(f"  Dask LocalCluster {workers} worker{'s' if workers > 1 else ' '} {times[workers]:7.2f} s   "
              f"{1e3 * times[workers] / n:6.2f} ms per replicate, overhead vs loop/{workers} "
              f"{1e6 * (times[workers] - loop_s / workers) / n:+7.1f} us per replicate; "
              f"start-up {target.startup:.2f} s, shut-down {close_s:.2f} s (not included)")
    speedup = times[1] / times[2]
    print(f"  speed-up 2 workers vs 1:   {speedup:.2f}x (target >= 1.7x, start-up excluded); "
          f"2 workers vs serial {serial_s / times[2]:.2f}x")
    full = run_replicates(ols_task, n, payload=payload, seed=seed, workers=2, progress=False)
    assert same(full.results, loop_results)
    print(f"  one call with workers=2    {full.elapsed:7.2f} s   (start-up {full.startup:.2f} s and shut-down "
          "included)")
    print("  results identical in every mode: yes")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000, float(sys.argv[2]) if len(sys.argv) > 2 else 5.0)
