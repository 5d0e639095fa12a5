"""Names and labels: column-name synonyms, arm / visit / outcome label maps, closest matches.

Everything here is a pure function of strings. Names are compared after
:func:`norm`: lower case, every run of characters other than letters and digits
turned into one underscore (``"Retro walking"`` -> ``"retro_walking"``,
``"AVISITN"`` -> ``"avisitn"``).
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .cellparse import as_label, is_missing

__all__ = [
    "ADAM_COVARIATES",
    "ARM_SYNONYMS",
    "OUTCOME_SYNONYMS",
    "ROLE_SYNONYMS",
    "arm_id",
    "as_label",
    "closest",
    "is_missing",
    "known_list",
    "match_columns",
    "match_role",
    "norm",
    "outcome_id",
]

_NON_ALNUM = re.compile(r"[^0-9a-z]+")

#: Column roles and the names recognised for them, best first (compared after :func:`norm`).
ROLE_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "subject_id": ("subject_id", "usubjid", "subjid", "subject", "id", "patient_id", "patient",
                   "participant_id", "participant", "pid", "record_id"),
    "arm": ("arm", "trt01p", "trtp", "group", "treatment", "trt", "allocation", "arm_label", "trt01a",
            "actarm"),
    "visit": ("visit", "avisit", "visit_name", "timepoint", "time_point", "time"),
    "week": ("week", "avisitn", "weeks", "visit_week", "wk"),
    "outcome": ("outcome", "paramcd", "parameter", "param_code", "measure", "endpoint", "variable"),
    "value": ("value", "aval", "result", "score", "measurement"),
    "study": ("study", "studyid", "study_id"),
}

#: Outcome ids and the names recognised for them (column names, PARAMCD values, wide prefixes).
OUTCOME_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "pain_nrs": ("pain_nrs", "nrs_pain", "pain", "nrs", "vas_pain", "pain_vas", "painnrs", "pain_score"),
    "womac": ("womac", "womac_total", "womac_score", "womactot", "womac_tot"),
    "quad_strength": ("quad_strength", "quadriceps_strength", "quadriceps", "quad", "quads", "strength",
                      "quadstr", "qstrength"),
    "tug": ("tug", "timed_up_and_go", "timed_up_go", "tug_s", "tug_sec", "tugtime"),
}

#: Arm labels of the retro walking trial (after :func:`norm`) and their canonical arm.
ARM_SYNONYMS: Mapping[str, str] = {
    **{k: "retro" for k in ("retro", "rw", "retro_walking", "retrowalking", "retro_walk", "backward",
                             "backwards", "backward_walking", "backwards_walking", "bw", "retro_walking_group")},
    **{k: "forward" for k in ("forward", "fw", "forward_walking", "forwardwalking", "forward_walk", "fwd",
                               "forward_walking_group")},
    **{k: "control" for k in ("control", "usual_care", "usualcare", "uc", "ctrl", "control_group",
                               "usual_care_group", "conventional", "conventional_care")},
}

#: Subject-level ADaM variables kept as covariates when present (other ADaM columns are ignored).
ADAM_COVARIATES: tuple[str, ...] = ("age", "sex", "bmi", "bmibl", "race", "height", "heightbl",
                                    "weight", "weightbl", "country", "siteid", "ethnic")

def norm(name: Any) -> str:
    """Normalised form of a name or label used for matching (``"Retro walking"`` -> ``"retro_walking"``)."""
    return _NON_ALNUM.sub("_", str(name).strip().lower()).strip("_")


def closest(label: str, known: Iterable[str], cutoff: float = 0.5) -> str | None:
    """The known label closest to ``label`` (difflib ratio >= ``cutoff``), or ``None``."""
    known = [str(k) for k in known]
    by_norm = {norm(k): k for k in known}
    hit = difflib.get_close_matches(norm(label), list(by_norm), n=1, cutoff=cutoff)
    return by_norm[hit[0]] if hit else None


def known_list(known: Iterable[object], limit: int = 12) -> str:
    """``'a', 'b' and 'c'`` for a message."""
    items = [f"'{k}'" for k in dict.fromkeys(str(k) for k in known)]
    if len(items) > limit:
        items = items[:limit] + [f"{len(items) - limit} more"]
    if len(items) <= 1:
        return "".join(items) or "(none)"
    return ", ".join(items[:-1]) + " and " + items[-1]


def match_role(columns: Iterable[str], role: str) -> str | None:
    """The column that best matches ``role`` by name, or ``None``."""
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(norm(c), c)
    for syn in ROLE_SYNONYMS[role]:
        if syn in by_norm:
            return by_norm[syn]
    return None


def outcome_id(label: str, declared: Mapping[str, Iterable[str]] | None = None) -> str | None:
    """Canonical outcome id of a column name / PARAMCD value, or ``None`` if not recognised.

    ``declared`` maps outcome ids to extra names (from the mapping); it is searched first.
    """
    n = norm(label)
    for oid, names in (declared or {}).items():
        if n == norm(oid) or n in {norm(x) for x in names}:
            return oid
    for oid, names in OUTCOME_SYNONYMS.items():
        if n in names and not (declared or {}).get(oid):
            return oid
    return None


def arm_id(label: str, arms: Mapping[str, str] | None = None) -> str | None:
    """Canonical arm of a label: the mapping's ``arms`` first, then the trial's synonyms."""
    n = norm(label)
    for lab, canon in (arms or {}).items():
        if n == norm(lab) or n == norm(canon):
            return canon
    return ARM_SYNONYMS.get(n)


def match_columns(names: Iterable[str], columns: Iterable[str]) -> tuple[list[str], list[str]]:
    """Names matched to columns exactly, else after :func:`norm` (``"body mass index"`` -> ``body_mass_index``).

    A ``name:visit`` interaction keeps its ``:visit`` part. Returns the matched names
    (in the order given) and those that match no column.

    Examples
    --------
    >>> match_columns(["Body Mass Index", "age:visit", "site"], ["age", "body_mass_index"])
    (['body_mass_index', 'age:visit'], ['site'])
    """
    columns = list(columns)
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(norm(c), c)
    found, unknown = [], []
    for name in names:
        base, sep, rest = str(name).partition(":")
        col = base if base in columns else by_norm.get(norm(base))
        if col is None:
            unknown.append(str(name))
        else:
            found.append(col + sep + rest)
    return found, unknown
