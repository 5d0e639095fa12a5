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

import hashlib
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConvergenceWarning, ModelError, RetrostudyError, SpecError
from .data import MIData
from .ice import IceSpec

__all__ = ["ImputationModel", "Params", "build_model", "clear_cache", "fit_full", "fit_params", "fit_params_mmrm"]


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
    refitter: Any = None  # the full fit's Refitter (models/refit.py)
    refit_positions: np.ndarray | None = None  # subject position of each of the refitter's subjects
    row_subject: np.ndarray | None = None  # subject position of each row of ``frame`` (= the refitter's rows)
    fingerprint: str = ""  # identifies the fits (not the strategy): the cache key of fit_params

    @property
    def n(self) -> int:
        return self.data.n


    def fit_kwargs(self) -> dict[str, Any]:
        d = self.data
        columns = {"subject": d.subject, "visit": d.visit, "arm": d.arm, "response": d.response,
                   "group": None if self.same_cov else d.arm}
        return {"outcome": None, "columns": columns, "baseline": "none", "mean": self.rhs,
                "covariance": self.covariance, "method": self.method, "factors": self.factors,
                "reference_levels": {d.arm: d.arms[-1]}, "reference_arm": d.arms[-1]}


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
    if data.baseline == "covariate_by_visit" and data.baseline_values is not None:
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


_FULL: OrderedDict[str, tuple] = OrderedDict()
_FULL_SIZE = 16


def _model_key(model: ImputationModel) -> str:
    """What determines the full fit and the design rows: the model's rows, every subject's data and covariates,
    and the options (not the strategy: analyses that differ only in it share one full fit)."""
    data = model.data
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(model.frame, index=False).to_numpy().tobytes())
    if len(data.cov_frame.columns):
        h.update(pd.util.hash_pandas_object(data.cov_frame.reset_index(drop=True), index=False).to_numpy().tobytes())
    for arr in (model.fit_mask, data.Y, data.arm_code):
        h.update(np.ascontiguousarray(arr).tobytes())
    if data.baseline_values is not None:
        h.update(np.ascontiguousarray(data.baseline_values, dtype=float).tobytes())
    h.update(repr((model.rhs, model.covariance, model.same_cov, model.method, sorted(model.factors.items()),
                   tuple(data.arms), tuple(data.visits), tuple(map(str, data.subjects)), data.baseline,
                   sorted(model.fit_kwargs().items(), key=lambda kv: kv[0]))).encode())
    return h.hexdigest()


def fit_full(model: ImputationModel):
    """Fit on every subject; returns ``(model with design rows and refitter, fit, params)``.

    The design learnt here fixes the model-matrix columns of every replicate, and the
    :class:`~retrostudy.models.refit.Refitter` built from this fit refits it on other subjects.
    The result is remembered in this process (the last 16 models), so analyses that differ only in
    the strategy, the references or the deltas fit the full model once.
    """
    from dataclasses import replace

    key = _model_key(model)
    hit = _FULL.get(key)
    if hit is not None:
        _FULL.move_to_end(key)
        pieces, fit, full = hit
        return replace(model, **pieces), fit, full
    model, fit, full = _fit_full(model)
    pieces = {k: getattr(model, k) for k in ("columns", "X_own", "X_as", "refitter", "refit_positions",
                                             "row_subject", "fingerprint")}
    for arr in (model.X_own, model.X_as, full.beta, full.sigma):
        arr.flags.writeable = False
    _FULL[key] = (pieces, fit, full)
    if len(_FULL) > _FULL_SIZE:
        _FULL.popitem(last=False)
    return model, fit, full


def _fit_full(model: ImputationModel):
    from dataclasses import replace

    from ..models.mmrm import fit_mmrm
    from ..models.refit import Refitter

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
    refitter = Refitter(fit, df_method="none")
    positions = np.asarray(refitter.subjects).astype(np.int64)  # subject positions, in the refitter's order
    row_subject = np.asarray(model.frame[data.subject], dtype=np.int64)
    if refitter.n_rows != len(row_subject):
        raise ModelError("The imputation model did not use every row it was given.")  # pragma: no cover
    model = replace(model, columns=tuple(fit.coef.index), X_own=X_own, X_as=X_as, refitter=refitter,
                    refit_positions=positions, row_subject=row_subject)
    model = replace(model, fingerprint=_fingerprint(fit, model))
    full = _refit(model, np.arange(n))
    return model, fit, full


def _params(model: ImputationModel, beta: np.ndarray, sigma: np.ndarray) -> Params:
    data = model.data
    sigma = np.asarray(sigma, float)
    if sigma.shape[0] == 1:
        sigma = np.broadcast_to(sigma[0], (len(data.arms), data.T, data.T))
    return Params(beta=np.asarray(beta, float).copy(), sigma=np.array(sigma, float))


