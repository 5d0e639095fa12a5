"""The imputation model: an MMRM of the responses on ``arm * visit`` and covariates by visit.

:class:`ImputationModel` holds what does not change between replicates: the rows
that enter the model (observed, and not after an ICE handled by a reference-based
strategy), the mean model, and each subject's model-matrix rows at every visit, in
its own arm and as if in each other arm (for the reference-based means).

:func:`fit_params` is the one step that fits the model on a set of subjects (a
jackknife or bootstrap sample, with repeats); everything else in the imputation
works from its :class:`Params` (``beta`` and one visit x visit covariance per arm).
It calls the public :func:`retrostudy.fit_mmrm` (REML, any of its covariance
structures, ``group=`` the arm for a covariance per arm).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConvergenceWarning, ModelError, RetrostudyError, SpecError
from .data import MIData
from .ice import IceSpec

__all__ = ["ImputationModel", "Params", "build_model", "fit_full", "fit_params", "fit_params_mmrm"]


@dataclass(frozen=True, eq=False)
class Params:
    """Imputation-model parameters of one replicate: ``beta`` (p,) and ``sigma`` (A, T, T), one per arm."""

    beta: np.ndarray
    sigma: np.ndarray


@dataclass(frozen=True, eq=False)
class ImputationModel:
    """What the imputation model needs, computed once (module docstring)."""

    data: MIData
    rhs: str
    covariance: str
    same_cov: bool
    method: str
    frame: pd.DataFrame  # rows entering the model, ordered by subject position
    row_start: np.ndarray  # (n,) first row of each subject in ``frame``
    row_count: np.ndarray  # (n,) rows of each subject in ``frame``
    factors: dict[str, list[str]]
    columns: tuple[str, ...]
    X_own: np.ndarray  # (n, T, p)
    X_as: np.ndarray  # (A, n, T, p): every subject as if in arm a
    fit_mask: np.ndarray  # (n, T) values entering the model
    group_of_sigma: tuple[str, ...]  # arm of each covariance (all arms share one when same_cov)
    engine: Any = None  # the full fit's REML engine result (structure and theta for warm starts)

    @property
    def n(self) -> int:
        return self.data.n

    @property
    def fit_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(subject position, visit index) of each row of ``frame``."""
        return np.nonzero(self.fit_mask)

    def fit_kwargs(self) -> dict[str, Any]:
        d = self.data
        return {"outcome": None, "subject": d.subject, "visit": d.visit, "arm": d.arm, "response": d.response,
                    "baseline": "none", "mean": self.rhs, "covariance": self.covariance, "method": self.method,
                    "group": None if self.same_cov else d.arm, "factors": self.factors,
                    "reference": {d.arm: d.arms[-1]}, "reference_arm": d.arms[-1]}


def _long_frame(data: MIData, mask: np.ndarray | None = None) -> pd.DataFrame:
    """Subject x visit rows (all, or where ``mask``), ordered by subject position then visit."""
    n, T = data.n, data.T
    si, vi = np.nonzero(np.ones((n, T), bool) if mask is None else mask)
    frame = pd.DataFrame({
        data.subject: si.astype(np.int64),
        data.visit: pd.Categorical.from_codes(vi, categories=list(data.visits)),
        data.arm: pd.Categorical.from_codes(data.arm_code[si], categories=list(data.arms)),
        data.response: data.Y[si, vi],
    })
    for c in data.covariates:
        col = data.cov_frame[c]
        frame[c] = col.iloc[si].to_numpy() if not isinstance(col.dtype, pd.CategoricalDtype) else \
            pd.Categorical.from_codes(col.cat.codes.to_numpy()[si], categories=col.cat.categories)
    if data.baseline == "covariate_by_visit":
        frame["baseline"] = data.baseline_values[si]
    return frame


def build_model(data: MIData, ice: IceSpec, *, covariance: str = "us", same_cov: bool = True,
                method: str = "reml") -> ImputationModel:
    """The imputation model of ``data`` with the ICEs ``ice`` (module docstring).

    Raises
    ------
    SpecError
        A visit with no value left to fit the model on.
    """
    T = data.T
    fit_mask = data.observed & ice.is_mar(T)
    empty = [v for v, k in zip(data.visits, fit_mask.sum(axis=0)) if k == 0]
    if empty:
        raise SpecError(
            f"With these intercurrent events no value at visit {empty[0]} is left to fit the imputation model "
            "(values after a reference-based ICE are not used); drop the visit or choose another strategy."
        )
    v, a = data.visit, data.arm
    terms = [f"{a} * {v}"] + [f"{c} * {v}" for c in data.covariates]
    if data.baseline == "covariate_by_visit":
        terms.append(f"baseline * {v}")
    rhs = " + ".join(terms)
    factors: dict[str, list[str]] = {v: list(data.visits), a: list(data.arms)}
    for c in data.covariates:
        col = data.cov_frame[c]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            factors[c] = [str(x) for x in col.cat.categories] if isinstance(col.dtype, pd.CategoricalDtype) \
                else sorted({str(x) for x in col})
    frame = _long_frame(data, fit_mask)
    counts = fit_mask.sum(axis=1).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    model = ImputationModel(
        data=data, rhs=rhs, covariance=covariance, same_cov=same_cov, method=method, frame=frame,
        row_start=starts, row_count=counts, factors=factors, columns=(), X_own=np.empty(0), X_as=np.empty(0),
        fit_mask=fit_mask, group_of_sigma=tuple(data.arms),
    )
    return model


