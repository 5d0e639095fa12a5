"""Figures of the missing-data analyses: who has a value where, the results under each assumption, the tipping
point.

* :func:`missingness_plot` -- the percentage of each arm's participants with a value at each visit (a seaborn
  heatmap per outcome, each cell annotated ``n / N``).
* :func:`sensitivity_plot` -- one contrast under each analysis (primary model, complete cases, multiple
  imputation under MAR, J2R, CR, CIR, LMCF) as a forest plot with the numbers beside it.
* :func:`tipping_point_plot` -- the estimate and its CI against the delta added to one arm's imputed values,
  with the line of no difference and the tipping delta marked.

Like :mod:`retrostudy.figures`, each builder draws inside the packaged style, draws no title that a caption
would repeat, marks synthetic data inside the axes and returns a :class:`matplotlib.figure.Figure`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .figures import style, synthetic_mark
from .schema import Outcome, get_outcome

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .missing.results import TippingPointResult
    from .trial import TrialData

__all__ = ["missingness_data", "missingness_plot", "sensitivity_plot", "tipping_point_frame", "tipping_point_plot"]


def _minus(text: str) -> str:
    return text.replace("-", "\u2212")


def missingness_data(data: Any, outcomes: Sequence[str] | None = None) -> pd.DataFrame:
    """Participants with a value of each outcome at each visit, by arm.

    Parameters
    ----------
    data
        TrialData or a canonical long DataFrame.
    outcomes
        Outcome ids (default: every outcome).

    Returns
    -------
    DataFrame
        ``outcome, arm, visit, week, randomized, observed, percent`` (``randomized``: the arm's
        participants in the data).

    Examples
    --------
    >>> import retrostudy as rs
    >>> m = missingness_data(rs.load_dataset("alghadir2019_sim"), ["pain_nrs"])
    >>> m.loc[m["visit"] == "week6", "observed"].tolist()
    [21, 20, 18]
    """
    from .trial import as_trial

    trial = as_trial(data)
    frame = trial.data
    outs = list(outcomes) if outcomes is not None else list(trial.outcomes)
    arms, visits = list(trial.arms), list(trial.visits)
    weeks = frame.groupby(frame["visit"].astype(str), observed=True)["week"].first()
    randomized = frame.groupby(frame["arm"].astype(str), observed=True)["subject_id"].nunique()
    have = frame.loc[frame["value"].notna()]
    recs = []
    for o in outs:
        rows = have.loc[have["outcome"].astype(str) == o]
        n = rows.groupby([rows["arm"].astype(str), rows["visit"].astype(str)], observed=True)["subject_id"].nunique()
        for a in arms:
            for v in visits:
                k = int(n.get((a, v), 0))
                total = int(randomized.get(a, 0))
                recs.append({"outcome": o, "arm": a, "visit": v, "week": float(weeks.get(v, np.nan)),
                             "randomized": total, "observed": k, "percent": 100.0 * k / total if total else np.nan})
    return pd.DataFrame.from_records(recs, columns=["outcome", "arm", "visit", "week", "randomized", "observed",
                                                    "percent"])


def missingness_plot(data: TrialData | pd.DataFrame, outcomes: Sequence[str] | None = None, *,
                     labels: Mapping[str, str] | None = None, visit_labels: Mapping[str, str] | None = None,
                     synthetic: bool = False, figsize: tuple[float, float] | None = None) -> Figure:
    """Heatmap of the percentage of each arm's participants with a value at each visit, one panel per outcome.

    Parameters
    ----------
    data
        TrialData or a canonical long DataFrame.
    outcomes
        Outcome ids (default: every outcome).
    labels, visit_labels
        Display names of outcomes and visits (default: the ids).
    synthetic
        Mark the figure "SYNTHETIC DATA".
    figsize
        Default: 6.3 inches wide, height by the number of arms.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import retrostudy as rs
    >>> fig = missingness_plot(rs.load_dataset("retro_replication_sim"), ["pain_nrs"], synthetic=True)
    >>> len(fig.axes) >= 1
    True
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    m = missingness_data(data, outcomes)
    outs = list(dict.fromkeys(m["outcome"]))
    arms = list(dict.fromkeys(m["arm"]))
    visits = list(dict.fromkeys(m["visit"]))
    labels = dict(labels or {})
    vlab = dict(visit_labels or {})
    k = max(len(outs), 1)
    if figsize is None:
        figsize = (6.3, 0.75 + 0.3 * len(arms))
    with style():
        fig, axes = plt.subplots(1, k, figsize=figsize, squeeze=False, layout="none")
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.3 / figsize[1] + 0.12, top=1 - 0.3 / figsize[1],
                            wspace=0.12)
        for i, (ax, o) in enumerate(zip(axes[0], outs)):
            sub = m.loc[m["outcome"] == o]
            pct = sub.pivot(index="arm", columns="visit", values="percent").reindex(index=arms, columns=visits)
            ann = sub.assign(text=[f"{int(r.observed)}/{int(r.randomized)}" for r in sub.itertuples()]) \
                .pivot(index="arm", columns="visit", values="text").reindex(index=arms, columns=visits)
            sns.heatmap(pct, ax=ax, vmin=50, vmax=100, cmap="Blues", annot=ann.to_numpy(), fmt="", cbar=False,
                        linewidths=0.8, linecolor="white", annot_kws={"fontsize": 7.5})
            ax.set_xticks(np.arange(len(visits)) + 0.5, [vlab.get(v, v) for v in visits], rotation=0)
            ax.set_yticks(np.arange(len(arms)) + 0.5, arms if i == 0 else [""] * len(arms), rotation=0)
            ax.set_xlabel("")
            ax.set_ylabel("")
            ax.tick_params(length=0)
            ax.grid(False)
            ax.set_title(labels.get(o, o), loc="left")
            if synthetic:
                synthetic_mark(ax, size=12)
    return fig


