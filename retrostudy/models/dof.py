"""Denominator degrees of freedom for Wald t and F tests of mixed-model fixed effects.

Notation as in DESIGN.md section 7.1 (covariance parameters i, j):

* Satterthwaite (SAS ``DDFM=SATTERTHWAITE``, lmerTest): for one contrast ``l``,
  ``df = 2 (l'Cl)^2 / (g' W g)`` with ``C = (X'V^-1X)^-1``, ``g_i = d(l'Cl)/dtheta_i =
  l'C Q_i C l`` (``Q_i = X'V^-1 V_i V^-1 X``, the engine's ``RemlFit.Q``) and ``W`` the
  asymptotic covariance of theta (2 x inverse Hessian of -2 log L); Giesbrecht & Burns
  (1985), Biometrics 41:477-486.
  For a q-row ``L`` the F test's df follow Fai & Cornelius (1996), J. Statist. Comput.
  Simul. 54:363-378: spectral decomposition ``LCL' = U D U'``, one Satterthwaite df
  ``nu_m`` per eigen-contrast, ``E = sum nu_m / (nu_m - 2)`` over ``nu_m > 2``, and
  ``df = 2E / (E - q)`` (as SAS PROC MIXED and lmerTest compute it).
* Between-within (SAS ``DDFM=BW`` for REPEATED-only models; Schluchter & Elashoff 1990):
  a term whose columns are constant within every subject gets ``n_subjects -
  rank(between columns incl. intercept)``; a term varying within subjects gets
  ``n_obs - n_subjects - rank(within columns)``; a contrast gets the smallest df of the
  terms it involves.
* Residual: ``n_obs - rank(X)``.

:func:`type3_hypotheses` builds SAS's Type 3 hypothesis matrices for a treatment-coded
design: a term's Type 3 hypothesis is "its coefficients are zero" in the sum-to-zero
(effects) coding of the same formula, mapped back to the treatment-coded coefficients.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import product

import numpy as np
import pandas as pd

from ..design import Design
from ..errors import SpecError

__all__ = ["satterthwaite_dof", "satterthwaite_ftest", "wald_f", "between_within_df", "type3_hypotheses"]


def satterthwaite_dof(L, vcov: np.ndarray, Q: np.ndarray, theta_cov: np.ndarray) -> np.ndarray:
    """Satterthwaite df of each row of ``L`` (Giesbrecht & Burns 1985).

    Parameters
    ----------
    L
        (k, p) or (p,) contrasts.
    vcov
        ``C = (X'V^-1X)^-1`` (p, p).
    Q
        (n_theta, p, p): ``Q_i = X'V^-1 V_i V^-1 X``, so that ``dC/dtheta_i = C Q_i C``.
        Kenward & Roger's ``P_i = -Q_i`` gives the same df (``g`` enters as ``g'Wg``).
    theta_cov
        ``W`` (n_theta, n_theta), the asymptotic covariance of theta.

    Returns
    -------
    numpy.ndarray
        k df (infinite without covariance parameters).
    """
    L = np.atleast_2d(np.asarray(L, float))
    LC = L @ vcov
    var = np.einsum("rk,rk->r", LC, L)
    if Q.shape[0] == 0:
        return np.full(len(L), np.inf)
    g = np.einsum("rk,ikl,rl->ri", LC, Q, LC)
    den = np.einsum("ri,ij,rj->r", g, theta_cov, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2.0 * var**2 / den


def wald_f(L, beta: np.ndarray, vcov: np.ndarray) -> tuple[float, int]:
    """Wald F statistic ``(Lb)'(L V L')^-1 (Lb) / q`` and ``q``."""
    L = np.atleast_2d(np.asarray(L, float))
    q = np.linalg.matrix_rank(L)
    if q < L.shape[0]:
        raise SpecError("The rows of the hypothesis matrix L are linearly dependent; drop the redundant rows.")
    lb = L @ beta
    return float(lb @ np.linalg.solve(L @ vcov @ L.T, lb) / q), int(q)


def satterthwaite_ftest(L, beta, vcov, Q, theta_cov, *, test_vcov=None) -> tuple[float, float, float]:
    """F test of ``L b = 0`` with Fai & Cornelius (1996) Satterthwaite df.

    ``test_vcov`` (default ``vcov``) is the covariance used in the F statistic.
    Returns ``(F, num_df, den_df)``.
    """
    L = np.atleast_2d(np.asarray(L, float))
    F, q = wald_f(L, beta, vcov if test_vcov is None else test_vcov)
    w, U = np.linalg.eigh(L @ vcov @ L.T)
    nu = satterthwaite_dof(U.T @ L, vcov, Q, theta_cov)
    if q == 1:
        return F, 1.0, float(nu[0])
    if np.allclose(nu, nu[0], rtol=1e-8):
        return F, float(q), float(np.mean(nu))
    big = nu > 2
    E = float(np.sum(nu[big] / (nu[big] - 2.0)))
    ddf = 2.0 * E / (E - q) if E > q else float(np.min(nu))
    return F, float(q), float(ddf)


def between_within_df(term_index: Mapping[str, Sequence[int]], X: np.ndarray,
                      subject: np.ndarray) -> tuple[np.ndarray, dict]:
    """Per-column between-within df (SAS DDFM=BW without RANDOM effects).

    ``term_index`` maps each term of the mean model to its columns of ``X``
    (:attr:`retrostudy.design.Design.term_index`).

    Returns the df of each column of ``X`` and a summary dict (``between``, ``within``,
    term classification).
    """
    X = np.asarray(X, float)
    codes, s = np.unique(np.asarray(subject), return_inverse=True)
    n_subj, n_obs = len(codes), len(X)
    # a column varies within subjects when some subject has two different values
    varies = np.zeros(X.shape[1], dtype=bool)
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    same = s_sorted[1:] == s_sorted[:-1]
    diff = np.abs(np.diff(X[order], axis=0)) > 1e-12 * (1.0 + np.abs(X[order][1:]))
    varies = np.any(diff & same[:, None], axis=0)
    term_within: dict[str, bool] = {}
    col_within = np.zeros(X.shape[1], dtype=bool)
    for term, cols in term_index.items():
        w = term != "Intercept" and bool(np.any(varies[list(cols)]))
        term_within[term] = w
        col_within[list(cols)] = w
    rank_between = np.linalg.matrix_rank(X[:, ~col_within]) if np.any(~col_within) else 0
    rank_within = X.shape[1] - rank_between
    df_between = float(n_subj - rank_between)
    df_within = float(n_obs - n_subj - rank_within)
    col_df = np.where(col_within, df_within, df_between)
    return col_df, {"between": df_between, "within": df_within, "term_within": term_within}


def bw_dof(L, col_df: np.ndarray) -> np.ndarray:
    """Between-within df of each row of ``L``: the smallest df of the columns it uses."""
    L = np.atleast_2d(np.asarray(L, float))
    out = np.empty(len(L))
    for i, row in enumerate(L):
        used = np.abs(row) > 1e-12
        out[i] = np.min(col_df[used]) if np.any(used) else np.max(col_df)
    return out


def _sum_coded(design: Design, frame: pd.DataFrame) -> np.ndarray:
    """Model matrix of the same formula in sum-to-zero coding (for Type 3 tests)."""
    n = len(frame)
    ind = {}
    for name, fac in design.factors.items():
        col = frame[name].astype(str).to_numpy()
        for level in fac.levels:
            ind[(name, level)] = (col == level).astype(float)
    num = {name: frame[name].to_numpy(float) for name in design.numerics}
    coded: dict[tuple[str, str], bool] = {}
    for term, cols in design.term_index.items():
        for var in term.split(":"):
            if var in design.factors:
                used = {lvl for j in cols for v, lvl in design.column_parts[j] if v == var}
                coded[(term, var)] = design.factors[var].reference not in used
    out = np.empty((n, len(design.columns)))
    col_term = {j: term for term, cols in design.term_index.items() for j in cols}
    for j, parts in enumerate(design.column_parts):
        col = np.ones(n)
        for var, lvl in parts:
            if lvl is None:
                col = col * num[var]
            elif coded.get((col_term[j], var), False):
                col = col * (ind[(var, lvl)] - ind[(var, design.factors[var].reference)])
            else:
                col = col * ind[(var, lvl)]
        out[:, j] = col
    return out


def type3_hypotheses(design: Design) -> Mapping[str, np.ndarray]:
    """SAS Type 3 hypothesis matrix of every term (except the intercept), for the
    treatment-coded coefficients of ``design``.

    The term's Type 3 hypothesis is that its coefficients are zero when the same formula
    is coded with sum-to-zero contrasts (numeric variables uncentred, as SAS); those
    coefficients are the rows of ``M^-1`` where ``X_sum = X_treatment M``. The rows are
    then re-expressed as SAS writes them (each level minus the reference level,
    averaged over the other factors), which matters for the Fai-Cornelius df of
    multi-row tests (they depend on the basis of the rows, not only their span).
    """
    names = list(design.factors) + list(design.numerics)
    levels = [list(design.factors[f].levels) for f in design.factors] + [[0.0, 1.0]] * len(design.numerics)
    grid = pd.DataFrame(list(product(*levels)), columns=names) if names else pd.DataFrame(index=[0])
    for f in design.factors:
        grid[f] = grid[f].astype(str)
    Xt = design.matrix(grid)
    Xs = _sum_coded(design, grid)
    M, *_ = np.linalg.lstsq(Xt, Xs, rcond=None)
    if not np.allclose(Xt @ M, Xs, atol=1e-8) or np.linalg.matrix_rank(M) < M.shape[0]:
        raise SpecError("Type 3 tests need a hierarchical mean model (every interaction's main effects present).")
    Minv = np.linalg.inv(M)
    out = {}
    for term, cols in design.term_index.items():
        if term == "Intercept":
            continue
        # SAS's rows are differences from the reference (last) level, not deviations
        # from the mean: alpha_i - alpha_ref = (alpha_i - mean) + sum_k (alpha_k - mean).
        B: np.ndarray = np.ones((1, 1))
        for var in term.split(":"):
            if var in design.factors:
                used = {lvl for j in cols for v, lvl in design.column_parts[j] if v == var}
                k = len(used)
                Bv = np.eye(k) + (np.ones((k, k)) if design.factors[var].reference not in used else 0.0)
                B = np.kron(Bv, B)  # first variable varies fastest in the columns
        out[term] = B @ Minv[list(cols)]
    return out
