"""Optimizers of the REML engine: starting values, damped Newton-Raphson in SAS's
parameterization with a positive-definite-keeping line search, and the BFGS fallback
in unconstrained coordinates."""
from __future__ import annotations

import numpy as np
from scipy import optimize

from ._linalg import diag_scale
from .covariance import CovarianceStructure
from .patterns import RemlProblem

__all__ = ["empirical_start", "newton", "chord", "bfgs", "Singular", "min_eig_ratio"]


def empirical_start(problem: RemlProblem, structure: CovarianceStructure) -> np.ndarray:
    """Starting theta from the pairwise covariance of OLS residuals (per group)."""
    p, T, G = problem.p, problem.n_times, problem.n_groups
    XtX = sum((pat.XX.reshape(pat.m, pat.m, p, p)[np.arange(pat.m), np.arange(pat.m)]).sum(0)
              for pat in problem.patterns)
    Xty = sum(pat.XY.reshape(pat.m, pat.m, p)[np.arange(pat.m), np.arange(pat.m)].sum(0)
              for pat in problem.patterns)
    b = np.linalg.lstsq(XtX, Xty, rcond=None)[0]
    num = np.zeros((G, T, T))
    cnt = np.zeros((G, T, T))
    for pat in problem.patterns:
        r = pat.y - pat.X @ b
        idx = pat.ix
        num[pat.group][idx] += r.T @ r
        cnt[pat.group][idx] += pat.n
    S = np.where(cnt > 1, num / np.maximum(cnt, 1), 0.0)
    for g in range(G):
        d = np.diag(S[g]).copy()
        fill = d[d > 0].mean() if np.any(d > 0) else 1.0
        d[d <= 0] = fill
        S[g][np.diag_indices(T)] = d
    return structure.start(S if G > 1 else S[0])


class Singular(Exception):
    """The optimizer is heading for a singular covariance (unbounded likelihood)."""


def min_eig_ratio(structure: CovarianceStructure, theta, problem: RemlProblem) -> float:
    """Smallest eigenvalue ratio over the observed blocks (group, visits) of Sigma."""
    sig = structure.group_matrices(theta)
    out = np.inf
    for pat in problem.patterns:
        w = np.linalg.eigvalsh(sig[pat.group][pat.ix])
        out = min(out, float(w[0] / max(w[-1], 1e-300)))
    return out


def newton(ev, structure, theta, max_iter: int, tol: float):
    """Damped Newton-Raphson with a positive-definite-keeping line search."""
    cur = ev(theta, 2)
    for it in range(1, max_iter + 1):
        g, H = cur.grad, cur.hess
        # Newton in diagonally scaled coordinates: variances (any unit) and correlations mix in theta
        D = diag_scale(H)
        w, V = np.linalg.eigh(H * D[:, None] * D[None, :])
        scale = max(np.max(np.abs(w)), 1e-12)
        w_mod = np.where(w > 1e-10 * scale, w, np.maximum(np.abs(w), 1e-6 * scale))
        step = -D * (V @ ((V.T @ (D * g)) / w_mod))
        crit = float(-(g @ step))
        if crit < tol:
            return theta, cur, it - 1, True
        slope, f0 = float(g @ step), cur.f

        def sufficient(trial, t: float, slope: float = slope, f0: float = f0) -> bool:  # Armijo
            return trial.f <= f0 + 1e-4 * t * slope + 1e-12 * abs(f0)

        # the full step first, evaluated with its derivatives: near the optimum (warm-started refits) it is
        # accepted and that evaluation is the next iteration's; otherwise backtrack on -2 log L alone
        full = theta + step
        nxt = None
        if structure.valid(full):
            try:
                nxt = ev(full, 2)
            except (np.linalg.LinAlgError, Singular):
                nxt = None
            if nxt is not None and not sufficient(nxt, 1.0):
                nxt = None
        if nxt is not None:
            theta, cur = full, nxt
            continue
        t = 0.5
        accepted = False
        while t > 1e-12:
            cand = theta + t * step
            if structure.valid(cand):
                try:
                    trial = ev(cand, 0)
                except np.linalg.LinAlgError:
                    trial = None
                if trial is not None and sufficient(trial, t):
                    accepted = True
                    break
            t /= 2.0
        if not accepted:
            return theta, cur, it, crit < 1e3 * tol
        theta = cand
        cur = ev(theta, 2)
    g, H = cur.grad, cur.hess
    D = diag_scale(H)
    try:
        crit = float((D * g) @ np.linalg.solve(H * D[:, None] * D[None, :], D * g))
    except np.linalg.LinAlgError:
        crit = np.inf
    return theta, cur, max_iter, 0 <= crit < tol


def chord(ev, structure, theta, H0: np.ndarray, max_iter: int, tol: float):
    """Newton's iteration with a fixed Hessian ``H0`` (the chord method) and first-order evaluations.

    For a replicate warm-started at a neighbouring fit (a jackknife or bootstrap sample), the
    neighbour's Hessian is within O(1/n) of the replicate's, so each step shrinks the error by about
    that factor while costing a gradient instead of a Hessian. Returns ``(theta, evaluation, iterations)``
    at convergence (``g' H0^-1 g < tol``), or None when a step does not decrease -2 log L or the
    iteration does not settle (the caller then runs the full Newton iteration).
    """
    D = diag_scale(H0)
    try:
        L = np.linalg.cholesky(H0 * D[:, None] * D[None, :])
    except np.linalg.LinAlgError:
        return None
    cur = ev(theta, 1)
    for it in range(max_iter):
        Dg = D * cur.grad
        z = np.linalg.solve(L.T, np.linalg.solve(L, Dg))
        step = -D * z
        crit = float(Dg @ z)
        if crit < tol:
            return theta, cur, it
        cand = theta + step
        if not structure.valid(cand):
            return None
        try:
            nxt = ev(cand, 1)
        except np.linalg.LinAlgError:
            return None
        if nxt.f > cur.f + 1e-12 * abs(cur.f):
            return None
        theta, cur = cand, nxt
    return None


def bfgs(ev, structure, theta):
    def fun(u):
        th = structure.from_unconstrained(u)
        try:
            e = ev(th, 1)
        except np.linalg.LinAlgError:
            return 1e300, np.zeros_like(u)
        # chain rule through a central-difference Jacobian of theta(u)
        h = 1e-6
        Jt = np.empty((len(u), len(th)))
        for k in range(len(u)):
            up, um = u.copy(), u.copy()
            up[k] += h
            um[k] -= h
            Jt[k] = (structure.from_unconstrained(up) - structure.from_unconstrained(um)) / (2 * h)
        return e.f, Jt @ e.grad

    res = optimize.minimize(fun, structure.to_unconstrained(theta), jac=True, method="BFGS",
                            options={"maxiter": 500, "gtol": 1e-7})
    return structure.from_unconstrained(res.x), res
