"""Source of analyses/02-loading-and-checking-data.ipynb (build with: python analyses/build.py 02)."""

# %% [markdown]
# # 2. Loading and checking trial data
#
# Real trial data rarely arrive in the shape an analysis needs. One collaborator sends a spreadsheet with
# one row per patient, another a CSV with one row per visit, a third a CDISC ADaM file from a clinical
# data system. Group names differ ("RW", "Retro walking", "1"), visits are called "pre" and "post", and
# somebody typed `14` into a 0-10 pain scale.
#
# `rs.read_trial` turns all of these into the **canonical long table** you met in notebook 1 (one row per
# subject x visit x outcome), and it refuses bad input with a sentence that names the file, the row and
# the column. In this notebook we write a few small files ourselves, read them back, and break them on
# purpose.

# %% [markdown]
# ## A scratch folder
#
# We write the example files into a new temporary folder, so the notebook leaves nothing behind in the
# project. Messages print file names only, so the folder's path does not matter.

# %%
import tempfile
from pathlib import Path

import retrostudy as rs

folder = Path(tempfile.mkdtemp(prefix="retrostudy-nb02-"))

# %% [markdown]
# ## Layout 1: one row per subject ("wide")
#
# The most common spreadsheet: each patient is a row and every measurement a column named
# `<outcome>_<visit>`. Here are six patients, two per arm, with pain and WOMAC at baseline and week 6.
# (The numbers are made up for this example.)

# %%
wide_csv = folder / "wide.csv"
wide_csv.write_text(
    "subject,arm,age,pain_baseline,pain_week6,womac_baseline,womac_week6\n"
    "R01,retro,54,7,4,45,38\n"
    "R02,retro,61,6,4,40,35\n"
    "F01,forward,58,6,5,38,36\n"
    "F02,forward,49,8,6,52,47\n"
    "C01,control,57,7,6,44,42\n"
    "C02,control,63,5,5,36,35\n"
)
wide = rs.read_trial(wide_csv)
wide

# %% [markdown]
# `read_trial` recognised the layout from the column names alone: `subject` is the subject id, `arm` the
# treatment group, `pain_baseline` means outcome `pain_nrs` at visit `baseline`, and `age` is a covariate.
# What it recognised is kept in `.meta`, so you can check it instead of trusting it.

# %%
{key: wide.meta[key] for key in ("format", "layout", "columns", "outcome_columns", "covariates")
 if key in wide.meta}

# %% [markdown]
# The result is the canonical table: twelve subject x visit rows times two outcomes = 24 rows. Every row
# remembers where it came from (`source_file`, `source_row`); row 2 is the first data row, because the
# header is row 1 in a CSV file, just as you see it in a spreadsheet program.

# %%
wide.data.head(6)

# %% [markdown]
# ## Layout 2: one row per subject and visit ("by-visit"), in Excel
#
# The same six patients, now with one row per visit and one column per outcome, saved as an `.xlsx`
# workbook. We build the sheet from the canonical table we just read (pandas `pivot`), write it with
# pandas, and read it back with `read_trial`.

# %%
by_visit = (wide.data.pivot_table(index=["subject_id", "arm", "visit", "age"], columns="outcome",
                                  values="value", observed=True)
            .reset_index().rename(columns={"pain_nrs": "pain"}))
by_visit.columns.name = None
by_visit_xlsx = folder / "by_visit.xlsx"
by_visit.to_excel(by_visit_xlsx, index=False, sheet_name="Data")
by_visit.head(4)

# %% [markdown]
# Reading it gives the same numbers. We compare the two canonical tables on the columns that carry the data
# (the source columns differ, of course: another file, other rows).

# %%
from_xlsx = rs.read_trial(by_visit_xlsx)
key = ["subject_id", "visit", "outcome"]
a = wide.data.sort_values(key)[key + ["value"]].astype(str).reset_index(drop=True)
b = from_xlsx.data.sort_values(key)[key + ["value"]].astype(str).reset_index(drop=True)
print(from_xlsx.meta.get("layout"), "layout; same values as the wide file:", a.equals(b))

