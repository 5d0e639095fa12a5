"""The responder figure: cumulative distribution of improvement by arm with the threshold marked.

This is the "cumulative distribution function of response" figure of the FDA guidance on
patient-reported outcomes (2009, section V.C): for every size of improvement on the x axis,
the percentage of each arm's participants who improved at least that much. The responder
threshold is a vertical line; where an arm's curve crosses it is that arm's responder rate
(for a criterion with one threshold). The curves are drawn with seaborn's ``ecdfplot``
(complementary, weighted by ``100 / n`` of the arm), so with ``missing="non-responder"`` a
participant without a change still counts in the denominator and the curve starts below 100 %.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import SpecError
from .figures import arm_palette, style
from .inference.responders import ResponderTable
from .schema import Outcome, get_outcome

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.figure import Figure

__all__ = ["response_cdf_data", "response_cdf_plot"]


def response_cdf_data(result: ResponderTable, *, scale: str | None = None) -> pd.DataFrame:
    """The points behind :func:`response_cdf_plot`: one row per participant with a change.

    Columns ``subject_id, arm, x`` (improvement, in the outcome's units for
    ``scale="absolute"`` or in % of baseline for ``"relative"``) and ``weight`` (100 / the
    arm's denominator under the result's missing rule).
    """
    scale = _scale(result, scale)
    subj = result.subjects
    x = subj["improvement"] if scale == "absolute" else 100.0 * subj["relative_improvement"]
    denom = result.rates.set_index("arm")["n"].astype(float)
    frame = pd.DataFrame({"subject_id": subj["subject_id"], "arm": subj["arm"].astype(str), "x": x.astype(float)})
    frame = frame.loc[np.isfinite(frame["x"]) & subj["responder"].notna().to_numpy()]
    frame["weight"] = 100.0 / frame["arm"].map(denom)
    return frame.reset_index(drop=True)


def _scale(result: ResponderTable, scale: str | None) -> str:
    crit = result.criterion
    if scale is None:
        scale = "absolute" if crit.absolute is not None else "relative"
    if scale not in ("absolute", "relative"):
        raise SpecError(f"scale must be 'absolute' or 'relative', not {scale!r}.")
    return scale


def response_cdf_plot(
    result: ResponderTable,
    *,
    scale: str | None = None,
    info: Outcome | None = None,
    title: str | None = None,
    synthetic: bool = False,
    figsize: tuple[float, float] = (6.3, 2.9),
) -> Figure:
    """Percentage of each arm improving by at least x, with the responder threshold marked.

    Parameters
    ----------
    result
        From :func:`retrostudy.responders`.
    scale
        ``"absolute"`` (improvement in the outcome's units; default when the criterion has
        an absolute threshold) or ``"relative"`` (% of baseline).
    info
        Outcome registry entry for the axis label; default from the registry.
    title
        Axes title; default a short one naming the outcome and visit, ``""`` for none (when a
        caption says it).
    synthetic
        Print "SYNTHETIC DATA" across the plot (for simulated datasets).
    figsize
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    SpecError
        An unknown ``scale``.

    Examples
    --------
    >>> import retrostudy as rs
    >>> from retrostudy.figures_responders import response_cdf_plot
    >>> res = rs.responders(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
    >>> fig = response_cdf_plot(res, synthetic=True)
    >>> fig.axes[0].get_xlabel()
    'Pain (NRS): improvement from baseline (points); positive = better'
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib import patheffects

    scale = _scale(result, scale)
    crit = result.criterion
    settings = result.settings
    info = info or get_outcome(crit.outcome)
    data = response_cdf_data(result, scale=scale)
    rates = result.rates.set_index("arm")
    arms = [str(a) for a in result.rates["arm"]]
    colours = arm_palette(arms)
    threshold = crit.absolute if scale == "absolute" else (None if crit.relative is None else 100 * crit.relative)
    single = (crit.absolute is None) != (crit.relative is None)  # one threshold: the crossing is the rate
    unit = (info.unit or "") if scale == "absolute" else "% of baseline"
    with style():
        fig, ax = plt.subplots(figsize=figsize, layout="none")
        fig.subplots_adjust(left=0.11, right=0.64, bottom=0.16, top=0.89)
        present = [a for a in arms if (data["arm"] == a).any()]
        if present:
            sns.ecdfplot(data=data, x="x", hue="arm", hue_order=present, weights="weight", stat="count",
                         complementary=True, palette={a: colours[a] for a in present}, ax=ax, legend=False)
        if len(data):  # seaborn starts each curve at -inf: draw it from the left edge instead
            span = float(data["x"].max() - data["x"].min()) or 1.0
            left = float(data["x"].min()) - 0.08 * span
            for line in ax.get_lines():
                xs = np.asarray(line.get_xdata(), float)
                line.set_xdata(np.where(np.isneginf(xs), left, xs))
            ax.set_xlim(left, float(data["x"].max()) + 0.08 * span)
        if threshold is not None:
            ax.axvline(threshold, color="#333333", lw=0.9, ls="--", zorder=2.5)
            ax.annotate(f"threshold {threshold:.4g} {unit}".rstrip(), (threshold, 108), xytext=(-2, 0),
                        textcoords="offset points", rotation=90, ha="right", va="top", fontsize=7, color="#333333",
                        path_effects=[patheffects.withStroke(linewidth=2.2, foreground="white")])
            if single:
                for a in present:
                    ax.plot([threshold], [100.0 * rates.loc[a, "rate"]], "o", ms=4, color=colours[a], zorder=4)
        handles = [plt.Line2D([], [], color=colours[a], lw=1.6) for a in arms]
        labels = [f"{a}: {int(rates.loc[a, 'responders'])}/{int(rates.loc[a, 'n'])} "
                  f"({100 * rates.loc[a, 'rate']:.0f} %)" if rates.loc[a, "n"] else f"{a}: no participants"
                  for a in arms]
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.665, 0.89), title="Responders by arm",
                   alignment="left", borderaxespad=0)
        foot = [f"Response: {crit.describe().replace('>=', chr(0x2265))}."]
        if settings.get("missing") == "non-responder":
            foot.append("Participants without a change count as non-responders (curves start below 100 %).")
        else:
            foot.append("Participants without a change are left out (complete case).")
        fig.text(0.665, 0.16, "\n".join(_wrap(s, 40) for s in foot), ha="left", va="bottom", fontsize=6.5,
                 color="#555555")
        ax.set_ylim(0, 110)
        ax.set_yticks([0, 25, 50, 75, 100])
        ax.set_ylabel("Participants improving\nat least this much (%)")
        what = f"Improvement from baseline ({unit})" if unit else "Improvement from baseline"
        ax.set_xlabel(f"{info.label}: {what[0].lower()}{what[1:]}; positive = better")
        if title is None:
            title = f"{info.label}: cumulative distribution of improvement at {settings.get('visit')}"
        if title:
            ax.set_title(title, loc="left")
        if synthetic:
            ax.text(0.5, 0.45, "SYNTHETIC DATA", transform=ax.transAxes, ha="center", va="center", fontsize=20,
                    color="#000000", alpha=0.08, rotation=20, zorder=0)
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))
