"""``rs.sensitivity`` and ``rs.tipping_point``: reference-based multiple imputation, as rbmi does it.

The steps (rbmi's draws -> impute -> analyse -> pool):

1. **data** (:mod:`.data`): one row per subject, NaN where a value is missing; the
   baseline handled as ``baseline=`` says; subjects left out are logged.
2. **intercurrent events** (:mod:`.ice`): derived from monotone dropout, or given.
3. **imputation model** (:mod:`.model`): an MMRM (``rs.fit_mmrm``, REML, ``us`` by
   default) of the values that follow MAR on ``arm * visit`` + covariates by visit
   (+ baseline by visit), fitted to the full data and to every replicate's subjects.
4. **impute** (:mod:`.impute`, :mod:`.strategies`): each subject's missing values from
   the strategy's distribution given their observed values: the conditional mean
   (``condmean-*``) or a draw (``approx-bayes``, ``bayes``).
5. **analyse** (:mod:`.analyse`): an ANCOVA at every post-baseline visit, with the
   deltas of :mod:`.delta` added to imputed values after the ICE.
6. **pool** (:mod:`.pool`): jackknife or bootstrap SE with normal intervals, or Rubin's
   rules with Barnard-Rubin df.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..exclusions import ExclusionLog
from ..trial import TrialData
from .analyse import Analysis, analyse, make_analysis
from .data import MIData, prepare_data
from .delta import delta_matrix, grid_deltas
from .draws import (
    Failure,
    Payload,
    approx_bayes_task,
    bmlmi_task,
    bootstrap_task,
    jackknife_task,
    run,
)
from .estimand import _E9_OF_IMPUTATION, Estimand, IntercurrentEvent
from .ice import IceSpec, check_strategy, resolve_ice
from .impute import Plan, impute, make_plan
from .model import ImputationModel, build_model, fit_full
from .pool import (
    inference,
    percentile_interval,
    pool_bmlmi,
    pool_bootstrap,
    pool_jackknife,
    pool_rubin,
)
from .results import (
    RESULT_COLUMNS,
    SensitivityResult,
    TippingPointResult,
    tipping_points,
)

__all__ = ["METHODS", "sensitivity", "tipping_point"]

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
           reference_arm, references, covariance, same_cov, contrasts) -> _Setup:
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
    analysis = make_analysis(mi, reference_arm, contrasts)
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
        return _Pooled(est, se, df, rows, failures, len(reps), None if root is None else root.entropy,
                       {"percentile": extra_ci, "where": where} if ci == "percentile" else {"where": where})
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


def _table(setup: _Setup, est: np.ndarray, se: np.ndarray, df: np.ndarray, conf_level: float,
           lsmeans: bool = False, override: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Visit-major table of one delta from (C + A, V) arrays: the contrasts, or the arms' LS means.
    ``override``: (C + A, V) arrays replacing the normal/t CI and p-value (percentile bootstrap)."""
    an, data = setup.analysis, setup.data
    C = len(an.contrasts)
    rows = slice(C, None) if lsmeans else slice(0, C)
    names = an.arms if lsmeans else an.contrasts
    est, se, df = est[rows], se[rows], np.broadcast_to(df, est.shape)[rows]
    R, V = est.shape
    inf = inference(est.T.reshape(-1), se.T.reshape(-1), df.T.reshape(-1), conf_level)
    for key, arr in (override or {}).items():
        inf[key] = np.asarray(arr)[rows].T.reshape(-1)
    frame = pd.DataFrame({
        "arm" if lsmeans else "contrast": [names[c] for _ in range(V) for c in range(R)],
        "visit": [data.visits[an.visits[v]] for v in range(V) for _ in range(R)],
        **{k: inf[k] for k in ("estimate", "std_error", "df", "conf_low", "conf_high", "p_value")},
    })
    return frame if lsmeans else frame.loc[:, list(RESULT_COLUMNS)]


def _replicate_frame(setup: _Setup, rows, k: int = 0) -> pd.DataFrame:
    an, data = setup.analysis, setup.data
    terms = [("contrast", c) for c in an.contrasts] + [("lsmean", a) for a in an.arms]
    V = len(an.visits)
    recs = []
    for rep, est, se, df in rows:
        for v in range(V):
            for c, (kind, term) in enumerate(terms):
                recs.append((rep, kind, term, data.visits[an.visits[v]], float(est[k, c, v]),
                             float(se[k, c, v]) if se is not None else float("nan"), df))
    return pd.DataFrame.from_records(
        recs, columns=["replicate", "quantity", "term", "visit", "estimate", "std_error", "df"])


