"""Intercurrent events (ICE): each subject's first affected visit and imputation strategy.

Three sources, one result (:class:`IceSpec`):

* **derived** (default, ``ice=None``): the first missing visit of a monotone dropout,
  i.e. the first visit of the run of missing values that lasts to the last visit.
  Missing values before it (intermittent) are missing at random and are imputed under
  MAR whatever the strategy. A subject observed at the last visit has no ICE. With
  ``baseline="none"`` the baseline visit cannot be affected (an ICE there moves to the
  first post-baseline visit; a missing baseline is imputed under MAR).
* **column** (``ice="column_name"``): a subject-level column holding the first affected
  visit (missing = no ICE), constant within subject.
* **table** (``ice=DataFrame``): one row per subject with an ICE: the subject id (column
  named like the data's subject column, or ``subject_id`` / ``subject``), the first
  affected visit (``visit``) and optionally a ``strategy`` per subject.

Under a reference-based strategy (anything but MAR) the values observed at or after
the ICE do not enter the imputation model (they stay in the analysis), as in rbmi.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SpecError
from .data import MIData

__all__ = ["STRATEGIES", "STRATEGY_NAMES", "IceSpec", "check_strategy", "resolve_ice"]

STRATEGIES = ("mar", "j2r", "cr", "cir", "lmcf")
STRATEGY_NAMES = {"mar": "MAR", "j2r": "J2R (jump to reference)", "cr": "CR (copy reference)",
                  "cir": "CIR (copy increments from reference)", "lmcf": "LMCF (last mean carried forward)"}
_ALIASES = {"jr": "j2r", "jump_to_reference": "j2r", "copy_reference": "cr",
            "copy_increments_from_reference": "cir", "last_mean_carried_forward": "lmcf"}


def check_strategy(value: object, where: str = "strategy") -> str:
    """The strategy's canonical lower-case name (``JR`` as in rbmi is accepted for J2R)."""
    text = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    text = _ALIASES.get(text, text)
    if text not in STRATEGIES:
        raise SpecError(f"{where} must be one of {', '.join(s.upper() for s in STRATEGIES)}, not {value!r}.")
    return text


@dataclass(frozen=True, eq=False)
class IceSpec:
    """Per-subject intercurrent events.

    Attributes
    ----------
    index
        (n,) index into ``data.visits`` of the first affected visit; ``T`` = no ICE.
    strategy
        (n,) strategy of each subject (``"mar"`` for subjects without an ICE).
    source
        ``"derived"``, ``"column"`` or ``"table"``.
    """

    index: np.ndarray
    strategy: np.ndarray
    source: str

    def is_mar(self, T: int) -> np.ndarray:
        """(n, T): values that follow MAR (before the ICE, or every value under MAR)."""
        before = np.arange(T)[None, :] < self.index[:, None]
        return before | (self.strategy == "mar")[:, None]

    def post_ice(self, T: int) -> np.ndarray:
        """(n, T): visits at or after the ICE."""
        return np.arange(T)[None, :] >= self.index[:, None]

    def table(self, data: MIData) -> pd.DataFrame:
        """One row per subject with an ICE: subject, first affected visit, strategy."""
        has = self.index < data.T
        return pd.DataFrame({
            "subject_id": data.subjects[has].astype(str),
            "arm": [data.arms[a] for a in data.arm_code[has]],
            "visit": [data.visits[i] for i in self.index[has]],
            "strategy": [s.upper() for s in self.strategy[has]],
            "source": self.source,
        })


def _derived_index(data: MIData) -> np.ndarray:
    obs = data.observed
    T = data.T
    # last observed visit; ICE = the visit after it (T when the last visit is observed)
    any_obs = obs.any(axis=1)
    last = np.where(any_obs, T - 1 - np.argmax(obs[:, ::-1], axis=1), -1)
    return (last + 1).astype(np.int64)


def _floor_baseline(index: np.ndarray, data: MIData) -> np.ndarray:
    if data.baseline_index is None:
        return index
    first_post = int(data.analysed.min())
    return np.where(index < data.T, np.maximum(index, first_post), index)


def _visit_index(data: MIData, value: object, subject: str) -> int:
    text = str(value)
    if text in data.visits:
        idx = data.visits.index(text)
        if data.baseline_index is not None and idx == data.baseline_index:
            raise SpecError(
                f"The intercurrent event of subject {subject} is at the baseline visit {text!r}; "
                "an ICE affects post-baseline visits only."
            )
        return idx
    if data.baseline_visit is not None and text == data.baseline_visit:
        raise SpecError(
            f"The intercurrent event of subject {subject} is at the baseline visit {text!r}; "
            "an ICE affects post-baseline visits only."
        )
    try:
        after = float(text) > max(float(v) for v in data.visits)
    except ValueError:
        after = False
    if after:
        raise SpecError(
            f"The intercurrent event of subject {subject} is at visit {text!r}, after the last visit "
            f"{data.visits[-1]!r}; give the first affected visit, or leave the subject out of the ICE table."
        )
    raise SpecError(
        f"The intercurrent event of subject {subject} names visit {text!r}, which is not a visit of the data "
        f"({', '.join(data.visits)})."
    )


