"""Data preparation of the REML engine: subjects grouped by (group, observed visits).

Each :class:`Pattern` keeps the theta-free sufficient statistics of its subjects s, the
moments ``XX``, ``XY`` and ``YY`` of DESIGN.md section 7.1 (visits a, b; columns k, l), so
that a likelihood evaluation costs a few small dense operations per pattern.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg

from ..errors import SpecError

__all__ = ["Pattern", "RemlProblem", "prepare"]


@dataclass(frozen=True, eq=False)
class Pattern:
    """Subjects sharing a group and a set of observed visits.

    ``X`` and ``y`` are already multiplied by ``sqrt(weight)`` (so their covariance is
    ``Sigma[visits, visits]``); ``weights`` are the raw weights or None.
    """

    group: int
    visits: np.ndarray  # (m,) visit indices
    subjects: np.ndarray  # (n,) subject positions
    rows: np.ndarray  # (n, m) row positions in the input
    X: np.ndarray  # (n, m, p)
    y: np.ndarray  # (n, m)
    weights: np.ndarray | None
    XX: np.ndarray  # (m*m, p*p): XX[(a, b), (k, l)] = sum_s X_s[a, k] X_s[b, l]
    XY: np.ndarray  # (m*m, p): XY[(a, b), k] = sum_s X_s[a, k] y_s[b]
    YY: np.ndarray  # (m, m): YY[a, b] = sum_s y_s[a] y_s[b]
    sum_log_w: float

    @property
    def n(self) -> int:
        return len(self.subjects)

    @property
    def m(self) -> int:
        return len(self.visits)

    @cached_property
    def ix(self) -> tuple[np.ndarray, ...]:
        """``np.ix_(visits, visits)``: this pattern's block of a visits x visits matrix."""
        return np.ix_(self.visits, self.visits)

    def without(self, keep: np.ndarray) -> Pattern:
        """The pattern restricted to its subjects ``keep`` (a boolean mask), sums recomputed."""
        X, y = self.X[keep], self.y[keep]
        n, m, p = X.shape
        Xf = X.reshape(n, m * p)
        G = _gram(Xf).reshape(m, p, m, p).transpose(0, 2, 1, 3).reshape(m * m, p * p)
        XY = (Xf.T @ y).reshape(m, p, m).transpose(0, 2, 1).reshape(m * m, p)
        w = None if self.weights is None else self.weights[keep]
        return Pattern(self.group, self.visits, self.subjects[keep], self.rows[keep], X, y, w, G, XY, y.T @ y,
                       0.0 if w is None else float(np.log(w).sum()))


@dataclass(frozen=True, eq=False)
class RemlProblem:
    """Data prepared for the engine: patterns plus sizes."""

    patterns: tuple[Pattern, ...]
    n_obs: int
    n_subjects: int
    n_times: int
    n_groups: int
    p: int
    subject_codes: np.ndarray  # unique subject labels in position order
    weighted: bool

    def without_subjects(self, positions: np.ndarray) -> RemlProblem:
        """The problem without the subjects at ``positions`` (indices into ``subject_codes``): only the
        patterns they belonged to are recomputed (a jackknife replicate costs one pattern's sums)."""
        drop = np.zeros(len(self.subject_codes), dtype=bool)
        drop[np.asarray(positions, dtype=np.int64)] = True
        patterns, n_obs = [], 0
        for pat in self.patterns:
            gone = drop[pat.subjects]
            new = pat.without(~gone) if gone.any() else pat
            if new.n:
                patterns.append(new)
                n_obs += new.n * new.m
        n_subjects = int(sum(pat.n for pat in patterns))
        return replace(self, patterns=tuple(patterns), n_obs=n_obs, n_subjects=n_subjects)


