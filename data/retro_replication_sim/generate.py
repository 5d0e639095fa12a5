#!/usr/bin/env python3
"""Generate the synthetic trial ``retro_replication_sim`` (simulated data, not participant data).

A seeded, deterministic simulation of a *planned replication* of the three-arm retro-walking trial of
Alghadir et al., BMC Musculoskelet Disord 2019;20:159: 50 participants per arm, visits at weeks 0, 2,
4 and 6, the published six-week effects taken as the true mean changes, and dropout whose chance at
each visit depends on the last recorded pain (missing at random), so that an analysis that uses every
visit (MAR) and one that uses completers only, or a reference-based imputation (J2R), give different
answers. Every number used comes from ``parameters.csv`` next to this file; PROVENANCE.md explains
each one.

Usage::

    python data/retro_replication_sim/generate.py           # write every output file
    python data/retro_replication_sim/generate.py --check   # regenerate in memory, compare bytes, exit 1 on a difference

Outputs: ``retro_replication_sim.csv`` and ``achieved.csv`` here, the two tables embedded in
PROVENANCE.md, and the packaged copies ``retrostudy/datasets/retro_replication_sim.{csv,json}``.
Only numpy (the random stream) and the standard library do the work; every sum goes through
``math.fsum`` and every elementary function through ``math`` so results do not depend on BLAS or
SIMD code paths. The parameter table, rounding and Cholesky helpers are those of
``data/alghadir2019_sim/_calibrate.py`` and the file writing that of ``data/alghadir2019_sim/_files.py``
(one copy each).
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
STUDY = "retro_replication_sim"
#: Date of this version of the synthetic data (reports take their fixed timestamp from it).
DATA_DATE = "2026-12-06"
ARMS = ("retro", "forward", "control")
PREFIX = {"retro": "R", "forward": "F", "control": "C"}
VISITS = (("baseline", 0), ("week2", 2), ("week4", 4), ("week6", 6))
#: The visit whose values the participants of ``n_missed_visits`` miss (they return at week 6).
MISSED_VISIT = 2
OUTCOMES = ("pain_nrs", "womac", "quad_strength", "tug")

for _folder in (HERE, HERE.parent / "alghadir2019_sim"):  # helper modules: this folder's and the shared one
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
from _achieved import render_achieved_csv, render_achieved_md
from _calibrate import Params, chol, correlated, round_half_up
from _files import HEADER, OUTCOME_TEXT, decimals, fmt_units, provenance_with, render_parameters_md, run
from _summary import achieved_rows


# ----------------------------------------------------------------------------------------------
def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _truncated_normal(rng: np.random.Generator, m: float, s: float, lo: float, hi: float) -> float:
    """One draw of N(m, s^2) restricted to [lo, hi], by redrawing (rejection)."""
    while True:
        x = m + s * float(rng.standard_normal())
        if lo <= x <= hi:
            return x


def components(par: Params, o: str) -> dict[str, float]:
    """Variance components of outcome ``o``: level, response and visit-noise SDs, and the rounding share.

    A recorded value is level + fraction(visit) x (arm mean change + response) + noise, rounded to the
    recording resolution r (which adds about r^2 / 12 of variance). The components are chosen so that
    the *recorded* baseline SD and SD of the week-6 change equal ``baseline_sd`` and ``change_sd``.
    """
    r = par.get("resolution", outcome=o)
    noise = par.get("noise_sd", outcome=o)
    rounding = r * r / 12.0
    level2 = par.get("baseline_sd", outcome=o) ** 2 - noise * noise - rounding
    resp2 = par.get("change_sd", outcome=o) ** 2 - 2.0 * (noise * noise + rounding)
    if level2 <= 0 or resp2 <= 0:
        raise SystemExit(f"parameters.csv: noise_sd of {o} is too large for its baseline_sd or change_sd; "
                         "make it smaller.")
    return {"level_sd": math.sqrt(level2), "response_sd": math.sqrt(resp2), "noise_sd": noise}


def simulate(par: Params) -> dict:
    """Draw the trial: every participant's full course, then who is seen at which visit."""
    rng = np.random.default_rng(int(par.get("seed")))
    subjects = []
    for arm in ARMS:
        for i in range(int(par.get("n_randomized", arm=arm))):
            subjects.append({"subject_id": f"{PREFIX[arm]}{i + 1:02d}", "arm": arm})
    n = len(subjects)
    n_visits = len(VISITS)
    frac = [0.0, par.get("response_fraction_week2"), par.get("response_fraction_week4"), 1.0]

    # 1. sex: each participant female with probability female_share
    p_female = par.get("female_share")
    for s, u in zip(subjects, rng.random(n).tolist()):
        s["sex"] = "female" if u < p_female else "male"
    # 2. age and 3. BMI: normal draws restricted to their bounds (redrawn outside)
    a_mean = par.get("age_mean")
    for s in subjects:
        age = _truncated_normal(rng, a_mean, par.get("age_sd"), par.get("age_min"), par.get("age_max"))
        s["age"] = min(max(round_half_up(age), int(par.get("age_min"))), int(par.get("age_max")))
    for s in subjects:
        bmi = _truncated_normal(rng, par.get("bmi_mean"), par.get("bmi_sd"), par.get("bmi_min"), par.get("bmi_max"))
        s["bmi_tenths"] = round_half_up(bmi * 10)

    # 4. subject levels, 5. subject responses (correlated across outcomes), 6. visit noise
    zlevel = correlated(rng.standard_normal((n, len(OUTCOMES))).tolist(), chol(par.corr("level_corr", OUTCOMES)))
    zresp = correlated(rng.standard_normal((n, len(OUTCOMES))).tolist(), chol(par.corr("change_corr", OUTCOMES)))
    lnoise = chol(par.corr("noise_corr", OUTCOMES))
    znoise = [correlated(visit_rows, lnoise) for visit_rows in rng.standard_normal((n, n_visits, len(OUTCOMES))).tolist()]

    comp = {o: components(par, o) for o in OUTCOMES}
    res = {o: par.get("resolution", outcome=o) for o in OUTCOMES}
    for k, s in enumerate(subjects):
        units = {}
        for j, o in enumerate(OUTCOMES):
            centre = par.get("baseline_mean", outcome=o)
            if par.has("sex_effect", outcome=o):
                centre += par.get("sex_effect", outcome=o) * ((s["sex"] == "male") - (1.0 - p_female))
            if par.has("age_slope", outcome=o):
                centre += par.get("age_slope", outcome=o) * (s["age"] - a_mean)
            level = centre + comp[o]["level_sd"] * zlevel[k][j]
            response = par.get("change_mean", arm=s["arm"], outcome=o) + comp[o]["response_sd"] * zresp[k][j]
            for v in range(n_visits):
                x = level + frac[v] * response + comp[o]["noise_sd"] * znoise[k][v][j]
                bound = "baseline" if v == 0 else "followup"
                x = min(max(x, par.get(f"{bound}_min", outcome=o)), par.get(f"{bound}_max", outcome=o))
                units[(v, o)] = round_half_up(x / res[o])
        s["units"] = units  # the full course, recorded or not

    # 7. dropout: before each follow-up visit, a participant still in the trial leaves with probability
    #    expit(logit(hazard_ref[arm]) + beta * (last recorded pain - pain_ref)); uniforms drawn for all
    u = rng.random((n, n_visits - 1)).tolist()
    beta = par.get("dropout_logodds_pain", outcome="pain_nrs")
    ref = par.get("dropout_pain_ref")

    def hazard(s: dict, last_pain_units: int) -> float:
        return _expit(_logit(par.get("dropout_hazard_ref", arm=s["arm"]))
                      + beta * (last_pain_units * res["pain_nrs"] - ref))

    for s in subjects:
        s["seen"] = [True] + [False] * (n_visits - 1)
        s["last_visit"] = 0
        s["risk"] = []  # (visit, last recorded pain, hazard, left before this visit)
    for v in range(1, n_visits):
        on_study = [k for k, s in enumerate(subjects) if s["last_visit"] == v - 1 or s.get("missed") == v - 1]
        for k in on_study:
            s = subjects[k]
            last = s["units"][(s["last_visit"], "pain_nrs")]
            h = hazard(s, last)
            left = u[k][v - 1] < h
            s["risk"].append((v, last * res["pain_nrs"], h, left))
            if left:
                s["dropout_before"] = v
            elif v == MISSED_VISIT:
                s["stays_through"] = v
            else:
                s["seen"][v] = True
                s["last_visit"] = v
        if v == MISSED_VISIT:
            # 8. a missed visit: among those still in at this visit who would also stay for the next one
            #    with their last recorded pain being the previous visit's (so the gap does not depend on
            #    the value not recorded), n_missed_visits chosen at random miss it; the rest are seen.
            stayers = [k for k in on_study if subjects[k].get("stays_through") == v]
            eligible = [k for k in stayers
                        if u[k][v] >= hazard(subjects[k], subjects[k]["units"][(v - 1, "pain_nrs")])]
            n_miss = int(par.get("n_missed_visits"))
            order = rng.permutation(len(eligible)).tolist()
            missed = {eligible[i] for i in order[:n_miss]}
            for k in stayers:
                if k in missed:
                    subjects[k]["missed"] = v
                else:
                    subjects[k]["seen"][v] = True
                    subjects[k]["last_visit"] = v
    return {"subjects": subjects, "resolution": res, "components": comp, "fractions": frac}


