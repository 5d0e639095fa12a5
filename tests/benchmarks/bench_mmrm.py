"""Speed benchmark of the MMRM engine (not collected by pytest; run it by hand).

    python tests/benchmarks/bench_mmrm.py [--sizes 68x2,1000x4,20000x7] [--no-r] [--repeat 3]

Simulates three-arm trials (subjects x visits, ~10 % monotone dropout), fits the UN MMRM
``value ~ arm * visit`` by REML with retrostudy and, side by side, statsmodels MixedLM
(random intercept; random intercept + slope in week) and, when Rscript is found, R's
mmrm (if installed), glmmTMB ``us()``, nlme::gls (corSymm + varIdent) and lme4 (random
intercept). Prints one table with each fit's wall time and its ratio to ours (random-intercept
peers against our random-intercept LMM, the rest against our UN MMRM), plus our
peak memory (tracemalloc of numpy/pandas allocations + ru_maxrss of the process).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd


def simulate(n_subjects: int, n_visits: int, seed: int = 1) -> pd.DataFrame:
    """Long table: three arms, UN-like AR(0.6) heterogeneous covariance, monotone dropout."""
    rng = np.random.default_rng(seed)
    arms = np.array(["retro", "forward", "control"])[rng.integers(0, 3, n_subjects)]
    weeks = np.arange(n_visits, dtype=float)
    sd = 1.0 + 0.1 * weeks
    corr = 0.6 ** np.abs(np.subtract.outer(weeks, weeks))
    cov = corr * np.outer(sd, sd)
    eff = {"retro": -0.3, "forward": -0.15, "control": 0.0}
    mu = 5.0 - 0.1 * weeks[None, :] + np.array([eff[a] for a in arms])[:, None] * weeks[None, :]
    y = mu + rng.multivariate_normal(np.zeros(n_visits), cov, size=n_subjects)
    # ~10 % monotone dropout: a tenth of subjects leave after a random visit >= 1
    drop = np.full(n_subjects, n_visits)
    who = rng.random(n_subjects) < 0.10
    if n_visits > 1:
        drop[who] = rng.integers(1, n_visits, who.sum())
    keep = np.arange(n_visits)[None, :] < drop[:, None]
    subj = np.repeat(np.arange(n_subjects), n_visits).reshape(n_subjects, n_visits)
    frame = pd.DataFrame({
        "subject_id": [f"S{i}" for i in subj[keep]],
        "arm": np.repeat(arms, n_visits).reshape(n_subjects, n_visits)[keep],
        "visit": [f"w{int(w)}" for w in np.broadcast_to(weeks, (n_subjects, n_visits))[keep]],
        "week": np.broadcast_to(weeks, (n_subjects, n_visits))[keep],
        "value": y[keep],
    })
    return frame


def time_ours(frame: pd.DataFrame, repeat: int) -> tuple[float, float, float]:
    from retrostudy.models.mmrm import fit_mmrm

    visits = sorted(frame["visit"].unique(), key=lambda v: int(v[1:]))
    best = np.inf
    fit = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        fit = fit_mmrm(frame, columns={'response': "value", 'subject': "subject_id", 'visit': "visit", 'arm': "arm"},
                       mean="arm * visit", baseline="none", covariance="us", factors={"visit": visits})
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fit_mmrm(frame, columns={'response': "value", 'subject': "subject_id", 'visit': "visit", 'arm': "arm"}, mean="arm * visit",
             baseline="none", covariance="us", factors={"visit": visits})
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, peak, fit.fit_stats["minus2_loglik"]


def time_ours_lmm(frame: pd.DataFrame) -> float:
    """Our random-intercept LMM (retrostudy.models.lmm), when that module is present."""
    try:
        from retrostudy.models.lmm import fit_lmm
    except ImportError:
        return float("nan")
    visits = sorted(frame["visit"].unique(), key=lambda v: int(v[1:]))
    t0 = time.perf_counter()
    fit_lmm(frame, columns={'response': "value", 'subject': "subject_id", 'visit': "visit", 'arm': "arm", 'time': "week"},
            mean="arm * visit", baseline="none", random="intercept", factors={"visit": visits})
    return time.perf_counter() - t0


def time_statsmodels(frame: pd.DataFrame, slope: bool) -> float:
    import statsmodels.formula.api as smf

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.mixedlm("value ~ arm * C(week)", frame, groups=frame["subject_id"],
                            re_formula="~week" if slope else None)
        model.fit(reml=True)
    return time.perf_counter() - t0


R_SCRIPT = r"""
args <- commandArgs(TRUE); d <- read.csv(args[1]); d$week <- factor(d$week); d$subject_id <- factor(d$subject_id)
d$arm <- factor(d$arm); out <- list()
tm <- function(expr) { t0 <- proc.time()[["elapsed"]]; ok <- tryCatch({ force(expr); TRUE }, error = function(e) FALSE)
  if (ok) proc.time()[["elapsed"]] - t0 else NA }
