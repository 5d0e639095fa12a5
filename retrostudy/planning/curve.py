"""Power curves over the sample size: analytic (:func:`power_curve`) and their figure."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecError

__all__ = ["power_curve", "power_curve_plot"]

CURVE_COLUMNS = ("design", "n_total", "n1", "n2", "power", "effect")


def power_curve(design: str | Callable[..., Any], n_total: Sequence[float] | np.ndarray, **kwargs: Any) -> pd.DataFrame:
    """Power at each total sample size for one analytic design.

    Parameters
    ----------
    design
        ``"ttest"``, ``"ancova"``, ``"mmrm"`` or one of the functions ``rs.power_*``.
    n_total
        Total sample sizes (all arms).
    **kwargs
        The other arguments of the planner (``effect``, ``sd``, ...; not ``power``).

    Returns
    -------
    pandas.DataFrame
        Columns ``design, n_total, n1, n2, power, effect``.

    Examples
    --------
    >>> from retrostudy.planning import power_curve
    >>> power_curve("ttest", [40, 128], effect=0.5, sd=1)["power"].round(3).tolist()
    [0.338, 0.801]
    """
    from .analytic import power_ancova, power_mmrm, power_ttest

    funcs: dict[str, Callable[..., Any]] = {"ttest": power_ttest, "ancova": power_ancova, "mmrm": power_mmrm}
    func = funcs.get(design) if isinstance(design, str) else design
    if func is None:
        raise SpecError(f"design must be one of {', '.join(funcs)}, not {design!r}.")
    if "power" in kwargs and kwargs["power"] is not None:
        raise SpecError("A power curve computes the power; do not give power=.")
    kwargs.pop("power", None)
    name = func.__name__.replace("power_", "")
    allocation = float(kwargs.get("allocation", 1.0))
    arms = int(kwargs.get("arms", 2))
    rows = []
    for n in n_total:
        n = float(n)
        if name == "mmrm":
            res = func(n_total=n, **kwargs)
        else:
            res = func(n1=n * allocation / ((arms - 1) * allocation + 1.0), **kwargs)
        rows.append((name, res.n_total, res.n1, res.n2, res.power, res.effect))
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def power_curve_plot(curves: pd.DataFrame, *, target: float | None = 0.8, title: str = "",
                     figsize: tuple[float, float] = (5.5, 3.2)):
    """Power against total sample size, one line per ``design`` (or ``label``) column value.

    Parameters
    ----------
    curves
        Rows with ``n_total``, ``power`` and ``design`` (or ``label``); optional
        ``conf_low`` / ``conf_high`` (a simulated curve's Monte Carlo interval) are drawn
        as error bars.
    target
        A horizontal reference line at this power (None: none).
    title
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    from ..figures import ARM_COLOURS, style

    key = "label" if "label" in curves.columns else "design"
    with style():
        fig, ax = plt.subplots(figsize=figsize)
        for i, (name, part) in enumerate(curves.groupby(key, sort=False)):
            part = part.sort_values("n_total")
            colour = ARM_COLOURS[i % len(ARM_COLOURS)]
            if {"conf_low", "conf_high"} <= set(part.columns) and part["conf_low"].notna().any():
                yerr = np.vstack([part["power"] - part["conf_low"], part["conf_high"] - part["power"]])
                ax.errorbar(part["n_total"], part["power"], yerr=yerr, fmt="o", ms=3.5, capsize=2,
                            color=colour, label=str(name))
            else:
                ax.plot(part["n_total"], part["power"], "-", color=colour, label=str(name))
        if target is not None:
            ax.axhline(target, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel("total sample size (all arms)")
        ax.set_ylabel("power")
        ax.set_ylim(0, 1.02)
        if title:
            ax.set_title(title)
        ax.legend(frameon=False, fontsize="small", loc="lower right")
    return fig
