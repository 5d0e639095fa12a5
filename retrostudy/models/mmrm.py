"""MMRM: the mixed model for repeated measures with a SAS-style residual covariance.

``fit_mmrm`` turns the canonical long table (or any long frame: its subject, visit, arm
and response column names are given with ``columns=``) into the marginal model ``y_i ~ N(X_i b,
Sigma[obs_i, obs_i])`` and fits it with the REML/ML engine of
:mod:`retrostudy.models.reml`. Inference on any linear combination uses the chosen
df method (Satterthwaite, Kenward-Roger, Kenward-Roger linear, between-within,
residual) and the model-based or empirical (sandwich) covariance.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..deprecation import NOT_GIVEN, NotGiven, resolve_columns, resolve_renamed
from ..errors import SpecError
from ..results import Columns, FitSpec, ModelFit, fit_provenance
from ..trial import TrialData, factor_levels
from .covariance import CovarianceStructure, GroupedStructure
from .dof import type3_hypotheses
from .inference import make_inference
from .longitudinal import DF_METHODS, EngineInput, LongitudinalDetails, check_options, engine_stats, prepare_mean_model
from .reml import fit_reml
from .spatial import SpatialStructure
from .structures import covariance_key, make_structure

__all__ = ["fit_mmrm", "type3_tests", "DF_METHODS", "MmrmDetails"]


@dataclass(frozen=True, eq=False)
class MmrmDetails(LongitudinalDetails):
    """MMRM internals: the engine fit, its inputs, theta (SAS names) and its covariance, the
    model-based vcov of the fixed effects, and the covariance matrix of each group."""

    theta: pd.Series | None = None
    sigma_groups: Mapping[str, pd.DataFrame] = field(default_factory=dict)


def fit_mmrm(
    data: TrialData | pd.DataFrame,
    *,
    outcome: str | None = None,
    covariance: str = "us",
    covariates: Sequence[str] = (),
    baseline: str = "covariate",
    mean: str | None = None,
    df_method: str = "satterthwaite",
    method: str = "reml",
    vcov: str = "model",
    reference_arm: str | None = None,
    conf_level: float = 0.95,
    columns: Mapping[str, str | None] | Columns | None = None,
    reference_levels: Mapping[str, str] | None = None,
    factors: Mapping[str, Sequence[str]] | None = None,
    baseline_visit: str | None = None,
    coordinates: Sequence[str] | None = None,
    group: str | None | NotGiven = NOT_GIVEN,
    weights: str | None | NotGiven = NOT_GIVEN,
    subject: str | None | NotGiven = NOT_GIVEN,
    visit: str | None | NotGiven = NOT_GIVEN,
    arm: str | None | NotGiven = NOT_GIVEN,
    response: str | None | NotGiven = NOT_GIVEN,
    reference: Mapping[str, str] | None | NotGiven = NOT_GIVEN,
) -> ModelFit:
    """Fit an MMRM by REML (or ML) with a SAS covariance structure.

    Parameters
    ----------
    data
        TrialData or a canonical long DataFrame (then ``outcome`` selects rows), or any
        long DataFrame with one row per subject and visit (``outcome=None``; name its
        columns with ``columns=``).
    outcome
        Outcome id in the canonical table.
    covariance
        ``us``, ``cs``, ``csh``, ``ar1``, ``ar1h``, ``toep``, ``toeph``, ``ad``, ``adh`` (or an
        alias such as the SAS names ``un``, ``arh(1)``, ``ante(1)``: see
        :data:`retrostudy.models.structures.ALIASES`); ``sp_exp`` / ``sp_gau`` with
        ``coordinates``.
    covariates
        Subject-level covariate columns; ``"name:visit"`` adds ``name + name:visit``.
    baseline
        ``"covariate"`` (the baseline visit's value becomes the column ``baseline`` and
        leaves the response), ``"covariate_by_visit"`` (adds ``baseline:visit``) or
        ``"none"`` (the baseline visit stays a response).
    mean
        Explicit right-hand side replacing the default ``arm * visit + covariates``
        (+ baseline terms), in the grammar of :func:`retrostudy.design.parse_rhs`.
    df_method
        ``satterthwaite``, ``kenward-roger``, ``kenward-roger-linear``,
        ``between-within`` or ``residual``.
    method
        ``reml`` or ``ml``.
    vcov
        ``model`` or ``empirical`` (SAS ``EMPIRICAL`` sandwich, CR0).
    reference_arm
        Reference level of the arm (default the last arm, as SAS).
    columns
        The data's column names, as a dict with any of the keys ``subject`` (default
        ``"subject_id"``), ``visit`` (``"visit"``), ``arm`` (``"arm"``; None for no arm),
        ``response`` (``"value"``), ``group`` (levels get separate covariance matrices, SAS
        ``GROUP=``) and ``weights`` (positive weights, SAS ``WEIGHT``:
        ``V = W^-1/2 Sigma W^-1/2``).
    reference_levels, factors
        Reference level and level order per categorical variable.
    baseline_visit
        The baseline visit (default: the trial's declared baseline, else the first visit).
    group, weights, subject, visit, arm, response, reference
        Deprecated spellings of ``columns={...}`` and ``reference_levels=`` (they work, with a
        ``FutureWarning``).
    coordinates
        Coordinate columns of each observation for the spatial structures ``sp_exp`` /
        ``sp_gau`` (SAS ``SP(EXP)(c1 c2)``, ``SP(GAU)(c1 c2)``).

    Returns
    -------
    ModelFit
        ``grid_factors`` are the arm and visit columns; ``dof(L)`` and ``ftest(L)`` use
        ``df_method``; ``details`` is an :class:`MmrmDetails`.

    Raises
    ------
    SpecError
        An unknown option (covariance, df method, method, vcov, baseline), a column,
        covariate, visit or reference arm that is not in the data, or options that do not
        go together (Kenward-Roger with ML or the empirical vcov, a spatial structure
        without coordinates).
    ModelError
        Nothing left to analyse, a single arm, or a fit whose df cannot be computed.

    Examples
    --------
    >>> import retrostudy as rs
    >>> trial = rs.load_dataset("alghadir2019_sim")
    >>> fit = rs.fit_mmrm(trial, outcome="womac", df_method="kenward-roger")
    >>> fit.spec.mean, fit.fit_stats.n_subjects, fit.converged
    ('arm * visit + baseline', 59, True)
    >>> every_visit = rs.fit_mmrm(trial, outcome="womac", baseline="none")  # baseline as a response
    >>> every_visit.residual_covariance.shape
    (2, 2)
    """
    cols = resolve_columns("fit_mmrm", columns, Columns(), group=group, weights=weights, subject=subject,
                           visit=visit, arm=arm, response=response)
    reference_levels = resolve_renamed("fit_mmrm", "reference_levels", reference_levels, "reference", reference)
    subject, visit, arm, response = cols.subject, cols.visit, cols.arm, cols.response
    group, weights = cols.group, cols.weights
    df_method, method = check_options(df_method, method, baseline, conf_level)
    if vcov not in ("model", "empirical"):
        raise SpecError(f"vcov must be 'model' or 'empirical', not {vcov!r}.")
    covariance = covariance_key(covariance, spatial=True)
    spatial = covariance in ("sp_exp", "sp_gau")
    if spatial and (not coordinates or group is not None):
        raise SpecError("Spatial structures need coordinates=[column, ...] and no group=.")
    if vcov == "empirical" and df_method in ("satterthwaite", "kenward-roger", "kenward-roger-linear"):
        raise SpecError(
            f"df_method={df_method!r} is not defined with the empirical vcov; use df_method='between-within' "
            "(SAS's default with EMPIRICAL) or 'residual'."
        )
    covariates = list(covariates)
    mm = prepare_mean_model(
        data, stage="mmrm", outcome=outcome, covariates=covariates, baseline=baseline, mean=mean,
        reference_arm=reference_arm, subject=subject, visit=visit, arm=arm, response=response,
        reference=reference_levels, factors=factors, baseline_visit=baseline_visit,
        required=[c for c in (group, weights) if c is not None] + list(coordinates or []),
    )
    frame, design, X, visits, rhs = mm.frame, mm.design, mm.X, mm.visits, mm.rhs
    outcome_id, reference_arm, ref, n_subjects_all = mm.outcome, mm.reference_arm, mm.reference, mm.n_subjects_all

    vidx = pd.Categorical(frame["_v"], categories=visits).codes.astype(np.int64)
    g_levels = factor_levels(frame[group]) if group is not None else None
    g_codes = pd.Categorical(frame[group].astype(str), categories=g_levels).codes.astype(np.int64) if group else None
    n_groups = len(g_levels) if g_levels else 1
    structure: CovarianceStructure
    if spatial:  # one covariance per subject, from its observations' coordinates
        coord_cols = list(coordinates or [])
        g_codes, subj_levels = pd.factorize(frame[subject])
        n_groups = len(subj_levels)
        coords = np.full((n_groups, len(visits), len(coord_cols)), np.nan)
        coords[g_codes, vidx] = frame[coord_cols].to_numpy(float)
        structure = SpatialStructure(covariance, coords)
    else:
        structure = make_structure(covariance, len(visits), groups=g_levels)
    inputs = EngineInput(y=frame[response].to_numpy(float), X=X, subject=frame[subject].to_numpy(), visit=vidx,
                         n_times=len(visits), group=g_codes, n_groups=n_groups,
                         weights=frame[weights].to_numpy(float) if weights else None)
    problem = inputs.problem()
    eng = fit_reml(problem, structure, method=method, n_subjects_ic=n_subjects_all)

    inference = make_inference(df_method, eng, vcov=vcov, X=X, subject=frame[subject].to_numpy(),
                               column_terms=dict(design.term_index))
    coef_names = list(design.columns)
    sigma = None if spatial else pd.DataFrame(eng.sigma[0], index=visits, columns=visits)
    theta_index = ([f"{n} [{g}]" for n, g in zip(eng.theta_names, structure.param_groups)]
                   if isinstance(structure, GroupedStructure) else list(eng.theta_names))
    stats = engine_stats(eng, int(problem.n_subjects), n_subjects_all, covariance=structure.name,
                         df_method=df_method, vcov=vcov)
    spec = FitSpec(model="mmrm", outcome=str(outcome_id), mean=rhs, columns=cols, covariates=tuple(covariates),
                   baseline=baseline, baseline_visit=mm.baseline_visit, response="value",
                   reference_arm=reference_arm, reference_levels=dict(ref), conf_level=float(conf_level),
                   method=method, df_method=df_method, covariance=structure.name, vcov=vcov)
    grid = tuple(f for f in (arm, visit) if f is not None and f in design.factors)
    details = MmrmDetails(
        engine=eng, inputs=inputs, visits=tuple(visits),
        theta=pd.Series(eng.theta, index=theta_index),
        theta_cov=pd.DataFrame(eng.theta_cov, index=theta_index, columns=theta_index),
        vcov_model=pd.DataFrame(eng.vcov_beta, index=coef_names, columns=coef_names),
        sigma_groups={} if spatial else {g: pd.DataFrame(s, index=visits, columns=visits)
                                         for g, s in zip(g_levels or ["all"], eng.sigma)},
    )
    return ModelFit(
        model="mmrm", outcome=str(outcome_id), design=design,
        coef=pd.Series(eng.beta, index=coef_names, name="estimate"),
        vcov=pd.DataFrame(inference.vcov, index=coef_names, columns=coef_names),
        inference=inference, grid_factors=grid,
        reference_arm=str(reference_arm) if reference_arm is not None else "",
        df_method=df_method, conf_level=float(conf_level), response="value",
        residual_covariance=sigma, fit_stats=stats, converged=eng.converged, exclusions=mm.exclusions,
        provenance=fit_provenance(frame, mm.meta), data=frame.drop(columns=["_v"]), spec=spec, details=details,
    )


def type3_tests(fit: ModelFit) -> pd.DataFrame:
    """SAS Type 3 F tests of every term of the mean model, with the fit's df method."""
    from scipy import stats

    rows = []
    for term, L in type3_hypotheses(fit.design).items():
        F, q, ddf = fit.ftest(L)
        rows.append({"term": term, "num_df": q, "den_df": ddf, "statistic": F, "p_value": float(stats.f.sf(F, q, ddf))})
    return pd.DataFrame(rows)