if (requireNamespace("mmrm", quietly = TRUE)) out$mmrm <- tm(mmrm::mmrm(value ~ arm * week + us(week | subject_id), data = d))
big <- nrow(d) >= 30000 && !identical(args[2], "all")
if (requireNamespace("glmmTMB", quietly = TRUE) && !big)
  out$glmmTMB <- tm(glmmTMB::glmmTMB(value ~ arm * week + us(week + 0 | subject_id), data = d, dispformula = ~0, REML = TRUE))
if (requireNamespace("nlme", quietly = TRUE) && !big)
  out$gls <- tm(nlme::gls(value ~ arm * week, data = d, correlation = nlme::corSymm(form = ~ as.integer(week) | subject_id),
                          weights = nlme::varIdent(form = ~ 1 | week)))
if (requireNamespace("lme4", quietly = TRUE)) out$lme4_ri <- tm(lme4::lmer(value ~ arm * week + (1 | subject_id), data = d))
cat(jsonlite::toJSON(out, auto_unbox = TRUE, na = "null"))
"""


def time_r(frame: pd.DataFrame, run_all: bool = False) -> dict:
    if shutil.which("Rscript") is None:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "d.csv")
        script = os.path.join(tmp, "b.R")
        frame.to_csv(csv, index=False)
        with open(script, "w") as fh:
            fh.write(R_SCRIPT)
        try:
            cmd = ["Rscript", script, csv] + (["all"] if run_all else [])
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
            return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}
        except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError):
            return {}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="68x2,1000x4,20000x7")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--no-statsmodels", action="store_true")
    ap.add_argument("--all", action="store_true", help="also the slow peers at the largest size")
    args = ap.parse_args(argv)
    rows = []
    for size in args.sizes.split(","):
        n, t = (int(x) for x in size.split("x"))
        frame = simulate(n, t)
        ours, peak, m2ll = time_ours(frame, args.repeat)
        row = {"size": size, "n_obs": len(frame), "retrostudy_us": ours, "peak_MiB": peak, "m2ll": m2ll,
               "retrostudy_ri": time_ours_lmm(frame)}
        if not args.no_statsmodels:
            row["statsmodels_ri"] = time_statsmodels(frame, slope=False)
            if n <= 5000 or args.all:
                row["statsmodels_rs"] = time_statsmodels(frame, slope=True)
        if not args.no_r:
            row.update({f"R_{k}": v for k, v in time_r(frame, args.all).items()})
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    table = pd.DataFrame(rows).set_index("size")
    for col in [c for c in table.columns if c.startswith(("statsmodels", "R_"))]:
        ref = "retrostudy_ri" if col.endswith(("_ri", "lme4_ri")) else "retrostudy_us"
        table[f"{col}/ours"] = table[col] / table[ref]
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.precision", 3):
        print(table)
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
