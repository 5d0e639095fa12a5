"""TrialData: the canonical long table with its exclusion log and metadata."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .errors import SpecError
from .exclusions import ExclusionLog
from .schema import CANONICAL_COLUMNS

__all__ = ["TrialData", "as_trial", "factor_levels"]


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
    """

    data: pd.DataFrame
    exclusions: ExclusionLog = field(default_factory=ExclusionLog)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[str]:
        return factor_levels(self.data["outcome"])

    @property
    def arms(self) -> list[str]:
        return factor_levels(self.data["arm"])

    @property
    def visits(self) -> list[str]:
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
        return int(self.data["subject_id"].nunique())

    def to_frame(self) -> pd.DataFrame:
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


def as_trial(obj: "TrialData | pd.DataFrame") -> TrialData:
    """Accept a TrialData or a canonical long DataFrame (DESIGN.md section 4)."""
    if isinstance(obj, TrialData):
        return obj
    if isinstance(obj, pd.DataFrame):
        missing = [c for c in ("subject_id", "arm", "visit", "outcome", "value") if c not in obj.columns]
        if missing:
            raise SpecError(
                "The DataFrame is not a canonical long table: it lacks the column(s) "
                + ", ".join(missing)
                + "; read files with rs.read_trial() or rename the columns."
            )
        frame = obj.copy()
        if "week" not in frame.columns:
            raise SpecError("The DataFrame has no 'week' column; add the week of each visit (baseline = 0).")
        if not isinstance(frame["visit"].dtype, pd.CategoricalDtype):
            order = frame.groupby("visit")["week"].min().sort_values().index.tolist()
            frame["visit"] = pd.Categorical(frame["visit"], categories=order, ordered=True)
        if not isinstance(frame["arm"].dtype, pd.CategoricalDtype):
            frame["arm"] = pd.Categorical(frame["arm"])
        if not isinstance(frame["outcome"].dtype, pd.CategoricalDtype):
            frame["outcome"] = pd.Categorical(frame["outcome"])
        return TrialData(frame, ExclusionLog(), {"source": "DataFrame"})
    raise SpecError(f"Expected TrialData or a pandas DataFrame, got {type(obj).__name__}.")
