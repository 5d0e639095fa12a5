"""Bundled datasets: ``list_datasets()`` and ``load_dataset(name)``.

Each dataset is a canonical long CSV (``<id>.csv``) with a JSON metadata file
(``<id>.json``: id, title, subjects, visits, outcomes, synthetic flag and statement,
citation, licence...) in this package folder, read with :mod:`importlib.resources`.
``load_dataset`` reads the CSV through :func:`retrostudy.read_trial` (long layout), so a
bundled dataset passes the same checks as a user's file.
"""
from __future__ import annotations

import json
import os
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import pandas as pd

from ..errors import SpecError
from ..trial import TrialData

__all__ = ["dataset_file", "list_datasets", "load_dataset", "load_source"]

_OUTCOME_KEYS = ("label", "unit", "low", "high", "low_inclusive", "high_inclusive", "direction", "version")


def _root() -> Traversable:
    return resources.files(__name__)


def _metadata() -> dict[str, dict[str, Any]]:
    out = {}
    for entry in sorted(_root().iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json") and entry.is_file():
            meta = json.loads(entry.read_text(encoding="utf-8"))
            out[str(meta.get("id") or entry.name[:-5])] = meta
    return out


def _names(items: Any, key: str) -> list[str]:
    return [str(x[key]) if isinstance(x, dict) else str(x) for x in (items or [])]


def list_datasets() -> pd.DataFrame:
    """The bundled datasets.

    Returns
    -------
    pandas.DataFrame
        One row per dataset: ``id`` (what :func:`load_dataset` takes), ``title``,
        ``subjects``, ``visits``, ``outcomes``, ``synthetic`` (``"yes"`` for simulated
        data), ``citation`` and ``licence``.

    Examples
    --------
    >>> import retrostudy as rs
    >>> rs.list_datasets()[["id", "subjects", "synthetic"]]
                          id  subjects synthetic
    0       alghadir2019_sim        68       yes
    1  retro_replication_sim       150       yes
    """
    rows = []
    for did, meta in _metadata().items():
        rows.append({
            "id": did, "title": meta.get("title", ""), "subjects": meta.get("subjects"),
            "visits": ", ".join(_names(meta.get("visits"), "visit")),
            "outcomes": ", ".join(_names(meta.get("outcomes"), "id")),
            "synthetic": "yes" if meta.get("synthetic") else "no",
            "citation": meta.get("citation", ""), "licence": meta.get("licence", ""),
        })
    cols = ["id", "title", "subjects", "visits", "outcomes", "synthetic", "citation", "licence"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["subjects"] = frame["subjects"].astype("Int64")
    return frame


def load_dataset(name: str) -> TrialData:
    """A bundled dataset as TrialData; ``meta`` carries the synthetic flag and statement and the citation.

    Parameters
    ----------
    name
        A dataset id of :func:`list_datasets`.

    Returns
    -------
    TrialData
        Read from the packaged file by :func:`retrostudy.read_trial`, so it passed the same
        checks as a user's file.

    Raises
    ------
    SpecError
        ``name`` is not a bundled dataset (the message lists the available ones).

    Examples
    --------
    >>> import retrostudy as rs
    >>> trial = rs.load_dataset("alghadir2019_sim")
    >>> trial.n_subjects, trial.arms, trial.visits, trial.meta["synthetic"]
    (68, ['retro', 'forward', 'control'], ['baseline', 'week6'], True)
    """
    from ..io import read_trial

    resource, config = dataset_file(name)
    meta = _metadata()[name]
    with resources.as_file(resource) as path:
        trial = read_trial(path, config=config, layout="long")
    data = trial.data
    fname = resource.name
    if trial.meta.get("file") != fname:  # a zipped install extracts to a temporary name
        data = data.assign(source_file=pd.array([fname] * len(data), dtype="string"))
    extra: dict[str, Any] = {k: meta[k] for k in ("title", "synthetic", "synthetic_statement", "citation", "doi", "licence",
                                  "description", "seed", "date", "generator", "provenance") if k in meta}
    merged: dict[str, Any] = {**trial.meta, **extra, "file": fname, "dataset": name, "study": meta.get("id", name),
              "synthetic": bool(meta.get("synthetic", False))}
    return TrialData(data, trial.exclusions, merged)


def dataset_file(name: str) -> tuple[Traversable, dict[str, Any]]:
    """The packaged file of a bundled dataset (an ``importlib.resources`` Traversable) and the mapping it is
    read with (``retrostudy validate DATASET`` checks that file as a user's file is checked).

    Raises
    ------
    SpecError
        ``name`` is not a bundled dataset (the message lists the available ones).
    """
    from ..io.labels import closest, known_list

    all_meta = _metadata()
    if name not in all_meta:
        hint = closest(str(name), all_meta)
        raise SpecError(f"There is no bundled dataset {name!r}; available: {known_list(all_meta)}"
                        + (f" (did you mean {hint!r}?)" if hint else "") + "; see rs.list_datasets().")
    meta = all_meta[name]
    outcomes = {str(o["id"]): {k: o[k] for k in _OUTCOME_KEYS if k in o}
                for o in meta.get("outcomes", []) if isinstance(o, dict) and "id" in o}
    config: dict[str, Any] = {"study": meta.get("id", name)}
    if outcomes:
        config["outcomes"] = outcomes
    if meta.get("baseline_visit"):
        config["baseline_visit"] = meta["baseline_visit"]
    return _root() / str(meta.get("file", f"{name}.csv")), config


def load_source(source: str | os.PathLike, *, config: Any = None, layout: str = "auto") -> TrialData:
    """A data file or a bundled dataset id -> TrialData (what the CLI and reports accept).

    An existing path is read with :func:`retrostudy.read_trial`; a bare name (no folder,
    no file extension) that is not a file is a bundled dataset (an unknown one raises
    SpecError listing the available ids); anything else is read as a file, so a missing
    file gets the loader's sentence.
    """
    from pathlib import Path

    from ..io import read_trial

    path = Path(source)
    if not path.exists() and path.name == str(source) and not path.suffix:
        if config is not None:
            raise SpecError("A mapping (--config) applies to files, not to a bundled dataset.")
        return load_dataset(str(source))
    return read_trial(path, config=config, layout=layout)