def resolve_ice(data: MIData, ice: str | pd.DataFrame | None, strategy: str,
                raw: pd.DataFrame | None = None) -> IceSpec:
    """Each subject's ICE visit and strategy (see :func:`_resolve`), checked for LMCF."""
    spec = _resolve(data, ice, strategy, raw)
    bad = np.flatnonzero((spec.strategy == "lmcf") & (spec.index == 0))
    if bad.size:
        raise SpecError(
            f"LMCF carries the last mean before the intercurrent event forward, but subject {data.subjects[bad[0]]}'s "
            f"ICE is at the first imputed visit {data.visits[0]} ({bad.size} subject(s)); use another strategy, or "
            "baseline='none' so that the baseline visit comes before it."
        )
    return spec


def _resolve(data: MIData, ice: str | pd.DataFrame | None, strategy: str,
             raw: pd.DataFrame | None = None) -> IceSpec:
    """Each subject's ICE visit and strategy (module docstring).

    Parameters
    ----------
    data
        From :func:`~retrostudy.missing.data.prepare_data`.
    ice
        None (derive from monotone dropout), a column name of ``raw`` or a table.
    strategy
        The strategy of every ICE whose table row does not name one.
    raw
        The input long frame (for ``ice=`` a column).

    Raises
    ------
    SpecError
        An unknown subject, a visit that is not a visit of the data or is after the
        last one, two ICEs for one subject, an unknown strategy.
    """
    strategy = check_strategy(strategy)
    n, T = data.n, data.T
    pos = {s: i for i, s in enumerate(data.subjects)}
    strat = np.full(n, "mar", dtype=object)
    if ice is None:
        index = _floor_baseline(_derived_index(data), data)
        strat[index < T] = strategy
        return IceSpec(index, strat, "derived")
    index = np.full(n, T, dtype=np.int64)
    if isinstance(ice, str):
        if raw is None or ice not in raw.columns:
            raise SpecError(f"The ICE column {ice!r} is not a column of the data.")
        col = raw[[data.subject, ice]].assign(_s=raw[data.subject].astype(str))
        per = col.dropna(subset=[ice]).groupby("_s")[ice].agg(lambda s: sorted(set(map(str, s))))
        for subj, values in per.items():
            if len(values) > 1:
                raise SpecError(
                    f"Subject {subj} has two intercurrent events in column {ice!r} ({', '.join(values)}); "
                    "give one first affected visit per subject."
                )
            if subj not in pos:
                continue  # excluded subject (in the exclusion log)
            index[pos[subj]] = _visit_index(data, values[0], subj)
            strat[pos[subj]] = strategy
        return IceSpec(index, strat, "column")
    if not isinstance(ice, pd.DataFrame):
        raise SpecError(f"ice must be None, a column name or a table (DataFrame), not {type(ice).__name__}.")
    subj_col = next((c for c in (data.subject, "subject_id", "subject") if c in ice.columns), None)
    visit_col = next((c for c in (data.visit, "visit") if c in ice.columns), None)
    if subj_col is None or visit_col is None:
        raise SpecError(
            f"The ICE table needs a subject column ({data.subject!r}) and a visit column ({data.visit!r}); "
            f"it has {', '.join(map(str, ice.columns))}."
        )
    subs = ice[subj_col].astype(str)
    dup = subs[subs.duplicated()]
    if len(dup):
        raise SpecError(
            f"Subject {dup.iloc[0]} has two intercurrent events in the ICE table; "
            "give one row (the first affected visit) per subject."
        )
    excluded = set(data.exclusions.frame["subject_id"].astype(str)) if len(data.exclusions) else set()
    for k, (s, v) in enumerate(zip(subs, ice[visit_col])):
        if s not in pos:
            if s in excluded:
                continue
            raise SpecError(f"The ICE table names subject {s}, who is not in the data of {data.outcome}.")
        if pd.isna(v):
            continue
        i = pos[s]
        index[i] = _visit_index(data, v, s)
        strat[i] = check_strategy(ice["strategy"].iloc[k], f"The strategy of subject {s}") \
            if "strategy" in ice.columns and not pd.isna(ice["strategy"].iloc[k]) else strategy
    return IceSpec(index, strat, "table")
