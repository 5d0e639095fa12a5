"""The bad-input rules on cells: subject ids, arm labels, visits and weeks, outcome names, values.

Each ``check_*`` function takes the cell frame built by :mod:`.canonicalize` (columns
subject, arm, visit, week, outcome, value, row, sheet, column, ...), adds its canonical
column(s) and records every problem through ``add(row, column, value, rule, text)``; one
problem per distinct offending label (with the number of rows), not per row.

Rules (the ``rule`` column of :attr:`DataError.problems`): ``empty_subject_id``,
``empty_arm``, ``unknown_arm``, ``empty_visit``, ``unknown_visit``, ``date_visit``,
``bad_week``, ``visit_week_mismatch``, ``unknown_baseline``, ``empty_outcome``,
``unknown_outcome``, ``non_numeric``, ``not_finite``, ``out_of_range``.
"""
from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from ..schema import DEFAULT_ARMS, MAX_ABS_VALUE, OUTCOMES
from .cellparse import (
    NOT_FINITE,
    NUM,
    labels,
    lookup,
    number_hint,
    number_status,
    recode,
)
from .labels import ARM_SYNONYMS, arm_id, closest, known_list, norm, outcome_id
from .mapping import TrialMapping
from .problems import Problems
from .visits import MAX_WEEK, date_text, visit_name, visit_week

__all__ = [
    "check_arms",
    "check_outcomes",
    "check_subjects",
    "check_values",
    "check_visits",
    "choose_baseline",
    "first_rows",
    "rows_text",
]

Add = Callable[..., None]


def first_rows(f: pd.DataFrame, mask: pd.Series | np.ndarray, key: str) -> pd.DataFrame:
    """First offending row per distinct ``key`` value with the number of rows affected (``_n``)."""
    sub = f[mask]
    if sub.empty:
        return sub
    counts = sub.drop_duplicates([key, "sheet", "row"]).groupby(key, sort=False, dropna=False).size()
    firsts = sub.drop_duplicates(key)
    return firsts.assign(_n=firsts[key].astype(object).map(counts).fillna(1).astype(int).to_numpy())


def _more(n: int, before: str, after: str = "") -> str:
    """``" (and 3 more rows)"`` for n = 4 rows in all; ``""`` for one."""
    return "" if n <= 1 else f"{before}{n - 1} more row{'s' if n > 2 else ''}{after}"


def rows_text(n: int) -> str:
    return "" if n <= 1 else f" ({n} rows)"


def check_subjects(f: pd.DataFrame, subj_col: str, add: Add) -> None:
    """``subject``: the id as text; an empty id is a problem."""
    f["subject"] = labels(f["subject"])
    for _, r in f[f["subject"].isna()].drop_duplicates(["sheet", "row"]).iterrows():
        add(r, subj_col, None, "empty_subject_id", "the subject id is empty; fill in the subject's id "
            "(or delete the row if it holds no data)")


def _yaml_note(label: str, m: TrialMapping, key: str) -> str:
    """Why a label did not match: YAML read the mapping's key ``01`` as the number 1 (or ``yes`` as true)."""
    for (section, read), written in m.key_text.items():
        if section == key and (norm(written) == norm(label) or norm(read) == norm(label) or
                               label.lstrip("0") == read):
            return (f"; note that YAML read the mapping's key {written} as {read!r}, not as the text '{written}': "
                    f"write it in quotes ('{written}': ...)")
    if any(section == key for section, _ in m.key_text):
        (section, read), written = next((k, v) for k, v in m.key_text.items() if k[0] == key)
        return (f"; note that YAML reads unquoted keys such as {written} as {read!r}: put the {key[:-1]} codes of "
                f"the mapping in quotes ('{written}': ...)")
    return ""


