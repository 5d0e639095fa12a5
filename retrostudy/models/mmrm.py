"""MMRM: the mixed model for repeated measures with a SAS-style residual covariance.

``fit_mmrm`` turns the canonical long table (or any long frame: subject, visit and
response column names are arguments) into the marginal model ``y_i ~ N(X_i b,
Sigma[obs_i, obs_i])`` and fits it with the REML/ML engine of
:mod:`retrostudy.models.reml`. Inference on any linear combination uses the chosen
df method (Satterthwaite, Kenward-Roger, Kenward-Roger linear, between-within,
residual) and the model-based or empirical (sandwich) covariance.
"""
from __future__ import annotations

import hashlib
import platform
from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..design import build_design, parse_rhs
from ..errors import ModelError, SpecError
from ..exclusions import ExclusionLog
from ..results import ModelFit
from ..trial import TrialData, as_trial
from .covariance import STRUCTURES, make_structure
from .dof import (between_within_df, bw_dof, satterthwaite_dof, satterthwaite_ftest, type3_hypotheses,
                  wald_f)
from .reml import fit_reml, prepare, second_order_blocks
from .sandwich import empirical_vcov
from .spatial import SpatialStructure

__all__ = ["fit_mmrm", "type3_tests", "DF_METHODS"]

DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "between-within", "residual")


def _levels(col: pd.Series) -> list[str]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.cat.remove_unused_categories().cat.categories.astype(str))
        return [str(c) for c in col.cat.categories if str(c) in present]
    return sorted(str(x) for x in pd.unique(col.dropna().astype(str)))


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
    df_method = str(df_method).lower().replace("_", "-")
    if df_method not in DF_METHODS:
        raise SpecError(f"df_method must be one of {', '.join(DF_METHODS)}, not {df_method!r}.")
    method = str(method).lower()
    if method not in ("reml", "ml"):
        raise SpecError(f"method must be 'reml' or 'ml', not {method!r}.")
    if vcov not in ("model", "empirical"):
        raise SpecError(f"vcov must be 'model' or 'empirical', not {vcov!r}.")
    if baseline not in ("covariate", "covariate_by_visit", "none"):
        raise SpecError(f"baseline must be 'covariate', 'covariate_by_visit' or 'none', not {baseline!r}.")
    spatial = str(covariance).lower() in ("sp_exp", "sp_gau")
    if spatial and (not coordinates or group is not None):
        raise SpecError("Spatial structures need coordinates=[column, ...] and no group=.")
    if not spatial and str(covariance).lower() not in STRUCTURES and str(covariance).lower() not in (
            "un", "ar(1)", "arh(1)"):
        raise SpecError(f"Unknown covariance structure {covariance!r}; use one of {', '.join(STRUCTURES)}.")
    if not 0.0 < float(conf_level) < 1.0:
        raise SpecError(f"conf_level must be between 0 and 1, not {conf_level!r}.")
    if vcov == "empirical" and df_method in ("satterthwaite", "kenward-roger", "kenward-roger-linear"):
        raise SpecError(
            f"df_method={df_method!r} is not defined with the empirical vcov; use df_method='between-within' "
            "(SAS's default with EMPIRICAL) or 'residual'."
        )
    if df_method.startswith("kenward") and method != "reml":
        raise SpecError("Kenward-Roger needs method='reml'.")

    frame, trial, log, outcome_id = _select(data, outcome, subject, visit, response)
    if visit not in frame.columns or subject not in frame.columns or response not in frame.columns:
        missing = [c for c in (subject, visit, response) if c not in frame.columns]
        raise SpecError(f"The data has no column(s) {', '.join(missing)}; name them with subject=, visit=, response=.")
    n_subjects_all = int(frame[subject].nunique())
    visits = list(factors[visit]) if factors and visit in factors else _visit_levels(frame, visit)
    records: list[dict] = []
    frame = frame.copy()
    frame["_v"] = frame[visit].astype(str)
    frame = frame.loc[frame["_v"].isin(visits)]

    # response missing -> excluded and logged
    miss = frame[response].isna()
    records += _records(frame.loc[miss], subject, outcome_id, response, "missing response value")
    frame = frame.loc[~miss]

    covariates = list(covariates)
    cov_terms: list[str] = []
    cov_cols: list[str] = []
    for cov in covariates:
        name, _, by = cov.partition(":")
        if name not in frame.columns:
            raise SpecError(f"Covariate {name!r} is not a column of the data.")
        if by and by != "visit":
            raise SpecError(f"Covariate {cov!r}: only 'name:visit' interactions are allowed here.")
        cov_cols.append(name)
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
        records += _records(frame.loc[nob], subject, outcome_id, "baseline", f"no baseline value ({bv})")
        frame = frame.loc[~nob]

    arm_levels: list[str] = []
    if arm is not None and arm in frame.columns:
        arm_levels = list(factors[arm]) if factors and arm in factors else _levels(frame[arm])
    if mean is None:
        head = f"{arm} * {visit}" if (arm is not None and arm in frame.columns) else visit
        extra_terms = cov_terms + {"covariate": ["baseline"], "covariate_by_visit": ["baseline", f"baseline:{visit}"],
                                   "none": []}[baseline]
        rhs = " + ".join([head, *extra_terms])
    else:
        rhs = mean
    known = [c for c in frame.columns if c not in (response, subject, "_v")]
    _, terms = parse_rhs(rhs, known=known)
    used = sorted({v for t in terms for v in t})
    for extra_col, label in ((group, "group"), (weights, "weights")):
        if extra_col is not None and extra_col not in frame.columns:
            raise SpecError(f"The {label} column {extra_col!r} is not in the data.")
    for col in used + [c for c in (group, weights) if c is not None] + list(coordinates or []):
        bad = frame[col].isna()
        if bad.any():
            records += _records(frame.loc[bad], subject, outcome_id, col, f"missing {col}")
            frame = frame.loc[~bad]
    if frame.empty:
        raise ModelError("No rows are left to analyse after excluding missing values.")

    present_v = set(frame["_v"].unique())
    visits = [v for v in visits if v in present_v]
    fac = {visit: visits}
    if arm_levels:
        present_a = set(frame[arm].astype(str).unique())
        arm_levels = [a for a in arm_levels if a in present_a]
        fac[arm] = arm_levels
        if reference_arm is None:
            reference_arm = arm_levels[-1]
        elif reference_arm not in arm_levels:
            raise SpecError(f"Reference arm {reference_arm!r} is not an arm of the data; arms: {', '.join(arm_levels)}.")
    fac.update({k: list(v) for k, v in (factors or {}).items() if k != visit})
    ref = dict(reference or {})
    if arm_levels and arm in used:
        ref.setdefault(arm, reference_arm)
    for var in list(fac):
        if var not in used:
            fac.pop(var)
    frame = frame.reset_index(drop=True)
    design, X = _design(frame, rhs, used, fac, ref, subject)

    vidx = pd.Categorical(frame["_v"], categories=visits).codes.astype(np.int64)
    g_levels = _levels(frame[group]) if group is not None else None
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
    exclusions = (trial.exclusions if trial is not None else ExclusionLog()).extend(ExclusionLog.from_records(records))
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
        provenance=_provenance(frame), data=frame.drop(columns=["_v"]), spec=spec,
        extra={"engine": eng, "theta": pd.Series(eng.theta, index=theta_index),
               "theta_cov": pd.DataFrame(eng.theta_cov, index=theta_index, columns=theta_index),
               "vcov_model": pd.DataFrame(C, index=columns, columns=columns),
               "sigma_groups": {} if spatial else {g: pd.DataFrame(s, index=visits, columns=visits)
                                                    for g, s in zip(g_levels or ["all"], eng.sigma)},
               **{k: v for k, v in inference.items() if k not in ("vcov", "dof", "ftest")}},
    )


