"""Helper of generate.py: the achieved sample values next to their targets (achieved.csv).

"all randomized" quantities use every participant's full simulated course, including the values that
dropout leaves unrecorded (only the generator knows them); "completers" and "recorded" use what the CSV
holds. Pure Python floats with ``math.fsum``, so every platform computes the same bits.
"""
from __future__ import annotations

import math

from _achieved import corr, fmt_num, target_kind  # the alghadir2019_sim generator's (one copy)
from _calibrate import Params, mean, sd


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting for a small dense system."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: (abs(m[r][c]), -r))
        m[c], m[p] = m[p], m[c]
        for r in range(c + 1, n):
            f = m[r][c] / m[c][c]
            m[r] = [x - f * y for x, y in zip(m[r], m[c])]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - math.fsum(m[r][k] * x[k] for k in range(r + 1, n))) / m[r][r]
    return x


def logistic_fit(xs: list[list[float]], ys: list[int], iterations: int = 50) -> tuple[list[float], list[float]]:
    """Maximum-likelihood logistic regression by Newton's method: coefficients and their standard errors."""
    p = len(xs[0])
    beta = [0.0] * p
    for _ in range(iterations):
        eta = [math.fsum(b * x for b, x in zip(beta, row)) for row in xs]
        mu = [1.0 / (1.0 + math.exp(-e)) for e in eta]
        grad = [math.fsum((y - m) * row[j] for row, y, m in zip(xs, ys, mu)) for j in range(p)]
        info = [[math.fsum(m * (1 - m) * row[i] * row[j] for row, m in zip(xs, mu)) for j in range(p)]
                for i in range(p)]
        step = _solve(info, grad)
        beta = [b + s for b, s in zip(beta, step)]
        if max(abs(s) for s in step) < 1e-12:
            break
    cov_cols = [_solve(info, [1.0 if i == j else 0.0 for i in range(p)]) for j in range(p)]
    return beta, [math.sqrt(cov_cols[j][j]) for j in range(p)]


def achieved_rows(par: Params, sim: dict, arms, outcomes, visits) -> list[dict]:
    """Targets (from parameters.csv) and the values the realised sample has."""
    subj, res = sim["subjects"], sim["resolution"]
    last = len(visits) - 1
    rows: list[dict] = []

    def add(quantity, target, achieved, source, arm="", outcome=""):
        rows.append({"quantity": quantity, "arm": arm, "outcome": outcome, "target": fmt_num(target),
                     "achieved": fmt_num(achieved), "target_source": source})

    add("n_randomized", int(sum(par.get("n_randomized", arm=a) for a in arms)), len(subj), "assumption")
    for a in arms:
        add("n_randomized", int(par.get("n_randomized", arm=a)), sum(s["arm"] == a for s in subj),
            target_kind(par, "n_randomized", arm=a), arm=a)
    add("female_share", par.get("female_share"), mean([float(s["sex"] == "female") for s in subj]),
        target_kind(par, "female_share"))
    add("age_mean", par.get("age_mean"), mean([s["age"] for s in subj]), target_kind(par, "age_mean"))
    add("age_sd", par.get("age_sd"), sd([s["age"] for s in subj]), target_kind(par, "age_sd"))
    add("bmi_mean", par.get("bmi_mean"), mean([s["bmi_tenths"] / 10 for s in subj]), target_kind(par, "bmi_mean"))

    # missingness: who is recorded at each visit, by arm
    for a in arms:
        in_arm = [s for s in subj if s["arm"] == a]
        for v, (visit, _) in enumerate(visits):
            if v == 0:
                continue
            add(f"recorded_pct_{visit}", float("nan"), 100 * sum(s["seen"][v] for s in in_arm) / len(in_arm),
                "implied by the dropout model", arm=a)
        add("dropout_pct_by_final_visit", float("nan"),
            100 * sum("dropout_before" in s for s in in_arm) / len(in_arm), "implied by the dropout model", arm=a)
    add("n_missed_visits", int(par.get("n_missed_visits")), sum("missed" in s for s in subj),
        target_kind(par, "n_missed_visits"))

    # the dropout model refitted on the person-periods at risk: logit P(leave) = a[arm] + b (last pain - ref)
    ref = par.get("dropout_pain_ref")
    xs, ys = [], []
    for s in subj:
        for _v, pain, _h, left in s["risk"]:
            xs.append([1.0 if s["arm"] == a else 0.0 for a in arms] + [pain - ref])
            ys.append(int(left))
    coef, se = logistic_fit(xs, ys)
    add("n_periods_at_risk", float("nan"), len(ys), "implied by the dropout model")
    add("n_dropouts", float("nan"), sum(ys), "implied by the dropout model")
    add("dropout_logodds_pain", par.get("dropout_logodds_pain", outcome="pain_nrs"), coef[-1],
        target_kind(par, "dropout_logodds_pain", outcome="pain_nrs"), outcome="pain_nrs")
    add("dropout_logodds_pain_se", float("nan"), se[-1], "sampling error of the refit", outcome="pain_nrs")
    for i, a in enumerate(arms):
        add("dropout_hazard_ref", par.get("dropout_hazard_ref", arm=a), 1 / (1 + math.exp(-coef[i])),
            target_kind(par, "dropout_hazard_ref", arm=a), arm=a)
    leave = [pain for s in subj for _v, pain, _h, left in s["risk"] if left]
    stay = [pain for s in subj for _v, pain, _h, left in s["risk"] if not left]
    add("last_pain_before_leaving", float("nan"), mean(leave), "implied by MAR assumption", outcome="pain_nrs")
    add("last_pain_before_staying", float("nan"), mean(stay), "implied by MAR assumption", outcome="pain_nrs")

    for o in outcomes:
        r = res[o]
        base = [s["units"][(0, o)] * r for s in subj]
        add("baseline_mean", par.get("baseline_mean", outcome=o), mean(base),
            target_kind(par, "baseline_mean", outcome=o), outcome=o)
        add("baseline_sd", par.get("baseline_sd", outcome=o), sd(base), target_kind(par, "baseline_sd", outcome=o),
            outcome=o)
        resid = []
        for a in arms:
            in_arm = [s for s in subj if s["arm"] == a]
            chg = [(s["units"][(last, o)] - s["units"][(0, o)]) * r for s in in_arm]
            m = mean(chg)
            resid += [c - m for c in chg]
            add("change_mean_all_randomized", par.get("change_mean", arm=a, outcome=o), m,
                target_kind(par, "change_mean", arm=a, outcome=o), arm=a, outcome=o)
            comp = [(s["units"][(last, o)] - s["units"][(0, o)]) * r for s in in_arm if s["seen"][last]]
            add("change_mean_completers", float("nan"), mean(comp), "selected by dropout", arm=a, outcome=o)
        n_groups = len(arms)
        pooled = math.sqrt(math.fsum(x * x for x in resid) / (len(resid) - n_groups))
        add("change_sd_all_randomized", par.get("change_sd", outcome=o), pooled, target_kind(par, "change_sd", outcome=o),
            outcome=o)
        for v1, v2 in ((0, last), (last - 1, last)):
            add(f"corr_{visits[v1][0]}_{visits[v2][0]}", float("nan"),
                corr([s["units"][(v1, o)] for s in subj], [s["units"][(v2, o)] for s in subj]),
                "implied by assumptions (all randomized)", outcome=o)
    return rows
