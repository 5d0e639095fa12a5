"""Linear mixed models with a random intercept, or a random intercept and slope.

The LMM ``y_ij = x_ij b + z_ij u_i + e_ij`` with ``u_i ~ N(0, G)`` and ``e_ij ~ N(0, s2)``
is the marginal model ``y_i ~ N(X_i b, Z_i G Z_i' + s2 I)``. Over the distinct time
points ``t_1..t_T`` of the visits that covariance is a T x T matrix, linear in the
variance components ``theta = (G elements, s2)`` -- the lme4 / SAS PROC MIXED
"covariance parameter" scale -- so the REML engine of the MMRM fits it unchanged
(:class:`RandomEffectsStructure`), and Kenward-Roger equals its linear form.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
import pandas as pd

from ..design import build_design, parse_rhs
from ..errors import ModelError, SpecError
from ..exclusions import ExclusionLog
from ..results import ModelFit
from .covariance import LinearStructure
from .reml import fit_reml, prepare

if TYPE_CHECKING:  # pragma: no cover
    from ..trial import TrialData

__all__ = ["RandomEffectsStructure", "fit_lmm"]

#: ``random=`` spellings -> random-effect terms.
RANDOM = {"intercept": ("intercept",), "intercept+slope": ("intercept", "slope")}


class RandomEffectsStructure(LinearStructure):
    """``Sigma = Z G Z' + s2 I`` over the distinct times of the visits.

    Parameters
    ----------
    times
        The time (e.g. week) of each of the T visits, in visit order.
    random
        ``"intercept"`` (Z = 1, G = [var]) or ``"intercept+slope"`` (Z = [1, t], G an
        unstructured 2 x 2 matrix).

    Notes
    -----
    ``theta`` is in SAS's order for ``RANDOM int t / TYPE=UN``: ``UN(1,1)`` (intercept
    variance), ``UN(2,1)`` (intercept-slope covariance), ``UN(2,2)`` (slope variance),
    then the residual variance. lme4's ``VarCorr`` holds the same numbers. The
    optimizer works on the log-Cholesky factor of G and log s2, so G stays positive
    definite and s2 positive.
    """

    def __init__(self, times: Sequence[float], random: str = "intercept"):
        key = _random_key(random)
        t = np.asarray(times, float).reshape(-1)
        if t.size == 0 or not np.all(np.isfinite(t)):
            raise SpecError("The random-effects structure needs the finite time of every visit.")
        if len(np.unique(t)) != t.size:
            raise SpecError("Two visits share the same time; give each visit its own week.")
        T = t.size
        one = np.ones(T)
        if key == "intercept":
            basis = [np.outer(one, one), np.eye(T)]
            names = ["var(Intercept)", "Residual"]
        else:
            if T < 3:
                raise SpecError(
                    f"A random slope needs at least 3 distinct visit times; this analysis has {T}, so "
                    "intercept, slope and residual variances cannot be told apart -- use random='intercept'."
                )
            basis = [np.outer(one, one), np.outer(one, t) + np.outer(t, one), np.outer(t, t), np.eye(T)]
            names = ["var(Intercept)", "cov(Intercept,slope)", "var(slope)", "Residual"]
        super().__init__("lmm_" + key.replace("+", "_"), T, np.stack(basis), names)
        self.random = key
        self.times = t
        self.n_random = 1 if key == "intercept" else 2

    # G <-> theta
    def g_matrix(self, theta) -> np.ndarray:
        """The random-effects covariance G (1 x 1 or 2 x 2)."""
        theta = np.asarray(theta, float)
        if self.n_random == 1:
            return np.array([[theta[0]]])
        return np.array([[theta[0], theta[1]], [theta[1], theta[2]]])

    def _from_g(self, G: np.ndarray, s2: float) -> np.ndarray:
        if self.n_random == 1:
            return np.array([G[0, 0], s2])
        return np.array([G[0, 0], G[1, 0], G[1, 1], s2])

    def valid(self, theta) -> bool:
        theta = np.asarray(theta, float)
        if theta.shape != (self.n_params,) or not np.all(np.isfinite(theta)) or theta[-1] <= 0:
            return False
        try:
            np.linalg.cholesky(self.g_matrix(theta))
        except np.linalg.LinAlgError:
            return False
        return True

    def to_unconstrained(self, theta) -> np.ndarray:
        theta = np.asarray(theta, float)
        L = np.linalg.cholesky(self.g_matrix(theta))
        if self.n_random == 1:
            return np.array([np.log(L[0, 0]), np.log(theta[-1])])
        return np.array([np.log(L[0, 0]), L[1, 0], np.log(L[1, 1]), np.log(theta[-1])])

    def from_unconstrained(self, u) -> np.ndarray:
        u = np.asarray(u, float)
        if self.n_random == 1:
            return np.array([np.exp(2.0 * u[0]), np.exp(u[1])])
        L = np.array([[np.exp(u[0]), 0.0], [u[1], np.exp(u[2])]])
        return self._from_g(L @ L.T, float(np.exp(u[3])))

    def start(self, S: np.ndarray) -> np.ndarray:
        """Least-squares fit of ``Z G Z' + s2 I`` to a T x T covariance estimate, made valid."""
        S = np.asarray(S, float)
        S = np.where(np.isfinite(S), S, 0.0)
        S = (S + S.T) / 2.0
        scale = float(np.mean(np.diag(S))) if np.all(np.diag(S) > 0) else 1.0
        flat = self.basis.reshape(self.n_params, -1)
        theta, *_ = np.linalg.lstsq(flat.T, S.reshape(-1), rcond=None)
        G = self.g_matrix(theta)
        w, Q = np.linalg.eigh(G)
        floor = 1e-2 * scale if self.n_random == 1 else 1e-2 * scale / (1.0 + float(np.max(self.times ** 2)))
        w = np.maximum(w, floor)
        G = (Q * w) @ Q.T
        s2 = max(float(theta[-1]), 0.1 * scale)
        return self._from_g(G, s2)