def _inference(df_method: str, vcov_kind: str, eng, design, X, subject) -> dict[str, Any]:
    b, C = eng.beta, eng.vcov_beta
    V = empirical_vcov(eng) if vcov_kind == "empirical" else C
    out: dict[str, Any] = {"vcov": V}
    if df_method == "satterthwaite":
        out["dof"] = lambda L: satterthwaite_dof(L, C, eng.Q, eng.theta_cov)
        out["ftest"] = lambda L: satterthwaite_ftest(L, b, C, eng.Q, eng.theta_cov)
    elif df_method.startswith("kenward"):
        kr = _kenward_roger(eng, linear=df_method.endswith("linear"))
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


def _kenward_roger(eng, *, linear: bool):
    try:
        from .kenward_roger import KRPieces, kenward_roger
    except ImportError as exc:  # pragma: no cover - depends on the KR module being present
        raise SpecError("df_method='kenward-roger' is not available yet in this installation.") from exc
    st = eng.structure
    if isinstance(st, SpatialStructure):  # parameters shared by all subjects' matrices
        return _kr_from_blocks(eng, linear=linear)
    structs = list(st.subs) if getattr(st, "n_groups", 1) > 1 else st
    pats = eng.problem.patterns
    pieces = KRPieces(
        X_blocks=[p.X for p in pats], obs_index=[p.visits for p in pats], structure=structs, theta=eng.theta,
        beta=eng.beta, residuals=[p.y - p.X @ eng.beta for p in pats], weights=None,
        groups=[p.group for p in pats], theta_cov=eng.theta_cov,
    )
    return kenward_roger(pieces, linear=linear)


