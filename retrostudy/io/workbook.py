"""Excel workbooks (.xlsx): one table per sheet with data, after checking what the zip would inflate to.

An .xlsx file is a zip archive; a small file can inflate to gigabytes (a "zip bomb", or
just a huge sheet). The sizes the archive declares are checked before anything is
inflated, so such a file is refused at once with the advice to save the data as csv or
parquet (which retrostudy reads much faster).
"""
from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd

from ..errors import DataError
from .grid import _SAMPLE, blank, build_table, join_header, locate_header
from .problems import Problems

__all__ = ["MAX_XLSX_INFLATED", "read_xlsx"]

#: Most a workbook may inflate to (the sum of its parts' uncompressed sizes).
MAX_XLSX_INFLATED = 300_000_000
#: Most a workbook may inflate relative to its size on disk beyond 20 MB (zip bombs reach 1000:1).
_MAX_RATIO = 200


def _fail(name: str, rule: str, text: str) -> DataError:
    return DataError([{"file": name, "row": None, "column": None, "value": None, "rule": rule,
                       "message": f"{name}: {text}."}])


def check_inflated_size(path: str, name: str) -> None:
    """Refuse a workbook whose parts would inflate beyond :data:`MAX_XLSX_INFLATED` (or by a zip bomb's ratio)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _fail(name, "unreadable", f"the workbook cannot be opened ({type(exc).__name__}); open it in a "
                    "spreadsheet program and save it again as .xlsx") from None
    inflated = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if inflated > MAX_XLSX_INFLATED:
        raise _fail(name, "too_large", f"the workbook would inflate to {inflated / 1e6:,.0f} MB when opened "
                    f"({inflated / packed:,.0f} times its size on disk), more than retrostudy opens from a workbook "
                    f"({MAX_XLSX_INFLATED / 1e6:,.0f} MB); save the data as .csv or .parquet instead, or check "
                    "that this is the right file")
    if inflated > 20_000_000 and inflated / packed > _MAX_RATIO:
        raise _fail(name, "too_large", f"the workbook would inflate {inflated / packed:,.0f} times when opened (to "
                    f"{inflated / 1e6:,.0f} MB), as a zip bomb does and no spreadsheet of data does; check that this "
                    "is the right file, or save the data as .csv or .parquet")


def read_xlsx(path: str, name: str, sheet: str | int | None, header_row: tuple[int, ...] | None = None) -> list:
    """The sheets with data as RawTables (only ``sheet`` when given)."""
    check_inflated_size(path, name)
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise _fail(name, "unreadable", f"the workbook cannot be opened ({type(exc).__name__}); open it in a "
                    "spreadsheet program and save it again as .xlsx") from None
    try:
        names = list(wb.sheetnames)
        if sheet is not None:
            if isinstance(sheet, int) and not isinstance(sheet, bool):
                if not 0 <= sheet < len(names):
                    raise _fail(name, "no_sheet", f"the workbook has {len(names)} sheet(s), so there is no sheet "
                                f"number {sheet} (counted from 0); pick one of {names}")
                names = [names[sheet]]
            elif str(sheet) in names:
                names = [str(sheet)]
            else:
                raise _fail(name, "no_sheet", f"the workbook has no sheet '{sheet}'; its sheets are {names}")
        tables, problems = [], Problems()
        for sh in names:
            try:
                grid = [list(r) for r in wb[sh].iter_rows(values_only=True)]
            except Exception as exc:  # a damaged sheet inside a readable workbook
                raise _fail(name, "unreadable", f"sheet '{sh}' cannot be read ({type(exc).__name__}); open the "
                            "workbook in a spreadsheet program and save it again as .xlsx") from None
            if not any(not blank(c) for r in grid for c in r):
                continue
            try:
                tables.append(_table(grid, name, sh, header_row))
            except DataError as err:
                problems.extend(err.problems.to_dict(orient="records"))
        problems.raise_if_any()
    finally:
        wb.close()
    if not tables:
        raise _fail(name, "empty_file", "every sheet of the workbook is empty; put the trial data in the first "
                    "sheet")
    return tables


def _table(grid: list[list], name: str, sheet: str, header_row: tuple[int, ...] | None):
    from .formats import RawTable

    nonblank = [i for i, r in enumerate(grid) if any(not blank(c) for c in r)]
    hidx = locate_header(grid[:nonblank[0] + _SAMPLE * 2 + max(header_row or (0,))], header_row, name, sheet)
    h = hidx[-1]
    body = grid[h + 1:nonblank[-1] + 1]
    width = max([len(grid[i]) for i in hidx] + [len(r) for r in body])
    header = join_header([grid[i] for i in hidx], width)
    columns = [pd.Series([r[i] if i < len(r) else None for r in body], dtype=object) for i in range(width)]
    rows = np.arange(h + 2, h + 2 + len(body), dtype=np.int64)
    used = [any(i < len(r) and not blank(r[i]) for r in body) for i in range(width)]
    kept, cols, problems = build_table(name, "xlsx", sheet, header, columns, rows, h + 1, used)
    problems.raise_if_any()
    frame = pd.DataFrame(dict(zip(range(len(cols)), cols)))
    frame.columns = kept
    return RawTable(name, "xlsx", kept, frame, rows, sheet=sheet)
