"""Kenward-Roger small-sample inference for REML fits, as SAS PROC MIXED computes it.

Formulas (Kenward & Roger 1997, Biometrics 53:983-997, sections 2-4; the "linear"
variant of Kenward & Roger 2009, CSDA 53:2583-2595), in the notation of DESIGN.md
section 7.1 (covariance parameters i, j; subjects s):

* ``Phi = (X' V^-1 X)^-1`` (the unadjusted covariance of beta-hat; the engine's ``C``).
* ``P_i = -X' V^-1 V_i V^-1 X`` (the engine's ``Q_i`` with the opposite sign; the code sums
  ``Qi = -P_i``), ``Q_ij = X' V^-1 V_i V^-1 V_j V^-1 X`` (two indices; ``Qij`` in the code),
  ``R_ij = X' V^-1 V_ij V^-1 X`` (``Rij``) with ``V_i = dV/dtheta_i``,
  ``V_ij = d2V/dtheta_i dtheta_j``.
* ``Phi_A = Phi + 2 Phi [sum_ij W_ij (Q_ij - P_i Phi P_j - R_ij / 4)] Phi``
  (KR 1997 eq. 2-3); ``linear=True`` drops the ``R_ij`` terms (SAS ``DDFM=KR(LINEAR)``,
  ``KR(FIRSTORDER)``; the Prasad-Rao-Jeske-Kackar-Harville estimator).
* Denominator df and F scaling (KR 1997 section 4): with ``Theta = L' (L Phi L')^-1 L``,
  ``A1 = sum_ij W_ij tr(Theta Phi P_i Phi) tr(Theta Phi P_j Phi)``,
  ``A2 = sum_ij W_ij tr(Theta Phi P_i Phi Theta Phi P_j Phi)``, ``B = (A1 + 6 A2) / (2l)``,
  ``g = ((l+1) A1 - (l+4) A2) / ((l+2) A2)``, ``c1, c2, c3 = g, l-g, l+2-g over 3l+2(1-g)``,
  ``E* = 1 / (1 - A2/l)``, ``V* = 2/l (1 + c1 B) / ((1 - c2 B)^2 (1 - c3 B))``,
  ``rho = V* / (2 E*^2)``, ``m = 4 + (l+2) / (l rho - 1)``, ``lambda = m / (E* (m-2))``.
  ``Theta`` uses the *unadjusted* ``Phi``, as SAS, pbkrtest (``Lb_ddf``, ``.KR_adjust``) and
  mmrm (``h_kr_df``) do: SAS's DDFM=KR and KR(LINEAR) df are identical to full precision
  (shared/mmrm ``sas_ods_csv/ddfm_covtype/kr_*.csv`` vs ``kr1_*.csv``), which only holds when
  the df do not involve ``R_ij``. For one row of ``L`` this reduces to ``m = 2/A1``, the
  Satterthwaite df with ``W`` as the covariance of theta-hat, and ``lambda = 1``.

``W`` (``theta_cov``): SAS uses the inverse of the *observed* REML information by default
("By default, the observed information matrix of the covariance parameter estimates is used
in the calculations", SAS/STAT User's Guide, GLIMMIX "Kenward-Roger Degrees of Freedom
Approximation"; PROC MIXED uses the Newton-Raphson Hessian, its ASYCOV), and so does mmrm
(``theta_vcov`` = inverse Hessian of the REML criterion). Kenward & Roger (1997) and pbkrtest
(``vcovAdj``: ``W = 2 IE2^-1``, ``IE2_ij = tr(Pr V_i Pr V_j)`` with ``Pr`` the REML projection
``V^-1 - V^-1 X Phi X' V^-1``) use the *expected* information.
Both are available (``information=``); the SAS reference tests show that the observed one
reproduces SAS and the expected one misses it.

Parameterization matters once ``R_ij`` enters: the full adjustment is not invariant under
reparameterization of theta, the linear one is (at the REML optimum, where the observed
information transforms as a tensor). SAS differentiates in its own covariance parameters
(UN, CS, TOEP linear in the covariance elements; AR(1), CSH, ARH(1), TOEPH, ANTE(1) with
variances and correlations), so the structure passed in must give ``jacobian`` / ``hessian``
in those parameters to reproduce SAS's DDFM=KR.

All sums run over patterns of observed visits, vectorized over subjects: for pattern ``p``
the moment ``XX_p = sum_s vec(X_s) vec(X_s)'`` (the engine's ``Pattern.XX``) turns every
``sum_s X_s' M X_s`` into one small matrix product (:func:`~retrostudy.models._linalg.sum_xax`),
so cost grows with the number of subjects only through ``XX_p`` (one BLAS call per pattern).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg

from ..errors import ModelError, SpecError
from ._linalg import diag_scale, sum_xax

__all__ = ["KRPieces", "KRResult", "kenward_roger", "kenward_roger_engine", "kr_df_ftest"]


@dataclass(frozen=True, eq=False)
class KRPieces:
    """A REML fit described by pattern of observed visits, as Kenward-Roger needs it.

    Attributes
    ----------
    X_blocks
        One array per pattern ``p``, shape ``(n_p, m_p, k)``: the fixed-effects design rows
        of the ``n_p`` subjects with this pattern (``m_p`` observed times, ``k`` columns).
    obs_index
        One integer array per pattern, length ``m_p``: which of the structure's ``T`` times
        the pattern observes (rows/columns of ``structure.matrix(theta)``), in row order of
        ``X_blocks[p]``.
    structure
        A covariance structure (``matrix``, ``jacobian``, ``hessian``, ``n_params``,
        ``linear``; see ``retrostudy.models.covariance``), or a sequence of them, one per
        group (SAS ``GROUP=``). Derivatives must be in the parameterization SAS reports.
    theta
        REML estimate of the covariance parameters; with groups, the groups' parameters
        concatenated in group order.
    beta
        Fixed-effect estimates (needed only by :meth:`KRResult.ftest`).
    residuals
        One array per pattern, shape ``(n_p, m_p)``: ``y - X beta_hat``. Needed for the
        observed information (the SAS default) unless ``theta_cov`` is given.
    weights
        One array per pattern, shape ``(n_p, m_p)``, of SAS ``WEIGHT`` values:
        ``V_s = D_s Sigma D_s`` with ``D_s = diag(w_s^-1/2)``. ``None``: all 1.
    groups
        Group number (0, 1, ...) of each pattern; ``None``: one group.
    theta_cov
        ``W``, the covariance of theta-hat, when the caller already has it (e.g. the inverse
        observed information from its optimizer); overrides ``information=``.
    XX_blocks
        Optional precomputed moments, one per pattern, shape ``(m_p*m_p, p*p)``:
        ``XX[(a, b), (k, l)] = sum_s X_s[a, k] X_s[b, l]`` of the weight-scaled rows (the
        engine's ``Pattern.XX``). Saves the one O(n m^2 p^2) step per pattern.
    shared_theta
        All groups' matrices depend on the *same* parameters (``theta`` is one structure's
        vector; SAS spatial SP(EXP)/SP(GAU), where every subject has its own matrix) instead
        of each group having its own.
    """

    X_blocks: Sequence[np.ndarray]
    obs_index: Sequence[np.ndarray]
    structure: Any
    theta: np.ndarray
    beta: np.ndarray | None = None
    residuals: Sequence[np.ndarray] | None = None
    weights: Sequence[np.ndarray] | None = None
    groups: Sequence[int] | None = None
    theta_cov: np.ndarray | None = None
    XX_blocks: Sequence[np.ndarray] | None = None
    shared_theta: bool = False


@dataclass(frozen=True, eq=False)
class KRResult:
    """Kenward-Roger adjusted covariance of beta-hat with its df and F test.

    Attributes
    ----------
    vcov
        ``Phi_A``, the adjusted covariance (p x p).
    vcov_unadjusted
        ``Phi = (X' V^-1 X)^-1`` (the engine's ``C``).
    theta_cov
        ``W`` used (n_theta x n_theta).
    information
        The REML information matrix ``W`` is the inverse of (observed or expected), or
        ``None`` when ``theta_cov`` was supplied.
    P
        ``P_i`` (n_theta x p x p), sign as in Kenward & Roger (1997): ``-Q_i`` of the engine.
    linear
        Whether the second-derivative terms were dropped.
    information_kind
        ``"observed"``, ``"expected"`` or ``"supplied"``.
    beta
        The fixed-effect estimates, if given.
    """

    vcov: np.ndarray
    vcov_unadjusted: np.ndarray
    theta_cov: np.ndarray
    information: np.ndarray | None
    P: np.ndarray
    linear: bool
    information_kind: str
    beta: np.ndarray | None = None

    def dof(self, L: np.ndarray) -> np.ndarray:
        """Kenward-Roger df of each row of ``L`` (k or r x k): the t-test df."""
        from .dof import satterthwaite_dof

        # for one contrast the KR df are Satterthwaite's with W as the covariance of theta;
        # P_i = -Q_i enters them only through g'Wg, so its sign does not matter
        return satterthwaite_dof(L, self.vcov_unadjusted, self.P, self.theta_cov)

    def ftest(self, L: np.ndarray) -> tuple[float, float, float, float]:
        """KR F test of ``L beta = 0``: ``(F_scaled, num_df, den_df, lambda)``."""
        if self.beta is None:
            raise RuntimeError("internal: Kenward-Roger F tests need the fixed-effect estimates (beta= in KRPieces)")
        return kr_df_ftest(L, self.beta, self.vcov, self.vcov_unadjusted, self.P, self.theta_cov)


def kr_df_ftest(
    L: np.ndarray, beta: np.ndarray, Phi_A: np.ndarray, Phi: np.ndarray, P: np.ndarray, W: np.ndarray
) -> tuple[float, float, float, float]:
    """Scaled F statistic, numerator df, KR denominator df and scale ``lambda``.

    Kenward & Roger (1997) section 4, with ``Theta`` built from the unadjusted ``Phi``
    (see the module docstring). ``F = lambda / l (L b)' (L Phi_A L')^-1 (L b)``.
    """
    L = np.atleast_2d(np.asarray(L, float))
    nl = L.shape[0]
    if np.linalg.matrix_rank(L) < nl:
        raise SpecError("The rows of the hypothesis matrix L are linearly dependent; drop the redundant rows.")
    Theta = L.T @ np.linalg.solve(L @ Phi @ L.T, L)
    U = (Theta @ Phi) @ P @ Phi  # Theta Phi P_i Phi, (n_theta, k, k)
    tr = np.einsum("iaa->i", U)
    A1 = float(tr @ W @ tr)
    nt, k = U.shape[0], U.shape[1]
    UU = U.reshape(nt, k * k) @ U.transpose(0, 2, 1).reshape(nt, k * k).T  # tr(U_i U_j)
    A2 = float(np.sum(W * UU))
    B = (A1 + 6.0 * A2) / (2.0 * nl)
    g = ((nl + 1) * A1 - (nl + 4) * A2) / ((nl + 2) * A2)
    den = 3.0 * nl + 2.0 * (1.0 - g)
    c1, c2, c3 = g / den, (nl - g) / den, (nl + 2 - g) / den
    e_star = 1.0 / (1.0 - A2 / nl)
    v_star = (2.0 / nl) * (1.0 + c1 * B) / ((1.0 - c2 * B) ** 2 * (1.0 - c3 * B))
    rho = v_star / (2.0 * e_star**2)
    m = 4.0 + (nl + 2.0) / (nl * rho - 1.0)
    lam = m / (e_star * (m - 2.0))
    Lb = L @ np.asarray(beta, float)
    F = float(Lb @ np.linalg.solve(L @ Phi_A @ L.T, Lb)) / nl
    return lam * F, float(nl), float(m), float(lam)


def _structures(pieces: KRPieces, n_groups: int) -> list:
    s = pieces.structure
    if isinstance(s, (list, tuple)):
        if len(s) != n_groups:
            raise RuntimeError(f"internal: KRPieces has {len(s)} structures for {n_groups} groups")
        return list(s)
    return [s] * n_groups


def _pattern_terms(Sigma, J, H, idx, X, r, w, need_r, need_h, XX=None):
    """Sums over the subjects s of one pattern (see the module docstring): ``XVX`` (part of
    ``X'V^-1X``), ``Qi`` (of ``Q_i = -P_i``), ``Qij``, ``Rij``, the traces ``t1``
    (``tr(V^-1 V_i V^-1 V_j)``), ``t2`` (``tr(V^-1 V_ij)``) and, for the observed information,
    ``rr`` (``tr(V_i V^-1 V_j V^-1 e e')`` with ``e = V^-1 r``), ``u`` (``X'V^-1 V_i V^-1 r``) and
    ``r2`` (``e' V_ij e``), each summed over the pattern's subjects."""
    n, m, k = X.shape
    V = Sigma[np.ix_(idx, idx)]
    Vi = J[:, idx][:, :, idx]
    try:
        cf = linalg.cho_factor(V, lower=True)
    except linalg.LinAlgError as exc:
        raise ModelError("The covariance matrix at theta is not positive definite; Kenward-Roger needs a proper REML optimum.") from exc
    Vinv = linalg.cho_solve(cf, np.eye(m))
    if w is not None:
        sw = np.sqrt(np.asarray(w, float))
        X = X * sw[:, :, None]
        if r is not None:
            r = r * sw
    Xf = X.reshape(n, m * k)
    if XX is None:
        M = (Xf.T @ Xf).reshape(m, k, m, k).transpose(0, 2, 1, 3).reshape(m * m, k * k)  # [(a,b),(k,l)]
    else:
        M = np.asarray(XX, float).reshape(m * m, k * k)
    ViVinv = Vi @ Vinv  # V_i V^-1, (q, m, m)
    A = Vinv @ ViVinv  # V^-1 V_i V^-1
    q = Vi.shape[0]
    Bq = np.einsum("iab,jbc->ijac", A, ViVinv)  # V^-1 V_i V^-1 V_j V^-1
    out = {
        "XVX": sum_xax(Vinv, M, k),
        "Qi": sum_xax(A, M, k),
        "Qij": sum_xax(Bq, M, k),
        "t1": n * (ViVinv.reshape(q, m * m) @ ViVinv.transpose(0, 2, 1).reshape(q, m * m).T),
    }
    if need_h:
        Vij = H[:, :, idx][:, :, :, idx]
        A2 = Vinv @ Vij @ Vinv  # V^-1 V_ij V^-1
        out["Rij"] = sum_xax(A2, M, k)
        out["t2"] = n * (Vij.reshape(q * q, m * m) @ Vinv.T.reshape(m * m)).reshape(q, q)
    if need_r:
        S = Vinv @ (r.T @ r) @ Vinv  # sum_s e_s e_s', e_s = V^-1 r_s
        ViS = Vi @ S
        out["rr"] = ViVinv.reshape(q, m * m) @ ViS.transpose(0, 2, 1).reshape(q, m * m).T  # tr(V_i V^-1 V_j S)
        XR = (Xf.T @ r).reshape(m, k, m)  # sum_s X_s[a, k] r_s[b]
        out["u"] = np.einsum("iab,akb->ik", A, XR)  # X' V^-1 V_i V^-1 r
        if need_h:
            out["r2"] = (Vij.reshape(q * q, m * m) @ S.T.reshape(m * m)).reshape(q, q)
    return out


def kenward_roger(pieces: KRPieces, *, linear: bool = False, information: str = "observed") -> KRResult:
    """Kenward-Roger adjusted covariance of beta-hat, df and F tests, as SAS PROC MIXED.

    Parameters
    ----------
    pieces
        The fitted model by pattern of observed visits (:class:`KRPieces`).
    linear
        Drop the second-derivative terms ``R_ij`` (SAS ``DDFM=KR(LINEAR)``; Kenward & Roger
        2009). Structures linear in their parameters (UN, CS, TOEP in SAS's
        parameterization) give the same result either way.
    information
        ``"observed"`` (SAS, mmrm) or ``"expected"`` (Kenward & Roger 1997, pbkrtest) REML
        information, inverted to give ``W``. Ignored when ``pieces.theta_cov`` is given.

    Returns
    -------
    KRResult
        ``vcov`` (``Phi_A``), ``vcov_unadjusted`` (``Phi``), ``theta_cov`` (``W``),
        ``dof(L)`` and ``ftest(L)``.
    """
    if information not in ("observed", "expected"):
        raise SpecError(f"information must be 'observed' or 'expected', not {information!r}.")
    n_pat = len(pieces.X_blocks)
    if n_pat == 0 or len(pieces.obs_index) != n_pat:
        raise RuntimeError("internal: KRPieces needs one obs_index per X block and at least one pattern")
    groups = [0] * n_pat if pieces.groups is None else [int(g) for g in pieces.groups]
    n_groups = max(groups) + 1
    structs = _structures(pieces, n_groups)
    shared = bool(pieces.shared_theta)
    # parameter blocks: one per group, or one for all groups when they share theta
    sizes = [int(structs[0].n_params)] if shared else [int(s.n_params) for s in structs]
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    block = [0] * n_groups if shared else list(range(n_groups))
    theta = np.asarray(pieces.theta, float).reshape(-1)
    nt = int(offs[-1])
    if theta.size != nt:
        raise RuntimeError(f"internal: theta has {theta.size} values but the structures have {nt} parameters")
    supplied = pieces.theta_cov is not None
    need_r = (not supplied) and information == "observed"
    if need_r and pieces.residuals is None:
        raise RuntimeError("internal: the observed information needs residuals in KRPieces (or theta_cov)")
    k = np.asarray(pieces.X_blocks[0]).shape[-1]

    per_group = []
    for g, s in enumerate(structs):
        th = theta[offs[block[g]] : offs[block[g] + 1]]
        lin = bool(getattr(s, "linear", False))
        H = None if lin else np.asarray(s.hessian(th), float)
        per_group.append((np.asarray(s.matrix(th), float), np.asarray(s.jacobian(th), float), H))

    XVX = np.zeros((k, k))
    Qi = np.zeros((nt, k, k))  # the engine's Q_i = -P_i
    t1 = np.zeros((nt, nt))
    t2 = np.zeros((nt, nt))
    rr = np.zeros((nt, nt))
    r2 = np.zeros((nt, nt))
    u = np.zeros((nt, k))
    Qij = [np.zeros((q, q, k, k)) for q in sizes]  # second-order sums within each parameter block
    Rij = [np.zeros((q, q, k, k)) for q in sizes]
    for p in range(n_pat):
        g = groups[p]
        Sigma, J, H = per_group[g]
        X = np.asarray(pieces.X_blocks[p], float)
        if X.ndim != 3 or X.shape[-1] != k:
            raise RuntimeError(f"internal: X block {p} must have shape (subjects, visits, {k})")
        if X.shape[0] == 0:
            continue
        idx = np.asarray(pieces.obs_index[p], int)
        r = np.asarray(pieces.residuals[p], float) if need_r and pieces.residuals is not None else None
        w = None if pieces.weights is None else pieces.weights[p]
        XX = None if pieces.XX_blocks is None else pieces.XX_blocks[p]
        terms = _pattern_terms(Sigma, J, H, idx, X, r, w, need_r, H is not None, XX)
        b = block[g]
        sl = slice(offs[b], offs[b + 1])
        XVX += terms["XVX"]
        Qi[sl] += terms["Qi"]
        Qij[b] += terms["Qij"]
        t1[sl, sl] += terms["t1"]
        if H is not None:
            Rij[b] += terms["Rij"]
            t2[sl, sl] += terms["t2"]
        if need_r:
            rr[sl, sl] += terms["rr"]
            u[sl] += terms["u"]
            if H is not None:
                r2[sl, sl] += terms["r2"]

    D = diag_scale(XVX)  # columns of X may have any unit (a baseline near 3e6 beside the intercept)
    try:
        Phi = D[:, None] * linalg.inv(XVX * D[:, None] * D[None, :], check_finite=True) * D[None, :]
    except linalg.LinAlgError as exc:
        raise ModelError("X' V^-1 X is singular: the fixed-effects design is not of full column rank.") from exc
    Phi = (Phi + Phi.T) / 2.0

    # traces tr(Phi Q_ij), tr(Phi R_ij) (within groups) and tr(Phi P_i Phi P_j) (all pairs)
    trQ = np.zeros((nt, nt))
    trR = np.zeros((nt, nt))
    for g in range(len(sizes)):
        sl = slice(offs[g], offs[g + 1])
        q = sizes[g]
        trQ[sl, sl] = (Qij[g].reshape(q * q, k * k) @ Phi.T.reshape(k * k)).reshape(q, q)
        trR[sl, sl] = (Rij[g].reshape(q * q, k * k) @ Phi.T.reshape(k * k)).reshape(q, q)
    PhiQi = Phi @ Qi
    trPP = PhiQi.reshape(nt, k * k) @ PhiQi.transpose(0, 2, 1).reshape(nt, k * k).T  # tr(Phi P_i Phi P_j)
    tr_PrViPrVj = t1 - 2.0 * trQ + trPP  # tr(Pr V_i Pr V_j), Pr the REML projection
    if supplied:
        W = np.asarray(pieces.theta_cov, float)
        info = None
        kind = "supplied"
    else:
        if information == "expected":
            info = 0.5 * tr_PrViPrVj
        else:
            # -d2 l_R / dtheta_i dtheta_j (see module docstring of the engine / Harville 1977)
            yPVPVPy = rr - u @ Phi @ u.T  # y' Pr V_i Pr V_j Pr y
            info = 0.5 * (t2 - trR) - 0.5 * tr_PrViPrVj + yPVPVPy - 0.5 * r2
        info = (info + info.T) / 2.0
        kind = information
        W = _inverse_information(info)
    W = (W + W.T) / 2.0

    # Lambda = Phi [sum_ij W_ij (Q_ij - P_i Phi P_j - R_ij / 4)] Phi; P_i Phi P_j = Q_i Phi Q_j
    WQ = np.tensordot(W, Qi, axes=(1, 0))  # sum_j W_ij Q_j
    inner = -((Qi @ Phi).transpose(1, 0, 2).reshape(k, nt * k) @ WQ.reshape(nt * k, k))
    for g in range(len(sizes)):
        sl = slice(offs[g], offs[g + 1])
        Wg = W[sl, sl]
        q = sizes[g]
        inner += (Wg.reshape(q * q) @ Qij[g].reshape(q * q, k * k)).reshape(k, k)
        if not linear:
            inner -= 0.25 * (Wg.reshape(q * q) @ Rij[g].reshape(q * q, k * k)).reshape(k, k)
    Phi_A = Phi + 2.0 * Phi @ inner @ Phi
    Phi_A = (Phi_A + Phi_A.T) / 2.0
    beta = None if pieces.beta is None else np.asarray(pieces.beta, float)
    return KRResult(
        vcov=Phi_A,
        vcov_unadjusted=Phi,
        theta_cov=W,
        information=info,
        P=-Qi,
        linear=bool(linear),
        information_kind=kind,
        beta=beta,
    )


def _inverse_information(info: np.ndarray) -> np.ndarray:
    """Inverse of the REML information; a pseudo-inverse when it is singular (pbkrtest does too)."""
    ev = np.linalg.eigvalsh(info)
    if ev.size and ev.min() > 1e-10 * max(1.0, abs(ev.max())):
        return linalg.inv(info)
    return np.linalg.pinv(info, hermitian=True)


def kenward_roger_engine(eng: Any, *, linear: bool, information: str = "observed") -> KRResult:
    """Kenward-Roger for a fit of the REML engine (:class:`~retrostudy.models.reml.RemlFit`),
    from its patterns; ``information="observed"`` uses the engine's own ``theta_cov``
    (the inverse observed information of its Newton optimizer, as SAS)."""
    from .spatial import SpatialStructure

    st = eng.structure
    scalar = _scalar_variance_kr(eng, information)
    if scalar is not None:
        return scalar
    shared = isinstance(st, SpatialStructure)  # one parameter vector, a matrix per subject
    if shared:
        structs: Any = [st.subject_view(g) for g in range(st.n_groups)]
    else:
        structs = list(st.subs) if getattr(st, "n_groups", 1) > 1 else st
    pats = eng.problem.patterns
    pieces = KRPieces(
        X_blocks=[p.X for p in pats], obs_index=[p.visits for p in pats], structure=structs, theta=eng.theta,
        beta=eng.beta, residuals=[p.y - p.X @ eng.beta for p in pats], weights=None,
        groups=[p.group for p in pats], theta_cov=eng.theta_cov if information == "observed" else None,
        XX_blocks=[p.XX for p in pats], shared_theta=shared,
    )
    return kenward_roger(pieces, linear=linear, information=information)


def _scalar_variance_kr(eng: Any, information: str) -> KRResult | None:
    """Kenward-Roger in closed form when ``V = theta I`` (one visit, one variance, no weights or groups):
    ``V_1 = I`` gives ``P_1 = -A / theta`` (``A = X'V^-1X``), ``Q_11 = P_1 Phi P_1`` and ``R = 0``, so the
    adjustment vanishes (``Phi_A = Phi``) and the df are ``2 theta^2 / W``: ``n - p`` with the observed
    information. The same numbers as the general path (tested), without its pattern sums; every simulated
    replicate of a baseline + one-visit trial takes this path."""
    st, prob = eng.structure, eng.problem
    basis = getattr(st, "basis", None)
    if (information != "observed" or basis is None or st.n_params != 1 or st.n_times != 1 or prob.n_groups != 1
            or prob.weighted or float(basis[0, 0, 0]) != 1.0):
        return None
    theta = float(eng.theta[0])
    Phi = eng.vcov_beta
    P = -(np.linalg.inv(Phi) / theta)[None]
    return KRResult(vcov=Phi, vcov_unadjusted=Phi, theta_cov=eng.theta_cov, information=None, P=P, linear=True,
                    information_kind="supplied", beta=eng.beta)
