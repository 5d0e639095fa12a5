"""Source of analyses/05-from-analysis-to-report.ipynb (build with: python analyses/build.py 05)."""

# %% [markdown]
# # 5. From the analysis to a reproducible report
#
# Notebooks 3 and 4 fitted models one at a time. A trial report puts everything together: who was in
# the trial, the primary analysis for every outcome, a sensitivity analysis, figures, and a record of
# exactly what it was made from. `retrostudy` writes such a report as a PDF with **one function call or
# one command**. This notebook
#
# * builds the report from Python and from the command line;
# * checks that the same input gives the **same bytes** (reproducibility) and what the manifest's hashes
#   are for;
# * edits the report's text through its source folder (`--keep-source`).
#
# The report is built from the synthetic data of notebook 1, and says so on its first page.

# %%
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import Image

import retrostudy as rs

folder = Path(tempfile.mkdtemp(prefix="retrostudy-nb05-"))

# %% [markdown]
# ## Building the report from Python
#
# `rs.build_report` takes the data (a `TrialData`, a canonical table, a file path or a bundled dataset
# id) and the name of the PDF. To keep this notebook quick we report two outcomes, pain and WOMAC, which
# are also the trial's declared **primary outcomes** (the default is every outcome; the others would be
# reported as exploratory). The primary analysis is the constrained longitudinal MMRM (cLDA, notebook 4),
# which uses every randomized person; the complete-case ANCOVA is the sensitivity analysis; and the p-values
# of the six pairwise contrasts of the two primary outcomes are adjusted together by Holm's method (settings
# `primary_outcomes` and `multiplicity`). A section "Missing data and sensitivity" adds the estimand and
# multiple imputation under other assumptions than missing at random (notebook 6).
# `keep_source` also writes the report's source (see the last section). `progress=print` shows each step.

# %%
first = folder / "first"
manifest = rs.build_report("alghadir2019_sim", out=first / "report.pdf", outcomes=["pain_nrs", "womac"],
                           keep_source=first / "source", progress=print)

# %% [markdown]
# The function returns a **manifest**: what went in (the input and its sha256), how the report was
# specified, the command that reproduces it, the package versions, the sha256 of every file it wrote and of
# every source compiled into the PDF. The same manifest is written as JSON next to the PDF, and
# `manifest.summary()` gives the primary results in brief (the command line prints it).

# %%
print("command:", manifest.command)
print("input:  ", manifest.input["name"], f"({manifest.input['kind']})")
print("date in the PDF:", manifest.timestamp["iso"], "from", manifest.timestamp["source"])
print(manifest.summary())
sorted(p.name for p in first.iterdir())

# %% [markdown]
# Here is the first page, rendered as an image from the same source with the `typst` package that
# `retrostudy` uses to typeset the PDF. Note the synthetic-data warning and the plain-language summary.

# %%
import typst

pages = typst.compile(str(first / "source" / "report.typ"), root=str(first / "source"), format="png", ppi=60,
                      ignore_system_fonts=True, font_paths=[])
print(f"{len(pages)} pages")
Image(pages[0])

# %% [markdown]
# ## Building the report from the command line
#
# The same report from a terminal. In a shell you would type
#
# ```bash
# retrostudy report alghadir2019_sim --outcomes pain_nrs womac --out report.pdf
# ```
#
# Here we run that command from Python with `subprocess`, so that the notebook shows its output. The
# command prints each step (on the error stream) and the primary results, and exits with code 0 on success
# (2 for a wrong option, 3 for a problem in the data). We give the PDF another name on purpose.

# %%
cli = folder / "cli"
cli.mkdir()
result = subprocess.run(
    [sys.executable, "-m", "retrostudy", "report", "alghadir2019_sim", "--outcomes", "pain_nrs", "womac",
     "--out", "six-week.pdf"],
    cwd=cli, capture_output=True, text=True)
print("exit code:", result.returncode)
print(result.stdout.strip() or result.stderr.strip())

# %% [markdown]
# ## Reproducibility: the same input gives the same bytes
#
# A report is reproducible when anybody who runs the same command on the same data with the same software
# gets **the same file**, byte for byte. `retrostudy` makes that possible by fixing everything that
# usually changes between runs: the date written into the PDF (taken from the data, or from the
# environment variable `SOURCE_DATE_EPOCH`), the fonts (embedded in `typst`), the order of everything,
# and the figures (SVG without dates or random ids).
#
# A **sha256 hash** is a 64-character fingerprint of a file's bytes: change one byte and the hash changes
# completely. We build the report again from Python, in a new folder, and compare fingerprints.