def check_arms(f: pd.DataFrame, m: TrialMapping, arm_col: str, add: Add) -> tuple[dict[str, str], list[str]]:
    """``arm_c``: the canonical arm (filled from the subject's other rows when empty); the label map and order."""
    f["arm"] = labels(f["arm"])
    labs = [str(x) for x in f["arm"].dropna().unique()]
    resolved = {lab: arm_id(lab, m.arms) for lab in labs}
    if not m.arms and labs and all(v is None for v in resolved.values()):
        arm_map, order = {lab: lab for lab in labs}, labs  # the trial's own arm names, in order of appearance
    else:
        arm_map = {k: v for k, v in resolved.items() if v is not None}
        # the mapping's order first, then this trial's default order, then any other arm as it appears
        order = list(dict.fromkeys([*m.arms.values(), *DEFAULT_ARMS, *arm_map.values()]))
        listed = list(dict.fromkeys(m.arms.values())) if m.arms else list(DEFAULT_ARMS)
        known = list(m.arms) + listed if m.arms else list(dict.fromkeys(list(DEFAULT_ARMS) + list(ARM_SYNONYMS)))
        for _, r in first_rows(f, f["arm"].notna() & ~f["arm"].isin(list(arm_map)), "arm").iterrows():
            note = _yaml_note(r["arm"], m, "arms")
            hint = closest(r["arm"], known) if not note else None
            target = arm_id(hint, m.arms) if hint else None
            add(r, arm_col, r["arm"], "unknown_arm",
                f"the arm label '{r['arm']}' is not known{rows_text(r['_n'])}; known arms are "
                f"{known_list(listed)}" + (f"; the closest is '{hint.replace('_', ' ')}' ({target})" if hint else "")
                + "; use a known label or add it under arms: in the mapping" + note)
    f["arm_c"] = recode(f["arm"], arm_map)
    fill = (f["arm"].isna() & f["subject"].notna()).to_numpy()
    if fill.any():  # an empty arm cell takes the arm of the subject's other rows
        arm_c = np.asarray(f["arm_c"], dtype=object)
        known_by_subject = f.dropna(subset=["arm_c", "subject"]).drop_duplicates("subject")
        by_subject = dict(zip(known_by_subject["subject"], known_by_subject["arm_c"]))
        arm_c[fill] = lookup(f.loc[fill, "subject"], by_subject)
        f["arm_c"] = recode(pd.Series(arm_c, index=f.index), lambda x: x)
    for _, r in first_rows(f, f["arm"].isna() & f["arm_c"].isna() & f["subject"].notna(), "subject").iterrows():
        add(r, arm_col, None, "empty_arm", f"the arm of subject '{r['subject']}' is empty{rows_text(r['_n'])}; "
            "fill in the subject's treatment group")
    return arm_map, order


_HOW_VISITS = ("give visit labels such as 'baseline' and 'week 6' (or the week numbers 0 and 6), or, if the "
               "visits are known only by their dates, compute each visit's week (days since baseline / 7) into a "
               "week column")


