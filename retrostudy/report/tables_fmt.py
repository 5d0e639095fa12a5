"""Report tables as strings: the float64 tables of retrostudy turned into {header, rows, note} dicts.

One sign convention for display: every difference and Hedges' g is *oriented* so that a positive
value favours the first-named arm (for outcomes where lower is better -- pain, WOMAC, TUG -- that is
the second arm's value minus the first's). The tidy tables keep ``estimate`` = first minus second.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..schema import Outcome
from ..tables import TableOne
from . import fmt
from .labels import visit_label
from .multiplicity import CiKind

__all__ = [
    "coef_dict",
    "completers_dict",
    "contrast_dict",
    "emm_dict",
    "kv_dict",
    "orient",
    "pair_label",
    "responder_dicts",
    "table_one_dict",
    "visits_dict",
]


def _short(arm: str) -> str:
    return arm[:1].upper()


def pair_label(contrast: str) -> str:
    """``"retro - control"`` -> ``"retro vs control"``."""
    a, b = [s.strip() for s in str(contrast).split(" - ", 1)]
    return f"{a} vs {b}"


def orient(info: Outcome, estimate, low, high) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference(s) and CI oriented so that positive favours the first-named arm."""
    est, lo, hi = (np.asarray(x, float) for x in (estimate, low, high))
    if info.lower_is_better:
        return -est, -hi, -lo
    return est, lo, hi


def direction_note(info: Outcome) -> str:
    if info.lower_is_better:
        return (f"Difference: how much better the first-named arm did, in {info.unit or 'units'}; lower "
                f"{info.label} is better, so this is the second arm's mean minus the first's (positive favours "
                "the first arm).")
    return (f"Difference: how much better the first-named arm did, in {info.unit or 'units'}; higher {info.label} "
            "is better, so this is the first arm's mean minus the second's (positive favours the first arm).")


def table_one_dict(t1: TableOne) -> dict:
    """Table 1 with n, mean (SD) / median [Q1, Q3] / n (%), missing counts, a total column and pairwise SMDs."""
    arms = list(t1.arms)
    tab = t1.table
    cols = arms + (["Total"] if (tab["arm"] == "Total").any() else [])
    n_by_arm = tab.loc[tab["variable"] == "n"].set_index("arm")["n"]
    pairs = list(dict.fromkeys(zip(t1.smd["first"], t1.smd["second"])))
    header = ["Characteristic"] + [f"{a} (n = {int(n_by_arm.get(a, 0))})" for a in cols]
    header += [f"SMD {_short(a)}\u2013{_short(b)}" for a, b in pairs]
    smd = t1.smd.set_index(["variable", "first", "second"])["smd"]
    rows: list = []
    any_median = False
    outcome_rows = False
    for var in [v for v in dict.fromkeys(tab["variable"]) if v != "n"]:
        block = tab.loc[tab["variable"] == var]
        if str(var).startswith("baseline:") and not outcome_rows:
            rows.append({"section": "Outcomes at baseline"})
            outcome_rows = True
        label = str(block["label"].iloc[0])
        smd_cells = [fmt.num(smd.get((var, a, b), np.nan)) for a, b in pairs]
        stat = block["statistic"].iloc[0]
        if stat == "n_pct":
            rows.append([f"{label}, n (%)"] + [""] * len(cols) + smd_cells)
            for lv in dict.fromkeys(block["level"]):
                lvb = block.loc[block["level"] == lv].set_index("arm")
                rows.append([f"\u2003{lv}"] + [fmt.n_pct(lvb.loc[a, "count"], lvb.loc[a, "percent"]) for a in cols]
                            + [""] * len(pairs))
        else:
            b = block.set_index("arm")
            if stat == "median_iqr":
                any_median = True
                cells = [fmt.median_iqr(b.loc[a, "median"], b.loc[a, "q1"], b.loc[a, "q3"]) for a in cols]
                lab = f"{label}, median [Q1, Q3]"
            else:
                cells = [fmt.mean_sd(b.loc[a, "mean"], b.loc[a, "sd"]) for a in cols]
                lab = f"{label}, mean (SD)"
            rows.append([lab] + cells + smd_cells)
        miss = block.groupby("arm", sort=False)["missing"].max()
        if miss.sum() > 0:
            rows.append(["\u2003missing, n"] + [str(int(miss.get(a, 0))) for a in cols] + [""] * len(pairs))
    pair_text = "; ".join(f"{_short(a)}\u2013{_short(b)}: {a} vs {b}" for a, b in pairs)
    note = ("SMD: absolute standardized mean difference (continuous: difference in means over the square root of "
            "the mean of the two arm variances; categorical: Yang & Dalton multivariate form). Values below 0.1 "
            "are conventionally read as balance; with small arms chance imbalance of 0.2-0.3 is common. "
            f"Baseline p-values are deliberately not shown (randomized arms). {pair_text}.")
    if any_median:
        note += f" Median [Q1, Q3] is used where the pooled skewness exceeds {t1.settings.get('skew_limit', 1):g}."
    n_cols = len(header)
    widths = [2.9] + [1.2] * len(cols) + [0.55] * len(pairs)
    return {"header": header, "rows": rows, "align": "l" + "r" * (n_cols - 1), "note": note, "widths": widths}


