"""CONSORT-style participant flow: counts from the canonical table and the ExclusionLog, and a figure."""
from __future__ import annotations

import textwrap
from typing import Mapping

import pandas as pd

from ..trial import TrialData

__all__ = ["flow_counts", "flow_figure"]


def flow_counts(trial: TrialData, analysed: Mapping[str, int] | None = None) -> dict:
    """Subjects per arm randomized and assessed at each visit, and the exclusions by reason.

    Parameters
    ----------
    trial
        The trial.
    analysed
        Optional subjects per arm in the primary analysis (shown in the last box).

    Returns
    -------
    dict
        ``arms`` (list of dicts: arm, randomized, visits[{visit, week, assessed, missing}],
        analysed), ``total``, ``excluded`` (list of {stage, reason, values}),
        ``subjects_only_excluded`` (ids in the log that have no analysable value).
    """
    data = trial.data
    visits = trial.visits
    weeks = data.groupby("visit", observed=True)["week"].first()
    arms_out = []
    for arm in trial.arms:
        sub = data.loc[data["arm"].astype(str) == arm]
        n = int(sub["subject_id"].nunique())
        vis = []
        for v in visits:
            assessed = int(sub.loc[sub["visit"].astype(str) == v, "subject_id"].nunique())
            vis.append({"visit": v, "week": float(weeks.get(v, float("nan"))), "assessed": assessed,
                        "missing": n - assessed})
        arms_out.append({"arm": arm, "randomized": n, "visits": vis,
                         "analysed": None if analysed is None else analysed.get(arm)})
    log = trial.exclusions.frame
    excluded = []
    only = []
    if len(log):
        for rec in trial.exclusions.by_reason().itertuples(index=False):
            excluded.append({"stage": str(rec.stage), "reason": str(rec.reason), "values": int(rec.cells)})
        ids = set(log["subject_id"].dropna().astype(str))
        only = sorted(ids - set(data["subject_id"].astype(str)))
    return {"total": int(data["subject_id"].nunique()), "arms": arms_out, "excluded": excluded,
            "subjects_only_excluded": only}


def _box(ax, x, y, text, width=28, **kw):
    lines = "\n".join(textwrap.fill(t, width) for t in text.split("\n"))
    ax.text(x, y, lines, ha="center", va="center", fontsize=7.5,
            bbox={"boxstyle": "round,pad=0.4", "fc": kw.get("fc", "white"), "ec": "#555555", "lw": 0.8})


def flow_figure(counts: Mapping, *, analysed_label: str = "Analysed"):
    """Draw the participant flow from :func:`flow_counts` as a matplotlib Figure."""
    import matplotlib.pyplot as plt

    from ..figures import style

    arms = counts["arms"]
    n_vis = len(arms[0]["visits"]) if arms else 0
    has_analysed = any(a.get("analysed") is not None for a in arms)
    rows = 2 + n_vis + (1 if has_analysed else 0)
    height = 0.52 * rows + 0.2
    with style():
        fig, ax = plt.subplots(figsize=(6.3, height), layout="none")
        fig.subplots_adjust(0, 0, 1, 1)
        ax.set_axis_off()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, rows)
        top = rows - 0.5
        k = len(arms)
        xs = [(i + 0.5) / k for i in range(k)] if k else []
        total = counts["total"]
        _box(ax, 0.5 if not counts["excluded"] else 0.3, top, f"Randomized and in the data: n = {total}",
             width=40, fc="#f2f2f2")
        if counts["excluded"]:
            lines = [f"Values left out: {sum(e['values'] for e in counts['excluded'])}"]
            lines += [f"{e['reason']} ({e['stage']}): {e['values']}" for e in counts["excluded"][:4]]
            if len(counts["excluded"]) > 4:
                lines.append(f"... {len(counts['excluded']) - 4} more reasons (appendix)")
            _box(ax, 0.76, top, "\n".join(lines), width=44, fc="#fff7e6")
        for i, a in enumerate(arms):
            x = xs[i]
            ax.annotate("", xy=(x, top - 0.75), xytext=(0.5 if not counts["excluded"] else 0.3, top - 0.25),
                        arrowprops={"arrowstyle": "->", "color": "#777777", "lw": 0.7})
            _box(ax, x, top - 1, f"Allocated to {a['arm']}\nn = {a['randomized']}", fc="#e8f0fb")
            for j, v in enumerate(a["visits"]):
                y = top - 2 - j
                text = f"{v['visit']} (week {v['week']:g}): assessed {v['assessed']}"
                if v["missing"]:
                    text += f"\nno value: {v['missing']}"
                ax.annotate("", xy=(x, y + 0.25), xytext=(x, y + 0.75),
                            arrowprops={"arrowstyle": "->", "color": "#777777", "lw": 0.7})
                _box(ax, x, y, text, width=34)
            if has_analysed:
                y = top - 2 - n_vis
                ax.annotate("", xy=(x, y + 0.25), xytext=(x, y + 0.75),
                            arrowprops={"arrowstyle": "->", "color": "#777777", "lw": 0.7})
                val = a.get("analysed")
                _box(ax, x, y, f"{analysed_label}: n = {'-' if val is None else val}", fc="#eaf5ea", width=40)
    return fig


def flow_table(counts: Mapping) -> pd.DataFrame:
    """The flow counts as a tidy table (arm, visit, week, randomized, assessed, missing)."""
    recs = []
    for a in counts["arms"]:
        for v in a["visits"]:
            recs.append({"arm": a["arm"], "visit": v["visit"], "week": v["week"], "randomized": a["randomized"],
                         "assessed": v["assessed"], "missing": v["missing"]})
    return pd.DataFrame.from_records(recs)
