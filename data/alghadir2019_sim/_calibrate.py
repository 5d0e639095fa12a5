"""Helpers of generate.py: the parameter table, exact-moment and sum-preserving rounding, Student t.

Pure Python floats with ``math.fsum`` so every platform computes the same bits.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Params:
    """The generator's parameter table: (parameter, arm, outcome) -> value, plus its source."""

    values: dict
    sources: dict

    @classmethod
    def read(cls, path: Path) -> Params:
        values, sources = {}, {}
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"parameter", "arm", "outcome", "value", "source"}
            if set(reader.fieldnames or ()) != need:
                raise SystemExit(f"{path}: the columns must be exactly {sorted(need)}.")
            for line, row in enumerate(reader, start=2):
                key = (row["parameter"].strip(), row["arm"].strip(), row["outcome"].strip())
                if key in values:
                    raise SystemExit(f"{path}, line {line}: {key} is given twice; keep one row.")
                text = row["value"].strip()
                try:
                    values[key] = float(text)
                except ValueError:
                    raise SystemExit(f"{path}, line {line}: value {text!r} is not a number.") from None
                src = row["source"].strip()
                if not (src.startswith("published:") or src.startswith("assumption:")):
                    raise SystemExit(f"{path}, line {line}: the source must start with 'published:' or "
                                     "'assumption:'.")
                sources[key] = src
        return cls(values, sources)

    def _key(self, name: str, arm: str, outcome: str):
        for key in ((name, arm, outcome), (name, "", outcome), (name, arm, ""), (name, "", "")):
            if key in self.values:
                return key
        return None

    def has(self, name: str, *, arm: str = "", outcome: str = "") -> bool:
        return self._key(name, arm, outcome) is not None

    def get(self, name: str, *, arm: str = "", outcome: str = "") -> float:
        key = self._key(name, arm, outcome)
        if key is None:
            raise SystemExit(f"parameters.csv has no row for parameter={name!r} arm={arm!r} "
                             f"outcome={outcome!r}; add it.")
        return self.values[key]

    def source(self, name: str, *, arm: str = "", outcome: str = "") -> str:
        key = self._key(name, arm, outcome)
        return self.sources[key] if key is not None else ""

    def corr(self, name: str, outcomes) -> list[list[float]]:
        """Correlation matrix from rows ``name,,a:b,r`` (absent pairs are 0)."""
        m = [[1.0 if i == j else 0.0 for j in range(len(outcomes))] for i in range(len(outcomes))]
        for (pname, _arm, pair), v in self.values.items():
            if pname != name:
                continue
            a, _, b = pair.partition(":")
            if a not in outcomes or b not in outcomes or a == b:
                raise SystemExit(f"parameters.csv: {name} pair {pair!r} must name two different outcomes.")
            i, j = outcomes.index(a), outcomes.index(b)
            m[i][j] = m[j][i] = v
        return m


def round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


def mean(x) -> float:
    return math.fsum(x) / len(x)


def sd(x) -> float:
    m = mean(x)
    return math.sqrt(math.fsum((v - m) ** 2 for v in x) / (len(x) - 1))


def standardize(x) -> list[float]:
    """Exact-moment adjustment: the returned sample has mean 0 and SD (n - 1 divisor) 1."""
    m, s = mean(x), sd(x)
    return [(v - m) / s for v in x]


def chol(m: list[list[float]]) -> list[list[float]]:
    """Lower Cholesky factor of a small correlation matrix."""
    n = len(m)
    L = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = m[i][j] - math.fsum(L[i][k] * L[j][k] for k in range(j))
            if i == j:
                if s <= 0:
                    raise SystemExit("parameters.csv: a correlation matrix is not positive definite; "
                                     "make the correlations less extreme.")
                L[i][i] = math.sqrt(s)
            else:
                L[i][j] = s / L[j][j]
    return L


def correlated(e: list[list[float]], L: list[list[float]]) -> list[list[float]]:
    """Rows of independent normals times L' (each row gets correlation L L')."""
    n = len(L)
    return [[math.fsum(L[j][k] * row[k] for k in range(j + 1)) for j in range(n)] for row in e]


def round_to_sum(x, total: int, lo, hi) -> list[int]:
    """Round each x[i] to an integer in [lo[i], hi[i]] so the integers add up to ``total``.

    Largest-remainder rounding: clip, floor, then give the missing units to the largest
    fractional parts (or take surplus units from the smallest), ties by position.
    """
    x = [min(max(v, lo_i), hi_i) for v, lo_i, hi_i in zip(x, lo, hi)]
    out = [int(math.floor(v)) for v in x]
    rem = [v - o for v, o in zip(x, out)]
    need = total - sum(out)
    while need != 0:
        if need > 0:
            cand = sorted((i for i in range(len(x)) if out[i] < hi[i]), key=lambda i: (-rem[i], i))
        else:
            cand = sorted((i for i in range(len(x)) if out[i] > lo[i]), key=lambda i: (rem[i], i))
        if not cand:
            raise SystemExit("the bounds in parameters.csv leave no room to reach the target mean; widen them.")
        for i in cand[:abs(need)]:
            step = 1 if need > 0 else -1
            out[i] += step
            rem[i] -= step
        need = total - sum(out)
    return out


def t_two_sided_p(t: float, df: int) -> float:
    """Two-sided p of Student's t with integer df (Abramowitz & Stegun 26.7.3-26.7.4)."""
    theta = math.atan(abs(t) / math.sqrt(df))
    c, s = math.cos(theta), math.sin(theta)
    if df % 2:
        total, term = (c, c) if df > 1 else (0.0, 0.0)
        for k in range(3, df - 1, 2):
            term *= c * c * (k - 1) / k
            total += term
        a = 2 / math.pi * (theta + s * total)
    else:
        total = term = 1.0
        for k in range(2, df - 1, 2):
            term *= c * c * (k - 1) / k
            total += term
        a = s * total
    return 1.0 - a


def t_quantile_two_sided(p: float, df: int) -> float:
    """|t| whose two-sided p is ``p`` (bisection on t_two_sided_p)."""
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if t_two_sided_p(mid, df) > p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
