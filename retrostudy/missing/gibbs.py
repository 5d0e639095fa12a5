"""Bayesian multiple imputation: a Gibbs sampler for the multivariate normal MMRM.

The imputation model is ``y_i ~ N(X_i beta, Sigma_g)`` for the values that follow MAR
(values after a reference-based ICE are treated as missing, as in rbmi's
``method_bayes``), with ``g`` the subject's arm when ``same_cov=False`` and one group
otherwise. The prior (stated, and recorded in the result's settings):

* ``beta``: flat (improper uniform), as in rbmi and the SAS five macros;
* ``Sigma_g``, ``prior="inverse-wishart"`` (default): inverse-Wishart with ``T + 2``
  df and scale the REML estimate of the same model (``Sigma_g ~ IW(T + 2,
  Sigma_REML)``, whose mean is ``Sigma_REML``): the prior of the SAS five macros and
  of rbmi's ``method_bayes`` (rbmi's ``stat_specs`` vignette, "Inverse Wishart prior
  for unstructured covariance matrix"), weakly informative;
  ``prior="jeffreys"``: the improper Jeffreys prior ``p(Sigma) ∝ |Sigma|^{-(T+1)/2}``
  (inverse-Wishart with 0 df and zero scale), for comparison.

The sampler augments the data (Tanner & Wong 1987; Schafer 1997, ch. 5): starting from
the REML estimates, each iteration (1) draws every missing value from its normal
distribution given the subject's observed values, (2) draws ``Sigma_g`` from its
inverse-Wishart full conditional ``IW(n_g + nu_0, R_g'R_g + Psi_0)`` (``R_g``: residuals
of the completed data of group g), (3) draws ``beta`` from ``N(A^-1 c, A^-1)`` with
``A = sum_i X_i' Sigma^-1 X_i``, ``c = sum_i X_i' Sigma^-1 y_i``. After ``burn_in``
iterations every ``thin``-th ``(beta, Sigma)`` is kept, and each kept draw imputes the
missing values by the strategy (random draws, :func:`~retrostudy.missing.impute.impute`),
is analysed and pooled by Rubin's rules.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ModelError, SpecError
from .analyse import analyse
from .impute import impute
from .model import Params

__all__ = ["PRIORS", "bayes_imputations", "gibbs_draws"]

PRIORS = ("inverse-wishart", "jeffreys")


def _inv_wishart(rng: np.random.Generator, df: float, scale: np.ndarray) -> np.ndarray:
    """One draw from IW(df, scale) by the Bartlett decomposition of its inverse, a Wishart(df, scale^-1)."""
    T = scale.shape[0]
    Lw = np.linalg.cholesky(np.linalg.inv(scale))
    A = np.zeros((T, T))
    A[np.diag_indices(T)] = np.sqrt(rng.chisquare(df - np.arange(T)))
    A[np.tril_indices(T, -1)] = rng.standard_normal(T * (T - 1) // 2)
    LA = Lw @ A
    W = LA @ LA.T
    S = np.linalg.inv(W)
    return (S + S.T) / 2.0


def gibbs_draws(payload, setup, n_draws: int, rng: np.random.Generator, *, prior: str = "inverse-wishart",
                burn_in: int = 200, thin: int = 50) -> list[Params]:
    """``n_draws`` posterior draws of ``(beta, Sigma per arm)`` (module docstring)."""
    if prior not in PRIORS:
        raise SpecError(f"prior must be one of {', '.join(PRIORS)}, not {prior!r}.")
    if int(burn_in) < 0 or int(thin) < 1:
        raise SpecError("burn_in must be 0 or more and thin at least 1.")
    model = payload.model
    data = model.data
    T = data.T
    mask = model.fit_mask
    keep = np.flatnonzero(mask.any(axis=1))
    X = model.X_own[keep]  # (n, T, p)
    Y = np.where(mask[keep], data.Y[keep], np.nan)
    miss = np.isnan(Y)
    A_ = len(data.arms)
    group = np.zeros(len(keep), dtype=np.int64) if model.same_cov else data.arm_code[keep]
    G = 1 if model.same_cov else A_
    p = X.shape[2]
    n_g = np.bincount(group, minlength=G)
    if np.any(n_g < T) and prior == "jeffreys":
        raise ModelError("A covariance group has fewer subjects than visits; the Jeffreys prior needs at least as many.")
    XX = [np.einsum("itp,isq->tspq", X[group == g], X[group == g]) for g in range(G)]
    # missing-pattern groups
    pats: dict[tuple, list[int]] = {}
    for i in np.flatnonzero(miss.any(axis=1)):
        pats.setdefault((int(group[i]), miss[i].tobytes()), []).append(int(i))
    pat_list = [(g, np.frombuffer(m, dtype=bool), np.array(rows)) for (g, m), rows in pats.items()]
    beta = setup.params.beta.copy()
    sig0 = setup.params.sigma
    Sigma = np.stack([sig0[0]] if model.same_cov else [sig0[a] for a in range(A_)])
    nu0, Psi0 = (0.0, np.zeros((G, T, T))) if prior == "jeffreys" else (T + 2.0, Sigma.copy())
    Yc = np.where(miss, 0.0, Y)
    draws: list[Params] = []
    total = int(burn_in) + int(thin) * int(n_draws)
    for it in range(1, total + 1):
        mu = X @ beta  # (n, T)
        for g, q, rows in pat_list:  # (1) missing values
            S = Sigma[g]
            o = ~q
            if o.any():
                K = np.linalg.solve(S[np.ix_(o, o)], S[np.ix_(o, q)]).T
                cm = mu[np.ix_(rows, q)] + (Y[np.ix_(rows, o)] - mu[np.ix_(rows, o)]) @ K.T
                cov = S[np.ix_(q, q)] - K @ S[np.ix_(o, q)]
            else:
                cm = mu[np.ix_(rows, q)]
                cov = S[np.ix_(q, q)]
            L = np.linalg.cholesky((cov + cov.T) / 2.0)
            Yc[np.ix_(rows, q)] = cm + rng.standard_normal(cm.shape) @ L.T
        R = Yc - mu  # (2) covariances
        for g in range(G):
            Rg = R[group == g]
            Sigma[g] = _inv_wishart(rng, n_g[g] + nu0, Rg.T @ Rg + Psi0[g])
        A = np.zeros((p, p))  # (3) coefficients
        c = np.zeros(p)
        for g in range(G):
            Sinv = np.linalg.inv(Sigma[g])
            A += np.einsum("ts,tspq->pq", Sinv, XX[g])
            sel = group == g
            c += np.einsum("itp,it->p", X[sel], Yc[sel] @ Sinv)
        A = (A + A.T) / 2.0
        LA = np.linalg.cholesky(A)
        mean = np.linalg.solve(A, c)
        beta = mean + np.linalg.solve(LA.T, rng.standard_normal(p))
        if it > burn_in and (it - burn_in) % thin == 0:
            sig = np.stack([Sigma[0]] * A_) if model.same_cov else Sigma.copy()
            draws.append(Params(beta=beta.copy(), sigma=sig))
    return draws


def bayes_imputations(payload, setup, M: int, root: np.random.SeedSequence, *, prior: str = "inverse-wishart",
                      burn_in: int = 200, thin: int = 50) -> tuple[list[tuple], dict[str, Any]]:
    """Gibbs draws, then one random imputation and analysis per draw: ``([(est, se, df)], settings)``."""
    chain_ss, impute_ss = root.spawn(2)
    draws = gibbs_draws(payload, setup, M, np.random.default_rng(chain_ss), prior=prior, burn_in=burn_in, thin=thin)
    rng = np.random.default_rng(impute_ss)
    everyone = np.arange(payload.n)
    out = []
    for params in draws:
        Y = impute(payload.model, payload.plan, params, everyone, rng=rng)
        out.append(analyse(payload.analysis, Y, everyone, payload.deltas))
    prior_text = ("flat on beta, Jeffreys |Sigma|^-(T+1)/2 on each covariance" if prior == "jeffreys" else
                  "flat on beta, inverse-Wishart(T + 2, REML covariance) on each covariance (as the five macros)")
    extra = {"prior": prior, "burn_in": int(burn_in), "thin": int(thin),
             "notes": [(f"Gibbs sampler: {burn_in} burn-in iterations, every {thin}th of the next {thin * M} kept; "
                       f"prior {prior_text}.")]}
    return out, extra
