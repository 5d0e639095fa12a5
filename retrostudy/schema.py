"""The canonical long table and the outcome registry (DESIGN.md section 3).

One row per subject x visit x outcome. Every loader produces this table and every
model consumes it. Subject-level covariates are extra columns, constant within a
subject.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "COVARIATE_LABELS",
    "covariate_label",
    "CANONICAL_COLUMNS",
    "CANONICAL_DTYPES",
    "DEFAULT_ARMS",
    "MAX_ABS_VALUE",
    "Outcome",
    "OUTCOMES",
    "get_outcome",
    "make_outcome",
    "outcome_from_definition",
]

#: Column order of the canonical long table (contract).
CANONICAL_COLUMNS: tuple[str, ...] = (
    "study",
    "subject_id",
    "arm",
    "visit",
    "week",
    "outcome",
    "value",
    "source_file",
    "source_row",
)

#: pandas dtypes of the canonical columns; ``arm``/``visit``/``outcome``/``study`` are
#: categoricals whose categories are set from the data (``visit`` ordered by week).
CANONICAL_DTYPES: Mapping[str, str] = {
    "study": "category",
    "subject_id": "string",
    "arm": "category",
    "visit": "category",
    "week": "float64",
    "outcome": "category",
    "value": "float64",
    "source_file": "string",
    "source_row": "Int64",
}

#: Arms of the retro walking trial, in their declared order (the first is the arm of
#: interest, the last the usual-care control that is the default reference).
DEFAULT_ARMS: tuple[str, ...] = ("retro", "forward", "control")


@dataclass(frozen=True)
class Outcome:
    """One outcome measure: its id, how to display it and which values are valid.

    Parameters
    ----------
    id
        snake_case identifier used in the canonical table.
    label, unit
        Display label and unit (``""`` for a score without unit).
    low, high
        Valid range; ``None`` for an open end.
    low_inclusive, high_inclusive
        Whether the ends themselves are valid (TUG of 0 s is not).
    direction
        ``"lower_is_better"`` or ``"higher_is_better"``.
    version
        The instrument's version where it has several (WOMAC).

    Raises
    ------
    ValueError
        An unknown ``direction`` or an empty range (``low`` not below ``high``).

    Examples
    --------
    >>> import retrostudy as rs
    >>> pain = rs.OUTCOMES["pain_nrs"]
    >>> pain.display, pain.range_text(), pain.in_range(10.0), pain.in_range(10.5)
    ('Pain (NRS), points', 'from 0 to 10', True, False)
    >>> rs.Outcome("gait_speed", "Gait speed", "m/s", low=0, low_inclusive=False,
    ...            direction="higher_is_better").range_text()
    'above 0'
    """

    id: str
    label: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True
    direction: str = "lower_is_better"
    version: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("lower_is_better", "higher_is_better"):
            raise ValueError(f"direction must be lower_is_better or higher_is_better, not {self.direction!r}")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"outcome {self.id}: low ({self.low}) must be below high ({self.high})")

    @property
    def lower_is_better(self) -> bool:
        """Whether a decrease is an improvement (pain, WOMAC, TUG)."""
        return self.direction == "lower_is_better"

    @property
    def display(self) -> str:
        """Label with unit, e.g. ``"Timed up-and-go (s)"``; ``"Pain (NRS), points"`` when the label
        already ends in brackets (never two bracket pairs in a row)."""
        if not self.unit:
            return self.label
        return f"{self.label}, {self.unit}" if self.label.rstrip().endswith(")") else f"{self.label} ({self.unit})"

    def range_text(self) -> str:
        """The valid range in words, e.g. ``"from 0 to 10"`` or ``"above 0"``."""
        def num(x: float) -> str:
            return f"{x:g}"

        if self.low is not None and self.high is not None:
            if self.low_inclusive and self.high_inclusive:
                return f"from {num(self.low)} to {num(self.high)}"
            return (f"{'at least' if self.low_inclusive else 'above'} {num(self.low)} and "
                    f"{'at most' if self.high_inclusive else 'below'} {num(self.high)}")
        if self.low is not None:
            return f"{'at least' if self.low_inclusive else 'above'} {num(self.low)}"
        if self.high is not None:
            return f"{'at most' if self.high_inclusive else 'below'} {num(self.high)}"
        return "any number"

    def in_range(self, value: float) -> bool:
        """Whether a (non-missing, finite) value is valid for this outcome."""
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (value == self.low and not self.low_inclusive)):
            return False
        if self.high is not None and (value > self.high or (value == self.high and not self.high_inclusive)):
            return False
        return True

    def to_dict(self) -> dict[str, object]:
        """The fields as a JSON-safe dict (what ``TrialData.meta["outcomes"]`` holds)."""
        return {
            "id": self.id, "label": self.label, "unit": self.unit, "low": self.low, "high": self.high,
            "low_inclusive": self.low_inclusive, "high_inclusive": self.high_inclusive,
            "direction": self.direction, "version": self.version,
        }


#: Default outcome registry; a mapping file or keyword arguments can override any field.
#: Every registered outcome has a plausible upper bound, so an absurd number (``1e308`` kg)
#: is refused as out of range instead of being analysed: quadriceps strength up to 200 kg
#: (isometric knee-extension force of the strongest adults is about 100 kg), timed up-and-go
#: up to 300 s (severely impaired older adults take about 30-60 s; a test abandoned after
#: minutes is not a TUG time).
OUTCOMES: Mapping[str, Outcome] = {
    "pain_nrs": Outcome("pain_nrs", "Pain (NRS)", "points", 0.0, 10.0, direction="lower_is_better"),
    "womac": Outcome("womac", "WOMAC total", "points", 0.0, 96.0, direction="lower_is_better",
                     version="WOMAC 3.1 Likert, total 0-96"),
    "quad_strength": Outcome("quad_strength", "Quadriceps strength", "kg", 0.0, 200.0,
                             direction="higher_is_better"),
    "tug": Outcome("tug", "Timed up-and-go", "s", 0.0, 300.0, low_inclusive=False,
                   direction="lower_is_better"),
}

#: Largest size of any outcome value, for outcomes without a registered or declared bound
#: (an unknown outcome id, or a bound set to null in the mapping): beyond it a number is a
#: code or an overflow, not a measurement, and is refused. Models stay exact far below it.
MAX_ABS_VALUE = 1e12


def get_outcome(outcome_id: str, registry: Mapping[str, Outcome] | None = None) -> Outcome:
    """The registry entry for ``outcome_id``; unknown ids get an open-range entry."""
    reg = OUTCOMES if registry is None else registry
    if outcome_id in reg:
        return reg[outcome_id]
    return Outcome(outcome_id, outcome_id.replace("_", " ").capitalize())


def make_outcome(outcome_id: str, **overrides: Any) -> Outcome:
    """A registry entry with some fields overridden (``low``, ``high``, ``unit``, ...).

    ``overrides`` are :class:`Outcome` fields of several types (``Any``: a union would not
    match each field's type); ``Outcome`` checks direction and range.
    """
    return replace(get_outcome(outcome_id), **overrides)


def outcome_from_definition(definition: Mapping[str, object]) -> Outcome | None:
    """The :class:`Outcome` a loader defined (``Outcome.to_dict()`` as stored in
    ``TrialData.meta["outcomes"]``; other keys are ignored), or None when the definition is
    not a valid outcome (no id or label, a field of the wrong type, an empty range)."""
    oid, label = definition.get("id"), definition.get("label")
    unit, version = definition.get("unit", ""), definition.get("version", "")
    direction = definition.get("direction", "lower_is_better")
    low, high = definition.get("low"), definition.get("high")
    low_inclusive, high_inclusive = definition.get("low_inclusive", True), definition.get("high_inclusive", True)
    if not (isinstance(oid, str) and isinstance(label, str) and isinstance(unit, str) and isinstance(version, str)
            and isinstance(direction, str) and (low is None or isinstance(low, int | float))
            and (high is None or isinstance(high, int | float))
            and isinstance(low_inclusive, bool) and isinstance(high_inclusive, bool)):
        return None
    try:
        return Outcome(oid, label, unit, low, high, low_inclusive, high_inclusive, direction, version)
    except ValueError:
        return None


#: Display labels (with units) of common subject-level covariates (Table 1); a report's
#: ``covariate_labels`` setting and a bundled dataset's covariate units override them.
COVARIATE_LABELS: Mapping[str, str] = {
    "age": "Age (years)", "sex": "Sex", "gender": "Sex", "bmi": "BMI (kg/m\u00b2)", "height": "Height (cm)",
    "weight": "Weight (kg)", "duration": "Symptom duration (years)", "kl_grade": "Kellgren-Lawrence grade",
    "side": "Index knee",
}
_UNIT_TEXT = {"kg/m2": "kg/m\u00b2", "m2": "m\u00b2"}


def covariate_label(name: str, labels: Mapping[str, str] | None = None,
                    units: Mapping[str, str] | None = None) -> str:
    """How a covariate column is labelled: ``labels[name]``, else the known label of a common covariate
    (``"age"`` -> ``"Age (years)"``) with a unit from ``units`` where given, else the name.

    >>> covariate_label("bmi"), covariate_label("age", units={"age": "months"}), covariate_label("kl")
    ('BMI (kg/m²)', 'Age (months)', 'Kl')
    """
    if labels and name in labels:
        return str(labels[name])
    known = COVARIATE_LABELS.get(name)
    base = (known.split(" (")[0] if known else name.replace("_", " ").capitalize())
    unit = (units or {}).get(name)
    if unit:
        return f"{base} ({_UNIT_TEXT.get(unit, unit)})"
    return known or base
