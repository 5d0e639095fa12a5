"""Small linear-algebra helpers shared by the covariance structures (private).

* :func:`sum_xax`: the one pattern sum of the engine and Kenward-Roger, ``sum_s X_s' M X_s``
  over the subjects s of a pattern from its moment matrix ``XX`` (no loop over subjects;
  notation of DESIGN.md section 7.1).
* :func:`is_pd` / :func:`nearest_pd`: positive-definiteness test and the nearest positive
  definite matrix with eigenvalues floored relative to the diagonal (starting values).
* :func:`gram_rank`, :func:`column_rank`, :func:`diag_scale`: scale-invariant rank and
  conditioning: columns (or rows and columns of a symmetric matrix) are scaled to unit
  length first, so a covariate measured in micrograms or in millions (an outcome near 3e6
  entering as the baseline column) does not look collinear with the intercept.
* :func:`levinson` / :func:`pacf_from_acf`: the Durbin-Levinson recursion between partial
  autocorrelations and autocorrelations of a stationary sequence (Toeplitz and
  ante-dependence structures are optimized in partial-autocorrelation coordinates, which
  keep the correlation matrix positive definite). Checked against statsmodels'
  ``levinson_durbin_pacf`` in the tests.
"""
from __future__ import annotations

import numpy as np

__all__ = ["is_pd", "nearest_pd", "levinson", "pacf_from_acf", "gram_rank", "column_rank", "diag_scale", "sum_xax"]


def is_pd(M: np.ndarray) -> bool:
    """Whether ``M`` has a Cholesky factor (is numerically positive definite)."""
    try:
        np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return False
    return True


def nearest_pd(S: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """``S`` symmetrized with eigenvalues at least ``floor`` x its mean absolute diagonal."""
    S = (S + S.T) / 2.0
    w, Q = np.linalg.eigh(S)
    scale = max(float(np.mean(np.abs(np.diag(S)))), 1e-8)
    w = np.maximum(w, floor * scale)
    return (Q * w) @ Q.T


def levinson(pacf: np.ndarray) -> np.ndarray:
    """Autocorrelations rho_1..rho_K from partial autocorrelations (Durbin-Levinson)."""
    K = len(pacf)
    rho = np.zeros(K)
    phi = np.zeros(0)
    for k in range(K):
        a = pacf[k]
        if k == 0:
            rho[0] = a
            phi = np.array([a])
            continue
        rho[k] = a * (1.0 - phi @ rho[:k]) + phi @ rho[:k][::-1]
        phi = np.concatenate([phi - a * phi[::-1], [a]])
    return rho


def pacf_from_acf(rho: np.ndarray) -> np.ndarray:
    """Partial autocorrelations from autocorrelations (inverse of :func:`levinson`)."""
    K = len(rho)
    out = np.zeros(K)
    phi = np.zeros(0)
    for k in range(K):
        if k == 0:
            a = rho[0]
            phi = np.array([a])
        else:
            a = (rho[k] - phi @ rho[:k][::-1]) / (1.0 - phi @ rho[:k])
            phi = np.concatenate([phi - a * phi[::-1], [a]])
        out[k] = a
    return out


def diag_scale(M: np.ndarray) -> np.ndarray:
    """``1 / sqrt(|diag M|)`` (1 where the diagonal is 0): ``D M D`` has a unit diagonal."""
    d = np.abs(np.diag(np.asarray(M, float)))
    out = np.ones_like(d)
    pos = d > 0
    out[pos] = 1.0 / np.sqrt(d[pos])
    return out


def gram_rank(G: np.ndarray) -> int:
    """Rank of a symmetric positive semi-definite matrix (``X'X``) after scaling it to unit
    diagonal; a zero column counts as deficient."""
    G = np.asarray(G, float)
    if G.size == 0:
        return 0
    d = np.diag(G)
    keep = d > 0
    D = diag_scale(G)
    C = (G * D[:, None] * D[None, :])[np.ix_(keep, keep)]
    if not C.size:
        return 0
    if keep.all():  # the common, full-rank case: a well-conditioned Cholesky factor settles it
        try:
            L = np.linalg.cholesky(C)
            if float(np.min(np.diag(L))) > 1e-6:  # unit diagonal: condition number below ~1e12
                return int(C.shape[0])
        except np.linalg.LinAlgError:
            pass
    return int(np.linalg.matrix_rank(C, hermitian=True))


def column_rank(X: np.ndarray) -> int:
    """Rank of ``X`` with its columns scaled to unit length (zero columns are deficient)."""
    X = np.asarray(X, float)
    norms = np.linalg.norm(X, axis=0)
    keep = norms > 0
    return int(np.linalg.matrix_rank(X[:, keep] / norms[keep])) if np.any(keep) else 0


def sum_xax(A: np.ndarray, XX: np.ndarray, p: int) -> np.ndarray:
    """``sum_s X_s' A X_s`` over a pattern's subjects for each ``m x m`` matrix ``A`` in a stack.

    ``XX`` is the pattern's moment matrix ``XX[(a, b), (k, l)] = sum_s X_s[a, k] X_s[b, l]``
    (shape ``(m*m, p*p)``), so the sum is one product: ``vec(A)' XX``. ``A`` has shape
    ``(..., m, m)``; the result ``(..., p, p)``. With ``A = V^-1`` it is the pattern's part of
    ``X'V^-1X``; with ``A = V^-1 V_i V^-1`` its part of ``Q_i``.
    """
    A = np.asarray(A, float)
    lead = A.shape[:-2]
    m = A.shape[-1]
    return (A.reshape(-1, m * m) @ XX).reshape(*lead, p, p)
