"""The Dask side of a replicate run: get a client, send the task and payload once, run the chunks.

Imported only when a run asks for workers or a scheduler, so the serial path never imports Dask.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from ..errors import SpecError
from .chunks import Chunk, RootSeed, failure_record, forget, run_chunk_on_worker

__all__ = ["DaskTarget", "Sent", "dask_target", "run_chunks_on_dask", "sent_to_workers"]

#: Environment of LocalCluster workers: one BLAS/OpenMP thread each, set before the worker starts
#: (the chunk runner also pins with threadpoolctl, which covers a user's own workers too).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}


#: Dask settings of the LocalClusters the runner starts (a user's own cluster keeps its settings). A task
#: thread shares the GIL with its worker's event loop, so the loop's periodic work slows the replicates:
#: these clusters have no dashboard to show the statistical profiler's samples (taken every 10 ms) or
#: the system monitor's disk and file counters (every 0.5 s), and memory is checked every second
#: instead of every 0.1 s. Measured on the bundled power simulation: ~4 % faster per worker.
QUIET_WORKERS = {"distributed.worker.profile.enabled": False, "distributed.admin.system-monitor.interval": "2s",
                 "distributed.admin.system-monitor.disk": False, "distributed.worker.memory.monitor-interval": "1s",
                 "distributed.admin.tick.interval": "1s"}


@dataclass(frozen=True)
class DaskTarget:
    """A connected client and what to say about it."""

    client: Any
    description: str
    n_workers: int
    startup: float


def _warm_up() -> str:
    """Run on each worker before the first chunk: import the chunk runner, pin BLAS (part of start-up)."""
    import importlib

    chunks = importlib.import_module("retrostudy.replicates.chunks")
    chunks.pin_process_blas()
    return "ok"


def _prepare_workers(client: Any, where: str) -> None:
    try:
        client.run(_warm_up)
    except (ImportError, AttributeError) as exc:  # retrostudy missing or older on the workers
        raise SpecError(f"The Dask workers of {where} cannot import retrostudy's replicate runner "
                        f"({type(exc).__name__}: {exc}); install the same retrostudy version on them.") from None


def _is_client(obj: Any) -> bool:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask[distributed] is a dependency
        return False
    return isinstance(obj, Client)


@contextlib.contextmanager
def dask_target(*, workers: int | None, scheduler: Any, connect_timeout: float) -> Iterator[DaskTarget]:
    """A Dask client for the run, closed on exit unless the caller passed it in.

    ``workers=N`` starts a LocalCluster of N single-threaded worker processes (and closes it);
    ``scheduler`` is an address (``tcp://host:port``) or a ``distributed.Client``.
    """
    start = time.perf_counter()  # start-up includes importing distributed (~0.5 s)
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask[distributed] is a dependency
        raise SpecError("Running replicates on workers needs dask.distributed; install it with "
                        "`pip install 'dask[distributed]'` or run without workers= and scheduler=.") from None
    if scheduler is not None and _is_client(scheduler):
        n = len(scheduler.scheduler_info().get("workers", {}))
        _prepare_workers(scheduler, "the client's cluster")
        yield DaskTarget(scheduler, f"Dask client {scheduler.scheduler.address}", n, 0.0)
        return
    if scheduler is not None:
        address = str(scheduler)
        try:
            client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SpecError(f"No Dask scheduler answered at {address!r} within {connect_timeout:g} s "
                            f"({reason}); check the address, or start one with `dask scheduler` and "
                            "`dask worker ADDRESS`.") from None
        try:
            try:
                client.wait_for_workers(1, timeout=connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise SpecError(f"The Dask scheduler at {address!r} has no workers after {connect_timeout:g} "
                                f"s ({type(exc).__name__}); start some with `dask worker {address}`.") from None
            n = len(client.scheduler_info().get("workers", {}))
            _prepare_workers(client, f"the scheduler at {address!r}")
            yield DaskTarget(client, f"Dask scheduler {address}", n, time.perf_counter() - start)
        finally:
            client.close()
        return
    if not workers:
        raise SpecError("Pass workers= (a number of at least 1) or scheduler= to run on Dask.")
    # no dashboard; the scheduler's small HTTP server (health checks) on a free port, so a second
    # cluster does not warn that port 8787 is taken
    import dask

    with dask.config.set(QUIET_WORKERS):  # the nannies hand this configuration to their workers
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}, silence_logs=logging.ERROR,
                               env=dict(WORKER_ENV))
    try:
        client = Client(cluster, set_as_default=False)
        try:
            client.wait_for_workers(workers, timeout=max(connect_timeout, 60.0))
            _prepare_workers(client, "the LocalCluster")
            yield DaskTarget(client, f"LocalCluster of {workers} worker{'s' if workers != 1 else ''}",
                             workers, time.perf_counter() - start)
        finally:
            client.close()
    finally:
        cluster.close()


def _scatter(client: Any, task: Callable, payload: Any) -> tuple[Any, Any]:
    """Send the task and the payload to every worker once; a sentence says which cannot be sent."""
    try:
        task_ref, payload_ref = client.scatter([task, payload], broadcast=True, hash=False)
    except Exception as exc:
        _cannot_send(task, payload, exc)
    return task_ref, payload_ref


def _cannot_send(task: Callable, payload: Any, exc: Exception) -> NoReturn:
    import cloudpickle  # what Dask serializes functions and objects with

    for what, obj, fix in (
            ("task function", task,
             "define it at the top level of a module the workers can import, not inside another function"),
            ("payload", payload, "pass data, numbers and fitted models, not open files, locks or connections")):
        try:
            cloudpickle.dumps(obj)
        except Exception as inner:
            raise SpecError(f"The {what} cannot be sent to Dask workers ({type(inner).__name__}: "
                            f"{inner}); {fix}.") from None
    raise SpecError(f"The task and payload could not be sent to the Dask workers ({type(exc).__name__}: "
                    f"{exc}).") from None


@dataclass(frozen=True)
class Sent:
    """The task and payload as sent to every worker, and how long sending took."""

    task: Any
    payload: Any
    token: str
    seconds: float


@contextlib.contextmanager
def sent_to_workers(client: Any, task: Callable, payload: Any) -> Iterator[Sent]:
    """Broadcast the task and the payload to every worker once; forget them there on exit.

    Sending includes unpickling on the workers, which imports what the payload needs (retrostudy's
    models: ~0.1-0.5 s on a fresh worker); the runner counts it as start-up, as it does not grow
    with the number of replicates.
    """
    start = time.perf_counter()
    token = uuid.uuid4().hex
    task_ref, payload_ref = _scatter(client, task, payload)
    try:
        yield Sent(task_ref, payload_ref, token, time.perf_counter() - start)
    finally:
        client.cancel([task_ref, payload_ref])
        with contextlib.suppress(Exception):
            client.run(forget, token)


def run_chunks_on_dask(client: Any, sent: Sent, root: RootSeed, chunks: Sequence[tuple[int, int, int]],
                       absorb: Callable[[int, Chunk], None], *, label: str = "replicates") -> None:
    """Submit every chunk ``(k, start, stop)``, give each finished one to ``absorb(k, chunk)``.

    The task and payload were broadcast to every worker once (:func:`sent_to_workers`) and are
    copied there once per run (see ``chunks.run_chunk_on_worker``). Chunks arrive in the order
    they finish; ``absorb`` may raise to stop the run, and the chunks still pending are then
    cancelled. A chunk that did not run (a worker died, the task could not be loaded there)
    comes back as a lost chunk whose replicates are failures.
    """
    from distributed import as_completed

    if not chunks:
        return
    futures = {client.submit(run_chunk_on_worker, sent.token, sent.task, sent.payload, root, start, stop,
                             pure=False, key=f"{label}-chunk-{k}-{sent.token}"): (k, start, stop)
               for k, start, stop in chunks}
    remaining = set(futures)
    try:
        # results are gathered on Dask's event loop as chunks finish (not one blocking call each)
        for future, outcome in as_completed(futures, loop=client.loop, with_results=True, raise_errors=False):
            remaining.discard(future)
            k, start, stop = futures[future]
            if future.status == "finished":
                chunk = copy.deepcopy(outcome)  # fresh, aligned arrays (see chunks.py)
            else:  # the chunk did not run: its replicates are failures, never dropped
                exc = outcome[1] if isinstance(outcome, tuple) else outcome
                if not isinstance(exc, Exception):  # KeyboardInterrupt and the like stop the run, as serially
                    raise exc
                chunk = Chunk(start, stop, [None] * (stop - start),
                              [failure_record(root, i, exc, chunk_lost=True) for i in range(start, stop)],
                              lost=True)
            future.release()
            absorb(k, chunk)
    finally:
        if remaining:
            client.cancel(list(remaining))
