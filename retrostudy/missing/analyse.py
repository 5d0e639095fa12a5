"""The analysis of one completed data set: an ANCOVA at each post-baseline visit.

``value_t ~ arm + covariates (+ baseline)`` by ordinary least squares on the subjects
of the replicate (rbmi's ``ancova``, extended to any number of arms): arm effects are
treatment-coded against the reference arm, so a contrast ``a - b`` is a difference of
two coefficients. Its standard error is ``sqrt(s2_t * l'(X'X)^-1 l)`` with ``s2_t`` the
residual variance at visit t and residual df ``m - q`` (what Rubin's rules take as
the complete-data df). Every visit shares the design, so all visits and every delta
of a tipping-point grid are one least-squares solve.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..design import build_design
from ..errors import ModelError, SpecError
from .data import MIData

__all__ = ["Analysis", "analyse", "contrast_pairs", "make_analysis"]


@dataclass(frozen=True, eq=False)
class Analysis:
    """The per-visit ANCOVA of a sensitivity analysis."""

    X: np.ndarray  # (n, q0) design without the imputed baseline column
    baseline_index: int | None  # visit index of a baseline response (baseline="none"), appended as a column
    L: np.ndarray  # (C, q) contrast rows
    contrasts: tuple[str, ...]
    visits: np.ndarray  # (V,) analysed visit indices
    columns: tuple[str, ...]
    arm_columns: tuple[int, ...]  # column of each arm's effect (-1 for the reference arm)
    arms: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        """Contrasts followed by one least-squares mean per arm."""
        return len(self.contrasts) + len(self.arms)


def contrast_pairs(arms: tuple[str, ...], reference_arm: str, kind: str) -> list[tuple[str, str]]:
    """``trt_vs_ref``: every arm minus the reference (declared order); ``pairwise``: every earlier minus later arm."""
    if kind == "trt_vs_ref":
        return [(a, reference_arm) for a in arms if a != reference_arm]
    if kind == "pairwise":
        return [(arms[i], arms[j]) for i in range(len(arms)) for j in range(i + 1, len(arms))]
    raise SpecError(f"family must be 'trt_vs_ref' or 'pairwise', not {kind!r}.")


def make_analysis(data: MIData, reference_arm: str, family: str = "trt_vs_ref") -> Analysis:
    """The ANCOVA design of ``data`` (module docstring)."""
    frame = data.cov_frame.reset_index(drop=True).copy()
    arm = data.arm
    frame[arm] = pd.Categorical([data.arms[a] for a in data.arm_code], categories=list(data.arms))
    terms = [arm, *data.covariates]
    if data.baseline == "covariate_by_visit":
        frame["baseline"] = data.baseline_values
        terms.append("baseline")
    factors = {arm: list(data.arms)}
    for c in data.covariates:
        col = frame[c]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            factors[c] = [str(x) for x in col.cat.categories] if isinstance(col.dtype, pd.CategoricalDtype) \
                else sorted({str(x) for x in col})
    design, X = build_design(frame, " + ".join(terms), factors=factors, reference={arm: reference_arm})
    columns = list(design.columns)
    if data.baseline == "none":
        columns.append("baseline")
    q = len(columns)
    pairs = contrast_pairs(data.arms, reference_arm, family)
    L = np.zeros((len(pairs), q))
    for k, (a, b) in enumerate(pairs):
        for lvl, sign in ((a, 1.0), (b, -1.0)):
            if lvl != reference_arm:
                L[k, columns.index(f"{arm}[{lvl}]")] += sign
    arm_columns = tuple(-1 if a == reference_arm else columns.index(f"{arm}[{a}]") for a in data.arms)
    return Analysis(X=X, baseline_index=data.baseline_index, L=L, contrasts=tuple(f"{a} - {b}" for a, b in pairs),
                    visits=data.analysed, columns=tuple(columns), arm_columns=arm_columns, arms=data.arms)


def analyse(an: Analysis, Y: np.ndarray, sample: np.ndarray, deltas: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray, float]:
    """Contrast estimates and SEs of one completed data set.

    Parameters
    ----------
    an
        From :func:`make_analysis`.
    Y
        (m, T) completed outcome of the subjects ``sample``.
    sample
        Subject positions of the rows of ``Y``.
    deltas
        (K, n, T) values added to ``Y`` (zero except at imputed post-ICE values), or None.

    Returns
    -------
    est, se, df
        ``est`` and ``se`` of shape (K, C + A, V): the C contrasts, then the least-squares
        mean of each of the A arms (rbmi's ``counterfactual`` weights: the model's
        prediction at the sample's mean of every other column, i.e. the mean prediction
        with every subject put in that arm); the residual df ``m - q``.
    """
    sample = np.asarray(sample, dtype=np.int64)
    X = an.X[sample]
    if an.baseline_index is not None:
        X = np.column_stack([X, Y[:, an.baseline_index]])
    m, q = X.shape
    dof = m - q
    if dof <= 0:
        raise ModelError(f"The analysis ANCOVA has {m} subjects for {q} coefficients.")
    Yv = Y[:, an.visits]
    if deltas is None:
        Ys = Yv[None]
    else:
        Ys = Yv[None] + deltas[:, sample][:, :, an.visits]
    XtX = X.T @ X
    try:
        cf = np.linalg.cholesky(XtX)
    except np.linalg.LinAlgError:
        raise ModelError("The analysis ANCOVA's design is singular in this sample (a level is absent).") from None
    XtY = np.einsum("mq,kmv->kqv", X, Ys)
    B = np.linalg.solve(XtX, XtY)  # (K, q, V)
    resid = Ys - np.einsum("mq,kqv->kmv", X, B)
    s2 = np.einsum("kmv,kmv->kv", resid, resid) / dof
    xbar = X.mean(axis=0)
    Lm = np.tile(xbar, (len(an.arms), 1))
    cols = [c for c in an.arm_columns if c >= 0]
    Lm[:, cols] = 0.0
    for a, c in enumerate(an.arm_columns):
        if c >= 0:
            Lm[a, c] = 1.0
    Lall = np.vstack([an.L, Lm])
    W = np.linalg.solve(cf, Lall.T)  # (q, C + A): L (X'X)^-1 L' = W'W
    lvar = np.einsum("qc,qc->c", W, W)
    est = np.einsum("cq,kqv->kcv", Lall, B)
    se = np.sqrt(lvar[None, :, None] * s2[:, None, :])
    return est, se, float(dof)
