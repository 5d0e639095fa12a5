"""The estimand (ICH E9(R1)): population, variable, intercurrent events, population-level summary.

An :class:`Estimand` says *what* is estimated; :func:`retrostudy.sensitivity` says
how. It can be declared in Python or from a mapping (a dict, or the safe-loaded YAML
of ``--settings``) with :meth:`Estimand.from_mapping`, and :meth:`Estimand.describe`
writes it as sentences for a report. :meth:`Estimand.default` is the estimand of the
bundled retro-walking trial: for one primary outcome at week 6, all randomized
subjects, dropout handled by a stated strategy, and the differences in means retro −
control, forward − control and retro − forward.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import SpecError
from .ice import STRATEGY_NAMES, check_strategy

__all__ = ["E9_STRATEGIES", "Estimand", "IntercurrentEvent"]

#: ICH E9(R1) strategies for handling intercurrent events.
E9_STRATEGIES = ("treatment policy", "hypothetical", "composite", "while on treatment", "principal stratum")

#: The E9(R1) strategy an imputation strategy implements for dropout.
_E9_OF_IMPUTATION = {"mar": "hypothetical", "j2r": "treatment policy", "cr": "treatment policy",
                     "cir": "treatment policy", "lmcf": "hypothetical"}

_KEYS = {"population", "variable", "outcome", "visit", "treatments", "intercurrent_events", "summary", "contrasts"}
_ICE_KEYS = {"event", "strategy", "imputation", "description"}


@dataclass(frozen=True)
class IntercurrentEvent:
    """One kind of intercurrent event and how the estimand handles it.

    Attributes
    ----------
    event
        What happens, e.g. ``"discontinuation of the walking programme (dropout)"``.
    strategy
        The ICH E9(R1) strategy (one of :data:`E9_STRATEGIES`).
    imputation
        The imputation strategy that implements it for missing values after the event:
        ``mar``, ``j2r``, ``cr``, ``cir`` or ``lmcf``.
    description
        Optional free text.
    """

    event: str
    strategy: str
    imputation: str = "mar"
    description: str = ""

    def __post_init__(self) -> None:
        if self.strategy not in E9_STRATEGIES:
            raise SpecError(f"The ICE strategy must be one of {', '.join(E9_STRATEGIES)}, not {self.strategy!r}.")
        object.__setattr__(self, "imputation", check_strategy(self.imputation, "The ICE's imputation"))

    def to_dict(self) -> dict[str, str]:
        return {"event": self.event, "strategy": self.strategy, "imputation": self.imputation,
                "description": self.description}


@dataclass(frozen=True)
class Estimand:
    """An estimand: population, variable, intercurrent events and population-level summary.

    Attributes
    ----------
    population
        Who (e.g. ``"all randomized subjects with a baseline value"``).
    variable
        The endpoint in words (e.g. ``"pain NRS at week 6"``).
    outcome, visit
        The outcome id and the visit of the primary comparison.
    treatments
        The arms compared, in declared order.
    intercurrent_events
        Each kind of ICE with its strategy.
    summary
        The population-level summary (``"difference in means"``).
    contrasts
        The comparisons, ``"a - b"`` each.

    Examples
    --------
    >>> e = Estimand.default("pain_nrs")
    >>> e.contrasts
    ('retro - control', 'forward - control', 'retro - forward')
    >>> Estimand.from_mapping(e.to_dict()) == e
    True
    """

    population: str
    variable: str
    outcome: str
    visit: str
    treatments: tuple[str, ...]
    intercurrent_events: tuple[IntercurrentEvent, ...] = ()
    summary: str = "difference in means"
    contrasts: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "treatments", tuple(str(t) for t in self.treatments))
        object.__setattr__(self, "contrasts", tuple(str(c) for c in self.contrasts))
        object.__setattr__(self, "intercurrent_events", tuple(self.intercurrent_events))
        for c in self.contrasts:
            parts = [p.strip() for p in c.split(" - ")]
            if len(parts) != 2 or any(p not in self.treatments for p in parts):
                raise SpecError(
                    f"Contrast {c!r} of the estimand must read 'a - b' with arms of {', '.join(self.treatments)}."
                )

    @classmethod
    def default(cls, outcome: str = "pain_nrs", *, visit: str = "week6",
                treatments: Sequence[str] = ("retro", "forward", "control"), imputation: str = "mar") -> Estimand:
        """The bundled trial's estimand for one primary outcome (module docstring)."""
        from ..schema import OUTCOMES

        label = OUTCOMES[outcome].label if outcome in OUTCOMES else outcome
        arms = tuple(treatments)
        pairs = [(a, arms[-1]) for a in arms[:-1]] + [(arms[i], arms[j]) for i in range(len(arms) - 1)
                                                       for j in range(i + 1, len(arms) - 1)]
        imputation = check_strategy(imputation)
        return cls(
            population="all randomized subjects with a baseline value",
            variable=f"{label} at {visit}",
            outcome=outcome, visit=visit, treatments=arms,
            intercurrent_events=(IntercurrentEvent(
                event="discontinuation of the assigned programme before the end of the trial (dropout)",
                strategy=_E9_OF_IMPUTATION[imputation], imputation=imputation),),
            summary="difference in means",
            contrasts=tuple(f"{a} - {b}" for a, b in pairs),
        )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Estimand:
        """Build from a mapping (e.g. the ``estimand:`` block of a settings YAML read safely).

        Raises
        ------
        SpecError
            An unknown key, a missing one, or an invalid strategy or contrast.
        """
        if not isinstance(mapping, Mapping):
            raise SpecError(f"The estimand must be a mapping of {', '.join(sorted(_KEYS))}.")
        unknown = sorted(set(map(str, mapping)) - _KEYS)
        if unknown:
            raise SpecError(f"Unknown estimand key {unknown[0]!r}; known keys: {', '.join(sorted(_KEYS))}.")
        needed = ["population", "variable", "outcome", "visit", "treatments"]
        absent = [k for k in needed if k not in mapping]
        if absent:
            raise SpecError(f"The estimand needs {', '.join(absent)}.")
        events = []
        for k, ev in enumerate(mapping.get("intercurrent_events") or []):
            if not isinstance(ev, Mapping) or not {"event", "strategy"} <= set(ev) or set(ev) - _ICE_KEYS:
                raise SpecError(
                    f"Intercurrent event {k + 1} of the estimand must be a mapping with event and strategy "
                    "(and optionally imputation, description)."
                )
            events.append(IntercurrentEvent(**{str(key): str(v) for key, v in ev.items()}))
        treatments = mapping["treatments"]
        if isinstance(treatments, str) or not isinstance(treatments, Sequence):
            raise SpecError("The estimand's treatments must be a list of arms.")
        return cls(population=str(mapping["population"]), variable=str(mapping["variable"]),
                   outcome=str(mapping["outcome"]), visit=str(mapping["visit"]),
                   treatments=tuple(map(str, treatments)), intercurrent_events=tuple(events),
                   summary=str(mapping.get("summary", "difference in means")),
                   contrasts=tuple(map(str, mapping.get("contrasts") or ())))

    def with_imputation(self, imputation: str) -> Estimand:
        """The same estimand with every ICE handled by ``imputation`` (and its E9 strategy)."""
        imputation = check_strategy(imputation)
        events = tuple(replace(ev, imputation=imputation, strategy=_E9_OF_IMPUTATION[imputation])
                       for ev in self.intercurrent_events)
        return replace(self, intercurrent_events=events)

    def to_dict(self) -> dict[str, object]:
        """JSON- and YAML-safe mapping (the inverse of :meth:`from_mapping`)."""
        return {"population": self.population, "variable": self.variable, "outcome": self.outcome,
                "visit": self.visit, "treatments": list(self.treatments),
                "intercurrent_events": [ev.to_dict() for ev in self.intercurrent_events],
                "summary": self.summary, "contrasts": list(self.contrasts)}

    def describe(self) -> str:
        """The estimand as sentences."""
        lines = [
            f"Population: {self.population}.",
            f"Variable: {self.variable}.",
            f"Treatments: {', '.join(self.treatments)}.",
        ]
        for ev in self.intercurrent_events:
            lines.append(
                f"Intercurrent event: {ev.event}; {ev.strategy} strategy, missing values after it imputed "
                f"under {STRATEGY_NAMES[ev.imputation]}."
            )
        summary = f"Population-level summary: {self.summary}"
        if self.contrasts:
            summary += f" ({', '.join(c.replace(' - ', ' − ') for c in self.contrasts)})"
        lines.append(summary + ".")
        return "\n".join(lines)
