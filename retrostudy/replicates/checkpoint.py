"""Checkpoints of a replicate run: a manifest and one JSON file per finished chunk.

Nothing here is pickled. Results are written as JSON with a small tagged encoding that
gives back exactly what was stored: Python numbers (floats through their shortest
round-trip repr, so bit for bit, NaN and infinities included), strings, booleans, None,
lists, tuples, dicts, numpy scalars and numpy arrays of booleans, integers, floats,
complex numbers or strings. Anything else cannot be checkpointed and gets a sentence.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RetrostudyWarning, SpecError
from .chunks import Chunk, RootSeed

__all__ = ["Checkpoint", "decode", "encode", "task_name"]

FORMAT = "retrostudy-replicates/1"
MANIFEST = "manifest.json"
TAG = "__retrostudy__"
_ARRAY_KINDS = "biufcU"


def task_name(task: Any) -> str:
    """``module:qualname`` of the task (what the manifest's hash is taken of); a partial names its function."""
    while isinstance(task, functools.partial):
        task = task.func
    module = getattr(task, "__module__", None) or type(task).__module__
    name = getattr(task, "__qualname__", None) or type(task).__qualname__
    return f"{module}:{name}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- the tagged JSON encoding of results --------------------------------------------------


class _Unstorable(TypeError):
    pass


def _complex_pair(value: complex) -> list[float]:
    return [float(value.real), float(value.imag)]


def encode(obj: Any) -> Any:
    """A JSON-ready form of ``obj`` that :func:`decode` turns back into an equal object."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, np.generic):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise _Unstorable(f"a numpy {obj.dtype} scalar")
        value = _complex_pair(obj.item()) if obj.dtype.kind == "c" else obj.item()
        return {TAG: "scalar", "dtype": obj.dtype.str, "value": value}
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, complex):
        return {TAG: "complex", "value": _complex_pair(obj)}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in _ARRAY_KINDS:
            raise _Unstorable(f"a numpy array of dtype {obj.dtype}")
        flat = obj.ravel(order="C")
        data = [_complex_pair(v) for v in flat.tolist()] if obj.dtype.kind == "c" else flat.tolist()
        return {TAG: "ndarray", "dtype": obj.dtype.str, "shape": list(obj.shape), "data": data}
    if isinstance(obj, tuple) and type(obj) is tuple:
        return {TAG: "tuple", "items": [encode(v) for v in obj]}
    if isinstance(obj, list) and type(obj) is list:
        return [encode(v) for v in obj]
    if isinstance(obj, dict) and type(obj) is dict:
        if all(isinstance(k, str) for k in obj) and TAG not in obj:
            return {k: encode(v) for k, v in obj.items()}
        return {TAG: "dict", "items": [[encode(k), encode(v)] for k, v in obj.items()]}
    raise _Unstorable(f"a {type(obj).__module__}.{type(obj).__qualname__}")


def _decode_tagged(d: dict) -> Any:
    kind = d.get(TAG)
    if kind is None:
        return d
    if kind == "ndarray":
        dtype = np.dtype(d["dtype"])
        data = [complex(*v) for v in d["data"]] if dtype.kind == "c" else d["data"]
        return np.array(data, dtype=dtype).reshape(d["shape"])
    if kind == "scalar":
        dtype = np.dtype(d["dtype"])
        value = complex(*d["value"]) if dtype.kind == "c" else d["value"]
        return np.array(value, dtype=dtype)[()]
    if kind == "complex":
        return complex(*d["value"])
    if kind == "tuple":
        return tuple(d["items"])
    if kind == "dict":
        return {_hashable(k): v for k, v in d["items"]}
    raise ValueError(f"unknown tag {kind!r}")


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def decode(data: Any) -> Any:
    """Inverse of :func:`encode` for a value that went through ``json.dumps``/``json.loads``."""
    return json.loads(json.dumps(data), object_hook=_decode_tagged)


# -- the checkpoint directory ---------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a chunk file is either complete or absent


class Checkpoint:
    """A directory holding ``manifest.json`` and ``chunk-000000.json``, ``chunk-000001.json``, ...

    Use :meth:`read_manifest` before the run (to adopt its seed and chunk size when the caller
    left them open), then :meth:`open` to check it against this run and write it if new.
    """

    def __init__(self, directory: str | os.PathLike, manifest: dict):
        self.directory = Path(directory)
        self.manifest = manifest

    @staticmethod
    def read_manifest(directory: str | os.PathLike) -> dict | None:
        """The manifest stored in ``directory``, or None when there is none yet."""
        path = Path(directory) / MANIFEST
        if not path.is_file():
            return None
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(f"The checkpoint manifest {str(path)!r} cannot be read ({exc}); delete the "
                            "directory to start over or pass another checkpoint directory.") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SpecError(f"{str(path)!r} is not a retrostudy replicate checkpoint (format "
                            f"{FORMAT}); pass another checkpoint directory.")
        return manifest

    @staticmethod
    def make_manifest(*, n: int, root: RootSeed, chunk_size: int, task: Any, fingerprint: Any,
                      label: str) -> dict:
        name = task_name(task)
        return {"format": FORMAT, "n": n, "seed": root.to_json(), "chunk_size": chunk_size,
                "task_sha256": _sha256(name), "task": name, "fingerprint": fingerprint, "label": label}

    @classmethod
    def open(cls, directory: str | os.PathLike, manifest: dict) -> Checkpoint:
        """Check ``directory`` against ``manifest`` (refusing another run's checkpoint) or start it."""
        folder = Path(directory)
        if folder.exists() and not folder.is_dir():
            raise SpecError(f"The checkpoint path {str(folder)!r} is a file, not a directory; pass a "
                            "directory (it is created when missing).")
        stored = cls.read_manifest(folder)
        if stored is None:
            if folder.is_dir() and any(folder.iterdir()):
                raise SpecError(f"The checkpoint directory {str(folder)!r} holds files but no {MANIFEST}; "
                                "pass a new or empty directory.")
            folder.mkdir(parents=True, exist_ok=True)
            _write_json(folder / MANIFEST, manifest)
            return cls(folder, manifest)
        for key, what in (("task_sha256", "task"), ("n", "number of replicates"), ("seed", "seed"),
                          ("chunk_size", "chunk size"), ("fingerprint", "fingerprint")):
            if stored.get(key) != json.loads(json.dumps(manifest[key])):
                shown = {"task_sha256": "task"}.get(key, key)
                raise SpecError(
                    f"The checkpoint in {str(folder)!r} was written by a run with another {what} "
                    f"({stored.get(shown)!r}, this run {manifest[shown]!r}); rerun with the same arguments "
                    "to resume, or pass another directory (or delete this one) to start over.")
        return cls(folder, stored)

    def _path(self, k: int) -> Path:
        return self.directory / f"chunk-{k:06d}.json"

    def load(self, k: int, start: int, stop: int) -> Chunk | None:
        """Chunk ``k`` if it was saved (and is whole), else None."""
        path = self._path(k)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"), object_hook=_decode_tagged)
            ok = (data["start"], data["stop"]) == (start, stop) and len(data["results"]) == stop - start
        except (OSError, ValueError, KeyError, TypeError) as exc:
            ok, data = False, exc
        if not ok:
            warnings.warn(f"Checkpoint file {str(path)!r} is damaged or does not match this run's chunk "
                          f"{k}; its replicates are run again.", RetrostudyWarning, stacklevel=3)
            return None
        failures = [{**f, "seed_spawn_key": list(f["seed_spawn_key"])} for f in data["failures"]]
        return Chunk(start, stop, list(data["results"]), failures)

    def save(self, k: int, chunk: Chunk) -> None:
        """Write chunk ``k`` (never a lost chunk: those are run again on resume)."""
        results = []
        for offset, value in enumerate(chunk.results):
            try:
                results.append(encode(value))
            except _Unstorable as what:
                raise SpecError(
                    f"Replicate {chunk.start + offset} returned {what}, which a checkpoint cannot store; "
                    "return numbers, strings, lists, tuples, dicts or numpy arrays, or run without "
                    "checkpoint=.") from None
        _write_json(self._path(k), {"format": FORMAT, "chunk": k, "start": chunk.start, "stop": chunk.stop,
                                    "results": results, "failures": chunk.failures})
