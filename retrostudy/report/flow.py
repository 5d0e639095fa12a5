"""CONSORT-style participant flow, in participants: counts from the canonical table, the fits and the
ExclusionLog, and the figure.

Wording follows the CONSORT 2025 flow diagram (randomised, allocated, lost to follow-up, analysed,
excluded from analysis). The data record neither eligibility screening nor whether the allocated
intervention was received, nor reasons for loss; the caption says so instead of inventing boxes.
A participant counts as *assessed* at a visit when any reported outcome has a value there; *lost to
follow-up* after a visit when that is their last visit with a value (before the final visit); a
participant with no value at a visit but a value later *missed the visit and returned*.
"""
from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..trial import TrialData
from .labels import visit_label

__all__ = ["flow_counts", "flow_figure", "flow_table"]


def flow_counts(trial: TrialData, analysed: Mapping[str, Mapping[str, int]] | None = None, *,
                outcomes: Sequence[str] | None = None, final_visit: str | None = None,
                labels: Mapping[str, str] | None = None) -> dict:
    """Participants per arm: randomised, assessed and missing at each visit, lost to follow-up, analysed.

    Parameters
    ----------
    trial
        The trial.
    analysed
        Outcome -> arm -> participants in the primary analysis of that outcome.
    outcomes
        Outcomes that count for "assessed" (default: all).
    final_visit
        The last visit of the flow (default: the last visit).
    labels
        Outcome id -> short display label.

    Returns
    -------
    dict
        ``total``, ``arms`` (list of dicts: ``arm``, ``randomized``, ``visits`` [{visit, week,
        assessed, missing, missed_returned}], ``lost`` [{after, n}], ``lost_total``,
        ``no_baseline``, ``analysed`` {outcome: n}), ``excluded`` (values left out while reading:
        [{stage, reason, values, participants}]) and ``subjects_only_excluded``.
    """
    data = trial.data
    outs = list(outcomes or trial.outcomes)
    visits = list(trial.visits)
    final = final_visit or visits[-1]
    visits = visits[: visits.index(final) + 1]
    weeks = data.groupby("visit", observed=True)["week"].first()
    rows = data.loc[data["outcome"].astype(str).isin(outs) & data["value"].notna()]
    seen = (rows.assign(_s=rows["subject_id"].astype(str), _v=rows["visit"].astype(str))
            .loc[lambda f: f["_v"].isin(visits)].groupby("_s")["_v"].agg(set))
    arm_of = data.assign(_s=data["subject_id"].astype(str)).groupby("_s")["arm"].first().astype(str)
    arms_out = []
    for arm in trial.arms:
        ids = sorted(arm_of.index[arm_of == arm])
        vis_sets: dict[str, set[str]] = {s: seen.get(s, set()) for s in ids}
        last = {s: max((visits.index(v) for v in vs), default=-1) for s, vs in vis_sets.items()}
        vis = []
        for j, v in enumerate(visits):
            assessed = sum(v in vs for vs in vis_sets.values())
            returned = sum(v not in vs and last[s] > j for s, vs in vis_sets.items())
            vis.append({"visit": v, "week": float(weeks.get(v, float("nan"))), "assessed": int(assessed),
                        "missing": len(ids) - int(assessed), "missed_returned": int(returned)})
        lost: list[dict[str, Any]] = []
        for j, v in enumerate(visits[:-1]):
            n = sum(last[s] == j for s in ids)
            if n:
                lost.append({"after": v, "n": int(n)})
        no_data = sum(last[s] == -1 for s in ids)
        if no_data:
            lost.insert(0, {"after": None, "n": int(no_data)})
        ana = {o: (analysed or {}).get(o, {}).get(arm) for o in outs} if analysed else {}
        arms_out.append({"arm": arm, "randomized": len(ids), "visits": vis, "lost": lost,
                         "lost_total": int(sum(x["n"] for x in lost)),
                         "no_baseline": int(sum(visits[0] not in vs for vs in vis_sets.values())),
                         "analysed": ana})
    log = trial.exclusions.frame
    excluded, only = [], []
    if len(log):
        read = log.loc[log["stage"].astype(str) == "read"] if "stage" in log.columns else log
        if len(read):
            for rec in trial.exclusions.by_reason().itertuples(index=False):
                if str(rec.stage) != "read":
                    continue
                sub = read.loc[read["reason"].astype(str) == str(rec.reason)]
                people = sub["subject_id"].dropna().astype(str).nunique() if "subject_id" in sub.columns else 0
                excluded.append({"stage": str(rec.stage), "reason": str(rec.reason), "values": int(rec.cells),
                                 "participants": int(people)})
        logged = set(log["subject_id"].dropna().astype(str)) if "subject_id" in log.columns else set()
        only = sorted(logged - set(data["subject_id"].astype(str)))
    return {"total": int(arm_of.size), "arms": arms_out, "excluded": excluded, "subjects_only_excluded": only,
            "visits": visits, "labels": dict(labels or {})}


def _box(ax, x, y, lines: Sequence[str], width: int, fc: str = "white", bold_first: bool = False):
    text = "\n".join(textwrap.fill(t, width, subsequent_indent="  " if t.startswith("  ") else "")
                     for t in lines)
    ax.text(x, y, text, ha="center", va="center", fontsize=7, linespacing=1.35, multialignment="left",
            fontweight="normal", bbox={"boxstyle": "round,pad=0.45", "fc": fc, "ec": "#555555", "lw": 0.7})


