"""Design matrices from validated names: a small formula grammar, treatment coding, no eval.

The mean model of every retrostudy model is a right-hand side in a tiny grammar that
this module parses itself (DESIGN.md section 4)::

    rhs   := piece ("+" piece)*
    piece := "1" | "0" | chain ("*" chain)*
    chain := NAME (":" NAME)*

``a*b`` expands to ``a + b + a:b``; ``0`` removes the intercept. Names must be known
variables; nothing is ever evaluated. Terms are ordered by degree, then as written
(R's ``terms()`` order). Factors are coded as in R's ``model.matrix``: a factor in a
term gets treatment contrasts (reference level dropped) when the term without it is
already in the model (the intercept counts as the empty term), else one column per
level. This gives a full-rank matrix for every hierarchical formula and reproduces
SAS's solution when the reference level is SAS's ``ref=`` (or last) level.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from .errors import SpecError

__all__ = ["parse_rhs", "Factor", "Design", "build_design", "column_name"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
Term = tuple[str, ...]


def parse_rhs(rhs: str, known: Iterable[str] | None = None) -> tuple[bool, list[Term]]:
    """Parse a right-hand side into ``(intercept, terms)``.

    Parameters
    ----------
    rhs
        For example ``"arm * visit + baseline:visit + SEX"``.
    known
        Allowed variable names; an unknown name raises :class:`SpecError` naming the
        closest known one.

    Returns
    -------
    intercept, terms
        Whether the model has an intercept, and the terms as tuples of names.
    """
    if not isinstance(rhs, str) or not rhs.strip():
        raise SpecError("The mean model is empty; give a right-hand side such as 'arm * visit'.")
    if len(rhs) > 2000:
        raise SpecError("The mean model is longer than 2000 characters; shorten it.")
    text = rhs.strip()
    if text.startswith("~"):
        text = text[1:]
    known_set = set(known) if known is not None else None
    intercept = True
    terms: list[Term] = []
    for raw_piece in text.split("+"):
        piece = raw_piece.strip()
        if piece == "":
            raise SpecError(f"The mean model {rhs!r} has an empty term (two '+' in a row or a trailing '+').")
        if piece == "1":
            continue
        if piece in ("0", "-1"):
            intercept = False
            continue
        chains: list[Term] = []
        for raw_chain in piece.split("*"):
            names = tuple(n.strip() for n in raw_chain.split(":"))
            for name in names:
                if not _NAME.match(name):
                    raise SpecError(
                        f"The mean model {rhs!r} contains {name!r}, which is not a column name; "
                        "use column names joined by '+', '*' and ':' only."
                    )
                if known_set is not None and name not in known_set:
                    raise SpecError(_unknown_name_message(name, known_set))
            if len(set(names)) != len(names):
                raise SpecError(f"The term {raw_chain.strip()!r} repeats a name.")
            chains.append(names)
        for k in range(1, len(chains) + 1):
            for combo in combinations(chains, k):
                merged: list[str] = []
                for chain in combo:
                    merged.extend(n for n in chain if n not in merged)
                terms.append(tuple(merged))
    # within a term, variables in order of first appearance in the formula (R's terms())
    first_seen: dict[str, int] = {}
    for term in terms:
        for name in term:
            first_seen.setdefault(name, len(first_seen))
    terms = [tuple(sorted(t, key=first_seen.__getitem__)) for t in terms]
    seen: list[Term] = []
    for term in terms:
        if not any(set(term) == set(s) for s in seen):
            seen.append(term)
    seen.sort(key=len)  # stable: degree, then as written
    return intercept, seen


def _unknown_name_message(name: str, known: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"The mean model names {name!r}, which is not a variable of this analysis.{hint} "
        f"Known names: {', '.join(sorted(known))}."
    )


@dataclass(frozen=True)
class Factor:
    """A categorical variable: its levels in display order and its reference level."""

    name: str
    levels: tuple[str, ...]
    reference: str

    def __post_init__(self) -> None:
        if self.reference not in self.levels:
            raise SpecError(f"Reference level {self.reference!r} is not a level of {self.name} {list(self.levels)}.")

    @property
    def coded_levels(self) -> tuple[str, ...]:
        """The non-reference levels, in display order (their treatment-coded columns)."""
        return tuple(lv for lv in self.levels if lv != self.reference)


def column_name(parts: Sequence[tuple[str, str | None]]) -> str:
    """Column label: ``arm[forward]:visit[week6]`` style, a numeric variable by its name."""
    if not parts:
        return "Intercept"
    return ":".join(f"{var}[{lvl}]" if lvl is not None else var for var, lvl in parts)


@dataclass(frozen=True, eq=False)
class Design:
    """A fitted design: how to turn any frame of the variables into model-matrix rows.

    Attributes
    ----------
    intercept, terms
        The parsed mean model.
    factors
        Categorical variables with their levels and reference level.
    numerics
        Numeric variables with their mean over the observations used in the fit.
    columns
        Column labels of the model matrix.
    column_parts
        For each column, the ``(variable, level or None)`` pairs whose product it is.
    term_index
        For each term (``"arm:visit"``), the indices of its columns.
    factor_counts
        Observations per level of each factor in the fitting data (for proportional
        weights).
    subject_means
        Numeric variables' mean over subjects (one value per subject), where the fit
        was longitudinal; empty otherwise.
    """

    intercept: bool
    terms: tuple[Term, ...]
    factors: Mapping[str, Factor]
    numerics: Mapping[str, float]
    columns: tuple[str, ...]
    column_parts: tuple[tuple[tuple[str, str | None], ...], ...]
    term_index: Mapping[str, tuple[int, ...]]
    factor_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    subject_means: Mapping[str, float] = field(default_factory=dict)
    rhs: str = ""

    @property
    def variables(self) -> list[str]:
        return list(self.factors) + list(self.numerics)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Model-matrix rows for ``frame`` (raises SpecError on an unknown level)."""
        n = len(frame)
        indicators: dict[tuple[str, str], np.ndarray] = {}
        values: dict[str, np.ndarray] = {}
        for name, fac in self.factors.items():
            if name not in frame.columns:
                raise SpecError(f"The variable {name!r} is missing from the data.")
            col = frame[name]
            text = col.astype(str).to_numpy(dtype=object)
            codes = pd.Index(list(fac.levels)).get_indexer(text)
            unknown = (codes < 0) & col.notna().to_numpy()
            if unknown.any():
                bad = sorted({str(v) for v in text[unknown]})
                raise SpecError(
                    f"{name} has level(s) {bad} that the model was not fitted with; known levels: {list(fac.levels)}."
                )
            for k, level in enumerate(fac.levels):
                indicators[(name, level)] = (codes == k).astype(float)
        for name in self.numerics:
            if name not in frame.columns:
                raise SpecError(f"The variable {name!r} is missing from the data.")
            values[name] = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        X = np.empty((n, len(self.columns)))
        for j, parts in enumerate(self.column_parts):
            col = np.ones(n)
            for var, lvl in parts:
                col = col * (indicators[(var, lvl)] if lvl is not None else values[var])
            X[:, j] = col
        return X


