"""Words the report prints for visits, outcomes, covariates and arms (display only; ids stay as they are)."""
from __future__ import annotations

import math
import re

from ..schema import COVARIATE_LABELS, Outcome, covariate_label

__all__ = ["COVARIATE_LABELS", "covariate_label", "criterion_text", "ge", "outcome_display", "oxford_join", "visit_label"]

def visit_label(visit: str, week: float | None = None, *, capital: bool = False) -> str:
    """``"week6"`` -> ``"week 6"``; ``"baseline"`` stays; another label gets its week once, e.g.
    ``"post (week 6)"``; never ``"week6 (week 6)"``.

    >>> visit_label("week6", 6.0), visit_label("baseline", 0.0), visit_label("post", 6.0)
    ('week 6', 'baseline', 'post (week 6)')
    """
    text = str(visit)
    m = re.fullmatch(r"(?i)(week|wk|w|day|month|visit)[ _]?(\d+(?:\.\d+)?)", text)
    if m:
        word = {"wk": "week", "w": "week"}.get(m.group(1).lower(), m.group(1).lower())
        text = f"{word} {m.group(2)}"
    elif text.lower() != "baseline" and week is not None and not math.isnan(week) and not re.search(r"\d", text):
        text = f"{text} (week {week:g})"
    return text[:1].upper() + text[1:] if capital else text


def outcome_display(info: Outcome) -> str:
    """Label with unit and no doubled brackets: ``"Pain (NRS), points"``, ``"Timed up-and-go (s)"``."""
    return info.display.replace("kg/m2", "kg/m\u00b2")


def oxford_join(words: list[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    words = [str(w) for w in words]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + f" {last} " + words[-1]


def ge(text: str) -> str:
    """``>=`` and ``<=`` as the signs U+2265 and U+2264."""
    return str(text).replace(">=", "\u2265").replace("<=", "\u2264")


def criterion_text(crit, short: bool = False) -> str:
    """A responder criterion in words: ``"improvement \u2265 1.99 points"`` (short) or with the direction,
    ``"an improvement (decrease) of at least 1.99 points"``."""
    unit = f" {crit.unit}" if crit.unit else ""
    parts = []
    if crit.absolute is not None:
        parts.append(f"{crit.absolute:.4g}{unit}" if not short else f"\u2265 {crit.absolute:.4g}{unit}")
    if crit.relative is not None:
        parts.append(f"{100 * crit.relative:.4g}% of baseline" if not short
                     else f"\u2265 {100 * crit.relative:.4g}% of baseline")
    joined = (" and " if crit.rule == "all" else " or ").join(parts)
    if short:
        return f"improvement {joined}"
    way = "decrease" if crit.lower_is_better else "increase"
    return f"an improvement ({way}) of at least {joined}"
