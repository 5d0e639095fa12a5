"""Linear mixed models with a random intercept, or a random intercept and slope.

The LMM ``y_ij = x_ij b + z_ij u_i + e_ij`` with ``u_i ~ N(0, G)`` and ``e_ij ~ N(0, s2)``
is the marginal model ``y_i ~ N(X_i b, Z_i G Z_i' + s2 I)``. Over the distinct time
points ``t_1..t_T`` of the visits that covariance is a T x T matrix, linear in the
variance components ``theta = (G elements, s2)`` -- the lme4 / SAS PROC MIXED
"covariance parameter" scale -- so the REML engine of the MMRM fits it unchanged
(:class:`RandomEffectsStructure`), and Kenward-Roger equals its linear form.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import SpecError
from .covariance import LinearStructure

__all__ = ["RandomEffectsStructure", "fit_lmm"]

#: ``random=`` spellings -> random-effect terms.
RANDOM = {"intercept": ("intercept",), "intercept+slope": ("intercept", "slope")}


class RandomEffectsStructure(LinearStructure):
    """``Sigma = Z G Z' + s2 I`` over the distinct times of the visits.

    Parameters
    ----------
    times
        The time (e.g. week) of each of the T visits, in visit order.
    random
        ``"intercept"`` (Z = 1, G = [var]) or ``"intercept+slope"`` (Z = [1, t], G an
        unstructured 2 x 2 matrix).

    Notes
    -----
    ``theta`` is in SAS's order for ``RANDOM int t / TYPE=UN``: ``UN(1,1)`` (intercept
    variance), ``UN(2,1)`` (intercept-slope covariance), ``UN(2,2)`` (slope variance),
    then the residual variance. lme4's ``VarCorr`` holds the same numbers. The
    optimizer works on the log-Cholesky factor of G and log s2, so G stays positive
    definite and s2 positive.
    """

    def __init__(self, times: Sequence[float], random: str = "intercept"):
        key = _random_key(random)
        t = np.asarray(times, float).reshape(-1)
        if t.size == 0 or not np.all(np.isfinite(t)):
            raise SpecError("The random-effects structure needs the finite time of every visit.")
        if len(np.unique(t)) != t.size:
            raise SpecError("Two visits share the same time; give each visit its own week.")
        T = t.size
        one = np.ones(T)
        if key == "intercept":
            basis = [np.outer(one, one), np.eye(T)]
            names = ["var(Intercept)", "Residual"]
        else:
            if T < 3:
                raise SpecError(
                    f"A random slope needs at least 3 distinct visit times; this analysis has {T}, so "
                    "intercept, slope and residual variances cannot be told apart -- use random='intercept'."
                )
            basis = [np.outer(one, one), np.outer(one, t) + np.outer(t, one), np.outer(t, t), np.eye(T)]
            names = ["var(Intercept)", "cov(Intercept,slope)", "var(slope)", "Residual"]
        super().__init__("lmm_" + key.replace("+", "_"), T, np.stack(basis), names)
        self.random = key
        self.times = t
        self.n_random = 1 if key == "intercept" else 2

    # G <-> theta
    def g_matrix(self, theta) -> np.ndarray:
        """The random-effects covariance G (1 x 1 or 2 x 2)."""
        theta = np.asarray(theta, float)
        if self.n_random == 1:
            return np.array([[theta[0]]])
        return np.array([[theta[0], theta[1]], [theta[1], theta[2]]])

    def _from_g(self, G: np.ndarray, s2: float) -> np.ndarray:
        if self.n_random == 1:
            return np.array([G[0, 0], s2])
        return np.array([G[0, 0], G[1, 0], G[1, 1], s2])

    def valid(self, theta) -> bool:
        theta = np.asarray(theta, float)
        if theta.shape != (self.n_params,) or not np.all(np.isfinite(theta)) or theta[-1] <= 0:
            return False
        try:
            np.linalg.cholesky(self.g_matrix(theta))
        except np.linalg.LinAlgError:
            return False
        return True

    def to_unconstrained(self, theta) -> np.ndarray:
        theta = np.asarray(theta, float)
        L = np.linalg.cholesky(self.g_matrix(theta))
        if self.n_random == 1:
            return np.array([np.log(L[0, 0]), np.log(theta[-1])])
        return np.array([np.log(L[0, 0]), L[1, 0], np.log(L[1, 1]), np.log(theta[-1])])

    def from_unconstrained(self, u) -> np.ndarray:
        u = np.asarray(u, float)
        if self.n_random == 1:
            return np.array([np.exp(2.0 * u[0]), np.exp(u[1])])
        L = np.array([[np.exp(u[0]), 0.0], [u[1], np.exp(u[2])]])
        return self._from_g(L @ L.T, float(np.exp(u[3])))

    def start(self, S: np.ndarray) -> np.ndarray:
        """Least-squares fit of ``Z G Z' + s2 I`` to a T x T covariance estimate, made valid."""
        S = np.asarray(S, float)
        S = np.where(np.isfinite(S), S, 0.0)
        S = (S + S.T) / 2.0
        scale = float(np.mean(np.diag(S))) if np.all(np.diag(S) > 0) else 1.0
        flat = self.basis.reshape(self.n_params, -1)
        theta, *_ = np.linalg.lstsq(flat.T, S.reshape(-1), rcond=None)
        G = self.g_matrix(theta)
        w, Q = np.linalg.eigh(G)
        floor = 1e-2 * scale if self.n_random == 1 else 1e-2 * scale / (1.0 + float(np.max(self.times ** 2)))
        w = np.maximum(w, floor)
        G = (Q * w) @ Q.T
        s2 = max(float(theta[-1]), 0.1 * scale)
        return self._from_g(G, s2)


def _random_key(random: str) -> str:
    key = str(random).strip().lower().replace(" ", "")
    key = {"slope": "intercept+slope", "intercept_slope": "intercept+slope", "1": "intercept"}.get(key, key)
    if key not in RANDOM:
        raise SpecError(f"random must be 'intercept' or 'intercept+slope', not {random!r}.")
    return key
