"""Refits on the same design: what jackknife, bootstrap, multiple imputation and simulation
replicates need, without rebuilding the design, the reference grid or the validation.

A replicate differs from a fitted MMRM or LMM by the subjects it uses, how often it uses
them (a bootstrap sample) or its response values (an imputed or simulated data set); the
mean model, its columns, the covariance structure and the df method stay. Two levels:

* :class:`Refitter` (hot loops): built once from a :class:`~retrostudy.results.ModelFit`,
  its :meth:`Refitter.fit` takes numpy arrays over the fit's analysed rows and returns a
  light :class:`Refit` (beta, vcov, Sigma, df of any ``L``) in a few milliseconds: the
  engine is warm-started at the fit's covariance parameters, so Newton needs one or two
  steps.
* :func:`refit` (``ModelFit.refit``): the same, returned as a full ModelFit whose data,
  exclusion log and statistics describe the replicate.

Rows are the fit's analysed rows in the order of ``fit.data``; ``subjects`` are
``fit.subjects_used()``-style labels of the subject column. A bootstrap sample is given as
integer ``subject_weights`` (how many times each subject is drawn): each copy enters the
likelihood as a separate subject, so every df method, Kenward-Roger included, is exact.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..results import FitStats, ModelFit
from ..tidy import infer_linear
from .inference import Inference, make_inference
from .longitudinal import EngineInput, LongitudinalDetails, engine_stats
from .reml import RemlFit, fit_reml

__all__ = ["Refit", "Refitter", "refit"]


@dataclass(frozen=True, eq=False)
class Refit:
    """One replicate's fit (numbers only; picklable).

    Attributes
    ----------
    beta, vcov
        Fixed effects and the covariance used for inference (by the fit's df method).
    theta, sigma
        Covariance parameters (SAS parameterization) and the ``(groups, T, T)`` covariance.
    inference
        The df method's object (``dof(L)``, ``ftest(L)``).
    converged, minus2_loglik, n_subjects, n_obs
        Engine state and sizes.
    engine, inputs
        The :class:`~retrostudy.models.reml.RemlFit` and the engine's input arrays.
    """

    beta: np.ndarray
    vcov: np.ndarray
    theta: np.ndarray
    sigma: np.ndarray
    inference: Inference
    converged: bool
    minus2_loglik: float
    n_subjects: int
    n_obs: int
    engine: RemlFit
    inputs: EngineInput

    def linear(self, L: np.ndarray, conf_level: float = 0.95) -> dict[str, np.ndarray]:
        """Estimate, SE, df, t, p and CI of each row of ``L`` (k x p), as ``ModelFit.linear``."""
        L = np.atleast_2d(np.asarray(L, float))
        est = L @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, self.vcov, L))
        df = np.asarray(self.inference.dof(L), float).reshape(-1)
        return {"estimate": est, "std_error": se, "df": df, **infer_linear(est, se, df, conf_level)}


class Refitter:
    """Refit a fitted MMRM or LMM on its own design with other rows, weights or responses.

    Parameters
    ----------
    fit
        A ``fit_mmrm`` or ``fit_lmm`` result.
    df_method
        The df method of the refits (default: the fit's). ``"none"`` skips df
        (``Refit.inference`` then gives infinite df): the cheapest when only beta and Sigma
        are needed, as in multiple imputation.

    Examples
    --------
    >>> import numpy as np, retrostudy as rs
    >>> fit = rs.fit_mmrm(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", baseline="none")
    >>> r = Refitter(fit)
    >>> same = r.fit()
    >>> bool(np.allclose(same.beta, fit.coef, rtol=1e-8))
    True
    >>> one_out = r.fit(drop_subjects=[fit.subjects_used()[0]])
    >>> one_out.n_subjects
    67
    """

    def __init__(self, fit: ModelFit, *, df_method: str | None = None) -> None:
        details = fit.details
        if not isinstance(details, LongitudinalDetails) or details.inputs is None or details.engine is None:
            raise SpecError(f"Refits need an MMRM or LMM fit (fit_mmrm / fit_lmm); this is a {fit.model} fit.")
        self.fit_ = fit
        self.inputs: EngineInput = details.inputs
        self.engine: RemlFit = details.engine
        self.df_method = fit.df_method if df_method is None else str(df_method).lower()
        self.vcov_kind = (fit.spec.vcov if fit.spec is not None else None) or "model"
        self.information = (fit.spec.information if fit.spec is not None else None) or "observed"
        self.term_index = {k: list(v) for k, v in fit.design.term_index.items()}
        self.subject_labels = np.asarray(self.inputs.subject).astype(str)
        codes, uniques = pd.factorize(self.subject_labels)
        self.subject_codes = np.asarray(codes, dtype=np.int64)  # the engine groups by these (fast)
        self.subjects = np.asarray(uniques)
        # the engine's problem numbers subjects as we do (a fit's own problem): replicates may downdate it
        codes_of_problem = np.asarray(self.engine.problem.subject_codes).astype(str)
        self._downdate = (len(codes_of_problem) == len(self.subjects) == self.engine.problem.n_subjects
                          and np.array_equal(codes_of_problem, self.subjects))

    @property
    def n_rows(self) -> int:
        """Number of analysed rows (the length of ``response``, ``keep`` and ``X``)."""
        return int(len(self.inputs.y))

    def rows(self, *, keep: np.ndarray | None = None, drop_subjects: Sequence[str] | None = None,
             subject_weights: pd.Series | Sequence[int] | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Row positions of a replicate, an integer subject id per row (each bootstrap copy of a
        subject is a subject of its own) and the copy number per row (None without weights)."""
        sel = np.ones(self.n_rows, dtype=bool) if keep is None else np.asarray(keep, dtype=bool).copy()
        if sel.shape != (self.n_rows,):
            raise SpecError(f"keep= must be a boolean array over the fit's {self.n_rows} analysed rows.")
        if drop_subjects is not None:
            drop = {str(s) for s in drop_subjects}
            unknown = drop - set(self.subjects.tolist())
            if unknown:
                raise SpecError(f"drop_subjects names subjects the fit did not use: {', '.join(sorted(unknown)[:5])}.")
            sel &= ~np.isin(self.subject_labels, list(drop))
        pos = np.flatnonzero(sel)
        ids = self.subject_codes[pos]
        if subject_weights is None:
            return pos, ids, None
        count = self._weights(subject_weights)[ids]
        rep_pos = np.repeat(pos, count)
        copy = np.arange(len(rep_pos)) - np.repeat(np.cumsum(count) - count, count)  # 0, 1, ... per row
        return rep_pos, np.repeat(ids, count) * (int(count.max(initial=0)) + 1) + copy, copy

    def labels(self, pos: np.ndarray, copy: np.ndarray | None) -> np.ndarray:
        """Subject labels of :meth:`rows`' rows (bootstrap copies are ``label#k``)."""
        base = self.subject_labels[pos]
        return base if copy is None else np.char.add(np.char.add(base, "#"), copy.astype(str))

    def _weights(self, subject_weights: pd.Series | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(subject_weights, pd.Series):
            w = subject_weights.reindex(self.subjects).fillna(0).to_numpy(float)
        else:
            w = np.asarray(subject_weights, float)
        if w.shape != (len(self.subjects),):
            raise SpecError(f"subject_weights needs one count per subject of the fit ({len(self.subjects)}).")
        if np.any(w < 0) or np.any(w != np.round(w)):
            raise SpecError("subject_weights are frequency weights: whole numbers of copies (0, 1, 2, ...).")
        return w.astype(np.int64)

    def fit(self, *, response: np.ndarray | None = None, X: np.ndarray | None = None,
            keep: np.ndarray | None = None, drop_subjects: Sequence[str] | None = None,
            subject_weights: pd.Series | Sequence[int] | np.ndarray | None = None, warm_start: bool = True) -> Refit:
        """Refit with a new ``response`` (n_rows,), design ``X`` (n_rows, p), a row subset
        ``keep`` (boolean, n_rows), subjects left out, or integer ``subject_weights`` (one per
        subject in ``self.subjects`` order, or a Series indexed by subject).

        Raises :class:`~retrostudy.errors.ModelError` when the replicate cannot be fitted.
        """
        inp = self.inputs
        y = inp.y if response is None else np.asarray(response, float)
        XX = inp.X if X is None else np.asarray(X, float)
        if y.shape != (self.n_rows,) or XX.shape != inp.X.shape:
            raise SpecError(f"response= and X= must cover the fit's {self.n_rows} analysed rows in data order.")
        pos, ids, _ = self.rows(keep=keep, drop_subjects=drop_subjects, subject_weights=subject_weights)
        sub = EngineInput(y=y[pos], X=XX[pos], subject=ids, visit=inp.visit[pos], n_times=inp.n_times,
                          group=None if inp.group is None else inp.group[pos], n_groups=inp.n_groups,
                          weights=None if inp.weights is None else inp.weights[pos])
        eng0 = self.engine
        lost = self._whole_subjects_lost(keep, drop_subjects) if (
            self._downdate and response is None and X is None and subject_weights is None) else None
        # subjects left out whole (a jackknife): recompute only the patterns that lose one
        problem = sub.problem() if lost is None else eng0.problem.without_subjects(lost)
        # beta and Sigma only (df_method "none": imputation models) of a replicate near the full fit (subjects left
        # out, O(1/n) away): the full fit's Hessian, scaled to its size, drives a chord iteration with gradients
        # only. A bootstrap sample is O(1/sqrt(n)) away, where full Newton steps are cheaper (measured).
        hessian0 = eng0.hessian * (problem.n_subjects / eng0.problem.n_subjects) if (
            warm_start and self.df_method == "none" and subject_weights is None and eng0.hessian_pd
            and not eng0.info.get("approximate_hessian")
        ) else None
        eng = fit_reml(problem, eng0.structure, method=eng0.method,
                       theta0=eng0.theta if warm_start else None, n_subjects_ic=None, hessian0=hessian0)
        inference = self._inference(eng, sub)
        return Refit(beta=eng.beta, vcov=inference.vcov, theta=eng.theta, sigma=eng.sigma, inference=inference,
                     converged=eng.converged, minus2_loglik=eng.minus2_loglik, n_subjects=eng.problem.n_subjects,
                     n_obs=eng.problem.n_obs, engine=eng, inputs=sub)

    def _whole_subjects_lost(self, keep: np.ndarray | None, drop_subjects: Sequence[str] | None) -> np.ndarray | None:
        """Positions of the subjects a replicate leaves out, when it leaves out only whole subjects."""
        n_subj = len(self.subjects)
        lost = np.zeros(n_subj, dtype=bool)
        if drop_subjects is not None:
            lost[pd.Index(self.subjects).get_indexer([str(s) for s in drop_subjects])] = True
        if keep is not None:
            kept = np.bincount(self.subject_codes[np.asarray(keep, dtype=bool)], minlength=n_subj)
            total = np.bincount(self.subject_codes, minlength=n_subj)
            if np.any((kept > 0) & (kept < total)):
                return None  # some subject keeps only part of its rows
            lost |= kept == 0
        return np.flatnonzero(lost)

    def _inference(self, eng: RemlFit, sub: EngineInput) -> Inference:
        if self.df_method == "none":
            from .inference import ResidualDf

            return ResidualDf("none", eng.beta, eng.vcov_beta, df=np.inf)
        return make_inference(self.df_method, eng, vcov=self.vcov_kind, X=sub.X, subject=sub.subject,
                              column_terms=self.term_index, information=self.information)


def refit(fit: ModelFit, *, response: np.ndarray | None = None, keep: np.ndarray | None = None,
          drop_subjects: Sequence[str] | None = None, subject_weights: pd.Series | Sequence[int] | np.ndarray | None = None) -> ModelFit:
    """``fit`` refitted on the same design (warm-started), as a full :class:`ModelFit`.

    Parameters
    ----------
    fit
        A ``fit_mmrm`` or ``fit_lmm`` result.
    response
        New response values for the analysed rows, in the order of ``fit.data``.
    keep
        Boolean mask of the analysed rows to keep.
    drop_subjects
        Subject ids to leave out (logged in the exclusion log, stage ``"refit"``).
    subject_weights
        Whole-number copies of each subject (a bootstrap sample); a Series indexed by
        subject id, or an array in ``Refitter(fit).subjects`` order.

    Examples
    --------
    >>> import retrostudy as rs
    >>> fit = rs.fit_mmrm(rs.load_dataset("alghadir2019_sim"), outcome="womac", baseline="none")
    >>> fewer = fit.refit(drop_subjects=["R01"])
    >>> fewer.n_analysed(by=None), len(fewer.exclusions) - len(fit.exclusions)
    (67, 1)
    """
    from ..exclusions import ExclusionLog

    r = Refitter(fit)
    res = r.fit(response=response, keep=keep, drop_subjects=drop_subjects, subject_weights=subject_weights)
    pos, _, copy = r.rows(keep=keep, drop_subjects=drop_subjects, subject_weights=subject_weights)
    labels = r.labels(pos, copy)
    data = fit.data.iloc[pos].copy() if fit.data is not None else None
    cols = fit.columns
    if data is not None:
        if response is not None:
            data[cols.response] = np.asarray(response, float)[pos]
        if subject_weights is not None:
            data[cols.subject] = labels
        data = data.reset_index(drop=True)
    dropped = sorted(set(r.subjects.tolist()) - {s.split("#")[0] for s in labels.tolist()})
    log = fit.exclusions
    if dropped:
        log = log.extend(ExclusionLog.from_records([
            {"stage": "refit", "subject_id": s, "outcome": fit.outcome, "column": cols.subject, "cells": 0,
             "reason": "left out of this replicate"} for s in dropped]))
    eng = res.engine
    old = fit.fit_stats if fit.fit_stats is not None else FitStats(n_subjects=res.n_subjects)
    stats = engine_stats(eng, res.n_subjects, res.n_subjects, covariance=old.covariance or "",
                         df_method=fit.df_method)
    columns = list(fit.design.columns)
    details = _details(fit, res)
    return ModelFit(
        model=fit.model, outcome=fit.outcome, design=fit.design,
        coef=pd.Series(res.beta, index=columns, name="estimate"),
        vcov=pd.DataFrame(res.vcov, index=columns, columns=columns),
        inference=res.inference, grid_factors=fit.grid_factors, reference_arm=fit.reference_arm,
        df_method=fit.df_method, conf_level=fit.conf_level, response=fit.response,
        residual_covariance=_residual_covariance(fit, res),
        fit_stats=stats, converged=res.converged, exclusions=log, provenance=fit.provenance, data=data,
        spec=fit.spec, details=details,
    )


def _residual_covariance(fit: ModelFit, res: Refit) -> pd.DataFrame | None:
    rc = fit.residual_covariance
    if rc is None:
        return None
    if fit.model == "lmm":  # variance components with their SEs
        se = np.sqrt(np.clip(np.diag(res.engine.theta_cov), 0.0, None))
        return pd.DataFrame({"estimate": res.theta, "std_error": se}, index=rc.index)
    return pd.DataFrame(res.sigma[0], index=rc.index, columns=rc.columns)


def _details(fit: ModelFit, res: Refit) -> LongitudinalDetails:
    """The fit's details with the refit's engine, inputs and engine-derived tables."""
    from .lmm import LmmDetails, RandomEffectsStructure
    from .mmrm import MmrmDetails

    d = fit.details
    eng = res.engine
    assert isinstance(d, LongitudinalDetails), "refits exist for engine fits only"
    columns = list(fit.design.columns)
    new: dict[str, Any] = {"engine": eng, "inputs": res.inputs,
                           "vcov_model": pd.DataFrame(eng.vcov_beta, index=columns, columns=columns)}
    if d.theta_cov is not None:
        new["theta_cov"] = pd.DataFrame(eng.theta_cov, index=d.theta_cov.index, columns=d.theta_cov.columns)
    if isinstance(d, MmrmDetails):
        if d.theta is not None:
            new["theta"] = pd.Series(eng.theta, index=d.theta.index)
        if d.sigma_groups:
            new["sigma_groups"] = {g: pd.DataFrame(sig, index=old.index, columns=old.columns)
                                   for (g, old), sig in zip(d.sigma_groups.items(), eng.sigma)}
    if isinstance(d, LmmDetails):
        if d.sigma is not None:
            new["sigma"] = pd.DataFrame(eng.sigma[0], index=d.sigma.index, columns=d.sigma.columns)
        if d.G is not None:
            st = eng.structure
            assert isinstance(st, RandomEffectsStructure), "an LMM's engine has a random-effects structure"
            new["G"] = pd.DataFrame(st.g_matrix(eng.theta), index=d.G.index, columns=d.G.columns)
    return replace(d, **new)
