"""MMRM: the mixed model for repeated measures with a SAS-style residual covariance.

``fit_mmrm`` turns the canonical long table (or any long frame: subject, visit and
response column names are arguments) into the marginal model ``y_i ~ N(X_i b,
Sigma[obs_i, obs_i])`` and fits it with the REML/ML engine of
:mod:`retrostudy.models.reml`. Inference on any linear combination uses the chosen
df method (Satterthwaite, Kenward-Roger, Kenward-Roger linear, between-within,
residual) and the model-based or empirical (sandwich) covariance.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..results import ModelFit, fit_provenance
from ..trial import TrialData
from .covariance import STRUCTURES, make_structure
from ..trial import factor_levels
from .longitudinal import DF_METHODS, check_options, prepare_mean_model
from .dof import (between_within_df, bw_dof, satterthwaite_dof, satterthwaite_ftest, type3_hypotheses,
                  wald_f)
from .reml import fit_reml, prepare, second_order_blocks
from .sandwich import empirical_vcov
from .spatial import SpatialStructure

__all__ = ["fit_mmrm", "type3_tests", "DF_METHODS"]


def fit_mmrm(
    data: "TrialData | pd.DataFrame",
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
    group: str | None = None,
    weights: str | None = None,
    subject: str = "subject_id",
    visit: str = "visit",
    arm: str | None = "arm",
    response: str = "value",
    reference: Mapping[str, str] | None = None,
    factors: Mapping[str, Sequence[str]] | None = None,
    baseline_visit: str | None = None,
    coordinates: Sequence[str] | None = None,
) -> ModelFit:
    """Fit an MMRM by REML (or ML) with a SAS covariance structure.

    Parameters
    ----------
    data
        TrialData or a canonical long DataFrame (then ``outcome`` selects rows), or any
        long DataFrame with one row per subject and visit (``outcome=None``; name the
        columns with ``subject``, ``visit``, ``arm``, ``response``).
    outcome
        Outcome id in the canonical table.
    covariance
        ``us``, ``cs``, ``csh``, ``ar1``, ``ar1h``, ``toep``, ``toeph``, ``ad``, ``adh``.
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
    group
        Column whose levels get separate covariance matrices (SAS ``GROUP=``).
    weights
        Column of positive weights (SAS ``WEIGHT``: ``V = W^-1/2 Sigma W^-1/2``).
    reference, factors
        Reference level and level order per categorical variable.
    baseline_visit
        The baseline visit (default: the trial's declared baseline, else the first visit).
    coordinates
        Coordinate columns of each observation for the spatial structures ``sp_exp`` /
        ``sp_gau`` (SAS ``SP(EXP)(c1 c2)``, ``SP(GAU)(c1 c2)``).

    Returns
    -------
    ModelFit
        ``grid_factors`` are the arm and visit columns; ``dof(L)`` and ``ftest(L)`` use
        ``df_method``; ``extra["engine"]`` is the :class:`~retrostudy.models.reml.RemlFit`.
    """
    df_method, method = check_options(df_method, method, baseline, conf_level)
    if vcov not in ("model", "empirical"):
        raise SpecError(f"vcov must be 'model' or 'empirical', not {vcov!r}.")
    spatial = str(covariance).lower() in ("sp_exp", "sp_gau")
    if spatial and (not coordinates or group is not None):
        raise SpecError("Spatial structures need coordinates=[column, ...] and no group=.")
    if not spatial and str(covariance).lower() not in STRUCTURES and str(covariance).lower() not in (
            "un", "ar(1)", "arh(1)"):
        raise SpecError(f"Unknown covariance structure {covariance!r}; use one of {', '.join(STRUCTURES)}.")
    if vcov == "empirical" and df_method in ("satterthwaite", "kenward-roger", "kenward-roger-linear"):
        raise SpecError(
            f"df_method={df_method!r} is not defined with the empirical vcov; use df_method='between-within' "
            "(SAS's default with EMPIRICAL) or 'residual'."
        )
    covariates = list(covariates)
    mm = prepare_mean_model(
        data, stage="mmrm", outcome=outcome, covariates=covariates, baseline=baseline, mean=mean,
        reference_arm=reference_arm, subject=subject, visit=visit, arm=arm, response=response,
        reference=reference, factors=factors, baseline_visit=baseline_visit,
        required=[c for c in (group, weights) if c is not None] + list(coordinates or []),
    )
    frame, design, X, visits, rhs = mm.frame, mm.design, mm.X, mm.visits, mm.rhs
    outcome_id, reference_arm, ref, n_subjects_all = mm.outcome, mm.reference_arm, mm.reference, mm.n_subjects_all

    vidx = pd.Categorical(frame["_v"], categories=visits).codes.astype(np.int64)
    g_levels = factor_levels(frame[group]) if group is not None else None
    g_codes = pd.Categorical(frame[group].astype(str), categories=g_levels).codes.astype(np.int64) if group else None
    n_groups = len(g_levels) if g_levels else 1
    if spatial:  # one covariance per subject, from its observations' coordinates
        g_codes, subj_levels = pd.factorize(frame[subject])
        n_groups = len(subj_levels)
        coords = np.full((n_groups, len(visits), len(coordinates)), np.nan)
        coords[g_codes, vidx] = frame[list(coordinates)].to_numpy(float)
        structure = SpatialStructure(str(covariance).lower(), coords)
    else:
        structure = make_structure(covariance, len(visits), groups=g_levels)
    problem = prepare(frame[response].to_numpy(float), X, frame[subject].to_numpy(), vidx, len(visits),
                      group=g_codes, n_groups=n_groups, weights=frame[weights].to_numpy(float) if weights else None)
    eng = fit_reml(problem, structure, method=method, n_subjects_ic=n_subjects_all)

    b, C = eng.beta, eng.vcov_beta
    inference = _inference(df_method, vcov, eng, design, X, frame[subject].to_numpy())
    V_used = inference["vcov"]
    columns = list(design.columns)
    exclusions = mm.exclusions
    sigma = None if spatial else pd.DataFrame(eng.sigma[0], index=visits, columns=visits)
    theta_index = [f"{n} [{g}]" for n, g in zip(eng.theta_names, structure.param_groups)] if g_levels and len(
        g_levels) > 1 else list(eng.theta_names)
    stats = dict(eng.fit_stats)
    stats["n_subjects"] = int(problem.n_subjects)
    stats.update({"covariance": structure.name, "df_method": df_method, "vcov": vcov,
                  "n_subjects_ic": n_subjects_all})
    spec = {"model": "mmrm", "outcome": outcome_id, "covariance": structure.name, "covariates": covariates,
            "baseline": baseline, "mean": rhs, "df_method": df_method, "method": method, "vcov": vcov,
            "reference_arm": reference_arm, "conf_level": float(conf_level), "group": group, "weights": weights,
            "subject": subject, "visit": visit, "arm": arm, "response": response, "reference": ref}
    grid = tuple(f for f in (arm, visit) if f is not None and f in design.factors)
    return ModelFit(
        model="mmrm", outcome=str(outcome_id), design=design,
        coef=pd.Series(b, index=columns, name="estimate"),
        vcov=pd.DataFrame(V_used, index=columns, columns=columns),
        dof=inference["dof"], ftest=inference["ftest"], grid_factors=grid,
        reference_arm=str(reference_arm) if reference_arm is not None else "",
        df_method=df_method, conf_level=float(conf_level), response="value",
        residual_covariance=sigma, fit_stats=stats, converged=eng.converged, exclusions=exclusions,
        provenance=fit_provenance(frame, mm.meta), data=frame.drop(columns=["_v"]), spec=spec,
        extra={"engine": eng, "theta": pd.Series(eng.theta, index=theta_index),
               "theta_cov": pd.DataFrame(eng.theta_cov, index=theta_index, columns=theta_index),
               "vcov_model": pd.DataFrame(C, index=columns, columns=columns),
               "sigma_groups": {} if spatial else {g: pd.DataFrame(s, index=visits, columns=visits)
                                                    for g, s in zip(g_levels or ["all"], eng.sigma)},
               **{k: v for k, v in inference.items() if k not in ("vcov", "dof", "ftest")}},
    )


def _inference(df_method: str, vcov_kind: str, eng, design, X, subject,
               information: str = "observed") -> dict[str, Any]:
    """vcov, ``dof(L)`` and ``ftest(L)`` of a fit by its df method (shared by fit_mmrm and fit_lmm)."""
    b, C = eng.beta, eng.vcov_beta
    V = empirical_vcov(eng) if vcov_kind == "empirical" else C
    out: dict[str, Any] = {"vcov": V}
    if df_method == "satterthwaite":
        out["dof"] = lambda L: satterthwaite_dof(L, C, eng.Q, eng.theta_cov)
        out["ftest"] = lambda L: satterthwaite_ftest(L, b, C, eng.Q, eng.theta_cov)
    elif df_method.startswith("kenward"):
        kr = _kenward_roger(eng, linear=df_method.endswith("linear"), information=information)
        out.update(vcov=kr.vcov, kr=kr)
        out["dof"] = lambda L: np.asarray(kr.dof(L), float)
        out["ftest"] = lambda L: tuple(float(x) for x in kr.ftest(L)[:3])
    elif df_method == "between-within":
        col_df, info = between_within_df(design, X, subject)
        out["bw"] = info
        out["dof"] = lambda L: bw_dof(L, col_df)

        def ftest(L):
            F, q = wald_f(L, b, V)
            return F, float(q), float(np.min(bw_dof(L, col_df)))
        out["ftest"] = ftest
    else:
        dfr = float(eng.problem.n_obs - eng.problem.p)
        out["dof"] = lambda L: np.full(np.atleast_2d(L).shape[0], dfr)

        def ftest_r(L):
            F, q = wald_f(L, b, V)
            return F, float(q), dfr
        out["ftest"] = ftest_r
    return out


def _kenward_roger(eng, *, linear: bool, information: str = "observed"):
    """Kenward-Roger (retrostudy.models.kenward_roger) on the engine's patterns."""
    from .kenward_roger import KRPieces, kenward_roger

    st = eng.structure
    if isinstance(st, SpatialStructure):  # parameters shared by all subjects' matrices
        return _kr_from_blocks(eng, linear=linear)
    structs = list(st.subs) if getattr(st, "n_groups", 1) > 1 else st
    pats = eng.problem.patterns
    pieces = KRPieces(
        X_blocks=[p.X for p in pats], obs_index=[p.visits for p in pats], structure=structs, theta=eng.theta,
        beta=eng.beta, residuals=[p.y - p.X @ eng.beta for p in pats], weights=None,
        groups=[p.group for p in pats], theta_cov=eng.theta_cov if information == "observed" else None,
        XX_blocks=[p.XX for p in pats],
    )
    return kenward_roger(pieces, linear=linear, information=information)


def _kr_from_blocks(eng, *, linear: bool):
    """Kenward & Roger (1997) adjusted covariance from the engine's own pattern sums
    (``second_order_blocks``): ``Phi_A = Phi + 2 Phi [sum_ij W_ij (Q_ij - P_i Phi P_j -
    R_ij / 4)] Phi`` with W the engine's ``theta_cov``; df and F by
    :func:`retrostudy.models.kenward_roger.kr_df_ftest`."""
    from .kenward_roger import KRResult

    Pk, Qkl, Rkl = second_order_blocks(eng)
    Phi, W = eng.vcov_beta, eng.theta_cov
    PPhiP = np.einsum("iab,bc,jcd->ijad", Pk, Phi, Pk)
    inner = Qkl - PPhiP - (0.0 if linear else 0.25 * Rkl)
    adj = np.einsum("ij,ijab->ab", W, inner)
    Phi_A = Phi + 2.0 * Phi @ adj @ Phi
    return KRResult(vcov=(Phi_A + Phi_A.T) / 2.0, vcov_unadjusted=Phi, theta_cov=W, information=None, P=-Pk,
                    linear=linear, information_kind="supplied", beta=eng.beta)


def type3_tests(fit: ModelFit) -> pd.DataFrame:
    """SAS Type 3 F tests of every term of the mean model, with the fit's df method."""
    from scipy import stats

    rows = []
    for term, L in type3_hypotheses(fit.design).items():
        F, q, ddf = fit.ftest(L)
        rows.append({"term": term, "num_df": q, "den_df": ddf, "statistic": F, "p_value": float(stats.f.sf(F, q, ddf))})
    return pd.DataFrame(rows)
