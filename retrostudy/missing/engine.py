"""The engine behind ``rs.sensitivity`` and ``rs.tipping_point``: check the options, prepare the data,
intercurrent events, imputation model, plan and analysis (:func:`_prepare`, :func:`_setup`), fit the
imputation model to every subject (:func:`_fitted`), run the replicates and pool them (:func:`_compute`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..exclusions import ExclusionLog
from ..trial import TrialData
from .analyse import Analysis, analyse, make_analysis
from .data import MIData, prepare_data
from .draws import (
    Failure,
    Payload,
    approx_bayes_task,
    bmlmi_task,
    bootstrap_task,
    jackknife_task,
    run,
)
from .ice import IceSpec, check_strategy, resolve_ice
from .impute import Plan, impute, make_plan
from .model import ImputationModel, build_model, fit_full
from .pool import (
    percentile_interval,
    pool_bmlmi,
    pool_bootstrap,
    pool_jackknife,
    pool_rubin,
)

METHODS = ("condmean-jackknife", "condmean-bootstrap", "approx-bayes", "bayes", "bmlmi")
_DEFAULT_SAMPLES = {"condmean-bootstrap": 1000, "approx-bayes": 100, "bayes": 100, "bmlmi": 100}
_DF_KIND = {"condmean-jackknife": "normal", "condmean-bootstrap": "normal", "approx-bayes": "Barnard-Rubin t",
            "bayes": "Barnard-Rubin t", "bmlmi": "von Hippel-Bartlett t"}


_COLUMN_KEYS = {"subject": "subject_id", "visit": "visit", "arm": "arm", "response": "value"}


def _columns(columns: Mapping[str, str] | None) -> dict[str, str]:
    """The data's column names (``columns=`` keys subject, visit, arm, response), with defaults."""
    given = dict(columns or {})
    unknown = sorted(set(given) - set(_COLUMN_KEYS))
    if unknown:
        raise SpecError(f"columns= has unknown key(s) {', '.join(map(repr, unknown))}; the keys are "
                        f"{', '.join(_COLUMN_KEYS)}.")
    out = {**_COLUMN_KEYS, **{k: v for k, v in given.items() if v is not None}}
    return {k: str(v) for k, v in out.items()}


def _check_method(method: str) -> str:
    text = str(method).strip().lower().replace("_", "-")
    text = {"condmean": "condmean-jackknife", "jackknife": "condmean-jackknife", "bootstrap": "condmean-bootstrap",
            "approxbayes": "approx-bayes", "approximate-bayes": "approx-bayes"}.get(text, text)
    if text not in METHODS:
        raise SpecError(f"method must be one of {', '.join(METHODS)}, not {method!r}.")
    return text


@dataclass(frozen=True, eq=False)
class _Setup:
    data: MIData
    ice: IceSpec
    model: ImputationModel
    fit: Any
    params: Any
    plan: Plan
    analysis: Analysis
    reference_arm: str
    references: dict[str, str]
    exclusions: ExclusionLog


def _setup(data, *, outcome, covariates, baseline, baseline_visit, subject, visit, arm, response, strategy, ice,
           reference_arm, references, covariance, same_cov, family) -> _Setup:
    mi = prepare_data(data, outcome=outcome, covariates=covariates, baseline=baseline, baseline_visit=baseline_visit,
                      subject=subject, visit=visit, arm=arm, response=response)
    if reference_arm is None:
        reference_arm = mi.arms[-1]
    if reference_arm not in mi.arms:
        raise SpecError(f"Reference arm {reference_arm!r} is not an arm of the data; arms: {', '.join(mi.arms)}.")
    refs = {a: reference_arm for a in mi.arms}
    for a, r in dict(references or {}).items():
        if str(a) not in mi.arms:
            raise SpecError(f"references names arm {a!r}, which is not an arm of the data; arms: {', '.join(mi.arms)}.")
        if str(r) not in mi.arms:
            raise SpecError(f"The reference arm {r!r} of arm {a!r} does not exist; arms: {', '.join(mi.arms)}.")
        refs[str(a)] = str(r)
    raw = data.data if isinstance(data, TrialData) else data
    ice_spec = resolve_ice(mi, ice, strategy, raw if isinstance(raw, pd.DataFrame) else None)
    model = build_model(mi, ice_spec, covariance=covariance, same_cov=same_cov)
    plan = make_plan(mi, ice_spec, np.array([mi.arms.index(refs[a]) for a in mi.arms]))
    analysis = make_analysis(mi, reference_arm, family)
    # values observed after a reference-based ICE: in the analysis, not in the imputation model
    left = mi.observed & ~model.fit_mask
    records = []
    for i, t in zip(*np.nonzero(left)):
        records.append({
            "stage": "sensitivity", "file": None, "row": None, "subject_id": str(mi.subjects[i]),
            "visit": mi.visits[t], "outcome": mi.outcome, "column": mi.response, "value": float(mi.Y[i, t]),
            "cells": 1, "reason": f"observed after the intercurrent event: not used to fit the "
                                  f"{str(ice_spec.strategy[i]).upper()} imputation model (kept in the analysis)",
        })
    exclusions = mi.exclusions.extend(ExclusionLog.from_records(records))
    return _Setup(mi, ice_spec, model, None, None, plan, analysis, reference_arm, refs, exclusions)


def _fitted(setup: _Setup) -> _Setup:
    """The setup with the imputation model fitted to every subject (after the cheap checks)."""
    from dataclasses import replace

    model, fit, params = fit_full(setup.model)
    return replace(setup, model=model, fit=fit, params=params)


@dataclass(frozen=True, eq=False)
class _Pooled:
    est: np.ndarray  # (K, C, V)
    se: np.ndarray
    df: np.ndarray
    replicates: list[tuple[int, np.ndarray, np.ndarray | None, float]]  # (replicate, est (K,C,V), se, df)
    failures: list[Failure]
    n_samples: int
    seed: Any
    extra: dict


