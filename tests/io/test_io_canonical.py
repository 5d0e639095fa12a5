"""The canonical table is enforced (validate_canonical), cells become numbers in one place, and both csv readers agree."""
from __future__ import annotations

import re
from pathlib import Path

import _io_minitrial as M
import numpy as np
import pandas as pd
import pytest

import retrostudy as rs
from retrostudy.schema import CANONICAL_DTYPES
from retrostudy.trial import as_trial, validate_canonical

ROOT = Path(__file__).resolve().parents[2] / "retrostudy"


def test_read_trial_output_has_every_canonical_dtype(tmp_path):
    trial = rs.read_trial(M.write(M.by_visit_frame(), tmp_path / "t.csv", "csv"))
    for col, dtype in CANONICAL_DTYPES.items():
        got = trial.data[col].dtype
        assert (isinstance(got, pd.CategoricalDtype) if dtype == "category" else
                isinstance(got, pd.StringDtype) if dtype == "string" else str(got) == dtype), (col, got)
    validate_canonical(trial.data)


def test_validate_canonical_names_the_column_and_the_dtype_expected():
    frame = rs.load_dataset("alghadir2019_sim").data.copy()
    frame["value"] = frame["value"].astype(str)
    frame["week"] = frame["week"].astype(object)
    with pytest.raises(rs.SpecError) as info:
        validate_canonical(frame)
    assert str(info.value) == ("The DataFrame is not a canonical long table: column 'week' must hold numbers "
                               "(float64), not object; column 'value' must hold numbers (float64), not str; read "
                               "files with rs.read_trial() or convert the columns.")
    with pytest.raises(rs.SpecError, match="lacks the column"):
        validate_canonical(frame.drop(columns=["arm"]))


def test_as_trial_converts_what_loses_nothing_and_refuses_the_rest():
    frame = pd.DataFrame({"subject_id": [1, 1, 2, 2], "arm": ["retro", "retro", "control", "control"],
                          "visit": ["week6", "baseline"] * 2, "week": [6, 0, 6, 0], "outcome": ["pain_nrs"] * 4,
                          "value": [4, 7, 6, 6]})
    trial = as_trial(frame)
    assert str(trial.data["subject_id"].dtype) == "string" and trial.data["value"].dtype == np.float64
    assert trial.visits == ["baseline", "week6"]
    validate_canonical(trial.data)
    with pytest.raises(rs.SpecError, match=r"column 'value' must hold numbers \(float64\), not str"):
        as_trial(frame.assign(value=["4", "x", "6", "6"]))
    with pytest.raises(rs.SpecError, match="infinite value"):
        as_trial(frame.assign(value=[4.0, np.inf, 6.0, 6.0]))
    # a TrialData whose table is not canonical is converted (or refused) the same way
    loose = rs.TrialData(frame)
    assert str(as_trial(loose).data["value"].dtype) == "float64"
    fit = rs.fit_ancova(as_trial(rs.load_dataset("alghadir2019_sim").data.astype({"subject_id": object})),
                        outcome="pain_nrs")
    assert np.isfinite(fit.coef).all()


def test_cells_become_numbers_in_one_place():
    # issue 10: the number pattern and the cell-to-number parser exist once (cellparse)
    pattern = re.compile(r"\[eE\]\[\+-\]\?\\d\+")
    hits = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert hits == ["io/cellparse.py"], hits
    assert not hasattr(__import__("retrostudy.io.labels", fromlist=["x"]), "parse_number")


def test_one_safe_yaml_reader():
    users = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py")
             if re.search(r"yaml\.(safe_load|compose|SafeLoader\()", p.read_text(encoding="utf-8"))]
    assert users == ["io/safeyaml.py"], users


def _python_path_only(monkeypatch):
    from retrostudy.io import text

    monkeypatch.setattr(text, "_fast", lambda *a, **k: None)


@pytest.mark.parametrize("layout", list(M.FRAMES))
def test_the_fast_and_the_python_csv_reader_give_the_same_table(tmp_path, monkeypatch, layout):
    path = M.write(M.FRAMES[layout](), tmp_path / "t.csv", "csv")
    fast = rs.read_trial(path, study="mini")
    _python_path_only(monkeypatch)
    slow = rs.read_trial(path, study="mini")
    pd.testing.assert_frame_equal(fast.data, slow.data)
    pd.testing.assert_frame_equal(fast.exclusions.frame, slow.exclusions.frame)


def test_both_readers_agree_on_blank_lines_crlf_bom_and_quotes(tmp_path, monkeypatch):
    path = tmp_path / "messy.csv"
    path.write_bytes(b"\xef\xbb\xbf\r\nsubject,arm,visit,pain,note\r\n\"R1\",retro,baseline,7,\"a, b\"\r\n\r\n"
                     b",,,,\r\nR1,retro,week 6,,\"say \"\"hi\"\"\"\r\nC1,control,baseline,6,x\r\n\r\n,,,,\r\n")
    from retrostudy.io import text

    python_reader = text._python
    monkeypatch.setattr(text, "_python", lambda *a, **k: pytest.fail("the fast reader should have read this file"))
    fast = rs.read_trial(path, covariates=[])
    monkeypatch.setattr(text, "_python", python_reader)
    _python_path_only(monkeypatch)
    slow = rs.read_trial(path, covariates=[])
    pd.testing.assert_frame_equal(fast.data, slow.data)
    pd.testing.assert_frame_equal(fast.exclusions.frame, slow.exclusions.frame)
    assert fast.data["source_row"].tolist() == [3, 7]
    assert sorted(fast.exclusions.frame["reason"]) == ["blank row", "blank row", "missing value"]
    assert fast.meta["input_cells"] == len(fast.data) + fast.exclusions.n_cells


def test_natural_subject_order_matches_the_reference_sort():
    from retrostudy.io.canonicalize import _natural, natural_order

    rng = np.random.default_rng(3)
    for ids in (["R10", "R2", "R02", "7A", "R1", "S1", "R1b", "R1a", "10", "9"],
                [f"RW-{i:04d}" for i in rng.permutation(500)], [f"P{i}" for i in rng.permutation(300)]):
        rank = natural_order(np.array(ids, dtype=object))
        assert [ids[i] for i in np.argsort(rank)] == sorted(ids, key=_natural)


def test_adam_baseline_flag_marks_the_baseline_record(tmp_path):
    path = tmp_path / "adqs.csv"
    path.write_text("USUBJID,TRT01P,AVISIT,AVISITN,PARAMCD,AVAL,BASE,CHG,ABLFL\nS1,RW,Baseline,0,PAIN,7,7,0,Y\n"
                    "S1,RW,Week 6,6,PAIN,4,7,-3,\nS2,UC,Baseline,0,PAIN,6,6,0,Y\nS2,UC,Week 6,6,PAIN,5,6,-1,\n")
    assert rs.read_trial(path).data["value"].tolist() == [7.0, 4.0, 6.0, 5.0]
    path.write_text(path.read_text().replace("S2,UC,Week 6,6,PAIN,5,6,-1", "S2,UC,Week 6,6,PAIN,5,5,0"))
    p = fails_rule(path, "adam_base")
    assert "BASE is 5 but the subject's baseline AVAL for pain_nrs is 6" in p


def fails_rule(path, rule):
    with pytest.raises(rs.DataError) as info:
        rs.read_trial(path)
    return info.value.problems.set_index("rule").loc[rule, "message"]
