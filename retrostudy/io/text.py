"""Delimited text (csv, tsv): decoding, the delimiter, and two readers that give the same table.

* The fast reader (pyarrow's CSV parser, every column dictionary-encoded text) is used
  when each record is one line, so the row numbers stay the lines the user sees; it is
  checked by counting the lines.
* Otherwise (a quoted cell spanning lines, rows of different lengths, white-space-only
  lines...) the file is read by Python's csv module, which also finds a stray quote mark
  that swallows the lines after it and names the line where it opened.

Both give cells as text exactly as written (empty cells as ``""``), so every later rule
sees the same values whichever reader ran.
"""
from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from .grid import _SAMPLE, blank, blank_mask, build_table, join_header, locate_header
from .problems import Problems

__all__ = ["read_text", "decode"]


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding: UTF-16 with a byte-order mark, UTF-8 (with or without BOM), else cp1252."""
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


def _head_lines(text: str, n: int) -> str:
    """The first ``n`` lines of ``text`` (without copying the rest)."""
    pos = 0
    for _ in range(n):
        nxt = text.find("\n", pos)
        if nxt < 0:
            return text
        pos = nxt + 1
    return text[:pos]


def read_text(path: str, name: str, fmt: str, header_row: tuple[int, ...] | None = None):
    """Read a csv / tsv file into one RawTable (see :mod:`retrostudy.io.formats`)."""
    from .formats import RawTable

    with open(path, "rb") as fh:
        data = fh.read()
    text, enc = decode(data)
    first = next((ln for ln in _head_lines(text, 200).splitlines() if ln.strip()), "")
    if fmt == "tsv":
        delim = "\t"
    else:
        counts = {d: first.count(d) for d in (",", ";", "\t")}
        delim = max(counts, key=counts.get) if max(counts.values()) > 0 else ","
    kind = "tsv" if delim == "\t" else "csv"
    n_head = _SAMPLE * 2 + max(header_row or (0,))
    head, one_line_each = _parse_head(_head_lines(text, n_head), delim)
    result = None
    if one_line_each:
        if enc == "utf-8-sig":
            body: Any = memoryview(data)[3:] if data.startswith(b"\xef\xbb\xbf") else memoryview(data)
        else:
            body = memoryview(text.encode("utf-8"))
        result = _fast(body, head, delim, name, kind, header_row)
        del body
    del data
    if result is None:
        result = _python(text, delim, name, kind, header_row)
    header, columns, rows, header_line, problems = result
    problems.raise_if_any()
    frame = pd.DataFrame(dict(zip(range(len(columns)), columns)))
    frame.columns = header
    return RawTable(name, kind, list(header), frame, rows, encoding=enc)


def _parse_head(head_text: str, delim: str) -> tuple[list[list[str]], bool]:
    reader = csv.reader(io.StringIO(head_text, newline=""), delimiter=delim)
    rows, last = [], 0
    try:
        for row in reader:
            if reader.line_num != last + 1:
                return rows, False
            last = reader.line_num
            rows.append(row)
    except csv.Error:
        return rows, False
    return rows, True


def _fast(data: memoryview, head: list[list[str]], delim: str, name: str, kind: str,
          header_row: tuple[int, ...] | None):
    """pyarrow's parser, or None when a record spans lines or rows differ in length (then the csv module)."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    hidx = locate_header(head, header_row, name)
    if not hidx:
        return None  # no non-blank line in the head: let the csv module decide (an empty file)
    width = len(head[hidx[-1]])
    if width == 0 or any(len(head[i]) != width for i in hidx):
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    start_line = hidx[-1] + 1  # 0-based line index of the first body line
    if start_line > len(newlines):
        return None
    offset = int(newlines[start_line - 1]) + 1 if start_line > 0 else 0
    names = [f"f{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data[offset:]),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delim, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.dictionary(pa.int32(), pa.string()) for n in names},
                strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, ValueError):
        return None
    # line lengths of the body: empty lines (pyarrow skips them) are blank rows of the table
    ends = newlines[newlines >= offset]
    starts = np.concatenate([[offset], ends + 1])
    stops = np.concatenate([ends, [len(buf)]])
    if starts[-1] >= len(buf):  # the file ends with a newline
        starts, stops = starts[:-1], stops[:-1]
    lengths = stops - starts
    empty = (lengths == 0) | ((lengths == 1) & (buf[np.minimum(starts, len(buf) - 1)] == 13))
    if int((~empty).sum()) != table.num_rows:
        return None  # a record spans lines: numbering by lines would be wrong
    take = np.full(len(lengths), -1, dtype=np.int64)
    take[~empty] = np.arange(table.num_rows)
    columns, row_blank = [], np.ones(len(lengths), dtype=bool)
    for i in range(width):
        cat = table.column(i).to_pandas()
        if not isinstance(cat.dtype, pd.CategoricalDtype):  # no rows
            cat = pd.Categorical([], categories=pd.Index([], dtype=object))
        codes = np.asarray(cat.cat.codes if hasattr(cat, "cat") else cat.codes, dtype=np.int64)
        cats = cat.cat.categories if hasattr(cat, "cat") else cat.categories
        full = np.where(take >= 0, codes[np.maximum(take, 0)], -1) if len(codes) else np.full(len(take), -1)
        col = pd.Series(pd.Categorical.from_codes(full, categories=pd.Index(cats.astype(object), dtype=object)))
        row_blank &= blank_mask(col)
        columns.append(col)
    filled = np.flatnonzero(~row_blank)
    n = int(filled[-1]) + 1 if len(filled) else 0
    columns = [c.iloc[:n].reset_index(drop=True) for c in columns]
    rows = np.arange(start_line + 1, start_line + 1 + n, dtype=np.int64)
    header = join_header([head[i] for i in hidx], width)
    used = [bool((~blank_mask(c)).any()) for c in columns]
    kept, cols, problems = build_table(name, kind, None, header, columns, rows, hidx[-1] + 1, used)
    return kept, cols, rows, hidx[-1] + 1, problems


