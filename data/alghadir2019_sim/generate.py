#!/usr/bin/env python3
"""Generate the synthetic trial ``alghadir2019_sim`` (simulated data, not participant data).

A seeded, deterministic reconstruction of the three-arm retro-walking trial of Alghadir et al.,
BMC Musculoskelet Disord 2019;20:159, calibrated to the summary numbers of its abstract. Every
number used comes from ``parameters.csv`` next to this file; PROVENANCE.md explains each one.

Usage::

    python data/alghadir2019_sim/generate.py           # write every output file
    python data/alghadir2019_sim/generate.py --check   # regenerate in memory, compare bytes, exit 1 on a difference

Outputs: ``alghadir2019_sim.csv`` and ``achieved.csv`` here, the achieved-values block of
PROVENANCE.md, and the packaged copies ``retrostudy/datasets/alghadir2019_sim.{csv,json}``.
Only numpy (the random stream) and the standard library do the work; every sum goes through
``math.fsum`` and every elementary function through ``math`` so results do not depend on BLAS or
SIMD code paths.
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
STUDY = "alghadir2019_sim"
#: Date of this version of the synthetic data (reports take their fixed timestamp from it).
DATA_DATE = "2026-11-24"
ARMS = ("retro", "forward", "control")
PREFIX = {"retro": "R", "forward": "F", "control": "C"}
VISITS = (("baseline", 0), ("week6", 6))
OUTCOMES = ("pain_nrs", "womac", "quad_strength", "tug")
#: Search grid for the SD-of-change scale: GRID + 1 values from GRID_LO to GRID_HI times the SD that
#: gives the published p before rounding (a method setting, not a trial parameter).
GRID, GRID_LO, GRID_HI = 400, 0.8, 1.2

if str(HERE) not in sys.path:  # the helper modules sit next to this script
    sys.path.insert(0, str(HERE))
from _achieved import achieved_rows, render_achieved_csv, render_achieved_md
from _calibrate import (
    Params,
    chol,
    correlated,
    mean,
    round_half_up,
    round_to_sum,
    sd,
    standardize,
    t_quantile_two_sided,
)
from _files import HEADER, OUTCOME_TEXT, decimals, fmt_units, provenance_with, render_parameters_md, run


# ----------------------------------------------------------------------------------------------
def simulate(par: Params) -> dict:
    """Draw the trial; return per-subject records and the calibration details."""
    rng = np.random.default_rng(int(par.get("seed")))
    subjects = []
    for arm in ARMS:
        for i in range(int(par.get("n_randomized", arm=arm))):
            subjects.append({"subject_id": f"{PREFIX[arm]}{i + 1:02d}", "arm": arm})
    n = len(subjects)
    by_arm = {arm: [k for k, s in enumerate(subjects) if s["arm"] == arm] for arm in ARMS}

    # 1. sex: exactly n_female women per arm, positions by random permutation
    for arm in ARMS:
        idx = by_arm[arm]
        n_female = int(par.get("n_female", arm=arm))
        order = rng.permutation(len(idx))
        for rank, j in enumerate(order):
            subjects[idx[int(j)]]["sex"] = "female" if rank < n_female else "male"

    # 2. age: standardized draw, shifted/scaled to the target mean and SD, rounded so sum = round(mean*n)
    z = standardize(rng.standard_normal(n).tolist())
    a_mean, a_sd = par.get("age_mean"), par.get("age_sd")
    ages = round_to_sum([a_mean + a_sd * v for v in z], round_half_up(a_mean * n),
                        [int(par.get("age_min"))] * n, [int(par.get("age_max"))] * n)
    # 3. BMI: not published, plain draw
    zb = rng.standard_normal(n).tolist()
    lo, hi = par.get("bmi_min"), par.get("bmi_max")
    for s, age, v in zip(subjects, ages, zb):
        s["age"] = int(age)
        s["bmi_tenths"] = round_half_up(min(max(par.get("bmi_mean") + par.get("bmi_sd") * v, lo), hi) * 10)

    # 4. baseline values: correlated normal scores + covariate effects, clipped, rounded to resolution
    e = rng.standard_normal((n, len(OUTCOMES))).tolist()
    zbase = correlated(e, chol(par.corr("baseline_corr", OUTCOMES)))
    male_share = math.fsum(s["sex"] == "male" for s in subjects) / n
    res = {o: par.get("resolution", outcome=o) for o in OUTCOMES}
    for k, s in enumerate(subjects):
        for j, o in enumerate(OUTCOMES):
            x = par.get("baseline_mean", outcome=o) + par.get("baseline_sd", outcome=o) * zbase[k][j]
            if par.has("sex_effect", outcome=o):
                x += par.get("sex_effect", outcome=o) * ((s["sex"] == "male") - male_share)
            if par.has("age_slope", outcome=o):
                x += par.get("age_slope", outcome=o) * (s["age"] - a_mean)
            x = min(max(x, par.get("baseline_min", outcome=o)), par.get("baseline_max", outcome=o))
            s[("base", o)] = round_half_up(x / res[o])

    # 5. dropout (MAR on baseline pain): exactly n - n_completers per arm, drawn without replacement
    #    with weights exp(beta * z_pain) via Gumbel-top-k (Efraimidis & Spirakis 2006)
    beta = par.get("dropout_logodds_pain", outcome="pain_nrs")
    for arm in ARMS:
        idx = by_arm[arm]
        u = rng.random(len(idx)).tolist()
        keys = [beta * zbase[k][0] - math.log(-math.log(uu)) for k, uu in zip(idx, u)]
        n_drop = len(idx) - int(par.get("n_completers", arm=arm))
        ranked = sorted(range(len(idx)), key=lambda r: (-keys[r], r))
        for r, k in enumerate(idx):
            subjects[k]["completer"] = r not in ranked[:n_drop]

    # 6. changes: correlated scores, mixed with the baseline score, standardized per arm among completers
    e2 = rng.standard_normal((n, len(OUTCOMES))).tolist()
    zchg = correlated(e2, chol(par.corr("change_corr", OUTCOMES)))
    calib = {}
    for j, o in enumerate(OUTCOMES):
        rho = par.get("change_baseline_corr", outcome=o)
        zc = {arm: standardize([rho * zbase[k][j] + math.sqrt(1 - rho * rho) * zchg[k][j]
                                for k in by_arm[arm] if subjects[k]["completer"]]) for arm in ARMS}
        comp = {arm: [k for k in by_arm[arm] if subjects[k]["completer"]] for arm in ARMS}

        def realise(scale: float, o=o, zc=zc, comp=comp) -> dict:
            out = {}
            for arm in ARMS:
                m = par.get("change_mean", arm=arm, outcome=o)
                ks = comp[arm]
                base = [subjects[k][("base", o)] for k in ks]
                lo_u = [round_half_up(par.get("week6_min", outcome=o) / res[o]) - b for b in base]
                hi_u = [round_half_up(par.get("week6_max", outcome=o) / res[o]) - b for b in base]
                out[arm] = round_to_sum([(m + scale * v) / res[o] for v in zc[arm]],
                                        round_half_up(m * len(ks) / res[o]), lo_u, hi_u)
            return out

        if par.has("change_p_value", outcome=o):
            # SD of change that gives the published p in a pooled two-sample t-test (retro vs control
            # completers); rounding to the recording resolution moves the SD, so scan scale factors
            # around it and keep the first whose rounded changes give the t nearest the target.
            n1, n2 = len(comp["retro"]), len(comp["control"])
            diff = par.get("change_mean", arm="retro", outcome=o) - par.get("change_mean", arm="control", outcome=o)
            t_req = t_quantile_two_sided(par.get("change_p_value", outcome=o), n1 + n2 - 2)
            sd_req = abs(diff) / (t_req * math.sqrt(1 / n1 + 1 / n2))
            best = None
            for i in range(GRID + 1):  # scan the SD scale; keep the first closest t
                scale = sd_req * (GRID_LO + (GRID_HI - GRID_LO) * i / GRID)
                units = realise(scale)
                a = [u * res[o] for u in units["retro"]]
                b = [u * res[o] for u in units["control"]]
                t_ach = abs(mean(a) - mean(b)) / (_pooled_sd(a, b) * math.sqrt(1 / n1 + 1 / n2))
                if best is None or abs(t_ach - t_req) < best[0]:
                    best = (abs(t_ach - t_req), scale, units)
            _, scale, units = best
            calib[o] = {"sd_required": sd_req, "scale": scale}
        else:
            scale = par.get("change_sd", outcome=o)
            units = realise(scale)
            calib[o] = {"sd_required": float("nan"), "scale": scale}
        for arm in ARMS:
            for k, u in zip(comp[arm], units[arm]):
                subjects[k][("week6", o)] = subjects[k][("base", o)] + u
    return {"subjects": subjects, "calibration": calib, "resolution": res}


def _pooled_sd(a: list[float], b: list[float]) -> float:
    return math.sqrt(((len(a) - 1) * sd(a) ** 2 + (len(b) - 1) * sd(b) ** 2) / (len(a) + len(b) - 2))


# ----------------------------------------------------------------------------------------------
def render_csv(sim: dict) -> str:
    res = sim["resolution"]
    lines = [",".join(HEADER)]
    for s in sim["subjects"]:
        bmi = fmt_units(s["bmi_tenths"], 0.1)
        for visit, week in VISITS:
            for o in OUTCOMES:
                key = ("base", o) if visit == "baseline" else ("week6", o)
                value = fmt_units(s[key], res[o]) if key in s else ""
                lines.append(",".join([STUDY, s["subject_id"], s["arm"], visit, str(week), o, value,
                                       str(s["age"]), s["sex"], bmi]))
    return "\n".join(lines) + "\n"


def render_json(par: Params, sim: dict, csv_text: str) -> str:
    outcomes = []
    for o in OUTCOMES:
        lo = par.get("scale_min", outcome=o) if par.has("scale_min", outcome=o) else None
        hi = par.get("scale_max", outcome=o) if par.has("scale_max", outcome=o) else None
        outcomes.append({"id": o, **OUTCOME_TEXT[o], "low": lo, "high": hi,
                         "decimals": decimals(sim["resolution"][o])})
    n_female = sum(s["sex"] == "female" for s in sim["subjects"])
    meta = {
        "id": STUDY,
        "title": "Retro vs forward walking vs usual care in knee osteoarthritis (synthetic reconstruction)",
        "description": ("Simulated three-arm trial (retro walking, forward walking, usual-care control; 10 min, "
                        "3 days a week for 6 weeks) with pain NRS, WOMAC, quadriceps strength and timed up-and-go "
                        "at baseline and week 6, calibrated to the published summary numbers of Alghadir et al. "
                        "2019. Week-6 values of dropouts are present as empty cells."),
        "synthetic": True,
        "synthetic_statement": ("These data are simulated: no participant of the trial is in them. They are "
                                "calibrated to the published summary numbers of Alghadir et al. 2019 and are "
                                "not the trial's participant data."),
        "calibrated_to": [
            "68 randomized (abstract)", "mean age 55.6 years (abstract)", "38 female (abstract)",
            "completion at week 6: 91 % retro, 87 % forward, 82 % control (abstract)",
            "mean pain reduction retro 1.8 vs control 1.0, p = 0.01 (abstract)",
            "mean WOMAC reduction retro 4.8 vs control 2.2, p = 0.008 (abstract)",
            "retro gained more quadriceps strength than control (abstract; size assumed)",
        ],
        "citation": ("Alghadir AH, Anwer S, Sarkar B, Paul AK, Anwar D. Effect of 6-week retro or forward walking "
                     "program on pain, functional disability, quadriceps muscle strength, and performance in "
                     "individuals with knee osteoarthritis: a randomized controlled trial (retro-walking trial). "
                     "BMC Musculoskelet Disord. 2019;20:159. doi:10.1186/s12891-019-2537-9"),
        "doi": "10.1186/s12891-019-2537-9",
        "licence": "CC0-1.0",
        "generator": "data/alghadir2019_sim/generate.py",
        "parameters": "data/alghadir2019_sim/parameters.csv",
        "provenance": "data/alghadir2019_sim/PROVENANCE.md",
        "seed": int(par.get("seed")),
        "date": DATA_DATE,
        "file": f"{STUDY}.csv",
        "sha256": hashlib.sha256(csv_text.encode()).hexdigest(),
        "layout": "long",
        "columns": list(HEADER),
        "subjects": len(sim["subjects"]),
        "subjects_per_arm": {a: sum(s["arm"] == a for s in sim["subjects"]) for a in ARMS},
        "completers_per_arm": {a: sum(s["arm"] == a and s["completer"] for s in sim["subjects"]) for a in ARMS},
        "n_female": n_female,
        "subject_id_scheme": "arm letter (R retro, F forward, C control) + two-digit number, e.g. R01..R23",
        "arms": list(ARMS),
        "reference_arm": "control",
        "visits": [{"visit": v, "week": float(w)} for v, w in VISITS],
        "baseline_visit": VISITS[0][0],
        "outcomes": outcomes,
        "covariates": [
            {"name": "age", "unit": "years", "description": "age at entry (integer years)"},
            {"name": "sex", "levels": ["female", "male"], "description": "sex"},
            {"name": "bmi", "unit": "kg/m2", "description": "body mass index at entry"},
        ],
        "missing": "dropouts' week-6 rows are present with an empty value (missing at random given baseline pain)",
    }
    return json.dumps(meta, indent=2, ensure_ascii=False) + "\n"


def render_all(param_path: Path = HERE / "parameters.csv", provenance_text: str | None = None) -> dict[str, str]:
    """Every output file's text, keyed by path relative to the repository root."""
    par = Params.read(param_path)
    sim = simulate(par)
    csv_text = render_csv(sim)
    rows = achieved_rows(par, sim, ARMS, OUTCOMES)
    out = {
        f"data/{STUDY}/{STUDY}.csv": csv_text,
        f"data/{STUDY}/achieved.csv": render_achieved_csv(rows),
        f"retrostudy/datasets/{STUDY}.csv": csv_text,
        f"retrostudy/datasets/{STUDY}.json": render_json(par, sim, csv_text),
    }
    provenance_text = provenance_with(HERE, provenance_text, {"achieved": render_achieved_md(rows),
                                                              "parameters": render_parameters_md(param_path)})
    if provenance_text:
        out[f"data/{STUDY}/PROVENANCE.md"] = provenance_text
    return out


def main(argv: list[str] | None = None) -> int:
    return run(argv, description=__doc__.split("\n")[0], params=HERE / "parameters.csv", root=ROOT,
               render_all=render_all)


if __name__ == "__main__":
    sys.exit(main())
