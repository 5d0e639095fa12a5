"""Inputs that gave a traceback now give one sentence (exit 3, or 2 for a usage error) (issue 12)."""
from __future__ import annotations

import decimal
import zipfile

import pandas as pd
import pytest
from test_io_bad_input import fails, one

import retrostudy as rs
from retrostudy.cli import main
from retrostudy.errors import SpecError

REPORT_DATA = "alghadir2019_sim"


# --- parquet ----------------------------------------------------------------------------------------

def _parquet(tmp_path, **columns):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"subject": ["R1", "R1"], "arm": ["retro", "retro"], "visit": ["baseline", "week 6"],
                      **columns})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    return path


def test_parquet_decimal_columns_are_numbers(tmp_path):
    import pyarrow as pa

    # before: refused as "not a number"
    path = _parquet(tmp_path, pain=pa.array([decimal.Decimal("7.5"), decimal.Decimal("5.00")], pa.decimal128(5, 2)),
                    age=pa.array([decimal.Decimal(61), decimal.Decimal(61)], pa.decimal128(4, 0)))
    trial = rs.read_trial(path)
    assert trial.data["value"].tolist() == [7.5, 5.0] and trial.data["age"].tolist() == [61.0, 61.0]


def test_parquet_list_and_struct_columns(tmp_path):
    import pyarrow as pa

    # before: a traceback from pandas (unhashable cells)
    path = _parquet(tmp_path, pain=[7.0, 5.0], tags=pa.array([[1, 2], [3]]), info=pa.array([{"a": 1}, {"a": 2}]))
    trial = rs.read_trial(path)  # not needed: left out and listed
    assert set(trial.meta["ignored_columns"]) == {"tags", "info"} and trial.covariates == []
    p = one(fails(path, covariates=["tags"]), "nested_column")
    assert p["message"] == ("t.parquet, column 'tags': this column holds lists (a nested column), which cannot be a "
                            "covariate; store one number or label per cell (flatten the column before saving the "
                            "file).")
    path = _parquet(tmp_path, pain=pa.array([[1.0], [2.0]]))
    assert "holds lists (a nested column), which cannot be an outcome" in one(fails(path), "nested_column")["message"]


def test_a_dataframe_with_list_cells(tmp_path):
    frame = pd.DataFrame({"subject": ["R1", "R1"], "arm": ["retro", "retro"], "visit": ["baseline", "week 6"],
                          "pain": [7.0, 5.0], "tags": [[1], [2, 3]]})
    assert rs.read_trial(frame).meta["ignored_columns"] == ["tags"]


# --- YAML -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["columns: " + "[" * 1000 + "]" * 1000 + "\n",
                                  "".join("  " * i + f"k{i}:\n" for i in range(300))])
def test_deeply_nested_yaml_is_refused_before_recursing(tmp_path, text):
    # before: RecursionError
    cfg = tmp_path / "deep.yaml"
    cfg.write_text(text)
    from retrostudy.io.mapping import load_mapping

    with pytest.raises(rs.DataError) as info:
        load_mapping(cfg)
    assert info.value.problems.loc[0, "rule"] == "yaml_depth"
    assert "is nested more than 16 levels deep here" in str(info.value)


def test_a_mapping_dict_collects_every_problem_into_one_data_error():
    # before: a dict raised only its first problem
    from retrostudy.io.mapping import load_mapping

    with pytest.raises(rs.DataError) as info:
        load_mapping({"visits": {"post": "six"}, "arms": {"RW": "Retro Walking"}, "colums": {}})
    assert info.value.messages == [
        "mapping option 'colums': unknown key; did you mean 'columns'?",
        "mapping option 'arms.RW': the canonical arm must be a snake_case name such as 'retro'.",
        "mapping option 'visits.post': the visit's week must be a number such as 6."]
    assert list(info.value.problems["column"]) == ["colums", "arms.RW", "visits.post"]


