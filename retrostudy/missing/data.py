"""The data of a sensitivity analysis: one row per subject, one column per visit.

:func:`prepare_data` turns the canonical long table (TrialData, or a canonical long
DataFrame with ``outcome``) or any long frame (``subject=``, ``visit=``, ``arm=``,
``response=`` name the columns) into :class:`MIData`: the outcome as a subjects x
visits array with NaN where a value is missing (an absent row and a row with a
missing value are the same thing), the arm and the subject-level covariates of each
subject, and the visits the analysis reports.

Baseline handling (``baseline=``), as the issue defines it:

``"covariate_by_visit"``
    The baseline visit's value leaves the responses and enters the imputation model
    as ``baseline * visit``; the analysis ANCOVA at every post-baseline visit adjusts
    for it. A subject without a baseline value is excluded (exclusion log).
``"none"``
    The baseline visit stays a response of the imputation model (a missing baseline
    is imputed under MAR: no intercurrent event can precede it); the analysis ANCOVA
    at every post-baseline visit adjusts for the (observed or imputed) baseline value.
``"absent"``
    No visit of the frame is a baseline: every visit is a post-baseline response, and
    a baseline measured before enters as a covariate column (``BASVAL`` in rbmi's
    antidepressant data).

Every subject left out (no arm, a missing covariate, no baseline value) is an
:class:`~retrostudy.exclusions.ExclusionLog` entry with its reason, stage
``"sensitivity"``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..exclusions import ExclusionLog
from ..models.longitudinal import select_outcome
from ..trial import TrialData, factor_levels

__all__ = ["BASELINE_OPTIONS", "MIData", "prepare_data", "visit_order"]

BASELINE_OPTIONS = ("covariate_by_visit", "none", "absent")
STAGE = "sensitivity"


@dataclass(frozen=True, eq=False)
class MIData:
    """Wide data of one outcome for reference-based multiple imputation.

    Attributes
    ----------
    outcome
        Outcome id (or the response column of a non-canonical frame).
    subject, visit, arm, response
        Column names in the input.
    subjects
        Subject ids (text), one per row of ``Y``.
    arms, arm_code
        Arm levels in declared order and each subject's arm index.
    visits
        The visits of the imputation model in order (the responses).
    analysed
        Indices into ``visits`` of the visits the analysis reports (post-baseline).
    baseline, baseline_visit, baseline_index, baseline_values
        The baseline option; the baseline visit (None when ``"absent"``); its index
        in ``visits`` (``"none"`` only); the baseline value of each subject
        (``"covariate_by_visit"`` only).
    covariates, cov_frame
        Subject-level covariate names and their values (one row per subject).
    Y
        (n, T) outcome values, NaN where missing.
    exclusions
        The input's exclusion log plus every subject left out here.
    meta
        The TrialData's meta, if any.
    """

    outcome: str
    subject: str
    visit: str
    arm: str
    response: str
    subjects: np.ndarray
    arms: tuple[str, ...]
    arm_code: np.ndarray
    visits: tuple[str, ...]
    analysed: np.ndarray
    baseline: str
    baseline_visit: str | None
    baseline_index: int | None
    baseline_values: np.ndarray | None
    covariates: tuple[str, ...]
    cov_frame: pd.DataFrame
    Y: np.ndarray
    exclusions: ExclusionLog = field(default_factory=ExclusionLog)
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.subjects)

    @property
    def T(self) -> int:
        return len(self.visits)

    @property
    def observed(self) -> np.ndarray:
        return ~np.isnan(self.Y)


def visit_order(values: pd.Series) -> list[str]:
    """Visit levels: category order, else numeric order when every label is a number, else sorted text."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return factor_levels(values)
    labels = sorted({str(v) for v in values.dropna()})
    try:
        return sorted(labels, key=float)
    except ValueError:
        return labels