# ----------------------------------------------------------------------------------------------
def render_csv(sim: dict) -> str:
    res = sim["resolution"]
    lines = [",".join(HEADER)]
    for s in sim["subjects"]:
        bmi = fmt_units(s["bmi_tenths"], 0.1)
        for v, (visit, week) in enumerate(VISITS):
            for o in OUTCOMES:
                value = fmt_units(s["units"][(v, o)], res[o]) if s["seen"][v] else ""
                lines.append(",".join([STUDY, s["subject_id"], s["arm"], visit, str(week), o, value,
                                       str(s["age"]), s["sex"], bmi]))
    return "\n".join(lines) + "\n"


def _pattern_counts(sim: dict) -> dict:
    """Per arm: participants seen at each visit, and dropouts by the first visit they missed."""
    out = {}
    for arm in ARMS:
        in_arm = [s for s in sim["subjects"] if s["arm"] == arm]
        out[arm] = {
            "seen": {visit: sum(s["seen"][v] for s in in_arm) for v, (visit, _) in enumerate(VISITS)},
            "dropped_before": {visit: sum(s.get("dropout_before") == v for s in in_arm)
                               for v, (visit, _) in enumerate(VISITS) if v > 0},
        }
    return out


def render_json(par: Params, sim: dict, csv_text: str) -> str:
    outcomes = []
    for o in OUTCOMES:
        lo = par.get("scale_min", outcome=o) if par.has("scale_min", outcome=o) else None
        hi = par.get("scale_max", outcome=o) if par.has("scale_max", outcome=o) else None
        outcomes.append({"id": o, **OUTCOME_TEXT[o], "low": lo, "high": hi,
                         "decimals": decimals(sim["resolution"][o])})
    subj = sim["subjects"]
    counts = _pattern_counts(sim)
    missed = sorted(s["subject_id"] for s in subj if "missed" in s)
    meta = {
        "id": STUDY,
        "title": "A planned replication of the retro-walking trial, weeks 0, 2, 4, 6 (synthetic)",
        "description": ("Simulated three-arm replication (retro walking, forward walking, usual-care control; "
                        "50 per arm) of the retro-walking trial of Alghadir et al. 2019, with pain NRS, WOMAC, "
                        "quadriceps strength and timed up-and-go at weeks 0, 2, 4 and 6. The published six-week "
                        "changes are the true mean changes. Participants drop out with a chance that rises with "
                        "their last recorded pain (missing at random), more often under usual care, so analyses "
                        "under MAR, of completers only, or by reference-based imputation differ. Values after "
                        "dropout, and one missed week-4 visit, are present as empty cells."),
        "synthetic": True,
        "synthetic_statement": ("These data are simulated: no person is in them. They are a made-up replication "
                                "of the retro-walking trial, planned on the published results of Alghadir et al. "
                                "2019, and are not participant data of that trial or of any other."),
        "calibrated_to": [
            "true mean six-week pain change retro -1.8, control -1.0 (published, abstract)",
            "true mean six-week WOMAC change retro -4.8, control -2.2 (published, abstract)",
            "SD of change from the published p-values (pain p = 0.01, WOMAC p = 0.008)",
            "mean age 55.6 years, 38 of 68 female (published, abstract)",
            "dropout more frequent under usual care, as the published completion (91 / 87 / 82 %)",
        ],
        "citation": ("Alghadir AH, Anwer S, Sarkar B, Paul AK, Anwar D. Effect of 6-week retro or forward walking "
                     "program on pain, functional disability, quadriceps muscle strength, and performance in "
                     "individuals with knee osteoarthritis: a randomized controlled trial (retro-walking trial). "
                     "BMC Musculoskelet Disord. 2019;20:159. doi:10.1186/s12891-019-2537-9"),
        "doi": "10.1186/s12891-019-2537-9",
        "licence": "CC0-1.0",
        "generator": f"data/{STUDY}/generate.py",
        "parameters": f"data/{STUDY}/parameters.csv",
        "provenance": f"data/{STUDY}/PROVENANCE.md",
        "seed": int(par.get("seed")),
        "date": DATA_DATE,
        "file": f"{STUDY}.csv",
        "sha256": hashlib.sha256(csv_text.encode()).hexdigest(),
        "layout": "long",
        "columns": list(HEADER),
        "subjects": len(subj),
        "subjects_per_arm": {a: sum(s["arm"] == a for s in subj) for a in ARMS},
        "completers_per_arm": {a: counts[a]["seen"]["week6"] for a in ARMS},
        "seen_per_arm_and_visit": {a: counts[a]["seen"] for a in ARMS},
        "dropouts_per_arm_by_first_missed_visit": {a: counts[a]["dropped_before"] for a in ARMS},
        "missed_visits": [{"subject_id": sid, "visit": VISITS[MISSED_VISIT][0]} for sid in missed],
        "n_female": sum(s["sex"] == "female" for s in subj),
        "subject_id_scheme": "arm letter (R retro, F forward, C control) + two-digit number, e.g. R01..R50",
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
        "missing": ("monotone dropout: from the first visit a participant misses, every later row is present with "
                    "an empty value (all four outcomes); the chance of leaving before a visit depends on the arm and "
                    "the last recorded pain (missing at random). One participant misses week 4 only and returns "
                    "at week 6 (an intermittent gap, missing at random)."),
    }
    return json.dumps(meta, indent=2, ensure_ascii=False) + "\n"


def render_all(param_path: Path = HERE / "parameters.csv", provenance_text: str | None = None) -> dict[str, str]:
    """Every output file's text, keyed by path relative to the repository root."""
    par = Params.read(param_path)
    sim = simulate(par)
    csv_text = render_csv(sim)
    rows = achieved_rows(par, sim, ARMS, OUTCOMES, VISITS)
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
