"""The mapping is validated like data; YAML is read safely; nothing is ever executed."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import retrostudy as rs
from retrostudy.io.mapping import load_mapping

DATA = "subject,arm,visit,pain\nR01,RW,pre,6\nR01,RW,post,4\nC01,UC,pre,7\nC01,UC,post,7\n"


def write(tmp_path, text, name="map.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def yaml_error(path) -> rs.DataError:
    with pytest.raises(rs.DataError) as info:
        load_mapping(path)
    return info.value


def test_python_object_tag_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "marker"
    path = write(tmp_path, "layout: long\narms: !!python/object/apply:os.system\n"
                           f"  - 'touch {marker}'\n")
    err = yaml_error(path)
    assert err.problems.loc[0, "rule"] == "yaml_tag"
    assert str(err).startswith("map.yaml, line 2:")
    assert "tag !!python/object/apply:os.system" in str(err)
    assert not marker.exists()
    # through read_trial and validate_trial as well
    data = write(tmp_path, DATA, "t.csv")
    with pytest.raises(rs.DataError):
        rs.read_trial(data, config=path)
    report = rs.validate_trial(data, config=path)
    assert not report.ok and report.problems.loc[0, "rule"] == "yaml_tag"
    assert not marker.exists()


@pytest.mark.parametrize("text", ["study: !!python/name:os.getcwd ''\n", "study: !custom x\n",
                                  "a: &x [1]\nb: *x\n", "visits: !!binary aGVsbG8=\n"])
def test_any_tag_or_alias_is_refused(tmp_path, text):
    assert yaml_error(write(tmp_path, text)).problems.loc[0, "rule"] == "yaml_tag"


def test_code_in_a_value_is_just_text(tmp_path):
    path = write(tmp_path, "study: \"__import__('os').system('touch x')\"\n")
    assert load_mapping(path).study == "__import__('os').system('touch x')"
    assert not (tmp_path / "x").exists()


def test_unknown_key_names_line_and_suggests(tmp_path):
    err = yaml_error(write(tmp_path, "layout: long\ncolums:\n  arm: group\n"))
    p = err.problems.iloc[0]
    assert p["row"] == 2 and p["column"] == "colums"
    assert p["message"] == "map.yaml, line 2, key 'colums': unknown key; did you mean 'columns'?"


def test_bad_range_and_bad_values_are_all_reported(tmp_path):
    err = yaml_error(write(tmp_path, "outcomes:\n  pain_nrs:\n    low: 10\n    high: 0\n"
                                     "  tug: {low: fast}\nvisits: {post: six}\narms: {RW: Retro Walking}\n"
                                     "columns: {arm: group, sex: gender}\n"))
    rules = err.problems[["row", "column"]].values.tolist()
    assert [4, "outcomes.pain_nrs.high"] in rules
    assert [5, "outcomes.tug.low"] in rules
    assert [6, "visits.post"] in rules
    assert [7, "arms.RW"] in rules
    assert [8, "columns.sex"] in rules
    assert "the range is empty (low 10 is not below high 0)" in " ".join(err.messages)
    assert "(4 more problems" in str(err)


def test_yaml_syntax_error_and_not_a_mapping(tmp_path):
    err = yaml_error(write(tmp_path, "layout: long\ncolumns: {arm: [\n"))
    assert err.problems.loc[0, "rule"] == "yaml_syntax" and "line" in str(err)
    err = yaml_error(write(tmp_path, "- a\n- b\n"))
    assert "not a list" in str(err)
    err = yaml_error(tmp_path / "missing.yaml")
    assert str(err).startswith("missing.yaml: the mapping file does not exist")


def test_keyword_options_are_validated_with_spec_error(tmp_path):
    data = write(tmp_path, DATA, "t.csv")
    with pytest.raises(rs.SpecError, match="did you mean 'arms'"):
        rs.read_trial(data, armz={"RW": "retro"})
    with pytest.raises(rs.SpecError, match="low 5 is not below high 1"):
        rs.read_trial(data, outcomes={"pain_nrs": {"low": 5, "high": 1}})
    with pytest.raises(rs.SpecError, match="layout must be one of"):
        rs.read_trial(data, layout="diagonal")


def test_keywords_override_the_file(tmp_path):
    data = write(tmp_path, DATA, "t.csv")
    cfg = write(tmp_path, "visits: {pre: 0, post: 12}\nstudy: from_file\n")
    trial = rs.read_trial(data, config=cfg, visits={"pre": 0, "post": 6})
    assert trial.visits == ["baseline", "week6"] and trial.meta["study"] == "from_file"


def test_dict_config_equals_yaml(tmp_path):
    data = write(tmp_path, DATA, "t.csv")
    cfg = write(tmp_path, "visits: {pre: 0, post: 6}\narms: {UC: control, RW: retro}\n")
    a = rs.read_trial(data, config=cfg)
    b = rs.read_trial(data, config={"visits": {"pre": 0, "post": 6}, "arms": {"UC": "control", "RW": "retro"}})
    assert a.data.equals(b.data) and a.arms == ["control", "retro"]


def test_no_eval_exec_pickle_or_unsafe_yaml_in_the_package():
    root = Path(__file__).resolve().parents[2] / "retrostudy"
    pattern = re.compile(r"\b(eval|exec)\s*\(|\bpickle\b|yaml\.load\s*\(|yaml\.unsafe_load|yaml\.full_load|"
                         r"Loader\s*=\s*yaml\.(Unsafe|Full)?Loader\b")
    offenders = []
    for path in root.rglob("*.py"):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code) and "literal_eval" not in code:
                offenders.append(f"{path.relative_to(root)}:{i}: {line.strip()}")
    assert not offenders, offenders
