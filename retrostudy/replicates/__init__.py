"""Replicates as tasks: the one runner for jackknife, bootstrap, imputation and simulation replicates.

:func:`run_replicates` runs ``task(payload, index, seed_sequence)`` for ``n`` indices with seeds
from ``numpy.random.SeedSequence(seed).spawn(n)``, serially in this process (the default, no
Dask imported) or on Dask (a LocalCluster it starts, or a user's scheduler), with the same
result bit for bit. Failures are counted with their seeds, finished chunks can be checkpointed
and resumed, and long runs show a progress bar (DESIGN.md section 11, "Replicates are tasks").

Modules: ``runner`` (the function), ``chunks`` (what runs on a worker: seeds, BLAS pinning,
failure records), ``cluster`` (the Dask side), ``checkpoint`` (manifest and JSON chunk files),
``progress`` (the bar), ``result`` (:class:`ReplicateRun`).
"""
from __future__ import annotations

from ..errors import ReplicateError
from .result import FAILURE_COLUMNS, ReplicateRun
from .runner import default_chunk_size, run_replicates

__all__ = ["FAILURE_COLUMNS", "ReplicateError", "ReplicateRun", "default_chunk_size", "run_replicates"]
