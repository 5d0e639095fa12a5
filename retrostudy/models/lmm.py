"""Linear mixed models with a random intercept, or a random intercept and slope.

The LMM ``y_ij = x_ij b + z_ij u_i + e_ij`` with ``u_i ~ N(0, G)`` and ``e_ij ~ N(0, s2)``
is the marginal model ``y_i ~ N(X_i b, Z_i G Z_i' + s2 I)``. Over the distinct time
points ``t_1..t_T`` of the visits that covariance is a T x T matrix, linear in the
variance components ``theta = (G elements, s2)`` -- the lme4 / SAS PROC MIXED
"covariance parameter" scale -- so the REML engine of the MMRM fits it unchanged
(:class:`RandomEffectsStructure`), and Kenward-Roger equals its linear form.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..deprecation import NOT_GIVEN, NotGiven, resolve_columns, resolve_renamed
from ..errors import ModelError, RetrostudyWarning, SpecError
from ..results import Columns, FitSpec, ModelFit, fit_provenance
from .boundary import boundary_fit, near_boundary
from .covariance import LinearStructure
from .inference import make_inference
from .longitudinal import EngineInput, LongitudinalDetails, check_options, engine_stats, prepare_mean_model
from .reml import fit_reml

if TYPE_CHECKING:  # pragma: no cover
    from ..trial import TrialData
    from .patterns import RemlProblem
    from .reml import RemlFit

__all__ = ["RandomEffectsStructure", "fit_lmm", "LmmDetails"]

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

    def __init__(self, times: Sequence[float] | np.ndarray, random: str = "intercept"):
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
    def g_matrix(self, theta: np.ndarray) -> np.ndarray:
        """The random-effects covariance G (1 x 1 or 2 x 2)."""
        theta = np.asarray(theta, float)
        if self.n_random == 1:
            return np.array([[theta[0]]])
        return np.array([[theta[0], theta[1]], [theta[1], theta[2]]])

    def _from_g(self, G: np.ndarray, s2: float) -> np.ndarray:
        if self.n_random == 1:
            return np.array([G[0, 0], s2])
        return np.array([G[0, 0], G[1, 0], G[1, 1], s2])

    def valid(self, theta: np.ndarray) -> bool:
        theta = np.asarray(theta, float)
        if theta.shape != (self.n_params,) or not np.all(np.isfinite(theta)) or theta[-1] <= 0:
            return False
        try:
            np.linalg.cholesky(self.g_matrix(theta))
        except np.linalg.LinAlgError:
            return False
        return True

    def to_unconstrained(self, theta: np.ndarray) -> np.ndarray:
        theta = np.asarray(theta, float)
        L = np.linalg.cholesky(self.g_matrix(theta))
        if self.n_random == 1:
            return np.array([np.log(L[0, 0]), np.log(theta[-1])])
        return np.array([np.log(L[0, 0]), L[1, 0], np.log(L[1, 1]), np.log(theta[-1])])

    def from_unconstrained(self, u: np.ndarray) -> np.ndarray:
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
    data: TrialData | pd.DataFrame,
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
    columns: Mapping[str, str | None] | Columns | None = None,
    reference_levels: Mapping[str, str] | None = None,
    factors: Mapping[str, Sequence[str]] | None = None,
    baseline_visit: str | None = None,
    information: str = "observed",
    subject: str | None | NotGiven = NOT_GIVEN,
    visit: str | None | NotGiven = NOT_GIVEN,
    arm: str | None | NotGiven = NOT_GIVEN,
    response: str | None | NotGiven = NOT_GIVEN,
    time: str | None | NotGiven = NOT_GIVEN,
    reference: Mapping[str, str] | None | NotGiven = NOT_GIVEN,
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
        with ``columns=``).
    outcome
        Outcome id in the canonical table.
    random
        ``"intercept"`` or ``"intercept+slope"`` (slope in ``time``; needs at least 3
        distinct times).
    covariates, baseline, mean, reference_arm, reference_levels, factors, baseline_visit
        As in :func:`~retrostudy.models.mmrm.fit_mmrm`. Without a ``visit`` column the
        distinct times are the visits and ``mean`` must be given (e.g. ``"week"``).
    df_method
        ``satterthwaite`` (lmerTest), ``kenward-roger`` (pbkrtest; the covariance is
        linear in its parameters, so this equals ``kenward-roger-linear``),
        ``between-within`` or ``residual``.
    method
        ``reml`` or ``ml``.
    columns
        The data's column names: ``subject``, ``visit``, ``arm``, ``response`` as in
        :func:`~retrostudy.models.mmrm.fit_mmrm`, and ``time`` (default ``"week"``): the
        numeric time of each visit (constant within a visit), the slope's variable.
    information
        Kenward-Roger only: ``"observed"`` (SAS) or ``"expected"`` (Kenward & Roger 1997,
        pbkrtest) REML information for the covariance of the variance components.
    subject, visit, arm, response, time, reference
        Deprecated spellings of ``columns={...}`` and ``reference_levels=`` (they work, with a
        ``FutureWarning``).

    Returns
    -------
    ModelFit
        ``model="lmm"``; ``residual_covariance`` is the table of variance components
        (``estimate``, ``std_error``); ``details`` is an :class:`LmmDetails` (random-effects
        covariance ``G``, implied visit x visit covariance ``sigma``).

    Raises
    ------
    SpecError
        As :func:`~retrostudy.models.mmrm.fit_mmrm`, and a random slope without a numeric
        time column or with fewer than 3 distinct times.
    ModelError
        One value per subject (a random intercept cannot be told apart from the residual),
        nothing left to analyse, or a single arm.

    Examples
    --------
    >>> import retrostudy as rs
    >>> fit = rs.fit_lmm(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", baseline="none")
    >>> fit.residual_covariance.round(3)
                    estimate  std_error
    parameter
    var(Intercept)     1.800      0.359
    Residual           0.427      0.080
    """
    cols = resolve_columns("fit_lmm", columns, Columns(time="week"), subject=subject, visit=visit, arm=arm,
                           response=response, time=time)
    reference_levels = resolve_renamed("fit_lmm", "reference_levels", reference_levels, "reference", reference)
    subject, visit, arm, response, time = cols.subject, cols.visit, cols.arm, cols.response, cols.time or "week"
    key = _random_key(random)
    df_method, method = check_options(df_method, method, baseline, conf_level)
    if information not in ("observed", "expected"):
        raise SpecError(f"information must be 'observed' or 'expected', not {information!r}.")
    slope = key != "intercept"
    if slope and isinstance(data, pd.DataFrame) and time not in data.columns:
        raise SpecError(f"A random slope needs the numeric time column {time!r}; name it with columns={{'time': ...}}.")
    mm = prepare_mean_model(
        data, stage="lmm", outcome=outcome, covariates=covariates, baseline=baseline, mean=mean,
        reference_arm=reference_arm, subject=subject, visit=visit, arm=arm, response=response,
        reference=reference_levels, factors=factors, baseline_visit=baseline_visit, time=time, require_visit=False,
    )
    frame, design, X, visits, times = mm.frame, mm.design, mm.X, mm.visits, mm.times
    if slope:
        _check_one_time_per_visit(frame, time)
    structure = RandomEffectsStructure(times if key != "intercept" else np.arange(len(visits), dtype=float), key)
    vidx = frame["_v"].map({v: i for i, v in enumerate(visits)}).to_numpy()
    inputs = EngineInput(y=frame[response].to_numpy(float), X=X, subject=frame[subject].astype(str).to_numpy(),
                         visit=np.asarray(vidx, dtype=np.int64), n_times=len(visits))
    problem = inputs.problem()
    if problem.n_obs == problem.n_subjects:
        raise ModelError(
            f"Each of the {problem.n_subjects} analysed subjects has one value, so a random intercept cannot be told "
            "apart from the residual; use fit_ancova for one post-baseline visit, or baseline='none' to model the "
            "baseline visit too."
        )
    eng = _fit_with_boundary(problem, structure, method, mm.n_subjects_all)

    inference = make_inference(df_method, eng, X=X, subject=frame[subject].to_numpy(),
                               column_terms=dict(design.term_index), information=information)
    coef_names = list(design.columns)
    se_theta = np.sqrt(np.clip(np.diag(eng.theta_cov), 0.0, None))
    components = pd.DataFrame({"estimate": eng.theta, "std_error": se_theta}, index=list(structure.param_names))
    components.index.name = "parameter"
    stats = engine_stats(eng, int(problem.n_subjects), mm.n_subjects_all, random=key, df_method=df_method)
    spec = FitSpec(model="lmm", outcome=str(mm.outcome), mean=mm.rhs, columns=cols, covariates=tuple(covariates),
                   baseline=baseline, baseline_visit=mm.baseline_visit, response="value",
                   reference_arm=mm.reference_arm, reference_levels=dict(mm.reference), conf_level=float(conf_level),
                   method=method, df_method=df_method, random=key, information=information)
    grid = tuple(f for f in (arm, visit) if f is not None and f in design.factors)
    sigma = pd.DataFrame(eng.sigma[0], index=visits, columns=visits)
    G_names = ["Intercept", "slope"][: structure.n_random]
    details = LmmDetails(
        engine=eng, inputs=inputs, visits=tuple(visits),
        theta_cov=pd.DataFrame(eng.theta_cov, index=components.index, columns=components.index),
        vcov_model=pd.DataFrame(eng.vcov_beta, index=coef_names, columns=coef_names),
        G=pd.DataFrame(structure.g_matrix(eng.theta), index=G_names, columns=G_names),
        sigma=sigma, times=pd.Series(times, index=visits, name=time),
    )
    return ModelFit(
        model="lmm", outcome=str(mm.outcome), design=design,
        coef=pd.Series(eng.beta, index=coef_names, name="estimate"),
        vcov=pd.DataFrame(inference.vcov, index=coef_names, columns=coef_names),
        inference=inference, grid_factors=grid,
        reference_arm=str(mm.reference_arm or ""), df_method=df_method, conf_level=float(conf_level),
        residual_covariance=components, fit_stats=stats, converged=eng.converged,
        exclusions=mm.exclusions, provenance=fit_provenance(frame, mm.meta), data=frame.drop(columns=["_v"]),
        spec=spec, details=details,
    )


