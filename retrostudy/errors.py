"""The retrostudy error and warning family (DESIGN.md section 6).

Every problem a user can fix is a :class:`RetrostudyError`. Data problems carry a
``problems`` table (file, row, column, value, rule, message) so a program can act on
all of them, while ``str(err)`` is one plain sentence about the first problem plus a
count of the rest.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported when an error is built, not with the package
    import pandas as pd

__all__ = [
    "RetrostudyError",
    "DataError",
    "SpecError",
    "ModelError",
    "ReplicateError",
    "RetrostudyWarning",
    "ConvergenceWarning",
    "PROBLEM_COLUMNS",
]

#: Columns of :attr:`DataError.problems`.
PROBLEM_COLUMNS = ("file", "row", "column", "value", "rule", "message")


class RetrostudyError(Exception):
    """Base class of every error retrostudy raises on purpose."""


class SpecError(RetrostudyError, ValueError):
    """An analysis specification (argument, formula, mapping option) is not valid."""


class ModelError(RetrostudyError, RuntimeError):
    """A model could not be fitted (not identifiable, did not converge, ...)."""


class ReplicateError(ModelError):
    """Too many replicates of a run failed (``max_errors`` of :func:`retrostudy.replicates.run_replicates`).

    ``failures`` holds the failed replicates so far (index, seed, error, message) and
    ``n_done`` how many replicates had finished when the run stopped.
    """

    def __init__(self, message: str, *, failures: pd.DataFrame | None = None, n_done: int = 0):
        super().__init__(message)
        self.failures = failures
        self.n_done = n_done


class DataError(RetrostudyError, ValueError):
    """One or more problems in a data or mapping file.

    Parameters
    ----------
    problems
        Records with keys ``file, row, column, value, rule, message`` (missing keys
        become ``None``), or a DataFrame with those columns. ``message`` is a full
        sentence that names the file, row and column and says how to fix it.

    Examples
    --------
    >>> from retrostudy import DataError
    >>> err = DataError([{"file": "trial.csv", "row": 7, "column": "pain", "value": "11", "rule": "out_of_range",
    ...                   "message": "trial.csv, row 7, column pain: 11 is above 10; correct the value."},
    ...                  {"file": "trial.csv", "row": 9, "message": "trial.csv, row 9: no arm; fill it in."}])
    >>> print(err)
    trial.csv, row 7, column pain: 11 is above 10; correct the value. (1 more problem; see .problems ...)
    >>> err.messages[1]
    'trial.csv, row 9: no arm; fill it in.'
    """

    def __init__(self, problems: Iterable[Mapping[str, object]] | pd.DataFrame):
        import pandas as pd

        if isinstance(problems, pd.DataFrame):
            frame = problems.copy()
        else:
            frame = pd.DataFrame.from_records(list(problems))
        for col in PROBLEM_COLUMNS:
            if col not in frame.columns:
                frame[col] = None
        frame = frame.loc[:, list(PROBLEM_COLUMNS)].reset_index(drop=True)
        if frame.empty:
            raise ValueError("DataError needs at least one problem")
        self.problems = frame
        super().__init__(self._sentence())

    def _sentence(self) -> str:
        first = str(self.problems.loc[0, "message"]).strip()
        rest = len(self.problems) - 1
        if rest == 1:
            first += " (1 more problem; see .problems or `retrostudy validate`)"
        elif rest > 1:
            first += f" ({rest} more problems; see .problems or `retrostudy validate`)"
        return first

    @property
    def messages(self) -> list[str]:
        """Every problem as its own sentence, in file order."""
        return [str(m) for m in self.problems["message"]]


class RetrostudyWarning(UserWarning):
    """Something the user should know that does not stop the analysis."""


class ConvergenceWarning(RetrostudyWarning):
    """The optimizer stopped without meeting its convergence criteria."""
