"""Report tables as strings: the float64 tables of retrostudy turned into {header, rows, note} dicts."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..schema import Outcome
from ..options import ADJUST_CI, ADJUST_NAMES
from ..tables import TableOne
from . import fmt

__all__ = ["table_one_dict", "emm_dict", "contrast_dict", "complete_case_dict", "coef_dict", "kv_dict"]

def _short(arm: str) -> str:
    return arm[:1].upper()


def table_one_dict(t1: TableOne) -> dict:
    """Table 1 with n, mean (SD) / median [Q1, Q3] / n (%), missing counts and pairwise SMDs."""
    arms = list(t1.arms)
    tab = t1.table
    n_by_arm = tab.loc[tab["variable"] == "n"].set_index("arm")["n"]
    pairs = list(dict.fromkeys(zip(t1.smd["first"], t1.smd["second"])))
    header = ["Characteristic"] + [f"{a} (n = {int(n_by_arm.get(a, 0))})" for a in arms]
    header += [f"SMD {_short(a)}-{_short(b)}" for a, b in pairs]
    smd = t1.smd.set_index(["variable", "first", "second"])["smd"]
    rows: list = []
    any_median = False
    for var in [v for v in dict.fromkeys(tab["variable"]) if v != "n"]:
        block = tab.loc[tab["variable"] == var]
        label = str(block["label"].iloc[0])
        smd_cells = [fmt.num(smd.get((var, a, b), np.nan)) for a, b in pairs]
        stat = block["statistic"].iloc[0]
        if stat == "n_pct":
            rows.append([f"{label}, n (%)"] + [""] * len(arms) + smd_cells)
            for lv in dict.fromkeys(block["level"]):
                lvb = block.loc[block["level"] == lv].set_index("arm")
                rows.append([f"    {lv}"] + [fmt.n_pct(lvb.loc[a, "count"], lvb.loc[a, "percent"]) for a in arms]
                            + [""] * len(pairs))
        else:
            b = block.set_index("arm")
            if stat == "median_iqr":
                any_median = True
                cells = [fmt.median_iqr(b.loc[a, "median"], b.loc[a, "q1"], b.loc[a, "q3"]) for a in arms]
                lab = f"{label}, median [Q1, Q3]"
            else:
                cells = [fmt.mean_sd(b.loc[a, "mean"], b.loc[a, "sd"]) for a in arms]
                lab = f"{label}, mean (SD)"
            rows.append([lab] + cells + smd_cells)
        miss = block.groupby("arm", sort=False)["missing"].max()
        if miss.sum() > 0:
            rows.append(["    missing, n"] + [str(int(miss.get(a, 0))) for a in arms] + [""] * len(pairs))
    pair_text = "; ".join(f"{_short(a)}-{_short(b)}: {a} vs {b}" for a, b in pairs)
    note = ("SMD: absolute standardized mean difference (continuous: difference in means over the square root of "
            "the mean of the two arm variances; categorical: Yang & Dalton multivariate form). Values below 0.1 "
            "are conventionally read as balance; with small arms chance imbalance of 0.2-0.3 is common. "
            f"Baseline p-values are deliberately not shown (randomized arms). {pair_text}.")
    if any_median:
        note += f" Median [Q1, Q3] is used where the pooled skewness exceeds {t1.settings.get('skew_limit', 1):g}."
    return {"header": header, "rows": rows, "align": "l" + "r" * (len(header) - 1), "note": note}


def emm_dict(emm: pd.DataFrame, n_by_arm: Mapping[str, int], info: Outcome, conf_level: float) -> dict:
    pct = f"{conf_level:.0%}"
    rows = [[str(r.arm), str(n_by_arm.get(str(r.arm), "")), fmt.num(r.estimate), fmt.num(r.std_error),
             fmt.ci(r.conf_low, r.conf_high), fmt.num(r.df, 1)] for r in emm.itertuples(index=False)]
    unit = f" ({info.unit})" if info.unit else ""
    return {"header": ["Arm", "n (final visit)", f"EMM{unit}", "SE", f"{pct} CI", "df"], "rows": rows,
            "align": "lrrrrr"}


def contrast_dict(con: pd.DataFrame, eff: pd.DataFrame | None, info: Outcome, conf_level: float,
                  adjust: str, note: str = "") -> dict:
    pct = f"{conf_level:.0%}"
    g = eff.set_index("contrast") if eff is not None and len(eff) else None
    rows = []
    for r in con.itertuples(index=False):
        gcells = ["\u2013", "\u2013"]
        if g is not None and r.contrast in g.index:
            e = g.loc[r.contrast]
            gcells = [fmt.num(e["estimate"]), fmt.ci(e["conf_low"], e["conf_high"])]
        rows.append([str(r.contrast), fmt.num(r.estimate), fmt.ci(r.conf_low, r.conf_high), fmt.num(r.std_error),
                     fmt.num(r.df, 1), fmt.pval(r.p_value), fmt.pval(r.p_adjusted)] + gcells)
    unit = f" ({info.unit})" if info.unit else ""
    adj = ADJUST_NAMES.get(adjust, adjust)
    ci_adj = ADJUST_CI.get(adjust)
    header = ["Contrast", f"Difference\n{unit.strip()}", f"{pct} CI" + (f"\n({ci_adj})" if ci_adj else ""), "SE",
              "df", "p", f"p\n({adj})", "Hedges'\ng", f"g\n{pct} CI"]
    better = "lower" if info.lower_is_better else "higher"
    text = (f"Difference = first arm minus second arm; {better} values are better for this outcome. "
            f"p ({adj}) is adjusted over the {len(rows)} comparisons ({adj} method)"
            + (f"; the CI of the difference is {ci_adj}-adjusted to match" if ci_adj else "")
            + f". Hedges' g (difference over the pooled baseline SD, small-sample corrected) has an unadjusted "
            f"{pct} CI. ")
    return {"header": header, "rows": rows, "align": "lrrrrrrrr", "note": (text + note).strip(),
            "widths": [1.5, 0.95, 1.45, 0.65, 0.65, 0.7, 0.75, 0.75, 1.35]}


def complete_case_dict(all_con: pd.DataFrame, cc_con: pd.DataFrame, n_all: int, n_cc: int,
                       conf_level: float) -> dict:
    pct = f"{conf_level:.0%}"
    cc = cc_con.set_index("contrast")
    rows = []
    for r in all_con.itertuples(index=False):
        c = cc.loc[r.contrast] if r.contrast in cc.index else None
        rows.append([str(r.contrast), fmt.num(r.estimate), fmt.ci(r.conf_low, r.conf_high),
                     fmt.num(None if c is None else c["estimate"]),
                     "\u2013" if c is None else fmt.ci(c["conf_low"], c["conf_high"])])
    return {"header": ["Contrast", f"All data (n = {n_all})", f"{pct} CI", f"Complete cases (n = {n_cc})",
                       f"{pct} CI"], "rows": rows, "align": "lrrrr",
            "note": "All data: every subject the primary model used (n = subjects with at least one analysable "
                    "value). Complete cases: subjects with this outcome observed at every visit, refitted with the "
                    "primary model. A large shift suggests the dropout is related to the outcome."}


def coef_dict(fit, title: str) -> dict:
    tab = fit.to_frame()
    rows = [[str(r.term), fmt.num(r.estimate, 3), fmt.num(r.std_error, 3), fmt.num(r.df, 1),
             fmt.num(r.statistic, 2), fmt.pval(r.p_value), fmt.ci(r.conf_low, r.conf_high, 3)]
            for r in tab.itertuples(index=False)]
    pct = f"{getattr(fit, 'conf_level', 0.95):.0%}"
    return {"title": title, "header": ["Term", "Estimate", "SE", "df", "t", "p", f"{pct} CI"], "rows": rows,
            "align": "lrrrrrr", "widths": [2.6, 0.9, 0.8, 0.7, 0.7, 0.7, 1.6]}


def kv_dict(pairs: Sequence[tuple[str, str]], header: Sequence[str] = ("Item", "Value"),
            widths: Sequence[float] = (1.0, 3.0)) -> dict:
    return {"header": list(header), "rows": [[str(k), str(v)] for k, v in pairs], "align": "ll",
            "widths": list(widths)}
