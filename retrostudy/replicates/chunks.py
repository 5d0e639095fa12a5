"""What runs where the replicates run: one chunk of replicates, their seeds and BLAS pinning.

This module is imported by Dask workers, so it stays light: numpy and the standard
library only (threadpoolctl when it is installed).
"""
from __future__ import annotations

import contextlib
import copy
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Chunk", "RootSeed", "failure_record", "forget", "pin_process_blas", "run_chunk",
           "run_chunk_on_worker", "single_blas_thread"]


@dataclass(frozen=True)
class RootSeed:
    """The root of a run's seeds: what ``numpy.random.SeedSequence`` needs to rebuild any child.

    Replicate ``i`` gets ``SeedSequence(entropy, spawn_key=spawn_key + (i,), pool_size=pool_size)``,
    which is exactly ``SeedSequence(entropy, spawn_key=spawn_key, pool_size=pool_size).spawn(n)[i]``
    (numpy's ``spawn`` builds its children that way), so a worker needs only these three values
    and its indices, never the whole list.
    """

    entropy: int | tuple[int, ...]
    spawn_key: tuple[int, ...] = ()
    pool_size: int = 4

    def child(self, index: int) -> np.random.SeedSequence:
        """The SeedSequence of replicate ``index``."""
        return np.random.SeedSequence(self.entropy, spawn_key=(*self.spawn_key, index),
                                      pool_size=self.pool_size)

    def to_json(self) -> dict:
        entropy = list(self.entropy) if isinstance(self.entropy, tuple) else self.entropy
        return {"entropy": entropy, "spawn_key": list(self.spawn_key), "pool_size": self.pool_size}

    @classmethod
    def from_json(cls, data: dict) -> RootSeed:
        entropy = data["entropy"]
        entropy = tuple(int(e) for e in entropy) if isinstance(entropy, list) else int(entropy)
        return cls(entropy, tuple(int(k) for k in data["spawn_key"]), int(data["pool_size"]))


@dataclass(frozen=True)
class Chunk:
    """The outcome of replicates ``start`` to ``stop - 1``: their results and failures.

    ``lost`` is True when the chunk itself did not run (a worker died, the task could not
    be unpickled on the worker); its replicates are all failures and it is not checkpointed,
    so a resumed run tries them again.
    """

    start: int
    stop: int
    results: list
    failures: list[dict]
    lost: bool = False


_CONTROLLER: Any = None
_CONTROLLER_MODULES = -1


def _blas_controller() -> Any:
    """A cached ``threadpoolctl.ThreadpoolController`` (None without threadpoolctl).

    Finding the loaded BLAS/OpenMP libraries costs ~1-3 ms, limiting them through a controller
    ~10 us; the controller is rebuilt when modules were imported since (a first ``import scipy``
    inside a task loads scipy's own OpenBLAS).
    """
    global _CONTROLLER, _CONTROLLER_MODULES
    if _CONTROLLER is None or len(sys.modules) != _CONTROLLER_MODULES:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - threadpoolctl is a dependency
            return None
        _CONTROLLER, _CONTROLLER_MODULES = ThreadpoolController(), len(sys.modules)
    return _CONTROLLER


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS/OpenMP thread pools to one thread inside the block, restoring them after.

    For the serial path (one calling thread). Uses threadpoolctl when installed: it can change
    the pools of libraries already loaded, as numpy's OpenBLAS is; without it this is a no-op.
    """
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - threadpoolctl is a dependency
        yield
        return
    with controller.limit(limits=1):
        yield


_PROCESS_PINNED = False


def pin_process_blas() -> None:
    """On a Dask worker: set this process's BLAS/OpenMP pools to one thread, for good, once.

    Not restored per chunk: with several task threads in one worker process (a user's
    multi-threaded workers, an in-process cluster) saving and restoring the process-wide
    setting around each chunk would race. LocalCluster workers also start with
    ``OMP/OPENBLAS/MKL_NUM_THREADS=1`` (see ``cluster.WORKER_ENV``).
    """
    global _PROCESS_PINNED
    if _PROCESS_PINNED:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        _PROCESS_PINNED = True
        return
    threadpool_limits(limits=1)
    _PROCESS_PINNED = True


def failure_record(root: RootSeed, index: int, exc: BaseException, *, chunk_lost: bool = False) -> dict:
    """One failed replicate as a JSON-safe record (its index, its seed and what went wrong)."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-8))
    message = str(exc).strip() or type(exc).__name__
    if chunk_lost:
        message = f"its chunk did not run: {message}"
    return {
        "index": int(index),
        "seed_entropy": list(root.entropy) if isinstance(root.entropy, tuple) else root.entropy,
        "seed_spawn_key": [*root.spawn_key, int(index)],
        "error": type(exc).__name__,
        "message": message,
        "traceback": tb,
    }


def run_chunk(task: Callable[[Any, int, np.random.SeedSequence], Any], payload: Any, root: RootSeed,
              start: int, stop: int) -> Chunk:
    """Run replicates ``start .. stop - 1`` in index order (the caller pins BLAS threads).

    An ``Exception`` raised by a replicate is recorded with its seed and the chunk goes on;
    ``KeyboardInterrupt`` and other ``BaseException``s stop it.
    """
    results: list = []
    failures: list[dict] = []
    for index in range(start, stop):
        try:
            results.append(task(payload, index, root.child(index)))
        except Exception as exc:  # noqa: BLE001 - every replicate failure is recorded, none is lost
            results.append(None)
            failures.append(failure_record(root, index, exc))
    return Chunk(start, stop, results, failures)


# -- on a Dask worker --------------------------------------------------------------------------------
#
# Dask's zero-copy transport can hand a worker (or the client) a numpy array at an address that is not
# a multiple of its item size (seen here: 57 mod 64), and numpy sums an unaligned array in another
# order, so the last bit of a result would depend on where it ran. A deep copy allocates every array
# afresh, aligned: the payload is deep-copied once per worker process and run, each chunk's results
# once on the client (they are small).

_PAYLOADS: dict[str, tuple[Any, Any]] = {}
_PAYLOAD_LOCK = threading.Lock()


def run_chunk_on_worker(token: str, task: Callable, payload: Any, root: RootSeed, start: int, stop: int) -> Chunk:
    """Run one chunk on a Dask worker: BLAS pinned for good, the payload realigned once per run."""
    pin_process_blas()
    with _PAYLOAD_LOCK:
        found = _PAYLOADS.get(token)
        if found is None:
            found = _PAYLOADS[token] = (task, copy.deepcopy(payload))
    return run_chunk(found[0], found[1], root, start, stop)


def forget(token: str) -> None:
    """Drop a finished run's payload copy from this worker."""
    with _PAYLOAD_LOCK:
        _PAYLOADS.pop(token, None)