def check_visits(f: pd.DataFrame, m: TrialMapping, visit_col: str | None, week_col: str | None,
                 add: Add) -> dict[str, float]:
    """``week_c``: each row's week, from the visit label and/or the week column; the label -> week map."""
    f["visit_l"] = labels(f["visit"])
    f["week_l"] = labels(f["week"])
    vis_dates = {lab: date_text(lab) for lab in f["visit_l"].cat.categories}
    lab_weeks = {lab: (None if vis_dates[lab] else visit_week(lab, m.visits)) for lab in vis_dates}
    wk_num: dict[str, float | None] = {}
    wk_dates: dict[str, str | None] = {}
    for lab in f["week_l"].cat.categories:
        wk_dates[lab] = date_text(lab) if not NUM.match(lab) or len(lab.strip().lstrip("+-")) >= 8 else None
        wk_num[lab] = float(lab) if NUM.match(lab) and not wk_dates[lab] else None
    far_weeks = {lab: w for lab, w in list(lab_weeks.items()) + list(wk_num.items())
                 if w is not None and abs(w) > MAX_WEEK}
    lw = pd.Series(lookup(f["visit_l"], lab_weeks, np.nan, float), index=f.index)
    ww = pd.Series(lookup(f["week_l"], wk_num, np.nan, float), index=f.index)
    for key, dates, col, what in (("visit_l", vis_dates, visit_col or "visit", "visit"),
                                  ("week_l", wk_dates, week_col or "week", "week")):
        bad = lookup(f[key], lambda x, d=dates: bool(d.get(x)), False, bool)
        if bad.any():
            first = f[bad].iloc[0]
            n = int(f.loc[bad, ["sheet", "row"]].drop_duplicates().shape[0])
            add(first, col, first[key], "date_visit",
                f"the {what} column holds dates ('{dates[first[key]]}' here{_more(n, ', and ')}), not visits; a date is "
                f"never turned into a week number, so {_HOW_VISITS}")
    week_date = lookup(f["week_l"], lambda x: bool(wk_dates.get(x)), False, bool)
    for _, r in first_rows(f, f["week_l"].notna().to_numpy() & ww.isna().to_numpy() & ~week_date,
                           "week_l").iterrows():
        add(r, week_col or "week", r["week_l"], "bad_week",
            f"the week '{r['week_l']}' is not a number{rows_text(r['_n'])}; write the visit's week as a number "
            "such as 0 or 6")
    for key, weeks, col, what in (("week_l", ww, week_col or "week", "week"),
                                  ("visit_l", lw, visit_col or "visit", "visit")):
        far = (weeks.notna() & (weeks.abs() > MAX_WEEK)).to_numpy()
        if not far.any():
            continue
        r = f[far].iloc[0]
        n = int(f.loc[far, ["sheet", "row"]].drop_duplicates().shape[0])
        add(r, col, r[key], "bad_week",
            f"the {what} '{r[key]}' would be week {far_weeks[r[key]]:g}{_more(n, ' (and ', ')')}, more than {MAX_WEEK:g} "
            "weeks (19 years) from baseline, so it is not a week (a date, or a code, stored as a number?); "
            + _HOW_VISITS)
        weeks[far] = np.nan
    both = (lw.notna() & ww.notna() & (lw != ww)).to_numpy()
    if both.any():
        sub = f[both]
        sub = sub.assign(_pair=sub["visit_l"].astype(str) + "|" + sub["week_l"].astype(str))
        for _, r in first_rows(sub, np.ones(len(sub), bool), "_pair").iterrows():
            add(r, week_col, r["week_l"], "visit_week_mismatch",
                f"the visit '{r['visit_l']}' is week {lab_weeks[r['visit_l']]:g} but the week column says "
                f"{r['week_l']}{rows_text(r['_n'])}; correct one of them, map the label under visits: in the "
                f"mapping, or, if '{week_col}' holds visit numbers rather than weeks, set columns: {{week: null}}")
    f["week_c"] = ww.where(ww.notna(), lw)
    unknown = (f["visit_l"].notna() & lw.isna() & f["week_l"].isna()).to_numpy() & \
        ~lookup(f["visit_l"], lambda x: bool(vis_dates.get(x)), False, bool)
    seen = [k for k, v in lab_weeks.items() if v is not None]
    for _, r in first_rows(f, unknown, "visit_l").iterrows():
        add(r, visit_col or "(sheet name)", r["visit_l"], "unknown_visit", _unknown_visit(r, m, visit_col, seen))
    for _, r in first_rows(f, f["visit_l"].isna() & f["week_l"].isna(), "subject").iterrows():
        add(r, visit_col or week_col or "visit", None, "empty_visit",
            f"the visit is empty{rows_text(r['_n'])}; fill in which visit the row belongs to")
    return {lab: w for lab, w in lab_weeks.items() if w is not None and abs(w) <= MAX_WEEK}


def _unknown_visit(r: pd.Series, m: TrialMapping, visit_col: str | None, seen: list[str]) -> str:
    label = r["visit_l"]
    num = re.search(r"\d+(?:\.\d+)?", label)
    month = re.match(r"\s*(months?|mo|m)\b[\s_.-]*(\d+)", label.lower()) or \
        re.match(r"\s*(\d+)\s*(months?|mo)\b", label.lower())
    if month:
        n = float(month.group(2) if month.group(1)[0] == "m" else month.group(1))
        hint = None
        extra = (f"; months are not turned into weeks on their own (a month is 4.35 weeks on average): map the "
                 f"label to its week under visits: in the mapping, e.g. visits: {{'{label}': {round(n * 52 / 12):g}}}")
    else:
        hint = f"week {num.group()}" if num and not m.visits else closest(label, list(m.visits) + seen + ["baseline"],
                                                                           cutoff=0.7)
        extra = ("; use a label such as 'baseline' or 'week 6', or map it to its week under visits: in the mapping"
                 + _yaml_note(label, m, "visits"))
    where = f"the sheet name '{label}'" if visit_col is None else f"the visit label '{label}'"
    known = known_list(list(m.visits) + seen if (m.visits or seen) else ["baseline", "week 6"])
    return (f"{where} is not a known visit{rows_text(r['_n'])}; known visits are {known}"
            + (f"; the closest is '{hint}'" if hint else "") + extra)


