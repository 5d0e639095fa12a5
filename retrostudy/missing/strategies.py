"""Reference-based imputation strategies: the mean and covariance a subject's values follow.

Each strategy takes the subject's own-arm distribution ``(mu_own, S_own)``, the
reference arm's ``(mu_ref, S_ref)`` (the same covariates, the reference arm's
coefficients) and the index of the first visit affected by the ICE, and returns the
joint distribution of the subject's values at all visits. Definitions follow
Carpenter, Roger & Kenward (2013, J Biopharm Stat 23:1352) as implemented in rbmi
(``strategies.R``):

* MAR: own arm throughout.
* J2R (jump to reference): own means before the ICE, the reference arm's means from
  it on.
* CR (copy reference): the reference arm's means and covariance throughout.
* CIR (copy increments from reference): from the ICE on, the own mean at the last
  visit before the ICE plus the reference arm's change since that visit.
* LMCF (last mean carried forward): the own mean at the last visit before the ICE,
  carried forward; own covariance.

For J2R and CIR the covariance keeps the subject's own arm before the ICE and the
reference arm's conditional structure after it (rbmi's ``compute_sigma``)::

    S11 = S_own[a, a]
    S21 = S_ref[b, a] S_ref[a, a]^-1 S_own[a, a]
    S22 = S_ref[b, b] - S_ref[b, a] S_ref[a, a]^-1 (S_ref[a, a] - S_own[a, a]) S_ref[a, a]^-1 S_ref[a, b]

(a: visits before the ICE, b: at or after it). With one covariance for all arms
(``same_cov=True``) this is just that covariance.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelError

__all__ = ["mixed_sigma", "strategy_distribution"]


def mixed_sigma(S_own: np.ndarray, S_ref: np.ndarray, n_before: int) -> np.ndarray:
    """rbmi's ``compute_sigma``: own covariance before the ICE, reference conditional structure after."""
    T = S_own.shape[0]
    if S_own is S_ref or np.array_equal(S_own, S_ref) or n_before == T:
        return S_own if n_before == T else S_ref
    if n_before == 0:
        return S_ref
    a, b = slice(0, n_before), slice(n_before, T)
    R11_inv = np.linalg.inv(S_ref[a, a])
    T11 = S_own[a, a]
    S21 = S_ref[b, a] @ R11_inv @ T11
    S22 = S_ref[b, b] - S_ref[b, a] @ R11_inv @ (S_ref[a, a] - T11) @ R11_inv @ S_ref[a, b]
    out = np.empty_like(S_own)
    out[a, a] = T11
    out[b, a] = S21
    out[a, b] = S21.T
    out[b, b] = S22
    return out


def strategy_distribution(strategy: str, ice_index: int, mu_own: np.ndarray, mu_ref: np.ndarray,
                          S_own: np.ndarray, S_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Joint mean (m, T) and covariance (T, T) of subjects sharing arm, reference, strategy and ICE visit.

    ``ice_index`` is the first affected visit (T when there is no ICE); the values
    before it follow MAR.
    """
    T = mu_own.shape[1]
    k = int(min(ice_index, T)) if strategy != "mar" else T
    if k == T:  # MAR throughout
        return mu_own, S_own
    if strategy == "cr":
        return mu_ref, S_ref
    if strategy == "lmcf":
        if k == 0:
            raise ModelError("LMCF needs a visit before the intercurrent event; a subject's ICE is at the first visit.")
        mu = mu_own.copy()
        mu[:, k:] = mu_own[:, [k - 1]]
        return mu, S_own
    if k == 0:  # J2R and CIR from the first visit on: the reference arm throughout
        return mu_ref, S_ref
    mu = mu_own.copy()
    if strategy == "j2r":
        mu[:, k:] = mu_ref[:, k:]
    elif strategy == "cir":
        mu[:, k:] = mu_own[:, [k - 1]] + (mu_ref[:, k:] - mu_ref[:, [k - 1]])
    else:  # pragma: no cover - strategies are validated on input
        raise ModelError(f"Unknown strategy {strategy!r}.")
    return mu, mixed_sigma(S_own, S_ref, k)
