"""Messages that now help: where the header is, columns that are not covariates, stray quotes, separators (issue 12)."""
from __future__ import annotations

import pandas as pd
import pytest
from test_io_bad_input import assert_names, fails, one

import retrostudy as rs
from retrostudy.cli import main

TITLED = ("Retro walking trial export,,,\nExported 2019-05-01,,,\n,,,\nsubject,arm,visit,pain\n"
          "R1,retro,baseline,7\nR1,retro,week 6,5\nC1,control,baseline,6\n")


def test_title_rows_above_the_header_say_where_the_header_is(tmp_path):
    # before: nine "this column has values but no name" errors
    path = tmp_path / "titled.csv"
    path.write_text(TITLED)
    err = fails(path)
    assert err.messages == ["titled.csv: the header looks like it is on line 4 ('subject', 'arm', 'visit' and "
                            "'pain'), below 2 lines of title; pass header_row: 4 in the mapping (or --header-row 4)."]
    trial = rs.read_trial(path, header_row=4)
    assert trial.data["source_row"].tolist() == [5, 6, 7]  # still the lines the user sees
    yml = tmp_path / "map.yaml"
    yml.write_text("header_row: 4\n")
    pd.testing.assert_frame_equal(rs.read_trial(path, config=yml).data, trial.data)


def test_title_rows_in_a_workbook(tmp_path):
    path = tmp_path / "titled.xlsx"
    rows = [["Retro trial", None, None, None], [None] * 4, ["subject", "arm", "visit", "pain"],
            ["R1", "retro", "baseline", 7], ["R1", "retro", "week 6", 5]]
    pd.DataFrame(rows).to_excel(path, index=False, header=False)
    p = one(fails(path), "header_row")
    assert p["message"] == ("titled.xlsx, sheet 'Sheet1': the header looks like it is on line 3 ('subject', 'arm', "
                            "'visit' and 'pain'), below a title line; pass header_row: 3 in the mapping (or "
                            "--header-row 3).")
    assert rs.read_trial(path, header_row=3).data["source_row"].tolist() == [4, 5]


def test_header_row_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "titled.csv"
    path.write_text(TITLED)
    assert main(["validate", str(path)]) == 3
    assert "--header-row 4" in capsys.readouterr().out
    assert main(["validate", str(path), "--header-row", "4"]) == 0
    assert main(["show", str(path), "--header-row", "4"]) == 0
    assert main(["show", "alghadir2019_sim", "--header-row", "4"]) == 2


def test_header_row_that_is_blank_or_past_the_end(tmp_path):
    path = tmp_path / "titled.csv"
    path.write_text(TITLED)
    assert "that line is blank" in one(fails(path, header_row=3), "header_row")["message"]
    assert "past the end" in one(fails(path, header_row=40), "header_row")["message"]
    with pytest.raises(rs.SpecError, match="header_row must be the line number"):
        rs.read_trial(path, header_row=0)


def test_a_header_written_over_two_rows(tmp_path):
    path = tmp_path / "merged.csv"
    path.write_text(",,Pain,,WOMAC,,\nid,group,pre,post,pre,post,age\n1,retro,7,5,50,40,60\n2,control,6,6,45,44,55\n")
    p = one(fails(path), "header_row")
    assert p["message"] == ("merged.csv: the header looks written over two rows (lines 1 and 2: 'Pain' above 'pre' "
                            "and 'post'); pass header_row: [1, 2] in the mapping (or --header-row 1 2) to join them "
                            "into names such as 'Pain_pre'.")
    trial = rs.read_trial(path, header_row=[1, 2], visits={"pre": 0, "post": 6})
    assert trial.meta["outcome_columns"] == {"Pain_pre": "pain_nrs @ pre", "Pain_post": "pain_nrs @ post",
                                             "WOMAC_pre": "womac @ pre", "WOMAC_post": "womac @ post"}
    assert trial.covariates == ["age"]  # the blank cell above 'age' does not take 'WOMAC'
    assert len(trial.data) == 8


