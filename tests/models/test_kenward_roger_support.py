"""Independent helpers for the Kenward-Roger tests (loaded by path from the other
test_kenward_roger_*.py modules), plus tests of the helpers themselves.

* Covariance structures in SAS PROC MIXED's own parameterization (names and order of
  SAS's "Covariance Parameter Estimates" table), with analytic first and second
  derivatives, and a random-effects structure ``V = Z G Z' + s2 I`` in pbkrtest's order.
* A dense REML fitter (scipy) for ``y_s ~ N(X_s b, V_s(theta))`` grouped by pattern.
* A brute-force Kenward-Roger on the full N x N covariance matrix, written straight from
  Kenward & Roger (1997) with the observed information from finite differences of the
  REML log-likelihood: an implementation that shares no code with the package.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import linalg, optimize


# --------------------------------------------------------------------------- structures
def _lag_power(d, rho, e):
    """rho ** (d - e) where the lag d >= e, else 0 (the e-th derivative's power term of rho ** d)."""
    out = np.zeros_like(d)
    ok = d >= e
    out[ok] = rho ** (d[ok] - e)
    return out


class _Base:
    linear = False

    def __init__(self, n_times: int):
        self.n_times = int(n_times)

    def hessian(self, theta):  # overridden where nonzero
        q, T = self.n_params, self.n_times
        return np.zeros((q, q, T, T))


class UN(_Base):
    """SAS TYPE=UN: UN(i,j), i >= j, column by column as SAS lists them."""

    name = "UN"
    linear = True

    def __init__(self, n_times):
        super().__init__(n_times)
        T = n_times
        self.pairs = [(i, j) for j in range(T) for i in range(j, T)]
        self.n_params = len(self.pairs)
        self.param_names = [f"UN({i + 1},{j + 1})" for i, j in self.pairs]

    def matrix(self, th):
        S = np.zeros((self.n_times, self.n_times))
        for v, (i, j) in zip(th, self.pairs):
            S[i, j] = S[j, i] = v
        return S

    def jacobian(self, th):
        J = np.zeros((self.n_params, self.n_times, self.n_times))
        for k, (i, j) in enumerate(self.pairs):
            J[k, i, j] = J[k, j, i] = 1.0
        return J

    def start(self, S):
        return np.array([S[i, j] for i, j in self.pairs])


class CS(_Base):
    """SAS TYPE=CS: (CS, Residual); Sigma = CS * J + Residual * I."""

    name, linear, n_params, param_names = "CS", True, 2, ["CS", "Residual"]

    def matrix(self, th):
        T = self.n_times
        return th[0] * np.ones((T, T)) + th[1] * np.eye(T)

    def jacobian(self, th):
        T = self.n_times
        return np.stack([np.ones((T, T)), np.eye(T)])

    def start(self, S):
        return np.array([0.3 * S.diagonal().mean(), 0.7 * S.diagonal().mean()])


class TOEP(_Base):
    """SAS TYPE=TOEP: (TOEP(2), ..., TOEP(T), Residual); lag-0 variance is Residual."""

    name, linear = "TOEP", True

    def __init__(self, n_times):
        super().__init__(n_times)
        self.n_params = n_times
        self.param_names = [f"TOEP({h + 1})" for h in range(1, n_times)] + ["Residual"]
        i, j = np.indices((n_times, n_times))
        self.lag = np.abs(i - j)

    def matrix(self, th):
        lagval = np.concatenate([[th[-1]], th[:-1]])
        return lagval[self.lag]

    def jacobian(self, th):
        J = np.zeros((self.n_params, self.n_times, self.n_times))
        for h in range(1, self.n_times):
            J[h - 1] = self.lag == h
        J[-1] = self.lag == 0
        return J

    def start(self, S):
        v = S.diagonal().mean()
        return np.concatenate([[0.3 * v * 0.5**h for h in range(1, self.n_times)], [v]])


class AR1(_Base):
    """SAS TYPE=AR(1): (AR(1) = rho, Residual = s2); Sigma = s2 rho^|i-j|."""

    name, n_params, param_names = "AR(1)", 2, ["AR(1)", "Residual"]

    def __init__(self, n_times):
        super().__init__(n_times)
        i, j = np.indices((n_times, n_times))
        self.d = np.abs(i - j).astype(float)

    def _pow(self, rho, e):
        return _lag_power(self.d, rho, e)

    def matrix(self, th):
        return th[1] * self._pow(th[0], 0)

    def jacobian(self, th):
        rho, s2 = th
        return np.stack([s2 * self.d * self._pow(rho, 1), self._pow(rho, 0)])

    def hessian(self, th):
        rho, s2 = th
        H = np.zeros((2, 2, self.n_times, self.n_times))
        H[0, 0] = s2 * self.d * (self.d - 1) * self._pow(rho, 2)
        H[0, 1] = H[1, 0] = self.d * self._pow(rho, 1)
        return H

    def start(self, S):
        return np.array([0.3, S.diagonal().mean()])


class _Hetero(_Base):
    """Sigma_ab = sqrt(v_a v_b) C_ab(rho): parameters (Var(1..T), correlation params)."""

    def __init__(self, n_times, n_corr, corr_names):
        super().__init__(n_times)
        self.n_corr = n_corr
        self.n_params = n_times + n_corr
        self.param_names = [f"Var({t + 1})" for t in range(n_times)] + corr_names

    def _s_derivs(self, v):
        T = self.n_times
        s = np.sqrt(np.outer(v, v))
        eye = np.eye(T)
        ind = eye[:, None, :] + eye[None, :, :]  # [a, b, c] = d_ac + d_bc
        ds = s[:, :, None] * ind / (2.0 * v[None, None, :])  # [a, b, c]
        d2s = (
            s[:, :, None, None] * ind[:, :, :, None] * ind[:, :, None, :] / (4.0 * np.outer(v, v)[None, None])
            - s[:, :, None, None] * eye[None, None] * (ind / (2.0 * v[None, None, :] ** 2))[:, :, :, None]
        )
        return s, np.moveaxis(ds, 2, 0), np.moveaxis(d2s, (2, 3), (0, 1))

    def matrix(self, th):
        v, r = th[: self.n_times], th[self.n_times :]
        return np.sqrt(np.outer(v, v)) * self.C(r)

    def jacobian(self, th):
        v, r = th[: self.n_times], th[self.n_times :]
        s, ds, _ = self._s_derivs(v)
        return np.concatenate([ds * self.C(r)[None], s[None] * self.dC(r)])

    def hessian(self, th):
        T = self.n_times
        v, r = th[:T], th[T:]
        s, ds, d2s = self._s_derivs(v)
        q = self.n_params
        H = np.zeros((q, q, T, T))
        H[:T, :T] = d2s * self.C(r)[None, None]
        cross = ds[:, None] * self.dC(r)[None, :]
        H[:T, T:] = cross
        H[T:, :T] = np.transpose(cross, (1, 0, 2, 3))
        H[T:, T:] = s[None, None] * self.d2C(r)
        return H

    def start(self, S):
        return np.concatenate([S.diagonal(), np.full(self.n_corr, 0.3)])


class CSH(_Hetero):
    name = "CSH"

    def __init__(self, T):
        super().__init__(T, 1, ["CSH"])

    def C(self, r):
        T = self.n_times
        return np.eye(T) + r[0] * (1 - np.eye(T))

    def dC(self, r):
        T = self.n_times
        return (1 - np.eye(T))[None]

    def d2C(self, r):
        T = self.n_times
        return np.zeros((1, 1, T, T))


class ARH1(_Hetero):
    name = "ARH(1)"

    def __init__(self, T):
        super().__init__(T, 1, ["ARH(1)"])
        i, j = np.indices((T, T))
        self.d = np.abs(i - j).astype(float)

    def _pow(self, rho, e):
        return _lag_power(self.d, rho, e)

    def C(self, r):
        return self._pow(r[0], 0)

    def dC(self, r):
        return (self.d * self._pow(r[0], 1))[None]

    def d2C(self, r):
        return (self.d * (self.d - 1) * self._pow(r[0], 2))[None, None]


class TOEPH(_Hetero):
    name = "TOEPH"

    def __init__(self, T):
        super().__init__(T, T - 1, [f"TOEPH({h})" for h in range(1, T)])
        i, j = np.indices((T, T))
        self.lag = np.abs(i - j)

    def C(self, r):
        return np.concatenate([[1.0], r])[self.lag]

    def dC(self, r):
        return np.stack([(self.lag == h).astype(float) for h in range(1, self.n_times)])

    def d2C(self, r):
        T = self.n_times
        return np.zeros((T - 1, T - 1, T, T))


class ANTE1(_Hetero):
    """SAS TYPE=ANTE(1): Sigma_ab = sqrt(v_a v_b) prod_{k=min(a,b)}^{max(a,b)-1} rho_k."""

    name = "ANTE(1)"

    def __init__(self, T):
        super().__init__(T, T - 1, [f"Rho({h})" for h in range(1, T)])

    def _prod(self, r, skip=()):
        T = self.n_times
        out = np.ones((T, T))
        for a in range(T):
            for b in range(T):
                lo, hi = min(a, b), max(a, b)
                ks = range(lo, hi)
                if any(s not in ks for s in skip):
                    out[a, b] = 0.0
                    continue
                out[a, b] = np.prod([r[k] for k in ks if k not in skip])
        return out

    def C(self, r):
        return self._prod(r)

    def dC(self, r):
        return np.stack([self._prod(r, (k,)) for k in range(self.n_times - 1)])

    def d2C(self, r):
        K = self.n_times - 1
        T = self.n_times
        out = np.zeros((K, K, T, T))
        for k in range(K):
            for l in range(K):
                if k != l:
                    out[k, l] = self._prod(r, (k, l))
        return out


class AR1Log(_Base):
    """AR(1) reparameterized: (log s2, atanh rho). Same model, different KR (second order)."""

    name, n_params, param_names = "AR(1) log/atanh", 2, ["log_s2", "atanh_rho"]

    def __init__(self, T):
        super().__init__(T)
        self.base = AR1(T)

    def _map(self, th):
        return np.array([np.tanh(th[1]), np.exp(th[0])])

    def matrix(self, th):
        return self.base.matrix(self._map(th))

    def jacobian(self, th):
        rho, s2 = self._map(th)
        Jb = self.base.jacobian([rho, s2])
        return np.stack([Jb[1] * s2, Jb[0] * (1 - rho**2)])

    def hessian(self, th):
        rho, s2 = self._map(th)
        Jb, Hb = self.base.jacobian([rho, s2]), self.base.hessian([rho, s2])
        dr = 1 - rho**2
        H = np.zeros((2, 2, self.n_times, self.n_times))
        H[0, 0] = Jb[1] * s2  # d2/dlog^2 of s2*f = s2 f
        H[0, 1] = H[1, 0] = Hb[0, 1] * s2 * dr
        H[1, 1] = Hb[0, 0] * dr**2 + Jb[0] * (-2 * rho * dr)
        return H


class RandomEffects(_Base):
    """V = Z G Z' + s2 I over T time points; theta = (lower triangle of G column-wise, s2)."""

    name, linear = "RE", True

    def __init__(self, Z):
        Z = np.asarray(Z, float)
        super().__init__(Z.shape[0])
        self.Z = Z
        r = Z.shape[1]
        self.pairs = [(i, j) for j in range(r) for i in range(j, r)]
        self.n_params = len(self.pairs) + 1

    def _E(self, i, j):
        r = self.Z.shape[1]
        E = np.zeros((r, r))
        E[i, j] = E[j, i] = 1.0
        return E

    def jacobian(self, th):
        mats = [self.Z @ self._E(i, j) @ self.Z.T for i, j in self.pairs]
        return np.stack(mats + [np.eye(self.n_times)])

    def matrix(self, th):
        return np.einsum("i,iab->ab", np.asarray(th, float), self.jacobian(th))


SAS_STRUCTURES = {"us": UN, "cs": CS, "toep": TOEP, "ar1": AR1, "csh": CSH, "ar1h": ARH1, "toeph": TOEPH, "adh": ANTE1}


# --------------------------------------------------------------------------- data by pattern
def by_pattern(frame, *, subject, time_index, response, X, weight=None, group=None):
    """Split long data into patterns: list of dicts (idx, X (n,m,k), y (n,m), w, group)."""
    frame = frame.reset_index(drop=True)
    Xa = np.asarray(X, float)
    order = np.lexsort((frame[time_index].to_numpy(), frame[subject].to_numpy()))
    frame, Xa = frame.iloc[order].reset_index(drop=True), Xa[order]
    keys = frame.groupby(subject, sort=False)[time_index].apply(lambda s: tuple(s))
    grp_of = frame.groupby(subject, sort=False)[group].first() if group else None
    out = {}
    starts = frame.groupby(subject, sort=False).indices
    for subj, pat in keys.items():
        g = int(grp_of[subj]) if group else 0
        out.setdefault((g, pat), []).append(starts[subj])
    pats = []
    for (g, pat), rows in sorted(out.items()):
        rows = np.stack(rows)
        pats.append(
            dict(
                idx=np.array(pat, int),
                X=Xa[rows],
                y=frame[response].to_numpy(float)[rows],
                w=None if weight is None else frame[weight].to_numpy(float)[rows],
                group=g,
            )
        )
    return pats


# --------------------------------------------------------------------------- dense REML
def _pattern_V(structs, theta_parts, p):
    S = structs[p["group"]].matrix(theta_parts[p["group"]])
    return S[np.ix_(p["idx"], p["idx"])]


def _split(structs, theta):
    out, o = [], 0
    for s in structs:
        out.append(np.asarray(theta[o : o + s.n_params], float))
        o += s.n_params
    return out


def _batched(structs, parts, p, deriv=False):
    """V_s (n, m, m) of one pattern, and dV_s/dtheta_i (q, n, m, m) if asked."""
    g, idx = p["group"], p["idx"]
    S = structs[g].matrix(parts[g])[np.ix_(idx, idx)]
    n = p["X"].shape[0]
    D = np.ones((n, len(idx))) if p["w"] is None else 1 / np.sqrt(p["w"])
    DD = D[:, :, None] * D[:, None, :]
    V = S[None] * DD
    if not deriv:
        return V
    J = structs[g].jacobian(parts[g])[:, idx][:, :, idx]
    return V, J[:, None] * DD[None]


def reml_terms(structs, theta, pats):
    """-2 REML log-likelihood, beta and Phi (straightforward batched numpy per pattern)."""
    parts = _split(structs, theta)
    k = pats[0]["X"].shape[-1]
    XVX, XVy, logdet, n_obs = np.zeros((k, k)), np.zeros(k), 0.0, 0
    cache = []
    for p in pats:
        V = _batched(structs, parts, p)
        C = np.linalg.cholesky(V)
        Vinv = np.linalg.inv(V)
        XVX += np.einsum("sak,sab,sbl->kl", p["X"], Vinv, p["X"])
        XVy += np.einsum("sak,sab,sb->k", p["X"], Vinv, p["y"])
        logdet += 2 * np.log(np.diagonal(C, axis1=1, axis2=2)).sum()
        n_obs += p["y"].size
        cache.append(Vinv)
    Phi = linalg.inv(XVX)
    beta = Phi @ XVy
    quad = 0.0
    for p, Vinv in zip(pats, cache):
        r = p["y"] - p["X"] @ beta
        quad += np.einsum("sa,sab,sb->", r, Vinv, r)
    m2 = (n_obs - k) * np.log(2 * np.pi) + logdet + np.linalg.slogdet(XVX)[1] + quad
    return m2, beta, Phi


def reml_grad(structs, theta, pats):
    """Gradient of -2 RLL: tr(P V_i) - y' P V_i P y (Harville 1977), pattern by pattern."""
    parts = _split(structs, theta)
    offs = np.concatenate([[0], np.cumsum([s.n_params for s in structs])])
    _, beta, Phi = reml_terms(structs, theta, pats)
    grad = np.zeros(offs[-1])
    for p in pats:
        g = p["group"]
        V, dV = _batched(structs, parts, p, deriv=True)
        Vinv = np.linalg.inv(V)
        e = np.einsum("sab,sb->sa", Vinv, p["y"] - p["X"] @ beta)
        VX = np.einsum("sab,sbk->sak", Vinv, p["X"])
        t = np.einsum("sab,isba->i", Vinv, dV) - np.einsum("kl,sak,isab,sbl->i", Phi, VX, dV, VX)
        grad[offs[g] : offs[g + 1]] += t - np.einsum("sa,isab,sb->i", e, dV, e)
    return grad


def fit_reml(structs, pats, theta0, *, valid=None):
    """REML: Nelder-Mead, then BFGS with the analytic gradient, then Newton polish."""

    def f(th):
        if valid is not None and not valid(th):
            return 1e300
        try:
            val = reml_terms(structs, th, pats)[0]
        except (linalg.LinAlgError, np.linalg.LinAlgError, ValueError):
            return 1e300
        return val if np.isfinite(val) else 1e300

    th = np.asarray(theta0, float)
    if len(th) <= 6:  # a derivative-free start for the small nonlinear structures
        th = optimize.minimize(f, th, method="Nelder-Mead", options=dict(maxiter=300 * len(th), xatol=1e-4, fatol=1e-6)).x
    def jac(x):
        try:
            g = reml_grad(structs, x, pats)
        except (linalg.LinAlgError, np.linalg.LinAlgError, ValueError):
            return np.zeros_like(x)
        return g if np.all(np.isfinite(g)) else np.zeros_like(x)

    res = optimize.minimize(f, th, jac=jac, method="BFGS", options=dict(gtol=1e-8))
    if res.fun <= f(th):
        th = res.x
    for _ in range(10):  # Newton polish: Hessian by central differences of the analytic gradient
        H = info_fd(structs, th, pats) * 2.0
        step = np.linalg.solve(H, reml_grad(structs, th, pats))
        th = th - step
        if np.max(np.abs(step) / np.maximum(np.abs(th), 1e-3)) < 1e-12:
            break
    return th


def info_fd(structs, theta, pats, rel=1e-5):
    """Observed REML information (-d2 RLL) by central differences of the analytic gradient."""
    theta = np.asarray(theta, float)
    n = len(theta)
    H = np.zeros((n, n))
    for i in range(n):
        h = rel * max(abs(theta[i]), 1e-2)
        e = np.zeros(n)
        e[i] = h
        H[:, i] = (reml_grad(structs, theta + e, pats) - reml_grad(structs, theta - e, pats)) / (2 * h)
    return 0.25 * (H + H.T)  # -d2 RLL = (1/2) d2(-2 RLL)


def num_grad_hess(f, x, rel=1e-4):
    """Central-difference gradient and Hessian with steps relative to |x|."""
    x = np.asarray(x, float)
    n = len(x)
    h = rel * np.maximum(np.abs(x), 1e-2)
    g = np.zeros(n)
    H = np.zeros((n, n))
    f0 = f(x)
    for i in range(n):
        e = np.zeros(n)
        e[i] = h[i]
        fp, fm = f(x + e), f(x - e)
        g[i] = (fp - fm) / (2 * h[i])
        H[i, i] = (fp - 2 * f0 + fm) / h[i] ** 2
        for j in range(i):
            d = np.zeros(n)
            d[j] = h[j]
            H[i, j] = H[j, i] = (f(x + e + d) - f(x + e - d) - f(x - e + d) + f(x - e - d)) / (4 * h[i] * h[j])
    return g, H


def pieces_from(structs, theta, pats, KRPieces, beta=None):
    """KRPieces for the package function from the helper's pattern list."""
    if beta is None:
        beta = reml_terms(structs, theta, pats)[1]
    return KRPieces(
        X_blocks=[p["X"] for p in pats],
        obs_index=[p["idx"] for p in pats],
        structure=structs if len(structs) > 1 else structs[0],
        theta=np.asarray(theta, float),
        beta=beta,
        residuals=[p["y"] - p["X"] @ beta for p in pats],
        weights=None if pats[0]["w"] is None else [p["w"] for p in pats],
        groups=[p["group"] for p in pats],
    )


# --------------------------------------------------------------------------- dense brute-force KR
def dense_kr(structs, theta, pats, *, linear=False, information="observed"):
    """Kenward & Roger (1997) on the full N x N matrices. Returns (Phi, Phi_A, W, P)."""
    parts = _split(structs, theta)
    offs = np.concatenate([[0], np.cumsum([s.n_params for s in structs])])
    nt = offs[-1]
    blocks, dblocks, hblocks, Xs = [], [], [], []
    for p in pats:
        g = p["group"]
        Sg, Jg = structs[g].matrix(parts[g]), structs[g].jacobian(parts[g])
        Hg = structs[g].hessian(parts[g])
        ix = np.ix_(p["idx"], p["idx"])
        for s in range(p["X"].shape[0]):
            D = np.ones(len(p["idx"])) if p["w"] is None else 1 / np.sqrt(p["w"][s])
            DD = np.outer(D, D)
            blocks.append(Sg[ix] * DD)
            dj = np.zeros((nt,) + DD.shape)
            dj[offs[g] : offs[g + 1]] = Jg[:, p["idx"]][:, :, p["idx"]] * DD
            dblocks.append(dj)
            hj = np.zeros((nt, nt) + DD.shape)
            hj[offs[g] : offs[g + 1], offs[g] : offs[g + 1]] = Hg[:, :, p["idx"]][:, :, :, p["idx"]] * DD
            hblocks.append(hj)
            Xs.append(p["X"][s])
    V = linalg.block_diag(*blocks)
    Vi = [linalg.block_diag(*[d[i] for d in dblocks]) for i in range(nt)]
    Vij = [[linalg.block_diag(*[h[i, j] for h in hblocks]) for j in range(nt)] for i in range(nt)]
    X = np.vstack(Xs)
    Vinv = linalg.inv(V)
    Phi = linalg.inv(X.T @ Vinv @ X)
    P = [-X.T @ Vinv @ Vi[i] @ Vinv @ X for i in range(nt)]
    Q = [[X.T @ Vinv @ Vi[i] @ Vinv @ Vi[j] @ Vinv @ X for j in range(nt)] for i in range(nt)]
    R = [[X.T @ Vinv @ Vij[i][j] @ Vinv @ X for j in range(nt)] for i in range(nt)]
    Pr = Vinv - Vinv @ X @ Phi @ X.T @ Vinv
    if information == "expected":
        PV = [Pr @ Vi[i] for i in range(nt)]
        info = np.array([[0.5 * np.sum(PV[i] * PV[j].T) for j in range(nt)] for i in range(nt)])
    else:
        info = info_fd(structs, theta, pats)
    W = linalg.inv(info)
    inner = sum(
        W[i, j] * (Q[i][j] - P[i] @ Phi @ P[j] - (0 if linear else 0.25) * R[i][j]) for i in range(nt) for j in range(nt)
    )
    return Phi, Phi + 2 * Phi @ inner @ Phi, W, np.stack(P)


# --------------------------------------------------------------------------- tests of the helpers
def _fd_check(struct, theta):
    J = struct.jacobian(theta)
    H = struct.hessian(theta)
    for k in range(struct.n_params):
        e = np.zeros(len(theta))
        e[k] = 1e-6 * max(1.0, abs(theta[k]))
        Jn = (struct.matrix(theta + e) - struct.matrix(theta - e)) / (2 * e[k])
        np.testing.assert_allclose(J[k], Jn, rtol=1e-6, atol=1e-7)
        Hn = (struct.jacobian(theta + e) - struct.jacobian(theta - e)) / (2 * e[k])
        np.testing.assert_allclose(H[:, k], Hn, rtol=1e-5, atol=1e-6)


def test_sas_structures_derivatives_match_finite_differences():
    rng = np.random.default_rng(1)
    T = 4
    for _name, cls in SAS_STRUCTURES.items():
        s = cls(T)
        th = s.start(np.diag([100.0, 40.0, 30.0, 150.0]))
        th = th * (1 + 0.1 * rng.random(len(th)))
        _fd_check(s, th)
        if s.linear:
            assert not np.any(s.hessian(th))
    _fd_check(AR1Log(T), np.array([4.4, 0.4]))


def test_sas_structures_known_values():
    # ANTE(1) with T=3: Sigma_13 = sqrt(v1 v3) rho1 rho2
    s = ANTE1(3)
    S = s.matrix(np.array([4.0, 9.0, 16.0, 0.5, 0.25]))
    np.testing.assert_allclose(S[0, 2], 8.0 * 0.125)
    np.testing.assert_allclose(S[1, 2], 12.0 * 0.25)
    t = TOEP(3).matrix(np.array([2.0, 1.0, 5.0]))
    np.testing.assert_allclose(t, [[5, 2, 1], [2, 5, 2], [1, 2, 5]])


def test_fit_reml_reaches_a_known_optimum():
    """Balanced one-way random intercept: REML variance components have a closed form."""
    rng = np.random.default_rng(3)
    n, m = 12, 3
    y = 5 + rng.normal(0, 2, (n, 1)) + rng.normal(0, 1, (n, m))
    frame = pd.DataFrame({"s": np.repeat(np.arange(n), m), "t": np.tile(np.arange(m), n), "y": y.ravel()})
    pats = by_pattern(frame, subject="s", time_index="t", response="y", X=np.ones((n * m, 1)))
    th = fit_reml([CS(m)], pats, [1.0, 1.0])
    msw = ((y - y.mean(1, keepdims=True)) ** 2).sum() / (n * (m - 1))
    msb = m * ((y.mean(1) - y.mean()) ** 2).sum() / (n - 1)
    np.testing.assert_allclose(th, [(msb - msw) / m, msw], rtol=1e-7)
