"""Write the typst source, its JSON data and the figures to a folder and compile the PDF.

Reproducibility: the template and data are written with sorted keys; figures are
deterministic SVG (:func:`retrostudy.figures.to_svg`); typst gets a fixed timestamp
and only its embedded fonts (``ignore_system_fonts``), so the PDF's bytes depend on
the input alone.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from ..errors import SpecError

__all__ = ["TEMPLATE", "compile_pdf", "file_date", "fixed_timestamp", "template_text", "write_sources"]

TEMPLATE = "report.typ"


REBUILD = """This folder is the source of a retrostudy report (written by --keep-source).

report.typ   the layout (typst markup); edit the wording and layout here
report.json  every number and sentence the layout shows (written by retrostudy)
fig/*.svg    the figures

Rebuild the PDF from this folder with the typst Python package that retrostudy installs:

    python -c "import typst; typst.compile('report.typ', output='report.pdf', ignore_system_fonts=True)"

(or `typst compile report.typ` with the typst command-line tool).
"""


def template_text() -> str:
    return resources.files("retrostudy.report").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")


def fixed_timestamp(meta: Mapping, date: str | None = None) -> dict:
    """The report's date, and where it came from, in this order: ``date`` (``--date`` or the setting),
    ``SOURCE_DATE_EPOCH``, a date in the data's metadata, the input file's modification date; when none
    is known the report is marked undated and carries 2000-01-01 as a fixed placeholder.

    Returns
    -------
    dict
        ``epoch`` (unix seconds, UTC midnight), ``date`` (YYYY-MM-DD), ``iso``, ``source`` (words) and
        ``undated`` (True for the placeholder).
    """
    def day(value: str, source: str) -> dict:
        d = _dt.date.fromisoformat(str(value)[:10])
        stamp = int(_dt.datetime(d.year, d.month, d.day, tzinfo=_dt.UTC).timestamp())
        return {"epoch": stamp, "date": d.isoformat(), "iso": f"{d.isoformat()}T00:00:00Z", "source": source,
                "undated": False}

    if date:
        return day(date, "date given with --date or the date setting")
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        try:
            stamp = int(env)
        except ValueError:
            raise SpecError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, not {env!r}.") from None
        when = _dt.datetime.fromtimestamp(stamp, _dt.UTC)
        return {"epoch": stamp, "date": when.date().isoformat(), "iso": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "source": "SOURCE_DATE_EPOCH", "undated": False}
    for key, words in (("date", "the data's date"), ("data_date", "the data's date"),
                       ("created", "the data's creation date"), ("version_date", "the data's version date"),
                       ("retrieved", "the date the data were retrieved"),
                       ("file_modified", "the input file's modification date")):
        val = meta.get(key)
        if val:
            try:
                return day(str(val), words)
            except ValueError:
                continue
    out = day("2000-01-01", "undated: no --date, SOURCE_DATE_EPOCH or data date")
    out["undated"] = True
    return out


def file_date(path: str | os.PathLike) -> str | None:
    """The UTC day a file was last modified (YYYY-MM-DD), or None."""
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        return None
    return _dt.datetime.fromtimestamp(mtime, _dt.UTC).date().isoformat()


def write_sources(folder: Path, content: Mapping, figures: Mapping[str, bytes]) -> dict[str, bytes]:
    """Write report.typ, report.json and fig/*.svg into ``folder``; returns name -> bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fig").mkdir(exist_ok=True)
    files: dict[str, bytes] = {
        TEMPLATE: template_text().encode("utf-8"),
        "report.json": (json.dumps(content, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False)
                        + "\n").encode("utf-8"),
    }
    for name in sorted(figures):
        files[f"fig/{name}"] = figures[name]
    files["REBUILD.txt"] = REBUILD.encode("utf-8")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def compile_pdf(folder: Path, timestamp: int) -> bytes:
    """Compile ``folder/report.typ`` with typst's embedded fonts only and a fixed timestamp."""
    import typst

    return typst.compile(str(folder / TEMPLATE), root=str(folder), ignore_system_fonts=True,
                         timestamp=int(timestamp), font_paths=[])