def choose_baseline(f: pd.DataFrame, m: TrialMapping, problems: Problems, file: str) -> float | None:
    """The baseline week: the mapping's, else week 0 when present, else the smallest week."""
    present = [float(w) for w in np.unique(f["week_c"].dropna().to_numpy(dtype=float))]
    if m.baseline is None:
        return 0.0 if 0.0 in present else (present[0] if present else None)
    w = visit_week(m.baseline, m.visits)
    if w is None or w not in present:
        problems.add(m.source or "mapping", None, "baseline", m.baseline, "unknown_baseline",
                     f"the baseline visit '{m.baseline}' is not a visit of {file} (its visits are "
                     f"{known_list(visit_name(x) for x in present)}); name one of them as baseline")
        return present[0] if present else None
    return w


def check_outcomes(f: pd.DataFrame, m: TrialMapping, outcome_col: str | None, add: Add) -> dict[str, str]:
    """``oid``: the outcome id of each row; the label -> id map."""
    f["outcome_l"] = labels(f["outcome"])
    oid_map: dict[str, str] = {}
    for lab in f["outcome_l"].cat.categories:
        oid = outcome_id(lab, m.outcome_names) or (lab if lab in m.outcomes else None)
        if oid is None and not m.outcomes and norm(lab):
            oid = norm(lab)
        if oid is not None:
            oid_map[lab] = oid
    f["oid"] = recode(f["outcome_l"], oid_map)
    for _, r in first_rows(f, f["outcome_l"].isna(), "outcome_l").iterrows():
        add(r, outcome_col, None, "empty_outcome",
            "the outcome name is empty; fill in which outcome the value belongs to")
    known_o = list(m.outcomes) or list(OUTCOMES)
    for _, r in first_rows(f, f["outcome_l"].notna() & f["oid"].isna(), "outcome_l").iterrows():
        hint = closest(r["outcome_l"], known_o + [k for ks in m.outcome_names.values() for k in ks])
        add(r, outcome_col, r["outcome_l"], "unknown_outcome",
            f"the outcome '{r['outcome_l']}' is not one of the mapping's outcomes {known_list(known_o)}"
            f"{rows_text(r['_n'])}" + (f"; the closest is '{hint}'" if hint else "")
            + "; correct the label or declare the outcome under outcomes: in the mapping")
    return oid_map


def check_values(f: pd.DataFrame, m: TrialMapping, add: Add) -> np.ndarray:
    """``val``: the value as a number; non-numbers, non-finite numbers and values out of range are problems.

    Returns the mask of missing values (left out and logged by the caller).
    """
    vals, status = number_status(f["value"], m.missing_values)
    f["val"] = vals
    for i in np.flatnonzero(status >= 2):
        r = f.iloc[i]
        what = r["oid"] or "outcome"
        if status[i] == NOT_FINITE:
            add(r, r["column"], r["value"], "not_finite",
                f"the {what} value '{r['value']}' is not a finite number (infinite, or too large to store); "
                "correct it, or leave the cell empty if the value is missing")
        else:
            add(r, r["column"], r["value"], "non_numeric",
                f"the {what} value '{r['value']}' is not a number; write it as a number{number_hint(r['value'])}, "
                "or leave the cell empty if the value is missing")
    ok_cells = status == 0
    for oid in f["oid"].dropna().unique():
        out = m.outcome(oid)
        sel = (f["oid"] == oid).to_numpy() & ok_cells
        v = vals[sel]
        low = out.low if out.low is not None else -MAX_ABS_VALUE
        high = out.high if out.high is not None else MAX_ABS_VALUE
        ok = ((v > low) | ((v == low) & (out.low_inclusive or out.low is None))) & \
             ((v < high) | ((v == high) & (out.high_inclusive or out.high is None)))
        for i in np.flatnonzero(sel)[~ok]:
            r = f.iloc[i]
            unit = f" {out.unit}" if out.unit and out.unit != "points" else ""
            x = float(vals[i])
            declared = (out.low is not None and x <= out.low) or (out.high is not None and x >= out.high)
            rng = (f"outside the valid range ({out.range_text()}{unit})" if declared else
                   f"not plausible (its size is beyond {MAX_ABS_VALUE:g})")
            add(r, r["column"], x, "out_of_range",
                f"the {oid} value {x:g}{unit} is {rng}; correct the value, leave the cell empty if it is missing, "
                f"or declare the scale under outcomes: {oid}: {{low: ..., high: ...}} in the mapping")
    return status == 1