def sensitivity_plot(frame: pd.DataFrame, *, conf_level: float = 0.95, synthetic: bool = False,
                     figsize: tuple[float, float] | None = None) -> Figure:
    """One contrast under every analysis of the missing values, one panel per outcome, numbers beside each line.

    Parameters
    ----------
    frame
        One row per outcome x analysis: ``outcome_label, analysis, first, second, estimate, conf_low,
        conf_high, p_value``, the numbers oriented so that a positive value favours ``first``; an optional
        bool column ``primary`` draws that analysis in black and the others in blue.
    conf_level
        The intervals' confidence level (for the axis label).
    synthetic
        Mark the figure "SYNTHETIC DATA".
    figsize
        Default: 6.3 inches wide, height by the number of rows.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"outcome_label": ["Pain"] * 2, "analysis": ["cLDA (MAR)", "MI, J2R"],
    ...                      "first": ["retro"] * 2, "second": ["control"] * 2, "estimate": [0.8, 0.6],
    ...                      "conf_low": [0.2, 0.0], "conf_high": [1.4, 1.2], "p_value": [0.01, 0.05]})
    >>> fig = sensitivity_plot(rows)
    >>> len(fig.axes) >= 1
    True
    """
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    from .format import fmt_ci, fmt_num, fmt_p

    outs = list(dict.fromkeys(frame["outcome_label"]))
    analyses = list(dict.fromkeys(frame["analysis"]))
    n = len(analyses)
    if figsize is None:
        figsize = (6.3, 0.5 + len(outs) * (0.2 * n + 0.45))
    with style():
        fig, axes = plt.subplots(len(outs), 1, figsize=figsize, squeeze=False, layout="none")
        longest = max((len(a) for a in analyses), default=10)
        left = min(0.42, 0.04 + 0.0098 * longest)
        fig.subplots_adjust(left=left, right=0.70, bottom=0.45 / figsize[1], top=1 - 0.25 / figsize[1], hspace=0.45)
        x_num, x_p = 0.72, 0.93  # figure fractions of the two text columns
        for ax, lab in zip(axes[:, 0], outs):
            sub = frame.loc[frame["outcome_label"] == lab].set_index("analysis").reindex(analyses)
            y = np.arange(n)[::-1]
            prim = sub["primary"].fillna(False).astype(bool).to_numpy() if "primary" in sub.columns \
                else np.zeros(n, bool)
            cols = np.where(prim, "#222222", "#0072B2")
            ax.hlines(y, sub["conf_low"], sub["conf_high"], colors=cols, lw=1.4)
            ax.scatter(sub["estimate"], y, marker="s", c=cols, s=20, zorder=3)
            ax.axvline(0, color="#999999", lw=0.8, ls="--")
            ax.set_yticks(y, analyses)
            ax.set_ylim(-0.6, n + 0.1)
            ax.grid(axis="y", visible=False)
            vals = sub[["estimate", "conf_low", "conf_high"]].to_numpy(float)
            lo = float(np.nanmin(np.r_[vals.ravel(), 0.0]))
            hi = float(np.nanmax(np.r_[vals.ravel(), 0.0]))
            pad = 0.08 * (hi - lo if hi > lo else 1.0)
            ax.set_xlim(lo - pad, hi + pad)
            first = sub["first"].dropna().iloc[0] if sub["first"].notna().any() else ""
            second = sub["second"].dropna().iloc[0] if sub["second"].notna().any() else ""
            ax.set_title(f"{lab}: {first} vs {second}", loc="left")
            tr = blended_transform_factory(fig.transFigure, ax.transData)
            for yi, (_, r) in zip(y, sub.iterrows()):
                text = _minus(f"{fmt_num(r['estimate'], 2, missing='-')} "
                              f"({fmt_ci(r['conf_low'], r['conf_high'], 2, missing='-')})")
                ax.text(x_num, yi, text, transform=tr, ha="left", va="center", fontsize=7.5, clip_on=False)
                ax.text(x_p, yi, fmt_p(r["p_value"]), transform=tr, ha="left", va="center", fontsize=7.5,
                        clip_on=False)
            ax.text(x_num, n - 0.25, f"difference ({conf_level:.0%} CI)", transform=tr, ha="left", va="center",
                    fontsize=7, color="#555555", clip_on=False)
            ax.text(x_p, n - 0.25, "p", transform=tr, ha="left", va="center", fontsize=7, color="#555555",
                    clip_on=False)
            if synthetic:
                synthetic_mark(ax, size=13)
        axes[-1, 0].set_xlabel(f"Difference, unadjusted {conf_level:.0%} CI (positive favours the first arm)")
    return fig


