"""Spatial covariance structures SAS SP(EXP)(c1 c2 ...) and SP(GAU)(c1 c2 ...).

``Sigma_ij = s2 * exp(-d_ij / rho)`` (EXP) or ``s2 * exp(-d_ij^2 / rho^2)`` (GAU) with
``d_ij`` the Euclidean distance between the coordinates of observations i and j of a
subject. theta = (rho, s2) in SAS's order and names ("SP(EXP)", "Residual"). The
coordinates belong to each subject's observations, so every subject has its own
covariance matrix: the structure presents one "group" per subject to the engine.
"""
from __future__ import annotations

import numpy as np

from ..errors import SpecError
from .covariance import CovarianceStructure

__all__ = ["SpatialStructure"]


class SpatialStructure(CovarianceStructure):
    """SP(EXP) / SP(GAU) with per-subject coordinates ``coords`` (n_subjects, T, dim)."""

    linear = False
    n_params = 2

    def __init__(self, kind: str, coords: np.ndarray):
        if kind not in ("sp_exp", "sp_gau"):
            raise SpecError(f"Unknown spatial structure {kind!r}; use 'sp_exp' or 'sp_gau'.")
        self.name = kind
        coords = np.nan_to_num(np.asarray(coords, float))
        self.n_groups, self.n_times = coords.shape[0], coords.shape[1]
        self.param_names = ["SP(EXP)" if kind == "sp_exp" else "SP(GAU)", "Residual"]
        diff = coords[:, :, None, :] - coords[:, None, :, :]
        self.D = np.sqrt(np.sum(diff**2, axis=-1))  # (G, T, T)

    def _pieces(self, theta, D=None):
        rho, s2 = float(theta[0]), float(theta[1])
        D = self.D if D is None else D
        if self.name == "sp_exp":
            E = np.exp(-D / rho)
            a = D / rho**2  # d log E / d rho
            da = -2.0 * D / rho**3
        else:
            E = np.exp(-(D**2) / rho**2)
            a = 2.0 * D**2 / rho**3
            da = -6.0 * D**2 / rho**4
        return rho, s2, E, a, da

    def group_matrices(self, theta) -> np.ndarray:
        _, s2, E, _, _ = self._pieces(theta)
        return s2 * E

    def group_jacobians(self, theta) -> np.ndarray:
        _, s2, E, a, _ = self._pieces(theta)
        return np.stack([s2 * E * a, E], axis=1)

    def group_hessians(self, theta) -> np.ndarray:
        _, s2, E, a, da = self._pieces(theta)
        H = np.zeros((self.n_groups, 2, 2, self.n_times, self.n_times))
        H[:, 0, 0] = s2 * E * (a**2 + da)
        H[:, 0, 1] = H[:, 1, 0] = E * a
        return H

    def matrix(self, theta) -> np.ndarray:
        return self.group_matrices(theta)[0]

    def jacobian(self, theta) -> np.ndarray:
        return self.group_jacobians(theta)[0]

    def hessian(self, theta) -> np.ndarray:
        return self.group_hessians(theta)[0]

    def valid(self, theta) -> bool:
        theta = np.asarray(theta, float)
        return theta.shape == (2,) and bool(np.all(np.isfinite(theta))) and theta[0] > 0 and theta[1] > 0

    def to_unconstrained(self, theta) -> np.ndarray:
        return np.log(np.asarray(theta, float))

    def from_unconstrained(self, u) -> np.ndarray:
        return np.exp(np.asarray(u, float))

    def start(self, S) -> np.ndarray:
        S = np.asarray(S, float)
        diag = np.diagonal(S, axis1=-2, axis2=-1)
        s2 = float(np.mean(diag[diag > 0])) if np.any(diag > 0) else 1.0
        d = self.D[self.D > 0]
        return np.array([float(np.median(d)) if d.size else 1.0, s2])

    def subject_view(self, g: int) -> SpatialStructure:
        """The structure of subject ``g`` alone (for code that wants one matrix per group)."""
        view = object.__new__(SpatialStructure)
        view.__dict__.update(self.__dict__)
        view.D = self.D[g:g + 1]
        view.n_groups = 1
        return view