def _failure_frame(failures: list[Failure]) -> pd.DataFrame:
    return pd.DataFrame({"replicate": [f.index for f in failures], "seed": [f.seed for f in failures],
                         "message": [f.message for f in failures]})


def _label(outcome: str) -> str:
    from ..schema import OUTCOMES

    return OUTCOMES[outcome].label if outcome in OUTCOMES else outcome


def _estimand(setup: _Setup, strategy: str, ice_arg) -> Estimand:
    data = setup.data
    source = {"derived": "dropout (the first visit of a run of missing values that lasts to the last visit)",
              "column": "intercurrent events as recorded in the data", "table": "intercurrent events as tabulated"}
    return Estimand(
        population=f"the {data.n} subjects of the data with an arm" + (
            " and a baseline value" if data.baseline == "covariate_by_visit" else ""),
        variable=f"{_label(data.outcome)} at {data.visits[-1]}", outcome=data.outcome, visit=data.visits[-1],
        treatments=data.arms,
        intercurrent_events=(IntercurrentEvent(event=source[setup.ice.source], strategy=_E9_OF_IMPUTATION[strategy],
                                               imputation=strategy),),
        contrasts=setup.analysis.contrasts,
    )


def _settings(setup: _Setup, method: str, strategy: str, pooled: _Pooled, conf_level: float, covariance: str,
              same_cov: bool, contrasts: str, extra_notes: Sequence[str] = ()) -> dict[str, Any]:
    data = setup.data
    n_ice = int(np.sum(setup.ice.index < data.T))
    df_kind = _DF_KIND[method]
    notes = []
    if method.startswith("condmean"):
        what = "jackknife" if method.endswith("jackknife") else "bootstrap"
        notes.append(f"Conditional mean imputation; SEs from the {what} "
                     f"({pooled.n_samples} {'leave-one-subject-out fits' if what == 'jackknife' else 'samples'}), "
                     "normal-based confidence intervals and p-values (df = inf).")
    elif method == "bmlmi":
        D = pooled.extra.get("n_imputations", 2)
        notes.append(f"Bootstrapped ML multiple imputation: {pooled.n_samples} bootstrap samples x {D} imputations, "
                     "pooled by von Hippel & Bartlett's (2021) random-effects ANOVA; t intervals with their df.")
    else:
        notes.append(f"{pooled.n_samples} imputations pooled by Rubin's rules; t intervals with Barnard-Rubin df.")
    if pooled.failures:
        notes.append(f"{len(pooled.failures)} replicate(s) could not be fitted and were replaced; see .failures.")
    n_left = int(np.sum(data.observed & ~setup.model.fit_mask))
    if n_left:
        notes.append(f"{n_left} value(s) observed after a reference-based ICE are kept in the analysis but not used "
                     "to fit the imputation model.")
    notes.extend(extra_notes)
    refs = {a: r for a, r in setup.references.items() if a != r}
    where = pooled.extra.get("where") or {}
    return {
        "outcome": data.outcome, "method": method, "strategy": strategy, "references": refs,
        "reference_arm": setup.reference_arm, "df": df_kind, "conf_level": float(conf_level),
        "n_samples": pooled.n_samples, "n_failed": len(pooled.failures), "seed": pooled.seed,
        "covariance": covariance, "same_cov": bool(same_cov), "baseline": data.baseline,
        "covariates": list(data.covariates), "contrasts": contrasts, "n_subjects": data.n, "n_ice": n_ice,
        "ice": setup.ice.source, "runner": where.get("runner"),
        "cluster_startup_s": round(where["startup"], 3) if where.get("startup") else None, "notes": notes,
    }


def _prepare(data, outcome, strategy, method, covariates, baseline, reference_arm, references, ice, n_samples,
             covariance, same_cov, contrasts, conf_level, columns, baseline_visit):
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
                   contrasts=contrasts)
    return method, strategy, n_samples, setup


