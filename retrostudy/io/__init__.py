"""Trial data in: read any common file and layout into the canonical long table.

``read_trial(path, *, config=None, layout="auto", **mapping) -> TrialData`` raises one
:class:`~retrostudy.errors.DataError` listing every problem; ``validate_trial(...)``
returns a :class:`ValidationReport` instead of raising.

Row numbers (``source_row`` in the canonical table, ``row`` in problems and in the
exclusion log) are the rows as the user sees them:

* csv, tsv and xlsx: the spreadsheet row number, the header being row 1 when it is the
  first line, so the first data row is row 2 (blank lines above the header count);
* parquet, sas7bdat, xpt, sav, dta and DataFrames: the 1-based record number.

``source_file`` is the file's name without its folder (``<DataFrame>`` for a frame).
Missing values are never errors: they are left out of ``data`` and logged in
``exclusions`` (stage ``read``) with their row, so that analysis values + excluded
values = input values (``meta['input_cells']``).

Modules, in pipeline order: :mod:`.read` (the entry: ``read_trial``, ``validate_trial``,
ValidationReport) -> :mod:`.formats` (content sniffing, typed files), :mod:`.text`
(csv/tsv), :mod:`.workbook` (xlsx), :mod:`.grid` (where the header is) -> :mod:`.layouts`
(layout detection and reshaping into cells) -> :mod:`.canonicalize` (the canonical table)
with :mod:`.checks` (rules on cells) and :mod:`.crosschecks` (rules across rows); then
:func:`retrostudy.trial.validate_canonical`. Helpers: :mod:`.mapping` (the mapping
options), :mod:`.safeyaml` (the one safe YAML reader), :mod:`.labels` (names and
synonyms), :mod:`.visits` (visit labels, dates, wide column names), :mod:`.cellparse`
(the one cell-to-number parser and missing-value rule), :mod:`.problems`.
"""
from __future__ import annotations

from .mapping import TrialMapping, load_mapping
from .read import ValidationReport, read_trial, validate_trial

__all__ = ["TrialMapping", "ValidationReport", "load_mapping", "read_trial", "validate_trial"]
