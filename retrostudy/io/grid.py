"""Spreadsheet-like tables (csv, tsv, xlsx): where the header is, and the table below it.

Rows are numbered as the user sees them: from 1 at the top of the file or sheet (blank
lines above the header count). The header is the first non-blank row unless the mapping
says ``header_row: 4`` (or ``[3, 4]`` for a header written over two rows, whose names
are joined: ``Pain`` above ``pre`` gives ``Pain_pre``). When the first non-blank row looks
like a title above the real header, or like the upper half of a two-row header, the file
is refused with the line the header seems to be on and the option to pass -- never read
with a title as column names.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from .cellparse import as_label
from .labels import known_list, norm
from .problems import Problems
from .visits import visit_like

__all__ = ["blank", "build_table", "col_letter", "join_header", "locate_header"]

_SAMPLE = 40  # rows looked at to find the header


def blank(x: Any) -> bool:
    """An empty cell: None, NaN or only white space."""
    return x is None or (isinstance(x, str) and not x.strip()) or (isinstance(x, float) and x != x)


def _filled(row: Sequence[Any]) -> int:
    return sum(1 for c in row if not blank(c))


def _texty(row: Sequence[Any]) -> bool:
    """Every filled cell is text that is not a number (as a header row is)."""
    from .cellparse import NUM

    cells = [c for c in row if not blank(c)]
    return bool(cells) and all(isinstance(c, str) and not NUM.match(c) for c in cells)


def _names_columns(row: Sequence[Any]) -> bool:
    """Some cell is a column name retrostudy knows (a role such as subject or arm, or an outcome)."""
    from .labels import ROLE_SYNONYMS, outcome_id

    names = {norm(c) for c in row if not blank(c)}
    return any(names & set(syns) for syns in ROLE_SYNONYMS.values()) or any(outcome_id(n) for n in names)


def col_letter(i: int) -> str:
    """Spreadsheet column letter of a 0-based index (0 -> A, 26 -> AA)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _where(name: str, sheet: str | None) -> str:
    return name + (f", sheet '{sheet}'" if sheet else "")


def _fail(name: str, sheet: str | None, row: int | None, rule: str, text: str) -> DataError:
    return DataError([{"file": name, "row": row, "column": None, "value": None, "rule": rule,
                       "message": f"{_where(name, sheet)}{f', row {row}' if row else ''}: {text}."}])


def locate_header(head: Sequence[Sequence[Any]], header_row: tuple[int, ...] | None, name: str,
                  sheet: str | None = None, option: str = "header_row") -> tuple[int, ...]:
    """0-based indexes of the header row(s) among the first rows ``head`` of a table.

    Raises
    ------
    DataError
        ``header_row`` points at a blank row or past the end; or, without ``header_row``,
        the first rows look like a title (or the upper half of a two-row header): the
        message says on which line the header seems to be and what to pass.
    """
    nonblank = [i for i, r in enumerate(head) if _filled(r)]
    if header_row is not None:
        idx = tuple(r - 1 for r in header_row)
        for i, r in zip(idx, header_row):
            if i >= len(head) or not _filled(head[i]):
                raise _fail(name, sheet, None, "header_row", f"the mapping's header_row says the header is on line {r}, "
                            f"but that line is {'blank' if i < len(head) else 'past the end of the table'}; give the "
                            "line number the spreadsheet shows for the column names")
        return idx
    if not nonblank:
        return ()
    h = nonblank[0]
    sample = [head[i] for i in nonblank[:_SAMPLE]]
    widest = max(_filled(r) for r in sample)
    if _filled(head[h]) >= max(2, 0.6 * widest) or len(sample) < 3:
        return (h,)
    cand = next((i for i in nonblank[1:_SAMPLE] if _filled(head[i]) >= max(2, 0.6 * widest) and _texty(head[i])),
                None)
    if cand is None or not (_filled(head[h]) == 1 or _names_columns(head[cand])):
        return (h,)
    above = head[cand - 1] if cand - 1 >= 0 else []
    first_col = [j for j, c in enumerate(above) if not blank(c)]
    names = known_list([str(as_label(c)) for c in head[cand] if not blank(c)], limit=4)
    if cand - 1 >= h and _filled(above) >= 2 and first_col and first_col[0] > 0 and _texty(above):
        low = [as_label(head[cand][j]) if j < len(head[cand]) else None for j in range(first_col[0], len(above))]
        example = f"'{as_label(above[first_col[0]])}' above {known_list([x for x in low[:2] if x])}"
        text = (f"the header looks written over two rows (lines {cand} and {cand + 1}: {example}); pass "
                f"{option}: [{cand}, {cand + 1}] in the mapping (or --header-row {cand} {cand + 1}) to join them "
                f"into names such as '{as_label(above[first_col[0]])}_{low[0] or ''}'")
    else:
        n_title = len([i for i in nonblank if i < cand])
        text = (f"the header looks like it is on line {cand + 1} ({names}), below "
                f"{'a title line' if n_title == 1 else f'{n_title} lines of title'}; "
                f"pass {option}: {cand + 1} in the mapping (or --header-row {cand + 1})")
    raise _fail(name, sheet, None, "header_row", text)


