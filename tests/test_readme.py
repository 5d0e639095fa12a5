"""The README's examples work as written (a newcomer copies them)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import retrostudy as rs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _block(marker: str) -> str:
    m = re.search(rf"<!-- {marker} -->\s*```[a-z]*\n(.*?)```", README, re.S)
    assert m, f"README.md has no block after <!-- {marker} -->"
    return m.group(1)


def test_mapping_example_reads_as_described(tmp_path):
    (tmp_path / "mytrial.csv").write_text(_block("example-csv"))
    (tmp_path / "mytrial.yaml").write_text(_block("example-yaml"))
    trial = rs.read_trial(tmp_path / "mytrial.csv", config=tmp_path / "mytrial.yaml")
    assert trial.arms == ["retro", "forward"]
    assert trial.visits == ["baseline", "week6"]
    assert set(trial.outcomes) == {"pain_nrs", "womac"}
    assert "age" in trial.covariates
    rows = trial.data.set_index(["subject_id", "visit", "outcome"])["value"]
    assert rows[("101", "week6", "pain_nrs")] == 4.0
    assert rows[("102", "baseline", "womac")] == 47.0
    assert trial.exclusions.n_cells == 0


def test_python_example_runs(tmp_path):
    res = subprocess.run([sys.executable, "-c", _block("example-python")], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "retro - control" in res.stdout


def test_every_settings_and_mapping_key_is_documented_with_its_default():
    from retrostudy.io.mapping import MAPPING_KEYS, OUTCOME_KEYS
    from retrostudy.options import REPORT_SETTINGS

    settings = README.split("<!-- settings-table -->", 1)[1].split("\n\n", 1)[0]
    mapping = README.split("<!-- mapping-table -->", 1)[1].split("SPSS", 1)[0]
    for key in REPORT_SETTINGS:
        row = next((line for line in settings.splitlines() if line.startswith(f"| `{key}`")), None)
        assert row is not None, f"settings key {key} is not in the README's table"
        assert row.count("|") == 4 and row.split("|")[2].strip(), f"{key} has no default in the README"
    from retrostudy.options import SENSITIVITY_SETTINGS

    sens = README.split("<!-- sensitivity-table -->", 1)[1].split("\n\n", 1)[0]
    for key in SENSITIVITY_SETTINGS:
        row = next((line for line in sens.splitlines() if line.startswith(f"| `{key}`")), None)
        assert row is not None and row.split("|")[2].strip(), f"sensitivity key {key} is not in the README's table"
    for key in MAPPING_KEYS:
        assert f"| `{key}` |" in mapping, f"mapping key {key} is not in the README's table"
    for key in OUTCOME_KEYS:
        assert f"`{key}`" in mapping, f"outcome key {key} is not in the README"
