"""Residual covariance structures of the MMRM in SAS PROC MIXED's parameterization.

Every structure maps a parameter vector ``theta`` -- in the order and scale SAS prints
under "Covariance Parameter Estimates" -- to a T x T covariance matrix ``Sigma``, with
first and second derivatives in that same parameterization (what Satterthwaite and
Kenward-Roger need to reproduce SAS). The optimizer works in unconstrained
coordinates (log variances, log-Cholesky, tanh / partial-autocorrelation transforms)
through ``to_unconstrained`` / ``from_unconstrained``.

Structures (SAS name): ``us`` (UN), ``cs`` (CS), ``csh`` (CSH), ``ar1`` (AR(1)),
``ar1h`` (ARH(1)), ``toep`` (TOEP), ``toeph`` (TOEPH), ``ad`` (ante-dependence with one
variance), ``adh`` (ANTE(1)). A separate covariance per group (SAS ``GROUP=``) is a
:class:`GroupedStructure` holding one structure per group level. This module holds the
base classes and the structures linear in theta; :mod:`retrostudy.models.varcorr` the
variance x correlation ones; :mod:`retrostudy.models.structures` names them all and
builds one by name (:func:`~retrostudy.models.structures.make_structure`).
"""
from __future__ import annotations

import numpy as np

from ._linalg import is_pd, levinson, nearest_pd, pacf_from_acf

__all__ = ["CovarianceStructure", "LinearStructure", "GroupedStructure"]


class CovarianceStructure:
    """Protocol: a T x T covariance ``Sigma(theta)`` in SAS's parameterization."""

    name: str
    n_times: int
    n_params: int
    param_names: list[str]
    linear: bool
    n_groups: int = 1

    def start(self, S: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def matrix(self, theta) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def jacobian(self, theta) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def hessian(self, theta) -> np.ndarray:
        P, T = self.n_params, self.n_times
        return np.zeros((P, P, T, T))

    def to_unconstrained(self, theta) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def from_unconstrained(self, u) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def valid(self, theta) -> bool:
        theta = np.asarray(theta, float)
        if theta.shape != (self.n_params,) or not np.all(np.isfinite(theta)):
            return False
        return is_pd(self.matrix(theta))

    # group-aware interface used by the engine (one group unless GroupedStructure)
    def group_matrices(self, theta) -> np.ndarray:
        """``(G, T, T)``: the covariance of each group."""
        return self.matrix(theta)[None]

    def group_jacobians(self, theta) -> np.ndarray:
        """``(G, P, T, T)``: dSigma_g / dtheta_k over all parameters."""
        return self.jacobian(theta)[None]

    def group_hessians(self, theta) -> np.ndarray:
        """``(G, P, P, T, T)``: second derivatives of each group's covariance."""
        return self.hessian(theta)[None]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, n_times={self.n_times}, n_params={self.n_params})"


class LinearStructure(CovarianceStructure):
    """``Sigma = sum_k theta_k G_k`` (SAS UN, CS, TOEP): linear in theta."""

    linear = True

    def __init__(self, name: str, n_times: int, basis: np.ndarray, param_names: list[str]):
        self.name, self.n_times = name, n_times
        self.basis = np.asarray(basis, float)
        self.n_params = self.basis.shape[0]
        self.param_names = list(param_names)

    def matrix(self, theta) -> np.ndarray:
        return np.einsum("k,kij->ij", np.asarray(theta, float), self.basis)

    def jacobian(self, theta) -> np.ndarray:
        return self.basis.copy()

    def start(self, S: np.ndarray) -> np.ndarray:
        S = nearest_pd(np.asarray(S, float))
        flat = self.basis.reshape(self.n_params, -1)
        theta, *_ = np.linalg.lstsq(flat.T, S.reshape(-1), rcond=None)
        if not self.valid(theta):
            theta, *_ = np.linalg.lstsq(flat.T, np.diag(np.diag(S)).reshape(-1), rcond=None)
        return theta


class _UN(LinearStructure):
    def __init__(self, n_times: int):
        T = n_times
        pairs = [(i, j) for i in range(T) for j in range(i + 1)]
        basis = np.zeros((len(pairs), T, T))
        for k, (i, j) in enumerate(pairs):
            basis[k, i, j] = basis[k, j, i] = 1.0
        super().__init__("us", T, basis, [f"UN({i + 1},{j + 1})" for i, j in pairs])
        self._pairs = pairs

    def to_unconstrained(self, theta) -> np.ndarray:
        L = np.linalg.cholesky(self.matrix(theta))
        u = np.array([L[i, j] for i, j in self._pairs])
        diag = [k for k, (i, j) in enumerate(self._pairs) if i == j]
        u[diag] = np.log(u[diag])
        return u

    def from_unconstrained(self, u) -> np.ndarray:
        T = self.n_times
        L = np.zeros((T, T))
        for k, (i, j) in enumerate(self._pairs):
            L[i, j] = np.exp(u[k]) if i == j else u[k]
        S = L @ L.T
        return np.array([S[i, j] for i, j in self._pairs])


