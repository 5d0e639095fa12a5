"""Code quality habits (issue 10): ruff and mypy are clean, and no public signature says ``Any``.

ruff and mypy run as subprocesses with this interpreter (``python -m ruff``, ``python -m mypy``)
and their configuration in pyproject.toml; a finding fails the test and is printed. Both are
in the ``test`` extra; without them the two tests are skipped with the reason.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import retrostudy as rs

ROOT = Path(__file__).resolve().parents[1]


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    if importlib.util.find_spec(tool) is None:
        pytest.skip(f"{tool} is not installed; pip install '.[test]' brings it")
    return subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)


def test_ruff_finds_nothing():
    """The package, the tests, the notebook sources and the data generators (pyproject's [tool.ruff])."""
    proc = _run("ruff", "check", "--no-cache", ".")
    assert proc.returncode == 0, f"ruff check found problems:\n{proc.stdout}{proc.stderr}"


def test_mypy_finds_nothing():
    """The package with pyproject's [tool.mypy] (fully annotated public-API modules, no ignores)."""
    proc = _run("mypy")
    assert proc.returncode == 0, f"mypy found problems:\n{proc.stdout}{proc.stderr}"
    assert "Success" in proc.stdout


# ---------------------------------------------------------------------------- public signatures

#: ``Any``, and containers without their item types (an implicit ``Any``).
_LOOSE = re.compile(r"\bAny\b|\b(dict|Mapping|list|tuple|Sequence|Iterable|Callable|set|os\.PathLike)\b(?!\[)")


def _public_signatures() -> list[tuple[str, str]]:
    """(where, annotation) of every parameter, return value and dataclass field of the public API:
    the names of ``retrostudy._EXPORTS``, and the public methods and properties of its classes."""
    out: list[tuple[str, str]] = []

    def function(where: str, fn: Callable[..., object]) -> None:
        annotations = getattr(fn, "__annotations__", {})
        for p in inspect.signature(fn).parameters.values():
            if p.name not in ("self", "cls"):
                out.append((f"{where}({p.name})", str(annotations.get(p.name, "<missing>"))))
        if getattr(fn, "__name__", "") != "__init__":
            out.append((f"{where} -> ", str(annotations.get("return", "<missing>"))))

    for name in sorted(rs._EXPORTS):
        obj = getattr(rs, name)
        if inspect.isfunction(obj):
            function(name, obj)
        elif inspect.isclass(obj):
            for klass in obj.__mro__:
                if not klass.__module__.startswith("retrostudy"):
                    continue
                for attr, value in vars(klass).items():
                    member = value.fget if isinstance(value, property) else value
                    if not attr.startswith("_") and inspect.isfunction(member):
                        function(f"{name}.{attr}", member)
            if dataclasses.is_dataclass(obj):
                out += [(f"{name}.{f.name}", str(f.type)) for f in dataclasses.fields(obj) if not f.name.startswith("_")]
    return out


def test_public_signatures_are_precise():
    """No ``Any``, no missing annotation and no bare container in the public API (issue 10)."""
    found = _public_signatures()
    assert len(found) > 300  # the walk reaches every exported function, class, method and field
    loose = [f"{where}: {ann}" for where, ann in found if ann == "<missing>" or _LOOSE.search(ann)]
    assert not loose, "public signatures with Any, a bare container or no annotation:\n" + "\n".join(loose)


def test_the_check_catches_any():
    """The pattern flags what it should and passes what it should (so the test above can fail)."""
    for bad in ("Any", "Mapping[str, Any]", "dict", "os.PathLike", "Callable | None", "<missing>"):
        assert bad == "<missing>" or _LOOSE.search(bad), bad
    for good in ("Mapping[str, object]", "os.PathLike[str]", "Callable[[str], None] | None", "TrialData",
                 "dict[str, int]", "tuple[float, ...]", "AnyStr"):
        assert not _LOOSE.search(good), good


def test_public_functions_have_numpydoc_sections():
    """Every exported function documents its parameters and result and shows a runnable example."""
    missing = []
    for name in sorted(rs._EXPORTS):
        obj = getattr(rs, name)
        if not inspect.isfunction(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        needed = ["Returns", "Examples"] + (["Parameters"] if inspect.signature(obj).parameters else [])
        missing += [f"{name}: no {section} section" for section in needed if f"\n{section}\n---" not in doc]
    assert not missing, "\n".join(missing)
