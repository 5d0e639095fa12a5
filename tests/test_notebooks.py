"""The student notebooks in analyses/: built from their sources, executed, and not drifting.

Every notebook is executed once per test session in a fresh kernel of this interpreter
(nbclient, a time limit per cell); the tests then check that no cell failed, that the
committed outputs are the ones a fresh run gives (text outputs, with addresses, hashes,
temp paths and version strings normalised), that every code cell is explained by a
markdown cell before it, that each notebook ends with what we learned and exercises with
collapsed solutions, and that each committed notebook is under 2 MiB.

Rebuild the committed notebooks after changing a source or the package:
``python analyses/build.py``.
"""
from __future__ import annotations

import difflib
import functools
import importlib.util
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is a test dependency (pip install '.[test]')")
pytest.importorskip("nbclient", reason="nbclient is a test dependency (pip install '.[test]')")
pytest.importorskip("ipykernel", reason="ipykernel is a test dependency (pip install '.[test]')")

ROOT = Path(__file__).resolve().parents[1]
ANALYSES = ROOT / "analyses"


def _load_build():
    spec = importlib.util.spec_from_file_location("retrostudy_analyses_build", ANALYSES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
SOURCES = build.sources()
NAMES = [s.stem for s in SOURCES]
EXPECTED = [
    "01-the-question", "02-loading-and-checking-data", "03-ancova-at-week-6",
    "04-mixed-models-and-dropout", "05-from-analysis-to-report", "06-dropout-and-sensitivity",
    "07-planning-the-replication",
]


@functools.cache
def fresh(name: str):
    """(executed notebook or None, error text or None, seconds): each notebook runs once per session."""
    source = build.SRC / f"{name}.py"
    nb = build.read_source(source)
    start = time.perf_counter()
    try:
        build.execute(nb)
    except Exception as exc:  # CellExecutionError, DeadKernelError, timeouts
        return None, f"{type(exc).__name__}: {exc}", time.perf_counter() - start
    return nb, None, time.perf_counter() - start


def committed(name: str):
    return nbformat.read(str(ANALYSES / f"{name}.ipynb"), as_version=4)


# ------------------------------------------------------------------------------ the build helpers

def test_parse_percent_splits_cells_and_unprefixes_markdown():
    text = '"""doc"""\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n\n# %%\n\n# %% [markdown]\n# end\n'
    assert build.parse_percent(text) == [("markdown", "# Title\n\ntext"), ("code", "x = 1"), ("markdown", "end")]


def test_parse_percent_refuses_a_markdown_line_without_prefix():
    with pytest.raises(ValueError, match="does not start"):
        build.parse_percent("# %% [markdown]\n# fine\nnot fine\n")


def test_normalise_hides_run_dependent_text_only():
    text = ("<Figure at 0x7f3a2b1c9d40> /tmp/tmpab12_x/trial.csv sha256 "
            + "ab" * 32 + " retrostudy 0.1.0\nWall time: 1.2 s\nmean 6.25 (95% CI 5.1 to 7.4)  ")
    out = build.normalise(text)
    assert "0x7f3a" not in out and "/tmp/" not in out and "abab" not in out and "0.1.0" not in out
    assert "Wall time: <time>" in out
    assert "mean 6.25 (95% CI 5.1 to 7.4)" in out  # numbers are compared, not hidden
    assert build.normalise("value 12.3 s") == "value 12.3 s"


def test_kernel_uses_this_interpreter():
    import sys

    km = build._kernel_manager()
    assert km.kernel_spec.argv[0] == sys.executable
    assert km.kernel_spec.argv[1:3] == ["-m", "ipykernel_launcher"]


# ------------------------------------------------------------------------------ the notebooks

def test_the_notebooks_have_sources_and_executed_copies():
    assert NAMES == EXPECTED
    for name in NAMES:
        assert (ANALYSES / f"{name}.ipynb").is_file(), f"{name}.ipynb is missing; run python analyses/build.py"


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_is_small_and_built_from_its_source(name):
    path = ANALYSES / f"{name}.ipynb"
    assert path.stat().st_size < build.MAX_BYTES, f"{path.name} is over 2 MiB"
    nb = committed(name)
    nbformat.validate(nb)
    want = [(c.cell_type, c.source) for c in build.read_source(build.SRC / f"{name}.py").cells]
    have = [(c.cell_type, c.source) for c in nb.cells]
    assert have == want, f"{path.name} differs from analyses/src/{name}.py; run python analyses/build.py"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), f"{path.name} is committed unexecuted"


@pytest.mark.parametrize("name", NAMES)
def test_every_code_cell_is_explained_and_the_notebook_ends_with_exercises(name):
    cells = build.read_source(build.SRC / f"{name}.py").cells
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
    for before, cell in zip(cells, cells[1:]):
        if cell.cell_type == "code":
            assert before.cell_type == "markdown" and len(before.source.split()) >= 5, (
                f"{name}: code cell {cell.source[:40]!r} has no explaining markdown cell before it")
    last = cells[-1]
    assert last.cell_type == "markdown"
    assert "## What we learned" in last.source and "## Exercises" in last.source
    exercises = last.source.split("## Exercises", 1)[1]
    n_exercises = sum(1 for line in exercises.splitlines() if line[:3] in ("1. ", "2. ", "3. ", "4. "))
    assert 4 <= n_exercises <= 8  # 2-3 exercises, each with its numbered solution
    assert "<details>" in exercises and "</details>" in exercises and "<summary>" in exercises


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_a_fresh_kernel_and_matches_its_committed_outputs(name):
    nb, error, seconds = fresh(name)
    assert error is None, f"{name}.ipynb failed in a fresh kernel:\n{error}"
    assert seconds < 90, f"{name}.ipynb took {seconds:.0f} s (all of them together must stay under 3 minutes)"
    want = build.text_outputs(committed(name))
    have = build.text_outputs(nb)
    assert len(want) == len(have)
    for i, (w, h) in enumerate(zip(want, have)):
        if w != h:
            diff = "\n".join(difflib.unified_diff(w, h, "committed", "fresh run", lineterm="", n=2))
            pytest.fail(f"{name}.ipynb code cell {i + 1}: committed output differs from a fresh run "
                        f"(run python analyses/build.py and commit):\n{diff[:3000]}")


def test_stdout_chunks_split_mid_line_compare_equal():
    import nbformat

    def nb(chunks):
        cell = nbformat.v4.new_code_cell("print('-', msg)")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=c) for c in chunks]
        cell.outputs.insert(1, nbformat.v4.new_output("stream", name="stderr", text="warning\n"))
        return nbformat.v4.new_notebook(cells=[cell])

    one = build.text_outputs(nb(["- a.csv, row 3\n- b\n"]))
    two = build.text_outputs(nb(["-", " a.csv, row 3\n- b\n"]))
    assert one == two == [["- a.csv, row 3", "- b"]]
    assert build.text_outputs(nb(["- a.csv, row 4\n"])) != one