def _compute(setup: _Setup, method: str, deltas: np.ndarray | None, *, n_samples, seed, workers, scheduler,
             max_errors, bayes_options: Mapping[str, Any], progress: bool | None = None, ci: str = "normal",
             conf_level: float = 0.95) -> _Pooled:
    payload = Payload(setup.model, setup.plan, setup.analysis, deltas,
                      tuple(np.flatnonzero(setup.data.arm_code == a) for a in range(len(setup.data.arms))))
    n = setup.data.n
    everyone = np.arange(n)
    extra_ci: dict = {}
    where: dict[str, Any] = {}
    if method.startswith("condmean"):
        Y = impute(setup.model, setup.plan, setup.params, everyone)
        full, _, _ = analyse(setup.analysis, Y, everyone, deltas)
        if method == "condmean-jackknife":
            reps, failures = run(jackknife_task, n, payload=payload, seed=None, max_errors=0, workers=workers,
                                 scheduler=scheduler, replace_failures=False, progress=progress,
                                 label="jackknife", where=where)
            arr = np.stack(reps)
            est, se, df = pool_jackknife(full, arr)
            root = None
        else:
            root = np.random.SeedSequence(seed)
            B = int(n_samples)
            reps, failures = run(bootstrap_task, B, payload=payload, seed=root, progress=progress,
                                 max_errors=_max_errors(max_errors, B), workers=workers, scheduler=scheduler,
                                 label="bootstrap", where=where)
            arr = np.stack(reps)
            est, se, df = pool_bootstrap(full, arr)
            if ci == "percentile":
                extra_ci = dict(zip(("conf_low", "conf_high", "p_value"), percentile_interval(arr, conf_level)))
        rows = [(0, full, None, math.inf)] + [(k + 1, r, None, math.inf) for k, r in enumerate(reps)]
        info: dict[str, Any] = {"percentile": extra_ci, "where": where} if ci == "percentile" else {"where": where}
        info["imputed"] = Y
        return _Pooled(est, se, df, rows, failures, len(reps), None if root is None else root.entropy, info)
    root = np.random.SeedSequence(seed)
    M = int(n_samples)
    if method == "bmlmi":
        from dataclasses import replace

        payload = replace(payload, n_imputations=int(bayes_options.get("n_imputations", 2)))
        reps, failures = run(bmlmi_task, M, payload=payload, seed=root, max_errors=_max_errors(max_errors, M),
                             workers=workers, scheduler=scheduler, progress=progress, label="bootstrapped ML MI",
                             where=where)
        arr = np.stack(reps)  # (B, D, K, C + A, V)
        est, se, df = pool_bmlmi(arr)
        rows = [(k + 1, r.mean(axis=0), None, float("nan")) for k, r in enumerate(reps)]
        return _Pooled(est, se, df, rows, failures, M, root.entropy,
                       {"n_imputations": payload.n_imputations, "where": where})
    if method == "approx-bayes":
        reps, failures = run(approx_bayes_task, M, payload=payload, seed=root, max_errors=_max_errors(max_errors, M),
                             workers=workers, scheduler=scheduler, progress=progress, label="approximate Bayes",
                             where=where)
        extra: dict = {}
    else:
        from .gibbs import bayes_imputations

        reps, extra = bayes_imputations(payload, setup, M, root,
                                        **{k: bayes_options[k] for k in ("prior", "burn_in", "thin")})
        failures = []
        if workers or scheduler is not None:
            extra["notes"] = [*extra.get("notes", []), ("The Gibbs chain is sequential and ran in this process "
                              "(workers= and scheduler= apply to the bootstrap-based methods).")]
    ests = np.stack([r[0] for r in reps])
    ses = np.stack([r[1] for r in reps])
    v_com = float(reps[0][2])
    est, se, df = pool_rubin(ests, ses, v_com)
    rows = [(k + 1, r[0], r[1], float(r[2])) for k, r in enumerate(reps)]
    if where:
        extra = {**extra, "where": where}
    return _Pooled(est, se, df, rows, failures, M, root.entropy, extra)


def _max_errors(max_errors: int | None, n: int) -> int:
    if max_errors is None:
        return math.ceil(0.01 * n)  # rbmi's default threshold: 1 % of the samples
    if int(max_errors) < 0:
        raise SpecError(f"max_errors must be 0 or more, not {max_errors!r}.")
    return int(max_errors)


def _prepare(data, outcome, strategy, method, covariates, baseline, reference_arm, references, ice, n_samples,
             covariance, same_cov, family, conf_level, columns, baseline_visit):
    method = _check_method(method)
    cols = _columns(columns)
    strategy = check_strategy(strategy)
    if not 0.0 < float(conf_level) < 1.0:
        raise SpecError(f"conf_level must be between 0 and 1, not {conf_level!r}.")
    if method == "condmean-jackknife":
        if n_samples is not None:
            raise SpecError("The jackknife uses one replicate per subject; leave n_samples=None.")
    else:
        n_samples = _DEFAULT_SAMPLES[method] if n_samples is None else n_samples
        if int(n_samples) < 2 or int(n_samples) != n_samples:
            raise SpecError(f"n_samples must be a whole number of at least 2, not {n_samples!r}.")
    if isinstance(covariates, str):
        covariates = [covariates]
    setup = _setup(data, outcome=outcome, covariates=covariates, baseline=baseline, baseline_visit=baseline_visit,
                   **cols, strategy=strategy, ice=ice,
                   reference_arm=reference_arm, references=references, covariance=covariance, same_cov=same_cov,
                   family=family)
    return method, strategy, n_samples, setup
