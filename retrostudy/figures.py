"""Figures: seaborn/matplotlib builders that return a :class:`matplotlib.figure.Figure`.

Every builder draws inside :func:`style` (the one packaged style,
``retrostudy/report/retrostudy.mplstyle``) and takes tidy tables, never model
objects' internals. :func:`to_svg` writes a figure as SVG whose bytes depend only on
the figure: text as paths (no font lookup when the SVG is shown), a fixed hash salt
for element ids and no date.
"""
from __future__ import annotations

import contextlib
import io
from importlib import resources
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from .schema import Outcome, get_outcome
from .trial import factor_levels

__all__ = ["style", "to_svg", "arm_palette", "trajectory_plot", "forest_plot", "diagnostics_plot"]

#: Colour-blind-safe arm colours (Okabe-Ito), in declared arm order.
ARM_COLOURS = ("#D55E00", "#0072B2", "#7F7F7F", "#009E73", "#CC79A7", "#E69F00")


def _style_path() -> str:
    return str(resources.files("retrostudy.report").joinpath("retrostudy.mplstyle"))


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


def to_svg(fig) -> bytes:
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


def trajectory_plot(
    data: pd.DataFrame,
    outcome: str,
    *,
    conf_level: float = 0.95,
    info: Outcome | None = None,
    individual: bool = True,
    figsize: tuple[float, float] = (6.3, 2.5),
):
    """Observed means by arm and week with t-based CIs over faint individual lines.

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
        Draw each subject's observed values as a faint line.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from scipy import stats

    info = info or get_outcome(outcome)
    rows = data.loc[data["outcome"].astype(str) == outcome]
    arms = factor_levels(rows["arm"]) if len(rows) else []
    colours = arm_palette(factor_levels(data["arm"]))
    weeks = sorted(rows["week"].unique())
    span = (max(weeks) - min(weeks)) if len(weeks) > 1 else 1.0
    dodge = {a: (i - (len(arms) - 1) / 2) * 0.012 * span for i, a in enumerate(arms)}
    with style():
        fig, ax = plt.subplots(figsize=figsize, layout="none")
        fig.subplots_adjust(left=0.09, right=0.76, bottom=0.16, top=0.89)
        for arm in arms:
            sub = rows.loc[rows["arm"].astype(str) == arm]
            if individual:
                segs = [one[["week", "value"]].to_numpy(float) for _, one in
                        sub.sort_values(["subject_id", "week"]).groupby("subject_id", sort=True, observed=True)]
                ax.add_collection(LineCollection(segs, colors=colours[arm], alpha=0.12, linewidths=0.6, zorder=1))
            g = sub.groupby("week", sort=True)["value"]
            summ = pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "n": g.count()})
            q = stats.t.ppf(0.5 + conf_level / 2, np.maximum(summ["n"] - 1, 1))
            half = np.where(summ["n"] > 1, q * summ["sd"] / np.sqrt(summ["n"]), np.nan)
            x = summ.index.to_numpy(float) + dodge[arm]
            ax.errorbar(x, summ["mean"], yerr=half, color=colours[arm], marker="o", ms=4, capsize=3,
                        lw=1.8, zorder=3, label=f"{arm} (n = {int(sub['subject_id'].nunique())})")
        ax.autoscale_view()
        ax.set_xticks(weeks)
        ax.set_xlabel("Week")
        ax.set_ylabel(info.display)
        better = "lower" if info.lower_is_better else "higher"
        ax.set_title(f"{info.label}: observed mean with {conf_level:.0%} CI by arm ({better} is better)",
                     loc="left")
        handles, labels = ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="center left", bbox_to_anchor=(0.78, 0.5), title="Arm", borderaxespad=0)
    return fig


def forest_plot(effects: pd.DataFrame, *, conf_level: float = 0.95, figsize: tuple[float, float] | None = None):
    """Standardized contrasts across outcomes, one panel per contrast.

    Parameters
    ----------
    effects
        One row per outcome x contrast with columns ``outcome_label, contrast, first,
        second, estimate, conf_low, conf_high`` where the numbers are already oriented
        so that a positive value means the first-named arm did better (the report
        flips outcomes where lower is better).
    """
    import matplotlib.pyplot as plt

    contrasts = list(dict.fromkeys(effects["contrast"]))
    labels = list(dict.fromkeys(effects["outcome_label"]))
    n = len(labels)
    if figsize is None:
        figsize = (6.3, 0.8 + 0.27 * (n + 1) * len(contrasts) + 0.3 * len(contrasts))
    with style():
        fig, axes = plt.subplots(len(contrasts), 1, figsize=figsize, sharex=True, squeeze=False, layout="none")
        fig.subplots_adjust(left=0.2, right=0.97, bottom=0.7 / figsize[1], top=1 - 0.3 / figsize[1],
                            hspace=0.45)
        finite = effects[["conf_low", "conf_high", "estimate"]].to_numpy(float)
        lim = float(np.nanmax(np.abs(finite))) if np.isfinite(finite).any() else 1.0
        lim = max(0.5, np.ceil(lim * 1.15 * 4) / 4)
        for ax, con in zip(axes[:, 0], contrasts):
            sub = effects.loc[effects["contrast"] == con].set_index("outcome_label").reindex(labels)
            y = np.arange(n)[::-1]
            ax.hlines(y, sub["conf_low"], sub["conf_high"], color="#333333", lw=1.4)
            ax.plot(sub["estimate"], y, "s", color="#333333", ms=5)
            ax.axvline(0, color="#999999", lw=0.8, ls="--")
            ax.set_yticks(y, labels)
            ax.set_ylim(-0.7, n + 0.15)
            ax.set_xlim(-lim, lim)
            ax.grid(axis="y", visible=False)
            first, second = sub["first"].dropna().iloc[0], sub["second"].dropna().iloc[0]
            ax.set_title(f"{first} vs {second}", loc="left")
            ax.text(-lim * 0.98, n - 0.25, f"\u2190 favours {second}", ha="left", va="center", fontsize=7.5,
                    color="#555555")
            ax.text(lim * 0.98, n - 0.25, f"favours {first} \u2192", ha="right", va="center", fontsize=7.5,
                    color="#555555")
        axes[-1, 0].set_xlabel(f"Hedges' g at the final visit with {conf_level:.0%} CI "
                               "(oriented: positive = first-named arm better)")
    return fig


def diagnostics_plot(fitted: np.ndarray, residuals: np.ndarray, *, title: str = "",
                     figsize: tuple[float, float] = (6.3, 2.5)):
    """Residuals vs fitted values and a normal Q-Q plot of the standardized residuals."""
    import matplotlib.pyplot as plt
    from scipy import stats

    fitted = np.asarray(fitted, float)
    resid = np.asarray(residuals, float)
    with style():
        fig, (a1, a2) = plt.subplots(1, 2, figsize=figsize, layout="none")
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.17, top=0.88, wspace=0.25)
        a1.scatter(fitted, resid, s=9, color="#0072B2", alpha=0.7, linewidths=0)
        a1.axhline(0, color="#999999", lw=0.8, ls="--")
        a1.set_xlabel("Fitted value")
        a1.set_ylabel("Residual")
        a1.set_title(f"{title}: residuals vs fitted" if title else "Residuals vs fitted", loc="left")
        z = (resid - resid.mean()) / resid.std(ddof=1) if len(resid) > 1 else resid
        (osm, osr), _ = stats.probplot(z, dist="norm")
        a2.scatter(osm, osr, s=9, color="#0072B2", alpha=0.7, linewidths=0)
        lo, hi = float(np.min(osm)), float(np.max(osm))
        a2.plot([lo, hi], [lo, hi], color="#999999", lw=0.8, ls="--")
        a2.set_xlabel("Normal quantile")
        a2.set_ylabel("Standardized residual")
        a2.set_title("Normal Q-Q", loc="left")
    return fig
