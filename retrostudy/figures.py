"""Figures: seaborn/matplotlib builders that return a :class:`matplotlib.figure.Figure`.

Every builder draws inside :func:`style` (the one packaged style, ``retrostudy.mplstyle`` next
to this module) and takes tidy tables, never model objects' internals. Captions belong to the
caller (the report writes them), so the builders draw no titles that would repeat them; with
``synthetic=True`` each figure carries a "SYNTHETIC DATA" mark inside its axes. :func:`to_svg`
writes a figure as SVG whose bytes depend only on the figure: text as paths (no font lookup
when the SVG is shown), a fixed hash salt for element ids and no date.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .schema import Outcome, get_outcome
from .trial import factor_levels

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "INDIVIDUAL_LINES_MAX",
    "arm_palette",
    "diagnostics_plot",
    "forest_plot",
    "style",
    "synthetic_mark",
    "t_interval",
    "to_svg",
    "trajectory_plot",
]

#: Colour-blind-safe arm colours (Okabe-Ito), in declared arm order.
ARM_COLOURS = ("#D55E00", "#0072B2", "#7F7F7F", "#009E73", "#CC79A7", "#E69F00")
#: ``trajectory_plot(individual="auto")`` draws each participant's line up to this many participants.
INDIVIDUAL_LINES_MAX = 80
#: Markers by arm, so arms differ in print without colour.
ARM_MARKERS = ("o", "s", "D", "^", "v", "P")


def _style_path() -> str:
    return str(resources.files("retrostudy").joinpath("retrostudy.mplstyle"))


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context in which figures use the packaged retrostudy style.

    Text is drawn literally (``text.parse_math`` off): arm, outcome and visit labels come
    from the user's data, and a label such as ``$\\alpha$ arm`` must not be read as
    matplotlib mathtext (which raises on unknown commands).
    """
    import matplotlib.pyplot as plt

    with plt.style.context(_style_path()), plt.rc_context({"text.parse_math": False}):
        yield


