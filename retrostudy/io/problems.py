"""Collecting problems: one record per problem (file, row, column, value, rule, message).

Every message is one sentence: where (file, sheet, row, column), what is wrong, how to fix it.
"""
from __future__ import annotations

from typing import Any

from ..errors import DataError

__all__ = ["Problems", "where"]


def where(file: str, row: int | None = None, column: str | None = None, sheet: str | None = None) -> str:
    """``"trial.csv, row 17, column 'pain'"``."""
    parts = [file]
    if isinstance(sheet, str) and sheet:
        parts.append(f"sheet '{sheet}'")
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, TypeError):
            pass
    return str(value)


class Problems:
    """A list of problem records in the order found."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def add(self, file: str, row: int | None, column: str | None, value: Any, rule: str, text: str,
            sheet: str | None = None) -> None:
        """Add a problem; ``text`` continues the location (``"value 14 is outside ...; correct it"``)."""
        sheet = sheet if isinstance(sheet, str) and sheet else None
        msg = f"{where(file, row, column, sheet)}: {text}"
        if not msg.endswith("."):
            msg += "."
        self.records.append({"file": file, "row": None if row is None else int(row), "column": column,
                             "value": _plain(value), "rule": rule, "message": msg})

    def extend(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)

    def __bool__(self) -> bool:
        return bool(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def raise_if_any(self) -> None:
        if self.records:
            raise DataError(self.records)
