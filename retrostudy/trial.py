"""TrialData: the canonical long table with its exclusion log and metadata."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .errors import SpecError
from .exclusions import ExclusionLog
from .schema import CANONICAL_COLUMNS, CANONICAL_DTYPES

__all__ = ["TrialData", "as_trial", "factor_levels", "outcome_definition", "validate_canonical"]

#: Columns every canonical table has; the others of CANONICAL_COLUMNS are checked when present.
REQUIRED_COLUMNS = ("subject_id", "arm", "visit", "week", "outcome", "value")
_DTYPE_WORDS = {"category": "a categorical (pandas 'category')", "string": "text (pandas 'string')",
                "float64": "numbers (float64)", "Int64": "whole numbers (pandas 'Int64')"}


def outcome_definition(meta: Mapping[str, object], outcome: str) -> Mapping[str, object] | None:
    """The loader's definition of ``outcome`` in a trial's ``meta["outcomes"]`` (label, unit,
    range, direction, as the mapping file declared it), or None."""
    definitions = meta.get("outcomes")
    known = definitions.get(outcome) if isinstance(definitions, Mapping) else None
    return known if isinstance(known, Mapping) else None


@dataclass(frozen=True, eq=False)
class TrialData:
    """A trial in the canonical long layout (one row per subject x visit x outcome).

    Attributes
    ----------
    data
        The canonical table (DESIGN.md section 3); never contains missing values.
    exclusions
        Every input cell that is not in ``data``, with its reason.
    meta
        What the loader recognised (file, format, layout, column roles, label maps,
        baseline visit, outcome definitions, ``synthetic`` flag for bundled data).

    Examples
    --------
    >>> import retrostudy as rs
    >>> trial = rs.load_dataset("alghadir2019_sim")
    >>> trial  # doctest: +NORMALIZE_WHITESPACE
    TrialData(alghadir2019_sim: 68 subjects, arms ['retro', 'forward', 'control'], visits ['baseline', 'week6'],
              outcomes ['pain_nrs', 'womac', 'quad_strength', 'tug']; 508 rows, 36 values excluded)
    >>> trial.covariates, trial.baseline_visit
    (['age', 'sex', 'bmi'], 'baseline')
    """

    data: pd.DataFrame
    exclusions: ExclusionLog = field(default_factory=ExclusionLog)
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[str]:
        """Outcome ids, in their declared order."""
        return factor_levels(self.data["outcome"])

    @property
    def arms(self) -> list[str]:
        """Arms, in their declared order (the last is the default reference arm)."""
        return factor_levels(self.data["arm"])

    @property
    def visits(self) -> list[str]:
        """Visits, in their declared (time) order."""
        return factor_levels(self.data["visit"])

    @property
    def covariates(self) -> list[str]:
        """Subject-level covariate columns (everything beyond the canonical columns)."""
        return [c for c in self.data.columns if c not in CANONICAL_COLUMNS]

    @property
    def baseline_visit(self) -> str:
        """The declared baseline visit (default: the visit with the smallest week)."""
        declared = self.meta.get("baseline_visit")
        if declared:
            return str(declared)
        weeks = self.data.groupby("visit", observed=True)["week"].first().sort_values()
        return str(weeks.index[0])

    @property
    def n_subjects(self) -> int:
        """Number of subjects with at least one value."""
        return int(self.data["subject_id"].nunique())

    def to_frame(self) -> pd.DataFrame:
        """The canonical table (a copy)."""
        return self.data.copy()

    def __repr__(self) -> str:
        name = self.meta.get("study") or self.meta.get("file") or "trial"
        return (
            f"TrialData({name}: {self.n_subjects} subjects, arms {self.arms}, visits {self.visits}, "
            f"outcomes {self.outcomes}; {len(self.data)} rows, {self.exclusions.n_cells} values excluded)"
        )


def factor_levels(col: pd.Series) -> list[str]:
    """Levels present in ``col`` as text: category order for a categorical, else sorted."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().astype(str).unique())
        return [str(c) for c in col.cat.categories if str(c) in present]
    return sorted(str(x) for x in col.dropna().astype(str).unique())


def _dtype_ok(dtype: Any, expected: str) -> bool:
    if expected == "category":
        return isinstance(dtype, pd.CategoricalDtype)
    if expected == "string":
        return isinstance(dtype, pd.StringDtype)
    return str(dtype) == expected


