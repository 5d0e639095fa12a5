"""Multiplicity in the report: within one outcome's contrasts (``adjust``) and across the primary family
(``multiplicity``), each adjusted p-value with the interval that belongs to it.

The primary family is every pairwise contrast of every primary outcome at the final visit
(K outcomes x C contrasts). Strategies across it:

``"holm"``, ``"bonferroni"``
    Holm's step-down (Holm 1979) or Bonferroni's correction over all K x C unadjusted p-values
    (both valid under any dependence); this also controls the error within each outcome.
``"fixed-sequence"``
    Serial gatekeeping over the outcomes in their declared order: the contrasts of the first
    outcome are tested at the full level with the within-outcome ``adjust``; the next outcome is
    tested only if every contrast before it was significant. Adjusted p of a contrast = the
    largest within-outcome adjusted p of it and of every contrast of the earlier outcomes
    (Dmitrienko, Tamhane & Bretz, *Multiple Testing Problems in Pharmaceutical Statistics*, 2009,
    ch. 2), so it is below the level exactly when the sequence reaches and rejects it.
``"none"``
    Each primary outcome on its own, adjusted within its contrasts only.

Intervals: an adjusted p-value is shown with the simultaneous interval of the same procedure
when the procedure is single-step (Bonferroni: t quantile at 1 - alpha / (2m); Dunnett: the
multivariate-t quantile; Tukey: the studentized range), so the interval excludes 0 exactly when
the adjusted p is below alpha. Holm's step-down p-values have no such single-step interval
(Strassburger & Bretz 2008 give compatible bounds that collapse to 0 for rejected hypotheses),
so with Holm the interval is the unadjusted one, labelled so. A fixed sequence tests each
contrast at the full level, so its intervals are those of the within-outcome adjustment.

Holm and Bonferroni are computed here (a few lines; checked against R ``p.adjust`` and
statsmodels in the tests) rather than through statsmodels' ``multipletests``, which runs a
full ``gc.collect()`` on every call.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from ..options import ADJUST_NAMES, MULTIPLICITY_NAMES

__all__ = ["ADJUSTED_COLUMNS", "CiKind", "across_primary", "adjust_p", "bonferroni_ci", "within_outcome"]

#: Columns added to a contrast table by :func:`within_outcome` / :func:`across_primary`.
ADJUSTED_COLUMNS = ("p_adjusted", "conf_low", "conf_high", "tested", "conf_low_unadj", "conf_high_unadj")


def adjust_p(p: npt.ArrayLike, method: str) -> np.ndarray:
    """Holm or Bonferroni adjusted p-values (``"none"`` returns a copy); NaN stays NaN and is not counted.

    >>> adjust_p([0.01, 0.04, 0.03], "holm").round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    pv = np.asarray(p, float)
    out = pv.copy()
    ok = np.isfinite(pv)
    m = int(ok.sum())
    if method == "none" or m == 0:
        return out
    q = pv[ok]
    if method == "bonferroni":
        out[ok] = np.minimum(1.0, m * q)
        return out
    if method != "holm":
        raise ValueError(f"adjust_p does Holm and Bonferroni, not {method!r}")
    order = np.argsort(q, kind="mergesort")
    steps = np.minimum(1.0, (m - np.arange(m)) * q[order])
    adj = np.empty(m)
    adj[order] = np.maximum.accumulate(steps)
    out[ok] = adj
    return out


def bonferroni_ci(estimate, std_error, df, m: int, conf: float) -> tuple[np.ndarray, np.ndarray]:
    """Simultaneous Bonferroni intervals over ``m`` contrasts (``m = 1``: the unadjusted t interval)."""
    est, se, df = (np.asarray(x, float) for x in (estimate, std_error, df))
    q = stats.t.ppf(1.0 - (1.0 - conf) / (2.0 * max(m, 1)), df)
    return est - q * se, est + q * se