# %%
second = folder / "second"
again = rs.build_report("alghadir2019_sim", out=second / "report.pdf", outcomes=["pain_nrs", "womac"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


print("first build :", sha256(first / "report.pdf"))
print("second build:", sha256(second / "report.pdf"))
print("identical bytes:", sha256(first / "report.pdf") == sha256(second / "report.pdf"))
print("hash recorded in the manifest matches the file:",
      manifest.outputs["report.pdf"] == sha256(first / "report.pdf"))

# %% [markdown]
# The command-line report was made by another program, in another folder, under another file name, and
# still its PDF has the same fingerprint: nothing in the PDF depends on where or under which name it is
# written (the command recorded in its appendix leaves out `--out`). The manifests show this file by file:
# the Python build kept its sources (`keep_source`), so its manifest also lists the files of `source/`,
# and every source compiled into the two PDFs is the same.

# %%
cli_manifest = json.loads((cli / "six-week.manifest.json").read_text())
print("same PDF bytes:", cli_manifest["outputs"]["six-week.pdf"] == manifest.outputs["report.pdf"])
print("files written by the command line:", sorted(cli_manifest["outputs"]))
# the hashes themselves depend on the installed package versions (the report lists them), so we show
# only whether the two builds agree, source by source
pd.Series({name: cli_manifest["sources"][name] == digest for name, digest in manifest.sources.items()},
          name="same bytes").to_frame()

# %% [markdown]
# With the manifest in hand, anyone can check that a PDF is the one the code produced: recompute the
# file's sha256 and compare.
#
# ## Editing the report text
#
# Sometimes a report needs a sentence the template does not write, or a different title. Do not edit the
# PDF: edit its **source**. With `keep_source=` (command line: `--keep-source DIR`) the report's source is
# written to a folder:
#
# * `report.typ`, the layout, in the [typst](https://typst.app) markup language;
# * `report.json`, every number and sentence of the report;
# * `fig/`, the figures as SVG files.

# %%
source = first / "source"
sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file())

# %% [markdown]
# We change the title in `report.json` and add a sentence to the synthetic-data statement, then compile
# the source again with `typst` (in a terminal: `typst compile report.typ` inside the folder). The JSON is
# data, not code: the template prints its strings as text, so nothing in it can run.

# %%
content = json.loads((source / "report.json").read_text())
content["meta"]["title"] = "Retro walking for knee OA: a teaching report"
content["meta"]["synthetic_statement"] += " Prepared for the retrostudy student notebooks."
(source / "report.json").write_text(json.dumps(content, indent=1))

edited_pdf = folder / "edited.pdf"
typst.compile(str(source / "report.typ"), output=str(edited_pdf), root=str(source), ignore_system_fonts=True,
              font_paths=[])
print("edited PDF sha256:", sha256(edited_pdf))
print("same as the generated report:", sha256(edited_pdf) == manifest.outputs["report.pdf"])

# %% [markdown]
# The edited report is a new document: its fingerprint no longer matches the manifest, which is exactly
# what a reader should be able to detect. Keep your edits with the source folder (for example in version
# control) so that the edited report is reproducible too. The first page of the edited version:

# %%
edited_pages = typst.compile(str(source / "report.typ"), root=str(source), format="png", ppi=60,
                             ignore_system_fonts=True, font_paths=[])
Image(edited_pages[0])

# %% [markdown]
# ## What we learned
#
# * `rs.build_report(data, out=...)` and `retrostudy report DATA --out FILE` write the whole trial report
#   as a PDF, with a manifest (JSON) of the input, the specification, the command, the versions and the
#   sha256 of every file written and every source compiled.
# * The same input and software give a byte-identical PDF, whatever its name or folder; a sha256
#   fingerprint lets anyone check that a PDF is the one the code made, and shows which file changed when
#   two builds differ.
# * To change the text, keep the source (`keep_source=` / `--keep-source`), edit `report.json` or
#   `report.typ`, and compile with `typst`; the fingerprint then no longer matches the manifest.
#
# ## Exercises
#
# 1. Build the report with the ANCOVA as the primary analysis (`primary="ancova"`). Which of the
#    manifest's source hashes (`manifest.sources`) change compared with the first build, and which stay
#    the same?
# 2. Run the command-line report twice into two folders, with two different `--out` names, and compare
#    the two PDFs' sha256. What do you expect, and why?
# 3. Set the environment variable `SOURCE_DATE_EPOCH` to `1546300800` (1 January 2019) before building.
#    What changes in the manifest?
#
# <details>
# <summary><b>Solutions</b> (click to open)</summary>
#
# 1. ```python
#    alt = rs.build_report("alghadir2019_sim", out=folder / "ancova" / "report.pdf",
#                          outcomes=["pain_nrs", "womac"], primary="ancova")
#    {name: alt.sources.get(name) == manifest.sources.get(name)
#     for name in sorted(set(alt.sources) | set(manifest.sources))}
#    ```
#    `report.typ`, the trajectory, responder, missing-value pattern and tipping-point figures stay the
#    same: they are the layout and the data, and the multiple imputation does not depend on the primary
#    model. The flow diagram changes: the cLDA analyses all 68 people, the ANCOVA only the 59 with a week-6
#    value, and the diagram gives the ANCOVA's reason for leaving people out ("no value at week 6"). The
#    diagnostics figures get new names (`diag_*_ancova.svg`). The forest plot changes (the differences are
#    the same, but each interval comes from its model's standard error), and so does the figure of the
#    sensitivity analyses (the primary line, drawn in black, is now the ANCOVA); and so do `report.json` and
#    the PDF.
# 2. The two PDFs have the same sha256, even with different `--out` names and folders: same data, same
#    software, same fixed date, and nothing in the PDF depends on where it is written.
#
#    ```python
#    for name in ("a", "b"):
#        (folder / name).mkdir(exist_ok=True)
#        subprocess.run([sys.executable, "-m", "retrostudy", "report", "alghadir2019_sim", "--outcomes",
#                        "pain_nrs", "--out", f"{name}-report.pdf"], cwd=folder / name, check=True)
#    sha256(folder / "a" / "a-report.pdf") == sha256(folder / "b" / "b-report.pdf")
#    ```
# 3. `manifest.timestamp` reads `2019-01-01T00:00:00Z` from `SOURCE_DATE_EPOCH`; the PDF's hash changes
#    because the date inside it changed, while the figures (`manifest.sources`) and the input hash stay
#    the same. (Without `SOURCE_DATE_EPOCH` the date is the dataset's own; `--date` or `date=` overrides
#    both.)
#
#    ```python
#    import os
#    os.environ["SOURCE_DATE_EPOCH"] = "1546300800"
#    dated = rs.build_report("alghadir2019_sim", out=folder / "dated" / "report.pdf", outcomes=["pain_nrs"])
#    del os.environ["SOURCE_DATE_EPOCH"]
#    dated.timestamp
#    ```
#
# </details>
