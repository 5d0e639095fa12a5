"""Variance x correlation covariance structures (SAS CSH, AR(1), ARH(1), TOEPH, ANTE(1)).

``Sigma_ij = sqrt(v_i v_j) R_ij(rho)``: nonlinear in theta, so their second derivatives
matter for Kenward-Roger. Built by name through :mod:`retrostudy.models.structures`.
"""
from __future__ import annotations

import numpy as np

from ._linalg import is_pd, levinson, nearest_pd, pacf_from_acf
from .covariance import CovarianceStructure

__all__ = ["VarCorrStructure"]


class VarCorrStructure(CovarianceStructure):
    """``Sigma_ij = sqrt(v_i v_j) R_ij(rho)`` with one or T variances and a correlation
    family: ``cs`` (CSH), ``ar1`` (AR(1), ARH(1)), ``toep`` (TOEPH), ``ante`` (ANTE(1)).

    theta is (variances, correlations) unless ``corr_first`` (SAS AR(1): "AR(1)",
    "Residual").
    """

    def __init__(self, name: str, n_times: int, family: str, hetero: bool, names: list[str],
                 corr_first: bool = False):
        self.name, self.n_times, self.family, self.hetero = name, n_times, family, hetero
        T = n_times
        self.n_var = T if hetero else 1
        self.n_corr = 1 if family in ("cs", "ar1") else T - 1
        self.n_params = self.n_var + self.n_corr
        self.param_names = names
        self.corr_first = corr_first
        self.linear = False
        self._lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))

    # theta <-> (v, r)
    def _split(self, theta):
        theta = np.asarray(theta, float)
        if self.corr_first:
            return theta[self.n_corr:], theta[: self.n_corr]
        return theta[: self.n_var], theta[self.n_var:]

    def _join(self, v, r):
        return np.concatenate([r, v]) if self.corr_first else np.concatenate([v, r])

    def _index(self):
        """Positions of the variance and correlation parameters in theta."""
        iv = np.arange(self.n_var) + (self.n_corr if self.corr_first else 0)
        ir = np.arange(self.n_corr) + (0 if self.corr_first else self.n_var)
        return iv, ir

    # correlation family
    def _corr(self, r):
        T, lag = self.n_times, self._lag
        K = self.n_corr
        R = np.eye(T)
        dR = np.zeros((K, T, T))
        d2R = np.zeros((K, K, T, T))
        if self.family == "cs":
            R = (1 - r[0]) * np.eye(T) + r[0] * np.ones((T, T))
            dR[0] = np.ones((T, T)) - np.eye(T)
        elif self.family == "ar1":
            rho = r[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                R = np.where(lag == 0, 1.0, rho ** lag)
                dR[0] = np.where(lag >= 1, lag * rho ** np.maximum(lag - 1, 0), 0.0)
                d2R[0, 0] = np.where(lag >= 2, lag * (lag - 1) * rho ** np.maximum(lag - 2, 0), 0.0)
        elif self.family == "toep":
            for k in range(1, T):
                R = R + r[k - 1] * (lag == k)
                dR[k - 1] = (lag == k).astype(float)
        elif self.family == "ante":
            for i in range(T):
                for j in range(i + 1, T):
                    ks = list(range(i, j))
                    R[i, j] = R[j, i] = np.prod(r[ks])
                    for a in ks:
                        val = np.prod([r[c] for c in ks if c != a])
                        dR[a, i, j] = dR[a, j, i] = val
                        for b in ks:
                            if b != a:
                                v2 = np.prod([r[c] for c in ks if c not in (a, b)])
                                d2R[a, b, i, j] = d2R[a, b, j, i] = v2
        return R, dR, d2R

    def _var(self, v):
        T = self.n_times
        if not self.hetero:
            F = v[0] * np.ones((T, T))
            return F, np.ones((1, T, T)), np.zeros((1, 1, T, T))
        s = np.sqrt(v)
        F = np.outer(s, s)
        I = np.eye(T)
        # A[k, i, j] = delta_ik + delta_jk
        A = I[:, :, None] + I[:, None, :]
        dF = F[None] * A / (2.0 * v[:, None, None])
        d2F = F[None, None] * (A[:, None] * A[None, :]) / (4.0 * v[:, None, None, None] * v[None, :, None, None])
        d2F -= np.einsum("kl,kij->klij", I, F[None] * A / (2.0 * v[:, None, None] ** 2))
        return F, dF, d2F

    def matrix(self, theta) -> np.ndarray:
        v, r = self._split(theta)
        return self._var(v)[0] * self._corr(r)[0]

    def jacobian(self, theta) -> np.ndarray:
        v, r = self._split(theta)
        F, dF, _ = self._var(v)
        R, dR, _ = self._corr(r)
        iv, ir = self._index()
        J = np.zeros((self.n_params, self.n_times, self.n_times))
        J[iv] = dF * R[None]
        J[ir] = F[None] * dR
        return J

    def hessian(self, theta) -> np.ndarray:
        v, r = self._split(theta)
        F, dF, d2F = self._var(v)
        R, dR, d2R = self._corr(r)
        iv, ir = self._index()
        H = np.zeros((self.n_params, self.n_params, self.n_times, self.n_times))
        H[np.ix_(iv, iv)] = d2F * R[None, None]
        cross = dF[:, None] * dR[None, :]
        H[np.ix_(iv, ir)] = cross
        H[np.ix_(ir, iv)] = np.swapaxes(cross, 0, 1)
        H[np.ix_(ir, ir)] = F[None, None] * d2R
        return H

    def _corr_bounds(self):
        if self.family == "cs":
            return -1.0 / (self.n_times - 1) if self.n_times > 1 else -1.0, 1.0
        return -1.0, 1.0

    def valid(self, theta) -> bool:
        theta = np.asarray(theta, float)
        if theta.shape != (self.n_params,) or not np.all(np.isfinite(theta)):
            return False
        v, r = self._split(theta)
        if np.any(v <= 0):
            return False
        if self.family in ("ar1", "ante") and np.any(np.abs(r) >= 1):
            return False
        return is_pd(self.matrix(theta))

    def to_unconstrained(self, theta) -> np.ndarray:
        v, r = self._split(theta)
        lo, hi = self._corr_bounds()
        if self.family == "cs":
            p = np.clip((r - lo) / (hi - lo), 1e-12, 1 - 1e-12)
            ur = np.log(p / (1 - p))
        elif self.family == "toep":
            ur = np.arctanh(np.clip(pacf_from_acf(r), -1 + 1e-12, 1 - 1e-12))
        else:
            ur = np.arctanh(np.clip(r, -1 + 1e-12, 1 - 1e-12))
        return self._join(np.log(v), ur)

    def from_unconstrained(self, u) -> np.ndarray:
        lv, ur = self._split(u)
        lo, hi = self._corr_bounds()
        if self.family == "cs":
            r = lo + (hi - lo) / (1.0 + np.exp(-ur))
        elif self.family == "toep":
            r = levinson(np.tanh(ur))
        else:
            r = np.tanh(ur)
        return self._join(np.exp(lv), r)

    def start(self, S: np.ndarray) -> np.ndarray:
        S = nearest_pd(np.asarray(S, float))
        d = np.diag(S)
        C = S / np.sqrt(np.outer(d, d))
        T = self.n_times
        v = d.copy() if self.hetero else np.array([d.mean()])
        lag = self._lag
        if self.family == "cs":
            r = np.array([C[lag > 0].mean() if T > 1 else 0.0])
        elif self.family == "ar1":
            r = np.array([C[lag == 1].mean() if T > 1 else 0.0])
        elif self.family == "toep":
            r = np.array([C[lag == k].mean() for k in range(1, T)])
            r = levinson(np.clip(pacf_from_acf(r), -0.9, 0.9))
        else:
            r = np.array([C[k, k + 1] for k in range(T - 1)])
        if self.family != "toep":
            lo, hi = self._corr_bounds()
            r = np.clip(r, lo + 0.05 * (hi - lo), 0.9)
        return self._join(v, r)