def to_svg(fig: Figure) -> bytes:
    """The figure as deterministic SVG bytes (closes the figure)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return buf.getvalue()


def arm_palette(arms: Sequence[str]) -> dict[str, str]:
    """Arm -> colour, stable by declared arm order."""
    return {str(a): ARM_COLOURS[i % len(ARM_COLOURS)] for i, a in enumerate(arms)}


def synthetic_mark(ax: Axes, *, size: float = 20) -> None:
    """Print a faint "SYNTHETIC DATA" across an axes (figures of simulated datasets)."""
    ax.text(0.5, 0.5, "SYNTHETIC DATA", transform=ax.transAxes, ha="center", va="center", fontsize=size,
            color="#000000", alpha=0.09, rotation=18, zorder=0.5, fontweight="bold")


def t_interval(values: Sequence[float], conf_level: float = 0.95) -> tuple[float, float]:
    """(low, high) of the t-based confidence interval of a mean; the mean twice for fewer than 2 values.

    >>> [round(x, 3) for x in t_interval([1.0, 2.0, 3.0])]
    [-0.484, 4.484]
    """
    from scipy import stats

    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    m = float(x.mean()) if len(x) else float("nan")
    if len(x) < 2:
        return m, m
    half = float(stats.t.ppf(0.5 + conf_level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return m - half, m + half


def trajectory_plot(
    data: pd.DataFrame,
    outcome: str,
    *,
    conf_level: float = 0.95,
    info: Outcome | None = None,
    individual: bool | str = "auto",
    synthetic: bool = False,
    figsize: tuple[float, float] = (6.3, 2.9),
) -> Figure:
    """Observed means by arm and week with t-based CIs (seaborn ``lineplot``, arms shifted sideways).

    Parameters
    ----------
    data
        Canonical long table (rows of other outcomes are ignored).
    outcome
        Outcome id.
    conf_level
        Confidence level of the error bars.
    info
        Outcome registry entry (label, unit); default from the registry.
    individual
        Draw each participant's observed values as a faint line: ``True``, ``False`` or ``"auto"``
        (only up to :data:`INDIVIDUAL_LINES_MAX` participants, where the lines can still be told
        apart).
    synthetic
        Mark the figure "SYNTHETIC DATA".
    figsize
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The legend gives each arm's number of participants with a value at each week.

    Examples
    --------
    >>> import retrostudy as rs
    >>> from retrostudy.figures import trajectory_plot
    >>> fig = trajectory_plot(rs.load_dataset("alghadir2019_sim").data, "pain_nrs", synthetic=True)
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('Week', 'Pain (NRS), points')
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.collections import LineCollection

    info = info or get_outcome(outcome)
    rows = data.loc[(data["outcome"].astype(str) == outcome) & data["value"].notna()].copy()
    rows["arm"] = rows["arm"].astype(str)
    arms = [a for a in factor_levels(data["arm"]) if (rows["arm"] == a).any()]
    colours = arm_palette(factor_levels(data["arm"]))
    weeks = sorted(float(w) for w in rows["week"].unique())
    n_subjects = rows["subject_id"].nunique()
    draw_lines = (n_subjects <= INDIVIDUAL_LINES_MAX) if individual == "auto" else bool(individual)
    counts = {(str(a), float(w)): int(n) for (a, w), n in
              rows.groupby(["arm", "week"], observed=True)["subject_id"].nunique().items()}
    with style():
        fig, ax = plt.subplots(figsize=figsize, layout="none")
        fig.subplots_adjust(left=0.09, right=0.985, bottom=0.36, top=0.97)
        if draw_lines:
            for arm in arms:
                sub = rows.loc[rows["arm"] == arm].sort_values(["subject_id", "week"])
                segs = [one[["week", "value"]].to_numpy(float)
                        for _, one in sub.groupby("subject_id", sort=True, observed=True)]
                ax.add_collection(LineCollection(segs, colors=colours[arm], alpha=0.13, linewidths=0.6, zorder=1))
        if arms:
            # arms shifted sideways by a fixed fraction of the time span, so their bars never overlap
            span = (weeks[-1] - weeks[0]) if len(weeks) > 1 else 1.0
            shift = {a: (i - (len(arms) - 1) / 2) * 0.035 * span for i, a in enumerate(arms)}
            rows["_x"] = rows["week"].astype(float) + rows["arm"].map(shift).astype(float)
            sns.lineplot(data=rows, x="_x", y="value", hue="arm", hue_order=arms, style="arm", style_order=arms,
                         markers=dict(zip(arms, ARM_MARKERS)), dashes=False, palette=colours, markersize=5,
                         linewidth=1.6, errorbar=lambda x: t_interval(x, conf_level), err_style="bars",
                         err_kws={"capsize": 2.5, "elinewidth": 1.1, "capthick": 1.1}, markeredgewidth=0,
                         legend=False, ax=ax, zorder=3)
        ax.set_xticks(weeks)
        ax.set_xticklabels([f"{w:g}" for w in weeks])
        ax.set_xlabel("Week")
        ax.set_ylabel(info.display)
        handles = [plt.Line2D([], [], color=colours[a], marker=ARM_MARKERS[i % len(ARM_MARKERS)], ms=4.5, lw=1.6)
                   for i, a in enumerate(arms)]
        labels = [f"{a} (n = {', '.join(str(counts.get((a, w), 0)) for w in weeks)})" for a in arms]
        better = "lower" if info.lower_is_better else "higher"
        title = (f"n with a value at week {', '.join(f'{w:g}' for w in weeks)}; bars: {conf_level:.0%} CI of the "
                 f"mean; {better} is better")
        fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=max(1, min(len(arms), 3)),
                   title=title, title_fontsize=7, borderaxespad=0.3, columnspacing=1.6, handlelength=2.2)
        if synthetic:
            synthetic_mark(ax)
    return fig