@dataclass(frozen=True, eq=False)
class LmmDetails(LongitudinalDetails):
    """LMM internals: besides the engine's, the random-effects covariance ``G``, the implied
    visit x visit covariance ``sigma`` and the time of each visit."""

    G: pd.DataFrame | None = None
    sigma: pd.DataFrame | None = None
    times: pd.Series | None = None


def _fit_with_boundary(problem: RemlProblem, structure: RandomEffectsStructure, method: str, n_ic: int) -> RemlFit:
    """The engine fit, or lme4's boundary (singular) fit when the optimum has G singular: the
    interior optimizer's warnings are kept only when the boundary fit does not replace it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eng = fit_reml(problem, structure, method=method, n_subjects_ic=n_ic)
    if not (eng.converged and eng.hessian_pd) and near_boundary(structure, eng.theta):
        bnd = boundary_fit(eng)
        if bnd is not None:
            warnings.warn(f"The {method.upper()} fit is a {bnd.message} (as lme4 reports a singular fit); the "
                          "estimates are the maximum on that boundary.", RetrostudyWarning, stacklevel=3)
            return bnd
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return eng


def _check_one_time_per_visit(frame: pd.DataFrame, time: str) -> None:
    """A random slope needs one time per visit (the scheduled week)."""
    per_visit = frame.groupby("_v", sort=False)[time].agg(["min", "max"]).astype(float)
    varying = per_visit.index[per_visit["min"] != per_visit["max"]].tolist()
    if varying:
        raise SpecError(
            f"The time column {time!r} varies within visit {varying[0]!r}; a random slope here needs one time "
            "per visit (use the scheduled week)."
        )