def join_header(rows: Sequence[Sequence[Any]], width: int) -> list[str]:
    """Column names from one header row, or from two joined (``Pain`` above ``pre`` -> ``Pain_pre``).

    In a two-row header a blank upper cell takes the label to its left (as a merged
    cell does) when the lower cell names a visit; otherwise the lower name is kept.
    """
    def cells(r: Sequence[Any]) -> list[str]:
        out = [str(as_label(c) or "") for c in r][:width]
        return out + [""] * (width - len(out))

    if len(rows) == 1:
        return cells(rows[0])
    up, low = cells(rows[0]), cells(rows[1])
    names, left = [], ""
    for u, lo in zip(up, low):
        if u:
            left = u
        elif left and lo and visit_like(lo):
            u = left
        else:
            left = "" if lo else left
        names.append(f"{u}_{lo}" if u and lo else (lo or u))
    return names


def build_table(name: str, fmt: str, sheet: str | None, header: list[str], columns: list[pd.Series],
                rows: np.ndarray, header_line: int, used: list[bool]) -> tuple[list[str], list[pd.Series], Problems]:
    """Check the header against the columns: unnamed columns with values, names used twice, no data rows.

    ``used[i]`` says whether column ``i`` has a non-blank value. Returns the kept names
    and columns (a column without a name and without values is dropped) and the problems.
    """
    problems = Problems()
    keep = [i for i in range(len(header)) if header[i] or used[i]]
    for i in keep:
        if not header[i]:
            first = _first_filled(columns[i])
            problems.add(name, header_line, f"column {col_letter(i)}" if fmt == "xlsx" else f"column {i + 1}",
                         None, "unnamed_column", "this column has values but no name in the header row (first "
                         f"value in row {int(rows[first])}); give it a name or delete it", sheet=sheet)
    seen: dict[str, int] = {}
    for i in keep:
        if not header[i]:
            continue
        key = norm(header[i]) or header[i]
        if key in seen:
            j = seen[key]
            problems.add(name, header_line, header[i], header[i], "duplicate_column",
                         f"the column name appears twice (columns {j + 1} '{header[j]}' and {i + 1} "
                         f"'{header[i]}'); rename or delete one of them", sheet=sheet)
        else:
            seen[key] = i
    if not any(used):
        problems.add(name, header_line, None, None, "header_only",
                     "the file has a header row but no data rows below it; add the trial's data", sheet=sheet)
    return [header[i] for i in keep], [columns[i] for i in keep], problems


def _first_filled(col: pd.Series) -> int:
    mask = blank_mask(col)
    return int(np.flatnonzero(~mask)[0])


def blank_mask(col: pd.Series) -> np.ndarray:
    """Per cell: whether it is blank (see :func:`blank`); each distinct value is looked at once."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    if all(type(u) is str for u in uniques):
        flags = np.array([not u.strip() for u in uniques] + [True], dtype=bool)
    else:
        flags = np.array([blank(u) for u in uniques] + [True], dtype=bool)
    return flags[codes]
