"""Helpers of generate.py: the achieved sample values next to their targets (achieved.csv)."""
from __future__ import annotations

import math

from _calibrate import Params, mean, sd, t_two_sided_p

COLUMNS = ("quantity", "arm", "outcome", "target", "achieved", "target_source")


def target_kind(par: Params, name: str, **where) -> str:
    return par.source(name, **where).split(":", 1)[0]


def fmt_num(v: float) -> str:
    if isinstance(v, int):
        return str(v)
    return "" if v is None or math.isnan(v) else f"{v:.4f}"


def _pooled_t(a: list[float], b: list[float]) -> tuple[float, int]:
    df = len(a) + len(b) - 2
    sp = math.sqrt(((len(a) - 1) * sd(a) ** 2 + (len(b) - 1) * sd(b) ** 2) / df)
    return (mean(a) - mean(b)) / (sp * math.sqrt(1 / len(a) + 1 / len(b))), df


def corr(a: list[float], b: list[float]) -> float:
    ma, mb = mean(a), mean(b)
    num = math.fsum((x - ma) * (y - mb) for x, y in zip(a, b))
    return num / math.sqrt(math.fsum((x - ma) ** 2 for x in a) * math.fsum((y - mb) ** 2 for y in b))


def achieved_rows(par: Params, sim: dict, arms, outcomes) -> list[dict]:
    """Targets (from parameters.csv) and the values the realised sample has."""
    subj, res, calib = sim["subjects"], sim["resolution"], sim["calibration"]
    rows: list[dict] = []

    def add(quantity, target, achieved, source, arm="", outcome=""):
        rows.append({"quantity": quantity, "arm": arm, "outcome": outcome, "target": fmt_num(target),
                     "achieved": fmt_num(achieved), "target_source": source})

    add("n_randomized", int(sum(par.get("n_randomized", arm=a) for a in arms)), len(subj), "published")
    for a in arms:
        in_arm = [s for s in subj if s["arm"] == a]
        n_comp = sum(s["completer"] for s in in_arm)
        add("n_randomized", int(par.get("n_randomized", arm=a)), len(in_arm),
            target_kind(par, "n_randomized", arm=a), arm=a)
        add("n_completers", int(par.get("n_completers", arm=a)), n_comp, target_kind(par, "n_completers", arm=a), arm=a)
        add("completion_pct", 100 * par.get("n_completers", arm=a) / par.get("n_randomized", arm=a),
            100 * n_comp / len(in_arm), target_kind(par, "n_completers", arm=a), arm=a)
    add("age_mean", par.get("age_mean"), mean([s["age"] for s in subj]), target_kind(par, "age_mean"))
    add("age_sd", par.get("age_sd"), sd([s["age"] for s in subj]), target_kind(par, "age_sd"))
    add("n_female", int(sum(par.get("n_female", arm=a) for a in arms)), sum(s["sex"] == "female" for s in subj),
        "published")
    add("bmi_mean", par.get("bmi_mean"), mean([s["bmi_tenths"] / 10 for s in subj]), target_kind(par, "bmi_mean"))

    for o in outcomes:
        base = [s[("base", o)] * res[o] for s in subj]
        add("baseline_mean", par.get("baseline_mean", outcome=o), mean(base),
            target_kind(par, "baseline_mean", outcome=o), outcome=o)
        add("baseline_sd", par.get("baseline_sd", outcome=o), sd(base), target_kind(par, "baseline_sd", outcome=o),
            outcome=o)
        chg = {}
        for a in arms:
            comp = [s for s in subj if s["arm"] == a and s["completer"]]
            chg[a] = [(s[("week6", o)] - s[("base", o)]) * res[o] for s in comp]
            add("change_mean_completers", par.get("change_mean", arm=a, outcome=o), mean(chg[a]),
                target_kind(par, "change_mean", arm=a, outcome=o), arm=a, outcome=o)
        for a in arms:
            source = "calibrated to p" if par.has("change_p_value", outcome=o) else target_kind(par, "change_sd", outcome=o)
            add("change_sd_completers", calib[o]["scale"], sd(chg[a]), source, arm=a, outcome=o)
        t, df = _pooled_t(chg["retro"], chg["control"])
        target = par.get("change_p_value", outcome=o) if par.has("change_p_value", outcome=o) else float("nan")
        add("p_retro_vs_control_change", target, t_two_sided_p(t, df),
            target_kind(par, "change_p_value", outcome=o) if par.has("change_p_value", outcome=o) else "not published",
            arm="retro-control", outcome=o)
        pairs = [(s[("base", o)] * res[o], s[("week6", o)] * res[o]) for s in subj if s["completer"]]
        add("corr_baseline_week6", float("nan"), corr([p[0] for p in pairs], [p[1] for p in pairs]),
            "implied by assumptions", outcome=o)
    drop = [s[("base", "pain_nrs")] * res["pain_nrs"] for s in subj if not s["completer"]]
    kept = [s[("base", "pain_nrs")] * res["pain_nrs"] for s in subj if s["completer"]]
    add("baseline_pain_dropouts", float("nan"), mean(drop), "implied by MAR assumption", outcome="pain_nrs")
    add("baseline_pain_completers", float("nan"), mean(kept), "implied by MAR assumption", outcome="pain_nrs")
    return rows


def render_achieved_csv(rows: list[dict]) -> str:
    lines = [",".join(COLUMNS)]
    lines += [",".join(r[c] for c in COLUMNS) for r in rows]
    return "\n".join(lines) + "\n"


def render_achieved_md(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(r[c] for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"