def validate_canonical(frame: pd.DataFrame, *, where: str | None = None) -> None:
    """Check that ``frame`` is a canonical long table: its columns and their dtypes (DESIGN.md section 3).

    The columns ``subject_id, arm, visit, week, outcome, value`` are required; ``study``,
    ``source_file`` and ``source_row`` are checked when present. Dtypes follow
    :data:`retrostudy.schema.CANONICAL_DTYPES`; ``week`` and ``value`` must also be finite.

    Parameters
    ----------
    frame
        The table to check.
    where
        What the table is, for the message (default ``"The DataFrame"``).

    Raises
    ------
    SpecError
        One sentence naming every column that is missing or has the wrong dtype, with
        the dtype expected.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"subject_id": pd.array(["R1"], dtype="string"),
    ...                       "arm": pd.Categorical(["retro"]), "visit": pd.Categorical(["baseline"]),
    ...                       "week": [0.0], "outcome": pd.Categorical(["pain_nrs"]), "value": ["6"]})
    >>> validate_canonical(frame)
    Traceback (most recent call last):
    ...
    retrostudy.errors.SpecError: The DataFrame is not a canonical long table: column 'value' must hold numbers (float64), not str; read files with rs.read_trial() or convert the column.
    """
    import numpy as np

    what = where or "The DataFrame"
    if not isinstance(frame, pd.DataFrame):
        raise SpecError(f"Expected a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SpecError(f"{what} is not a canonical long table: it lacks the column(s) {', '.join(missing)}; "
                        "read files with rs.read_trial() or rename the columns.")
    wrong = []
    for col in CANONICAL_COLUMNS:
        if col in frame.columns and not _dtype_ok(frame[col].dtype, CANONICAL_DTYPES[col]):
            wrong.append(f"column '{col}' must hold {_DTYPE_WORDS[CANONICAL_DTYPES[col]]}, not {frame[col].dtype}")
    if wrong:
        raise SpecError(f"{what} is not a canonical long table: " + "; ".join(wrong)
                        + "; read files with rs.read_trial() or convert the column"
                        + ("s" if len(wrong) > 1 else "") + ".")
    for col in ("week", "value"):
        inf = np.isinf(frame[col].to_numpy())
        if inf.any():
            raise SpecError(f"{what} has an infinite {col} (at index {frame.index[int(np.flatnonzero(inf)[0])]!r}); "
                            "correct it or drop the row.")


def _coerce(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with the canonical dtypes where the conversion loses nothing (text ids, categoricals, floats)."""
    from .io.cellparse import labels

    frame = frame.copy()
    for col in ("arm", "outcome", "study"):
        if col in frame.columns and not isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = pd.Categorical(frame[col])
    if not isinstance(frame["visit"].dtype, pd.CategoricalDtype):
        week = pd.to_numeric(frame["week"], errors="coerce") if "week" in frame.columns else None
        order = (frame.assign(_w=week).groupby("visit")["_w"].min().sort_values().index.tolist()
                 if week is not None else sorted(frame["visit"].dropna().unique()))
        frame["visit"] = pd.Categorical(frame["visit"], categories=order, ordered=True)
    for col in ("subject_id", "source_file"):
        if col in frame.columns and not isinstance(frame[col].dtype, pd.StringDtype):
            frame[col] = pd.array(labels(frame[col]), dtype="string")
    for col in ("week", "value"):
        if pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]) \
                and str(frame[col].dtype) != "float64":
            frame[col] = frame[col].astype("float64")
    if "source_row" in frame.columns and str(frame["source_row"].dtype) != "Int64" \
            and pd.api.types.is_numeric_dtype(frame["source_row"]):
        try:
            frame["source_row"] = frame["source_row"].astype("Int64")
        except (TypeError, ValueError):
            pass
    return frame


def as_trial(obj: TrialData | pd.DataFrame) -> TrialData:
    """Accept a TrialData or a canonical long DataFrame (DESIGN.md section 4), checked by :func:`validate_canonical`.

    A DataFrame's columns are converted to the canonical dtypes where nothing is lost
    (arm, visit, outcome to categoricals, the visit ordered by week; ids to text; whole
    numbers to float64); a column that cannot be converted is refused with a sentence.

    Parameters
    ----------
    obj
        TrialData or a long DataFrame with ``subject_id, arm, visit, week, outcome, value``.

    Returns
    -------
    TrialData

    Raises
    ------
    SpecError
        Not a canonical long table (names the columns and the dtypes expected).

    Examples
    --------
    >>> import pandas as pd
    >>> t = as_trial(pd.DataFrame({"subject_id": [1, 2], "arm": ["retro", "control"], "visit": ["baseline"] * 2,
    ...                            "week": [0, 0], "outcome": ["pain_nrs"] * 2, "value": [6, 7]}))
    >>> t.arms, str(t.data["subject_id"].dtype), str(t.data["value"].dtype)
    (['control', 'retro'], 'string', 'float64')
    """
    if isinstance(obj, TrialData):
        frame = obj.data
        if all(_dtype_ok(frame[c].dtype, CANONICAL_DTYPES[c]) for c in CANONICAL_COLUMNS if c in frame.columns) \
                and all(c in frame.columns for c in REQUIRED_COLUMNS):
            validate_canonical(frame, where="The TrialData's table")
            return obj
        fixed = _coerce(_required(frame))
        validate_canonical(fixed, where="The TrialData's table")
        return TrialData(fixed, obj.exclusions, dict(obj.meta))
    if isinstance(obj, pd.DataFrame):
        frame = _coerce(_required(obj))
        validate_canonical(frame)
        return TrialData(frame, ExclusionLog(), {"source": "DataFrame"})
    raise SpecError(f"Expected TrialData or a pandas DataFrame, got {type(obj).__name__}.")


def _required(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("subject_id", "arm", "visit", "outcome", "value") if c not in frame.columns]
    if missing:
        raise SpecError(
            "The DataFrame is not a canonical long table: it lacks the column(s) "
            + ", ".join(missing)
            + "; read files with rs.read_trial() or rename the columns."
        )
    if "week" not in frame.columns:
        raise SpecError("The DataFrame has no 'week' column; add the week of each visit (baseline = 0).")
    return frame
