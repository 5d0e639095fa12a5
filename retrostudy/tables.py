"""Table 1: baseline characteristics by arm with standardized mean differences (numbers only).

Strings are made last, by the report; these functions return float64 tables.

Standardized differences follow Austin (2009, Stat Med 28:3083) and Yang & Dalton
(2012, SAS Global Forum 335-2012), as R's ``tableone::ExtractSmd`` does:

* continuous: ``(m1 - m2) / sqrt((s1^2 + s2^2) / 2)`` (the unweighted mean of the two
  arm variances, ``ddof=1``; *not* the n-weighted pooled SD of Cohen's d);
* categorical with k levels: ``sqrt((p1 - p2)' S^-1 (p1 - p2))`` over levels 2..k, with
  ``S`` the average of the two arms' multinomial covariance matrices (for a binary
  variable this is ``|p1 - p2| / sqrt((p1 q1 + p2 q2) / 2)``).

Values are absolute (the size of the imbalance); missing values are left out of
each arm's summary and counted in ``missing``.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from .results import TidyResult
from .schema import covariate_label, get_outcome, outcome_from_definition
from .trial import TrialData, as_trial

__all__ = ["TableOne", "baseline_wide", "smd_categorical", "smd_continuous", "table_one"]

#: Skewness above which "auto" summarises a continuous variable by median [Q1, Q3].
SKEW_LIMIT = 1.0


def smd_continuous(x1: Sequence[float], x2: Sequence[float]) -> float:
    """Absolute standardized mean difference of two samples (Austin 2009); NaN if undefined."""
    a = np.asarray(x1, float)
    b = np.asarray(x2, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    denom = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2.0)
    if denom == 0:
        return 0.0 if a.mean() == b.mean() else float("inf")
    return float(abs(a.mean() - b.mean()) / denom)


def smd_categorical(x1: Sequence[Any], x2: Sequence[Any], levels: Sequence[Any] | None = None) -> float:
    """Multivariate standardized difference of two categorical samples (Yang & Dalton 2012)."""
    s1 = pd.Series(list(x1), dtype=object).dropna()
    s2 = pd.Series(list(x2), dtype=object).dropna()
    if levels is None:
        levels = sorted(set(s1) | set(s2), key=str)
    if len(s1) == 0 or len(s2) == 0 or len(levels) < 2:
        return float("nan")
    p1 = np.array([(s1 == lv).mean() for lv in levels])[1:]
    p2 = np.array([(s2 == lv).mean() for lv in levels])[1:]
    cov = (np.diag(p1) - np.outer(p1, p1) + np.diag(p2) - np.outer(p2, p2)) / 2.0
    diff = p1 - p2
    if not diff.any():
        return 0.0
    sol = np.linalg.lstsq(cov, diff, rcond=None)[0]
    return float(np.sqrt(max(diff @ sol, 0.0)))


def baseline_wide(trial: TrialData, *, outcomes: Sequence[str] | None = None,
                  covariates: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per randomized subject: arm, covariates and each outcome at baseline (NaN if missing)."""
    data = trial.data
    subjects = (data.groupby("subject_id", sort=True, observed=True)["arm"].first().astype(str)
                .rename("arm").to_frame())
    covs = list(trial.covariates if covariates is None else covariates)
    if covs:
        first = data.sort_values(["subject_id"]).groupby("subject_id", sort=True, observed=True)[covs].first()
        subjects = subjects.join(first)
    outs = list(trial.outcomes if outcomes is None else outcomes)
    base = data.loc[data["visit"].astype(str) == trial.baseline_visit]
    wide = base.pivot_table(index="subject_id", columns="outcome", values="value", aggfunc="first",
                            observed=True)
    wide.columns = [str(c) for c in wide.columns]
    for o in outs:
        subjects[f"baseline:{o}"] = wide[o].reindex(subjects.index) if o in wide.columns else np.nan
    return subjects


@dataclass(frozen=True, eq=False, repr=False)
class TableOne(TidyResult):
    """Baseline characteristics by arm (``table``) and pairwise SMDs (``smd``).

    ``table`` has one row per variable x level x arm with ``n, missing, mean, sd,
    median, q1, q3, count, percent`` and ``statistic`` (``mean_sd``, ``median_iqr``
    or ``n_pct``); ``smd`` has one row per variable x arm pair.
    """

    table: pd.DataFrame
    smd: pd.DataFrame
    arms: tuple[str, ...]
    settings: Mapping[str, object] = field(default_factory=dict)
    title: str = "Baseline characteristics by arm"

    def formatted(self) -> pd.DataFrame:
        """Table 1 as the report prints it: one row per characteristic (and level), one column per arm and
        the total, then the pairwise SMDs, every cell a string.

        Examples
        --------
        >>> import retrostudy as rs
        >>> rs.table_one(rs.load_dataset("alghadir2019_sim")).formatted().columns[:2].tolist()
        ['Characteristic', 'retro (n = 23)']
        """
        from .report.tables_fmt import table_one_dict

        t = table_one_dict(self)
        rows = [r if isinstance(r, list) else [r["section"]] + [""] * (len(t["header"]) - 1) for r in t["rows"]]
        return pd.DataFrame(rows, columns=t["header"])

    def to_dict(self) -> dict[str, object]:
        """JSON-safe: the table, the SMDs and the settings."""
        base = super().to_dict()
        from .tidy import json_safe

        base["smd"] = json_safe(self.smd)
        return base


def _is_categorical(s: pd.Series) -> bool:
    """Text, boolean, or a numeric code with two integer values (0/1, 1/2): summarised as levels."""
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return True
    x = s.dropna().astype(float)
    return bool(len(x)) and x.nunique() <= 2 and bool(np.all(x == np.round(x)))


