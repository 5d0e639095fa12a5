"""Coverage of rs.sensitivity's intervals by simulation (slow; not collected by pytest; run by hand).

    python tests/benchmarks/sim_mi_coverage.py [--replicates 200] [--n-per-arm 60] [--workers 2]
        [--methods condmean-jackknife,approx-bayes,bayes] [--seed 1]

Each replicate simulates a two-arm trial (4 post-baseline visits, unstructured covariance,
baseline covariate, true treatment effect -2 at the last visit) with dropout that depends on the
last observed value (missing at random), analyses it with ``strategy="mar"`` by each method and
records whether the 95 % interval of the last-visit difference covers the true effect. Under MAR
the true value of the hypothetical estimand is the data-generating effect, so every method should
cover it about 95 % of the time; the table prints coverage with its Monte Carlo SE
(``sqrt(p (1 - p) / R)``), mean bias and mean SE against the SD of the estimates.

A second block repeats rbmi's antidepressant comparison with long Bayesian chains (2,000 draws)
against the SAS five macros for MAR, J2R, CR and CIR, with both priors, when ``../shared/rbmi``
is present: the Monte Carlo error there is small enough to show the prior's effect.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("RETROSTUDY_SHARED") or ROOT.parent / "shared") / "rbmi"
TRUE_EFFECT = -2.0


def simulate(rng: np.random.Generator, n_per_arm: int) -> pd.DataFrame:
    T = 4
    sd = np.array([4.0, 5.0, 5.5, 6.0])
    corr = 0.5 + 0.5 * 0.7 ** np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    cov = corr * np.outer(sd, sd)
    rows = []
    for arm, slope in (("DRUG", TRUE_EFFECT / 3.0), ("PLACEBO", 0.0)):
        for i in range(n_per_arm):
            base = rng.normal(20.0, 4.0)
            mu = -1.0 * np.arange(1, T + 1) - 0.3 * (base - 20.0) + slope * np.arange(T)
            y = mu + rng.multivariate_normal(np.zeros(T), cov)
            for t in range(T):
                rows.append((f"{arm[0]}{i}", arm, str(t + 4), base, y[t]))
                # MAR dropout: the worse (higher) the value just seen, the likelier to leave
                if t < T - 1 and rng.random() < 1.0 / (1.0 + np.exp(-(-2.6 + 0.15 * y[t]))):
                    break
    return pd.DataFrame(rows, columns=["PATIENT", "THERAPY", "VISIT", "BASVAL", "CHANGE"])


def one(payload, index, seed_sequence):
    import retrostudy as rs

    rng = np.random.default_rng(seed_sequence)
    data = simulate(rng, payload["n_per_arm"])
    out = {}
    for method in payload["methods"]:
        kw = {"n_samples": 20, "seed": int(rng.integers(2**31))} if method != "condmean-jackknife" else {}
        if method == "bayes":
            kw.update(thin=10, burn_in=100)
        res = rs.sensitivity(data, columns={"subject": "PATIENT", "visit": "VISIT", "arm": "THERAPY", "response": "CHANGE"},
                             covariates=["BASVAL"], baseline="absent", method=method, progress=False, **kw)
        last = res.to_frame().iloc[-1]
        out[method] = (float(last["estimate"]), float(last["std_error"]), float(last["conf_low"]),
                       float(last["conf_high"]))
    return out


def coverage(args) -> None:
    payload = {"n_per_arm": args.n_per_arm, "methods": args.methods}
    t0 = time.perf_counter()
    try:
        from retrostudy.replicates import run_replicates

        run = run_replicates(one, args.replicates, payload=payload, seed=args.seed, workers=args.workers or None,
                             progress=True, label="coverage")
        results = [r for r in run.results if r is not None]
    except ImportError:
        ss = np.random.SeedSequence(args.seed).spawn(args.replicates)
        results = [one(payload, i, s) for i, s in enumerate(ss)]
    secs = time.perf_counter() - t0
    R = len(results)
    print(f"Coverage of the 95 % CI of the last-visit difference under MAR ({R} trials, {args.n_per_arm} per arm, "
          f"true effect {TRUE_EFFECT}; {secs:.0f} s)")
    print(f"{'method':22s} {'coverage':>9s} {'MC SE':>7s} {'bias':>8s} {'mean SE':>8s} {'SD est':>8s}")
    for m in args.methods:
        est = np.array([r[m][0] for r in results])
        se = np.array([r[m][1] for r in results])
        cov = np.mean([(r[m][2] <= TRUE_EFFECT <= r[m][3]) for r in results])
        print(f"{m:22s} {cov:9.3f} {np.sqrt(cov * (1 - cov) / R):7.3f} {est.mean() - TRUE_EFFECT:8.3f} "
              f"{se.mean():8.3f} {est.std(ddof=1):8.3f}")


def five_macros_long_chains() -> None:
    path = SHARED / "antidepressant_data.csv"
    if not path.exists():
        print(f"\n(five macros comparison skipped: {path} not found)")
        return
    import retrostudy as rs

    data = pd.read_csv(path, dtype={"PATIENT": str, "VISIT": str, "THERAPY": str})
    fm = json.loads((SHARED / "five_macros_results.json").read_text())["five_macros_visit7"]
    print("\nBayesian MI (2,000 draws, thin 10) vs the SAS five macros, visit 7, DRUG - PLACEBO")
    print(f"{'strategy':8s} {'prior':16s} {'same_cov':8s} {'estimate':>9s} {'MC SE':>7s} {'5 macros':>9s} "
          f"{'z':>6s} {'SE':>7s} {'5m SE':>7s} {'df':>6s} {'5m df':>6s}")
    for strategy, key in (("mar", "MAR"), ("j2r", "J2R"), ("cr", "CR"), ("cir", "CIR")):
        for prior in ("inverse-wishart", "jeffreys"):
            for same_cov in (True, False):
                res = rs.sensitivity(data, columns={"subject": "PATIENT", "visit": "VISIT", "arm": "THERAPY", "response": "CHANGE"},
                                     covariates=["BASVAL"], baseline="absent", strategy=strategy, method="bayes",
                                     n_samples=2000, thin=10, seed=98765, prior=prior, same_cov=same_cov,
                                     progress=False)
                row = res.to_frame().iloc[-1]
                reps = res.replicates.query("quantity == 'contrast' and visit == '7'")["estimate"]
                mcse = reps.std(ddof=1) / np.sqrt(len(reps))
                ref = fm[key]
                z = (row["estimate"] - ref["diff"]) / np.hypot(mcse, ref["mcse"])
                print(f"{key:8s} {prior:16s} {same_cov!s:8s} {row['estimate']:9.4f} {mcse:7.4f} "
                      f"{ref['diff']:9.4f} {z:6.2f} {row['std_error']:7.4f} {ref['se']:7.4f} {row['df']:6.1f} "
                      f"{ref['df']:6.1f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--n-per-arm", type=int, default=60)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--methods", default="condmean-jackknife,approx-bayes,bayes")
    ap.add_argument("--skip-coverage", action="store_true")
    ap.add_argument("--skip-five-macros", action="store_true")
    args = ap.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not args.skip_coverage:
        coverage(args)
    if not args.skip_five_macros:
        five_macros_long_chains()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
