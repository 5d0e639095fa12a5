"""Speed of reference-based multiple imputation against rbmi (not collected by pytest; run by hand).

    python tests/benchmarks/bench_mi.py [--bootstrap-samples 1000] [--repeat 3] [--workers 2] [--no-r]

On rbmi's ``antidepressant_data`` (``../shared/rbmi``; 172 subjects, 4 visits), J2R with the
placebo arm as reference, imputation model ``CHANGE ~ THERAPY * VISIT + BASVAL * VISIT`` (UN),
ANCOVA on BASVAL per visit, times ``rs.sensitivity`` (the whole call: data preparation, the
full-data fit, every replicate, pooling):

1. conditional mean imputation with jackknife SE (1 + 172 MMRM fits), best of ``--repeat``;
2. conditional mean imputation with ``--bootstrap-samples`` bootstrap samples, serially and on
   a warm Dask LocalCluster of 1 and of ``--workers`` single-threaded workers (started, and the
   package imported on the workers, before the clock starts; passed as ``scheduler=``).

When ``Rscript`` and rbmi are found, ``tests/reference/rbmi/bench_rbmi.R`` times rbmi's
``draws() + impute() + analyse() + pool()`` for the same two analyses in the same run (one
core), and the table prints rbmi's time over ours. The visit-7 estimate and SE of both are
printed too, so the numbers being timed are seen to agree.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("RETROSTUDY_SHARED") or ROOT.parent / "shared") / "rbmi"
KW = {"columns": {"subject": "PATIENT", "visit": "VISIT", "arm": "THERAPY", "response": "CHANGE"},
      "covariates": ["BASVAL"], "baseline": "absent", "strategy": "j2r"}


def _ours(data: pd.DataFrame, method: str, repeat: int, **extra) -> tuple[float, object]:
    import retrostudy as rs
    from retrostudy.missing.model import clear_cache

    best, res = float("inf"), None
    for _ in range(repeat):
        clear_cache()  # fresh fits every time (the process remembers refits across calls)
        t0 = time.perf_counter()
        res = rs.sensitivity(data, method=method, progress=False, **KW, **extra)
        best = min(best, time.perf_counter() - t0)
    return best, res


def _warm_worker() -> None:
    """On a Dask worker: import the package and forget remembered fits (a warm, empty worker)."""
    from retrostudy.missing.model import clear_cache

    clear_cache()


def _rbmi(data_path: Path, n_boot: int) -> dict | None:
    script = ROOT / "tests" / "reference" / "rbmi" / "bench_rbmi.R"
    if shutil.which("Rscript") is None or not script.exists():
        return None
    proc = subprocess.run(["Rscript", str(script), f"--data={data_path}", f"--bootstrap-samples={n_boot}"],
                          check=False, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        print(f"(rbmi not timed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'failed'})")
        return None
    return json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap-samples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args(argv)
    path = SHARED / "antidepressant_data.csv"
    if not path.exists():
        print(f"rbmi's antidepressant data not found at {path}; nothing to time.")
        return 0
    data = pd.read_csv(path, dtype={"PATIENT": str, "VISIT": str, "THERAPY": str})
    rows = []
    t_jack, jack = _ours(data, "condmean-jackknife", args.repeat)
    rows.append(("condmean jackknife (173 fits)", "retrostudy, serial", t_jack, jack))
    B = args.bootstrap_samples
    t_boot, boot = _ours(data, "condmean-bootstrap", 1, n_samples=B, seed=20260311)
    rows.append((f"condmean bootstrap ({B + 1} fits)", "retrostudy, serial", t_boot, boot))
    same = True
    import importlib.util

    have_runner = importlib.util.find_spec("retrostudy.replicates") is not None
    dask_times: dict[int, float] = {}
    startup: dict[int, float] = {}
    if have_runner and args.workers > 0:
        from dask.distributed import Client, LocalCluster

        import retrostudy as rs
        from retrostudy.missing.model import clear_cache

        for w in sorted({1, args.workers}):
            # a warm cluster: started, and retrostudy imported on every worker, before the clock starts
            with LocalCluster(n_workers=w, threads_per_worker=1, processes=True, dashboard_address=None) as c, \
                    Client(c) as client:
                t0 = time.perf_counter()
                client.run(_warm_worker)
                startup[w] = time.perf_counter() - t0
                clear_cache()
                t0 = time.perf_counter()
                res_w = rs.sensitivity(data, method="condmean-bootstrap", n_samples=B, seed=20260311,
                                       scheduler=client, progress=False, **KW)
                dask_times[w] = time.perf_counter() - t0
            rows.append((f"condmean bootstrap ({B + 1} fits)", f"retrostudy, Dask {w} worker(s)", dask_times[w], res_w))
            same = same and res_w.to_frame().equals(boot.to_frame())
    r = None if args.no_r else _rbmi(path, B)
    print(f"{'analysis':34s} {'tool':30s} {'seconds':>9s} {'rbmi / ours':>12s} {'trt_7':>10s} {'se':>8s}")
    rbmi_t = {}
    if r is not None:
        rbmi_t = {"jack": r["condmean_jackknife"]["seconds"], "boot": r["condmean_bootstrap"]["seconds"]}
    for name, tool, secs, res in rows:
        ref = rbmi_t.get("jack" if "jackknife" in name else "boot")
        ratio = f"{ref / secs:11.1f}x" if ref else f"{'-':>12s}"
        last = res.to_frame().iloc[-1]
        print(f"{name:34s} {tool:30s} {secs:9.3f} {ratio} {last['estimate']:10.5f} {last['std_error']:8.5f}")
    if r is not None:
        for key, name in (("condmean_jackknife", "condmean jackknife (173 fits)"),
                          ("condmean_bootstrap", f"condmean bootstrap ({B + 1} fits)")):
            x = r[key]
            se = x.get("trt_7_se")
            se_text = f"{se:8.5f}" if isinstance(se, (int, float)) else f"{'-':>8s}"  # percentile pool: no SE
            print(f"{name:34s} {'rbmi ' + r['rbmi_version'] + ', 1 core':30s} {x['seconds']:9.3f} {'1.0x':>12s} "
                  f"{x['trt_7_est']:10.5f} {se_text}")
    if dask_times:
        w = max(dask_times)
        print(f"\nDask: {w} workers {dask_times[1] / dask_times[w]:.2f}x faster than 1 worker and "
              f"{t_boot / dask_times[w]:.2f}x faster than serial on the bootstrap, on warm clusters (importing "
              f"retrostudy on the workers took {startup[1]:.2f} s with 1 worker, {startup[w]:.2f} s with {w}; "
              f"starting the cluster is not timed); parallel results identical to serial: {same}.")
    elif not have_runner:
        print("\n(retrostudy.replicates not installed: no Dask timing.)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