def table_one(data: TrialData | pd.DataFrame, *, outcomes: Sequence[str] | None = None,
              covariates: Sequence[str] | None = None, summary: str = "auto",
              labels: Mapping[str, str] | None = None, total: bool = True) -> TableOne:
    """Baseline characteristics by arm with standardized mean differences.

    Parameters
    ----------
    data
        TrialData or canonical long table.
    outcomes
        Outcomes whose baseline values are rows (default: all).
    covariates
        Subject-level covariate columns (default: every non-canonical column).
    summary
        ``"auto"`` (median [Q1, Q3] when |skewness| > 1, else mean (SD)), ``"mean"`` or
        ``"median"``.
    labels
        Display label of a covariate (``{"age": "Age (years)"}``) or of an outcome's baseline
        row (``{"baseline:pain_nrs": ...}``); default :func:`retrostudy.schema.covariate_label`
        (``"Age (years)"``, ``"Sex"``, else the column name), and for outcomes the data's outcome label
        with its unit.
    total
        Add the summaries over all arms (``arm == "Total"``; no SMD).

    Returns
    -------
    TableOne

    Raises
    ------
    SpecError
        A covariate that is not a column of the data (from :func:`baseline_wide`).

    Examples
    --------
    >>> import retrostudy as rs
    >>> from retrostudy.tables import table_one
    >>> t1 = table_one(rs.load_dataset("alghadir2019_sim"), labels={"age": "Age (years)"})
    >>> t1.table.query("variable == 'age' and arm == 'Total'")[["label", "n", "statistic"]].to_dict("records")
    [{'label': 'Age (years)', 'n': 68.0, 'statistic': 'mean_sd'}]
    """
    trial = as_trial(data)
    wide = baseline_wide(trial, outcomes=outcomes, covariates=covariates)
    arms = tuple(a for a in trial.arms if (wide["arm"] == a).any())
    columns = arms + (("Total",) if total else ())
    labels = dict(labels or {})
    meta_outcomes = trial.meta.get("outcomes")
    infos: Mapping[str, Any] = meta_outcomes if isinstance(meta_outcomes, Mapping) else {}
    rows: list[dict] = []
    smds: list[dict] = []
    for a in columns:
        rows.append({"variable": "n", "label": "Randomized (n)", "level": "", "statistic": "n", "arm": a,
                     "n": float((wide["arm"] == a).sum() if a != "Total" else len(wide)), "missing": 0.0})
    for col in [c for c in wide.columns if c != "arm"]:
        if col in labels:
            label = labels[col]
        elif col.startswith("baseline:"):
            label = _outcome_label(col.split(":", 1)[1], infos)
        else:
            label = covariate_label(col)
        s = wide[col]
        groups = {a: (s[wide["arm"] == a] if a != "Total" else s) for a in columns}
        if _is_categorical(s):
            levels = sorted(s.dropna().unique(), key=str)
            for lv in levels:
                for a in columns:
                    g = groups[a].dropna()
                    cnt = float((g == lv).sum())
                    rows.append({"variable": col, "label": label, "level": _level(lv), "statistic": "n_pct",
                                 "arm": a, "n": float(len(g)), "missing": float(groups[a].isna().sum()),
                                 "count": cnt, "percent": 100.0 * cnt / len(g) if len(g) else np.nan})
            for a1, a2 in combinations(arms, 2):
                smds.append({"variable": col, "first": a1, "second": a2,
                             "smd": smd_categorical(groups[a1], groups[a2], levels)})
        else:
            x = s.astype(float)
            skew = float(x.dropna().skew()) if x.notna().sum() > 2 else 0.0
            stat = {"mean": "mean_sd", "median": "median_iqr"}.get(summary)
            if stat is None:
                stat = "median_iqr" if abs(skew) > SKEW_LIMIT else "mean_sd"
            for a in columns:
                g = groups[a].astype(float).dropna()
                rows.append({"variable": col, "label": label, "level": "", "statistic": stat, "arm": a,
                             "n": float(len(g)), "missing": float(groups[a].isna().sum()),
                             "mean": g.mean() if len(g) else np.nan,
                             "sd": g.std(ddof=1) if len(g) > 1 else np.nan,
                             "median": g.median() if len(g) else np.nan,
                             "q1": g.quantile(0.25) if len(g) else np.nan,
                             "q3": g.quantile(0.75) if len(g) else np.nan})
            for a1, a2 in combinations(arms, 2):
                smds.append({"variable": col, "first": a1, "second": a2,
                             "smd": smd_continuous(groups[a1].astype(float), groups[a2].astype(float))})
    cols = ["variable", "label", "level", "statistic", "arm", "n", "missing", "mean", "sd", "median", "q1",
            "q3", "count", "percent"]
    table = pd.DataFrame.from_records(rows).reindex(columns=cols)
    for c in cols[5:]:
        table[c] = table[c].astype("float64")
    smd = pd.DataFrame.from_records(smds, columns=["variable", "first", "second", "smd"])
    smd["smd"] = smd["smd"].astype("float64")
    settings = {"summary": summary, "skew_limit": SKEW_LIMIT, "smd": "Austin 2009 / Yang & Dalton 2012",
                "baseline_visit": trial.baseline_visit, "total": bool(total)}
    return TableOne(table, smd, arms, settings)


def _level(value: Any) -> str:
    """A level as text: a whole-number code without ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _outcome_label(outcome: str, infos: Mapping[str, Any]) -> str:
    """The data's outcome label with its unit (a loader's definition), else the registry's."""
    known = infos.get(outcome) if infos else None
    info = outcome_from_definition(known) if isinstance(known, Mapping) else None
    return (info if info is not None else get_outcome(outcome)).display
