"""The mean model of the longitudinal models, shared by ``fit_mmrm`` and ``fit_lmm``.

From the canonical long table (or any long frame) to the rows to analyse and their
design matrix: select the outcome, drop and log rows with a missing response,
covariate or baseline, turn the baseline visit into the ``baseline`` column (or keep
it as a response), build the default mean ``arm * visit + covariates (+ baseline
terms)`` or validate an explicit one, and learn the design. Every row left out is
an ExclusionLog entry with its reason.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..design import Design, build_design, parse_rhs
from ..errors import ModelError, RetrostudyWarning, SpecError
from ..exclusions import ExclusionLog
from ..options import BASELINE_OPTIONS, DF_METHODS
from ..results import FitStats, ModelDetails, check_conf_level
from ..trial import TrialData, as_trial, factor_levels
from .patterns import RemlProblem, prepare
from .reml import RemlFit

__all__ = ["DF_METHODS", "BASELINE_OPTIONS", "check_options", "MeanModel", "prepare_mean_model", "EngineInput",
           "LongitudinalDetails", "engine_stats"]



def check_options(df_method: str, method: str, baseline: str, conf_level: float) -> tuple[str, str]:
    """Validate the options both longitudinal fits share; returns normalised (df_method, method)."""
    df_method = str(df_method).lower().replace("_", "-")
    if df_method not in DF_METHODS:
        raise SpecError(f"df_method must be one of {', '.join(DF_METHODS)}, not {df_method!r}.")
    method = str(method).lower()
    if method not in ("reml", "ml"):
        raise SpecError(f"method must be 'reml' or 'ml', not {method!r}.")
    if baseline not in BASELINE_OPTIONS:
        raise SpecError(f"baseline must be one of {', '.join(map(repr, BASELINE_OPTIONS))}, not {baseline!r}.")
    check_conf_level(conf_level)
    if df_method.startswith("kenward") and method != "reml":
        raise SpecError("Kenward-Roger needs method='reml'.")
    return df_method, method


@dataclass(frozen=True, eq=False)
class MeanModel:
    """Rows to analyse and their design.

    ``frame`` has a column ``_v`` (the visit as text) and, with a baseline covariate,
    ``baseline``; ``visits`` are the analysed visits in order; ``times`` their numeric
    time (or 0, 1, ... without a time column).
    """

    frame: pd.DataFrame
    design: Design
    X: np.ndarray
    visits: list[str]
    times: np.ndarray
    rhs: str
    outcome: str
    reference_arm: str | None
    reference: dict[str, str]
    n_subjects_all: int
    exclusions: ExclusionLog
    meta: Mapping = field(default_factory=dict)  # the TrialData's meta (source file, study), if any
    baseline_visit: str | None = None


@dataclass(frozen=True, eq=False)
class EngineInput:
    """The arrays a longitudinal fit hands to the REML engine, kept so that a refit on the
    same design (:mod:`retrostudy.models.refit`) does not rebuild anything.

    ``y`` (n,), ``X`` (n, p), ``subject`` labels (n,), ``visit`` index in ``0..n_times-1``
    (n,), covariance ``group`` index (n,) or None with ``n_groups`` groups, SAS ``weights``
    (n,) or None.
    """

    y: np.ndarray
    X: np.ndarray
    subject: np.ndarray
    visit: np.ndarray
    n_times: int
    group: np.ndarray | None = None
    n_groups: int = 1
    weights: np.ndarray | None = None

    def problem(self, *, y: np.ndarray | None = None, X: np.ndarray | None = None,
                rows: np.ndarray | None = None) -> RemlProblem:
        """The engine's :class:`RemlProblem` of these arrays (optionally a new response or
        design, and a subset of rows)."""
        yy = self.y if y is None else np.asarray(y, float)
        XX = self.X if X is None else np.asarray(X, float)
        sel = slice(None) if rows is None else rows
        group = None if self.group is None else self.group[sel]
        weights = None if self.weights is None else self.weights[sel]
        return prepare(yy[sel], XX[sel], self.subject[sel], self.visit[sel], self.n_times, group=group,
                       n_groups=self.n_groups, weights=weights)


@dataclass(frozen=True, eq=False)
class LongitudinalDetails(ModelDetails):
    """Internals of an engine fit (MMRM, LMM): the :class:`RemlFit`, its inputs, the
    analysed visits, the covariance of theta and the model-based vcov of beta."""

    engine: RemlFit | None = None
    inputs: EngineInput | None = None
    visits: tuple[str, ...] = ()
    theta_cov: pd.DataFrame | None = None
    vcov_model: pd.DataFrame | None = None


def engine_stats(eng: RemlFit, n_subjects: int, n_subjects_ic: int, *, covariance: str | None = None,
                 df_method: str | None = None, vcov: str | None = None, random: str | None = None) -> FitStats:
    """:class:`FitStats` of an engine fit, with the model options echoed for display."""
    st = eng.fit_stats
    return FitStats(
        n_subjects=int(n_subjects), n_obs=int(st["n_obs"]), method=str(st["method"]), loglik=float(st["loglik"]),
        minus2_loglik=float(st["minus2_loglik"]), aic=float(st["aic"]), bic=float(st["bic"]),
        converged=bool(st["converged"]), n_cov_params=int(st["n_cov_params"]), iterations=int(st["iterations"]),
        gradient_norm=float(st["gradient_norm"]), hessian_pd=bool(st["hessian_pd"]), optimizer=str(st["optimizer"]),
        n_subjects_ic=int(n_subjects_ic), note=eng.message if "boundary" in eng.message else None,
        covariance=covariance, df_method=df_method, vcov=vcov, random=random,
    )


def prepare_mean_model(
    data: TrialData | pd.DataFrame,
    *,
    stage: str,
    outcome: str | None,
    covariates: Sequence[str],
    baseline: str,
    mean: str | None,
    reference_arm: str | None,
    subject: str,
    visit: str,
    arm: str | None,
    response: str,
    reference: Mapping[str, str] | None,
    factors: Mapping[str, Sequence[str]] | None,
    baseline_visit: str | None,
    time: str | None = None,
    require_visit: bool = True,
    required: Sequence[str] = (),
) -> MeanModel:
    """Select, clean and code the rows of a longitudinal model (module docstring).

    ``required`` are further columns (group, weights, coordinates) whose missing values
    exclude a row; ``time``, when given and present, is checked for missing values too
    and gives ``MeanModel.times``. Without a visit column (``require_visit=False``) the
    distinct times are the visits and ``mean`` must be explicit.
    """
    frame, trial, outcome_id = select_outcome(data, outcome, response)
    has_time = time is not None and time in frame.columns
    has_visit = visit in frame.columns
    missing = [c for c in (subject, response) + ((visit,) if require_visit else ()) if c not in frame.columns]
    if missing:
        raise SpecError(f"The data has no column(s) {', '.join(missing)}; name them with columns={{'subject': ..., 'visit': ..., 'response': ...}}.")
    frame = frame.copy()
    if has_visit:
        frame["_v"] = frame[visit].astype(str)
        visits = list(factors[visit]) if factors and visit in factors else _visit_levels(frame, visit)
    elif has_time:
        if mean is None:
            raise SpecError(f"Without a visit column {visit!r}, give the mean model explicitly, e.g. mean={time!r}.")
        frame["_v"] = frame[time].astype(float).map(repr)
        visits = [repr(float(t)) for t in sorted(frame[time].dropna().astype(float).unique())]
    else:
        raise SpecError(f"The data has neither a visit column {visit!r} nor a time column {time!r}.")
    n_subjects_all = int(frame[subject].nunique())
    frame = frame.loc[frame["_v"].isin(visits)]
    start = frame
    records: list[dict] = []

    def drop(bad: pd.Series, column: str, reason: str) -> None:
        nonlocal frame
        if bad.any():
            records.extend(_records(frame.loc[bad], stage, subject, outcome_id, column, reason))
            frame = frame.loc[~bad]

    drop(frame[response].isna(), response, "missing response value")
    if has_time and time is not None:
        drop(frame[time].isna(), time, "missing time")

    cov_terms: list[str] = []
    for cov in covariates:
        name, _, by = cov.partition(":")
        if name not in frame.columns:
            raise SpecError(f"Covariate {name!r} is not a column of the data.")
        if by and (by != "visit" or not has_visit):
            raise SpecError(f"Covariate {cov!r}: only 'name:visit' interactions are allowed here.")
        cov_terms += [name] + ([f"{name}:{visit}"] if by else [])

    bv = baseline_visit or (trial.baseline_visit if trial is not None else None)
    if baseline != "none":
        bv = bv or _marked_baseline(frame, visits, visit, time if has_time else None)
        if bv not in visits:
            raise SpecError(f"The baseline visit {bv!r} is not a visit of the data; pass baseline_visit= or baseline='none'.")
    if baseline in ("covariate", "covariate_by_visit"):
        if "baseline" in frame.columns:
            raise SpecError("The data already has a column 'baseline'; rename it or use baseline='none'.")
        base = frame.loc[frame["_v"] == bv].drop_duplicates(subject).set_index(subject)[response]
        frame = frame.loc[frame["_v"] != bv]
        visits = [v for v in visits if v != bv]
        frame["baseline"] = frame[subject].map(base).astype(float)
        drop(frame["baseline"].isna(), "baseline", f"no baseline value ({bv})")

    arm_col = arm if arm is not None and arm in frame.columns else None
    has_arm = arm_col is not None
    if mean is None:
        head = f"{arm} * {visit}" if has_arm else visit
        if baseline == "constrained" and has_arm:  # cLDA: no arm effect at the baseline visit
            head = f"{visit} + {arm}:{visit}"
        extra = {"covariate": ["baseline"], "covariate_by_visit": ["baseline", f"baseline:{visit}"], "none": [],
                 "constrained": []}
        rhs = " + ".join([head, *cov_terms, *extra[baseline]])
    else:
        rhs = mean
    _, terms = parse_rhs(rhs, known=[c for c in frame.columns if c not in (response, subject, "_v")])
    used = sorted({v for t in terms for v in t})
    for col in [*used, *required]:
        if col not in frame.columns:
            raise SpecError(f"The column {col!r} is not in the data.")
        drop(frame[col].isna(), col, f"missing {col}")
    if frame.empty:
        raise ModelError("No rows are left to analyse after excluding missing values.")
    present = set(pd.unique(frame["_v"]))
    visits = [v for v in visits if v in present]

    fac: dict[str, list[str]] = {visit: visits} if has_visit else {}
    if arm_col is not None:
        arm_levels = list(factors[arm_col]) if factors and arm_col in factors else factor_levels(frame[arm_col])
        present_arms = set(pd.unique(frame[arm_col].astype(str)))
        arm_levels = [a for a in arm_levels if a in present_arms]
        if len(arm_levels) < 2 and arm_col in {v for t in terms for v in t}:
            raise ModelError(f"Only arm(s) {arm_levels} have analysable values; an arm comparison needs at least two "
                             f"(name no arm column, columns={{'arm': None}}, to model one group).")
        fac[arm_col] = arm_levels
        by_levels = (reference or {}).get(arm_col)
        if by_levels is not None and reference_arm is not None and str(by_levels) != str(reference_arm):
            raise SpecError(f"reference_arm={reference_arm!r} and reference_levels={{{arm_col!r}: {by_levels!r}}} "
                            "disagree; give the reference arm once.")
        if reference_arm is None:
            reference_arm = str(by_levels) if by_levels is not None else arm_levels[-1]
        elif reference_arm not in arm_levels:
            raise SpecError(f"Reference arm {reference_arm!r} is not an arm of the data; arms: {', '.join(arm_levels)}.")
    fac.update({k: list(v) for k, v in (factors or {}).items() if k != visit})
    ref = dict(reference or {})
    if arm_col is not None and arm_col in used and reference_arm is not None:  # reference_arm is set above
        ref.setdefault(arm_col, reference_arm)
    fac = {k: v for k, v in fac.items() if k in used}
    omit: list[tuple[str, str, str]] = []
    if baseline == "constrained" and has_arm and bv is not None:
        if bv not in visits:
            raise ModelError(f"No value at the baseline visit {bv!r} is left to analyse; the constrained model "
                             "(one baseline mean for all arms) needs it.")
        fac[visit] = [bv] + [v for v in visits if v != bv]
        ref[visit] = bv
        omit = [(visit, str(bv), str(arm))]  # one baseline mean for all arms (cLDA)
    frame = frame.reset_index(drop=True)
    design, X = build_design(frame, rhs, factors=fac, reference=ref, subject=subject, omit=omit)

    times = np.arange(len(visits), dtype=float)
    if has_time:
        per_visit = frame.groupby("_v", sort=False)[time].agg(["min", "max"]).astype(float)
        times = per_visit.loc[visits, "min"].to_numpy()
    records += _subjects_left_out(start, frame, records, stage, subject, response, outcome_id, bv, baseline)
    exclusions = (trial.exclusions if trial is not None else ExclusionLog()).extend(ExclusionLog.from_records(records))
    return MeanModel(frame=frame, design=design, X=X, visits=visits, times=times, rhs=rhs, outcome=str(outcome_id),
                     reference_arm=reference_arm if has_arm else None, reference=ref,
                     n_subjects_all=n_subjects_all, exclusions=exclusions,
                     meta=dict(trial.meta) if trial is not None else {}, baseline_visit=bv)


#: Visit labels that mark a baseline (exact, or as the start of the label).
_BASELINE_EXACT = ("bl", "pre", "0", "0.0", "v0", "visit 0", "t0")
_BASELINE_START = ("baseline", "screening", "day 0", "day0", "week 0", "week0", "randomi", "pre-", "pre ", "pretreat")


def _marked_baseline(frame: pd.DataFrame, visits: list[str], visit: str, time: str | None) -> str:
    """The first visit, when something marks it as the baseline of a generic frame: a time of
    0 or less, or a label that says so. Otherwise a :class:`SpecError` (the default
    ``baseline="covariate"`` would silently turn a post-baseline visit into a covariate)."""
    first = visits[0]
    rows = frame.loc[frame["_v"] == first]
    times = [c for c in (time, "week", "day", "time") if c and c in frame.columns]
    marked_by_time = bool(times) and pd.to_numeric(rows[times[0]], errors="coerce").le(0).all()
    label = str(first).strip().lower()
    marked_by_label = label in _BASELINE_EXACT or label.startswith(_BASELINE_START)
    if not (marked_by_time or marked_by_label):
        raise SpecError(
            f"Nothing marks a baseline visit in this data (the first {visit!r} is {first!r}, with no time of 0); "
            f"pass baseline_visit={first!r} to use it as the baseline covariate, or baseline='none' when every "
            "visit is a response (e.g. change scores)."
        )
    warnings.warn(f"Took visit {first!r} as the baseline (its {'time is 0' if marked_by_time else 'label says so'}): "
                  "its value is the baseline covariate, not a response; pass baseline_visit= to choose another.",
                  RetrostudyWarning, stacklevel=4)
    return first


def _subjects_left_out(start: pd.DataFrame, frame: pd.DataFrame, records: list[dict], stage: str, subject: str,
                       response: str, outcome, bv: str | None, baseline: str) -> list[dict]:
    """One record for each subject of the input that the model does not use and whose values
    no row record explains (e.g. only a baseline value when the baseline is a covariate)."""
    valued = start.loc[start[response].notna(), [subject, "_v"]]
    lost = pd.Index(pd.unique(valued[subject])).difference(pd.Index(pd.unique(frame[subject])))
    if lost.empty:
        return []
    rows = valued.loc[valued[subject].isin(lost)]
    logged = {(str(r["subject_id"]), str(r["visit"])) for r in records}
    out = []
    for s, grp in rows.groupby(rows[subject].astype(str), sort=True):
        unlogged = [v for v in grp["_v"] if (s, str(v)) not in logged]
        if not unlogged:
            continue
        only_base = baseline in ("covariate", "covariate_by_visit") and set(unlogged) == {bv}
        reason = (f"only a baseline value ({bv}); none after it" if only_base
                  else "no analysable value left")
        out.append({"stage": stage, "subject_id": s, "visit": ", ".join(map(str, unlogged)), "outcome": str(outcome),
                    "column": response, "value": None, "cells": len(unlogged), "reason": reason})
    return out


def select_outcome(data, outcome, response):
    """The rows of one outcome, the TrialData (or None) and the outcome id (the fits' and ``rs.sensitivity``'s
    reading of ``data``/``outcome=``: a TrialData or canonical frame with its outcome, or a generic frame)."""
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
        return frame.loc[frame["outcome"].astype(str) == outcome], trial, outcome
    if not isinstance(data, pd.DataFrame):
        raise SpecError(f"Expected TrialData or a pandas DataFrame, got {type(data).__name__}.")
    if "outcome" in data.columns and response == "value":
        outs = sorted(str(x) for x in pd.unique(data["outcome"].dropna().astype(str)))
        if len(outs) > 1:
            raise SpecError(f"The data holds several outcomes; name one with outcome= ({', '.join(outs)}).")
    return data, None, response


def _visit_levels(frame: pd.DataFrame, visit: str) -> list[str]:
    col = frame[visit]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return factor_levels(col)
    if "week" in frame.columns:
        return [str(v) for v in frame.groupby(col.astype(str))["week"].min().sort_values().index]
    return factor_levels(col)


def _records(rows: pd.DataFrame, stage: str, subject: str, outcome, column: str, reason: str) -> list[dict]:
    value = rows[column] if column in rows.columns else pd.Series([None] * len(rows), index=rows.index)
    src_file = rows["source_file"] if "source_file" in rows.columns else [None] * len(rows)
    src_row = rows["source_row"] if "source_row" in rows.columns else [None] * len(rows)
    return [
        {"stage": stage, "file": f, "row": r, "subject_id": str(s), "visit": str(v), "outcome": str(outcome),
         "column": column, "value": None if pd.isna(x) else x, "cells": 1, "reason": reason}
        for s, v, x, f, r in zip(rows[subject], rows["_v"], value, src_file, src_row)
    ]