def test_columns_that_change_within_subject_are_one_line_each_with_the_fix(tmp_path):
    # before: one problem per subject (154 lines), and no hint that covariates: [...] is the fix
    path = tmp_path / "extra.csv"
    lines = [f"S{i},retro,{v},5,50,A,2019-0{j + 1}-0{i % 9 + 1},X{j}" for i in range(40)
             for j, v in enumerate(["baseline", "week 6"])]
    path.write_text("subject,arm,visit,pain,age,site,visit_date,assessor\n" + "\n".join(lines) + "\n")
    err = fails(path)
    assert len(err.problems) == 2
    p = err.problems.iloc[0]
    assert_names(p, "extra.csv", 3, "visit_date")
    assert p["message"] == ("extra.csv, row 3, column 'visit_date': the column 'visit_date' changes within 40 "
                            "subjects, e.g. subject 'S0' ('2019-01-01' in row 2, '2019-02-01' in row 3), so it is "
                            "not a subject-level covariate; if it is not needed, list the subject-level covariates "
                            "to keep with covariates: [age, site] in the mapping (or --covariates); if it is an "
                            "outcome, declare it under outcomes: in the mapping; if it should not change, correct "
                            "it.")
    assert rs.read_trial(path, covariates=["age", "site"]).covariates == ["age", "site"]


@pytest.mark.parametrize("body,line,closed", [
    ('R1,retro,baseline,7\nR1,retro,week 6,"5\nC1,control,baseline,6\nC1,control,week 6,6\n', 3, None),
    ('R1,retro,baseline,7\nR1,retro,week 6,"5\nC1,control,baseline,6\nC1,control,"week 6,6\nD1,control,baseline,6\n',
     3, 5)])
def test_a_stray_quote_names_the_line_where_it_opened(tmp_path, body, line, closed):
    path = tmp_path / "quote.csv"
    path.write_text("subject,arm,visit,pain\n" + body)
    p = one(fails(path), "stray_quote")
    assert_names(p, "quote.csv", line, "pain")
    assert f'a quote mark (") opens a cell on line {line} and ' in p["message"]
    assert ("is never closed, so the rest of the file" if closed is None else
            f"is only closed on line {closed}, so lines {line}-{closed} are read as one cell") in p["message"]


def test_a_quoted_cell_over_several_lines_is_still_read(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text('subject,arm,visit,pain,note\nR1,retro,baseline,7,"knee hurts,\nworse at night"\n'
                    'R1,retro,week 6,5,ok\n')
    trial = rs.read_trial(path, covariates=[])
    assert trial.data["value"].tolist() == [7.0, 5.0] and trial.data["source_row"].tolist() == [2, 3]


@pytest.mark.parametrize("cell,hint", [
    ("1,234.5", "without the thousands separator, as 1234.5"),
    ("6,5", "with a point as decimal separator, as 6.5"),
    ("1.234,5", "with a point as decimal separator and no thousands separator, as 1234.5"),
    ("1,234", "without a thousands separator (1234) or with a point as decimal separator (1.234), whichever it "
              "means")])
def test_separators_get_a_hint(tmp_path, cell, hint):
    path = tmp_path / "sep.csv"
    path.write_text(f'subject,arm,visit,womac\nR1,retro,baseline,"{cell}"\n')
    p = one(fails(path), "non_numeric")
    assert f"the womac value '{cell}' is not a number; write it as a number {hint}, or leave" in p["message"]


def test_yaml_reading_01_as_a_number_is_explained(tmp_path):
    data = tmp_path / "codes.csv"
    data.write_text("subject,arm,visit,pain\nR1,01,baseline,7\nC1,02,baseline,6\n")
    cfg = tmp_path / "map.yaml"
    cfg.write_text("arms:\n  01: retro\n  02: control\n")
    p = one(fails(data, config=cfg), "unknown_arm")
    assert ("note that YAML read the mapping's key 01 as '1', not as the text '01': write it in quotes "
            "('01': ...)") in p["message"]
    cfg.write_text("arms:\n  '01': retro\n  '02': control\n")
    assert rs.read_trial(data, config=cfg).arms == ["retro", "control"]


def test_a_covariate_named_with_spaces_on_the_command_line(tmp_path, capsys):
    from retrostudy.io.labels import match_columns

    assert match_columns(["body mass index", "Age"], ["age", "body_mass_index"]) == (["body_mass_index", "age"], [])
    trial = rs.load_dataset("alghadir2019_sim")
    assert "age" in trial.covariates
    assert main(["fit", "alghadir2019_sim", "--outcome", "pain_nrs", "--covariates", "AGE"]) == 0
    assert main(["fit", "alghadir2019_sim", "--outcome", "pain_nrs", "--covariates", "body mass"]) == 3
    err = capsys.readouterr().err
    assert "The covariate 'body mass' is not a column of the data; the data's covariates are 'age'" in err
