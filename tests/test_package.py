"""The package surface: contract names, lazy import, errors, exclusion log, CLI basics."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import retrostudy as rs
from retrostudy.errors import DataError
from retrostudy.exclusions import ExclusionLog

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = [
    "list_datasets", "load_dataset", "read_trial", "validate_trial", "fit_ancova", "fit_lmm", "fit_mmrm",
    "emmeans", "contrasts", "effect_sizes", "build_report", "TrialData", "RetrostudyError", "DataError",
    "SpecError", "ModelError", "RetrostudyWarning", "ConvergenceWarning",
]


@pytest.mark.parametrize("name", CONTRACT)
def test_contract_names_resolve(name):
    assert name in rs.__all__
    assert getattr(rs, name) is not None


def test_functions_stay_functions_after_their_submodules_load():
    import retrostudy.inference.contrasts
    import retrostudy.inference.emmeans  # noqa: F401

    assert callable(rs.emmeans) and rs.emmeans.__name__ == "emmeans"
    assert callable(rs.contrasts) and rs.contrasts.__name__ == "contrasts"


def test_import_and_help_are_fast_and_light():
    code = "import sys, retrostudy.cli; print(','.join(m for m in ('pandas','scipy','statsmodels') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""  # nothing heavy imported for --help
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "retrostudy", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "report" in res.stdout
    assert time.perf_counter() - start < 5  # generous; the real figure is ~0.1 s, measured in the README


def test_cli_usage_error_exits_2():
    res = subprocess.run([sys.executable, "-m", "retrostudy", "no-such-command"], capture_output=True, text=True)
    assert res.returncode == 2


def test_data_error_is_one_sentence_with_a_count():
    err = DataError(
        [
            {"file": "a.csv", "row": 3, "column": "pain", "value": "14", "rule": "range",
             "message": "a.csv, row 3, column 'pain': 14 is outside 0 to 10; correct the value."},
            {"file": "a.csv", "row": 9, "column": "pain", "value": "x", "rule": "numeric", "message": "second"},
            {"file": "a.csv", "row": 11, "column": "arm", "value": "?", "rule": "label", "message": "third"},
        ]
    )
    assert str(err).startswith("a.csv, row 3, column 'pain'")
    assert "(2 more problems" in str(err)
    assert list(err.problems.columns) == ["file", "row", "column", "value", "rule", "message"]
    assert isinstance(err, ValueError)


def test_exclusion_log_counts_cells_and_reasons():
    log = ExclusionLog.from_records(
        [
            {"stage": "read", "file": "a.csv", "row": 4, "outcome": "pain_nrs", "reason": "missing value"},
            {"stage": "read", "file": "a.csv", "row": 5, "cells": 3, "reason": "missing value"},
        ]
    ).extend([{"stage": "ancova", "subject_id": "R01", "reason": "no week-6 value"}])
    assert len(log) == 3 and log.n_cells == 5
    by = log.by_reason().set_index(["stage", "reason"])["cells"]
    assert by[("read", "missing value")] == 4 and by[("ancova", "no week-6 value")] == 1
    assert "5 value(s) excluded" in log.summary()
    assert log.to_dict()["n_cells"] == 5


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    m = re.search(r"<!-- test-command -->\s*```(?:bash|sh)?\n(.+?)\n```", readme, re.S)
    assert m, "README.md must show the test command after a <!-- test-command --> marker"
    assert m.group(1).strip() in ci


def test_no_eval_exec_pickle_or_unsafe_yaml_in_the_package():
    pattern = re.compile(r"\b(eval|exec)\(|\bpickle\b|yaml\.load\(|yaml\.unsafe_load|yaml\.Loader\b")
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in (ROOT / "retrostudy").rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []
