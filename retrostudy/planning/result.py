"""The result of an analytic power or sample-size calculation (:class:`PowerResult`)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..results import TidyResult

__all__ = ["POWER_COLUMNS", "PowerResult", "ceil_n"]

#: Columns of ``PowerResult.to_frame()`` (one row).
POWER_COLUMNS = ("design", "solved_for", "n1", "n2", "n_total", "n1_rounded", "n2_rounded", "n_total_rounded",
                 "effect", "sd", "standardized_effect", "power", "alpha", "alternative", "allocation", "arms",
                 "adjust", "phi1", "phi2", "test", "df", "critical_value")


def ceil_n(n: float) -> int:
    """Round a sample size up, ignoring floating-point noise (86.99999999999997 -> 87)."""
    return math.ceil(n - 1e-9 * max(1.0, abs(n)))


@dataclass(frozen=True, eq=False, repr=False)
class PowerResult(TidyResult):
    """An analytic power / sample-size result (``rs.power_ttest``, ``rs.power_ancova``, ``rs.power_mmrm``).

    Sample sizes are unrounded (as R longpower and ``power.t.test`` give them); the
    ``*_rounded`` properties round each arm up, which is what ``summary()`` prints.

    Attributes
    ----------
    design
        ``"ttest"``, ``"ancova"`` or ``"mmrm"``.
    solved_for
        The quantity that was solved for: ``"n_total"`` (``"n1"`` for the t-test and
        ANCOVA, which are sized per arm), ``"power"`` or ``"effect"``.
    n1, n2, n_total
        Subjects randomized to each experimental arm, to the control arm, and in total
        (``(arms - 1) * n1 + n2``).
    power
        Power of each experimental-vs-control comparison at ``alpha`` (family-wise when
        ``adjust`` is not ``"none"``).
    effect
        Raw difference in means at the final visit (experimental - control), in the
        outcome's unit; ``sd`` is the outcome's SD.
    phi1, phi2
        Variance inflation of each arm's final-visit mean relative to complete data
        with one observation (Lu, Luo & Chen 2008): ``1/retention`` without baseline
        information, ``1 - rho^2`` for ANCOVA with complete data, 1 for the t-test.
    allocation
        ``n1 / n2``.
    test
        How the rejection probability is computed (``"z"``, ``"t"``, ``"exact"``).
    df, critical_value
        Degrees of freedom of the test (``inf`` for z) and the critical value used.
    method
        The formula and its reference, in words.
    sources
        Where each input came from (input name -> sentence), printed by ``summary()``.
    notes
        Anything the reader should know (printed as notes).
    """

    design: str
    solved_for: str
    n1: float
    n2: float
    power: float
    effect: float
    sd: float
    alpha: float
    alternative: str
    allocation: float
    phi1: float
    phi2: float
    test: str
    df: float
    critical_value: float
    method: str
    arms: int = 2
    adjust: str = "none"
    inputs: Mapping[str, object] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def n_total(self) -> float:
        """All subjects randomized (unrounded)."""
        return (self.arms - 1) * self.n1 + self.n2

    @property
    def phi(self) -> float:
        """The first (experimental) arm's variance factor ``phi1``."""
        return self.phi1

    @property
    def n1_rounded(self) -> int:
        """Subjects per experimental arm, rounded up."""
        return ceil_n(self.n1)

    @property
    def n2_rounded(self) -> int:
        """Subjects in the control arm, rounded up."""
        return ceil_n(self.n2)

    @property
    def n_total_rounded(self) -> int:
        """Total with each arm rounded up."""
        return (self.arms - 1) * self.n1_rounded + self.n2_rounded

    @property
    def title(self) -> str:
        """The design and what was solved for."""
        names = {"ttest": "two-sample t-test", "ancova": "ANCOVA on baseline", "mmrm": "MMRM at the final visit"}
        return f"Power and sample size: {names.get(self.design, self.design)} (solved for {self.solved_for})"

    @property
    def settings(self) -> dict[str, object]:
        """Method, alpha, alternative, test (and arms and adjustment for more than two arms)."""
        out: dict[str, Any] = {"method": self.method, "alpha": self.alpha, "alternative": self.alternative,
                               "test": self.test}
        if self.arms > 2:
            out["arms"] = self.arms
            out["adjust"] = self.adjust
        out["notes"] = list(self.notes)
        return out

    @property
    def table(self) -> pd.DataFrame:
        """One row with :data:`POWER_COLUMNS`."""
        row = {
            "design": self.design, "solved_for": self.solved_for, "n1": self.n1, "n2": self.n2,
            "n_total": self.n_total, "n1_rounded": float(self.n1_rounded), "n2_rounded": float(self.n2_rounded),
            "n_total_rounded": float(self.n_total_rounded), "effect": self.effect, "sd": self.sd,
            "standardized_effect": self.effect / self.sd, "power": self.power, "alpha": self.alpha,
            "alternative": self.alternative, "allocation": self.allocation, "arms": float(self.arms),
            "adjust": self.adjust, "phi1": self.phi1, "phi2": self.phi2, "test": self.test,
            "df": self.df, "critical_value": self.critical_value,
        }
        return pd.DataFrame([row], columns=list(POWER_COLUMNS))

    def to_dict(self) -> dict[str, object]:
        """JSON-safe: the table, settings, inputs and their sources."""
        base = super().to_dict()
        base["inputs"] = {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
                          for k, v in self.inputs.items()}
        base["sources"] = dict(self.sources)
        return base

    def summary(self) -> str:
        """The plan in words: per-arm sizes rounded up, power, effect, and where the inputs came from."""
        arms = (f"{self.n1_rounded} per experimental arm x {self.arms - 1} + {self.n2_rounded} control"
                if self.arms > 2 else f"{self.n1_rounded} experimental + {self.n2_rounded} control")
        lines = [
            self.title,
            f"method: {self.method}",
            (f"n: {arms} = {self.n_total_rounded} randomized (unrounded n1 = {self.n1:.4f}, n2 = {self.n2:.4f}, "
            f"total {self.n_total:.4f})"),
            f"power: {self.power:.4f} at alpha {self.alpha:g} ({self.alternative}"
            + (f", {self.adjust} over {self.arms - 1} comparisons" if self.arms > 2 else "") + ")",
            f"effect: {self.effect:.4g} (SD {self.sd:.4g}; standardized {self.effect / self.sd:.3f})",
            f"variance factors: phi1 = {self.phi1:.4f}, phi2 = {self.phi2:.4f}; allocation n1/n2 = "
            f"{self.allocation:.4g}; test {self.test}"
            + (f" (df {self.df:.1f})" if np.isfinite(self.df) else "")
            + f", critical value {self.critical_value:.4f}",
        ]
        if self.sources:
            lines.append("inputs:")
            lines.extend(f"  {k}: {v}" for k, v in self.sources.items())
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        return "<pre>" + escape(self.summary()) + "</pre>"
