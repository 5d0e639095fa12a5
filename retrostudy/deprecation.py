"""Old spellings of keywords: they keep working, with a ``FutureWarning`` that names the new one.

The fit functions group their column-name keywords into one ``columns=`` (DESIGN.md, "One
vocabulary"); ``reference=`` became ``reference_levels=`` and ``contrasts(method=)`` became
``family=``. The helpers here tell "not given" from any value and translate.
"""
from __future__ import annotations

import warnings
from dataclasses import fields, replace
from typing import Any, Mapping

from .errors import SpecError
from .results import Columns

__all__ = ["NOT_GIVEN", "resolve_columns", "resolve_renamed"]


class _NotGiven:
    """Default of the deprecated column keywords: tells "not given" from any value, None included."""

    def __repr__(self) -> str:
        return "<not given>"


#: The default of every deprecated keyword of the fit functions.
NOT_GIVEN: Any = _NotGiven()


def resolve_columns(function: str, columns: "Mapping[str, str | None] | Columns | None", defaults: Columns,
                    **legacy: Any) -> Columns:
    """The :class:`Columns` of a fit from ``columns=`` and the deprecated per-column keywords.

    A deprecated keyword that was given (``subject="USUBJID"``) still works, with a
    ``FutureWarning`` naming the ``columns=`` spelling; an unknown key of ``columns`` is a
    :class:`SpecError`.
    """
    if isinstance(columns, Columns):
        base = columns
    else:
        given = dict(columns or {})
        unknown = sorted(set(given) - {f.name for f in fields(Columns)})
        if unknown:
            raise SpecError(f"columns= has unknown key(s) {', '.join(map(repr, unknown))}; the keys are "
                            f"{', '.join(f.name for f in fields(Columns))}.")
        base = replace(defaults, **given)
    old = {k: v for k, v in legacy.items() if v is not NOT_GIVEN}
    if old:
        spelled = ", ".join(f"{k!r}: {v!r}" for k, v in old.items())
        warnings.warn(f"{function}({', '.join(f'{k}=' for k in old)}...) is deprecated; name the data's columns "
                      f"with columns={{{spelled}}}.", FutureWarning, stacklevel=3)
        base = replace(base, **old)
    return base


def resolve_renamed(function: str, new_name: str, new_value: Any, old_name: str, old_value: Any) -> Any:
    """``new_value``, or the value of a renamed keyword (with a ``FutureWarning``) when only it was given."""
    if old_value is NOT_GIVEN:
        return new_value
    warnings.warn(f"{function}({old_name}=...) is deprecated; use {new_name}=.", FutureWarning, stacklevel=3)
    if new_value is not None:
        raise SpecError(f"Give {new_name}= only ({old_name}= is its old spelling).")
    return old_value