def _select(data, outcome, subject, visit, arm, response):
    """(long frame of the outcome, all subjects' rows for covariates, names, trial or None)."""
    if isinstance(data, pd.DataFrame) and outcome is None:  # a generic frame: its columns first
        missing = [c for c in (subject, visit, arm, response) if c not in data.columns]
        if missing:
            raise SpecError(
                f"The data has no column(s) {', '.join(missing)}; name them with subject=, visit=, arm= and "
                "response=, or pass outcome= for a canonical long table."
            )
    rows, trial, outcome_id = select_outcome(data, outcome, response)
    return rows, (trial.data if trial is not None else data), str(outcome_id), trial


def _record(subject_id, outcome, column, value, cells, reason) -> dict:
    return {"stage": STAGE, "file": None, "row": None, "subject_id": str(subject_id), "visit": None,
            "outcome": str(outcome), "column": column, "value": value, "cells": int(cells), "reason": reason}


def prepare_data(
    data: TrialData | pd.DataFrame,
    *,
    outcome: str | None,
    covariates: Sequence[str] = (),
    baseline: str = "covariate_by_visit",
    baseline_visit: str | None = None,
    subject: str = "subject_id",
    visit: str = "visit",
    arm: str = "arm",
    response: str = "value",
    arms: Sequence[str] | None = None,
) -> MIData:
    """Validate the input and build :class:`MIData` (see the module docstring).

    Raises
    ------
    SpecError
        A column, outcome, baseline option or visit that does not exist; two rows for
        one subject and visit; an arm or covariate that changes within a subject.
    """
    if baseline not in BASELINE_OPTIONS:
        raise SpecError(f"baseline must be one of {', '.join(map(repr, BASELINE_OPTIONS))}, not {baseline!r}.")
    rows, everyone, outcome_id, trial = _select(data, outcome, subject, visit, arm, response)
    covs: list[str] = []
    for cov in covariates:
        name = str(cov).split(":")[0].strip()
        if name not in everyone.columns:
            raise SpecError(f"Covariate {name!r} is not a column of the data.")
        if name in (subject, visit, arm, response, "baseline"):
            raise SpecError(f"Covariate {name!r} is a role column of the analysis; covariates are other columns.")
        if name not in covs:
            covs.append(name)

    visits = visit_order(rows[visit])
    if not visits:
        raise SpecError(f"The data has no rows for outcome {outcome_id!r}.")
    text_visit = rows[visit].astype(str)
    dup = pd.DataFrame({"s": rows[subject].astype(str).to_numpy(), "v": text_visit.to_numpy()}).duplicated()
    if dup.any():
        first = rows.loc[dup.to_numpy()].iloc[0]
        raise SpecError(
            f"Subject {first[subject]} has two rows for visit {first[visit]} of {outcome_id}; "
            "keep one value per subject and visit."
        )

    # subjects: everyone with a row in the data (any outcome of a TrialData)
    subj_text = everyone[subject].astype(str)
    subjects = list(pd.unique(subj_text))
    per_subject = everyone.assign(_s=subj_text.to_numpy())
    arm_levels = list(arms) if arms is not None else factor_levels(everyone[arm])
    if len(arm_levels) < 2:
        raise SpecError(f"The arm column {arm!r} has {len(arm_levels)} level(s); a sensitivity analysis compares arms.")
    records: list[dict] = []
    arm_text = per_subject[arm].astype(str).where(per_subject[arm].notna())
    arm_groups = arm_text.groupby(per_subject["_s"], sort=False)
    n_arms, first_arm = arm_groups.nunique(dropna=True), arm_groups.first()
    cov_values: dict[str, dict[str, Any]] = {c: {} for c in covs}
    for c in covs:
        grouped = per_subject.groupby("_s", sort=False)[c]
        n_distinct = grouped.nunique(dropna=True)
        bad = n_distinct[n_distinct > 1]
        if len(bad):
            raise SpecError(
                f"Covariate {c!r} takes different values within subject {bad.index[0]}; "
                "sensitivity analyses use subject-level covariates (one value per subject)."
            )
        cov_values[c] = grouped.first().to_dict()

    n_obs = rows.assign(_s=rows[subject].astype(str).to_numpy()).groupby("_s")[response].count()
    keep: list[str] = []
    arm_of: dict[str, str] = {}
    for s in subjects:
        cells = int(n_obs.get(s, 0))
        if n_arms.get(s, 0) > 1:
            arms_s = sorted(set(arm_text[per_subject["_s"] == s].dropna()))
            raise SpecError(f"Subject {s} is in more than one arm ({', '.join(arms_s)}); give each subject one arm.")
        a = first_arm.get(s)
        if a is None or pd.isna(a) or a not in arm_levels:
            records.append(_record(s, outcome_id, arm, None, cells, "no arm"))
            continue
        missing_cov = [c for c in covs if pd.isna(cov_values[c].get(s))]
        if missing_cov:
            records.append(_record(s, outcome_id, missing_cov[0], None, cells, f"missing covariate {missing_cov[0]}"))
            continue
        keep.append(s)
        arm_of[s] = str(a)

    wide = (rows.assign(_s=rows[subject].astype(str).to_numpy(), _v=text_visit.to_numpy())
            .pivot(index="_s", columns="_v", values=response))
    wide = wide.reindex(index=keep, columns=visits).astype(float)
    Y = wide.to_numpy(copy=True)

    base_idx: int | None = None
    base_vals = None
    bv: str | None = None
    analysed = np.arange(len(visits))
    if baseline != "absent":
        bv = baseline_visit or (trial.baseline_visit if trial is not None else visits[0])
        bv = str(bv)
        if bv not in visits:
            raise SpecError(
                f"The baseline visit {bv!r} is not a visit of the data ({', '.join(visits)}); "
                "pass baseline_visit= or baseline='absent'."
            )
        b = visits.index(bv)
        if baseline == "covariate_by_visit":
            base_vals = Y[:, b].copy()
            Y = np.delete(Y, b, axis=1)
            visits = [v for v in visits if v != bv]
            no_base = np.isnan(base_vals)
            for i in np.flatnonzero(no_base):
                records.append(_record(keep[i], outcome_id, "baseline", None, int(np.sum(~np.isnan(Y[i]))),
                                       f"no baseline value ({bv})"))
            good = ~no_base
            Y, base_vals = Y[good], base_vals[good]
            keep = [s for s, g in zip(keep, good) if g]
            analysed = np.arange(len(visits))
        else:
            base_idx = b
            analysed = np.array([t for t in range(len(visits)) if t != b], dtype=np.int64)
    elif baseline_visit is not None:
        raise SpecError("baseline='absent' says no visit is a baseline; drop baseline_visit= or choose another option.")
    if len(visits) == 0 or len(analysed) == 0:
        raise SpecError(f"The data of {outcome_id} has no post-baseline visit to analyse.")

    cov_frame = pd.DataFrame({c: [cov_values[c][s] for s in keep] for c in covs}, index=pd.Index(keep, name=subject))
    for c in covs:  # keep the input's dtype class (numeric stays numeric)
        if pd.api.types.is_numeric_dtype(everyone[c]) and not pd.api.types.is_bool_dtype(everyone[c]):
            cov_frame[c] = cov_frame[c].astype(float)
        elif isinstance(everyone[c].dtype, pd.CategoricalDtype):
            cov_frame[c] = pd.Categorical(cov_frame[c].astype(str), categories=factor_levels(everyone[c]))
        else:
            cov_frame[c] = cov_frame[c].astype(str)
    exclusions = (trial.exclusions if trial is not None else ExclusionLog()).extend(ExclusionLog.from_records(records))
    return MIData(
        outcome=outcome_id, subject=subject, visit=visit, arm=arm, response=response,
        subjects=np.array(keep, dtype=object), arms=tuple(arm_levels),
        arm_code=np.array([arm_levels.index(arm_of[s]) for s in keep], dtype=np.int64),
        visits=tuple(visits), analysed=np.asarray(analysed, dtype=np.int64), baseline=baseline,
        baseline_visit=bv, baseline_index=base_idx, baseline_values=base_vals, covariates=tuple(covs),
        cov_frame=cov_frame, Y=Y, exclusions=exclusions, meta=dict(trial.meta) if trial is not None else {},
    )