# %% [markdown]
# ## Layout 3: CDISC ADaM (one row per subject, visit and parameter)
#
# Clinical data systems export **ADaM BDS** datasets with standard names: `USUBJID` (subject), `TRT01P`
# (planned treatment), `AVISIT`/`AVISITN` (visit), `PARAMCD` (which measurement) and `AVAL` (its value).
# `read_trial` knows these names; `PARAMCD` codes like `PAIN` and `WOMAC` map onto outcome ids.

# %%
adam_csv = folder / "adsl_bds.csv"
adam_csv.write_text(
    "STUDYID,USUBJID,TRT01P,AVISIT,AVISITN,PARAMCD,AVAL,AGE\n"
    "RW01,RW01-R01,retro,Baseline,0,PAIN,7,54\n"
    "RW01,RW01-R01,retro,Week 6,6,PAIN,4,54\n"
    "RW01,RW01-C01,control,Baseline,0,PAIN,7,57\n"
    "RW01,RW01-C01,control,Week 6,6,PAIN,6,57\n"
)
adam = rs.read_trial(adam_csv)
adam.data[["study", "subject_id", "arm", "visit", "week", "outcome", "value", "age"]]

# %% [markdown]
# ## Your own names: a mapping file
#
# When the names in a file are not ones `retrostudy` knows, you say what is what in a small YAML mapping
# file. Here the groups are coded `RW`, `FW`, `UC`, the visits are `pre` and `post`, and the columns have
# their own names. The mapping says which column is which, what each label means and the week of each
# visit. It is read with a *safe* YAML loader: nothing in it is ever executed.

# %%
coded_csv = folder / "coded.csv"
coded_csv.write_text(
    "patient,group,time,nrs_pain,womac_total\n"
    "101,RW,pre,7,52\n101,RW,post,4,40\n"
    "102,FW,pre,6,47\n102,FW,post,5,44\n"
    "103,UC,pre,6,45\n103,UC,post,6,44\n"
)
mapping_yaml = folder / "coded.yaml"
mapping_yaml.write_text(
    "layout: by_visit\n"
    "columns: {subject_id: patient, arm: group, visit: time}\n"
    "arms: {RW: retro, FW: forward, UC: control}\n"
    "visits: {pre: 0, post: 6}\n"
    "outcomes:\n"
    "  pain_nrs: {column: nrs_pain}\n"
    "  womac: {column: womac_total}\n"
)
coded = rs.read_trial(coded_csv, config=mapping_yaml)
coded.data[["subject_id", "arm", "visit", "week", "outcome", "value"]].head(4)

# %% [markdown]
# The same options can be given as keyword arguments instead of a file, which is handy in a notebook:

# %%
same = rs.read_trial(coded_csv, layout="by_visit",
                     columns={"subject_id": "patient", "arm": "group", "visit": "time"},
                     arms={"RW": "retro", "FW": "forward", "UC": "control"}, visits={"pre": 0, "post": 6},
                     outcomes={"pain_nrs": {"column": "nrs_pain"}, "womac": {"column": "womac_total"}})
print(same.data["value"].tolist() == coded.data["value"].tolist())

# %% [markdown]
# ## A messy file: the errors
#
# Now a file with the mistakes real files have: a pain score of `14` on a 0-10 scale, a typo in a group
# name (`retor`), a value that is text (`n/a?`), and the same subject twice at the same visit.
# `read_trial` checks **everything** first and then raises a single `rs.DataError`. Its message is one
# sentence about the first problem plus a count of the others; `e.problems` is a table of all of them with
# file, row, column, value, the rule that was broken and a message saying how to fix it.

# %%
messy_csv = folder / "messy.csv"
messy_csv.write_text(
    "subject,arm,visit,pain,womac\n"
    "R01,retro,baseline,7,45\n"
    "R01,retro,week6,14,38\n"
    "R02,retor,baseline,6,40\n"
    "R02,retro,week6,4,n/a?\n"
    "C01,control,baseline,7,44\n"
    "C01,control,baseline,6,42\n"
)
try:
    rs.read_trial(messy_csv)
except rs.DataError as e:
    print(e)
    problems = e.problems

problems[["row", "column", "value", "rule"]]

# %% [markdown]
# Each message is meant to be read by the person who fixes the file:

