"""The report settings ``estimand`` and ``sensitivity``, resolved against the data.

``estimand`` declares, per primary outcome, what the report estimates (an
:class:`~retrostudy.missing.estimand.Estimand`); unset keys keep the report's default:
all randomised participants, the outcome at the final visit, dropout handled by the
hypothetical strategy (missing values as under MAR, which the primary model assumes), and
the differences in means of every arm vs the reference arm and of the other pairs.

``sensitivity`` sets the missing-data sensitivity analyses of the primary outcomes
(:data:`retrostudy.options.SENSITIVITY_SETTINGS` lists the keys and defaults), or is
``false`` to leave the multiple imputation out (the estimand and the pattern of missing
values are still reported).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..errors import SpecError
from ..options import MI_BASELINE, MI_METHODS, MI_STRATEGIES, SENSITIVITY_SETTINGS, did_you_mean

__all__ = ["SensitivitySpec", "default_estimand", "make_estimands", "make_sensitivity_spec"]

#: The keys of one estimand in the settings (those of ``Estimand.from_mapping``).
ESTIMAND_KEYS = ("population", "variable", "outcome", "visit", "treatments", "intercurrent_events", "summary",
                 "contrasts")


@dataclass(frozen=True)
class SensitivitySpec:
    """The report's missing-data sensitivity analyses (setting ``sensitivity``).

    Attributes
    ----------
    enabled
        False when the settings say ``sensitivity: false``.
    strategies, method, n_samples, seed, baseline
        As ``rs.sensitivity`` takes them (one analysis per strategy and primary outcome).
    tipping_arm, tipping_strategy, deltas
        The tipping point: the arm whose imputed values are shifted (default: the first arm that is not the
        reference arm), the strategy it starts
        from, and the grid (``None``: automatic, see :data:`retrostudy.options.SENSITIVITY_SETTINGS`).
    """

    enabled: bool = True
    strategies: tuple[str, ...] = tuple(MI_STRATEGIES)
    method: str = "condmean-jackknife"
    n_samples: int | None = None
    seed: int | None = 1
    baseline: str = "none"
    tipping_arm: str = ""
    tipping_strategy: str = "mar"
    deltas: tuple[float, ...] | None = None

    @property
    def random(self) -> bool:
        """Whether the method draws random numbers (so the seed matters)."""
        return self.method != "condmean-jackknife"

    def to_dict(self) -> dict[str, Any]:
        if not self.enabled:
            return {"enabled": False}
        return {"strategies": list(self.strategies), "method": self.method, "n_samples": self.n_samples,
                "seed": self.seed if self.random else None, "baseline": self.baseline,
                "tipping_arm": self.tipping_arm, "tipping_strategy": self.tipping_strategy,
                "deltas": None if self.deltas is None else list(self.deltas)}


def _choice(value: Any, choices: Sequence[str], key: str) -> str:
    text = str(value).strip().lower().replace("_", "-") if key != "baseline" else str(value).strip().lower()
    if text in choices:
        return text
    raise SpecError(f"sensitivity.{key} must be one of {', '.join(choices)}, not {value!r}"
                    f"{did_you_mean(str(value), list(choices))}.")


def _strategy(value: Any, key: str) -> str:
    from ..missing.ice import check_strategy

    return check_strategy(value, f"sensitivity.{key}")


def make_sensitivity_spec(raw: Any, arms: Sequence[str], reference_arm: str) -> SensitivitySpec:
    """The :class:`SensitivitySpec` of the setting ``sensitivity`` (a mapping, ``false`` or None).

    Raises
    ------
    SpecError
        An unknown key, strategy, method or arm, a bad seed, sample size or delta grid.
    """
    default_arm = next((str(a) for a in arms if str(a) != reference_arm), str(arms[0]))
    if raw is False:
        return SensitivitySpec(enabled=False, tipping_arm=default_arm)
    if raw is None or raw is True:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SpecError("sensitivity must be a mapping such as {strategies: [mar, j2r], method: condmean-jackknife}, "
                        f"or false to leave the sensitivity analyses out, not {raw!r}.")
    bad = [k for k in raw if k not in SENSITIVITY_SETTINGS]
    if bad:
        raise SpecError(f"Unknown key {bad[0]!r} in sensitivity{did_you_mean(str(bad[0]), list(SENSITIVITY_SETTINGS))}; "
                        f"use {', '.join(SENSITIVITY_SETTINGS)}.")
    strategies = raw.get("strategies", SENSITIVITY_SETTINGS["strategies"][0])
    if isinstance(strategies, str):
        strategies = [strategies]
    if not isinstance(strategies, Sequence) or not strategies:
        raise SpecError(f"sensitivity.strategies must be a list of {', '.join(MI_STRATEGIES)}, not {strategies!r}.")
    strats = tuple(dict.fromkeys(_strategy(s, "strategies") for s in strategies))
    method = _choice(raw.get("method", "condmean-jackknife"), MI_METHODS, "method")
    n_samples = raw.get("n_samples")
    if n_samples is not None:
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
            raise SpecError(f"sensitivity.n_samples must be a whole number of at least 2, not {n_samples!r}.")
        if method == "condmean-jackknife":
            raise SpecError("sensitivity.n_samples does not apply to the jackknife (one fit per participant); "
                            "leave it out or choose another method.")
    seed = raw.get("seed", SENSITIVITY_SETTINGS["seed"][0])
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise SpecError(f"sensitivity.seed must be a whole number of 0 or more, not {seed!r}.")
    baseline = _choice(raw.get("baseline", SENSITIVITY_SETTINGS["baseline"][0]), MI_BASELINE[:2], "baseline")
    arm = raw.get("tipping_arm") or default_arm
    if str(arm) not in arms:
        raise SpecError(f"sensitivity.tipping_arm {arm!r} is not an arm of the data"
                        f"{did_you_mean(str(arm), list(arms))}; arms: {', '.join(arms)}.")
    if str(arm) == reference_arm:
        raise SpecError(f"sensitivity.tipping_arm {arm!r} is the reference arm; the tipping point shifts another "
                        f"arm's imputed values against it (e.g. {default_arm}).")
    deltas = raw.get("deltas")
    grid = None
    if deltas is not None:
        if isinstance(deltas, (int, float)) and not isinstance(deltas, bool):
            deltas = [deltas]
        if not isinstance(deltas, Sequence) or isinstance(deltas, str) or not deltas:
            raise SpecError("sensitivity.deltas must be a non-empty list of numbers, e.g. [0, 0.5, 1, 1.5, 2], "
                            f"not {deltas!r}.")
        if not all(isinstance(d, (int, float)) and not isinstance(d, bool) and math.isfinite(d) for d in deltas):
            raise SpecError(f"sensitivity.deltas must hold finite numbers only, not {list(deltas)!r}.")
        grid = tuple(float(d) for d in deltas)
    return SensitivitySpec(enabled=True, strategies=strats, method=method, n_samples=n_samples, seed=seed,
                           baseline=baseline, tipping_arm=str(arm),
                           tipping_strategy=_strategy(raw.get("tipping_strategy", "mar"), "tipping_strategy"),
                           deltas=grid)


def estimand_contrasts(arms: Sequence[str], reference_arm: str) -> tuple[str, ...]:
    """Every arm minus the reference arm, then the other pairs (earlier minus later arm)."""
    first = [f"{a} - {reference_arm}" for a in arms if a != reference_arm]
    others = [f"{a} - {b}" for a, b in combinations([a for a in arms if a != reference_arm], 2)]
    return tuple(first + others)


def default_estimand(outcome: str, label: str, visit: str, visit_text: str, arms: Sequence[str],
                     reference_arm: str):
    """The report's default estimand of one primary outcome (module docstring)."""
    from ..missing.estimand import Estimand, IntercurrentEvent

    return Estimand(
        population="all randomised participants", variable=f"{label} at {visit_text}", outcome=outcome, visit=visit,
        treatments=tuple(arms),
        intercurrent_events=(IntercurrentEvent(
            event="discontinuation of the assigned walking programme or of follow-up before the final visit "
                  "(dropout)",
            strategy="hypothetical", imputation="mar",
            description="the outcome as it would have been had the participant stayed in the trial"),),
        summary="difference in means", contrasts=estimand_contrasts(arms, reference_arm))


