"""The report's missing-data sensitivity analyses of one primary outcome: ``rs.sensitivity`` under each strategy
of the settings and ``rs.tipping_point`` for the arm of interest against the reference arm.

An analysis that cannot be done is reported with its reason (one sentence), never replaced by a number.
The automatic delta grid runs from 0 to 4 baseline standard deviations of the outcome in 41 points, in the
direction that moves ``tipping_arm - reference_arm`` (under the tipping strategy, without a shift) towards no
difference.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RetrostudyError
from ..trial import TrialData
from .spec import ReportSpec

__all__ = ["MissingResult", "StrategyResult", "analyse_missing", "arm_estimate", "automatic_grid", "baseline_sd"]

#: The automatic grid: this many baseline SDs, in this many points (0 included).
GRID_SDS, GRID_POINTS = 4.0, 41


@dataclass(frozen=True, eq=False)
class StrategyResult:
    """``rs.sensitivity`` under one strategy, or why it could not be done."""

    strategy: str
    status: str  # "ok" or "failed"
    message: str = ""
    result: Any = None  # SensitivityResult

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True, eq=False)
class MissingResult:
    """The sensitivity analyses of one outcome.

    Attributes
    ----------
    outcome
        The outcome id.
    strategies
        One :class:`StrategyResult` per strategy of the settings.
    tipping, tipping_message
        The :class:`~retrostudy.missing.results.TippingPointResult`, or the reason there is none.
    deltas, grid_source, baseline_sd
        The grid used, ``"settings"`` or ``"automatic"``, and the baseline SD the automatic grid is scaled by.
    contrast
        The contrast of the tipping point and of the figure (``tipping_arm - reference_arm``, or the other way
        round when the reference arm comes first).
    """

    outcome: str
    strategies: tuple[StrategyResult, ...]
    tipping: Any = None
    tipping_message: str = ""
    deltas: tuple[float, ...] = ()
    grid_source: str = "automatic"
    baseline_sd: float = float("nan")
    contrast: str = ""


def _covariates(spec: ReportSpec) -> list[str]:
    return [c for c in spec.covariates if ":" not in c]


def _common(spec: ReportSpec) -> dict[str, Any]:
    s = spec.sensitivity
    kw: dict[str, Any] = {"method": s.method, "baseline": s.baseline, "reference_arm": spec.reference_arm,
                          "covariates": _covariates(spec), "covariance": spec.covariance,
                          "conf_level": spec.conf_level, "family": "pairwise", "progress": False}
    if s.random:
        kw.update(seed=s.seed, n_samples=s.n_samples)
    return kw


def baseline_sd(trial: TrialData, outcome: str, baseline_visit: str) -> float:
    """SD of the outcome at the baseline visit over all participants (the automatic grid's unit)."""
    d = trial.data
    v = d.loc[(d["outcome"].astype(str) == outcome) & (d["visit"].astype(str) == baseline_visit), "value"]
    v = v.dropna().to_numpy(float)
    return float(np.std(v, ddof=1)) if v.size > 1 else float("nan")


def automatic_grid(estimate: float, sd: float) -> tuple[float, ...]:
    """0 to 4 SDs in 41 points, signed so that the shift moves ``estimate`` (arm minus reference) towards 0."""
    step = sd if np.isfinite(sd) and sd > 0 else 1.0
    sign = 1.0 if not np.isfinite(estimate) or estimate < 0 else -1.0
    grid = sign * step * np.linspace(0.0, GRID_SDS, GRID_POINTS)
    return tuple(float(round(x, 10)) + 0.0 for x in grid)


def arm_estimate(result: Any, arm: str, reference_arm: str, visit: str | None = None) -> float:
    """``arm - reference_arm`` at ``visit`` (default: the last visit) from a SensitivityResult's table."""
    t = result.to_frame()
    visit = str(t["visit"].iloc[-1]) if visit is None else visit
    t = t.loc[t["visit"].astype(str) == visit].set_index("contrast")
    if f"{arm} - {reference_arm}" in t.index:
        return float(t.loc[f"{arm} - {reference_arm}", "estimate"])
    if f"{reference_arm} - {arm}" in t.index:
        return -float(t.loc[f"{reference_arm} - {arm}", "estimate"])
    return float("nan")


def analyse_missing(trial: TrialData, outcome: str, spec: ReportSpec) -> MissingResult:
    """The sensitivity analyses of ``outcome`` as the settings ask (see the module docstring)."""
    from ..missing import sensitivity, tipping_point

    s = spec.sensitivity
    kw = _common(spec)
    out = []
    for strategy in s.strategies:
        try:
            r = sensitivity(trial, outcome=outcome, strategy=strategy, **kw)
        except RetrostudyError as exc:
            out.append(StrategyResult(strategy, "failed", str(exc)))
            continue
        out.append(StrategyResult(strategy, "ok", "", r))
    arm, ref = s.tipping_arm, spec.reference_arm
    # the pairwise family names each pair in arm order
    contrast = f"{arm} - {ref}" if spec.arms.index(arm) < spec.arms.index(ref) else f"{ref} - {arm}"
    sd = baseline_sd(trial, outcome, spec.baseline_visit)
    if s.deltas is not None:
        grid, source = s.deltas, "settings"
    else:  # against the arm's difference under the tipping strategy without a shift
        base = next((sr.result for sr in out if sr.ok and sr.strategy == s.tipping_strategy), None)
        if base is None:
            try:
                base = sensitivity(trial, outcome=outcome, strategy=s.tipping_strategy, **kw)
            except RetrostudyError:
                base = None
        est = arm_estimate(base, arm, ref, spec.final_visit) if base is not None else float("nan")
        grid, source = automatic_grid(est, sd), "automatic"
    tip, message = None, ""
    try:
        tip = tipping_point(trial, outcome=outcome, deltas=list(grid), arm=s.tipping_arm, contrast=contrast,
                            strategy=s.tipping_strategy, alpha=1.0 - spec.conf_level, **kw)
    except RetrostudyError as exc:
        message = f"The tipping-point analysis could not be done: {exc}"
    return MissingResult(outcome, tuple(out), tip, message, tuple(grid), source, sd, contrast)
