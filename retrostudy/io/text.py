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

__all__ = ["decode", "read_text"]


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


def _head_bytes(data: bytes, start: int, n: int) -> int:
    """Byte position after the first ``n`` lines from ``start``."""
    pos = start
    for _ in range(n):
        nxt = data.find(b"\n", pos)
        if nxt < 0:
            return len(data)
        pos = nxt + 1
    return pos


def read_text(path: str, name: str, fmt: str, header_row: tuple[int, ...] | None = None):
    """Read a csv / tsv file into one RawTable (see :mod:`retrostudy.io.formats`)."""
    from .formats import RawTable

    with open(path, "rb") as fh:
        data = fh.read()
    n_head = _SAMPLE * 2 + max(header_row or (0,)) + 200
    text = None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16: decode all
        text, enc = decode(data)
        data, start = text.encode("utf-8"), 0
    else:
        start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
        try:
            data[start:_head_bytes(data, start, n_head)].decode("utf-8")
            enc = "utf-8-sig"
        except UnicodeDecodeError:
            text, enc = decode(data)
            data, start = text.encode("utf-8"), 0
    head_text = data[start:_head_bytes(data, start, n_head)].decode("utf-8", errors="replace")
    first = next((ln for ln in head_text.splitlines() if ln.strip()), "")
    if fmt == "tsv":
        delim = "\t"
    else:
        counts = {d: first.count(d) for d in (",", ";", "\t")}
        delim = max(counts, key=lambda d: counts[d]) if max(counts.values()) > 0 else ","
    kind = "tsv" if delim == "\t" else "csv"
    head, one_line_each = _parse_head(head_text, delim)
    result = _fast(data, start, head, delim, name, kind, header_row) if one_line_each else None
    if result is not None:
        del data
    else:
        if text is None:
            text, enc = decode(data)
        del data
        result = _python(text, delim, name, kind, header_row)
    del text
    header, columns, rows, _header_line, problems = result
    problems.raise_if_any()
    frame = pd.DataFrame(dict(zip(range(len(columns)), columns)))
    frame.columns = header
    return RawTable(name, kind, list(header), frame, rows, encoding=enc)


def _parse_head(head_text: str, delim: str) -> tuple[list[list[str]], bool]:
    reader = csv.reader(io.StringIO(head_text, newline=""), delimiter=delim)
    rows: list[list[str]] = []
    last = 0
    try:
        for row in reader:
            if reader.line_num != last + 1:
                return rows, False
            last = reader.line_num
            rows.append(row)
    except csv.Error:
        return rows, False
    return rows, True


def _fast(data: bytes, start: int, head: list[list[str]], delim: str, name: str, kind: str,
          header_row: tuple[int, ...] | None):
    """pyarrow's parser, or None when a record spans lines or rows differ in length (then the csv module).

    ``data`` is UTF-8 from byte ``start`` (after a byte-order mark).
    """
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
    start_line = hidx[-1] + 1  # 0-based line index of the first body line
    offset = _head_bytes(data, start, start_line)
    names = [f"f{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(memoryview(data)[offset:]),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delim, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.dictionary(pa.int32(), pa.string()) for n in names},
                strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, ValueError):
        return None
    take = _line_rows(data, offset, table.num_rows)
    if take is None:
        return None  # a record spans lines: numbering by lines would be wrong
    n_lines = len(take) if take is not False else table.num_rows
    columns, row_blank = [], np.ones(n_lines, dtype=bool)
    for i in range(width):
        cat = table.column(i).to_pandas()
        if isinstance(cat.dtype, pd.CategoricalDtype):
            codes = np.asarray(cat.cat.codes, dtype=np.int64)
            cats = pd.Index(cat.cat.categories.astype(object), dtype=object)
        else:  # no rows
            codes, cats = np.zeros(0, dtype=np.int64), pd.Index([], dtype=object)
        if take is not False:
            codes = np.where(take >= 0, codes[np.maximum(take, 0)], -1) if len(codes) else np.full(n_lines, -1)
        col = pd.Series(pd.Categorical.from_codes(codes, categories=cats))
        row_blank &= blank_mask(col)
        columns.append(col)
    del table
    filled = np.flatnonzero(~row_blank)
    n = int(filled[-1]) + 1 if len(filled) else 0
    if n < n_lines:
        columns = [c.iloc[:n] for c in columns]
    rows = np.arange(start_line + 1, start_line + 1 + n, dtype=np.int64)
    header = join_header([head[i] for i in hidx], width)
    used = [bool((~blank_mask(c)).any()) for c in columns]
    kept, cols, problems = build_table(name, kind, None, header, columns, rows, hidx[-1] + 1, used)
    return kept, cols, rows, hidx[-1] + 1, problems


def _line_rows(data: bytes, offset: int, n_rows: int):
    """Which parsed row each line from ``offset`` holds (-1: an empty line, which the parser skips).

    ``False`` when there is no empty line and each line is one row; ``None`` when the
    rows do not match the lines (a quoted cell over several lines).
    """
    n_newlines = data.count(b"\n", offset)
    last_open = len(data) > offset and not data.endswith(b"\n")
    if not (data.find(b"\n\n", offset) >= 0 or data.find(b"\n\r\n", offset) >= 0 or
            data[offset:offset + 1] in (b"\n", b"\r")):
        return False if n_newlines + last_open == n_rows else None
    buf = np.frombuffer(data, dtype=np.uint8, offset=offset)
    newlines = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], newlines + 1])
    stops = np.concatenate([newlines, [len(buf)]])
    if starts[-1] >= len(buf):  # the file ends with a newline
        starts, stops = starts[:-1], stops[:-1]
    lengths = stops - starts
    empty = (lengths == 0) | ((lengths == 1) & (buf[np.minimum(starts, len(buf) - 1)] == 13))
    if int((~empty).sum()) != n_rows:
        return None
    take = np.full(len(lengths), -1, dtype=np.int64)
    take[~empty] = np.arange(n_rows)
    return take


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
    _stray_quotes(grid, spans, h, header, len(grid[h]), delim, name, problems)
    if problems:
        return header, [], np.zeros(0, dtype=np.int64), h + 1, problems
    columns = [pd.Series([r[i] if i < len(r) else None for r in body], dtype=object) for i in range(width)]
    rows = np.arange(h + 2, h + 2 + len(body), dtype=np.int64)
    used = [any(i < len(r) and not blank(r[i]) for r in body) for i in range(width)]
    kept, cols, more = build_table(name, kind, None, header, columns, rows, h + 1, used)
    return kept, cols, rows, h + 1, more


def _stray_quotes(grid: list[list[str]], spans: list[tuple[int, int]], h: int, header: list[str], width: int,
                  delim: str, name: str, problems: Problems) -> None:
    """A quote mark that opens a cell running over lines that look like records (or to the end of the file)."""
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
