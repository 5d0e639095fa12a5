"""Old spellings of keywords: they keep working, with a ``FutureWarning`` that names the new one.

The fit functions group their column-name keywords into one ``columns=`` (DESIGN.md, "One
vocabulary"); ``reference=`` became ``reference_levels=`` and ``contrasts(method=)`` became
``family=``. The helpers here tell "not given" from any value and translate.
"""
from __future__ import annotations

import enum
import warnings
from collections.abc import Mapping
from dataclasses import fields
from typing import Final, TypeVar

from .errors import SpecError
from .results import Columns

__all__ = ["NOT_GIVEN", "NotGiven", "resolve_columns", "resolve_renamed"]

T = TypeVar("T")


class NotGiven(enum.Enum):
    """The type of :data:`NOT_GIVEN`, the default of the deprecated keywords: it tells "not
    given" from any value, None included (a one-member enum, so type checkers narrow
    ``value is not NOT_GIVEN``)."""

    NOT_GIVEN = "<not given>"

    def __repr__(self) -> str:
        return "<not given>"


#: The default of every deprecated keyword of the fit functions.
NOT_GIVEN: Final = NotGiven.NOT_GIVEN


def resolve_columns(function: str, columns: Mapping[str, str | None] | Columns | None, defaults: Columns,
                    **legacy: str | None | NotGiven) -> Columns:
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
        base = _replace_columns(defaults, given)
    old = {k: v for k, v in legacy.items() if not isinstance(v, NotGiven)}
    if old:
        spelled = ", ".join(f"{k!r}: {v!r}" for k, v in old.items())
        warnings.warn(f"{function}({', '.join(f'{k}=' for k in old)}...) is deprecated; name the data's columns "
                      f"with columns={{{spelled}}}.", FutureWarning, stacklevel=3)
        base = _replace_columns(base, old)
    return base


def _replace_columns(base: Columns, names: Mapping[str, str | None]) -> Columns:
    """``base`` with the column names in ``names`` (keys: :class:`Columns` fields); the subject,
    visit and response columns cannot be None."""

    def required(key: str, current: str) -> str:
        value = names.get(key, current)
        if value is None:
            raise SpecError(f"columns={{{key!r}: None}}: every fit needs a {key} column; name it.")
        return value

    def optional(key: str, current: str | None) -> str | None:
        return names[key] if key in names else current

    return Columns(subject=required("subject", base.subject), visit=required("visit", base.visit),
                   arm=optional("arm", base.arm), response=required("response", base.response),
                   time=optional("time", base.time), group=optional("group", base.group),
                   weights=optional("weights", base.weights))


def resolve_renamed(function: str, new_name: str, new_value: T, old_name: str, old_value: T | NotGiven) -> T:
    """``new_value``, or the value of a renamed keyword (with a ``FutureWarning``) when only it was given."""
    if old_value is NOT_GIVEN:
        return new_value
    warnings.warn(f"{function}({old_name}=...) is deprecated; use {new_name}=.", FutureWarning, stacklevel=3)
    if new_value is not None:
        raise SpecError(f"Give {new_name}= only ({old_name}= is its old spelling).")
    return old_value