def build_design(
    frame: pd.DataFrame,
    rhs: str,
    *,
    factors: Mapping[str, Sequence[str]] | None = None,
    reference: Mapping[str, str] | None = None,
    subject: str | None = None,
    omit: Sequence[tuple[str, str, str]] = (),
) -> tuple[Design, np.ndarray]:
    """Parse ``rhs``, learn the coding from ``frame`` and return ``(design, X)``.

    Parameters
    ----------
    frame
        The analysis rows (no missing values in the variables the formula uses).
    rhs
        Right-hand side in the grammar of :func:`parse_rhs`.
    factors
        Level order of categorical variables. Variables not listed are categorical
        when their dtype is categorical, object, string or bool (levels in category
        order, else sorted), numeric otherwise.
    reference
        Reference level per factor (default: the first level).
    subject
        Subject id column; when given, ``Design.subject_means`` holds each numeric
        variable's mean over subjects.
    omit
        ``(factor, level, other)`` triples: drop every column that is a product of
        ``factor == level`` and a column of the variable ``other``. The constrained
        longitudinal model (cLDA) is ``visit + arm:visit`` with
        ``omit=[("visit", <baseline visit>, "arm")]``: one baseline mean for all arms.
    """
    factors = dict(factors or {})
    reference = dict(reference or {})
    intercept, terms = parse_rhs(rhs, known=list(frame.columns))
    used = sorted({v for t in terms for v in t}, key=lambda v: list(frame.columns).index(v))
    fac_info: dict[str, Factor] = {}
    numerics: dict[str, float] = {}
    counts: dict[str, dict[str, int]] = {}
    subject_means: dict[str, float] = {}
    for var in used:
        col = frame[var]
        is_cat = var in factors or not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
        if is_cat:
            if var in factors:
                levels = tuple(str(x) for x in factors[var])
            elif isinstance(col.dtype, pd.CategoricalDtype):
                present = set(col.dropna().astype(str))
                levels = tuple(str(c) for c in col.cat.categories if str(c) in present)
            else:
                levels = tuple(sorted({str(x) for x in col.dropna()}))
            ref = reference.get(var, levels[0] if levels else "")
            fac_info[var] = Factor(var, levels, ref)
            vc = col.astype(str).value_counts()
            counts[var] = {lvl: int(vc.get(lvl, 0)) for lvl in levels}
        else:
            numerics[var] = float(col.astype(float).mean())
            if subject is not None:
                subject_means[var] = float(frame.groupby(subject, observed=True)[var].first().astype(float).mean())
    present_terms: list[frozenset[str]] = [frozenset()] if intercept else []
    columns: list[str] = []
    parts_list: list[tuple[tuple[str, str | None], ...]] = []
    term_index: dict[str, tuple[int, ...]] = {}
    for term in terms:
        coding: list[list[tuple[str, str | None]]] = []
        for var in term:
            if var in fac_info:
                margin = frozenset(term) - {var}
                fac = fac_info[var]
                lvls = fac.coded_levels if margin in present_terms else fac.levels
                coding.append([(var, lvl) for lvl in lvls])
            else:
                coding.append([(var, None)])
        start = len(columns)
        for combo in _product(coding):
            parts_list.append(tuple(combo))
            columns.append(column_name(combo))
        term_index[":".join(term)] = tuple(range(start, len(columns)))
        present_terms.append(frozenset(term))
    if omit:
        def dropped(parts: tuple[tuple[str, str | None], ...]) -> bool:
            return any((fac, lvl) in parts and any(v == other for v, _ in parts) for fac, lvl, other in omit)

        keep = [j for j, parts in enumerate(parts_list) if not dropped(parts)]
        new_index = {j: k for k, j in enumerate(keep)}
        columns = [columns[j] for j in keep]
        parts_list = [parts_list[j] for j in keep]
        term_index = {t: tuple(new_index[j] for j in idx if j in new_index) for t, idx in term_index.items()}
    if intercept:
        columns.insert(0, "Intercept")
        parts_list.insert(0, ())
        term_index = {k: tuple(i + 1 for i in v) for k, v in term_index.items()}
        term_index = {"Intercept": (0,), **term_index}
    design = Design(
        intercept=intercept,
        terms=tuple(terms),
        factors=fac_info,
        numerics=numerics,
        columns=tuple(columns),
        column_parts=tuple(parts_list),
        term_index=term_index,
        factor_counts=counts,
        subject_means=subject_means,
        rhs=rhs,
    )
    return design, design.matrix(frame)


def _product(lists: list[list[tuple[str, str | None]]]) -> list[list[tuple[str, str | None]]]:
    # first variable varies fastest, as in R's model.matrix
    out: list[list[tuple[str, str | None]]] = [[]]
    for options in lists:
        out = [prev + [opt] for opt in options for prev in out]
    return out