class _CS(LinearStructure):
    """SAS CS: ``Sigma = CS * J + Residual * I``; theta = (CS, Residual), or with
    ``GROUP=`` SAS's order (Variance, CS)."""

    def __init__(self, n_times: int, grouped: bool = False):
        T = n_times
        J, I = np.ones((T, T)), np.eye(T)
        self._swap = grouped
        if grouped:
            super().__init__("cs", T, np.stack([I, J]), ["Variance", "CS"])
        else:
            super().__init__("cs", T, np.stack([J, I]), ["CS", "Residual"])

    def _cs_res(self, theta):
        return (theta[1], theta[0]) if self._swap else (theta[0], theta[1])

    def to_unconstrained(self, theta) -> np.ndarray:
        cs, res = self._cs_res(np.asarray(theta, float))
        return np.array([np.log(res), np.log(res + self.n_times * cs)])

    def from_unconstrained(self, u) -> np.ndarray:
        res, tot = np.exp(u[0]), np.exp(u[1])
        cs = (tot - res) / self.n_times
        return np.array([res, cs]) if self._swap else np.array([cs, res])


class _TOEP(LinearStructure):
    """SAS TOEP: band covariances; theta = (TOEP(2), ..., TOEP(T), Residual)."""

    def __init__(self, n_times: int):
        T = n_times
        lag = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
        bands = [(lag == k).astype(float) for k in range(1, T)] + [(lag == 0).astype(float)]
        super().__init__("toep", T, np.stack(bands), [f"TOEP({k + 1})" for k in range(1, T)] + ["Residual"])

    def to_unconstrained(self, theta) -> np.ndarray:
        theta = np.asarray(theta, float)
        s2 = theta[-1]
        pacf = np.clip(pacf_from_acf(theta[:-1] / s2), -1 + 1e-12, 1 - 1e-12)
        return np.concatenate([np.arctanh(pacf), [np.log(s2)]])

    def from_unconstrained(self, u) -> np.ndarray:
        s2 = np.exp(u[-1])
        return np.concatenate([s2 * levinson(np.tanh(u[:-1])), [s2]])


class GroupedStructure(CovarianceStructure):
    """One covariance per group level (SAS ``GROUP=``); theta concatenates the groups'."""

    def __init__(self, subs: list[CovarianceStructure], levels: list[str]):
        self.subs, self.levels = list(subs), [str(x) for x in levels]
        first = self.subs[0]
        self.name, self.n_times = first.name, first.n_times
        self.n_groups = len(self.subs)
        self.n_params = sum(s.n_params for s in self.subs)
        self.param_names = [n for s in self.subs for n in s.param_names]
        self.param_groups = [lv for s, lv in zip(self.subs, self.levels) for _ in range(s.n_params)]
        self.linear = all(s.linear for s in self.subs)
        self._cuts = np.cumsum([0] + [s.n_params for s in self.subs])

    def _parts(self, theta):
        theta = np.asarray(theta, float)
        return [theta[a:b] for a, b in zip(self._cuts[:-1], self._cuts[1:])]

    def matrix(self, theta) -> np.ndarray:
        """The first group's covariance; use :meth:`group_matrices` for all groups."""
        return self.group_matrices(theta)[0]

    def group_matrices(self, theta) -> np.ndarray:
        return np.stack([s.matrix(t) for s, t in zip(self.subs, self._parts(theta))])

    def jacobian(self, theta) -> np.ndarray:
        return self.group_jacobians(theta)[0]

    def group_jacobians(self, theta) -> np.ndarray:
        T = self.n_times
        out = np.zeros((self.n_groups, self.n_params, T, T))
        for g, (s, t) in enumerate(zip(self.subs, self._parts(theta))):
            out[g, self._cuts[g]:self._cuts[g + 1]] = s.jacobian(t)
        return out

    def hessian(self, theta) -> np.ndarray:
        return self.group_hessians(theta)[0]

    def group_hessians(self, theta) -> np.ndarray:
        T, P = self.n_times, self.n_params
        out = np.zeros((self.n_groups, P, P, T, T))
        for g, (s, t) in enumerate(zip(self.subs, self._parts(theta))):
            a, b = self._cuts[g], self._cuts[g + 1]
            out[g, a:b, a:b] = s.hessian(t)
        return out

    def valid(self, theta) -> bool:
        return all(s.valid(t) for s, t in zip(self.subs, self._parts(theta)))

    def to_unconstrained(self, theta) -> np.ndarray:
        return np.concatenate([s.to_unconstrained(t) for s, t in zip(self.subs, self._parts(theta))])

    def from_unconstrained(self, u) -> np.ndarray:
        return np.concatenate([s.from_unconstrained(t) for s, t in zip(self.subs, self._parts(u))])

    def start(self, S) -> np.ndarray:
        S = np.asarray(S, float)
        mats = S if S.ndim == 3 else np.repeat(S[None], self.n_groups, axis=0)
        return np.concatenate([s.start(m) for s, m in zip(self.subs, mats)])
