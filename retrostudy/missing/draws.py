"""Replicates of the imputation: jackknife, bootstrap and approximate-Bayesian draws as tasks.

Each replicate is a pure top-level function ``task(payload, index, seed)`` of the
shared :class:`Payload` (the imputation model, the imputation plan, the analysis and
the deltas), the replicate's index and its ``numpy.random.SeedSequence``: it fits the
imputation model on its subjects (:func:`~retrostudy.missing.model.fit_params`),
imputes, analyses and returns the contrast estimates (and SEs, df for Rubin's rules)
for every delta. The same seed gives the same result wherever it runs.

* jackknife (index i): every subject but the i-th, conditional mean imputation;
* bootstrap: subjects resampled with replacement within arm (rbmi stratifies by arm),
  conditional mean imputation of the resampled subjects;
* approx-bayes: the model fitted on a bootstrap sample, then the ORIGINAL data imputed
  by a draw from the conditional distribution (rbmi ``method_approxbayes``).

:func:`run` executes tasks serially, or through ``retrostudy.replicates.run_replicates``
(Dask) once that runner is available; a replicate whose model cannot be fitted is
recorded with its index and seed, never dropped silently.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ModelError, RetrostudyError, SpecError
from .analyse import Analysis, analyse
from .impute import Plan, impute
from .model import ImputationModel, fit_params

__all__ = ["Failure", "Payload", "approx_bayes_task", "bmlmi_task", "bootstrap_task", "jackknife_task", "run", "seed_of"]


@dataclass(frozen=True, eq=False)
class Payload:
    """What every replicate shares."""

    model: ImputationModel
    plan: Plan
    analysis: Analysis
    deltas: np.ndarray | None  # (K, n, T)
    strata: tuple[np.ndarray, ...]  # subject positions per arm
    n_imputations: int = 2  # D of the bootstrapped ML MI

    @property
    def n(self) -> int:
        return self.model.n


@dataclass(frozen=True)
class Failure:
    """A replicate that could not be computed: its index, seed and the reason."""

    index: int
    seed: str
    message: str


def seed_of(root: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The ``index``-th child of ``root``, as ``root.spawn(index + 1)[index]`` gives it."""
    return np.random.SeedSequence(entropy=root.entropy, spawn_key=tuple(root.spawn_key) + (int(index),),
                                  pool_size=root.pool_size)


def _bootstrap_sample(rng: np.random.Generator, strata: tuple[np.ndarray, ...]) -> np.ndarray:
    return np.concatenate([s[rng.integers(0, len(s), size=len(s))] for s in strata])


def _condmean(payload: Payload, sample: np.ndarray) -> np.ndarray:
    params = fit_params(payload.model, sample)
    Y = impute(payload.model, payload.plan, params, sample)
    est, _, _ = analyse(payload.analysis, Y, sample, payload.deltas)
    return est


def jackknife_task(payload: Payload, index: int, seed: np.random.SeedSequence | None = None) -> np.ndarray:
    """Leave subject ``index`` out: (K, C, V) estimates."""
    sample = np.delete(np.arange(payload.n), index)
    try:
        return _condmean(payload, sample)
    except ModelError as err:
        subject = payload.model.data.subjects[index]
        raise ModelError(f"Without subject {subject} (jackknife) {str(err)[0].lower()}{str(err)[1:]}") from None


def bootstrap_task(payload: Payload, index: int, seed: np.random.SeedSequence) -> np.ndarray:
    """A stratified bootstrap sample with conditional mean imputation: (K, C, V) estimates."""
    sample = _bootstrap_sample(np.random.default_rng(seed), payload.strata)
    return _condmean(payload, sample)


def approx_bayes_task(payload: Payload, index: int, seed: np.random.SeedSequence) -> tuple:
    """Model fitted on a bootstrap sample, original data imputed by a random draw: (est, se, df)."""
    rng = np.random.default_rng(seed)
    sample = _bootstrap_sample(rng, payload.strata)
    params = fit_params(payload.model, sample)
    everyone = np.arange(payload.n)
    Y = impute(payload.model, payload.plan, params, everyone, rng=rng)
    return analyse(payload.analysis, Y, everyone, payload.deltas)


@dataclass(frozen=True, eq=False)
class _Job:
    """What :func:`_guarded` needs: the task, its payload, the root seed and the first index."""

    task: Callable[..., Any]
    payload: Payload
    root: np.random.SeedSequence | None
    offset: int


