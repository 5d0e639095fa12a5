"""Report settings (``build_report(settings=...)``, CLI ``--settings``): read safely and type-checked.

A settings file is read by the same safe YAML reader as a mapping file
(:func:`retrostudy.io.safeyaml.read_yaml`: size and depth limits, no tags, anchors or
aliases, no key written twice). Every setting's type is then checked and every problem
is collected into one :class:`~retrostudy.errors.SpecError` whose sentence names the file,
line and key (``conf_level: 95%`` -> "conf_level must be a number between 0 and 1, such
as 0.95"). Whether a value is one the analysis knows (a covariance name, an outcome of
the data) is checked later, where the data are known.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from ..errors import DataError, SpecError

__all__ = ["SETTING_KEYS", "load_settings"]

_TEXT = ("covariance", "df_method", "weights", "reference_arm", "standardizer", "title", "final_visit",
         "primary", "model", "adjust", "multiplicity", "responder_criteria", "responder_missing",
         "responder_ci_method", "baseline")
_LISTS = ("covariates", "table1_covariates", "outcomes", "primary_outcomes")
_MAPPINGS = ("covariate_labels", "responders", "estimand")


def _setting_keys() -> tuple[str, ...]:
    from ..options import REPORT_SETTINGS

    return tuple(REPORT_SETTINGS) + ("model",)


#: Every key a settings file may hold (``report:`` may wrap them): retrostudy.options.REPORT_SETTINGS.
SETTING_KEYS = _setting_keys()


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "..."


def _check(cfg: Mapping, known: tuple[str, ...]) -> list[tuple[str, str]]:
    """(key, problem) for every setting of the wrong type or unknown."""
    from ..io.labels import closest

    out: list[tuple[str, str]] = []
    for key, value in cfg.items():
        if key not in known:
            hint = closest(str(key), known)
            out.append((str(key), "unknown report setting" + (f"; did you mean '{hint}'?" if hint else
                        f"; the known settings are {', '.join(sorted(known))}")))
        elif key == "conf_level":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                out.append((key, f"conf_level must be a number between 0 and 1, such as 0.95, not {_shown(value)}"))
            elif not 0 < value < 1:
                pct = " (it looks like a percentage: write it as a fraction)" if 1 < value < 100 else ""
                out.append((key, f"conf_level must be between 0 and 1, such as 0.95, not {value:g}{pct}"))
        elif key in _TEXT:
            if value is not None and not isinstance(value, str):
                out.append((key, f"{key} must be text, not {_shown(value)}; put it in quotes if YAML reads it as "
                                 "something else (a number, a date, true/false, a list)"))
        elif key in _LISTS:
            items = [value] if isinstance(value, str) else value
            if value is not None and (not isinstance(items, list) or not all(isinstance(x, str) for x in items)):
                out.append((key, f"{key} must be a list of names, such as [age, sex], not {_shown(value)}"))
        elif key == "sensitivity":
            if value is not None and value is not False and not isinstance(value, Mapping):
                out.append((key, "sensitivity must be a mapping of strategies, method, ... (see retrostudy report "
                                 f"--help), or false to leave the sensitivity analyses out, not {_shown(value)}"))
        elif key in _MAPPINGS:
            if value is not None and not isinstance(value, Mapping):
                out.append((key, f"{key} must be a mapping of name: value lines, not {_shown(value)}"))
    return out


def load_settings(settings: Mapping | str | os.PathLike | None, known: tuple[str, ...] = SETTING_KEYS) -> dict:
    """The report settings as a dict, checked.

    Parameters
    ----------
    settings
        A dict, a YAML file (its keys at the top or under ``report:``), or None.
    known
        The keys allowed.

    Returns
    -------
    dict
        The settings (lists for the list-valued ones).

    Raises
    ------
    SpecError
        Every problem, each naming the file, line and key (or the setting).

    Examples
    --------
    >>> load_settings({"conf_level": 0.9, "covariates": "age"})
    {'conf_level': 0.9, 'covariates': ['age']}
    >>> load_settings({"conf_level": "95%"})
    Traceback (most recent call last):
    ...
    retrostudy.errors.SpecError: Report setting 'conf_level': conf_level must be a number between 0 and 1, such as 0.95, not '95%'.
    """
    if settings is None:
        return {}
    file: str | None = None
    lines: dict[tuple, int] = {}
    prefix: tuple = ()
    if isinstance(settings, Mapping):
        cfg = dict(settings)
    elif isinstance(settings, (str, os.PathLike)):
        from ..io.safeyaml import read_yaml

        try:
            doc = read_yaml(settings, what="settings file")
        except DataError as err:
            raise SpecError(str(err)) from None
        file, lines, cfg = doc.name, doc.lines, doc.content
        if not isinstance(cfg, dict):
            raise SpecError(f"{file}, line 1: the settings file must be a set of 'setting: value' lines, not a "
                            f"{type(cfg).__name__}; start with settings such as 'covariance: us'.")
        if isinstance(cfg.get("report"), dict):
            cfg, prefix = dict(cfg["report"]), ("report",)
    else:
        raise SpecError(f"settings must be a dict or a YAML file, not {type(settings).__name__}.")
    problems = []
    for key, text in _check(cfg, known):
        if file:
            line = lines.get(prefix + (key,))
            where = f"{file}, line {line}, key '{key}'" if line else f"{file}, key '{key}'"
        else:
            where = f"Report setting '{key}'"
        problems.append(f"{where}: {text}" + ("" if text.endswith(("?", ".")) else "."))
    if problems:
        rest = len(problems) - 1
        raise SpecError(problems[0] + (f" ({rest} more problem{'s' if rest > 1 else ''}: "
                                       + " ".join(problems[1:]) + ")" if rest else ""))
    return {k: ([v] if k in _LISTS and isinstance(v, str) else v) for k, v in cfg.items()}