def fit_full(model: ImputationModel):
    """Fit on every subject; returns ``(model with design rows, fit, params)``.

    The design learnt here fixes the model-matrix columns of every replicate.
    """
    from ..models.mmrm import fit_mmrm

    data = model.data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = fit_mmrm(model.frame, **model.fit_kwargs())
        except (RetrostudyError, ConvergenceWarning, np.linalg.LinAlgError) as err:
            raise ModelError(f"The imputation model cannot be fitted to the data of {data.outcome}: {err}") from None
    if not fit.converged:
        raise ModelError(f"The imputation model of {data.outcome} did not converge on the full data.")
    grid = _long_frame(data)
    n, T = data.n, data.T
    X_own = fit.design.matrix(grid).reshape(n, T, -1)
    X_as = np.stack([
        fit.design.matrix(grid.assign(**{data.arm: pd.Categorical([arm] * len(grid), categories=list(data.arms))}))
        .reshape(n, T, -1)
        for arm in data.arms
    ])
    from dataclasses import replace

    model = replace(model, columns=tuple(fit.coef.index), X_own=X_own, X_as=X_as, engine=fit.extra.get("engine"))
    return model, fit, params_of(model, fit)


def params_of(model: ImputationModel, fit) -> Params:
    """:class:`Params` of a fitted ModelFit, checked against the model's columns and visits."""
    if tuple(fit.coef.index) != model.columns:
        raise ModelError("The imputation model's columns differ in this sample (a level of a factor is absent).")
    data = model.data
    T = data.T
    if model.same_cov:
        S = fit.residual_covariance
        if S is None or S.shape != (T, T):
            raise ModelError("A visit has no value in this sample, so its variance cannot be estimated.")
        sigma = np.broadcast_to(S.to_numpy(float), (len(data.arms), T, T)).copy()
    else:
        groups = fit.extra.get("sigma_groups", {})
        mats = []
        for arm in data.arms:
            S = groups.get(arm)
            if S is None or S.shape != (T, T):
                raise ModelError(f"The covariance of arm {arm} cannot be estimated in this sample.")
            mats.append(S.to_numpy(float))
        sigma = np.stack(mats)
    return Params(beta=fit.coef.to_numpy(float).copy(), sigma=sigma)


def sample_frame(model: ImputationModel, sample: np.ndarray) -> pd.DataFrame:
    """The model rows of the subjects in ``sample`` (positions; repeats allowed), renumbered 0..m-1."""
    sample = np.asarray(sample, dtype=np.int64)
    counts = model.row_count[sample]
    frame = model.frame.take(_sample_rows(model, sample))
    frame[model.data.subject] = np.repeat(np.arange(len(sample), dtype=np.int64), counts)
    return frame.reset_index(drop=True)


def fit_params(model: ImputationModel, sample: np.ndarray) -> Params:
    """Fit the imputation model on the subjects ``sample`` and return its :class:`Params`.

    The one step a faster refit can replace: it only has to return ``beta`` in the
    columns of ``model.columns`` and the visit x visit covariance of each arm. Until
    the models package offers a refit of a fitted MMRM, this builds the REML problem of
    the sample's rows directly from the model-matrix rows of the full fit (no pandas,
    no design rebuilt) and starts Newton's method at the full fit's covariance
    parameters; :func:`fit_params_mmrm` is the same fit through ``rs.fit_mmrm`` (the
    tests check that both agree).

    Raises
    ------
    ModelError
        The model cannot be fitted or does not converge on this sample.
    """
    from ..models.reml import fit_reml, prepare

    eng = model.engine
    if eng is None:
        return fit_params_mmrm(model, sample)
    sample = np.asarray(sample, dtype=np.int64)
    rows = _sample_rows(model, sample)
    counts = model.row_count[sample]
    subj = np.repeat(np.arange(len(sample), dtype=np.int64), counts)
    si, vi = model.fit_rows
    data = model.data
    G = 1 if model.same_cov else len(data.arms)
    group = None if model.same_cov else data.arm_code[si[rows]]
    present = np.bincount(vi[rows], minlength=data.T)
    if np.any(present == 0):
        raise ModelError("A visit has no value in this sample, so its variance cannot be estimated.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            problem = prepare(data.Y[si[rows], vi[rows]], model.X_own[si[rows], vi[rows]], subj, vi[rows], data.T,
                              group=group, n_groups=G)
            res = fit_reml(problem, eng.structure, method=model.method, theta0=eng.theta)
        except (RetrostudyError, ConvergenceWarning, np.linalg.LinAlgError) as err:
            raise ModelError(f"The imputation model cannot be fitted: {err}") from None
    if not res.converged:
        raise ModelError("The imputation model did not converge.")
    sigma = res.sigma
    if model.same_cov:
        sigma = np.broadcast_to(sigma[0], (len(data.arms), data.T, data.T))
    return Params(beta=np.asarray(res.beta, float).copy(), sigma=np.array(sigma, float))


def _sample_rows(model: ImputationModel, sample: np.ndarray) -> np.ndarray:
    counts = model.row_count[sample]
    offsets = np.repeat(model.row_start[sample] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return offsets + np.arange(int(counts.sum()))


def fit_params_mmrm(model: ImputationModel, sample: np.ndarray) -> Params:
    """:func:`fit_params` through the public ``rs.fit_mmrm`` on the sample's long frame."""
    from ..models.mmrm import fit_mmrm

    frame = sample_frame(model, sample)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = fit_mmrm(frame, **model.fit_kwargs())
        except (RetrostudyError, ConvergenceWarning, np.linalg.LinAlgError) as err:
            raise ModelError(f"The imputation model cannot be fitted: {err}") from None
    if not fit.converged:
        raise ModelError("The imputation model did not converge.")
    return params_of(model, fit)