def prepare(y, X, subject, visit, n_times: int, *, group=None, n_groups: int = 1, weights=None) -> RemlProblem:
    """Group the rows by subject pattern and compute the sufficient statistics.

    Parameters
    ----------
    y, X
        Response (n,) and model matrix (n, p); no missing values.
    subject
        Subject label per row.
    visit
        Visit index per row in ``0..n_times-1``; at most one row per subject and visit.
    group
        Group index per row in ``0..n_groups-1`` (constant within subject) or None.
    weights
        Positive weights per row (SAS ``WEIGHT``) or None.
    """
    y = np.asarray(y, float)
    X = np.asarray(X, float)
    n, p = X.shape
    if y.shape != (n,):
        raise RuntimeError("internal: the response and the model matrix have different numbers of rows")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise RuntimeError("internal: missing or infinite values reached the engine (the mean model excludes them)")
    visit = np.asarray(visit, dtype=np.int64)
    if n and (visit.min() < 0 or visit.max() >= n_times):
        raise RuntimeError("internal: a visit index is outside 0..n_times-1")
    subj, codes = pd.factorize(np.asarray(subject))
    subj = np.asarray(subj, dtype=np.int64)
    n_subj = len(codes)
    pos = np.full((n_subj, n_times), -1, dtype=np.int64)
    flat = subj * n_times + visit
    if n and np.bincount(flat, minlength=n_subj * n_times).max() > 1:
        raise SpecError("A subject has two rows for the same visit; each subject may have one value per visit.")
    pos.reshape(-1)[flat] = np.arange(n)
    grp = np.zeros(n_subj, dtype=np.int64)
    if group is not None:
        g_rows = np.asarray(group, dtype=np.int64)
        grp[subj] = g_rows
        if np.any(grp[subj] != g_rows):
            raise SpecError("The covariance group changes within a subject; it must be constant per subject.")
    w = None
    if weights is not None:
        w = np.asarray(weights, float)
        if w.shape != (n,) or np.any(~np.isfinite(w)) or np.any(w <= 0):
            raise SpecError("Weights must be positive and finite for every analysed row.")
    observed = pos >= 0
    key = np.concatenate([grp[:, None], observed.astype(np.int64)], axis=1)
    if n_times <= 55:  # one integer per (group, pattern): much faster than unique rows
        code = grp * (1 << n_times) + observed.astype(np.int64) @ (1 << np.arange(n_times, dtype=np.int64))
        ucode, first, inv = np.unique(code, return_index=True, return_inverse=True)
        uniq = key[first]
    else:
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(uniq) + 1))
    patterns = []
    for k, row in enumerate(uniq):
        subs = order[bounds[k]:bounds[k + 1]]
        vis = np.flatnonzero(row[1:])
        rows = pos[np.ix_(subs, vis)]
        Xk = X[rows]
        yk = y[rows]
        wk = None
        slw = 0.0
        if w is not None:
            wk = w[rows]
            sqrt_wk = np.sqrt(wk)
            Xk = Xk * sqrt_wk[:, :, None]
            yk = yk * sqrt_wk
            slw = float(np.log(wk).sum())
        nk, m = yk.shape
        Xf = Xk.reshape(nk, m * p)
        G = _gram(Xf).reshape(m, p, m, p).transpose(0, 2, 1, 3).reshape(m * m, p * p)
        XY = (Xf.T @ yk).reshape(m, p, m).transpose(0, 2, 1).reshape(m * m, p)
        patterns.append(Pattern(int(row[0]), vis, subs, rows, Xk, yk, wk, G, XY, yk.T @ yk, slw))
    return RemlProblem(tuple(patterns), n, n_subj, n_times, n_groups, p, codes, w is not None)


def _gram(A: np.ndarray) -> np.ndarray:
    """``A'A`` through BLAS syrk (half the flops of a general product)."""
    if A.shape[0] == 0:
        return np.zeros((A.shape[1], A.shape[1]))
    U = linalg.blas.dsyrk(1.0, np.asfortranarray(A), trans=1)
    return np.triu(U) + np.triu(U, 1).T
