"""Plan settings files (``retrostudy power --settings plan.yaml`` / ``retrostudy simulate --settings``).

A settings file is a YAML mapping of the planners' keyword arguments (``design: mmrm``,
``effect: 0.8``, ``corr: [[1, 0.5], [0.5, 1]]``, ...). It is read with the package's one safe
YAML reader (:func:`retrostudy.io.safeyaml.read_yaml`: size and depth limits, no tags, anchors
or aliases, duplicate keys refused), so it can never construct objects; unknown keys are
refused with a sentence that names the line.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..errors import SpecError

__all__ = ["read_settings"]

_MAX_BYTES = 1_000_000


def read_settings(path: str | os.PathLike, allowed: Iterable[str]) -> dict[str, Any]:
    """Read a YAML mapping of settings; keys must be in ``allowed``.

    Parameters
    ----------
    path
        The YAML file.
    allowed
        The keys the command accepts (``-`` and ``_`` are interchangeable).

    Returns
    -------
    dict
        Keys with ``_`` (``n_total``), values as YAML gives them.

    Raises
    ------
    SpecError
        A missing, unreadable or too large file, invalid YAML, a tag or anchor, a
        document that is not a mapping, or an unknown key.
    """
    from ..errors import DataError
    from ..io.safeyaml import read_yaml

    try:
        doc = read_yaml(path, what="settings file", max_bytes=_MAX_BYTES)
    except DataError as exc:  # the plan commands report settings problems as SpecError (exit 3, no traceback)
        raise SpecError(exc.messages[0]) from None
    name, content = doc.name, doc.content
    if content is None or content == {}:
        return {}
    if not isinstance(content, dict):
        raise SpecError(f"The settings file {name} must be a mapping of setting: value, not a {type(content).__name__}.")
    lines = {path_[0]: line for path_, line in doc.lines.items() if len(path_) == 1}
    allowed = {a.replace("-", "_") for a in allowed}
    out: dict[str, Any] = {}
    for key, value in content.items():
        norm = str(key).replace("-", "_")
        if norm not in allowed:
            raise SpecError(f"{name}, line {lines.get(key, '?')}: unknown setting {key!r}; the settings are "
                            f"{', '.join(sorted(allowed))}.")
        out[norm] = value
    return out
