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

from ..errors import ModelError, RetrostudyError
from .analyse import Analysis, analyse
from .impute import Plan, impute
from .model import ImputationModel, fit_params

__all__ = ["Failure", "Payload", "approx_bayes_task", "bootstrap_task", "jackknife_task", "run", "seed_of"]


@dataclass(frozen=True, eq=False)
class Payload:
    """What every replicate shares."""

    model: ImputationModel
    plan: Plan
    analysis: Analysis
    deltas: np.ndarray | None  # (K, n, T)
    strata: tuple[np.ndarray, ...]  # subject positions per arm

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
    return _condmean(payload, sample)


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


def run(task: Callable[..., Any], n: int, *, payload: Payload, seed: np.random.SeedSequence | None,
        max_errors: int = 0, workers: int | None = None, scheduler: str | None = None,
        replace_failures: bool = True) -> tuple[list[Any], list[Failure]]:
    """Run ``n`` replicates; failed ones are recorded and, when ``replace_failures``,
    replaced by the next indices' replicates (in index order) up to ``max_errors``.

    Returns the results in index order and the failures.

    Raises
    ------
    ModelError
        More than ``max_errors`` replicates failed (the sentence names the first one).
    """
    results: list[Any] = []
    failures: list[Failure] = []
    index = 0
    target = n
    while len(results) < n:
        batch = list(range(index, index + (target - index)))
        for i, out in zip(batch, _execute(task, batch, payload, seed, workers, scheduler)):
            if isinstance(out, Failure):
                failures.append(out)
            else:
                results.append(out)
        index = batch[-1] + 1 if batch else index
        if len(failures) > max_errors:
            first = failures[0]
            raise ModelError(
                f"{len(failures)} replicate(s) could not be fitted, more than the {max_errors} allowed; the first, "
                f"replicate {first.index} (seed {first.seed}), failed with: {first.message}"
            )
        if not replace_failures:
            break
        target = index + (n - len(results))
    return results, failures


def _execute(task, indices, payload, seed, workers, scheduler) -> list[Any]:
    """Serial execution (the Dask runner is used once ``retrostudy.replicates`` lands)."""
    out = []
    for i in indices:
        ss = seed_of(seed, i) if seed is not None else None
        try:
            out.append(task(payload, i, ss))
        except (RetrostudyError, np.linalg.LinAlgError) as err:
            label = f"{seed.entropy}/{i}" if seed is not None else str(i)
            out.append(Failure(i, label, str(err)))
    return out
