"""What the generators of the bundled synthetic datasets share on the file side.

Used by ``generate.py`` here and by ``data/retro_replication_sim/generate.py`` (which also takes
``_calibrate.py`` from this folder): the canonical columns, the words describing each outcome, numbers
written to their reporting resolution, ``parameters.csv`` as a Markdown table, the generated blocks of
PROVENANCE.md and the write-or-``--check`` command line. Standard library only.
"""
from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Callable, Mapping
from pathlib import Path

from _calibrate import round_half_up

HEADER = ("study", "subject_id", "arm", "visit", "week", "outcome", "value", "age", "sex", "bmi")
#: Words (not numbers) describing each outcome; numbers live in each dataset's parameters.csv.
OUTCOME_TEXT = {
    "pain_nrs": {"label": "Pain (NRS)", "unit": "points", "direction": "lower_is_better", "version": "",
                 "low_inclusive": True},
    "womac": {"label": "WOMAC total", "unit": "points", "direction": "lower_is_better",
              "version": "WOMAC 3.1 Likert, total 0-96", "low_inclusive": True},
    "quad_strength": {"label": "Quadriceps strength", "unit": "kg", "direction": "higher_is_better",
                      "version": "", "low_inclusive": True},
    "tug": {"label": "Timed up-and-go", "unit": "s", "direction": "lower_is_better", "version": "",
            "low_inclusive": False},
}


def decimals(r: float) -> int:
    """Decimal places of the resolution ``r`` (0.1 -> 1, 1 -> 0)."""
    return max(0, round_half_up(-math.log10(r)))


def fmt_units(units: int, r: float) -> str:
    """``units`` steps of the resolution ``r`` as text, exactly (no binary floating point on the way)."""
    d = decimals(r)
    scaled = round_half_up(units * r * 10 ** d)  # integer number of the last decimal place
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), 10 ** d)
    return f"{sign}{whole}.{frac:0{d}d}" if d else f"{sign}{whole}"


def render_parameters_md(param_path: Path) -> str:
    """parameters.csv as a Markdown table (embedded in PROVENANCE.md)."""
    with open(param_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows[1:]]
    return "\n".join(lines) + "\n"


def provenance_with(folder: Path, provenance_text: str | None, blocks: Mapping[str, str]) -> str:
    """PROVENANCE.md (``folder``'s, unless its text is given) with each ``<!-- name:start -->`` ..
    ``<!-- name:end -->`` block replaced by ``blocks[name]``; empty when there is no such file."""
    if provenance_text is None:
        prov = folder / "PROVENANCE.md"
        provenance_text = prov.read_text(encoding="utf-8") if prov.exists() else ""
    for name, body in blocks.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start in provenance_text and end in provenance_text:
            head, rest = provenance_text.split(start, 1)
            _, tail = rest.split(end, 1)
            provenance_text = head + start + "\n" + body + end + tail
    return provenance_text


def run(argv: list[str] | None, *, description: str, params: Path, root: Path,
        render_all: Callable[[Path], dict[str, str]]) -> int:
    """The generators' command line: write every file ``render_all`` returns, or ``--check`` them."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--check", action="store_true", help="regenerate and compare with the files on disk")
    ap.add_argument("--params", type=Path, default=params, help="parameter table to use")
    ap.add_argument("--out", type=Path, default=root,
                    help="root folder to write into (default: this repository), e.g. a temporary folder")
    args = ap.parse_args(argv)
    files = render_all(args.params)
    if args.check:
        bad = [rel for rel, text in files.items()
               if not (root / rel).exists() or (root / rel).read_bytes() != text.encode("utf-8")]
        for rel in bad:
            print(f"differs from the generator's output: {rel}")
        if not bad:
            print(f"ok: {len(files)} files identical to the generator's output")
        return 1 if bad else 0
    for rel, text in files.items():
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        print(f"wrote {rel}")
    return 0
