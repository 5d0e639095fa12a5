"""run_replicates: n seeded replicates of one task, serially or on Dask, with checkpoints and progress."""
from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import ReplicateError, SpecError
from .checkpoint import Checkpoint
from .chunks import Chunk, RootSeed, run_chunk, single_blas_thread
from .progress import Progress
from .result import ReplicateRun, failures_frame

__all__ = ["default_chunk_size", "run_replicates"]

Task = Callable[[Any, int, np.random.SeedSequence], Any]


def default_chunk_size(n: int, n_workers: int) -> int:
    """Replicates per chunk when the caller does not say: about 100 chunks serially, about
    ``max(20, 8 * workers)`` on Dask.

    Serially a chunk costs nothing, so a hundred give a smooth progress bar and fine-grained
    checkpoints. On Dask each task costs the client and the scheduler a few milliseconds of CPU,
    which on a small machine is taken from the workers (measured on the bundled power simulation,
    10,000 replicates on 2 workers: 100 chunks cost this process ~0.5 s of CPU, 20 chunks ~0.2 s,
    and the run was ~15 % faster); eight chunks per worker keep a large cluster balanced. A
    resumed run takes the chunk size from its checkpoint, so resuming elsewhere works.
    """
    chunks = 100 if n_workers <= 0 else max(20, 8 * n_workers)
    return max(1, math.ceil(n / chunks))


def _int_arg(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise SpecError(f"{name} must be a whole number of at least {minimum}, not {value!r}.")
    return int(value)


def _optional_int_arg(name: str, value: Any, *, minimum: int) -> int | None:
    return None if value is None else _int_arg(name, value, minimum=minimum)


def _root_seed(seed: Any, stored: dict | None) -> RootSeed:
    if seed is None and stored is not None:
        return RootSeed.from_json(stored["seed"])  # resume a seed=None run with its recorded entropy
    if isinstance(seed, np.random.Generator | np.random.RandomState | np.random.BitGenerator):
        raise SpecError("seed must be an int, a sequence of ints, a numpy SeedSequence or None, not a "
                        f"{type(seed).__name__}; pass the int you created it from.")
    if isinstance(seed, bool) or (seed is not None and not isinstance(
            seed, numbers.Integral | np.random.SeedSequence | Sequence)):
        raise SpecError(f"seed must be an int, a sequence of ints, a numpy SeedSequence or None, not {seed!r}.")
    try:
        if isinstance(seed, np.random.SeedSequence):
            seq = seed
        else:  # numbers.Integral (numpy ints too) as the int it is
            seq = np.random.SeedSequence(int(seed) if isinstance(seed, numbers.Integral) else seed)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"seed {seed!r} is not a valid numpy seed ({exc}); pass a non-negative int.") from None
    raw: Any = seq.entropy
    entropy = tuple(int(e) for e in raw) if isinstance(raw, Sequence | np.ndarray) else int(raw)
    return RootSeed(entropy, tuple(int(k) for k in seq.spawn_key), int(seq.pool_size))


def _check_args(task: Any, workers: Any, scheduler: Any, progress: Any, on_chunk: Any, label: Any,
                fingerprint: Any, connect_timeout: Any) -> None:
    if not callable(task):
        raise SpecError(f"task must be a function task(payload, index, seed_sequence), not {task!r}.")
    if workers and scheduler is not None:
        raise SpecError("Pass workers= (a LocalCluster on this machine) or scheduler= (an existing Dask "
                        "cluster), not both.")
    if progress not in (None, True, False):
        raise SpecError(f"progress must be None (after 2 s), True or False, not {progress!r}.")
    if on_chunk is not None and not callable(on_chunk):
        raise SpecError(f"on_chunk must be a function on_chunk(done, results_so_far), not {on_chunk!r}.")
    if not isinstance(label, str):
        raise SpecError(f"label must be a string, not {label!r}.")
    try:
        json.dumps(fingerprint)
    except (TypeError, ValueError):
        raise SpecError("fingerprint must be JSON data (a string, number, list or dict), not "
                        f"a {type(fingerprint).__name__}; a hash of the payload is a good choice.") from None
    if isinstance(connect_timeout, bool) or not isinstance(connect_timeout, numbers.Real) or connect_timeout <= 0:
        raise SpecError(f"connect_timeout must be a positive number of seconds, not {connect_timeout!r}.")


