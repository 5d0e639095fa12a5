"""Benchmark (not collected by pytest): the replicate runner's overhead, serially and on Dask.

A ~5 ms numpy task (least-squares fits of simulated responses on a fixed design, one BLAS
thread) is run 2,000 times: as a plain loop (the floor), through ``run_replicates`` serially,
and on LocalClusters of 1 and 2 workers whose start-up is timed separately (the runs use the
started cluster's client). Targets: a serial overhead well under 1 % of the task; 2 workers at
least 1.7x faster than 1 with start-up excluded. The results of every mode are checked equal.

Each mode is timed ``repeats`` times and the best wall time is kept (other work on the machine
only ever adds time). CPU seconds are printed too: the workers' CPU per replicate is the
runner's cost without the waiting that a busy machine adds; wall / CPU near 1 means the cores
were free.

Run: python tests/benchmarks/bench_replicates.py [n_replicates] [task_ms] [repeats]
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
    """A design and a repeat count that make one replicate take about ``task_ms`` of CPU."""
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(400), rng.normal(size=(400, 29))])
    payload = {"x": x, "beta": rng.normal(size=30), "repeats": 1}
    with single_blas_thread():
        ols_task(payload, 0, RootSeed(1).child(0))
        t = time.process_time()
        for i in range(200):
            ols_task(payload, i, RootSeed(1).child(i))
        one = (time.process_time() - t) / 200
    payload["repeats"] = max(1, round(task_ms / 1000 / one))
    return payload


def plain_loop(payload: dict, n: int, seed: int) -> list:
    root = RootSeed(seed)
    with single_blas_thread():
        return [ols_task(payload, i, root.child(i)) for i in range(n)]


def same(a, b) -> bool:
    return all(x["slope"] == y["slope"] and np.array_equal(x["last"], y["last"]) for x, y in zip(a, b, strict=True))


def _worker_cpu(client) -> float:
    return sum(client.run(time.process_time).values())


def best_of(repeats: int, fn):
    """(best wall s, CPU s of that repetition, result) over ``repeats`` calls of ``fn() -> (cpu, result)``."""
    best = None
    for _ in range(repeats):
        t = time.perf_counter()
        cpu, result = fn()
        wall = time.perf_counter() - t
        if best is None or wall < best[0]:
            best = (wall, cpu, result)
    return best


def main(n: int = 2000, task_ms: float = 5.0, repeats: int = 2) -> None:
    seed = 20240607
    payload = make_payload(task_ms)
    print(f"bench_replicates: {n} replicates of a ~{task_ms:g} ms numpy task ({payload['repeats']} OLS fits of "
          f"400 x 30), best of {repeats}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    def loop():
        c = time.process_time()
        results = plain_loop(payload, n, seed)
        return time.process_time() - c, results

    def serial():
        c = time.process_time()
        run = run_replicates(ols_task, n, payload=payload, seed=seed, progress=False)
        return time.process_time() - c, run

    loop_s, loop_cpu, reference = best_of(repeats, loop)
    print(f"  plain loop                 wall {loop_s:6.2f} s  cpu {loop_cpu:6.2f} s  "
          f"{1e3 * loop_cpu / n:5.2f} ms cpu per replicate")
    serial_s, serial_cpu, run = best_of(repeats, serial)
    assert same(run.results, reference)
    print(f"  run_replicates serial      wall {serial_s:6.2f} s  cpu {serial_cpu:6.2f} s  overhead "
          f"{1e6 * (serial_cpu - loop_cpu) / n:+6.1f} us cpu per replicate ({100 * (serial_cpu / loop_cpu - 1):+.1f} %)")

    walls = {}
    for workers in (1, 2):
        with dask_target(workers=workers, scheduler=None, connect_timeout=30.0) as target:
            client = target.client

            def on_dask(client=client):
                c = _worker_cpu(client)
                run = run_replicates(ols_task, n, payload=payload, seed=seed, scheduler=client, progress=False)
                return _worker_cpu(client) - c, run

            wall, cpu, run = best_of(repeats, on_dask)
            t_close = time.perf_counter()
        close_s = time.perf_counter() - t_close
        walls[workers] = wall
        assert same(run.results, reference)
        print(f"  Dask, {workers} worker{'s' if workers > 1 else ' '}           wall {wall:6.2f} s  cpu {cpu:6.2f} s  "
              f"(workers) overhead {1e6 * (cpu - loop_cpu) / n:+6.1f} us cpu per replicate; "
              f"start-up {target.startup:.2f} s, shut-down {close_s:.2f} s not included; "
              f"load {os.getloadavg()[0]:.2f}")
    print(f"  speed-up 2 workers vs 1:   {walls[1] / walls[2]:.2f}x (target >= 1.7x, start-up excluded); "
          f"2 workers vs serial {serial_s / walls[2]:.2f}x")
    full = run_replicates(ols_task, n, payload=payload, seed=seed, workers=2, progress=False)
    assert same(full.results, reference)
    print(f"  one call with workers=2    wall {full.elapsed:6.2f} s  (start-up {full.startup:.2f} s and shut-down "
          "included)")
    print("  results bit-for-bit identical in every mode: yes")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 2000, float(args[1]) if len(args) > 1 else 5.0,
         int(args[2]) if len(args) > 2 else 2)
