"""The entry: ``read_trial`` and ``validate_trial``.

The pipeline: file -> :mod:`.formats` (raw tables: header, cells, row numbers) ->
:mod:`.layouts` (cells, one per subject x visit x outcome) -> :mod:`.canonicalize` (the
canonical table, with the rules of :mod:`.checks` and :mod:`.crosschecks`) ->
:func:`retrostudy.trial.validate_canonical` -> TrialData.
"""
from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import PROBLEM_COLUMNS, DataError, SpecError
from ..exclusions import ExclusionLog
from ..trial import TrialData, validate_canonical
from .canonicalize import canonicalize
from .formats import raw_from_frame, read_raw
from .labels import norm
from .layouts import reshape
from .mapping import load_mapping
from .problems import Problems

__all__ = ["ValidationReport", "read_trial", "validate_trial"]


def _source_name(source: str | os.PathLike[str] | pd.DataFrame) -> str:
    if isinstance(source, pd.DataFrame):
        return "<DataFrame>"
    return os.path.basename(os.fspath(source).rstrip("/\\")) or os.fspath(source)


def read_trial(path: str | os.PathLike[str] | pd.DataFrame, *,
               config: str | os.PathLike[str] | Mapping[str, object] | None = None, layout: str = "auto",
               **mapping: object) -> TrialData:
    """Read a trial file (or a DataFrame) into the canonical long table.

    Parameters
    ----------
    path
        csv, tsv, xlsx, parquet, sas7bdat, xpt, sav or dta file (recognised from its
        content), or a pandas DataFrame in any supported layout.
    config
        A YAML mapping file or a dict (see :mod:`retrostudy.io.mapping`).
    layout
        ``"auto"`` (recognise), ``"long"``, ``"by_visit"``, ``"wide"``, ``"adam"`` or ``"sheets"``.
    **mapping
        The mapping's keys as keyword arguments (``columns=``, ``arms=``, ``visits=``,
        ``outcomes=``, ``covariates=``, ``baseline_visit=``, ``study=``, ``sheet=``...).

    Returns
    -------
    TrialData
        ``data`` without missing values; every left-out cell is in ``exclusions``.

    Raises
    ------
    DataError
        Every problem found, with file, row, column and how to fix it.
    SpecError
        An invalid keyword option.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["R1", "C1"], "group": ["retro", "control"],
    ...                       "pain_0": [7, 6], "pain_6": [4, None]})
    >>> trial = read_trial(frame)
    >>> trial.data[["subject_id", "visit", "value"]].to_dict("list")
    {'subject_id': ['R1', 'R1', 'C1'], 'visit': ['baseline', 'week6', 'baseline'], 'value': [7.0, 4.0, 6.0]}
    >>> trial.exclusions.n_cells
    1
    """
    m = load_mapping(config, layout, **mapping)
    if isinstance(path, pd.DataFrame):
        if m.header_row is not None:
            raise SpecError("header_row applies to csv, tsv and xlsx files, not to a DataFrame (its column names "
                            "are already set); remove header_row.")
        tables, fmt = [raw_from_frame(path)], "dataframe"
    else:
        tables, fmt = read_raw(path, sheet=m.sheet, header_row=m.header_row)
    file = tables[0].file
    problems = Problems()
    cells = reshape(tables, m, problems)
    _raise(problems)
    stem = norm(os.path.splitext(file)[0]) if fmt != "dataframe" else "trial"
    data, excl, decided = canonicalize(cells, m, file, problems, stem or "trial")
    _raise(problems)
    log = ExclusionLog.from_records(excl)
    outcomes = {o: m.outcome(o).to_dict() for o in data["outcome"].cat.categories}
    meta = {
        "file": file, "format": fmt, "layout": cells.layout,
        "sheets": [t.sheet for t in tables if t.sheet is not None] or None,
        "encoding": tables[0].encoding, "header_row": list(m.header_row) if m.header_row else None,
        "columns": dict(cells.roles), "outcome_columns": dict(cells.outcome_columns),
        "covariates": dict(cells.covariates), "ignored_columns": list(cells.ignored),
        "arm_map": decided["arm_map"], "visit_map": decided["visit_map"], "outcome_map": decided["outcome_map"],
        "baseline_visit": decided["baseline_visit"], "outcomes": outcomes,
        "study": str(data["study"].iloc[0]) if len(data) else (m.study or stem),
        "mapping": m.to_dict(),
        "input_cells": int(cells.input_cells), "analysis_cells": len(data), "excluded_cells": log.n_cells,
    }
    if fmt != "dataframe":
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                digest.update(block)
        meta["sha256"] = digest.hexdigest()
    validate_canonical(data, where=file)
    return TrialData(data, log, meta)


def _raise(problems: Problems) -> None:
    if problems:
        recs = sorted(problems.records, key=lambda r: (r["row"] is not None, r["row"] or 0))
        raise DataError(recs)