# %%
for message in problems["message"]:
    print("-", message)

# %% [markdown]
# ## Checking a file without an exception: `validate_trial`
#
# `rs.validate_trial` runs the same checks but never raises on bad data; it returns a report you can
# print or inspect. The command line does the same: `retrostudy validate messy.csv`.

# %%
report = rs.validate_trial(messy_csv)
print("ok:", report.ok)
print(report.summary())

# %% [markdown]
# ## Missing values are not errors: the exclusion log
#
# An empty cell is not a mistake: a patient may simply not have come back. `read_trial` accepts it, but the
# value cannot be in the table, so it goes into the **exclusion log** with its file, row, column and
# reason. Nothing is ever dropped silently, and reports print this log. Below, `R02` missed week 6 and
# `C01`'s WOMAC at baseline is blank.

# %%
gaps_csv = folder / "gaps.csv"
gaps_csv.write_text(
    "subject,arm,visit,pain,womac\n"
    "R01,retro,baseline,7,45\nR01,retro,week6,4,38\n"
    "R02,retro,baseline,6,40\nR02,retro,week6,,\n"
    "C01,control,baseline,7,\nC01,control,week6,6,42\n"
)
gaps = rs.read_trial(gaps_csv)
print(gaps)
print(gaps.exclusions.summary())

# %% [markdown]
# The log itself is a table, one entry per value left out:

# %%
gaps.exclusions.to_frame()[["stage", "file", "row", "subject_id", "visit", "outcome", "column", "reason"]]

# %% [markdown]
# ## What we learned
#
# * `rs.read_trial(path)` reads CSV, Excel, ADaM and other formats in long, by-visit, wide and one-sheet-
#   per-visit layouts, recognises the layout from the column names, and returns the canonical long table
#   with `.meta` saying what it recognised.
# * When names differ, a mapping (a YAML file or keyword arguments) says which column is which and what
#   each label means.
# * Bad values are refused with one `rs.DataError`: one sentence for the first problem, and
#   `e.problems` listing every problem with file, row and column. `rs.validate_trial` reports the same
#   without raising.
# * Missing values are allowed, but every value left out is in the exclusion log with its reason.
#
# ## Exercises
#
# 1. Write a corrected copy of `messy.csv` and read it. For the duplicate `C01` baseline row, who should
#    decide which of the two rows is right, and why does `read_trial` not simply keep the first?
# 2. Read `coded.csv` **without** the mapping. What does `read_trial` say? Which single keyword argument
#    is enough to read it, and why are the other mapping entries not needed?
# 3. In `gaps.csv`, how many values are excluded, and why is `C01` still in the table?
#
# <details>
# <summary><b>Solutions</b> (click to open)</summary>
#
# 1. Change `14` to the value in the case report form, `retor` to `retro`, `n/a?` to a number or an
#    empty cell, and delete the wrong `C01` row. Which row is wrong is a question for the person who
#    entered the data; a program that silently kept the first row could keep the wrong one.
#
#    ```python
#    fixed = folder / "fixed.csv"
#    fixed.write_text(messy_csv.read_text().replace(",14,", ",4,").replace("retor", "retro")
#                     .replace("n/a?", "").replace("C01,control,baseline,6,42\n", ""))
#    print(rs.read_trial(fixed).exclusions.summary())  # the emptied WOMAC cell is logged
#    ```
#
# 2. `rs.read_trial(coded_csv)` raises a `DataError`: the visit label `'post'` is not known (`pre` is
#    recognised as a baseline word), and the message says to map it to its week under `visits:`.
#    `rs.read_trial(coded_csv, visits={"pre": 0, "post": 6})` is enough, because the loader recognises
#    the column names `patient`, `group`, `time`, `nrs_pain`, `womac_total` and the arm codes
#    `RW`/`FW`/`UC` by itself; check what it guessed in `.meta["columns"]` and `.meta["outcome_columns"]`.
# 3. Three values (R02's pain and WOMAC at week 6, C01's WOMAC at baseline):
#    `gaps.exclusions.n_cells`. `C01` still has three values, and only missing cells are left out, not
#    the whole subject.
#
# </details>