class _Collector:
    """Receives finished chunks in any order: fills the results, saves, reports, stops on max_errors."""

    def __init__(self, n: int, *, label: str, max_errors: int | None, on_chunk: Callable | None):
        self.results: list = [None] * n
        self.failures: list[dict] = []
        self.succeeded: list = []
        self.done = 0
        self.label = label
        self.max_errors = max_errors
        self.on_chunk = on_chunk
        self.checkpoint: Checkpoint | None = None
        self.progress: Progress | None = None

    def absorb(self, k: int, chunk: Chunk, *, save: bool = True) -> None:
        self.results[chunk.start:chunk.stop] = chunk.results
        self.failures.extend(chunk.failures)
        failed = {f["index"] for f in chunk.failures}
        self.succeeded.extend(r for i, r in enumerate(chunk.results, chunk.start) if i not in failed)
        self.done += chunk.stop - chunk.start
        if save and self.checkpoint is not None and not chunk.lost:
            self.checkpoint.save(k, chunk)
        note = self.on_chunk(self.done, list(self.succeeded)) if self.on_chunk is not None else None
        if self.progress is not None:
            self.progress.update(chunk.stop - chunk.start, len(chunk.failures),
                                 note=note if isinstance(note, str) else None)
        if self.max_errors is not None and len(self.failures) > self.max_errors:
            self._stop()

    def _stop(self) -> None:
        frame = failures_frame(self.failures)
        first = "; ".join(
            f"replicate {r.index} (seed entropy {r.seed_entropy}, spawn key {r.seed_spawn_key}): "
            f"{r.error}: {r.message}" for r in frame.head(3).itertuples())
        raise ReplicateError(
            f"{self.label}: {len(frame)} of {self.done} finished replicates failed, more than "
            f"max_errors={self.max_errors}, so the run stopped. First failures: {first}. The error's "
            ".failures table lists them all.", failures=frame, n_done=self.done)