SETTINGS_CASES = {
    "alias bomb": ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "settings.yaml, line 1: the settings file carries a "
                   "YAML anchor or alias, which retrostudy refuses"),
    "deep": ("title: " + "[" * 500 + "]" * 500 + "\n", "is nested more than 16 levels deep"),
    "percent": ("conf_level: 95%\n", "settings.yaml, line 1, key 'conf_level': conf_level must be a number between "
                "0 and 1, such as 0.95, not '95%'."),
    "percentage number": ("report:\n  conf_level: 95\n", "settings.yaml, line 2, key 'conf_level': conf_level must "
                          "be between 0 and 1, such as 0.95, not 95 (it looks like a percentage: write it as a "
                          "fraction)."),
    "title list": ("title: [a, b]\n", "settings.yaml, line 1, key 'title': title must be text, not ['a', 'b']"),
    "twice": ("covariance: us\ncovariance: cs\n", "the key 'covariance' is written twice in the same place"),
    "tag": ("title: !!python/object/apply:os.system ['true']\n", "carries a YAML tag !!python/object/apply:os.system"),
}


@pytest.mark.parametrize("case", list(SETTINGS_CASES))
def test_report_settings_files_get_the_mapping_readers_protections(tmp_path, case):
    from retrostudy.report import build_report

    text, expected = SETTINGS_CASES[case]
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(text)
    with pytest.raises(SpecError) as info:
        build_report(REPORT_DATA, out=tmp_path / "r.pdf", settings=cfg)
    assert expected in str(info.value)
    assert not (tmp_path / "r.pdf").exists()


def test_a_huge_settings_file_is_refused(tmp_path, capsys):
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("title: x\n" + "# padding\n" * 120_000)
    assert main(["report", REPORT_DATA, "--settings", str(cfg), "--out", str(tmp_path / "r.pdf")]) == 3
    assert "settings.yaml: the settings file is larger than 1 MB" in capsys.readouterr().err


def test_settings_dict_is_type_checked_too():
    from retrostudy.report.settings import load_settings

    with pytest.raises(SpecError, match=r"Report setting 'conf_level': conf_level must be a number between 0 and 1"):
        load_settings({"conf_level": "95%"})
    assert load_settings({"covariates": "age", "title": "Trial"}) == {"covariates": ["age"], "title": "Trial"}


# --- figures and output paths ---------------------------------------------------------------------------

def test_arm_labels_with_mathtext_are_drawn_literally():
    # before: matplotlib raised ValueError (Unknown symbol: \cmd) while drawing
    from retrostudy.figures import to_svg, trajectory_plot

    data = rs.load_dataset(REPORT_DATA).data.copy()
    data["arm"] = data["arm"].cat.rename_categories({"retro": r"$\cmd$ walking", "forward": "fw $x^2$"})
    svg = to_svg(trajectory_plot(data, "pain_nrs")).decode()
    assert r"$\cmd$ walking (n = " in svg and "fw $x^2$ (n = " in svg


def test_keep_source_naming_an_existing_file_is_a_usage_error(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["report", REPORT_DATA, "--keep-source", str(taken), "--out", str(tmp_path / "r.pdf")]) == 2
    assert f"--keep-source '{taken}' is an existing file; give a folder" in capsys.readouterr().err
    assert not (tmp_path / "r.pdf").exists()


def test_an_unwritable_out_is_a_usage_error(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["report", REPORT_DATA, "--out", str(taken / "r.pdf")]) == 2
    assert f"cannot write the report to '{taken / 'r.pdf'}': '{taken}' is a file, not a folder" in \
        capsys.readouterr().err
    assert main(["report", REPORT_DATA, "--out", str(tmp_path)]) == 2
    assert "is a folder; give the name of the PDF" in capsys.readouterr().err


# --- big files ---------------------------------------------------------------------------------------------

def test_a_zip_bomb_workbook_is_refused_from_its_declared_size(tmp_path):
    # before: minutes of inflating before any refusal (tests/benchmarks/bench_read.py times the real 770 MB one)
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", "<row/>" * 5_000_000)
    p = one(fails(path), "too_large")
    assert p["message"].startswith("bomb.xlsx: the workbook would inflate ")
    assert "times when opened (to 30 MB), as a zip bomb does" in p["message"]


def test_the_inflated_size_limit(tmp_path, monkeypatch):
    from retrostudy.io import workbook

    path = tmp_path / "t.xlsx"
    pd.DataFrame({"subject": ["R1"], "arm": ["retro"], "visit": ["baseline"], "pain": [5]}).to_excel(path,
                                                                                                    index=False)
    assert len(rs.read_trial(path).data) == 1
    monkeypatch.setattr(workbook, "MAX_XLSX_INFLATED", 1000)
    assert "more than retrostudy opens from a workbook" in one(fails(path), "too_large")["message"]