@dataclass(frozen=True)
class CiKind:
    """What a table's p-values and intervals are: the words the report prints about them."""

    p_label: str        # column header, e.g. "p (Holm, 6 primary tests)"
    ci_label: str       # e.g. "95% CI (unadjusted)"
    note: str           # one sentence for the table note
    family_size: int


def _ci_words(adjust: str, m: int, conf: float, scope: str) -> tuple[str, str]:
    pct = f"{conf:.0%}"
    if adjust == "none" or m == 1:
        return f"{pct} CI", f"the {pct} CIs are unadjusted"
    if adjust == "holm":
        return f"{pct} CI (unadj.)", (f"the {pct} CIs are unadjusted: Holm's step-down p-values have no "
                                      "matching single-step interval, so an interval may exclude 0 where the "
                                      "Holm p is above the level, or include it where it is below")
    name = {"bonferroni": "Bonferroni", "dunnett": "Dunnett", "tukey": "Tukey"}[adjust]
    return (f"{pct} CI ({name})", (f"the {pct} CIs are {name} simultaneous intervals over the {m} {scope}, so an "
                                  f"interval excludes 0 exactly when its adjusted p is below {1 - conf:.2g}"))


def within_outcome(table: pd.DataFrame, adjust: str, conf: float,
                   adjusted: pd.DataFrame | None = None) -> tuple[pd.DataFrame, CiKind]:
    """``adjust`` within each visit's contrasts of one outcome.

    ``table`` holds unadjusted contrasts (``contrasts(..., adjust="none")``: estimate, std_error,
    df, p_value, conf_low, conf_high); ``adjusted`` the same contrasts from
    ``contrasts(..., adjust=adjust)``, needed for Dunnett and Tukey (their p and intervals come
    from the multivariate t / studentized range there). Returns the table with ``p_adjusted``,
    ``conf_low``, ``conf_high`` (the interval that belongs to the p) and ``tested`` (True).
    """
    out = table.copy()
    out["tested"] = True
    out["conf_low_unadj"], out["conf_high_unadj"] = out["conf_low"], out["conf_high"]
    sizes = out.groupby("visit", observed=True, sort=False)["contrast"].transform("size").to_numpy()
    m = int(sizes.max()) if len(sizes) else 1
    if adjust in ("dunnett", "tukey") and m > 1:
        if adjusted is None:
            raise ValueError("within_outcome needs the adjusted contrasts for Dunnett and Tukey")
        key = ["visit", "contrast"]
        adj = adjusted.set_index(key).loc[pd.MultiIndex.from_frame(out[key])]
        out["p_adjusted"] = adj["p_adjusted"].to_numpy(float)
        out["conf_low"] = adj["conf_low"].to_numpy(float)
        out["conf_high"] = adj["conf_high"].to_numpy(float)
    else:
        p_adj = np.empty(len(out))
        for idx in out.groupby("visit", observed=True, sort=False).indices.values():
            p_adj[idx] = adjust_p(out["p_value"].to_numpy(float)[idx], adjust if adjust != "none" else "none")
        out["p_adjusted"] = p_adj
        if adjust == "bonferroni":
            lo, hi = bonferroni_ci(out["estimate"], out["std_error"], out["df"], m, conf)
            out["conf_low"], out["conf_high"] = lo, hi
    ci_label, ci_note = _ci_words(adjust, m, conf, "contrasts of this outcome at one visit")
    if adjust == "none":
        kind = CiKind("p", ci_label, f"p-values and {ci_note[4:]}", m)
    else:
        kind = CiKind(f"p ({ADJUST_NAMES[adjust]})", ci_label,
                      f"p ({ADJUST_NAMES[adjust]}) is adjusted over the {m} contrasts of this outcome at one visit; "
                      f"{ci_note}", m)
    return out, kind