def _random_key(random: str) -> str:
    key = str(random).strip().lower().replace(" ", "")
    key = {"slope": "intercept+slope", "intercept_slope": "intercept+slope", "1": "intercept"}.get(key, key)
    if key not in RANDOM:
        raise SpecError(f"random must be 'intercept' or 'intercept+slope', not {random!r}.")
    return key


def fit_lmm(
    data: "TrialData | pd.DataFrame",
    *,
    outcome: str | None = None,
    random: str = "intercept",
    covariates: Sequence[str] = (),
    baseline: str = "covariate",
    mean: str | None = None,
    df_method: str = "satterthwaite",
    method: str = "reml",
    reference_arm: str | None = None,
    conf_level: float = 0.95,
    subject: str = "subject_id",
    visit: str = "visit",
    arm: str | None = "arm",
    response: str = "value",
    time: str = "week",
    reference: Mapping[str, str] | None = None,
    factors: Mapping[str, Sequence[str]] | None = None,
    baseline_visit: str | None = None,
    information: str = "observed",
) -> ModelFit:
    """Fit a linear mixed model with a random intercept, or intercept and slope in time.

    The model is ``y = X b + Z u + e`` with ``u_i ~ N(0, G)`` (G unstructured) and
    ``e ~ N(0, s2 I)``, fitted as the marginal model ``V_i = Z_i G Z_i' + s2 I`` by the
    REML/ML engine shared with :func:`~retrostudy.models.mmrm.fit_mmrm`; the mean-model
    options are the same as ``fit_mmrm``'s. ``lmer(value ~ arm * visit + (1 | subject))``
    on every visit is ``fit_lmm(data, outcome=..., baseline="none")``.

    Parameters
    ----------
    data
        TrialData or a canonical long DataFrame (``outcome`` selects rows), or any long
        DataFrame with one row per subject and time (``outcome=None``; name its columns
        with ``subject``, ``response``, ``time`` and, if present, ``visit`` and ``arm``).
    outcome
        Outcome id in the canonical table.
    random
        ``"intercept"`` or ``"intercept+slope"`` (slope in ``time``; needs at least 3
        distinct times).
    covariates, baseline, mean, reference_arm, reference, factors, baseline_visit
        As in :func:`~retrostudy.models.mmrm.fit_mmrm`. Without a ``visit`` column the
        distinct times are the visits and ``mean`` must be given (e.g. ``"week"``).
    df_method
        ``satterthwaite`` (lmerTest), ``kenward-roger`` (pbkrtest; the covariance is
        linear in its parameters, so this equals ``kenward-roger-linear``),
        ``between-within`` or ``residual``.
    method
        ``reml`` or ``ml``.
    time
        Numeric time of each visit (constant within a visit), the slope's variable.
    information
        Kenward-Roger only: ``"observed"`` (SAS) or ``"expected"`` (Kenward & Roger 1997,
        pbkrtest) REML information for the covariance of the variance components.

    Returns
    -------
    ModelFit
        ``model="lmm"``; ``residual_covariance`` is the table of variance components
        (``estimate``, ``std_error``); ``extra["G"]`` the random-effects covariance and
        ``extra["sigma"]`` the implied visit x visit covariance.
    """
    from . import mmrm as _m

    key = _random_key(random)
    df_method = str(df_method).lower().replace("_", "-")
    if df_method not in _m.DF_METHODS:
        raise SpecError(f"df_method must be one of {', '.join(_m.DF_METHODS)}, not {df_method!r}.")
    method = str(method).lower()
    if method not in ("reml", "ml"):
        raise SpecError(f"method must be 'reml' or 'ml', not {method!r}.")
    if baseline not in ("covariate", "covariate_by_visit", "none"):
        raise SpecError(f"baseline must be 'covariate', 'covariate_by_visit' or 'none', not {baseline!r}.")
    if not 0.0 < float(conf_level) < 1.0:
        raise SpecError(f"conf_level must be between 0 and 1, not {conf_level!r}.")
    if df_method.startswith("kenward") and method != "reml":
        raise SpecError("Kenward-Roger needs method='reml'.")
    if information not in ("observed", "expected"):
        raise SpecError(f"information must be 'observed' or 'expected', not {information!r}.")

    prep = _prepare(data, outcome=outcome, covariates=covariates, baseline=baseline, mean=mean,
                    reference_arm=reference_arm, subject=subject, visit=visit, arm=arm, response=response,
                    time=time, reference=reference, factors=factors, baseline_visit=baseline_visit,
                    slope=key != "intercept")
    frame, design, X, visits, times = prep["frame"], prep["design"], prep["X"], prep["visits"], prep["times"]
    structure = RandomEffectsStructure(times if key != "intercept" else np.arange(len(visits), dtype=float), key)
    vidx = frame["_v"].map({v: i for i, v in enumerate(visits)}).to_numpy()
    problem = prepare(frame[response].to_numpy(float), X, frame[subject].astype(str).to_numpy(), vidx, len(visits))
    eng = fit_reml(problem, structure, method=method, n_subjects_ic=prep["n_subjects_all"])

    if df_method.startswith("kenward"):
        inference = _kenward_roger_inference(eng, information)
    else:
        inference = _m._inference(df_method, "model", eng, design, X, frame[subject].to_numpy())
    columns = list(design.columns)
    se_theta = np.sqrt(np.clip(np.diag(eng.theta_cov), 0.0, None))
    components = pd.DataFrame({"estimate": eng.theta, "std_error": se_theta}, index=list(structure.param_names))
    components.index.name = "parameter"
    stats = dict(eng.fit_stats)
    stats.update({"random": key, "df_method": df_method, "n_subjects_ic": prep["n_subjects_all"]})
    spec = {"model": "lmm", "outcome": prep["outcome"], "random": key, "covariates": list(covariates),
            "baseline": baseline, "mean": prep["rhs"], "df_method": df_method, "method": method,
            "reference_arm": prep["reference_arm"], "conf_level": float(conf_level), "subject": subject,
            "visit": visit, "arm": arm, "response": response, "time": time, "information": information}
    grid = tuple(f for f in (arm, visit) if f is not None and f in design.factors)
    sigma = pd.DataFrame(eng.sigma[0], index=visits, columns=visits)
    G_names = ["Intercept", "slope"][: structure.n_random]
    return ModelFit(
        model="lmm", outcome=str(prep["outcome"]), design=design,
        coef=pd.Series(eng.beta, index=columns, name="estimate"),
        vcov=pd.DataFrame(inference["vcov"], index=columns, columns=columns),
        dof=inference["dof"], ftest=inference["ftest"], grid_factors=grid,
        reference_arm=str(prep["reference_arm"] or ""), df_method=df_method, conf_level=float(conf_level),
        residual_covariance=components, fit_stats=stats, converged=eng.converged,
        exclusions=prep["exclusions"], provenance=_m._provenance(frame), data=frame.drop(columns=["_v"]),
        spec=spec,
        extra={"engine": eng, "G": pd.DataFrame(structure.g_matrix(eng.theta), index=G_names, columns=G_names),
               "sigma": sigma, "times": pd.Series(times, index=visits, name=time),
               "theta_cov": pd.DataFrame(eng.theta_cov, index=components.index, columns=components.index),
               "vcov_model": pd.DataFrame(eng.vcov_beta, index=columns, columns=columns),
               **{k: v for k, v in inference.items() if k not in ("vcov", "dof", "ftest")}},
    )