def sensitivity(
    data: TrialData | pd.DataFrame,
    *,
    outcome: str | None = None,
    strategy: str = "mar",
    method: str = "condmean-jackknife",
    covariates: Sequence[str] = (),
    baseline: str = "covariate_by_visit",
    reference_arm: str | None = None,
    references: Mapping[str, str] | None = None,
    ice: str | pd.DataFrame | None = None,
    delta: pd.DataFrame | None = None,
    n_samples: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    covariance: str = "us",
    same_cov: bool = True,
    contrasts: str = "trt_vs_ref",
    conf_level: float = 0.95,
    max_errors: int | None = None,
    estimand: Estimand | None = None,
    prior: str = "inverse-wishart",
    burn_in: int = 200,
    thin: int = 50,
    n_imputations: int = 2,
    progress: bool | None = None,
    ci: str = "normal",
    columns: Mapping[str, str] | None = None,
    baseline_visit: str | None = None,
) -> SensitivityResult:
    """Reference-based multiple imputation of missing values after intercurrent events (rbmi in Python).

    Parameters
    ----------
    data
        TrialData or a canonical long DataFrame (``outcome`` selects the rows), or any
        long frame with one row per subject and visit (``outcome=None``; name its columns
        with ``columns=``). Missing values may be absent rows or rows with a missing value.
    outcome
        The outcome id (canonical data).
    strategy
        How missing values after an ICE are imputed: ``"mar"``, ``"j2r"`` (jump to
        reference), ``"cr"`` (copy reference), ``"cir"`` (copy increments from
        reference) or ``"lmcf"`` (last mean carried forward). An ICE table may give a
        strategy per subject.
    method
        ``"condmean-jackknife"`` (conditional mean imputation, jackknife SE;
        deterministic), ``"condmean-bootstrap"``, ``"approx-bayes"`` (bootstrapped REML
        fits, random imputation, Rubin's rules), ``"bayes"`` (Gibbs sampler, see
        :mod:`retrostudy.missing.gibbs`; ``prior``, ``burn_in``, ``thin``) or ``"bmlmi"``
        (bootstrapped ML MI: ``n_imputations`` random imputations of each bootstrap sample).
    covariates
        Subject-level columns: by visit in the imputation model, main effects in the
        analysis ANCOVA.
    baseline
        ``"covariate_by_visit"`` (default), ``"none"`` or ``"absent"``; see
        :mod:`retrostudy.missing.data`.
    reference_arm
        The arm contrasts compare against and reference-based strategies refer to
        (default: the last arm, ``control`` in the retro trial).
    references
        ``{arm: reference arm}`` overriding the reference of some arms.
    ice
        None (derived from monotone dropout), a subject-level column holding the first
        affected visit, or a table (subject, visit, optional strategy); see
        :mod:`retrostudy.missing.ice`.
    delta
        A table (subject or arm, visit, delta) added to imputed values after the ICE.
    n_samples
        Bootstrap samples or imputations (defaults 1000, 100, 100, 100); None for the jackknife.
    seed
        Seed of ``numpy.random.SeedSequence`` (random methods); the one used is in ``settings``.
    workers, scheduler
        Run the replicates on a Dask LocalCluster with ``workers`` processes, or on the
        cluster at ``scheduler``; the results are identical to the serial run.
    covariance, same_cov
        Covariance structure of the imputation MMRM (any of ``rs.fit_mmrm``'s) and
        whether the arms share it (``False``: one per arm, as the SAS five macros fit).
    contrasts
        ``"trt_vs_ref"`` (every arm minus the reference) or ``"pairwise"``.
    conf_level
        Confidence level of the intervals.
    max_errors
        Replicates allowed to fail (default 1 % of ``n_samples``; 0 for the jackknife).
    estimand
        The estimand to attach to the result (default: the one this call estimates).
    prior, burn_in, thin
        Options of ``method="bayes"``.
    n_imputations
        Imputations per bootstrap sample of ``method="bmlmi"`` (bootstrapped maximum-likelihood
        MI, von Hippel & Bartlett 2021; rbmi ``method_bmlmi``'s D).
    progress
        Progress bar of the replicates: None (after 2 s), True or False.
    ci
        ``"normal"`` (default) or, with ``condmean-bootstrap``, ``"percentile"`` (rbmi's
        ``pool(type = "percentile")``: type-6 quantiles of the bootstrap estimates and the
        matching p-value; ``std_error`` stays the bootstrap SD).
    columns
        The data's column names, as ``fit_mmrm`` takes them: a dict with any of the keys
        ``subject`` (default ``"subject_id"``), ``visit`` (``"visit"``), ``arm`` (``"arm"``)
        and ``response`` (``"value"``).
    baseline_visit
        The baseline visit (default: the trial's declared baseline, else the first visit).

    Returns
    -------
    SensitivityResult
        ``to_frame()``: ``contrast, visit, estimate, std_error, df, conf_low, conf_high,
        p_value`` for every contrast at every post-baseline visit.

    Raises
    ------
    SpecError
        An invalid option, column, ICE table, reference arm or delta table.
    ModelError
        The imputation model cannot be fitted to the data, or too many replicates fail.

    Examples
    --------
    >>> import retrostudy as rs
    >>> trial = rs.load_dataset("alghadir2019_sim")
    >>> res = rs.sensitivity(trial, outcome="pain_nrs", strategy="j2r")
    >>> list(res.to_frame().columns)
    ['contrast', 'visit', 'estimate', 'std_error', 'df', 'conf_low', 'conf_high', 'p_value']
    """
    method, strategy, n_samples, setup = _prepare(
        data, outcome, strategy, method, covariates, baseline, reference_arm, references, ice, n_samples, covariance,
        same_cov, contrasts, conf_level, columns, baseline_visit)
    if ci not in ("normal", "percentile") or (ci == "percentile" and method != "condmean-bootstrap"):
        raise SpecError(f"ci must be 'normal', or 'percentile' with method='condmean-bootstrap', not {ci!r}.")
    deltas = None if delta is None else delta_matrix(setup.data, setup.plan, delta)[None]
    setup = _fitted(setup)
    pooled = _compute(setup, method, deltas, n_samples=n_samples, seed=seed, workers=workers, scheduler=scheduler,
                      max_errors=max_errors, bayes_options={"prior": prior, "burn_in": burn_in, "thin": thin,
                                     "n_imputations": n_imputations},
                      progress=progress, ci=ci, conf_level=conf_level)
    notes = []
    if delta is not None:
        n_adj = int(np.count_nonzero(deltas))
        notes.append(f"Delta adjustment: {n_adj} imputed value(s) after an ICE shifted by the delta table.")
    settings = _settings(setup, method, strategy, pooled, conf_level, covariance, same_cov, contrasts, notes)
    if method == "bmlmi":
        settings["n_imputations"] = pooled.extra["n_imputations"]
    if method == "bayes":
        settings.update({k: v for k, v in pooled.extra.items() if k not in ("notes", "where")})
        settings["notes"] = settings["notes"] + list(pooled.extra.get("notes", []))
    override = {k: v[0] for k, v in pooled.extra["percentile"].items()} if ci == "percentile" else None
    if ci == "percentile":
        settings["df"] = "bootstrap percentile"
        settings["notes"][0] = (f"Conditional mean imputation; {pooled.n_samples} bootstrap samples: percentile "
                                "intervals and p-values (type-6 quantiles of the bootstrap estimates); std_error is "
                                "the bootstrap SD.")
    return SensitivityResult(
        table=_table(setup, pooled.est[0], pooled.se[0], pooled.df[0], conf_level, override=override),
        settings=settings,
        lsmeans=_table(setup, pooled.est[0], pooled.se[0], pooled.df[0], conf_level, lsmeans=True,
                       override=override),
        estimand=estimand if estimand is not None else _estimand(setup, strategy, ice),
        ice=setup.ice.table(setup.data),
        replicates=_replicate_frame(setup, pooled.replicates),
        failures=_failure_frame(pooled.failures),
        exclusions=setup.exclusions,
        imputation_model=setup.fit,
    )


