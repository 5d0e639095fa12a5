"""Imputation of the missing values from the strategy's distribution.

Subjects are grouped by (arm, reference arm, strategy, ICE visit, pattern of missing
visits): every subject of a group shares the covariance and the conditioning, so a
group costs one small factorization. A missing value is imputed from the normal
distribution of the missing visits given every observed value of the subject
(including values observed after a reference-based ICE, as rbmi does): its mean
(conditional mean imputation) or a draw from it (multiple imputation).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import MIData
from .ice import IceSpec
from .model import ImputationModel, Params
from .strategies import strategy_distribution

__all__ = ["Plan", "impute", "make_plan"]


@dataclass(frozen=True, eq=False)
class Plan:
    """Which values to impute and how (see the module docstring)."""

    key: np.ndarray  # (n,) group of each subject; -1 = nothing to impute
    arm: np.ndarray  # (G,) per group
    ref: np.ndarray  # (G,)
    strategy: tuple[str, ...]  # (G,)
    ice_index: np.ndarray  # (G,)
    missing: np.ndarray  # (G, T) bool
    reference_of: np.ndarray  # (A,) reference arm of each arm
    imputed: np.ndarray  # (n, T) values to impute
    post_ice_imputed: np.ndarray  # (n, T) imputed values at or after the ICE (delta applies here)


def make_plan(data: MIData, ice: IceSpec, reference_of: np.ndarray) -> Plan:
    """Group the subjects with missing values (module docstring)."""
    T = data.T
    imputed = ~data.observed
    needs = imputed.any(axis=1)
    k_eff = np.where(ice.strategy == "mar", T, ice.index)
    keys: dict[tuple, int] = {}
    key = np.full(data.n, -1, dtype=np.int64)
    for i in np.flatnonzero(needs):
        a = int(data.arm_code[i])
        sig = (a, int(reference_of[a]), str(ice.strategy[i]) if k_eff[i] < T else "mar", int(min(k_eff[i], T)),
               imputed[i].tobytes())
        key[i] = keys.setdefault(sig, len(keys))
    sigs = sorted(keys, key=lambda k: keys[k])
    return Plan(
        key=key,
        arm=np.array([s[0] for s in sigs], dtype=np.int64),
        ref=np.array([s[1] for s in sigs], dtype=np.int64),
        strategy=tuple(s[2] for s in sigs),
        ice_index=np.array([s[3] for s in sigs], dtype=np.int64),
        missing=np.array([np.frombuffer(s[4], dtype=bool) for s in sigs]).reshape(len(sigs), T),
        reference_of=np.asarray(reference_of, dtype=np.int64),
        imputed=imputed,
        post_ice_imputed=imputed & ice.post_ice(T),
    )


def impute(model: ImputationModel, plan: Plan, params: Params, sample: np.ndarray,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """The completed outcome (m, T) of the subjects ``sample`` (positions; repeats allowed).

    ``rng=None`` imputes the conditional mean; a Generator draws from the conditional
    distribution.
    """
    sample = np.asarray(sample, dtype=np.int64)
    Y = model.data.Y[sample].copy()
    keys = plan.key[sample]
    todo = np.flatnonzero(keys >= 0)
    if todo.size == 0:
        return Y
    order = todo[np.argsort(keys[todo], kind="stable")]
    bounds = np.flatnonzero(np.diff(keys[order])) + 1
    beta = params.beta
    for rows in np.split(order, bounds):
        g = int(keys[rows[0]])
        subj = sample[rows]
        a, r = int(plan.arm[g]), int(plan.ref[g])
        mu_own = model.X_own[subj] @ beta
        mu_ref = model.X_as[r][subj] @ beta if plan.strategy[g] != "mar" else mu_own
        mu, S = strategy_distribution(plan.strategy[g], int(plan.ice_index[g]), mu_own, mu_ref,
                                      params.sigma[a], params.sigma[r])
        q = plan.missing[g]
        o = ~q
        if o.any():
            S_oo = S[np.ix_(o, o)]
            K = np.linalg.solve(S_oo, S[np.ix_(o, q)]).T  # (n_q, n_o): S_qo S_oo^-1
            cm = mu[:, q] + (Y[np.ix_(rows, o)] - mu[:, o]) @ K.T
        else:
            K = None
            cm = mu[:, q]
        if rng is not None:
            cov = S[np.ix_(q, q)] - (K @ S[np.ix_(o, q)] if K is not None else 0.0)
            L = np.linalg.cholesky((cov + cov.T) / 2.0)
            cm = cm + rng.standard_normal(cm.shape) @ L.T
        Y[np.ix_(rows, q)] = cm
    return Y