def sample_frame(model: ImputationModel, sample: np.ndarray) -> pd.DataFrame:
    """The model rows of the subjects in ``sample`` (positions; repeats allowed), renumbered 0..m-1."""
    sample = np.asarray(sample, dtype=np.int64)
    counts = model.row_count[sample]
    frame = model.frame.take(_sample_rows(model, sample))
    frame[model.data.subject] = np.repeat(np.arange(len(sample), dtype=np.int64), counts)
    return frame.reset_index(drop=True)


def _sample_rows(model: ImputationModel, sample: np.ndarray) -> np.ndarray:
    counts = model.row_count[sample]
    offsets = np.repeat(model.row_start[sample] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return offsets + np.arange(int(counts.sum()))


def _refit(model: ImputationModel, sample: np.ndarray) -> Params:
    sample = np.asarray(sample, dtype=np.int64)
    data = model.data
    present = np.bincount(np.nonzero(model.fit_mask[sample])[1], minlength=data.T)
    if np.any(present == 0):
        raise ModelError("A visit has no value in this sample, so its variance cannot be estimated.")
    counts = np.bincount(sample, minlength=data.n)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            if counts.max() <= 1:  # a subset (jackknife): a row mask, no copies
                res = model.refitter.fit(keep=counts[model.row_subject] > 0)
            else:
                res = model.refitter.fit(subject_weights=counts[model.refit_positions])
        except (RetrostudyError, ConvergenceWarning, np.linalg.LinAlgError) as err:
            raise ModelError(f"The imputation model cannot be fitted: {err}") from None
    if not res.converged:
        raise ModelError("The imputation model did not converge.")
    return _params(model, res.beta, res.sigma)


_CACHE: OrderedDict[tuple[str, bytes], Params] = OrderedDict()
_CACHE_SIZE = 20_000


def clear_cache() -> None:
    """Forget the remembered imputation-model fits (benchmarks time fresh fits)."""
    _CACHE.clear()
    _FULL.clear()


def _fingerprint(fit, model: ImputationModel) -> str:
    """What determines every refit: the model's rows, design and options (not the strategy)."""
    h = hashlib.sha256()
    inp = fit.details.inputs if getattr(fit, "details", None) is not None else None
    for arr in (model.fit_mask, model.data.Y, model.X_own, model.row_subject):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(repr((model.rhs, model.covariance, model.same_cov, model.method, model.columns,
                   None if inp is None else inp.n_groups)).encode())
    return h.hexdigest()


def fit_params(model: ImputationModel, sample: np.ndarray) -> Params:
    """Fit the imputation model on the subjects ``sample`` and return its :class:`Params`.

    Fits are remembered in this process (keyed by the model's rows, design and options and
    the sample), so analyses that differ only in the strategy, the references or the deltas,
    such as MAR, J2R, CR and CIR side by side, fit each replicate once.

    The one step every replicate takes: the full fit's
    :class:`~retrostudy.models.refit.Refitter` refits the same design with each subject
    counted as often as it is drawn (0 = left out, 2 = two copies of a bootstrap sample),
    warm-started at the full fit's covariance parameters, without df (not needed here).
    :func:`fit_params_mmrm` is the same fit through a fresh ``rs.fit_mmrm`` on the sample's
    long frame (the tests check that both agree).

    Raises
    ------
    ModelError
        The model cannot be fitted or does not converge on this sample.
    """
    sample = np.asarray(sample, dtype=np.int64)
    key = (model.fingerprint, hashlib.sha256(sample.tobytes()).digest())
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    params = _refit(model, sample)
    params.beta.flags.writeable = False
    params.sigma.flags.writeable = False
    _CACHE[key] = params
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return params


def fit_params_mmrm(model: ImputationModel, sample: np.ndarray) -> Params:
    """:func:`fit_params` through a fresh public ``rs.fit_mmrm`` on the sample's long frame."""
    from ..models.mmrm import fit_mmrm
    from ..models.refit import Refitter

    frame = sample_frame(model, sample)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            fit = fit_mmrm(frame, **model.fit_kwargs())
        except (RetrostudyError, ConvergenceWarning, np.linalg.LinAlgError) as err:
            raise ModelError(f"The imputation model cannot be fitted: {err}") from None
    if not fit.converged or tuple(fit.coef.index) != model.columns:
        raise ModelError("The imputation model did not converge or its columns differ in this sample.")
    res = Refitter(fit, df_method="none").fit()  # the public per-group covariances of this fit
    return _params(model, fit.coef.to_numpy(float), res.sigma)
