"""Benchmark (not collected by pytest): reading big files with ``rs.read_trial``.

1. A long CSV of about 211 MB (1.15 million subjects x 2 visits x 2 outcomes = 4.6 million
   cells, with covariates and about 2 % missing values) read by ``read_trial`` in a child
   process; prints the wall time and the child's peak memory (target: under 20 s and under
   2 GB on 2 cores, with the same checks and messages as for a small file).
2. A workbook whose sheet inflates to about 770 MB (a zip bomb): prints how long
   ``read_trial`` takes to refuse it (target: under a second).

Run: ``python tests/benchmarks/bench_read.py [n_subjects] [--no-bomb]`` from the project root. Wall time
depends on what else runs on the machine; the CPU time (both cores together, pyarrow parses in threads)
and the peak memory do not, so all three are printed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import resource, sys, time
t0 = time.perf_counter()
import retrostudy as rs
t1 = time.perf_counter()
try:
    trial = rs.read_trial(sys.argv[1])
    what = (f"{len(trial.data)} values, {trial.n_subjects} subjects, "
            f"{trial.exclusions.n_cells} excluded, input {trial.meta['input_cells']}")
except rs.DataError as err:
    what = "refused: " + str(err)[:160]
t2 = time.perf_counter()
use = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM: this process's own peak resident memory (ru_maxrss may include the parent's, inherited over exec)
with open("/proc/self/status") as fh:
    peak = next((int(ln.split()[1]) / 1024 for ln in fh if ln.startswith("VmHWM:")), use.ru_maxrss / 1024)
print(f"{t2 - t1:.2f}\t{peak:.0f}\t{use.ru_utime + use.ru_stime:.1f}\t{what}")
"""


def make_long_csv(path: Path, n_subjects: int, seed: int = 1) -> None:
    """subject_id, arm, visit, outcome, value, age, sex: one row per subject x visit x outcome."""
    rng = np.random.default_rng(seed)
    subj = np.char.add("RETRO-", np.char.zfill(np.arange(1, n_subjects + 1).astype(str), 8))
    arm = np.array(["retro", "forward", "control"])[rng.integers(0, 3, n_subjects)]
    age = rng.integers(45, 80, n_subjects).astype(str)
    sex = np.array(["F", "M"])[rng.integers(0, 2, n_subjects)]
    rows = []
    for visit in ("baseline", "week 6"):
        for outcome, lo, hi in (("pain_nrs", 0, 10), ("womac", 0, 96)):
            value = rng.integers(lo, hi + 1, n_subjects).astype(str)
            value[rng.random(n_subjects) < 0.02] = ""
            rows.append(pd.DataFrame({"subject_id": subj, "arm": arm, "visit": visit, "outcome": outcome,
                                      "value": value, "age": age, "sex": sex}))
    frame = pd.concat(rows, ignore_index=True)
    frame = frame.iloc[np.lexsort((frame.index.to_numpy() // n_subjects, np.tile(np.arange(n_subjects), 4)))]
    frame.to_csv(path, index=False)


def make_zip_bomb(path: Path, inflate_mb: int = 770) -> None:
    """An .xlsx whose one sheet XML inflates to ``inflate_mb`` MB (a few MB on disk)."""
    head = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
    row = '<row><c t="inlineStr"><is><t>x</t></is></c></row>'
    chunk = (row * 20000).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/'
                    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
                    'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                    'spreadsheetml.worksheet+xml"/></Types>')
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        zf.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
                    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
                    'relationships"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.'
                    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                    'openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                    '</Relationships>')
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(head.encode())
            written = 0
            while written < inflate_mb * 1_000_000:
                fh.write(chunk)
                written += len(chunk)
            fh.write(b"</sheetData></worksheet>")


def run_child(path: Path, timeout: float) -> tuple[float, float, float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    t0 = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, env=env,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, float("nan"), float("nan"), f"still running after {timeout:.0f} s (stopped)"
    if out.returncode != 0:
        return float("nan"), float("nan"), float("nan"), "failed: " + out.stderr.strip().splitlines()[-1]
    secs, peak, cpu, what = out.stdout.strip().splitlines()[-1].split("\t", 3)
    return float(secs), float(peak), float(cpu), what


def main(n_subjects: int = 1_150_000, bomb: bool = True) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-read-") as tmp:
        folder = Path(tmp)
        big = folder / "big_long.csv"
        t0 = time.perf_counter()
        make_long_csv(big, n_subjects)
        print(f"wrote {big.name}: {big.stat().st_size / 1e6:.0f} MB, {n_subjects} subjects, {4 * n_subjects} cells "
              f"({time.perf_counter() - t0:.1f} s)")
        secs, peak, cpu, what = run_child(big, timeout=900)
        print(f"read_trial(long csv): {secs:.1f} s wall, {cpu:.1f} s CPU, peak {peak:.0f} MB  [{what}]  "
              "(target < 20 s, < 2048 MB)")
        big.unlink()
        if not bomb:
            return
        path = folder / "bomb.xlsx"
        make_zip_bomb(path)
        print(f"wrote {path.name}: {path.stat().st_size / 1e6:.1f} MB on disk, inflates to about 770 MB")
        secs, peak, cpu, what = run_child(path, timeout=600)
        print(f"read_trial(zip bomb): {secs:.2f} s wall, {cpu:.2f} s CPU, peak {peak:.0f} MB  [{what}]  "
              "(target < 1 s)")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 1_150_000, bomb="--no-bomb" not in sys.argv)
