"""Delta adjustment: values added to imputed values after the intercurrent event.

A delta table has a ``visit`` and a ``delta`` column and either a subject column (the
data's subject column name, ``subject_id`` or ``subject``: one subject's delta) or an
arm column (the data's arm column name or ``arm``: every subject of the arm). The
delta of (subject, visit) is added to that subject's value at that visit when the
value was imputed and the visit is at or after the subject's ICE (rbmi's
``delta_template(..., missing_only = TRUE)`` + ``analyse(delta = )``); entries for
other cells have no effect. Deltas enter after imputation, in the analysis, so the
imputation model and the imputed values do not change.

The tipping-point grid adds the same delta to the imputed post-ICE values of one arm
at every visit (rbmi's marginal delta) and repeats the analysis for each delta.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import SpecError
from .data import MIData
from .impute import Plan

__all__ = ["delta_matrix", "grid_deltas"]


def delta_matrix(data: MIData, plan: Plan, delta: pd.DataFrame) -> np.ndarray:
    """(n, T) deltas of a delta table, zero except at imputed values after the ICE.

    Raises
    ------
    SpecError
        Missing columns, both or neither of subject and arm, an unknown subject, arm or
        visit, a non-numeric delta, or two entries for one cell.
    """
    if not isinstance(delta, pd.DataFrame):
        raise SpecError(f"delta must be a table (DataFrame) of subject or arm, visit and delta, not "
                        f"{type(delta).__name__}.")
    subj_col = next((c for c in dict.fromkeys((data.subject, "subject_id", "subject")) if c in delta.columns), None)
    arm_col = next((c for c in dict.fromkeys((data.arm, "arm")) if c in delta.columns), None)
    visit_col = next((c for c in dict.fromkeys((data.visit, "visit")) if c in delta.columns), None)
    if visit_col is None or "delta" not in delta.columns or (subj_col is None) == (arm_col is None):
        raise SpecError(
            "The delta table needs a visit column, a delta column and either a subject or an arm column "
            f"(it has {', '.join(map(str, delta.columns))})."
        )
    values = pd.to_numeric(delta["delta"], errors="coerce")
    bad = values.isna() | ~np.isfinite(values.fillna(0.0))
    if bad.any():
        raise SpecError(f"The delta table has a delta that is not a number ({delta['delta'][bad].iloc[0]!r}); "
                        "give a finite number on every row.")
    key_col = subj_col if subj_col is not None else arm_col
    keys = delta[key_col].astype(str)
    visits = delta[visit_col].astype(str)
    dup = pd.DataFrame({"k": keys, "v": visits}).duplicated()
    if dup.any():
        k = int(np.flatnonzero(dup.to_numpy())[0])
        raise SpecError(f"The delta table has two rows for {key_col} {keys.iloc[k]} at visit {visits.iloc[k]}; "
                        "give one delta per cell.")
    D = np.zeros((data.n, data.T))
    pos = {s: i for i, s in enumerate(data.subjects)}
    for key, visit, value in zip(keys, visits, values.to_numpy(float)):
        if visit not in data.visits:
            raise SpecError(f"The delta table names visit {visit!r}, which is not an imputed visit of the data "
                            f"({', '.join(data.visits)}).")
        t = data.visits.index(visit)
        if subj_col is not None:
            if key not in pos:
                raise SpecError(f"The delta table names subject {key}, who is not in the data of {data.outcome}.")
            D[pos[key], t] = value
        else:
            if key not in data.arms:
                raise SpecError(f"The delta table names arm {key!r}; arms: {', '.join(data.arms)}.")
            D[data.arm_code == data.arms.index(key), t] = value
    return D * plan.post_ice_imputed


def grid_deltas(data: MIData, plan: Plan, deltas: Sequence[float] | np.ndarray, arm: str) -> np.ndarray:
    """(K, n, T): each delta of the grid added to ``arm``'s imputed values after the ICE, at every visit."""
    if arm not in data.arms:
        raise SpecError(f"Arm {arm!r} is not an arm of the data; arms: {', '.join(data.arms)}.")
    grid = np.asarray(list(deltas) if not np.isscalar(deltas) else [deltas], dtype=float).reshape(-1)
    if grid.size == 0:
        raise SpecError("The delta grid is empty; give at least one delta, e.g. deltas=np.arange(0, 5.5, 0.5).")
    if not np.all(np.isfinite(grid)):
        raise SpecError("The delta grid has a value that is not a finite number.")
    mask = plan.post_ice_imputed & (data.arm_code == data.arms.index(arm))[:, None]
    return grid[:, None, None] * mask[None]