def _design(frame: pd.DataFrame, rhs: str, used: list[str], fac: dict, ref: dict, subject: str):
    """``build_design`` learned on a few rows, then the model matrix of all rows built
    vectorized (category codes), with the design's data summaries from all rows."""
    fac = dict(fac)
    for var in used:
        col = frame[var]
        if var not in fac and (not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            fac[var] = _levels(col)
    small = frame[used].drop_duplicates().copy() if len(frame) > 2000 else frame[used].copy()
    if subject not in small.columns:
        small[subject] = frame.loc[small.index, subject]
    for var in fac:
        small[var] = small[var].astype(str)
    design, _ = build_design(small, rhs, factors=fac, reference=ref)
    n = len(frame)
    ind = {}
    counts = {}
    for var, f in design.factors.items():
        codes = pd.Categorical(frame[var].astype(str), categories=list(f.levels)).codes
        if np.any(codes < 0):
            raise SpecError(f"{var} has a level the design does not know; known levels: {list(f.levels)}.")
        for k, lvl in enumerate(f.levels):
            ind[(var, lvl)] = (codes == k).astype(float)
        counts[var] = {lvl: int(c) for lvl, c in zip(f.levels, np.bincount(codes, minlength=len(f.levels)))}
    nums = {var: frame[var].to_numpy(float) for var in design.numerics}
    X = np.empty((n, len(design.columns)))
    for j, parts in enumerate(design.column_parts):
        col = np.ones(n)
        for var, lvl in parts:
            col = col * (ind[(var, lvl)] if lvl is not None else nums[var])
        X[:, j] = col
    firsts = frame.groupby(subject, sort=False)[list(design.numerics)].first() if design.numerics else None
    design = replace(
        design, factor_counts=counts, numerics={v: float(nums[v].mean()) for v in design.numerics},
        subject_means={v: float(firsts[v].astype(float).mean()) for v in design.numerics},
    )
    return design, X


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


def _select(data, outcome, subject, visit, response):
    """The rows to analyse, the TrialData (or None), an empty log and the outcome id."""
    if isinstance(data, TrialData) or (isinstance(data, pd.DataFrame) and outcome is not None):
        trial = as_trial(data)
        frame = trial.data
        outs = trial.outcomes
        if outcome is None:
            if len(outs) != 1:
                raise SpecError(f"Name the outcome to analyse: outcome= one of {', '.join(outs)}.")
            outcome = outs[0]
        if outcome not in outs:
            raise SpecError(f"Outcome {outcome!r} is not in the data; available outcomes: {', '.join(outs)}.")
        return frame.loc[frame["outcome"].astype(str) == outcome], trial, [], outcome
    if not isinstance(data, pd.DataFrame):
        raise SpecError(f"Expected TrialData or a pandas DataFrame, got {type(data).__name__}.")
    if "outcome" in data.columns and response == "value":
        outs = sorted(str(x) for x in pd.unique(data["outcome"].dropna().astype(str)))
        if len(outs) > 1:
            raise SpecError(f"The data holds several outcomes; name one with outcome= ({', '.join(outs)}).")
    return data, None, [], response


def _visit_levels(frame: pd.DataFrame, visit: str) -> list[str]:
    col = frame[visit]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return _levels(col)
    if "week" in frame.columns:
        return [str(v) for v in frame.groupby(col.astype(str))["week"].min().sort_values().index]
    return _levels(col)


def _records(rows: pd.DataFrame, subject: str, outcome, column: str, reason: str) -> list[dict]:
    if rows.empty:
        return []
    value = rows[column] if column in rows.columns else pd.Series([None] * len(rows), index=rows.index)
    src_file = rows["source_file"] if "source_file" in rows.columns else [None] * len(rows)
    src_row = rows["source_row"] if "source_row" in rows.columns else [None] * len(rows)
    return [
        {"stage": "mmrm", "file": f, "row": r, "subject_id": str(s), "visit": str(v), "outcome": str(outcome),
         "column": column, "value": None if pd.isna(x) else x, "cells": 1, "reason": reason}
        for s, v, x, f, r in zip(rows[subject], rows["_v"], value, src_file, src_row)
    ]


def _provenance(frame: pd.DataFrame) -> dict:
    import scipy

    from .. import __version__

    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    return {"data_sha256": digest,
            "versions": {"retrostudy": __version__, "python": platform.python_version(), "numpy": np.__version__,
                         "pandas": pd.__version__, "scipy": scipy.__version__}}