def _python(text: str, delim: str, name: str, kind: str, header_row: tuple[int, ...] | None):
    """Python's csv module; finds stray quotes (a record that swallows lines that look like records)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    grid: list[list[str]] = []
    spans: list[tuple[int, int]] = []  # (first line, last line) of each record
    last = 0
    try:
        for row in reader:
            grid.append(row)
            spans.append((last + 1, reader.line_num))
            last = reader.line_num
    except csv.Error as exc:
        raise DataError([{"file": name, "row": reader.line_num, "column": None, "value": None,
                          "rule": "unreadable", "message": f"{name}, line {reader.line_num}: the file cannot be read "
                          f"as a delimited table ({exc}); check the quotes on that line."}]) from None
    nonblank = [i for i, r in enumerate(grid) if any(not blank(c) for c in r)]
    if not nonblank:
        raise DataError([{"file": name, "row": None, "column": None, "value": None, "rule": "empty_file",
                          "message": f"{name}: the file has no data; export the trial data into it again."}])
    hidx = locate_header(grid[:nonblank[0] + _SAMPLE * 2 + max(header_row or (0,))], header_row, name)
    h = hidx[-1]
    lastrow = nonblank[-1]
    body = grid[h + 1:lastrow + 1]
    width = max([len(grid[i]) for i in hidx] + [len(r) for r in body])
    header = join_header([grid[i] for i in hidx], width)
    problems = Problems()
    _stray_quotes(grid, spans, h, header, delim, name, problems)
    if problems:
        return header, [], np.zeros(0, dtype=np.int64), h + 1, problems
    columns = [pd.Series([r[i] if i < len(r) else None for r in body], dtype=object) for i in range(width)]
    rows = np.arange(h + 2, h + 2 + len(body), dtype=np.int64)
    used = [any(i < len(r) and not blank(r[i]) for r in body) for i in range(width)]
    kept, cols, more = build_table(name, kind, None, header, columns, rows, h + 1, used)
    return kept, cols, rows, h + 1, more


def _stray_quotes(grid: list[list[str]], spans: list[tuple[int, int]], h: int, header: list[str], delim: str,
                  name: str, problems: Problems) -> None:
    """A quote mark that opens a cell running over lines that look like records (or to the end of the file)."""
    width = len(header)
    for k, (row, (a, b)) in enumerate(zip(grid, spans)):
        if b == a:
            continue
        for j, cell in enumerate(row):
            if "\n" not in cell and "\r" not in cell:
                continue
            swallowed = cell.splitlines()[1:]
            at_end = k == len(grid) - 1 and cell.endswith(("\n", "\r"))
            looks_like_rows = width >= 3 and any(ln.count(delim) >= width - 1 for ln in swallowed)
            if not (at_end or looks_like_rows):
                continue
            column = header[j] if j < len(header) and header[j] and k > h else None
            until = (f"is never closed, so the rest of the file (lines {a}-{b}) is" if at_end else
                     f"is only closed on line {b}, so lines {a}-{b} are")
            problems.add(name, a, column, _short(cell), "stray_quote",
                         f"a quote mark (\") opens a cell on line {a} and {until} read as one cell; delete the "
                         "stray quote, or write it twice (\"\") if it belongs in the text")
            return


def _short(cell: Any) -> str:
    text = str(cell)
    return text if len(text) <= 60 else text[:57] + "..."
