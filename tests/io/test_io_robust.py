"""Any input gives a TrialData or a DataError -- never another exception (no library traceback)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import retrostudy as rs

CELLS = st.sampled_from(["", "R01", "R02", "retro", "RW", "control", "usual care", "baseline", "week 6", "6",
                         "0", "-1", "14", "NA", ".", "x", "pain", "womac", "tug", "quad", "1e3", "inf", "nan",
                         '"a,b"', "  ", "Retro walking", "wk6", "001"])
HEADERS = st.sampled_from(["subject", "id", "arm", "group", "visit", "week", "pain", "womac", "tug", "quad",
                           "outcome", "value", "age", "pain_0", "pain_6", "USUBJID", "PARAMCD", "AVAL", "", "x"])


def outcome(path: Path):
    try:
        result = rs.read_trial(path)
    except rs.DataError as err:
        assert len(err.problems) >= 1 and str(err)
        return "error"
    assert isinstance(result, rs.TrialData)
    assert len(result.data) + result.exclusions.n_cells == result.meta["input_cells"]
    return "ok"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.lists(HEADERS, min_size=1, max_size=7),
       rows=st.lists(st.lists(CELLS, min_size=0, max_size=8), min_size=0, max_size=6))
def test_random_csv_tables(header, rows):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.csv"
        path.write_text("\n".join(",".join(r) for r in [header] + rows) + "\n")
        outcome(path)
        report = rs.validate_trial(path)
        assert report.ok == (report.trial is not None)
        report.summary()


@settings(max_examples=30, deadline=None)
@given(data=st.binary(min_size=0, max_size=300), ext=st.sampled_from(["csv", "xlsx", "parquet", "xpt", "sav",
                                                                      "dta", "sas7bdat", "tsv", "bin"]),
       magic=st.sampled_from([b"", b"PK\x03\x04", b"PAR1", b"$FL2", b"<stata_dta>",
                              b"HEADER RECORD*******LIBRARY HEADER RECORD", b"\x89PNG"]))
def test_random_bytes(data, ext, magic):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"random.{ext}"
        path.write_bytes(magic + data)
        outcome(path)