def forest_plot(effects: pd.DataFrame, *, conf_level: float = 0.95, synthetic: bool = False,
                figsize: tuple[float, float] | None = None) -> Figure:
    """Standardized contrasts across outcomes, one panel per contrast, each number printed beside its line.

    Parameters
    ----------
    effects
        One row per outcome x contrast with columns ``outcome_label, contrast, first,
        second, estimate, conf_low, conf_high`` where the numbers are already oriented
        so that a positive value means the first-named arm did better (the report
        flips outcomes where lower is better), and optionally ``primary`` (bool: the
        outcome is primary; exploratory ones are drawn in grey).
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
    >>> import retrostudy as rs
    >>> effects = pd.DataFrame({  # Hedges' g of the bundled trial, oriented: positive = retro better
    ...     "outcome_label": ["Pain (NRS)", "WOMAC"], "contrast": "retro - control", "first": "retro",
    ...     "second": "control", "estimate": [0.54, 0.31], "conf_low": [0.13, -0.10], "conf_high": [0.96, 0.72]})
    >>> fig = rs.forest_plot(effects, synthetic=True)
    >>> len(fig.axes), fig.axes[0].get_title(loc="left")
    (1, 'retro vs control')
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    contrasts = list(dict.fromkeys(effects["contrast"]))
    labels = list(dict.fromkeys(effects["outcome_label"]))
    primary = (effects.drop_duplicates("outcome_label").set_index("outcome_label")["primary"].to_dict()
               if "primary" in effects.columns else {lab: True for lab in labels})
    n = len(labels)
    if figsize is None:
        figsize = (6.3, 0.75 + 0.24 * (n + 1) * len(contrasts) + 0.32 * len(contrasts))
    from .format import fmt_ci, fmt_num

    def minus(text: str) -> str:
        return text.replace("-", "\u2212")

    with style():
        fig, axes = plt.subplots(len(contrasts), 1, figsize=figsize, sharex=True, squeeze=False, layout="none")
        longest = max((len(lab) + (0 if primary.get(lab, True) else 8) for lab in labels), default=10)
        left = min(0.4, 0.05 + 0.0105 * longest)
        fig.subplots_adjust(left=left, right=0.74, bottom=0.62 / figsize[1], top=1 - 0.3 / figsize[1],
                            hspace=0.5)
        finite = effects[["conf_low", "conf_high", "estimate"]].to_numpy(float)
        lim = float(np.nanmax(np.abs(finite))) if np.isfinite(finite).any() else 1.0
        lim = max(0.5, np.ceil(lim * 1.1 * 4) / 4)
        for ax, con in zip(axes[:, 0], contrasts):
            sub = effects.loc[effects["contrast"] == con].set_index("outcome_label").reindex(labels)
            y = np.arange(n)[::-1]
            cols = ["#222222" if primary.get(lab, True) else "#8c8c8c" for lab in labels]
            ax.hlines(y, sub["conf_low"], sub["conf_high"], colors=cols, lw=1.4)
            ax.scatter(sub["estimate"], y, marker="s", c=cols, s=22, zorder=3)
            ax.axvline(0, color="#999999", lw=0.8, ls="--")
            ax.set_yticks(y, [f"{lab}" if primary.get(lab, True) else f"{lab} (expl.)" for lab in labels])
            ax.set_ylim(-0.7, n + 0.2)
            ax.set_xlim(-lim, lim)
            ax.grid(axis="y", visible=False)
            first, second = sub["first"].dropna().iloc[0], sub["second"].dropna().iloc[0]
            ax.set_title(f"{first} vs {second}", loc="left")
            ax.text(-lim * 0.98, n - 0.3, f"\u2190 favours {second}", ha="left", va="center", fontsize=7,
                    color="#555555")
            ax.text(lim * 0.98, n - 0.3, f"favours {first} \u2192", ha="right", va="center", fontsize=7,
                    color="#555555")
            tr = blended_transform_factory(ax.transAxes, ax.transData)
            for yi, (_, r) in zip(y, sub.iterrows()):
                text = minus(f"{fmt_num(r['estimate'], 2, missing='-')} ({fmt_ci(r['conf_low'], r['conf_high'], 2, missing='-')})")
                ax.text(1.03, yi, text, transform=tr, ha="left", va="center", fontsize=7.5, clip_on=False)
            ax.text(1.03, n - 0.3, f"g ({conf_level:.0%} CI)", transform=tr, ha="left", va="center",
                    fontsize=7, color="#555555", clip_on=False)
            if synthetic:
                synthetic_mark(ax, size=14)
        axes[-1, 0].set_xlabel(f"Hedges' g with {conf_level:.0%} CI (positive = first-named arm better)")
    return fig


def diagnostics_plot(fitted: np.ndarray, residuals: np.ndarray, *, synthetic: bool = False,
                     figsize: tuple[float, float] = (6.3, 2.4)) -> Figure:
    """Residuals vs fitted values and a normal Q-Q plot of the standardized residuals."""
    import matplotlib.pyplot as plt
    from scipy import stats

    fitted = np.asarray(fitted, float)
    resid = np.asarray(residuals, float)
    with style():
        fig, (a1, a2) = plt.subplots(1, 2, figsize=figsize, layout="none")
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.18, top=0.9, wspace=0.25)
        a1.scatter(fitted, resid, s=9, color="#0072B2", alpha=0.7, linewidths=0)
        a1.axhline(0, color="#999999", lw=0.8, ls="--")
        a1.set_xlabel("Fitted value")
        a1.set_ylabel("Residual")
        a1.set_title("Residuals vs fitted", loc="left")
        z = (resid - resid.mean()) / resid.std(ddof=1) if len(resid) > 1 else resid
        (osm, osr), _ = stats.probplot(z, dist="norm")
        a2.scatter(osm, osr, s=9, color="#0072B2", alpha=0.7, linewidths=0)
        lo, hi = float(np.min(osm)), float(np.max(osm))
        a2.plot([lo, hi], [lo, hi], color="#999999", lw=0.8, ls="--")
        a2.set_xlabel("Normal quantile")
        a2.set_ylabel("Standardized residual")
        a2.set_title("Normal Q-Q", loc="left")
        if synthetic:
            synthetic_mark(a1, size=13)
            synthetic_mark(a2, size=13)
    return fig
