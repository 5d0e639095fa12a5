"""The REML / ML engine for the marginal model ``y_s ~ N(X_s beta, V_s(theta))``.

Notation as in DESIGN.md section 7.1 (subjects s, covariance parameters i, j, visits
a, b): ``V_s`` is the rows and columns of ``Sigma_g(theta)`` (a
:class:`CovarianceStructure`, one matrix per group) at subject s's observed visits,
optionally scaled by SAS ``WEIGHT``s: ``V_s = diag(w_s)^-1/2 Sigma_g diag(w_s)^-1/2``.
Subjects are grouped by (group, pattern of observed visits); each pattern keeps the
theta-free moments ``XX``, ``XY`` and ``YY`` (sums over its subjects of
``X_s[a, k] X_s[b, l]``, ``X_s[a, k] y_s[b]`` and ``y_s[a] y_s[b]``), so one likelihood,
gradient and Hessian evaluation costs a few small dense factorizations per pattern
whatever the number of subjects. Besides -2 log L, its gradient and Hessian, an
evaluation returns ``A = X'V^-1X``, ``C = A^-1`` and ``Q_i = X'V^-1 V_i V^-1 X``
(``dC/dtheta_i = C Q_i C``), which the Satterthwaite df need; Kenward & Roger (1997)
write ``P_i = -Q_i``.

The optimizer is Newton-Raphson on theta in SAS's parameterization with the exact
(observed) Hessian of -2 log L, eigenvalue-modified when it is not positive definite,
and a backtracking line search that keeps Sigma positive definite; when it fails it
falls back to BFGS in unconstrained coordinates (log-Cholesky etc.) and polishes with
Newton again. The asymptotic covariance of theta is ``2 H^{-1}`` with ``H`` the
Hessian of -2 log L (REML: restricted) in SAS's parameterization, as in SAS PROC MIXED
(observed information) and lmerTest.

Formulas: Harville (1977); Jennrich & Schluchter (1986); Wolfinger, Tobias & Sall (1994),
"Computing Gaussian likelihoods and their derivatives for general linear mixed models".
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import linalg

from ..errors import ConvergenceWarning, ModelError, SpecError
from ._linalg import diag_scale, gram_rank, sum_xax
from .covariance import CovarianceStructure
from .optimizer import Singular, bfgs, chord, empirical_start, min_eig_ratio, newton
from .patterns import Pattern, RemlProblem, prepare

__all__ = ["Pattern", "RemlProblem", "RemlFit", "Evaluation", "prepare", "evaluate", "fit_reml"]

_LOG2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """-2 log L and, when asked, its gradient and Hessian in theta."""

    f: float
    beta: np.ndarray
    A: np.ndarray  # X'V^-1X
    Ainv: np.ndarray  # C = A^-1
    grad: np.ndarray | None = None
    hess: np.ndarray | None = None
    Q: np.ndarray | None = None  # (n_theta, p, p): Q_i = X'V^-1 V_i V^-1 X = -dA/dtheta_i


def _pattern_inverse(Sig: np.ndarray, pat: Pattern):
    S_sub = Sig[pat.group][pat.ix]
    L = np.linalg.cholesky(S_sub)
    Li = np.linalg.inv(L)  # m <= visits: numpy's small inverse is cheaper than a scipy triangular solve
    return S_sub, Li.T @ Li, 2.0 * np.log(np.diag(L)).sum()


def evaluate(problem: RemlProblem, structure: CovarianceStructure, theta, method: str = "reml",
             order: int = 0) -> Evaluation:
    """-2 log L (``method`` "reml" or "ml") at theta; ``order`` 1 adds the gradient, 2 the
    Hessian and ``Q_i``. Raises ``np.linalg.LinAlgError`` when Sigma or X'V^-1X is not PD.

    Per pattern, with ``S = V^-1`` and residuals ``r_s = y_s - X_s beta``: ``RR = sum_s r_s r_s'``,
    ``E = S RR S``, ``D_i = S V_i S`` (so ``Q_i = sum_s X_s' D_i X_s``) and ``XCX = sum_s X_s C X_s'``.
    """
    reml = method == "reml"
    p = problem.p
    Sig = structure.group_matrices(theta)
    inv = []
    A = np.zeros((p, p))
    c = np.zeros(p)
    yVy = 0.0
    logdet = 0.0
    for pat in problem.patterns:
        S_sub, S, ld = _pattern_inverse(Sig, pat)
        inv.append(S)
        A += sum_xax(S, pat.XX, p)  # X' V^-1 X
        c += S.reshape(-1) @ pat.XY
        yVy += float(np.sum(S * pat.YY))
        logdet += pat.n * ld - pat.sum_log_w
    A = (A + A.T) / 2.0
    LA = np.linalg.cholesky(A)
    Ainv = linalg.cho_solve((LA, True), np.eye(p))
    beta = Ainv @ c
    yPy = yVy - float(c @ beta)
    if reml:
        f = logdet + 2.0 * np.log(np.diag(LA)).sum() + yPy + (problem.n_obs - p) * _LOG2PI
    else:
        f = logdet + yPy + problem.n_obs * _LOG2PI
    if order == 0:
        return Evaluation(float(f), beta, A, Ainv)
    J = structure.group_jacobians(theta)
    n_theta = J.shape[1]
    Hs = structure.group_hessians(theta) if (order >= 2 and not structure.linear) else None
    grad = np.zeros(n_theta)
    hess = np.zeros((n_theta, n_theta))
    Q: np.ndarray = np.zeros((n_theta, p * p))
    u = np.zeros((n_theta, p))  # X'V^-1 V_i V^-1 r
    bb = np.outer(beta, beta).reshape(-1)
    a_flat = Ainv.reshape(-1)
    for pat, S in zip(problem.patterns, inv):
        m = pat.m
        XYb = (pat.XY @ beta).reshape(m, m)
        RR = pat.YY - XYb - XYb.T + (pat.XX @ bb).reshape(m, m)
        E = S @ RR @ S
        M = pat.n * S - E
        if reml:
            XCX = (pat.XX @ a_flat).reshape(m, m)
            M = M - S @ XCX @ S
        idx = pat.visits
        dV = J[pat.group][:, idx][:, :, idx]  # V_i on this pattern's visits, (n_theta, m, m)
        mm = m * m
        grad += dV.reshape(n_theta, mm) @ M.reshape(mm)  # tr(V_i M)
        if order < 2:
            continue
        # traces of products as dot products of flattened matrices: tr(A B) = vec(A) . vec(B')
        SdV = S @ dV  # S V_i
        D = SdV @ S  # S V_i S
        SdV_f = SdV.reshape(n_theta, mm)
        hess -= pat.n * (SdV_f @ SdV.transpose(0, 2, 1).reshape(n_theta, mm).T)  # n tr(S dV_i S dV_j)
        Q += sum_xax(D, pat.XX, p).reshape(n_theta, p * p)
        XR = pat.XY - (pat.XX.reshape(mm, p, p) @ beta)
        u += D.reshape(n_theta, mm) @ XR
        F = SdV @ E
        hess += 2.0 * (F.reshape(n_theta, mm) @ dV.transpose(0, 2, 1).reshape(n_theta, mm).T)  # 2 tr(dV_j S dV_i E)
        if reml:
            SC = S @ XCX
            T2 = D.reshape(n_theta, mm) @ (dV @ SC).transpose(0, 2, 1).reshape(n_theta, mm).T  # tr(D_i dV_j S C)
            hess += T2 + T2.T
        if Hs is not None:
            d2V = Hs[pat.group][:, :, idx][:, :, :, idx]
            hess += d2V.reshape(n_theta, n_theta, mm) @ M.reshape(mm)
    if order < 2:
        return Evaluation(float(f), beta, A, Ainv, grad=grad)
    Q = Q.reshape(n_theta, p, p)
    if reml:
        AQ = Ainv @ Q  # (n_theta, p, p)
        hess -= AQ.reshape(n_theta, p * p) @ AQ.transpose(0, 2, 1).reshape(n_theta, p * p).T  # tr(C Q_i C Q_j)
    hess -= 2.0 * u @ Ainv @ u.T
    hess = (hess + hess.T) / 2.0
    return Evaluation(float(f), beta, A, Ainv, grad=grad, hess=hess, Q=Q)


def _chord_fit(problem: RemlProblem, structure: CovarianceStructure, method: str, theta: np.ndarray,
               H0: np.ndarray, ev: Any, max_iter: int, tol: float, n_subjects_ic: int | None) -> RemlFit | None:
    """The fit by the chord method (see ``fit_reml``'s ``hessian0``), or None to run Newton instead."""
    try:
        found = chord(ev, structure, theta, H0, max_iter, tol)
    except Singular:
        return None
    if found is None:
        return None
    theta_n, cur, iters = found
    D = diag_scale(H0)
    theta_cov = 2.0 * D[:, None] * np.linalg.inv(H0 * D[:, None] * D[None, :]) * D[None, :]
    assert cur.grad is not None
    return RemlFit(
        beta=cur.beta, vcov_beta=cur.Ainv, theta=theta_n, theta_names=list(structure.param_names),
        theta_cov=theta_cov, sigma=structure.group_matrices(theta_n), hessian=H0, gradient=cur.grad,
        Q=np.full((len(theta_n), problem.p, problem.p), np.nan), minus2_loglik=cur.f, method=method,
        structure=structure, problem=problem, converged=True, iterations=int(iters), optimizer="chord",
        hessian_pd=True, message="converged (chord method: a neighbouring fit's Hessian)",
        n_subjects_ic=n_subjects_ic, info={"approximate_hessian": True},
    )


def _one_visit_fit(problem: RemlProblem, structure: CovarianceStructure, method: str,
                   XtX: np.ndarray) -> tuple[np.ndarray, Evaluation] | None:
    """The optimum in closed form when there is one visit and one variance (``V = s2 I``), or None.

    This is the ANCOVA-shaped MMRM of a baseline + one-visit trial (every simulated replicate of
    it): OLS, with ``s2 = RSS / (n - p)`` (REML) or ``RSS / n`` (ML). With ``V = theta c I``
    (``c = dV/dtheta``), ``d = n - p`` (REML) or ``n`` (ML):

    * ``-2 log L = n log s2 + RSS / s2 + d log 2 pi`` (+ ``log|X'X| - p log s2`` for REML);
    * gradient ``c (d / s2 - RSS / s2^2)`` (zero at the optimum), Hessian
      ``c^2 (2 RSS / s2^3 - d / s2^2)`` (``= c^2 d / s2^2`` there);
    * ``A = X'X / s2``, ``C = s2 (X'X)^-1``, ``Q = c X'X / s2^2``.

    The same numbers as :func:`evaluate` (order 2) at this theta (tested), without its loops.
    """
    if problem.n_times != 1 or structure.n_params != 1 or not structure.linear or problem.weighted:
        return None
    if problem.n_groups != 1 or len(problem.patterns) != 1:
        return None
    pat = problem.patterns[0]
    p, n = problem.p, problem.n_obs
    Xty = pat.XY.reshape(-1)  # m = 1: (1, p)
    try:
        L = np.linalg.cholesky(XtX)
    except np.linalg.LinAlgError:
        return None
    XtX_inv = linalg.cho_solve((L, True), np.eye(p))
    beta = XtX_inv @ Xty
    rss = float(pat.YY[0, 0] - Xty @ beta)
    reml = method == "reml"
    d = n - (p if reml else 0)
    if d <= 0 or not rss > 0:
        return None
    s2 = rss / d
    c = float(structure.matrix(np.ones(1))[0, 0])  # linear: V = theta c
    theta = np.array([s2 / c])
    if not structure.valid(theta):
        return None
    f = n * math.log(s2) + rss / s2 + d * _LOG2PI
    if reml:
        f += 2.0 * np.log(np.diag(L)).sum() - p * math.log(s2)
    grad = np.array([c * (d / s2 - rss / s2 ** 2)])
    hess = np.array([[c * c * (2.0 * rss / s2 ** 3 - d / s2 ** 2)]])
    return theta, Evaluation(float(f), beta, XtX / s2, s2 * XtX_inv, grad=grad, hess=hess,
                             Q=(c / s2 ** 2) * XtX[None, :, :])


@dataclass(frozen=True, eq=False)
class RemlFit:
    """Result of :func:`fit_reml`.

    Attributes
    ----------
    beta, vcov_beta
        GLS fixed effects and their model-based covariance ``C = (X'V^-1X)^-1``.
    theta, theta_names, theta_cov
        Covariance parameters (SAS parameterization, SAS names) and their asymptotic
        covariance ``W = 2 H^{-1}`` (H: Hessian of -2 log L in theta).
    sigma
        ``(G, T, T)`` covariance of each group.
    hessian, gradient
        Of -2 log L in theta at the optimum.
    Q
        ``(n_theta, p, p)``: ``Q_i = X'V^-1 V_i V^-1 X`` so that ``dC/dtheta_i = C Q_i C``
        (Satterthwaite; Kenward & Roger's ``P_i`` is ``-Q_i``).
    """

    beta: np.ndarray
    vcov_beta: np.ndarray
    theta: np.ndarray
    theta_names: list[str]
    theta_cov: np.ndarray
    sigma: np.ndarray
    hessian: np.ndarray
    gradient: np.ndarray
    Q: np.ndarray
    minus2_loglik: float
    method: str
    structure: CovarianceStructure
    problem: RemlProblem
    converged: bool
    iterations: int
    optimizer: str
    hessian_pd: bool
    message: str = ""
    n_subjects_ic: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def loglik(self) -> float:
        return -self.minus2_loglik / 2.0

    @property
    def fit_stats(self) -> dict[str, Any]:
        """SAS conventions: REML AIC/BIC count covariance parameters only; ML counts
        fixed effects too; BIC uses the number of subjects."""
        q = len(self.theta) + (0 if self.method == "reml" else self.problem.p)
        n_sub = self.n_subjects_ic or self.problem.n_subjects
        return {
            "n_subjects": self.problem.n_subjects,
            "n_obs": self.problem.n_obs,
            "method": self.method,
            "loglik": self.loglik,
            "minus2_loglik": self.minus2_loglik,
            "aic": self.minus2_loglik + 2.0 * q,
            "bic": self.minus2_loglik + q * math.log(n_sub),
            "n_cov_params": len(self.theta),
            "iterations": self.iterations,
            "gradient_norm": float(np.max(np.abs(self.gradient))) if len(self.gradient) else 0.0,
            "hessian_pd": self.hessian_pd,
            "optimizer": self.optimizer,
            "converged": self.converged,
        }

    def evaluation(self, order: int = 2) -> Evaluation:
        return evaluate(self.problem, self.structure, self.theta, self.method, order)


def fit_reml(problem: RemlProblem, structure: CovarianceStructure, *, method: str = "reml", theta0=None,
             max_iter: int = 50, tol: float = 1e-10, n_subjects_ic: int | None = None,
             hessian0: np.ndarray | None = None) -> RemlFit:
    """Maximize the (restricted) likelihood over theta.

    Parameters
    ----------
    problem
        From :func:`prepare`.
    structure
        The covariance structure (its ``n_times`` must equal the problem's).
    method
        ``"reml"`` or ``"ml"``.
    theta0
        Starting values (SAS parameterization); default from OLS residuals.
    tol
        Convergence when ``g' H^{-1} g < tol`` (twice the predicted decrease of -2 log L).
    n_subjects_ic
        Number of subjects used in BIC (SAS counts subjects without any response too).
    hessian0
        The Hessian of a neighbouring fit (a replicate's full-data fit, warm-started at its
        ``theta0``): the optimum is then found by the chord method with first-order evaluations
        only, and the returned fit carries ``hessian0`` as an approximate Hessian and no ``Q`` (NaN):
        enough for beta and Sigma (imputation models), not for Satterthwaite or Kenward-Roger df.
        Falls back to the full Newton iteration when the chord method does not settle.

    Raises
    ------
    ModelError
        When the model is not identifiable (X rank deficient, more covariance
        parameters than the data carry) or no optimum could be found.
    """
    method = str(method).lower()
    if method not in ("reml", "ml"):
        raise SpecError(f"method must be 'reml' or 'ml', not {method!r}.")
    if structure.n_times != problem.n_times:
        raise RuntimeError("internal: the covariance structure and the data have different numbers of visits")
    p = problem.p
    XtX = sum(pat.XX.reshape(pat.m, pat.m, p, p)[np.arange(pat.m), np.arange(pat.m)].sum(0)
              for pat in problem.patterns)
    rank = gram_rank(XtX) if p else 0
    if rank < p:
        raise ModelError(
            f"The mean model has {p} columns but only rank {rank}: some effects are not estimable from these "
            "data (an empty cell or a covariate that is constant); simplify the mean model."
        )
    n_resid = problem.n_obs - (p if method == "reml" else 0)
    if structure.n_params > max(n_resid, 0):
        raise ModelError(
            f"The covariance structure has {structure.n_params} parameters but only {n_resid} residual degrees "
            "of freedom; use a simpler structure (e.g. 'cs' or 'ar1')."
        )

    def ev(th, order):
        if order == 2 and min_eig_ratio(structure, th, problem) < 1e-9:
            raise Singular
        return evaluate(problem, structure, th, method, order)

    closed = _one_visit_fit(problem, structure, method, XtX)
    if closed is not None:
        return _result(problem, structure, method, closed[0], closed[1], iters=0, ok=True,
                       optimizer="closed form", n_subjects_ic=n_subjects_ic)
    theta = np.asarray(theta0, float) if theta0 is not None else empirical_start(problem, structure)
    if not structure.valid(theta):
        raise ModelError("The starting covariance parameters do not give a positive definite covariance.")
    if hessian0 is not None and theta0 is not None:
        light = _chord_fit(problem, structure, method, theta, np.asarray(hessian0, float), ev, max_iter, tol,
                           n_subjects_ic)
        if light is not None:
            return light
    optimizer = "newton"
    try:
        try:
            theta_n, cur, iters, ok = newton(ev, structure, theta, max_iter, tol)
        except np.linalg.LinAlgError:
            ok, iters, theta_n, cur = False, 0, theta, None
        if not ok:
            optimizer = "newton->bfgs->newton"
            theta_b, res = bfgs(ev, structure, theta_n if cur is not None else theta)
            theta_n, cur, it2, ok = newton(ev, structure, theta_b, max_iter, tol)
            iters += int(res.nit) + it2
        if not ok and min_eig_ratio(structure, theta_n, problem) < 1e-6:
            raise Singular  # stopped on the way to a singular covariance: the likelihood is unbounded
    except Singular:
        raise ModelError(
            f"The {method.upper()} likelihood has no interior maximum for these data: the covariance matrix "
            "becomes singular while the likelihood keeps increasing; use a simpler covariance structure or "
            "a smaller mean model."
        ) from None
    return _result(problem, structure, method, theta_n, cur, iters=iters, ok=ok, optimizer=optimizer,
                   n_subjects_ic=n_subjects_ic)


def _result(problem: RemlProblem, structure: CovarianceStructure, method: str, theta_n: np.ndarray,
            cur: Evaluation, *, iters: int, ok: bool, optimizer: str, n_subjects_ic: int | None) -> RemlFit:
    """The :class:`RemlFit` at ``theta_n`` from its order-2 evaluation ``cur`` (warns when not converged)."""
    if cur.hess is None or cur.grad is None or cur.Q is None:
        raise RuntimeError("internal: a fit needs an evaluation of order 2")
    H = cur.hess
    D = diag_scale(H)  # theta mixes variances and correlations: invert the unit-diagonal form
    Hs = H * D[:, None] * D[None, :]
    try:
        np.linalg.cholesky(Hs)
        hpd = True
        theta_cov = 2.0 * D[:, None] * np.linalg.inv(Hs) * D[None, :]
    except np.linalg.LinAlgError:
        hpd = False
        theta_cov = 2.0 * D[:, None] * np.linalg.pinv(Hs, hermitian=True) * D[None, :]
    message = "converged" if ok else "the optimizer stopped before meeting the convergence criterion"
    if ok and not hpd:
        message = "converged to a point where the Hessian is not positive definite (boundary?)"
    if not ok or not hpd:
        warnings.warn(
            f"The {method.upper()} fit {message}; estimates may not be a maximum of the likelihood "
            "(try a simpler covariance structure).",
            ConvergenceWarning,
            stacklevel=3,  # the caller of fit_reml
        )
    return RemlFit(
        beta=cur.beta, vcov_beta=cur.Ainv, theta=theta_n, theta_names=list(structure.param_names),
        theta_cov=theta_cov, sigma=structure.group_matrices(theta_n), hessian=H, gradient=cur.grad, Q=cur.Q,
        minus2_loglik=cur.f, method=method, structure=structure, problem=problem, converged=bool(ok),
        iterations=int(iters), optimizer=optimizer, hessian_pd=hpd, message=message,
        n_subjects_ic=n_subjects_ic,
    )
