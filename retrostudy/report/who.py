"""Who contributed to each analysis, in words generated from the fits (never from the settings).

Every count comes from :func:`retrostudy.report.analysis.contribution`, which reads the fit's
``n_analysed``, ``subjects_used`` and exclusion log; the report's tests compare each sentence with
the fit.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .analysis import Contribution, ModelResult
from .labels import oxford_join

__all__ = ["contributed_text", "model_name", "same_differences", "same_rows", "who_sentence"]


def model_name(model: str, baseline: str = "constrained") -> str:
    """``"cLDA MMRM"``, ``"MMRM"`` (baseline as a covariate) or ``"ANCOVA"``."""
    if model == "ancova":
        return "ANCOVA"
    return "cLDA MMRM" if baseline == "constrained" else "MMRM"


def _per_arm(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{a} {n}" for a, n in counts.items())


def _reasons(c: Contribution) -> str:
    return "; ".join(f"{reason} ({n})" for reason, n in c.reasons.items())


def who_sentence(c: Contribution, name: str, final_text: str) -> str:
    """One sentence: how many of the randomised participants the fit used (per arm), how many of them lack the
    final value (longitudinal models), and who contributes nothing and why (the fit's exclusion log)."""
    text = (f"The {name} used {c.n_used} of {c.n_randomized} randomised participants ({_per_arm(c.used)})")
    if c.model != "ancova" and 0 < c.with_final < c.n_used:
        text += (f": {c.with_final} with a {final_text} value and {c.n_used - c.with_final} without one, who "
                 "contribute their earlier values")
    if c.n_left:
        text += f"; {c.n_left} contribute nothing ({_per_arm(c.left)}): {_reasons(c)}"
    return text + "."


def contributed_text(items: Sequence[tuple[str, Contribution]], final_text: str) -> str:
    """Methods: per outcome (outcomes with the same counts share one entry), who the fit used and who not."""
    groups: dict[tuple, tuple[list[str], Contribution]] = {}
    for label, c in items:
        key = (c.model, tuple(c.used.items()), tuple(c.randomized.items()), c.with_final, tuple(c.reasons.items()))
        groups.setdefault(key, ([], c))[0].append(label)
    parts = []
    for labels, c in groups.values():
        text = f"{oxford_join(labels)}: {c.n_used} of {c.n_randomized} ({_per_arm(c.used)})"
        if c.model != "ancova" and c.with_final < c.n_used:
            text += f", {c.n_used - c.with_final} of them without a {final_text} value"
        if c.n_left:
            text += f"; {c.n_left} left out ({_per_arm(c.left)}): {_reasons(c)}"
        parts.append(text)
    return "Participants analysed: " + "; ".join(parts) + "." if parts else ""


def same_differences(a: ModelResult, b: ModelResult, visit: str, rtol: float = 1e-7) -> float | None:
    """The largest difference between two fits' contrast estimates at ``visit`` relative to their SE, when every
    estimate agrees within ``rtol`` of its SE; None when they differ (or a fit failed)."""
    if not (a.ok and b.ok):
        return None
    x = a.at(visit).set_index("contrast")
    y = b.at(visit).set_index("contrast")
    common = [c for c in x.index if c in y.index]
    if not common or len(common) != len(x.index):
        return None
    d = np.abs(x.loc[common, "estimate"].to_numpy(float) - y.loc[common, "estimate"].to_numpy(float))
    se = np.maximum(x.loc[common, "std_error"].to_numpy(float), 1e-300)
    worst = float(np.max(d / se))
    return worst if worst <= rtol else None


def same_rows(a: dict, b: dict) -> bool:
    """Whether two formatted tables print the same numbers (every cell but the first, the comparison)."""
    ra, rb = a.get("rows", []), b.get("rows", [])
    return len(ra) == len(rb) > 0 and all(list(x[1:]) == list(y[1:]) and x[0] == y[0] for x, y in zip(ra, rb))
