"""Benchmark (not collected by pytest): the replicate runner's overhead, serially and on Dask.

A ~5 ms numpy task (least-squares fits of simulated responses on a fixed design, one BLAS
thread) is run 2,000 times: as a plain loop (the floor), through ``run_replicates`` serially,
and on LocalClusters of 1 and 2 workers whose start-up is timed separately (the runs use the
started cluster's client). Targets: a serial overhead well under 1 % of the task; 2 workers at
least 1.7x faster than 1 with start-up excluded. The results of every mode are checked equal.

The modes run interleaved for a few rounds (both clusters started first), so a machine whose
load changes treats them alike; best and median wall times are printed, and CPU seconds (the
workers' for Dask), which a busy machine inflates less than wall time. A no-op task gives the
runner's own cost per replicate, and a task that sleeps 5 ms (using no core) shows how well the
chunks spread over two workers even when other work keeps the cores busy.

Run: python tests/benchmarks/bench_replicates.py [n_replicates] [task_ms] [rounds]
"""
from __future__ import annotations

import contextlib
import os
import statistics
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


def noop_task(payload, index, seed_sequence):
    """No work: what is left is the runner's own cost per replicate."""
    return {"index": index}


def sleep_task(payload, index, seed_sequence):
    """Waits ~5 ms without using a core: how well chunks spread over workers, whatever the machine's load."""
    time.sleep(payload)
    return index


def same(a, b) -> bool:
    return all(x["slope"] == y["slope"] and np.array_equal(x["last"], y["last"]) for x, y in zip(a, b, strict=True))


def _worker_cpu(client) -> float:
    return sum(client.run(time.process_time).values())


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(n: int = 2000, task_ms: float = 5.0, rounds: int = 3) -> None:
    seed = 20240607
    payload = make_payload(task_ms)
    print(f"bench_replicates: {n} replicates of a ~{task_ms:g} ms numpy task ({payload['repeats']} OLS fits of "
          f"400 x 30); {rounds} rounds, the modes interleaved in each; load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")
    with contextlib.ExitStack() as stack:
        targets = {w: stack.enter_context(dask_target(workers=w, scheduler=None, connect_timeout=30.0))
                   for w in (1, 2)}
        reference = plain_loop(payload, n, seed)

        def loop():
            c = time.process_time()
            results = plain_loop(payload, n, seed)
            return time.process_time() - c, results

        def serial():
            c = time.process_time()
            run = run_replicates(ols_task, n, payload=payload, seed=seed, progress=False)
            return time.process_time() - c, run.results

        def on_dask(client):
            c = _worker_cpu(client)
            run = run_replicates(ols_task, n, payload=payload, seed=seed, scheduler=client, progress=False)
            return _worker_cpu(client) - c, run.results

        modes = {"plain loop": loop, "run_replicates serial": serial,
                 "Dask, 1 worker": lambda: on_dask(targets[1].client),
                 "Dask, 2 workers": lambda: on_dask(targets[2].client)}
        wall: dict[str, list[float]] = {m: [] for m in modes}
        cpu: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(rounds):
            for mode, fn in modes.items():
                t = time.perf_counter()
                used, results = fn()
                wall[mode].append(time.perf_counter() - t)
                cpu[mode].append(used)
                assert same(results, reference), mode
        noop = {"serially": min(_timed(lambda: run_replicates(noop_task, n, seed=seed, progress=False))
                                for _ in range(rounds))}
        for w, target in targets.items():
            noop[f"on {w} worker{'s' if w > 1 else ''}"] = min(
                _timed(lambda c=target.client: run_replicates(noop_task, n, seed=seed, scheduler=c, progress=False))
                for _ in range(rounds))
        sleeping = {w: min(_timed(lambda c=target.client: run_replicates(sleep_task, n // 2, payload=task_ms / 1000,
                                                                        seed=seed, scheduler=c, progress=False))
                           for _ in range(2)) for w, target in targets.items()}
        t_close = time.perf_counter()
    close_s = time.perf_counter() - t_close

    loop_cpu = min(cpu["plain loop"])
    for mode in modes:
        best, med = min(wall[mode]), statistics.median(wall[mode])
        line = f"  {mode:22s} wall best {best:6.2f} s, median {med:6.2f} s;  cpu {min(cpu[mode]):6.2f} s"
        if mode == "plain loop":
            line += f" ({1e3 * loop_cpu / n:.2f} ms per replicate)"
        else:
            line += f" ({1e6 * (min(cpu[mode]) - loop_cpu) / n:+.0f} us per replicate vs the loop)"
        print(line)
    for where, seconds in noop.items():
        print(f"  no-op task {where:12s} {1e6 * seconds / n:7.1f} us per replicate (the runner's own cost)")
    ratios = [a / b for a, b in zip(wall["Dask, 1 worker"], wall["Dask, 2 workers"], strict=True)]
    print(f"  speed-up 2 workers vs 1 (start-up excluded): best/best {min(wall['Dask, 1 worker']) / min(wall['Dask, 2 workers']):.2f}x, "
          f"per round {', '.join(f'{r:.2f}x' for r in ratios)} (target >= 1.7x)")
    print(f"  speed-up 2 workers vs 1 for {n // 2} replicates of a {task_ms:g} ms sleep (no CPU, so free of the "
          f"machine's load): {sleeping[1] / sleeping[2]:.2f}x ({sleeping[1]:.2f} s vs {sleeping[2]:.2f} s)")
    print(f"  cluster start-up: 1 worker {targets[1].startup:.2f} s, 2 workers {targets[2].startup:.2f} s; "
          f"shutting both down {close_s:.2f} s")
    full = run_replicates(ols_task, n, payload=payload, seed=seed, workers=2, progress=False)
    assert same(full.results, reference)
    print(f"  one call with workers=2: {full.elapsed:.2f} s (start-up {full.startup:.2f} s and shut-down included)")
    print(f"  results bit-for-bit identical in every mode: yes; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 2000, float(args[1]) if len(args) > 1 else 5.0,
         int(args[2]) if len(args) > 2 else 3)
