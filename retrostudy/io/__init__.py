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

Modules: :mod:`.formats` (readers, content sniffing), :mod:`.layouts` (layout
detection and reshaping), :mod:`.mapping` (the mapping options and YAML file),
:mod:`.labels` (column, arm, visit and outcome synonyms), :mod:`.checks` (the bad-input
rules), :mod:`.validate` (the two entry points and ValidationReport).
"""
from __future__ import annotations

from .mapping import TrialMapping, load_mapping
from .read import ValidationReport, read_trial, validate_trial

__all__ = ["read_trial", "validate_trial", "ValidationReport", "load_mapping", "TrialMapping"]