def across_primary(tables: Mapping[str, pd.DataFrame], order: Sequence[str], multiplicity: str, adjust: str,
                   conf: float) -> tuple[dict[str, pd.DataFrame], CiKind]:
    """The primary family's adjusted p-values and intervals.

    Parameters
    ----------
    tables
        Primary outcome -> its contrasts at the final visit after :func:`within_outcome` (unadjusted
        ``p_value`` and within-outcome ``p_adjusted`` / intervals).
    order
        The primary outcomes in their declared (testing) order.
    multiplicity
        ``"holm"``, ``"bonferroni"``, ``"fixed-sequence"`` or ``"none"``.
    adjust
        The within-outcome adjustment already in ``tables`` (used by ``"fixed-sequence"`` and ``"none"``).

    Returns
    -------
    (dict, CiKind)
        Outcome -> table with ``p_adjusted``, ``conf_low``, ``conf_high`` replaced by the family's and
        ``tested`` (False for contrasts a fixed sequence never reached), and the words for them.
    """
    order = [o for o in order if o in tables]
    sizes = [len(tables[o]) for o in order]
    m = int(sum(sizes))
    k = len(order)
    out = {o: tables[o].copy() for o in order}
    alpha = 1.0 - conf
    if multiplicity in ("holm", "bonferroni"):
        raw = np.concatenate([out[o]["p_value"].to_numpy(float) for o in order]) if m else np.array([])
        adj = adjust_p(raw, multiplicity)
        start = 0
        for o, n in zip(order, sizes):
            t = out[o]
            t["p_adjusted"] = adj[start:start + n]
            t["tested"] = True
            unadj = bonferroni_ci(t["estimate"], t["std_error"], t["df"], 1, conf)
            lo, hi = bonferroni_ci(t["estimate"], t["std_error"], t["df"], m, conf) if multiplicity == "bonferroni" \
                else unadj
            t["conf_low"], t["conf_high"] = lo, hi
            start += n
        ci_label, ci_note = _ci_words(multiplicity, m, conf, "primary contrasts")
        name = MULTIPLICITY_NAMES[multiplicity]
        return out, CiKind(f"p ({name}, {m} tests)", ci_label,
                           f"p ({name}) is adjusted over the primary family: the {m} contrasts of the {k} primary "
                           f"outcome{'s' if k != 1 else ''} at the final visit; {ci_note}", m)
    if multiplicity == "fixed-sequence":
        gate = 0.0
        open_ = True
        for o in order:
            t = out[o]
            own = t["p_adjusted"].to_numpy(float)
            t["p_adjusted"] = np.maximum(own, gate)
            t["tested"] = open_
            worst = float(np.nanmax(own)) if len(own) else 0.0
            gate = max(gate, worst)
            open_ = open_ and worst <= alpha
        inner = ADJUST_NAMES[adjust]
        ci_label, ci_note = _ci_words(adjust, max(sizes) if sizes else 1, conf, "contrasts of one outcome")
        seq = " \u2192 ".join(order)
        return out, CiKind(f"p (sequence{'' if adjust == 'none' else ', ' + inner})", ci_label,
                           f"Fixed sequence over the primary outcomes ({seq}): each outcome is tested at the full "
                           f"{alpha:.2g} level ({'unadjusted' if adjust == 'none' else inner + ' within the outcome'}) "
                           "only if every contrast before it was significant; the adjusted p is the largest p up to "
                           f"that point in the sequence; {ci_note}", m)
    for o in order:
        out[o]["tested"] = True
    base = f"p ({ADJUST_NAMES[adjust]})" if adjust != "none" else "p"
    ci_label, ci_note = _ci_words(adjust, max(sizes) if sizes else 1, conf, "contrasts of one outcome")
    return out, CiKind(base, ci_label, f"No adjustment across the {k} primary outcomes (multiplicity: none)"
                       + (f"; p is {ADJUST_NAMES[adjust]}-adjusted within each outcome" if adjust != "none" else "")
                       + f"; {ci_note}", m)