def _arrow(ax, x0, y0, x1, y1):
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "#777777", "lw": 0.7})


def _follow_up_lines(a: Mapping, final: str, weeks: Mapping[str, float]) -> list[str]:
    lines = []
    if a["lost_total"]:
        lines.append(f"Lost to follow-up: {a['lost_total']}")
        for x in a["lost"]:
            where = "no data at all" if x["after"] is None else \
                f"no data after {visit_label(x['after'], weeks.get(x['after']))}"
            lines.append(f"  {where}: {x['n']}")
    else:
        lines.append("Lost to follow-up: 0")
    returned = [(v["visit"], v["missed_returned"]) for v in a["visits"] if v["missed_returned"]]
    for v, n in returned:
        lines.append(f"Missed {visit_label(v, weeks.get(v))}, returned later: {n}")
    last = a["visits"][-1]
    lines.append(f"Assessed at {visit_label(final, weeks.get(final))}: {last['assessed']}")
    return lines


def _analysis_lines(a: Mapping, labels: Mapping[str, str], model: str, reason: str) -> list[str]:
    ana = {o: n for o, n in a["analysed"].items() if n is not None}
    if not ana:
        return [f"Analysed ({model}): not fitted"]
    values = set(ana.values())
    if len(values) == 1:
        n = values.pop()
        lines = [f"Analysed ({model}): {n}"] + (["  (every outcome)"] if len(ana) > 1 else [])
        if a["randomized"] - n:
            lines.append(f"Excluded from analysis: {a['randomized'] - n}")
            lines.append(f"  {reason}")
        return lines
    lines = [f"Analysed ({model}):"]
    lines += [f"  {labels.get(o, o)}: {n}" for o, n in ana.items()]
    lines.append(f"Excluded from analysis: {a['randomized'] - max(ana.values())} to "
                 f"{a['randomized'] - min(ana.values())}")
    lines.append(f"  {reason}")
    return lines


def flow_figure(counts: Mapping, *, model: str = "MMRM", reason: str = "no value after baseline",
                synthetic: bool = False):
    """Draw the participant flow from :func:`flow_counts` as a matplotlib Figure."""
    import matplotlib.pyplot as plt

    from ..figures import style, synthetic_mark

    arms = counts["arms"]
    k = max(len(arms), 1)
    width = max(20, int(105 / k))
    weeks = {v["visit"]: v["week"] for v in (arms[0]["visits"] if arms else [])}
    final = counts["visits"][-1] if counts.get("visits") else ""
    fol = [_follow_up_lines(a, final, weeks) for a in arms]
    ana = [_analysis_lines(a, counts.get("labels", {}), model, reason) for a in arms] if any(a["analysed"] for a in arms) \
        else []
    h_fol = max((len(x) for x in fol), default=1)
    h_ana = max((len(x) for x in ana), default=0)
    line = 0.15  # inches per text line
    heights = [0.45, 0.5, line * h_fol + 0.25] + ([line * h_ana + 0.25] if ana else [])
    gap = 0.32
    total_h = sum(heights) + gap * (len(heights) - 1) + 0.1
    with style():
        fig, ax = plt.subplots(figsize=(6.3, total_h), layout="none")
        fig.subplots_adjust(0, 0, 1, 1)
        ax.set_axis_off()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, total_h)
        ys, y = [], total_h - 0.05
        for h in heights:
            ys.append(y - h / 2)
            y -= h + gap
        xs = [(i + 0.5) / k for i in range(k)]
        _box(ax, 0.5, ys[0], [f"Randomised (participants in the data): {counts['total']}"], width=70, fc="#f2f2f2")
        for i, a in enumerate(arms):
            x = xs[i]
            _arrow(ax, 0.5, ys[0] - heights[0] / 2 + 0.05, x, ys[1] + heights[1] / 2 - 0.02)
            _box(ax, x, ys[1], [f"Allocated to {a['arm']}: {a['randomized']}"], width=width, fc="#e8f0fb")
            _arrow(ax, x, ys[1] - heights[1] / 2 + 0.08, x, ys[2] + heights[2] / 2 - 0.02)
            _box(ax, x, ys[2], fol[i], width=width)
            if ana:
                _arrow(ax, x, ys[2] - heights[2] / 2 + 0.02, x, ys[3] + heights[3] / 2 - 0.02)
                _box(ax, x, ys[3], ana[i], width=width, fc="#eaf5ea")
        if synthetic:
            synthetic_mark(ax, size=22)
    return fig


def flow_table(counts: Mapping) -> pd.DataFrame:
    """The flow counts as a tidy table (arm, visit, week, randomized, assessed, missing, missed_returned)."""
    recs = []
    for a in counts["arms"]:
        for v in a["visits"]:
            recs.append({"arm": a["arm"], "visit": v["visit"], "week": v["week"], "randomized": a["randomized"],
                         "assessed": v["assessed"], "missing": v["missing"],
                         "missed_returned": v["missed_returned"]})
    return pd.DataFrame.from_records(recs)