def tipping_point_frame(result: Any, info: Outcome | None = None, *, label: str | None = None) -> pd.DataFrame:
    """The rows of a :class:`~retrostudy.missing.results.TippingPointResult` that its figure draws: its contrast
    at its visit for every delta, oriented so that a positive difference favours the contrast's first arm
    (``info.lower_is_better`` flips the sign).

    Returns
    -------
    DataFrame
        ``outcome_label, delta, estimate, conf_low, conf_high, p_value, first, second`` plus the tipping
        deltas as ``tipping_delta`` and ``tipping_delta_interpolated``.
    """
    info = info or get_outcome(str(result.settings.get("outcome", "")))
    t = result.to_frame()
    t = t.loc[(t["contrast"] == result.contrast) & (t["visit"].astype(str) == str(result.visit))]
    s = -1.0 if info.lower_is_better else 1.0
    lo, hi = np.sort(np.c_[s * t["conf_low"].to_numpy(float), s * t["conf_high"].to_numpy(float)], axis=1).T
    first, second = [p.strip() for p in str(result.contrast).split(" - ", 1)]
    return pd.DataFrame({"outcome_label": label or info.label, "delta": t["delta"].to_numpy(float),
                         "estimate": s * t["estimate"].to_numpy(float), "conf_low": lo, "conf_high": hi,
                         "p_value": t["p_value"].to_numpy(float), "first": first, "second": second,
                         "tipping_delta": float(result.tipping_delta),
                         "tipping_delta_interpolated": float(result.tipping_delta_interpolated)})


