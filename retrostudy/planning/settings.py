"""Plan settings files (``retrostudy power --settings plan.yaml`` / ``retrostudy simulate --settings``).

A settings file is a YAML mapping of the planners' keyword arguments (``design: mmrm``,
``effect: 0.8``, ``corr: [[1, 0.5], [0.5, 1]]``, ...). It is read with ``yaml.safe_load``
after refusing every tag, anchor and alias, so it can never construct objects; unknown keys
are refused with a sentence that names the line.
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
    import yaml

    name = os.path.basename(os.fspath(path))
    if not os.path.isfile(path):
        raise SpecError(f"The settings file {name} does not exist; check the path given with --settings.")
    if os.path.getsize(path) > _MAX_BYTES:
        raise SpecError(f"The settings file {name} is larger than 1 MB, which no plan needs; give the right file.")
    try:
        with open(path, "rb") as fh:
            text = fh.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"The settings file {name} cannot be read as UTF-8 text ({type(exc).__name__}).") from None
    try:
        for tok in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(tok, (yaml.TagToken, yaml.AliasToken, yaml.AnchorToken)):
                raise SpecError(f"{name}, line {tok.start_mark.line + 1}: the settings file carries a YAML tag, anchor "
                                "or alias, which retrostudy refuses; write plain keys and values.")
        content = yaml.safe_load(text)
        nodes = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        why = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{name}{where}: the settings file is not valid YAML ({why}).") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise SpecError(f"The settings file {name} must be a mapping of setting: value, not a {type(content).__name__}.")
    lines = {k.value: k.start_mark.line + 1 for k, _ in nodes.value} if isinstance(nodes, yaml.MappingNode) else {}
    allowed = {a.replace("-", "_") for a in allowed}
    out: dict[str, Any] = {}
    for key, value in content.items():
        norm = str(key).replace("-", "_")
        if norm not in allowed:
            raise SpecError(f"{name}, line {lines.get(key, '?')}: unknown setting {key!r}; the settings are "
                            f"{', '.join(sorted(allowed))}.")
        out[norm] = value
    return out