def _guarded(job: _Job, index: int, _seed: np.random.SeedSequence | None = None) -> Any:
    """Replicate ``job.offset + index`` with its own seed (child ``offset + index`` of the root, so
    replacement replicates continue the same sequence); a model that cannot be fitted gives a
    :class:`Failure` (counted, with its seed) instead of an exception. Other exceptions are bugs
    and propagate."""
    i = job.offset + int(index)
    ss = seed_of(job.root, i) if job.root is not None else None
    try:
        return job.task(job.payload, i, ss)
    except (RetrostudyError, np.linalg.LinAlgError) as err:
        label = f"{job.root.entropy}/{i}" if job.root is not None else str(i)
        return Failure(i, label, str(err).strip() or type(err).__name__)


def bmlmi_task(payload: Payload, index: int, seed: np.random.SeedSequence) -> np.ndarray:
    """A bootstrap sample's model, then ``payload.n_imputations`` random imputations of that sample
    (rbmi ``method_bmlmi``): (D, K, C, V) estimates."""
    rng = np.random.default_rng(seed)
    sample = _bootstrap_sample(rng, payload.strata)
    params = fit_params(payload.model, sample)
    out = []
    for _ in range(payload.n_imputations):
        Y = impute(payload.model, payload.plan, params, sample, rng=rng)
        out.append(analyse(payload.analysis, Y, sample, payload.deltas)[0])
    return np.stack(out)


def run(task: Callable[..., Any], n: int, *, payload: Payload, seed: np.random.SeedSequence | None,
        max_errors: int = 0, workers: int | None = None, scheduler: Any = None, progress: bool | None = None,
        replace_failures: bool = True, label: str = "replicates",
        where: dict[str, Any] | None = None) -> tuple[list[Any], list[Failure]]:
    """Run ``n`` replicates; failed ones are recorded and, when ``replace_failures``,
    replaced by the next indices' replicates (in index order) up to ``max_errors``.

    Returns the results in index order and the failures; ``where`` (a dict), when given,
    receives where the replicates ran (``runner``), the seconds spent starting a cluster
    (``startup``) and in all (``elapsed``).

    Raises
    ------
    ModelError
        More than ``max_errors`` replicates failed (the sentence names the first one).
    """
    results: list[Any] = []
    failures: list[Failure] = []
    offset = 0
    todo = n
    info = where if where is not None else {}
    info.update(runner="serial", startup=0.0, elapsed=0.0)
    while todo > 0:
        outs, ran = _execute(_Job(task, payload, seed, offset), todo, workers, scheduler, progress, label)
        info["runner"] = ran.get("runner", info["runner"])
        info["startup"] += ran.get("startup", 0.0)
        info["elapsed"] += ran.get("elapsed", 0.0)
        for out in outs:
            if isinstance(out, Failure):
                failures.append(out)
            else:
                results.append(out)
        offset += todo
        if len(failures) > max_errors:
            first = failures[0]
            raise ModelError(
                f"{len(failures)} replicate(s) could not be fitted, more than the {max_errors} allowed; the first, "
                f"replicate {first.index} (seed {first.seed}), failed with: {first.message}"
            )
        todo = (n - len(results)) if replace_failures else 0
    return results, failures


def _execute(job: _Job, n: int, workers, scheduler, progress, label) -> tuple[list[Any], dict[str, Any]]:
    """Run ``n`` guarded replicates: through ``retrostudy.replicates.run_replicates`` (serial, or
    Dask with ``workers`` / ``scheduler``) when the package has it, else serially here."""
    import time

    try:
        from ..replicates import run_replicates
    except ImportError:
        if workers or scheduler is not None:
            raise SpecError("Parallel replicates need retrostudy.replicates, which this installation lacks; "
                            "leave workers= and scheduler= unset.") from None
        t0 = time.perf_counter()
        out = [_guarded(job, i) for i in range(n)]
        return out, {"runner": "serial", "startup": 0.0, "elapsed": time.perf_counter() - t0}
    res = run_replicates(_guarded, n, payload=job, seed=0, workers=workers, scheduler=scheduler,
                         progress=progress, max_errors=0, label=label)
    return list(res.results), {"runner": res.scheduler, "startup": float(res.startup), "elapsed": float(res.elapsed)}