def tipping_point_plot(results: TippingPointResult | pd.DataFrame, *, info: Outcome | None = None,
                       alpha: float | None = None, conf_level: float = 0.95, arm: str | None = None,
                       unit: str | None = None, synthetic: bool = False,
                       figsize: tuple[float, float] | None = None) -> Figure:
    """Estimate and CI against the delta added to one arm's imputed values, the tipping delta marked.

    Parameters
    ----------
    results
        A :class:`~retrostudy.missing.results.TippingPointResult`, or a frame of
        :func:`tipping_point_frame` rows (one panel per ``outcome_label``, side by side).
    info
        The outcome (label, unit, direction) of a single result (default: from the registry).
    alpha
        Significance level (default: the result's).
    conf_level
        The intervals' confidence level.
    arm, unit
        For the x-axis label (default: the result's arm, the outcome's unit).
    synthetic
        Mark the figure "SYNTHETIC DATA".
    figsize
        Default: 6.3 x 2.6 inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import retrostudy as rs
    >>> tp = rs.tipping_point(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", arm="retro",
    ...                       deltas=[0, 1, 2, 3], progress=False)
    >>> fig = tipping_point_plot(tp, synthetic=True)
    """
    import matplotlib.pyplot as plt

    if isinstance(results, pd.DataFrame):
        frame = results
    else:
        info = info or get_outcome(str(results.settings.get("outcome", "")))
        frame = tipping_point_frame(results, info)
        alpha = results.alpha if alpha is None else alpha
        arm = arm or results.arm
        unit = unit if unit is not None else info.unit
    alpha = 0.05 if alpha is None else float(alpha)
    outs = list(dict.fromkeys(frame["outcome_label"]))
    if figsize is None:
        figsize = (6.3, 2.6)
    with style():
        fig, axes = plt.subplots(1, len(outs), figsize=figsize, squeeze=False, layout="none")
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.2, top=0.86, wspace=0.28)
        for ax, lab in zip(axes[0], outs):
            sub = frame.loc[frame["outcome_label"] == lab].sort_values("delta", key=np.abs)
            d = sub["delta"].to_numpy(float)
            sig = sub["p_value"].to_numpy(float) < alpha
            ax.fill_between(d, sub["conf_low"], sub["conf_high"], color="#0072B2", alpha=0.18, lw=0)
            ax.plot(d, sub["estimate"], color="#0072B2", lw=1.3)
            ax.scatter(d[sig], sub["estimate"].to_numpy(float)[sig], s=7, color="#0072B2", zorder=3,
                       label=f"p < {alpha:g}")
            ax.scatter(d[~sig], sub["estimate"].to_numpy(float)[~sig], s=7, facecolor="white",
                       edgecolor="#0072B2", zorder=3, label=f"p \u2265 {alpha:g}")
            ax.axhline(0, color="#555555", lw=0.9, ls="--")
            tip = float(sub["tipping_delta_interpolated"].iloc[0])
            first = float(sub["tipping_delta"].iloc[0])
            where = tip if np.isfinite(tip) else first
            if np.isfinite(where) and not (np.isfinite(first) and first == d[0] and not np.isfinite(tip)):
                ax.axvline(where, color="#D55E00", lw=1.0)
                ax.text(where, 0.97, _minus(f" tipping point \u0394 = {where:.2f}"), transform=ax.get_xaxis_transform(),
                        ha="left" if where <= np.median(d) else "right", va="top", fontsize=7.5, color="#D55E00")
            a = sub["first"].iloc[0]
            ax.set_title(f"{lab}: {a} vs {sub['second'].iloc[0]}", loc="left")
            u = str(sub["unit"].iloc[0]) if "unit" in sub.columns else unit
            ax.set_xlabel(f"\u0394 added to {arm or a}'s imputed values" + (f" ({u})" if u else ""))
            if ax is axes[0, 0]:
                ax.set_ylabel(f"difference, {conf_level:.0%} CI")
                ax.legend(loc="lower left", fontsize=7, frameon=False, handletextpad=0.2)
            if synthetic:
                synthetic_mark(ax, size=13)
    return fig
