"""The result of a replicate run."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .chunks import RootSeed

__all__ = ["FAILURE_COLUMNS", "ReplicateRun"]

#: Columns of :attr:`ReplicateRun.failures`, one row per failed replicate.
FAILURE_COLUMNS = ("index", "seed_entropy", "seed_spawn_key", "error", "message", "traceback")


def failures_frame(records: list[dict]) -> pd.DataFrame:
    """The failure records as a DataFrame in index order (entropy as Python ints: it has 128 bits)."""
    rows = sorted(records, key=lambda r: r["index"])
    frame = pd.DataFrame({
        "index": np.array([r["index"] for r in rows], dtype=np.int64),
        "seed_entropy": pd.Series([_entropy(r["seed_entropy"]) for r in rows], dtype=object),
        "seed_spawn_key": pd.Series([tuple(int(k) for k in r["seed_spawn_key"]) for r in rows], dtype=object),
        "error": pd.Series([r["error"] for r in rows], dtype=object),
        "message": pd.Series([r["message"] for r in rows], dtype=object),
        "traceback": pd.Series([r["traceback"] for r in rows], dtype=object),
    })
    return frame.loc[:, list(FAILURE_COLUMNS)]


def _entropy(value: Any) -> int | tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else int(value)


@dataclass(frozen=True, eq=False, repr=False)
class ReplicateRun:
    """What :func:`~retrostudy.replicates.run_replicates` computed.

    Attributes
    ----------
    results
        One entry per replicate in index order (a tuple); ``None`` where the replicate failed
        (``ok`` or ``failures`` tell a failure from a task that returned None).
    failures
        One row per failed replicate (columns :data:`FAILURE_COLUMNS`): its index, its seed
        (``SeedSequence(seed_entropy, spawn_key=seed_spawn_key)`` rebuilds it), the exception's
        type name, its message and the last frames of its traceback. Empty when none failed.
    n
        Number of replicates asked for.
    seed
        The root seed's entropy (an int; the fresh entropy when ``seed=None`` was passed), so
        ``run_replicates(..., seed=run.seed)`` repeats the run.
    spawn_key
        The root SeedSequence's spawn key (``()`` unless a spawned SeedSequence was passed).
    workers
        Number of Dask workers the run used; 0 for a serial run in this process.
    scheduler
        Where it ran: ``"serial"``, ``"LocalCluster of 2 workers"``, ``"Dask scheduler tcp://..."``.
    elapsed
        Wall-clock seconds of the whole call, start-up included.
    startup
        Seconds spent starting or connecting to the cluster and sending the task and payload to
        its workers (0 for a serial run): the cost of a run that does not grow with ``n``.
    chunk_size
        Replicates per chunk (one Dask task or one checkpoint file runs one chunk).
    from_checkpoint
        Replicates read back from a checkpoint instead of run.
    label
        The name shown by the progress bar and the summary.
    """

    results: tuple
    failures: pd.DataFrame
    n: int
    seed: int | tuple[int, ...]
    spawn_key: tuple[int, ...]
    workers: int
    scheduler: str
    elapsed: float
    startup: float
    chunk_size: int
    from_checkpoint: int
    label: str
    pool_size: int = 4

    @property
    def n_failed(self) -> int:
        """Number of failed replicates."""
        return len(self.failures)

    @property
    def n_ok(self) -> int:
        """Number of replicates that returned a result."""
        return self.n - self.n_failed

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask over replicates, True where the replicate did not fail."""
        mask = np.ones(self.n, dtype=bool)
        mask[self.failures["index"].to_numpy(dtype=np.int64)] = False
        return mask

    def seed_sequence(self, index: int) -> np.random.SeedSequence:
        """The SeedSequence replicate ``index`` received (to rerun one replicate by hand)."""
        if not 0 <= index < self.n:
            raise IndexError(f"replicate index {index} is outside 0 to {self.n - 1}")
        return RootSeed(self.seed, self.spawn_key, self.pool_size).child(index)

    def summary(self) -> str:
        """One line: how many replicates succeeded and failed, where, how long, which seed."""
        where = "serially in this process" if self.workers == 0 else f"on a {self.scheduler}" \
            if self.scheduler.startswith("LocalCluster") else f"on the {self.scheduler} ({self.workers} workers)"
        timing = f"{self.elapsed:.2f} s"
        if self.startup:
            timing += f" (start-up on Dask {self.startup:.2f} s)"
        failed = f"{self.n_failed} failed" if self.n_failed else "none failed"
        seed = f"seed {self.seed}" + (f" spawn key {self.spawn_key}" if self.spawn_key else "")
        line = f"{self.label}: {self.n} replicates, {failed}, {where}, {timing}, {seed}"
        if self.from_checkpoint:
            line += f"; {self.from_checkpoint} read from the checkpoint"
        return line

    def __repr__(self) -> str:
        return f"<ReplicateRun {self.summary()}>"

    def _repr_html_(self) -> str:
        return f"<p><b>ReplicateRun</b> {html.escape(self.summary())}</p>"
