"""Benchmark (not collected by pytest): the whole `retrostudy report` process on the bundled data.

Target: under 5 s wall-clock on 2 cores. Run: python tests/benchmarks/bench_report.py [repeats]
Prints each run's wall time and, for the last run, when each progress message appeared.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(folder: Path) -> tuple[float, list[tuple[float, str]]]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "retrostudy", "report", "--out", "bench.pdf"], cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MPLBACKEND": "Agg"})
    stamps = []
    for line in proc.stderr:
        stamps.append((time.perf_counter() - t0, line.rstrip()))
    proc.wait()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"report failed with exit code {proc.returncode}: {stamps}")
    return wall, stamps


def main(repeats: int = 3) -> None:
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            wall, stamps = run_once(Path(tmp))
            walls.append(wall)
            print(f"retrostudy report (bundled alghadir2019_sim): {wall:.2f} s")
    for t, msg in stamps:
        print(f"  {t:6.2f} s  {msg}")
    print(f"best {min(walls):.2f} s, median {sorted(walls)[len(walls) // 2]:.2f} s (target < 5 s on 2 cores)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
