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
from importlib import resources
from pathlib import Path
from typing import Mapping

from ..errors import SpecError

__all__ = ["TEMPLATE", "write_sources", "compile_pdf", "fixed_timestamp"]

TEMPLATE = "report.typ"
#: Used when neither SOURCE_DATE_EPOCH nor the data give a date (2000-01-01T00:00:00Z).
FALLBACK_EPOCH = 946684800


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


def fixed_timestamp(meta: Mapping) -> tuple[int, str]:
    """(unix seconds, source): SOURCE_DATE_EPOCH, else a date in the data's metadata, else 2000-01-01."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        try:
            return int(env), "SOURCE_DATE_EPOCH"
        except ValueError:
            raise SpecError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, not {env!r}.") from None
    for key in ("date", "data_date", "created", "version_date", "retrieved"):
        val = meta.get(key)
        if val:
            try:
                day = _dt.date.fromisoformat(str(val)[:10])
            except ValueError:
                continue
            stamp = _dt.datetime(day.year, day.month, day.day, tzinfo=_dt.timezone.utc)
            return int(stamp.timestamp()), f"data ({key})"
    return FALLBACK_EPOCH, "fixed default (no SOURCE_DATE_EPOCH, no date in the data)"


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