def emm_dict(emm: pd.DataFrame, n_by_arm: Mapping[str, int], info: Outcome, conf_level: float,
             visit: str) -> dict:
    """Estimated marginal means by arm at one visit (no test of a mean against 0: it means nothing here)."""
    pct = f"{conf_level:.0%}"
    rows = [[str(r.arm), str(n_by_arm.get(str(r.arm), "")), fmt.num(r.estimate), fmt.num(r.std_error),
             fmt.ci(r.conf_low, r.conf_high)] for r in emm.itertuples(index=False)]
    unit = f" ({info.unit})" if info.unit else ""
    return {"header": ["Arm", f"n with a value at {visit}", f"EMM{unit}", "SE", f"{pct} CI"], "rows": rows,
            "align": "lrrrr", "widths": [1.3, 1.6, 1.1, 0.8, 1.6]}


def contrast_dict(con: pd.DataFrame, eff: pd.DataFrame | None, info: Outcome, kind: CiKind, conf_level: float,
                  *, note: str = "", adjusted: bool = True) -> dict:
    """Pairwise contrasts with their p-values and Hedges' g, oriented (positive favours the first arm)."""
    pct = f"{conf_level:.0%}"
    g = eff.set_index("contrast") if eff is not None and len(eff) else None
    d, lo, hi = orient(info, con["estimate"], con["conf_low"], con["conf_high"])
    rows = []
    for i, r in enumerate(con.itertuples(index=False)):
        gcells = [fmt.MISSING, fmt.MISSING]
        if g is not None and r.contrast in g.index:
            e = g.loc[r.contrast]
            ge, gl, gh = orient(info, e["estimate"], e["conf_low"], e["conf_high"])
            gcells = [fmt.num(ge), fmt.ci(gl, gh)]
        p_adj = fmt.pval(r.p_adjusted) if getattr(r, "tested", True) else fmt.pval(r.p_adjusted) + "\u2020"
        cells = [pair_label(r.contrast), fmt.num(d[i]), fmt.ci(lo[i], hi[i]), fmt.num(r.std_error), fmt.num(r.df, 1),
                 fmt.pval(r.p_value)]
        if adjusted:
            cells.append(p_adj)
        rows.append(cells + gcells)
    ci_head = kind.ci_label if adjusted else f"{pct} CI"
    header = ["Comparison", "Difference", ci_head, "SE", "df", "p"] + (["p adj."] if adjusted else []) \
        + ["Hedges' g", f"{pct} CI of g"]
    widths = [1.55, 0.85, 1.45, 0.55, 0.6, 0.6] + ([0.65] if adjusted else []) + [0.8, 1.3]
    text = direction_note(info) + " "
    if adjusted:
        text += f"p: unadjusted; p adj.: {kind.note[0].lower() + kind.note[1:]}. "
        if not con.get("tested", pd.Series([True])).all():
            text += "\u2020 Not reached by the fixed sequence (an earlier test was not significant). "
    else:
        text += "p-values and CIs are unadjusted. "
    text += (f"Hedges' g: the difference over the pooled baseline SD, small-sample corrected, with an unadjusted "
             f"{pct} CI.")
    return {"header": header, "rows": rows, "align": "l" + "r" * (len(header) - 1),
            "note": (text + " " + note).strip(), "widths": widths}


def visits_dict(con: pd.DataFrame, info: Outcome, conf_level: float, weeks: Mapping[str, float]) -> dict:
    """Contrasts at every earlier visit (supportive, unadjusted), oriented."""
    pct = f"{conf_level:.0%}"
    d, lo, hi = orient(info, con["estimate"], con["conf_low_unadj"], con["conf_high_unadj"])
    rows = []
    last = None
    for i, r in enumerate(con.itertuples(index=False)):
        v = str(r.visit)
        rows.append([visit_label(v, weeks.get(v), capital=True) if v != last else "", pair_label(r.contrast),
                     fmt.num(d[i]), fmt.ci(lo[i], hi[i]), fmt.num(r.df, 1), fmt.pval(r.p_value)])
        last = v
    return {"header": ["Visit", "Comparison", "Difference", f"{pct} CI", "df", "p"], "rows": rows,
            "align": "llrrrr", "widths": [0.9, 1.6, 0.9, 1.5, 0.6, 0.7],
            "note": "Supportive: unadjusted p-values and CIs from the same MMRM (one model for all visits). "
                    + direction_note(info)}


