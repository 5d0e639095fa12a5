"""Build the student notebooks in ``analyses/`` from their sources and execute them.

Each notebook is written as a plain Python "percent" script in ``analyses/src/``::

    # %% [markdown]
    # # A heading
    # Some text.

    # %%
    import retrostudy as rs

This script turns every source into an ``.ipynb`` (nbformat), runs it in a fresh
kernel of *this* interpreter (nbclient, a time limit per cell, the inline matplotlib
backend) and writes the executed notebook next to this file::

    python analyses/build.py                 # all notebooks
    python analyses/build.py 03 04           # only the ones whose name starts with 03 or 04
    python analyses/build.py --png figs/     # also export every figure as PNG, to look at it

``tests/test_notebooks.py`` imports this file for :func:`read_source`,
:func:`execute` and :func:`text_outputs`, so the build and the check run the
notebooks the same way.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"

#: Seconds one cell may run before the execution fails.
CELL_TIMEOUT = 120
#: Largest committed notebook, in bytes (the issue asks for under 2 MiB).
MAX_BYTES = 2 * 1024 * 1024

_MARKER = re.compile(r"^# %%(?P<rest>.*)$")


def sources() -> list[Path]:
    """The notebook sources, in their numbered order."""
    return sorted(SRC.glob("[0-9][0-9]-*.py"))


def notebook_path(source: Path) -> Path:
    """Where the executed notebook of ``source`` lives."""
    return HERE / (source.stem + ".ipynb")


def parse_percent(text: str) -> list[tuple[str, str]]:
    """Split a percent script into ``(cell_type, source)`` pairs.

    A line ``# %%`` starts a code cell and ``# %% [markdown]`` a markdown cell, whose
    lines lose their leading ``# `` (or a lone ``#``). Text before the first marker is
    ignored (a module docstring for people reading the script).
    """
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        match = _MARKER.match(line)
        if match:
            kind = "markdown" if "[markdown]" in match.group("rest") else "code"
            cells.append((kind, []))
            continue
        if not cells:
            continue
        kind, lines = cells[-1]
        if kind == "markdown":
            if line.startswith("# "):
                line = line[2:]
            elif line.strip() == "#":
                line = ""
            elif line.strip():
                raise ValueError(f"markdown line does not start with '# ': {line!r}")
        lines.append(line)
    out = []
    for kind, lines in cells:
        body = "\n".join(lines).strip("\n")
        if body.strip():
            out.append((kind, body))
    return out


def read_source(source: Path):
    """The unexecuted notebook (an ``nbformat.NotebookNode``) of a percent script."""
    import nbformat
    from nbformat import v4

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, body) in enumerate(parse_percent(source.read_text(encoding="utf-8"))):
        cell = v4.new_markdown_cell(body) if kind == "markdown" else v4.new_code_cell(body)
        cell["id"] = f"{source.stem[:2]}-{i:03d}"  # stable ids: rebuilding changes nothing by itself
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def _kernel_manager():
    """A kernel manager that starts ipykernel with *this* interpreter.

    The "python3" kernel spec that Jupyter finds first may belong to another
    Python (a user-wide install, or none at all in a fresh venv where only the
    packages were pip-installed); asking for the spec by argv avoids the lookup.
    """
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3", language="python", resource_dir=str(HERE),
    )

    class _ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return spec

    return KernelManager(kernel_name="python3", kernel_spec_manager=_ThisPython())


def kernel_env() -> dict[str, str]:
    """Environment of the notebook kernel: inline figures, fixed hashing, no user IPython config."""
    env = dict(os.environ)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONWARNINGS"] = "default"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.pop("SOURCE_DATE_EPOCH", None)  # the report's fixed date then comes from the data, same everywhere
    # a private IPython profile dir so a user's startup files cannot change outputs
    env["IPYTHONDIR"] = tempfile.mkdtemp(prefix="retrostudy-ipython-")
    return env


def execute(nb, *, timeout: int = CELL_TIMEOUT):
    """Run ``nb`` in a fresh kernel of this interpreter, cells in order, in ``analyses/``.

    Raises ``nbclient.exceptions.CellExecutionError`` on the first failing cell.
    """
    from nbclient import NotebookClient

    client = NotebookClient(
        nb, km=_kernel_manager(), timeout=timeout, kernel_name="python3", allow_errors=False,
        record_timing=False, resources={"metadata": {"path": str(HERE)}},
    )
    client.execute(env=kernel_env(), cwd=str(HERE))
    return nb


# ---------------------------------------------------------------------------- comparing outputs

_NORMALISERS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"0x[0-9a-fA-F]{6,}"), "0x<addr>"),
    (re.compile(r"\b[0-9a-f]{32,}\b"), "<hash>"),
    (re.compile(r"(?:/[\w.+-]+)*/(?:tmp|var/folders|T)/[\w./+-]*"), "<tmp>"),
    (re.compile(r"[A-Za-z]:\\[^\s'\"]*"), "<path>"),
    (re.compile(r"^(Wall time|CPU times):.*$", re.M), r"\1: <time>"),
    (re.compile(r"\b\d+\.\d+\.\d+(?:[\w.+-]*)"), "<version>"),
    (re.compile(r"[ \t]+$", re.M), ""),
]


def normalise(text: str) -> str:
    """Text with run-dependent parts replaced: addresses, hashes, temp paths, times, versions."""
    for pattern, repl in _NORMALISERS:
        text = pattern.sub(repl, text)
    return text.strip("\n")


def text_outputs(nb) -> list[list[str]]:
    """Per code cell, its normalised text outputs (stdout and ``text/plain`` results), as lines.

    Images, HTML and stderr (library warnings differ between versions) are left out.
    Errors are kept, so a failing cell differs from a passing one. The kernel splits
    stdout into chunks at arbitrary points, so consecutive stdout chunks are glued
    back together before the text is split into lines.
    """
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts: list[str] = []
        glue = False  # the previous kept output was stdout
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "stream":
                if out.get("name") != "stdout":
                    continue  # stderr: ignored, and it does not split stdout
                text = out.get("text", "")
                text = text if isinstance(text, str) else "".join(text)
                if glue:
                    texts[-1] += text
                else:
                    texts.append(text)
                glue = True
                continue
            glue = False
            if kind in ("execute_result", "display_data"):
                plain = out.get("data", {}).get("text/plain")
                if plain is not None:
                    texts.append(plain if isinstance(plain, str) else "".join(plain))
            elif kind == "error":
                texts.append(f"ERROR {out.get('ename')}: {out.get('evalue')}")
        cells.append("\n".join(normalise(t) for t in texts).split("\n"))
    return cells


def stderr_outputs(nb) -> list[str]:
    """All stderr text of an executed notebook (should be empty)."""
    return [
        out.get("text", "")
        for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "stream" and out.get("name") == "stderr"
    ]


def export_pngs(nb, stem: str, outdir: Path) -> list[Path]:
    """Write every PNG output of ``nb`` to ``outdir`` (to look at the figures)."""
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, cell in enumerate(nb.cells):
        for j, out in enumerate(cell.get("outputs", [])):
            png = out.get("data", {}).get("image/png") if out.get("output_type") in (
                "display_data", "execute_result") else None
            if png:
                path = outdir / f"{stem}-cell{i:03d}-{j}.png"
                path.write_bytes(base64.b64decode(png))
                paths.append(path)
    return paths


def build(selected: list[str] | None = None, png_dir: Path | None = None) -> int:
    """Build and execute the selected notebooks; returns a process exit code."""
    import nbformat

    status = 0
    for source in sources():
        if selected and not any(source.name.startswith(s) for s in selected):
            continue
        start = time.perf_counter()
        nb = read_source(source)
        try:
            execute(nb)
        except Exception as exc:  # show the failing cell and go on with the others
            print(f"FAILED {source.name}: {exc}", file=sys.stderr)
            status = 1
            continue
        target = notebook_path(source)
        nbformat.write(nb, str(target))
        size = target.stat().st_size
        errs = stderr_outputs(nb)
        print(f"{target.name}: {time.perf_counter() - start:.1f} s, {size / 1024:.0f} KiB"
              + (f", {len(errs)} stderr output(s)" if errs else ""))
        for text in errs:
            print("   stderr: " + text.strip().replace("\n", "\n           "))
        if size > MAX_BYTES:
            print(f"   too large: {target.name} is over {MAX_BYTES} bytes", file=sys.stderr)
            status = 1
        if png_dir is not None:
            for path in export_pngs(nb, source.stem[:2], png_dir):
                print(f"   figure: {path}")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="build only notebooks whose name starts with these")
    parser.add_argument("--png", type=Path, default=None, help="directory to export figure PNGs to")
    args = parser.parse_args(argv)
    return build(args.only, args.png)


if __name__ == "__main__":
    raise SystemExit(main())
