"""Readers per file format; the format is recognised from the content, checked against the extension.

Each reader returns :class:`RawTable` objects: the header (column names exactly as
written) and the cells (text as written for csv/tsv, Python objects for xlsx, the
file's own types for the typed formats), with the row number of every record as the user
sees it:

* csv, tsv, xlsx: the spreadsheet row number, the header being row 1 when it is the
  first line (blank lines above it count), so the first data row is row 2;
* parquet, sas7bdat, xpt, sav, dta and a DataFrame: the 1-based record number.

Every reader error is turned into a :class:`~retrostudy.errors.DataError` that names the
file and says what to do; no library traceback reaches the user.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError
from .cellparse import as_label
from .labels import norm
from .problems import Problems

__all__ = ["FORMATS", "RawTable", "raw_from_frame", "read_raw", "sniff"]

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
    """One table as read: unique column names, cells, user-visible row numbers.

    ``value_labels`` maps a column to its SPSS / Stata value labels (code -> label);
    ``nested`` lists the columns whose cells are lists or records (parquet list/struct).
    """

    file: str
    format: str
    columns: list[str]
    data: pd.DataFrame
    rows: np.ndarray
    sheet: str | None = None
    value_labels: dict[str, dict] = field(default_factory=dict)
    encoding: str | None = None
    nested: dict[str, str] = field(default_factory=dict)


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
             header_row: tuple[int, ...] | None = None) -> tuple[list[RawTable], str]:
    """Read a file into raw tables (several for a workbook with several sheets) and its format."""
    from .text import read_text
    from .workbook import read_xlsx

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
        table = read_text(path, name, fmt, header_row)
        return [table], table.format
    if kind not in FORMATS:
        target = f"the name says {FORMATS[expected]} but " if expected in FORMATS else ""
        raise _fail(name, "file_type", f"{target}the file is {_OTHER.get(kind, 'not a data table')}, not a "
                    "trial data table; export the data as .csv, .xlsx, .parquet, .sas7bdat, .xpt, .sav or .dta")
    if expected not in (None, "text", kind) and not (expected in ("csv", "tsv") and kind == "text"):
        raise _fail(name, "file_type", f"the name says {FORMATS[expected]} but the file is {FORMATS[kind]}; "
                    f"rename it to {os.path.splitext(name)[0]}.{kind}")
    if kind == "xlsx":
        return read_xlsx(path, name, sheet, header_row), "xlsx"
    if header_row is not None:
        raise _fail(name, "header_row", f"header_row applies to csv, tsv and xlsx files; {FORMATS[kind]} has its "
                    "column names built in, so remove header_row from the mapping")
    return [_read_typed(path, name, kind)], kind


def _read_parquet(path: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """A parquet file as a frame: decimals as float64, list/struct/map columns as text (named in ``nested``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    nested: dict[str, str] = {}
    for i, fld in enumerate(table.schema):
        t = fld.type
        if pa.types.is_decimal(t):
            table = table.set_column(i, fld.name, table.column(i).cast(pa.float64()))
        elif pa.types.is_nested(t) or pa.types.is_union(t):
            kind = ("records (struct)" if pa.types.is_struct(t) else "key-value maps" if pa.types.is_map(t)
                    else "lists" if not pa.types.is_union(t) else "mixed (union) values")
            nested[str(fld.name)] = kind
            table = table.set_column(i, fld.name, pa.array([None if v is None else str(v)
                                                            for v in table.column(i).to_pylist()], pa.string()))
    return table.to_pandas(), nested


def _read_typed(path: str, name: str, kind: str) -> RawTable:
    labels: dict[str, dict] = {}
    nested: dict[str, str] = {}
    try:
        if kind == "parquet":
            frame, nested = _read_parquet(path)
        else:
            import pyreadstat

            # declared user-missing values (SPSS, Stata .a-.z) come back as NaN
            if kind == "xpt":
                frame, meta = pyreadstat.read_xport(path)
            elif kind == "sav":
                frame, meta = pyreadstat.read_sav(path)
            elif kind == "dta":
                frame, meta = pyreadstat.read_dta(path)
            else:
                frame, meta = pyreadstat.read_sas7bdat(path)
            labels = {str(k): dict(v) for k, v in (meta.variable_value_labels or {}).items()}
    except Exception as exc:  # every reader error becomes a DataError
        raise _fail(name, "unreadable", f"the file looks like {FORMATS[kind]} but cannot be read "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else 'damaged'}); "
                    "export it again from the program that made it") from None
    table = raw_from_frame(frame, name, kind, value_labels=labels)
    table.nested.update(nested)
    return table


_NESTED = (list, tuple, dict, set, np.ndarray)


def raw_from_frame(frame: pd.DataFrame, name: str = "<DataFrame>", kind: str = "dataframe",
                   value_labels: dict | None = None) -> RawTable:
    """A DataFrame as a raw table; rows are numbered 1, 2, ... (record numbers).

    Columns keep their dtypes; columns whose cells are lists, dicts or arrays become text
    and are listed in ``nested``.
    """
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
    data: dict[str, pd.Series] = {}
    nested: dict[str, str] = {}
    for i, c in enumerate(cols):
        col = frame.iloc[:, i].reset_index(drop=True)
        if col.dtype == object and col.map(lambda x: isinstance(x, _NESTED)).any():
            nested[c] = "lists or records"
            col = col.map(lambda x: None if x is None or (isinstance(x, float) and x != x) else str(
                list(x) if isinstance(x, np.ndarray) else x))
        data[c] = col
    out = pd.DataFrame(data, columns=cols)
    return RawTable(name, kind, cols, out, np.arange(1, len(frame) + 1, dtype=np.int64),
                    value_labels=value_labels or {}, nested=nested)