def completers_dict(all_con: pd.DataFrame, cc_con: pd.DataFrame, info: Outcome, n_all: int, n_cc: int,
                    conf_level: float, what: str) -> dict:
    """The primary model's contrasts on all participants and on the completers only (unadjusted CIs), oriented."""
    pct = f"{conf_level:.0%}"
    cc = cc_con.set_index("contrast")
    rows = []
    for r in all_con.itertuples(index=False):
        a_d, a_lo, a_hi = orient(info, r.estimate, r.conf_low_unadj, r.conf_high_unadj)
        cells = [pair_label(r.contrast), fmt.num(a_d), fmt.ci(a_lo, a_hi)]
        if r.contrast in cc.index:
            c = cc.loc[r.contrast]
            c_d, c_lo, c_hi = orient(info, c["estimate"], c["conf_low_unadj"], c["conf_high_unadj"])
            cells += [fmt.num(c_d), fmt.ci(c_lo, c_hi)]
        else:
            cells += [fmt.MISSING, fmt.MISSING]
        rows.append(cells)
    return {"header": ["Comparison", f"All (n = {n_all})", f"{pct} CI", f"Completers (n = {n_cc})", f"{pct} CI"],
            "rows": rows, "align": "lrrrr", "widths": [1.6, 1.1, 1.5, 1.3, 1.5],
            "note": f"All: every participant the primary model used. Completers: participants with {what}, refitted "
                    "with the primary model. Differences oriented as above (positive favours the first arm); "
                    "unadjusted CIs. A large shift suggests that dropout is related to the outcome."}


def responder_dicts(res, conf_level: float) -> tuple[dict, dict]:
    """Responder rates by arm and the comparisons (RD, RR, baseline-adjusted OR, NNT) of each pair."""
    pct = f"{conf_level:.0%}"
    rates = res.rates
    r_rows = [[str(r.arm), f"{int(r.responders)} / {int(r.n)}", f"{100 * r.rate:.0f}%" if r.n else fmt.MISSING,
               fmt.ci(100 * r.conf_low, 100 * r.conf_high, 0) + "%" if r.n else fmt.MISSING,
               str(int(r.n_missing))] for r in rates.itertuples(index=False)]
    rate_tab = {"header": ["Arm", "Responders", "Rate", f"{pct} CI (Wilson)", "No change value"], "rows": r_rows,
                "align": "lrrrr", "widths": [1.3, 1.2, 0.8, 1.6, 1.4]}
    tab = res.table
    nnt = res.nnt_text()
    rows = []
    for contrast in dict.fromkeys(tab["contrast"]):
        sub = tab.loc[tab["contrast"] == contrast].set_index("measure")

        def cell(measure: str, scale: float = 1.0, digits: int = 2, sub: pd.DataFrame = sub) -> str:
            if measure not in sub.index:
                return fmt.MISSING
            r = sub.loc[measure]
            return f"{fmt.num(scale * r['estimate'], digits)} ({fmt.ci(scale * r['conf_low'], scale * r['conf_high'], digits)})"

        p = fmt.pval(sub.loc["risk_difference", "p_value"]) if "risk_difference" in sub.index else fmt.MISSING
        rows.append([str(contrast), cell("risk_difference", 100.0, 0), p, cell("risk_ratio"), cell("odds_ratio"),
                     fmt.signed(nnt.get(contrast, fmt.MISSING)).replace("\u221e", "\u221e")])
    ci_name = {"miettinen-nurminen": "Miettinen-Nurminen", "newcombe": "Newcombe"}.get(
        str(res.settings.get("ci_method")), str(res.settings.get("ci_method")))
    comp = {"header": ["Comparison", "RD, % points (CI)", "p", "RR (CI)", "OR adj. (CI)", "NNT (CI)"],
            "rows": rows, "align": "lrrrrr", "widths": [1.25, 1.3, 0.48, 1.3, 1.5, 2.6],
            "note": f"RD: difference in responder rates, first minus second arm, with the {ci_name} {pct} CI and the "
                    "score test; RR: ratio of rates (Miettinen-Nurminen CI); OR adj.: odds ratio adjusted for the "
                    "baseline value (logistic regression, Wald CI); NNT: number needed to treat (NNTB: benefit, "
                    "NNTH: harm; Altman 1998). Supportive analysis: not adjusted for multiplicity."}
    return rate_tab, comp


def coef_dict(fit, title: str) -> dict:
    tab = fit.to_frame()
    rows = [[str(r.term), fmt.num(r.estimate, 3), fmt.num(r.std_error, 3), fmt.num(r.df, 1),
             fmt.num(r.statistic, 2), fmt.pval(r.p_value), fmt.ci(r.conf_low, r.conf_high, 3)]
            for r in tab.itertuples(index=False)]
    pct = f"{getattr(fit, 'conf_level', 0.95):.0%}"
    return {"title": title, "header": ["Term", "Estimate", "SE", "df", "t", "p", f"{pct} CI"], "rows": rows,
            "align": "lrrrrrr", "widths": [2.6, 0.9, 0.8, 0.7, 0.7, 0.7, 1.6]}


def kv_dict(pairs: Sequence[tuple[object, object]], header: Sequence[str] = ("Item", "Value"),
            widths: Sequence[float] = (1.0, 3.0)) -> dict:
    return {"header": list(header), "rows": [[str(k), str(v)] for k, v in pairs], "align": "ll",
            "widths": list(widths)}
