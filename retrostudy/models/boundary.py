"""Boundary (singular) fits of the random-effects covariance, as lme4 reports them.

When the REML optimum of an LMM has a random-effect variance at 0 (or, with a random
slope, a correlation of +-1), the interior optimizer creeps toward that boundary and stops
without meeting its criterion, with a Hessian that is not positive definite. lme4 then
reports a converged "boundary (singular) fit". Here the model is refitted on the
boundary itself, ``G`` of reduced rank:

* random intercept: ``var(Intercept) = 0`` (theta = (0, s2));
* intercept + slope: ``G = v v'`` (rank 1, parameters ``v`` and ``s2``);

and the boundary fit is kept when its -2 REML log-likelihood is at least as good as the
interior one (so it is the constrained maximum: lme4's answer). A genuinely interior fit
with a small variance is never replaced: its boundary fit is worse.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize

from .reml import RemlFit, evaluate

if TYPE_CHECKING:
    from .lmm import RandomEffectsStructure

__all__ = ["near_boundary", "boundary_fit"]


def near_boundary(structure: object, theta: np.ndarray, rtol: float = 1e-3) -> bool:
    """Whether ``G`` of an LMM structure is nearly singular relative to the total variance."""
    g_matrix = getattr(structure, "g_matrix", None)
    if g_matrix is None:
        return False
    G = g_matrix(theta)
    total = float(np.trace(G)) + float(theta[-1])
    return bool(np.linalg.eigvalsh(G)[0] <= rtol * total)


def _theta(structure: RandomEffectsStructure, u: np.ndarray) -> np.ndarray:
    if structure.n_random == 1:  # (log s2)
        return np.array([0.0, np.exp(u[0])])
    v0, v1, log_s2 = u
    return np.array([v0 * v0, v0 * v1, v1 * v1, np.exp(log_s2)])


def _jacobian(structure: RandomEffectsStructure, u: np.ndarray) -> np.ndarray:
    """d theta / d u (rows: u, columns: theta)."""
    if structure.n_random == 1:
        return np.array([[0.0, np.exp(u[0])]])
    v0, v1, log_s2 = u
    return np.array([[2 * v0, v1, 0.0, 0.0], [0.0, v0, 2 * v1, 0.0], [0.0, 0.0, 0.0, np.exp(log_s2)]])


def boundary_fit(eng: RemlFit) -> RemlFit | None:
    """The REML/ML fit with ``G`` on the boundary nearest to ``eng``'s estimate, or None
    when it is not better than ``eng`` (then ``eng`` is an interior fit after all)."""
    from .lmm import RandomEffectsStructure  # here: lmm imports this module

    st, problem, method = eng.structure, eng.problem, eng.method
    if not isinstance(st, RandomEffectsStructure):
        raise RuntimeError(f"internal: boundary fits are for LMM random effects, not {type(st).__name__}")
    G = st.g_matrix(eng.theta)
    s2 = float(eng.theta[-1])
    if st.n_random == 1:
        u0 = np.array([np.log(s2 + G[0, 0])])
    else:
        w, V = np.linalg.eigh(G)
        v = V[:, -1] * np.sqrt(max(w[-1], 0.0))
        u0 = np.array([v[0], v[1], np.log(s2 + max(w[0], 0.0))])

    def fun(u: np.ndarray) -> tuple[float, np.ndarray]:
        try:
            ev = evaluate(problem, st, _theta(st, u), method, 1)
        except np.linalg.LinAlgError:
            return 1e300, np.zeros_like(u)
        assert ev.grad is not None
        return ev.f, _jacobian(st, u) @ ev.grad

    res = optimize.minimize(fun, u0, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 500})
    theta = _theta(st, res.x)
    try:
        ev = evaluate(problem, st, theta, method, 2)
    except np.linalg.LinAlgError:
        return None
    if not ev.f <= eng.minus2_loglik + 1e-8 * max(1.0, abs(eng.minus2_loglik)):
        return None
    assert ev.hess is not None and ev.Q is not None and ev.grad is not None
    theta_cov = 2.0 * np.linalg.pinv(ev.hess, hermitian=True)
    return RemlFit(
        beta=ev.beta, vcov_beta=ev.Ainv, theta=theta, theta_names=list(st.param_names), theta_cov=theta_cov,
        sigma=st.group_matrices(theta), hessian=ev.hess, gradient=ev.grad, Q=ev.Q, minus2_loglik=ev.f,
        method=method, structure=st, problem=problem, converged=bool(res.success or res.status == 2),
        iterations=eng.iterations + int(res.nit), optimizer=eng.optimizer + "->boundary", hessian_pd=False,
        message="boundary (singular) fit: " + ("the random-intercept variance is estimated at 0"
                                               if st.n_random == 1 else
                                               "the random-effects covariance has rank one (intercept-slope "
                                               "correlation of +-1)"),
        n_subjects_ic=eng.n_subjects_ic,
    )
