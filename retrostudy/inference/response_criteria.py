"""What counts as a response: per-outcome improvement thresholds and their sources.

A :class:`ResponseCriterion` says, for one outcome, how much a subject must improve from
baseline to the analysis visit to be a responder: an absolute improvement (in the outcome's
units), a relative improvement (a fraction of the baseline value), or both (``rule="all"``:
both must be met; ``rule="any"``: one is enough). Improvement is signed by the outcome's
direction: ``baseline - value`` when lower is better (pain, WOMAC, TUG), ``value - baseline``
when higher is better (strength). Thresholds are inclusive: improvement ``>=`` threshold, up to a
relative rounding slack of ``1e-9`` so that e.g. 3 of 6 points is 50 %.

Named sets of defaults (``criteria=``), each threshold with its source:

``"mcii"`` (default): the minimal clinically important improvement in knee OA, Tubach F, Ravaud P,
    Baron G, et al. Evaluation of clinically relevant changes in patient reported outcomes in
    knee and hip osteoarthritis: the minimal clinically important improvement. Ann Rheum Dis
    2005;64:29-33 (the 75th percentile of improvement among patients who rated their response
    "good"; knee OA: pain -19.9 mm on a 0-100 VAS, relative -40.8 %; WOMAC function -9.1 on its
    0-100 normalised score, relative -26.0 %). The absolute MCII is used, as a fraction of the
    outcome's range: pain 19.9 % of the range (1.99 points on the NRS 0-10, so a 2-point drop),
    WOMAC 9.1 % of the range (8.736 points on the total 0-96, so a 9-point drop; Tubach's value is
    for the function subscale, which dominates the total). Tubach's relative MCIIs are available
    as ``relative=0.408`` (pain) or ``relative=0.26`` (WOMAC). Timed up-and-go has no MCII in
    Tubach; its default is the minimal detectable change in knee OA, 1.10 s (Alghadir A, Anwer S,
    Brismee JM. The reliability and minimal detectable change of Timed Up and Go test in
    individuals with grade 1-3 knee osteoarthritis. BMC Musculoskelet Disord 2015;16:174), a
    change beyond measurement error rather than one patients call important.
``"omeract-oarsi-high"``: the "high improvement" arm of the OMERACT-OARSI responder criteria
    (Pham T, van der Heijde D, Altman RD, et al. OMERACT-OARSI initiative: Osteoarthritis
    Research Society International set of responder criteria for osteoarthritis clinical trials
    revisited. Osteoarthritis Cartilage 2004;12:389-399): improvement >= 50 % and >= 20 on a
    0-100 scale (20 % of the range), both, for pain and for WOMAC.
``"omeract-oarsi-moderate"``: the per-domain improvement of the same criteria (>= 20 % and >= 10
    on a 0-100 scale), both, for pain and for WOMAC.

Applied to one outcome, the OMERACT-OARSI thresholds are not the composite OMERACT-OARSI
responder (which combines pain, function and the patient's global assessment); the bundled trial
has no patient global assessment. Quadriceps strength has no default in any set (no threshold
for knee OA strength is established well enough to be a default): give ``threshold=`` or
``relative=``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import SpecError
from ..schema import Outcome

__all__ = ["CRITERIA", "CRITERIA_SOURCES", "ResponseCriterion", "resolve_criterion"]

TUBACH_2005 = ("Tubach F, et al. Ann Rheum Dis 2005;64:29-33 (minimal clinically important improvement, "
               "knee OA)")
PHAM_2004 = ("Pham T, et al. Osteoarthritis Cartilage 2004;12:389-399 (OMERACT-OARSI responder criteria)")
ALGHADIR_2015 = ("Alghadir A, Anwer S, Brismee JM. BMC Musculoskelet Disord 2015;16:174 (minimal detectable "
                 "change of TUG in knee OA)")

#: The named default sets: outcome -> threshold spec. ``range_fraction`` is an absolute
#: threshold given as a fraction of the outcome's range (``high - low``); ``absolute`` is in the
#: outcome's units; ``relative`` a fraction of baseline; ``rule`` combines the two.
CRITERIA: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "mcii": {
        "pain_nrs": {"range_fraction": 0.199, "rule": "all", "source": TUBACH_2005,
                     "basis": "MCII for knee pain, 19.9 on a 0-100 scale, as a fraction of the scale range"},
        "womac": {"range_fraction": 0.091, "rule": "all", "source": TUBACH_2005,
                  "basis": "MCII for WOMAC function, 9.1 on a 0-100 scale, as a fraction of the scale range"},
        "tug": {"absolute": 1.10, "rule": "all", "source": ALGHADIR_2015,
                "basis": "minimal detectable change (no MCII is published for TUG in knee OA)"},
    },
    "omeract-oarsi-high": {
        oc: {"range_fraction": 0.20, "relative": 0.50, "rule": "all", "source": PHAM_2004,
             "basis": "high improvement: >= 50 % and >= 20 on a 0-100 scale"}
        for oc in ("pain_nrs", "womac")
    },
    "omeract-oarsi-moderate": {
        oc: {"range_fraction": 0.10, "relative": 0.20, "rule": "all", "source": PHAM_2004,
             "basis": "domain improvement: >= 20 % and >= 10 on a 0-100 scale"}
        for oc in ("pain_nrs", "womac")
    },
}

#: Full citations of the default sets.
CRITERIA_SOURCES: Mapping[str, str] = {"mcii": TUBACH_2005, "omeract-oarsi-high": PHAM_2004,
                                       "omeract-oarsi-moderate": PHAM_2004}

_SLACK = 1e-9


@dataclass(frozen=True)
class ResponseCriterion:
    """A responder definition for one outcome.

    Parameters
    ----------
    outcome
        Outcome id.
    direction
        ``"lower_is_better"`` or ``"higher_is_better"``: which way is improvement.
    absolute
        Minimum improvement in the outcome's units (``>= 0``), or ``None``.
    relative
        Minimum improvement as a fraction of the baseline value (``0.5`` = 50 %), or ``None``.
    rule
        ``"all"``: every given threshold must be met; ``"any"``: one is enough.
    name
        The default set it came from (``"mcii"``, ...) or ``"user"``.
    source
        Citation of the thresholds.
    basis
        How the thresholds were derived from the source, in words.
    unit
        The outcome's unit, for the description.
    """

    outcome: str
    direction: str
    absolute: float | None = None
    relative: float | None = None
    rule: str = "all"
    name: str = "user"
    source: str = "given by the user"
    basis: str = ""
    unit: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("lower_is_better", "higher_is_better"):
            raise SpecError(f"direction must be 'lower_is_better' or 'higher_is_better', not {self.direction!r}.")
        if self.absolute is None and self.relative is None:
            raise SpecError(f"The response criterion for {self.outcome} needs a threshold: give threshold= "
                            "(an absolute improvement) and/or relative= (a fraction of baseline).")
        for label, v in (("threshold", self.absolute), ("relative", self.relative)):
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise SpecError(f"The {label} of a response must be a number >= 0 (an improvement), not {v!r}.")
        if self.relative is not None and self.relative > 1 and self.direction == "lower_is_better":
            raise SpecError(f"relative={self.relative!r} asks for more than a 100 % reduction; give a fraction "
                            "such as 0.5 for 50 %.")
        if self.rule not in ("all", "any"):
            raise SpecError(f"rule must be 'all' (every threshold met) or 'any' (one is enough), not {self.rule!r}.")

    @property
    def lower_is_better(self) -> bool:
        return self.direction == "lower_is_better"

    def improvement(self, baseline: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Improvement from baseline, positive = better (NaN where either is missing)."""
        b = np.asarray(baseline, float)
        v = np.asarray(value, float)
        return b - v if self.lower_is_better else v - b

    def relative_improvement(self, baseline: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Improvement as a fraction of the baseline value (NaN where the baseline is <= 0)."""
        b = np.asarray(baseline, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b > 0, self.improvement(b, value) / b, np.nan)

    def met(self, baseline: np.ndarray, value: np.ndarray) -> np.ndarray:
        """Whether each subject responds (False where baseline or value is missing, or where a
        relative threshold applies and the baseline is <= 0)."""
        imp = self.improvement(baseline, value)
        checks = []
        if self.absolute is not None:
            checks.append(np.nan_to_num(imp, nan=-np.inf) >= self.absolute - _SLACK * max(1.0, self.absolute))
        if self.relative is not None:
            rel = np.nan_to_num(self.relative_improvement(baseline, value), nan=-np.inf)
            checks.append(rel >= self.relative - _SLACK)
        out = np.logical_and.reduce(checks) if self.rule == "all" else np.logical_or.reduce(checks)
        return np.asarray(out & np.isfinite(imp), bool)

    def describe(self) -> str:
        """The definition in words, e.g. ``"improvement >= 1.99 points from baseline"``."""
        parts = []
        unit = f" {self.unit}" if self.unit else ""
        if self.absolute is not None:
            parts.append(f"improvement >= {self.absolute:.4g}{unit}")
        if self.relative is not None:
            parts.append(f"improvement >= {100 * self.relative:.4g} % of baseline")
        joined = (" and " if self.rule == "all" else " or ").join(parts)
        better = "a decrease" if self.lower_is_better else "an increase"
        return f"{joined} (improvement = {better} from baseline)"

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "direction": self.direction, "absolute": self.absolute,
                "relative": self.relative, "rule": self.rule, "name": self.name, "source": self.source,
                "basis": self.basis, "unit": self.unit, "description": self.describe()}


def resolve_criterion(
    info: Outcome,
    *,
    criteria: str | ResponseCriterion = "mcii",
    threshold: float | None = None,
    relative: float | None = None,
    rule: str | None = None,
) -> ResponseCriterion:
    """The response criterion for an outcome: the user's thresholds, or the named default set's.

    ``threshold`` / ``relative`` replace the defaults entirely (the criterion then has exactly
    the thresholds given; ``rule`` defaults to ``"all"``). ``criteria`` may also be a
    :class:`ResponseCriterion` (used as it is, with its outcome checked).
    """
    if isinstance(criteria, ResponseCriterion):
        if criteria.outcome != info.id:
            raise SpecError(f"The response criterion is for {criteria.outcome!r}, not {info.id!r}.")
        if threshold is not None or relative is not None or rule is not None:
            raise SpecError("Give either a ResponseCriterion or threshold=/relative=/rule=, not both.")
        return criteria
    if threshold is not None or relative is not None:
        return ResponseCriterion(info.id, info.direction, None if threshold is None else float(threshold),
                                 None if relative is None else float(relative), rule or "all", unit=info.unit)
    if criteria not in CRITERIA:
        raise SpecError(f"criteria must be one of {', '.join(CRITERIA)} or a ResponseCriterion, not {criteria!r}.")
    spec = CRITERIA[criteria].get(info.id)
    if spec is None:
        have = ", ".join(CRITERIA[criteria])
        raise SpecError(f"There is no default response threshold for {info.id!r} in criteria {criteria!r} (it has "
                        f"{have}); give threshold= (an improvement in {info.unit or 'its units'}) and/or relative=.")
    absolute = spec.get("absolute")
    if "range_fraction" in spec:
        if info.low is None or info.high is None:
            raise SpecError(f"The {criteria!r} threshold for {info.id!r} is a fraction of the scale's range, but the "
                            "outcome has no declared low and high; declare them or give threshold=.")
        absolute = round(spec["range_fraction"] * (info.high - info.low), 12)
    crit = ResponseCriterion(info.id, info.direction, absolute, spec.get("relative"), spec.get("rule", "all"),
                             name=str(criteria), source=spec["source"], basis=spec.get("basis", ""), unit=info.unit)
    return replace(crit, rule=rule) if rule is not None else crit