def validate_trial(path_or_frame: str | os.PathLike[str] | pd.DataFrame, *,
                   config: str | os.PathLike[str] | Mapping[str, object] | None = None, layout: str = "auto",
                   **mapping: object) -> ValidationReport:
    """Check a trial file (or DataFrame) and report every problem; never raises on bad data.

    Parameters
    ----------
    path_or_frame, config, layout, **mapping
        As in :func:`read_trial`.

    Returns
    -------
    ValidationReport
        ``ok``, the ``problems`` table (file, row, column, value, rule, message), the
        ``trial`` when it reads, and ``summary()``: the problems as sentences, or what was
        read (format, layout, column roles, labels, subjects per outcome, arm and visit).

    Raises
    ------
    SpecError
        An invalid keyword option (a usage error, not a data problem).

    Examples
    --------
    >>> import pandas as pd
    >>> import retrostudy as rs
    >>> frame = pd.DataFrame({"id": ["R1", "C1"], "group": ["retro", "control"],
    ...                       "pain_0": [7, 6], "pain_6": [4, 11]})
    >>> report = rs.validate_trial(frame)
    >>> report.ok
    False
    >>> print(report.summary())
    <DataFrame>: 1 problem found.
      1. <DataFrame>, row 2, column 'pain_6': the pain_nrs value 11 is outside the valid range (from 0 to 10); ...
    """
    name = _source_name(path_or_frame) if isinstance(path_or_frame, (str, os.PathLike, pd.DataFrame)) else "?"
    try:
        trial = read_trial(path_or_frame, config=config, layout=layout, **mapping)
    except DataError as err:
        return ValidationReport(False, err.problems, None, "unknown", {"file": name})
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
    return ValidationReport(True, empty, trial, str(trial.meta["layout"]), dict(trial.meta))


def _json(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, float):
        return None if math.isnan(x) else x
    if x is None or isinstance(x, (str, int, bool)):
        return x
    if hasattr(x, "item"):
        return _json(x.item())
    if x is pd.NA:
        return None
    return str(x)


@dataclass(frozen=True, eq=False)
class ValidationReport:
    """What :func:`validate_trial` found.

    Attributes
    ----------
    ok
        True when the file reads without problems.
    problems
        One row per problem: file, row, column, value, rule, message.
    trial
        The TrialData when ``ok``, else None.
    layout
        The layout recognised (``"unknown"`` when reading failed).
    meta
        What was recognised (see ``TrialData.meta``).
    """

    ok: bool
    problems: pd.DataFrame
    trial: TrialData | None
    layout: str
    meta: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.problems.copy()

    def counts(self) -> pd.DataFrame:
        """Subjects per outcome x arm (rows) and visit (columns)."""
        if self.trial is None:
            return pd.DataFrame()
        d = self.trial.data
        return (d.groupby(["outcome", "arm", "visit"], observed=True)["subject_id"].nunique()
                .unstack("visit", fill_value=0))

    def summary(self) -> str:
        if not self.ok:
            n = len(self.problems)
            head = f"{self.meta.get('file', 'The data')}: {n} problem{'s' if n != 1 else ''} found."
            return "\n".join([head] + [f"  {i}. {msg}" for i, msg in enumerate(self.problems["message"], 1)])
        t, m = self.trial, self.meta
        if t is None:
            raise RuntimeError("internal: a validation without problems carries the trial it read")
        header = (f" with the header on line {' and '.join(str(r) for r in m['header_row'])}"
                  if m.get("header_row") else "")
        lines = [f"{m['file']}: read as {m['format']}{header}, layout '{m['layout']}'; study '{m['study']}'.",
                 f"{t.n_subjects} subjects in arms {', '.join(t.arms)}; visits {', '.join(t.visits)} "
                 f"(baseline: {m['baseline_visit']}); outcomes {', '.join(t.outcomes)}.",
                 "Column roles: " + ", ".join(f"{k} <- '{v}'" for k, v in m["columns"].items()) + "."]
        if m.get("outcome_columns"):
            lines.append("Outcome columns: " + ", ".join(f"'{k}' -> {v}" if m["layout"] == "wide" else
                                                      f"{k} <- '{v}'" for k, v in m["outcome_columns"].items()) + ".")
        if m["layout"] in ("long", "adam") and m.get("outcome_map"):
            lines.append("Outcome labels: " + ", ".join(f"'{k}' -> {v}" for k, v in m["outcome_map"].items()) + ".")
        if m.get("arm_map"):
            lines.append("Arm labels: " + ", ".join(f"'{k}' -> {v}" for k, v in m["arm_map"].items()) + ".")
        if m.get("visit_map"):
            lines.append("Visit labels: " + ", ".join(f"'{k}' -> week {v:g}" for k, v in m["visit_map"].items())
                         + ".")
        if m.get("covariates"):
            lines.append("Subject-level covariates: " + ", ".join(f"{k} <- '{v}'" for k, v in m["covariates"].items())
                         + ".")
        if m.get("ignored_columns"):
            lines.append("Columns not used: " + ", ".join(f"'{c}'" for c in m["ignored_columns"]) + ".")
        lines.append("Subjects per outcome x arm x visit:")
        lines += ["  " + ln for ln in self.counts().to_string().splitlines()]
        lines.append(f"{m['analysis_cells']} values read; {m['excluded_cells']} left out "
                     f"(input values: {m['input_cells']}).")
        lines += ["  " + ln for ln in t.exclusions.summary().splitlines()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, object]:
        probs = self.problems.astype(object).where(self.problems.notna(), None)
        out = {"ok": self.ok, "layout": self.layout, "problems": _json(probs.to_dict(orient="records")),
               "meta": _json(self.meta)}
        if self.trial is not None:
            out["n_rows"] = len(self.trial.data)
            out["n_subjects"] = self.trial.n_subjects
            out["exclusions"] = _json(self.trial.exclusions.by_reason().to_dict(orient="records"))
        return out

    def _repr_html_(self) -> str:
        import html

        if not self.ok:
            return (f"<p><b>{html.escape(str(self.meta.get('file')))}: {len(self.problems)} problem(s)</b></p>"
                    + self.problems.to_html(index=False))
        text = html.escape("\n".join(self.summary().splitlines()[:3]))
        exclusions = self.trial.exclusions._repr_html_() if self.trial is not None else ""
        return f"<pre>{text}</pre>" + self.counts().to_html() + exclusions
