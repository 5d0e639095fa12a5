"""Where simulation replicates run: the shared replicate runner when it is installed, else a serial loop.

:func:`run` has the signature of ``retrostudy.replicates.run_replicates`` (the project's one
runner: serial or Dask, seeds from ``SeedSequence(seed).spawn(n)``, checkpoints, progress,
failures with their seeds) and calls it when that module is importable. Until then a
minimal serial loop stands in: the same seeds, so the same numbers, with failures counted
with their seeds and ``max_errors``, a progress line and the running-estimate hook; asking
it for workers, a scheduler or a checkpoint is refused with a sentence.
"""
from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ModelError, SpecError

__all__ = ["FAILURE_COLUMNS", "SerialRun", "run"]

FAILURE_COLUMNS = ("index", "seed_entropy", "seed_spawn_key", "error", "message", "traceback")


@dataclass(frozen=True, eq=False)
class SerialRun:
    """The stand-in runner's result (the attributes planning reads from a ``ReplicateRun``)."""

    results: tuple
    failures: pd.DataFrame
    n: int
    seed: Any
    workers: int
    scheduler: str
    elapsed: float
    startup: float = 0.0

    @property
    def n_failed(self) -> int:
        return len(self.failures)


def _replicates_runner() -> Callable | None:
    try:
        from ..replicates import run_replicates
    except ImportError:
        return None
    return run_replicates


def run(task: Callable, n: int, *, payload: Any, seed: Any, workers: int | None = None, scheduler: Any = None,
        progress: bool | None = None, max_errors: int | None = None, checkpoint: Any = None,
        fingerprint: Any = None, label: str = "simulation",
        on_chunk: Callable[[int, list], Any] | None = None) -> Any:
    """Run ``task(payload, i, seed_sequence)`` for ``i < n``; see ``retrostudy.replicates.run_replicates``."""
    runner = _replicates_runner()
    if runner is not None:
        return runner(task, n, payload=payload, seed=seed, workers=workers, scheduler=scheduler, progress=progress,
                      max_errors=max_errors, checkpoint=checkpoint, fingerprint=fingerprint, label=label,
                      on_chunk=on_chunk)
    if workers or scheduler is not None or checkpoint is not None:
        raise SpecError("workers=, scheduler= and checkpoint= need the shared replicate runner "
                        "(retrostudy.replicates), which this installation does not have; leave them out to run "
                        "serially.")
    return _serial(task, n, payload=payload, seed=seed, progress=progress, max_errors=max_errors, label=label,
                   on_chunk=on_chunk)


def _serial(task, n, *, payload, seed, progress, max_errors, label, on_chunk) -> SerialRun:
    t0 = time.perf_counter()
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    children = root.spawn(n)
    results: list = [None] * n
    failures: list[dict] = []
    succeeded: list = []
    chunk = max(1, n // 100)
    shown = False
    for i, child in enumerate(children):
        try:
            results[i] = task(payload, i, child)
            succeeded.append(results[i])
        except Exception as exc:
            failures.append({"index": i, "seed_entropy": child.entropy, "seed_spawn_key": tuple(child.spawn_key),
                             "error": type(exc).__name__, "message": str(exc),
                             "traceback": "".join(traceback.format_exception(exc)[-3:])})
            if max_errors is not None and len(failures) > max_errors:
                first = failures[0]
                raise ModelError(f"{label}: {len(failures)} of {i + 1} replicates failed, more than max_errors="
                                 f"{max_errors}, so the run stopped; the first (replicate {first['index']}, seed "
                                 f"spawn key {first['seed_spawn_key']}) raised {first['error']}: "
                                 f"{first['message']}") from exc
        done = i + 1
        if done % chunk == 0 or done == n:
            if on_chunk is not None:
                on_chunk(done, list(succeeded))
            if progress or (progress is None and time.perf_counter() - t0 > 2.0):
                shown = True
                print(f"\r{label}: {done}/{n} replicates, {len(failures)} failed", end="", file=sys.stderr,
                      flush=True)
    if shown:
        print(file=sys.stderr)
    frame = pd.DataFrame(failures, columns=list(FAILURE_COLUMNS))
    return SerialRun(results=tuple(results), failures=frame, n=n, seed=root.entropy, workers=0, scheduler="serial",
                     elapsed=time.perf_counter() - t0)
