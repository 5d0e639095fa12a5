"""Write result tables for a manuscript: CSV, JSON or XLSX (``retrostudy fit|report --tables FILE``).

The numbers are the tidy tables' own (float64, full precision; ``estimate`` = first arm minus second
arm as in every tidy table), so a journal's table can be formatted from them without re-running.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .errors import SpecError

__all__ = ["TABLE_FORMATS", "write_tables"]

#: File endings ``write_tables`` understands.
TABLE_FORMATS = (".csv", ".json", ".xlsx")


def write_tables(tables: Mapping[str, pd.DataFrame], path: str | Path) -> list[Path]:
    """Write named tables to ``path``; returns the files written.

    ``.xlsx``: one sheet per table; ``.json``: ``{name: [records]}`` (NaN as null); ``.csv``: one file
    per table, ``<stem>-<name>.csv`` next to ``path``.

    Raises
    ------
    SpecError
        ``path`` does not end in .csv, .json or .xlsx.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.json"
    >>> [p.name for p in write_tables({"emmeans": pd.DataFrame({"arm": ["a"], "estimate": [1.5]})}, out)]
    ['t.json']
    """
    from .tidy import json_safe

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise SpecError(f"Tables are written as {', '.join(TABLE_FORMATS)}; give --tables a name with one of these "
                        f"endings, not {path.name!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = {name: pd.DataFrame(t).reset_index(drop=True) for name, t in tables.items()}
    if suffix == ".xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as xl:
            for name, frame in frames.items():
                _plain(frame).to_excel(xl, sheet_name=name[:31], index=False)
        return [path]
    if suffix == ".json":
        data = {name: json_safe(_plain(frame)) for name, frame in frames.items()}
        path.write_text(json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
        return [path]
    written = []
    for name, frame in frames.items():
        target = path.with_name(f"{path.stem}-{name}.csv")
        _plain(frame).to_csv(target, index=False, lineterminator="\n")
        written.append(target)
    return written


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals and string arrays as plain objects (Excel and JSON writers want plain values)."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out