def make_estimands(raw: Any, primary_outcomes: Sequence[str], defaults: Mapping[str, Any],
                   arms: Sequence[str], final_visit: str) -> dict[str, Any]:
    """Each primary outcome's :class:`~retrostudy.missing.estimand.Estimand`: the settings' ``estimand`` (one
    mapping for every primary outcome, or one under each outcome id) over the defaults.

    Raises
    ------
    SpecError
        An unknown key, an outcome that is not primary, arms that are not the data's, a visit that is not the
        report's final visit, or anything ``Estimand.from_mapping`` refuses.
    """
    from ..missing.estimand import Estimand

    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SpecError("estimand must be a mapping of estimand keys (population, variable, intercurrent_events, "
                        "...) or of primary outcome ids to such mappings.")
    keys = [str(k) for k in raw]
    per_outcome = bool(keys) and all(k in primary_outcomes for k in keys)
    if keys and not per_outcome:
        bad = next((k for k in keys if k not in ESTIMAND_KEYS), None)
        if bad is not None:
            raise SpecError(f"Unknown key {bad!r} in estimand{did_you_mean(bad, list(ESTIMAND_KEYS) + list(primary_outcomes))}"
                            f"; use the estimand keys ({', '.join(ESTIMAND_KEYS)}) or primary outcome ids "
                            f"({', '.join(primary_outcomes)}) with those keys under them.")
    out = {}
    for o in primary_outcomes:
        own = raw.get(o, {}) if per_outcome else raw
        if own is None:
            own = {}
        if not isinstance(own, Mapping):
            raise SpecError(f"estimand.{o} must be a mapping of estimand keys, not {own!r}.")
        merged = {**defaults[o].to_dict(), **{str(k): v for k, v in own.items()}}
        if str(merged["outcome"]) != o:
            raise SpecError(f"The estimand of {o} names outcome {merged['outcome']!r}; leave outcome out or write {o}.")
        est = Estimand.from_mapping(merged)
        unknown = [t for t in est.treatments if t not in arms]
        if unknown:
            raise SpecError(f"The estimand's treatments must be arms of the data ({', '.join(arms)}), not "
                            f"{unknown[0]!r}.")
        if est.visit != final_visit:
            raise SpecError(f"The estimand's visit {est.visit!r} is not the report's final visit {final_visit!r}; "
                            f"set final_visit: {est.visit} as well.")
        out[o] = est
    return out
