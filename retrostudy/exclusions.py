"""ExclusionLog: every cell or row left out of an analysis, with where it came from and why."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["ExclusionLog", "EXCLUSION_COLUMNS"]

#: Columns of the exclusion table. ``cells`` counts the outcome values the row stands
#: for (1 for a long-table row; more when a whole input row is left out).
EXCLUSION_COLUMNS = ("stage", "file", "row", "subject_id", "visit", "outcome", "column", "value", "cells", "reason")


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in EXCLUSION_COLUMNS})
    frame["row"] = frame["row"].astype("Int64")
    frame["cells"] = frame["cells"].astype("int64")
    return frame


@dataclass(frozen=True, eq=False)
class ExclusionLog:
    """An immutable log of exclusions.

    ``stage`` says which step excluded the entry (``"read"`` for the loader,
    ``"ancova"``, ``"mmrm"``... for a model). ``row`` is the row number as the user
    sees it in the source file (see the README for the convention).

    Examples
    --------
    >>> import retrostudy as rs
    >>> fit = rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
    >>> print(fit.exclusions.summary())
    45 value(s) excluded in 45 entries:
      [ancova] no pain_nrs value at week6: 9 value(s)
      [read] missing value: 36 value(s)
    """

    frame: pd.DataFrame = field(default_factory=_empty)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, object]]) -> ExclusionLog:
        recs = list(records)
        if not recs:
            return cls()
        frame = pd.DataFrame.from_records(recs)
        for col in EXCLUSION_COLUMNS:
            if col not in frame.columns:
                frame[col] = 1 if col == "cells" else None
        frame = frame.loc[:, list(EXCLUSION_COLUMNS)]
        frame["row"] = pd.array(frame["row"], dtype="Int64")
        frame["cells"] = frame["cells"].fillna(1).astype("int64")
        return cls(frame.reset_index(drop=True))

    def extend(self, other: ExclusionLog | Iterable[Mapping[str, object]]) -> ExclusionLog:
        """A new log with ``other``'s entries appended (this one is unchanged).

        Parameters
        ----------
        other
            Another log, or records with keys of :data:`EXCLUSION_COLUMNS` (missing keys
            are None; ``cells`` defaults to 1).

        Returns
        -------
        ExclusionLog

        Examples
        --------
        >>> from retrostudy import ExclusionLog
        >>> log = ExclusionLog().extend([{"stage": "read", "file": "trial.csv", "row": 7, "subject_id": "R07",
        ...                               "reason": "value out of range"}])
        >>> len(log), log.n_cells
        (1, 1)
        """
        other_log = other if isinstance(other, ExclusionLog) else ExclusionLog.from_records(other)
        if other_log.frame.empty:
            return self
        if self.frame.empty:
            return other_log
        return ExclusionLog(pd.concat([self.frame, other_log.frame], ignore_index=True))

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def n_cells(self) -> int:
        """Number of outcome values excluded."""
        return int(self.frame["cells"].sum()) if len(self.frame) else 0

    def to_frame(self) -> pd.DataFrame:
        """The entries (a copy), columns :data:`EXCLUSION_COLUMNS`."""
        return self.frame.copy()

    def to_dict(self) -> dict[str, object]:
        """JSON-safe: ``n_entries``, ``n_cells`` and the ``entries`` as records."""
        frame = self.frame.astype(object).where(self.frame.notna(), None)
        return {"n_entries": len(self), "n_cells": self.n_cells, "entries": frame.to_dict(orient="records")}

    def by_reason(self) -> pd.DataFrame:
        """Entries and excluded values per stage and reason."""
        if self.frame.empty:
            return pd.DataFrame({"stage": [], "reason": [], "entries": [], "cells": []})
        return (
            self.frame.groupby(["stage", "reason"], sort=True, dropna=False)
            .agg(entries=("cells", "size"), cells=("cells", "sum"))
            .reset_index()
        )

    def summary(self) -> str:
        """Values excluded per stage and reason, one line each (example: :class:`ExclusionLog`)."""
        if self.frame.empty:
            return "No rows excluded."
        lines = [f"{self.n_cells} value(s) excluded in {len(self)} entr{'y' if len(self) == 1 else 'ies'}:"]
        for rec in self.by_reason().itertuples(index=False):
            lines.append(f"  [{rec.stage}] {rec.reason}: {rec.cells} value(s)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ExclusionLog({len(self)} entries, {self.n_cells} values)"

    def _repr_html_(self) -> str:
        return "<p><b>Exclusions</b></p>" + self.by_reason().to_html(index=False)