def tipping_point(
    data: TrialData | pd.DataFrame,
    *,
    deltas: Sequence[float],
    arm: str,
    outcome: str | None = None,
    strategy: str = "mar",
    method: str = "condmean-jackknife",
    covariates: Sequence[str] = (),
    baseline: str = "covariate_by_visit",
    reference_arm: str | None = None,
    references: Mapping[str, str] | None = None,
    ice: str | pd.DataFrame | None = None,
    n_samples: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    covariance: str = "us",
    same_cov: bool = True,
    contrasts: str = "trt_vs_ref",
    conf_level: float = 0.95,
    alpha: float | None = None,
    contrast: str | None = None,
    max_errors: int | None = None,
    estimand: Estimand | None = None,
    prior: str = "inverse-wishart",
    burn_in: int = 200,
    thin: int = 50,
    n_imputations: int = 2,
    progress: bool | None = None,
    columns: Mapping[str, str] | None = None,
    baseline_visit: str | None = None,
) -> TippingPointResult:
    """The sensitivity analysis repeated with each delta of a grid added to ``arm``'s imputed values.

    Each delta is added to the imputed values of ``arm``'s subjects at every visit at or
    after their ICE (rbmi's marginal delta); the imputations are computed once and
    every delta is analysed on them (the replicates do not depend on the delta).

    Parameters
    ----------
    deltas
        The grid, walked in the order given (start at 0 and move in the direction that
        works against ``arm``).
    arm
        The arm whose imputed values are shifted.
    alpha
        Significance level of the tipping point (default ``1 - conf_level``).
    contrast
        The contrast whose tipping point the attributes give (default ``arm - reference``,
        or the first contrast when ``arm`` is the reference).
    Others
        As :func:`sensitivity`.

    Returns
    -------
    TippingPointResult
        One row per delta, contrast and visit; ``tipping_delta`` and
        ``tipping_delta_interpolated`` at the final visit.

    Raises
    ------
    SpecError
        An empty grid or an unknown arm, as well as everything :func:`sensitivity` raises.

    Examples
    --------
    >>> import retrostudy as rs
    >>> trial = rs.load_dataset("alghadir2019_sim")
    >>> tp = rs.tipping_point(trial, outcome="pain_nrs", arm="retro", deltas=[0, 1, 2, 3])
    >>> tp.to_frame().columns[0]
    'delta'
    """
    try:
        grid = np.asarray(list(deltas) if not np.isscalar(deltas) else [deltas], dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise SpecError("deltas must be a list of numbers, e.g. [0, 0.5, 1, 1.5, 2].") from None
    if grid.size == 0:
        raise SpecError("The delta grid is empty; give at least one delta, e.g. deltas=[0, 0.5, 1, 1.5, 2].")
    method, strategy, n_samples, setup = _prepare(
        data, outcome, strategy, method, covariates, baseline, reference_arm, references, ice, n_samples, covariance,
        same_cov, contrasts, conf_level, columns, baseline_visit)
    D = grid_deltas(setup.data, setup.plan, grid, arm)
    names = setup.analysis.contrasts
    if contrast is not None and contrast not in names:
        raise SpecError(f"Contrast {contrast!r} is not one of {', '.join(names)}.")
    setup = _fitted(setup)
    pooled = _compute(setup, method, D, n_samples=n_samples, seed=seed, workers=workers, scheduler=scheduler,
                      max_errors=max_errors, bayes_options={"prior": prior, "burn_in": burn_in, "thin": thin,
                                     "n_imputations": n_imputations},
                      progress=progress)
    frames = []
    for k, d in enumerate(grid):
        frames.append(_table(setup, pooled.est[k], pooled.se[k], pooled.df[k], conf_level).assign(delta=float(d)))
    table = pd.concat(frames, ignore_index=True).loc[:, ["delta", *RESULT_COLUMNS]]
    alpha = 1.0 - float(conf_level) if alpha is None else float(alpha)
    final = setup.data.visits[setup.analysis.visits[-1]]
    names = setup.analysis.contrasts
    if contrast is None:
        ref = setup.reference_arm
        contrast = f"{arm} - {ref}" if arm != ref and f"{arm} - {ref}" in names else names[0]
    if contrast not in names:
        raise SpecError(f"Contrast {contrast!r} is not one of {', '.join(names)}.")
    tips = []
    for name in names:
        rows = table.loc[(table["contrast"] == name) & (table["visit"] == final)]
        first, interp = tipping_points(rows["delta"].to_numpy(), rows["p_value"].to_numpy(), alpha)
        tips.append({"contrast": name, "visit": final, "tipping_delta": first, "tipping_delta_interpolated": interp})
    tipping = pd.DataFrame(tips)
    mine = tipping.loc[tipping["contrast"] == contrast].iloc[0]
    settings = _settings(setup, method, strategy, pooled, conf_level, covariance, same_cov, contrasts,
                         [f"Delta added to the imputed values of {arm} at every visit after the ICE."])
    settings.update({"arm": arm, "alpha": alpha, "n_deltas": int(grid.size)})
    return TippingPointResult(
        table=table, settings=settings, tipping_delta=float(mine["tipping_delta"]),
        tipping_delta_interpolated=float(mine["tipping_delta_interpolated"]), contrast=contrast, visit=final,
        alpha=alpha, arm=arm, tipping=tipping,
        estimand=estimand if estimand is not None else _estimand(setup, strategy, ice),
        ice=setup.ice.table(setup.data), failures=_failure_frame(pooled.failures), exclusions=setup.exclusions,
    )
