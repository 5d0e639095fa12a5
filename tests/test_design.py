"""retrostudy.design against R's model.matrix (tests/reference/design/make_design_reference.R)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from retrostudy.design import build_design, parse_rhs
from retrostudy.errors import SpecError

REF = Path(__file__).parent / "reference" / "design"
LEVELS = {"arm": ["retro", "forward", "control"], "visit": ["baseline", "week3", "week6"], "sex": ["female", "male"]}
REFERENCE = {"arm": "control", "visit": "baseline", "sex": "female"}


def _r_parts(name: str) -> frozenset:
    """'armretro:visitweek3' -> {('arm','retro'), ('visit','week3')} (R's column naming)."""
    if name == "(Intercept)":
        return frozenset()
    parts = set()
    for piece in name.split(":"):
        for var, levels in LEVELS.items():
            m = re.fullmatch(var + "(" + "|".join(levels) + ")", piece)
            if m:
                parts.add((var, m.group(1)))
                break
        else:
            parts.add((piece, None))
    return frozenset(parts)


def _cases():
    return json.loads((REF / "design_reference.json").read_text())["cases"]


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["formula"])
def test_model_matrix_matches_r(case):
    frame = pd.read_csv(REF / "design_input.csv")
    design, X = build_design(frame, case["formula"], factors=LEVELS, reference=REFERENCE)
    expected = np.asarray(case["matrix"], dtype=float)
    ours = [frozenset(p) for p in design.column_parts]
    theirs = [_r_parts(c) for c in case["columns"]]
    assert sorted(map(sorted, ours)) == sorted(map(sorted, theirs))  # same columns, same meaning
    np.testing.assert_array_equal(X[:, [ours.index(t) for t in theirs]], expected)
    if "arm:visit" != case["formula"].strip("~ "):
        # R lists full-dummy levels reference-first; elsewhere the column order is R's too
        assert ours == theirs


def test_near_miss_first_level_reference_differs_from_r():
    # R's reference here is 'control'; treating the first declared level as reference must not match
    frame = pd.read_csv(REF / "design_input.csv")
    case = _cases()[1]
    _, X = build_design(frame, case["formula"], factors=LEVELS)
    assert not np.array_equal(X, np.asarray(case["matrix"], dtype=float))


def test_star_expands_and_orders_by_degree():
    intercept, terms = parse_rhs("arm * visit + age")
    assert intercept
    assert terms == [("arm",), ("visit",), ("age",), ("arm", "visit")]
    assert parse_rhs("0 + visit")[0] is False


@pytest.mark.parametrize(
    "rhs, fragment",
    [
        ("arm + __import__('os')", "not a column name"),
        ("arm + ", "empty term"),
        ("arm + vist", "Did you mean 'visit'"),
        ("arm:arm", "repeats a name"),
        ("", "empty"),
    ],
)
def test_bad_formulas_are_refused_with_a_sentence(rhs, fragment):
    with pytest.raises(SpecError, match=re.escape(fragment)):
        parse_rhs(rhs, known=["arm", "visit", "age"])


def test_unknown_level_in_new_data_is_refused():
    frame = pd.read_csv(REF / "design_input.csv")
    design, _ = build_design(frame, "arm + age", factors=LEVELS, reference=REFERENCE)
    with pytest.raises(SpecError, match="placebo"):
        design.matrix(pd.DataFrame({"arm": ["placebo"], "age": [50.0]}))


def test_covariate_means_are_kept_for_reference_grids():
    frame = pd.read_csv(REF / "design_input.csv")
    design, _ = build_design(frame, "arm + age", factors=LEVELS, subject="subject_id")
    assert design.numerics["age"] == pytest.approx(frame["age"].mean(), rel=1e-15)
    per_subject = frame.groupby("subject_id")["age"].first().mean()
    assert design.subject_means["age"] == pytest.approx(per_subject, rel=1e-15)
    assert design.factor_counts["arm"] == frame["arm"].value_counts().reindex(LEVELS["arm"], fill_value=0).to_dict()