def _kenward_roger_inference(eng, information: str) -> dict:
    """Kenward-Roger with W from the engine (observed) or the expected information."""
    from .kenward_roger import KRPieces, kenward_roger

    pats = eng.problem.patterns
    pieces = KRPieces(
        X_blocks=[p.X for p in pats], obs_index=[p.visits for p in pats], structure=eng.structure,
        theta=eng.theta, beta=eng.beta, residuals=[p.y - p.X @ eng.beta for p in pats],
        theta_cov=eng.theta_cov if information == "observed" else None,
    )
    kr = kenward_roger(pieces, linear=True, information=information)
    return {"vcov": kr.vcov, "kr": kr, "dof": lambda L: np.asarray(kr.dof(L), float),
            "ftest": lambda L: tuple(float(x) for x in kr.ftest(L)[:3])}


def _prepare(data, *, outcome, covariates, baseline, mean, reference_arm, subject, visit, arm, response, time,
             reference, factors, baseline_visit, slope: bool) -> dict:
    """Rows, design and visit times of an LMM: the mean-model rules of ``fit_mmrm``."""
    from . import mmrm as _m

    frame, trial, _, outcome_id = _m._select(data, outcome, subject, visit, response)
    missing = [c for c in (subject, response) if c not in frame.columns]
    if missing:
        raise SpecError(f"The data has no column(s) {', '.join(missing)}; name them with subject= and response=.")
    has_time = time in frame.columns
    if slope and not has_time:
        raise SpecError(f"A random slope needs the numeric time column {time!r}; name it with time=.")
    frame = frame.copy()
    has_visit = visit in frame.columns
    if not has_visit:
        if not has_time:
            raise SpecError(f"The data has neither a visit column {visit!r} nor a time column {time!r}.")
        if mean is None:
            raise SpecError(f"Without a visit column {visit!r}, give the mean model explicitly, e.g. mean={time!r}.")
        frame["_v"] = frame[time].astype(float).map(repr)
        visits = [repr(float(t)) for t in sorted(frame[time].dropna().astype(float).unique())]
    else:
        frame["_v"] = frame[visit].astype(str)
        visits = list(factors[visit]) if factors and visit in factors else _m._visit_levels(frame, visit)
    n_subjects_all = int(frame[subject].nunique())
    frame = frame.loc[frame["_v"].isin(visits)]
    records: list[dict] = []
    miss = frame[response].isna() | (frame[time].isna() if has_time else False)
    records += _m._records(frame.loc[miss], subject, outcome_id, response, "missing response value or time")
    frame = frame.loc[~miss]

    cov_terms: list[str] = []
    for cov in covariates:
        name, _, by = cov.partition(":")
        if name not in frame.columns:
            raise SpecError(f"Covariate {name!r} is not a column of the data.")
        if by and (by != "visit" or not has_visit):
            raise SpecError(f"Covariate {cov!r}: only 'name:visit' interactions are allowed here.")
        cov_terms += [name] + ([f"{name}:{visit}"] if by else [])
    if baseline != "none":
        bv = baseline_visit or (trial.baseline_visit if trial is not None else visits[0])
        if bv not in visits:
            raise SpecError(f"The baseline visit {bv!r} is not a visit of the data; pass baseline_visit= or baseline='none'.")
        if "baseline" in frame.columns:
            raise SpecError("The data already has a column 'baseline'; rename it or use baseline='none'.")
        base = frame.loc[frame["_v"] == bv].drop_duplicates(subject).set_index(subject)[response]
        frame = frame.loc[frame["_v"] != bv]
        visits = [v for v in visits if v != bv]
        frame["baseline"] = frame[subject].map(base).astype(float)
        nob = frame["baseline"].isna()
        records += _m._records(frame.loc[nob], subject, outcome_id, "baseline", f"no baseline value ({bv})")
        frame = frame.loc[~nob]

    has_arm = arm is not None and arm in frame.columns
    if mean is None:
        head = f"{arm} * {visit}" if has_arm else visit
        extra = cov_terms + {"covariate": ["baseline"], "covariate_by_visit": ["baseline", f"baseline:{visit}"],
                             "none": []}[baseline]
        rhs = " + ".join([head, *extra])
    else:
        rhs = mean
    _, terms = parse_rhs(rhs, known=[c for c in frame.columns if c not in (response, subject, "_v")])
    used = sorted({v for t in terms for v in t})
    for col in used:
        bad = frame[col].isna()
        if bad.any():
            records += _m._records(frame.loc[bad], subject, outcome_id, col, f"missing {col}")
            frame = frame.loc[~bad]
    if frame.empty:
        raise ModelError("No rows are left to analyse after excluding missing values.")
    visits = [v for v in visits if v in set(frame["_v"])]

    fac: dict[str, list[str]] = {visit: visits} if has_visit else {}
    if has_arm:
        arm_levels = list(factors[arm]) if factors and arm in factors else _m._levels(frame[arm])
        arm_levels = [a for a in arm_levels if a in set(frame[arm].astype(str))]
        fac[arm] = arm_levels
        if reference_arm is None:
            reference_arm = arm_levels[-1]
        elif reference_arm not in arm_levels:
            raise SpecError(f"Reference arm {reference_arm!r} is not an arm of the data; arms: {', '.join(arm_levels)}.")
    fac.update({k: list(v) for k, v in (factors or {}).items() if k != visit})
    ref = dict(reference or {})
    if has_arm and arm in used:
        ref.setdefault(arm, reference_arm)
    fac = {k: v for k, v in fac.items() if k in used}
    frame = frame.reset_index(drop=True)
    for var in fac:
        frame[var] = frame[var].astype(str)
    design, X = build_design(frame, rhs, factors=fac, reference=ref, subject=subject)

    times = np.arange(len(visits), dtype=float)
    if has_time:
        per_visit = frame.groupby("_v", sort=False)[time].agg(["min", "max"]).astype(float)
        varying = per_visit.index[per_visit["min"] != per_visit["max"]].tolist()
        if slope and varying:
            raise SpecError(
                f"The time column {time!r} varies within visit {varying[0]!r}; a random slope here needs one time "
                "per visit (use the scheduled week)."
            )
        times = per_visit.loc[visits, "min"].to_numpy()
    exclusions = (trial.exclusions if trial is not None else ExclusionLog()).extend(ExclusionLog.from_records(records))
    return {"frame": frame, "design": design, "X": X, "visits": visits, "times": times, "rhs": rhs,
            "outcome": outcome_id, "reference_arm": reference_arm if has_arm else None,
            "n_subjects_all": n_subjects_all, "exclusions": exclusions}