def run_replicates(task: Task, n: int, *, payload: Any = None, seed: Any = None, workers: int | None = None,
                   scheduler: Any = None, chunk_size: int | None = None, progress: bool | None = None,
                   max_errors: int | None = None, checkpoint: str | os.PathLike | None = None,
                   fingerprint: Any = None, label: str = "replicates",
                   on_chunk: Callable[[int, list], Any] | None = None,
                   connect_timeout: float = 10.0) -> ReplicateRun:
    """Run ``task(payload, i, seed_sequence)`` for ``i = 0 .. n-1``, serially or on Dask.

    Replicate ``i`` gets the ``i``-th child of ``numpy.random.SeedSequence(seed).spawn(n)`` and
    nothing else random, so the results are the same bit for bit serially, on any number of
    workers and for any chunk size. Replicates run in chunks (one Dask task, one checkpoint file
    and one progress step per chunk) with one BLAS thread each; results come back in index order.

    Parameters
    ----------
    task
        ``task(payload, index, seed_sequence) -> result``: a function defined at the top level of
        a module (so Dask can send it; functions in a notebook or script also work). It must
        draw random numbers only from ``numpy.random.default_rng(seed_sequence)`` and must not
        change ``payload``. Results should be small: numbers, dicts or numpy arrays.
    n
        Number of replicates (0 gives an empty run).
    payload
        Whatever every replicate needs (data, a fitted model, settings). Sent to each Dask worker
        once, not per replicate, and deep-copied there once per run (so its arrays are aligned:
        it must be picklable and deep-copyable); in a serial run it is passed as is. Large data
        belong here rather than in the task function's closure or defaults.
    seed
        An int, a sequence of ints or a ``numpy.random.SeedSequence``. None draws fresh entropy,
        recorded in the result's ``seed`` (and, with a checkpoint, reused when the run resumes).
    workers
        Start a ``dask.distributed.LocalCluster`` of this many single-threaded worker processes for
        the run (and close it after). None or 0: run serially in this process without Dask.
    scheduler
        Run on an existing Dask cluster: its scheduler address (``"tcp://host:port"``) or a
        ``distributed.Client`` (left open). Not with ``workers``.
    chunk_size
        Replicates per chunk; default :func:`default_chunk_size` (about 100 chunks serially,
        20 on a small Dask cluster), or the checkpoint's when resuming.
    progress
        None: a progress bar on stderr (a widget in Jupyter) once the run has lasted 2 s;
        True: at once; False: never.
    max_errors
        Stop with :class:`~retrostudy.errors.ReplicateError` once more than this many replicates
        have failed (0: at the first failure). None: never stop; failures are always counted.
    checkpoint
        A directory: each finished chunk is saved there (JSON files only) with a manifest of the
        run; calling again with the same arguments skips the saved chunks and gives the identical
        result. A checkpoint of another run (other task, n, seed, chunk size or fingerprint) is
        refused. Results must then be numbers, strings, lists, tuples, dicts or numpy arrays.
    fingerprint
        JSON data identifying the payload and settings (e.g. a sha256 of the data and the spec);
        stored in the checkpoint manifest so a checkpoint made from other data is refused.
    label
        Name shown by the progress bar, the summary and the error messages.
    on_chunk
        ``on_chunk(done, results_so_far)`` after each finished chunk, in this process: ``done`` is
        the number of replicates finished (failed ones included) and ``results_so_far`` a new list
        of the successful results so far, in the order they finished (index order when serial),
        e.g. to show a running estimate and its Monte Carlo SE: a string it returns is shown
        beside the progress count.
    connect_timeout
        Seconds to wait for a ``scheduler`` address to answer and to have a worker.

    Returns
    -------
    ReplicateRun
        ``results`` in index order (None for failed replicates), ``failures`` (index, seed,
        error, message, traceback), the seed, where and how long it ran, and ``summary()``.

    Raises
    ------
    SpecError
        An argument is not valid, a checkpoint belongs to another run, a result cannot be
        checkpointed, the scheduler does not answer or the task cannot be sent to the workers.
    ReplicateError
        More than ``max_errors`` replicates failed (finished chunks stay in the checkpoint).

    Examples
    --------
    >>> import numpy as np
    >>> from retrostudy.replicates import run_replicates
    >>> def mean_of_draws(payload, index, seed_sequence):
    ...     rng = np.random.default_rng(seed_sequence)
    ...     return float(rng.normal(payload["mu"], 1.0, size=50).mean())
    >>> run = run_replicates(mean_of_draws, 200, payload={"mu": 2.0}, seed=1, progress=False)
    >>> len(run.results), run.n_failed
    (200, 0)
    >>> round(float(np.mean(run.results)), 1)
    2.0
    """
    t0 = time.perf_counter()
    _check_args(task, workers, scheduler, progress, on_chunk, label, fingerprint, connect_timeout)
    n = _int_arg("n", n, minimum=0)
    workers = _optional_int_arg("workers", workers, minimum=0) or 0
    chunk_size = _optional_int_arg("chunk_size", chunk_size, minimum=1)
    max_errors = _optional_int_arg("max_errors", max_errors, minimum=0)
    use_dask = workers > 0 or scheduler is not None
    stored = Checkpoint.read_manifest(checkpoint) if checkpoint is not None else None
    root = _root_seed(seed, stored)
    if chunk_size is None and stored is not None and isinstance(stored.get("chunk_size"), int):
        chunk_size = stored["chunk_size"]
    if chunk_size is None and scheduler is None:
        chunk_size = default_chunk_size(n, workers)

    collector = _Collector(n, label=label, max_errors=max_errors, on_chunk=on_chunk)
    todo: list[tuple[int, int, int]] = []
    from_checkpoint = 0

    def prepare(size: int) -> None:
        nonlocal todo, from_checkpoint
        if checkpoint is not None:
            manifest = Checkpoint.make_manifest(n=n, root=root, chunk_size=size, task=task,
                                                fingerprint=fingerprint, label=label)
            collector.checkpoint = Checkpoint.open(checkpoint, manifest)
        for k, start in enumerate(range(0, n, size)):
            stop = min(start + size, n)
            saved = collector.checkpoint.load(k, start, stop) if collector.checkpoint is not None else None
            if saved is None:
                todo.append((k, start, stop))
            else:
                from_checkpoint += stop - start
                collector.absorb(k, saved, save=False)

    if chunk_size is not None:
        prepare(chunk_size)
    description, n_workers, startup = "serial", 0, 0.0
    with contextlib.ExitStack() as stack:
        # the bar exists before a cluster starts, so a slow start-up shows too (after the 2 s delay)
        collector.progress = stack.enter_context(
            Progress(n, label=label, mode=progress, initial=collector.done, failed=len(collector.failures)))
        target = None
        if use_dask and (todo or chunk_size is None):
            from .cluster import dask_target  # Dask is imported only here

            target = stack.enter_context(dask_target(workers=workers or None, scheduler=scheduler,
                                                     connect_timeout=float(connect_timeout)))
            description, n_workers, startup = target.description, target.n_workers, target.startup
            if chunk_size is None:
                chunk_size = default_chunk_size(n, n_workers)
                prepare(chunk_size)
        elif use_dask:
            description = "checkpoint (nothing left to run)"
        if target is not None:
            if todo:
                from .cluster import run_chunks_on_dask, sent_to_workers

                sent = stack.enter_context(sent_to_workers(target.client, task, payload))
                startup += sent.seconds  # a cost per run, not per replicate
                run_chunks_on_dask(target.client, sent, root, todo, collector.absorb,
                                   label=re.sub(r"[^\w.-]", "_", label))
        else:
            for k, start, stop in todo:
                with single_blas_thread():  # restored between chunks: on_chunk runs with the caller's
                    chunk = run_chunk(task, payload, root, start, stop)
                collector.absorb(k, chunk)
        collector.progress.close()  # before the cluster shuts down

    return ReplicateRun(
        results=tuple(collector.results), failures=failures_frame(collector.failures), n=n,
        seed=root.entropy, spawn_key=root.spawn_key, pool_size=root.pool_size, workers=n_workers,
        scheduler=description, elapsed=time.perf_counter() - t0, startup=startup, chunk_size=int(chunk_size or 1),
        from_checkpoint=from_checkpoint, label=label)
