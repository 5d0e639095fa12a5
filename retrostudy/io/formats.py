"""Readers per file format; the format is recognised from the content, checked against the extension.

Each reader returns :class:`RawTable` objects: the header (column names exactly as
written) and the cells as Python objects, with the row number of every record as the
user sees it:

* csv, tsv, xlsx: the spreadsheet row number, the header being row 1 when it is the
  first line (blank lines above it count), so the first data row is row 2;
* parquet, sas7bdat, xpt, sav, dta and a DataFrame: the 1-based record number.

Every reader error is turned into a :class:`~retrostudy.errors.DataError` that names the
file and says what to do; no library traceback reaches the user.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import DataError
from .labels import as_label, norm
from .problems import Problems

__all__ = ["RawTable", "read_raw", "raw_from_frame", "sniff", "FORMATS"]

#: Formats read, with what the user would call them.
FORMATS = {"csv": "a CSV table", "tsv": "a tab-separated table", "xlsx": "an Excel workbook (.xlsx)",
           "parquet": "a Parquet file", "sas7bdat": "a SAS data set (.sas7bdat)",
           "xpt": "a SAS transport file (.xpt)", "sav": "an SPSS file (.sav)", "dta": "a Stata file (.dta)"}
_EXT = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "text", ".xlsx": "xlsx", ".xlsm": "xlsx",
        ".parquet": "parquet", ".pq": "parquet", ".sas7bdat": "sas7bdat", ".xpt": "xpt", ".xport": "xpt",
        ".sav": "sav", ".zsav": "sav", ".dta": "dta"}
_OTHER = {"png": "a PNG image", "jpeg": "a JPEG image", "gif": "a GIF image", "pdf": "a PDF document",
          "xls": "an old-style Excel (.xls) or other Office file", "zip": "a ZIP archive",
          "gzip": "a gzip archive", "binary": "a binary file of unknown type", "text": "plain text",
          "docx": "a Word document"}
_SAS7BDAT_MAGIC = bytes.fromhex("c2ea8160b31411cfbd92080009c7318c181f1011")


@dataclass
class RawTable:
    """One table as read: unique column names, object cells, user-visible row numbers."""

    file: str
    format: str
    columns: list[str]
    data: pd.DataFrame
    rows: list[int]
    sheet: str | None = None
    value_labels: dict[str, dict] = field(default_factory=dict)
    encoding: str | None = None


def sniff(path: str) -> str:
    """The kind of file from its first bytes: a key of FORMATS, ``text`` or another kind."""
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head.strip():
        return "empty"
    if head.startswith(b"\x89PNG"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"PK\x03\x04"):
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError):
            return "zip"
        if any(n.startswith("xl/") for n in names):
            return "xlsx"
        return "docx" if any(n.startswith("word/") for n in names) else "zip"
    if head.startswith(b"HEADER RECORD*******LIB"):
        return "xpt"
    if head.startswith((b"$FL2", b"$FL3")):
        return "sav"
    if head.startswith(b"<stata_dta>") or (len(head) > 3 and 104 <= head[0] <= 115 and head[1] in (1, 2)
                                             and head[2] == 1):
        return "dta"
    if len(head) >= 32 and head[12:32] == _SAS7BDAT_MAGIC:
        return "sas7bdat"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"  # UTF-16 text with a byte-order mark (Excel's "Unicode text")
    if b"\x00" in head:
        return "binary"
    return "text"


def _fail(file: str, rule: str, text: str) -> DataError:
    return DataError([{"file": file, "row": None, "column": None, "value": None, "rule": rule,
                       "message": f"{file}: {text}."}])


def read_raw(path: str | os.PathLike, *, sheet: str | int | None = None,
             missing: tuple[str, ...] = ()) -> tuple[list[RawTable], str]:
    """Read a file into raw tables (several for a workbook with several sheets) and its format."""
    path = os.fspath(path)
    name = os.path.basename(path.rstrip("/\\")) or path
    if not os.path.exists(path):
        raise _fail(name, "no_file", f"the file does not exist (looked for '{path}'); check the path and the "
                    "working folder")
    if os.path.isdir(path):
        raise _fail(name, "not_a_file", "this is a folder, not a data file; give the path of the file inside it")
    try:
        kind = sniff(path)
    except OSError as exc:
        raise _fail(name, "unreadable", f"the file cannot be opened ({exc.strerror or exc}); check its "
                    "permissions") from None
    if kind == "empty":
        raise _fail(name, "empty_file", "the file is empty; export the trial data into it again")
    ext = os.path.splitext(name)[1].lower()
    expected = _EXT.get(ext)
    if kind == "text":
        fmt = expected if expected in ("csv", "tsv") else "text"
        if expected not in (None, "csv", "tsv", "text"):
            raise _fail(name, "file_type", f"the name says {FORMATS[expected]} but the file holds plain text "
                        f"(probably CSV); rename it to {os.path.splitext(name)[0]}.csv")
        tables = _read_text(path, name, fmt)
        return tables, tables[0].format
    if kind not in FORMATS:
        target = f"the name says {FORMATS[expected]} but " if expected in FORMATS else ""
        raise _fail(name, "file_type", f"{target}the file is {_OTHER.get(kind, 'not a data table')}, not a "
                    "trial data table; export the data as .csv, .xlsx, .parquet, .sas7bdat, .xpt, .sav or .dta")
    if expected not in (None, "text", kind) and not (expected in ("csv", "tsv") and kind == "text"):
        raise _fail(name, "file_type", f"the name says {FORMATS[expected]} but the file is {FORMATS[kind]}; "
                    f"rename it to {os.path.splitext(name)[0]}.{kind}")
    if kind == "xlsx":
        return _read_xlsx(path, name, sheet, missing), "xlsx"
    return [_read_typed(path, name, kind)], kind


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _read_text(path: str, name: str, fmt: str) -> list[RawTable]:
    with open(path, "rb") as fh:
        text, enc = _decode(fh.read())
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if fmt == "tsv":
        delim = "\t"
    else:
        counts = {d: first.count(d) for d in (",", ";", "\t")}
        delim = max(counts, key=counts.get) if max(counts.values()) > 0 else ","
    try:
        grid = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    except csv.Error as exc:
        raise _fail(name, "unreadable", f"the file cannot be read as a delimited table ({exc}); check the "
                    "quotes in it") from None
    table = _from_grid(grid, name, "tsv" if delim == "\t" else "csv", None, ())
    table.encoding = enc
    return [table]


def _read_xlsx(path: str, name: str, sheet: str | int | None, missing: tuple[str, ...]) -> list[RawTable]:
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
            if not any(not _blank(c) for r in grid for c in r):
                continue
            try:
                tables.append(_from_grid(grid, name, "xlsx", sh, missing))
            except DataError as err:
                problems.extend(err.problems.to_dict(orient="records"))
        problems.raise_if_any()
    finally:
        wb.close()
    if not tables:
        raise _fail(name, "empty_file", "every sheet of the workbook is empty; put the trial data in the first "
                    "sheet")
    return tables


def _blank(x: Any) -> bool:
    return x is None or (isinstance(x, str) and not x.strip())


def _from_grid(grid: list[list[Any]], name: str, fmt: str, sheet: str | None,
               missing: tuple[str, ...]) -> RawTable:
    """Header = first non-blank row; rows numbered from 1 at the top of the file/sheet."""
    problems = Problems()
    nonblank = [i for i, r in enumerate(grid) if any(not _blank(c) for c in r)]
    if not nonblank:
        raise _fail(name, "empty_file", "the file has no data; export the trial data into it again")
    h = nonblank[0]
    header = [as_label(c) or "" for c in grid[h]]
    last = nonblank[-1]
    body = grid[h + 1:last + 1]
    width = max([len(header)] + [len(r) for r in body])
    header += [""] * (width - len(header))
    used = [any(i < len(r) and not _blank(r[i]) for r in body) for i in range(width)]
    keep = [i for i in range(width) if header[i] or used[i]]
    for i in keep:
        if not header[i]:
            first = next(k for k, r in enumerate(body) if i < len(r) and not _blank(r[i]))
            problems.add(name, h + 1, f"column {_col_letter(i)}" if fmt == "xlsx" else f"column {i + 1}",
                         None, "unnamed_column", "this column has values but no name in the header row (first "
                         f"value in row {h + 2 + first}); give it a name or delete it", sheet=sheet)
    seen: dict[str, int] = {}
    for i in keep:
        if not header[i]:
            continue
        key = norm(header[i]) or header[i]
        if key in seen:
            j = seen[key]
            problems.add(name, h + 1, header[i], header[i], "duplicate_column",
                         f"the column name appears twice (columns {j + 1} '{header[j]}' and {i + 1} "
                         f"'{header[i]}'); rename or delete one of them", sheet=sheet)
        else:
            seen[key] = i
    if not body or not any(any(not _blank(c) for c in r) for r in body):
        problems.add(name, h + 1, None, None, "header_only",
                     "the file has a header row but no data rows below it; add the trial's data", sheet=sheet)
    problems.raise_if_any()
    cols = [header[i] for i in keep]
    records = [[(r[i] if i < len(r) else None) for i in keep] for r in body]
    frame = pd.DataFrame.from_records(records, columns=cols).astype(object) if records else \
        pd.DataFrame(columns=cols, dtype=object)
    rows = list(range(h + 2, h + 2 + len(body)))
    return RawTable(name, fmt, cols, frame, rows, sheet=sheet)


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _read_typed(path: str, name: str, kind: str) -> RawTable:
    labels: dict[str, dict] = {}
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
        else:
            import pyreadstat

            reader = {"xpt": pyreadstat.read_xport, "sav": pyreadstat.read_sav, "dta": pyreadstat.read_dta,
                      "sas7bdat": pyreadstat.read_sas7bdat}[kind]
            frame, meta = reader(path)
            labels = {str(k): dict(v) for k, v in (meta.variable_value_labels or {}).items()}
    except Exception as exc:  # every reader error becomes a DataError
        raise _fail(name, "unreadable", f"the file looks like {FORMATS[kind]} but cannot be read "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else 'damaged'}); "
                    "export it again from the program that made it") from None
    return raw_from_frame(frame, name, kind, value_labels=labels)


def raw_from_frame(frame: pd.DataFrame, name: str = "<DataFrame>", kind: str = "dataframe",
                   value_labels: dict | None = None) -> RawTable:
    """A DataFrame as a raw table; rows are numbered 1, 2, ... (record numbers)."""
    problems = Problems()
    cols = [as_label(c) or "" for c in frame.columns]
    if len(cols) == 0:
        raise _fail(name, "empty_file", "the table has no columns; give the trial data")
    seen: dict[str, int] = {}
    for i, c in enumerate(cols):
        if not c:
            problems.add(name, None, f"column {i + 1}", None, "unnamed_column",
                         "this column has no name; give it one")
            continue
        key = norm(c) or c
        if key in seen:
            problems.add(name, None, c, c, "duplicate_column",
                         f"the column name appears twice (columns {seen[key] + 1} '{cols[seen[key]]}' and {i + 1} "
                         f"'{c}'); rename or delete one of them")
        else:
            seen[key] = i
    if len(frame) == 0:
        problems.add(name, None, None, None, "header_only",
                     "the table has columns but no rows; add the trial's data")
    problems.raise_if_any()
    data = pd.DataFrame({c: frame.iloc[:, i].astype(object).to_numpy() for i, c in enumerate(cols)},
                        columns=cols)
    data = data.astype(object).where(data.notna(), None)
    return RawTable(name, kind, cols, data.reset_index(drop=True), list(range(1, len(frame) + 1)),
                    value_labels=value_labels or {})
