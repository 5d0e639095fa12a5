"""Responder analysis: responder rates by arm, risk difference, risk ratio, baseline-adjusted
odds ratio and number needed to treat.

A subject responds when the improvement from baseline to the analysis visit meets the
outcome's :class:`~retrostudy.inference.response_criteria.ResponseCriterion` (defaults from the
knee-OA literature with their citations: see that module). For each pair of arms
(``family="trt_vs_ref"`` or ``"pairwise"``, as :func:`retrostudy.contrasts`):

============================  =====================================================================
``measure``                   estimate, interval and test
============================  =====================================================================
``"risk_difference"``         rate of the first arm minus the second; Miettinen-Nurminen score
                              interval (default) or Newcombe's hybrid score interval
                              (``ci_method="newcombe"``); p from the score test of equal rates
                              (the "N - 1" chi-squared test, consistent with the MN interval)
``"risk_ratio"``              first / second; Miettinen-Nurminen score interval (Koopman's with
                              the ``N / (N - 1)`` variance factor); the same score test
``"odds_ratio"``              from the logistic regression ``responder ~ arm + baseline (+
                              covariates)`` (statsmodels GLM, binomial, logit link): the odds ratio
                              adjusted for the baseline value, Wald interval and test on the log
                              scale (R ``glm`` + ``confint.default``); ``std_error`` and
                              ``statistic`` are those of the log odds ratio
``"nnt"``                     number needed to treat, ``1 / RD``, with the RD interval's bounds
                              inverted (Altman 1998; :func:`~.proportions.nnt_text` words it,
                              through infinity when the RD interval includes 0)
============================  =====================================================================

Missing values follow a stated rule (``missing=``): ``"non-responder"`` (default) counts every
randomized subject (every subject of the data with an arm) and those without a baseline or
analysis-visit value as non-responders; ``"complete-case"`` leaves them out (logged in the
result's ``exclusions``). The logistic model needs the baseline value, so subjects without one
are left out of the odds ratio under either rule (logged, and a note says how many). Intervals
and p-values are not adjusted for multiplicity.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..errors import DataError, ModelError, SpecError
from ..exclusions import ExclusionLog
from ..schema import OUTCOMES, Outcome, outcome_from_definition
from ..tidy import TidyResult, check_conf_level, json_safe, setting_notes
from ..trial import TrialData, as_trial, outcome_definition
from . import proportions as prop
from .responder_measures import MEASURES, arm_pairs, logistic_odds_ratios, pair_rows
from .response_criteria import ResponseCriterion, resolve_criterion

__all__ = [
    "CI_METHODS",
    "MEASURES",
    "MISSING_RULES",
    "RATE_COLUMNS",
    "RESPONDER_COLUMNS",
    "ResponderTable",
    "responders",
]

MISSING_RULES = ("non-responder", "complete-case")
CI_METHODS = ("miettinen-nurminen", "newcombe")
RESPONDER_COLUMNS = ("contrast", "visit", "measure", "estimate", "std_error", "df", "statistic", "p_value",
                     "conf_low", "conf_high", "ci_method", "first", "second", "responders_first", "n_first",
                     "rate_first", "responders_second", "n_second", "rate_second")
RATE_COLUMNS = ("arm", "visit", "responders", "n", "rate", "conf_low", "conf_high", "n_randomized", "n_missing")
SUBJECT_COLUMNS = ("subject_id", "arm", "baseline", "value", "change", "improvement", "relative_improvement",
                   "responder", "missing")
_RESERVED = {"arm", "visit", "baseline", "value", "change", "y", "subject_id", "week", "outcome", "study",
             "responder", "improvement"}


@dataclass(frozen=True, eq=False, repr=False)
class ResponderTable(TidyResult):
    """Responder analysis of one outcome.

    Attributes
    ----------
    table
        One row per pair of arms and measure (columns ``RESPONDER_COLUMNS``).
    rates
        One row per arm: responders, denominator, rate and its Wilson interval, randomized and
        missing counts.
    subjects
        One row per randomized subject: baseline, value, change, improvement (positive =
        better), relative improvement, ``responder`` (1.0 / 0.0, NaN when left out) and why the
        change is missing.
    criterion
        The response definition used.
    settings
        Thresholds, missing rule, interval methods, confidence level, comparison family, notes.
    exclusions
        Subjects left out (complete-case rule; the logistic model's missing baselines).
    """

    table: pd.DataFrame
    rates: pd.DataFrame
    subjects: pd.DataFrame
    criterion: ResponseCriterion
    settings: Mapping[str, object]
    exclusions: ExclusionLog = field(default_factory=ExclusionLog)
    title: str = field(default="Responder analysis")

    def nnt_text(self, contrast: str | None = None, digits: int = 1) -> dict[str, str]:
        """The NNT of each contrast (or one) in words, Altman's (1998) convention."""
        rows = self.table.loc[self.table["measure"] == "nnt"]
        if contrast is not None:
            rows = rows.loc[rows["contrast"] == contrast]
        return {r.contrast: prop.nnt_text(r.estimate, r.conf_low, r.conf_high, digits) for r in rows.itertuples()}

    def to_dict(self) -> dict[str, object]:
        base = super().to_dict()
        base.update(json_safe({"rates": self.rates, "subjects": self.subjects,
                                "criterion": self.criterion.to_dict(), "exclusions": self.exclusions.to_dict()}))
        return base

    def summary(self) -> str:
        lines = [self.title + f": {self.settings['outcome']} at {self.settings['visit']}",
                 f"Response: {self.criterion.describe()}",
                 f"Source: {self.criterion.source}" + (f"; {self.criterion.basis}" if self.criterion.basis else ""),
                 self._settings_line()]
        shown = ["contrast", "measure", "estimate", "conf_low", "conf_high", "p_value", "ci_method"]
        with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 4):
            lines += ["", self.rates.drop(columns=["visit"]).to_string(index=False), "",
                      self.table.loc[:, shown].to_string(index=False)]
        lines += [""] + [f"{k}: {v}" for k, v in self.nnt_text().items()]
        lines += [f"Note: {n}" for n in setting_notes(self.settings)]
        return "\n".join(lines)

    def _settings_line(self) -> str:
        keys = ("missing", "ci_method", "rr_ci_method", "or_method", "conf_level", "family", "reference_arm",
                "adjust")
        return "; ".join(f"{k}: {self.settings[k]}" for k in keys if self.settings.get(k) is not None)

    def _repr_html_(self) -> str:
        from html import escape

        notes = "".join(f"<p><i>Note: {escape(n)}</i></p>" for n in setting_notes(self.settings))
        nnt = "<br>".join(f"{escape(k)}: {escape(v)}" for k, v in self.nnt_text().items())
        return (f"<p><b>{escape(self.title)}: {escape(str(self.settings['outcome']))}</b><br>"
                f"<small>Response: {escape(self.criterion.describe())} ({escape(self.criterion.source)})<br>"
                f"{escape(self._settings_line())}</small></p>"
                + self.rates.to_html(index=False, float_format=lambda x: f"{x:.4g}")
                + self.table.to_html(index=False, float_format=lambda x: f"{x:.4g}")
                + f"<p>{nnt}</p>" + notes)


# ------------------------------------------------------------------ subjects


def _outcome_definition(trial: TrialData, outcome: str, direction: str | None) -> Outcome:
    known = outcome_definition(trial.meta, outcome)
    info = outcome_from_definition(known) if known is not None else None
    if info is None and outcome in OUTCOMES:
        info = OUTCOMES[outcome]
    if info is None:
        if direction is None:
            raise SpecError(f"Outcome {outcome!r} is not in the outcome registry, so which way is improvement is "
                            "unknown; give direction='lower_is_better' or 'higher_is_better'.")
        info = Outcome(outcome, outcome.replace("_", " ").capitalize(), direction=direction)
    elif direction is not None:
        try:
            info = replace(info, direction=direction)
        except ValueError as exc:
            raise SpecError(str(exc)) from None
    return info


def _subject_frame(trial: TrialData, outcome: str, visit: str, base_visit: str,
                   covariates: tuple[str, ...]) -> pd.DataFrame:
    """One row per randomized subject: arm, baseline and visit values (NaN when missing), covariates."""
    frame = trial.data
    subj = frame["subject_id"].astype(str)
    arm_of = frame.assign(_s=subj).dropna(subset=["arm"]).groupby("_s", sort=False)["arm"].first().astype(str)
    rows = frame.loc[(frame["outcome"].astype(str) == outcome) & frame["value"].notna()].copy()
    rows["_s"] = rows["subject_id"].astype(str)
    rows["_v"] = rows["visit"].astype(str)
    rows = rows.loc[rows["_v"].isin([visit, base_visit])]
    dup = rows.duplicated(["_s", "_v"], keep=False)
    if dup.any():
        raise DataError([
            {"file": r.get("source_file"), "row": r.get("source_row"), "column": "value", "value": r["value"],
             "rule": "one value per subject, visit and outcome",
             "message": f"Subject {r['_s']} has more than one {outcome} value at {r['_v']}; keep one."}
            for _, r in rows.loc[dup].iterrows()
        ])
    out = pd.DataFrame({"subject_id": arm_of.index.astype(str), "arm": arm_of.to_numpy()})
    base = rows.loc[rows["_v"] == base_visit].set_index("_s")["value"].astype(float)
    post = rows.loc[rows["_v"] == visit].set_index("_s")["value"].astype(float)
    out["baseline"] = out["subject_id"].map(base).astype(float)
    out["value"] = out["subject_id"].map(post).astype(float)
    for cov in covariates:
        per = frame.assign(_s=subj).dropna(subset=[cov]).groupby("_s", sort=False)[cov]
        varying = per.nunique()
        if (varying > 1).any():
            who = varying.index[varying > 1][0]
            raise DataError([{"column": cov, "rule": "constant within subject",
                              "message": f"Covariate {cov!r} takes more than one value for subject {who}; "
                                         "a subject-level covariate must be constant within subject."}])
        out[cov] = out["subject_id"].map(per.first())
    return out


def _missing_reason(row: pd.Series, outcome: str, visit: str, base_visit: str) -> str:
    reasons = []
    if math.isnan(row["value"]):
        reasons.append(f"no {outcome} value at {visit}")
    if math.isnan(row["baseline"]):
        reasons.append(f"no {outcome} value at baseline ({base_visit})")
    return "; ".join(reasons)


# ------------------------------------------------------------------ public function


def responders(
    data: TrialData | pd.DataFrame,
    *,
    outcome: str,
    visit: str | None = None,
    criteria: str | ResponseCriterion = "mcii",
    threshold: float | None = None,
    relative: float | None = None,
    rule: str | None = None,
    direction: str | None = None,
    missing: str = "non-responder",
    family: str = "trt_vs_ref",
    reference_arm: str | None = None,
    ci_method: str = "miettinen-nurminen",
    covariates: Sequence[str] = (),
    conf_level: float = 0.95,
) -> ResponderTable:
    """Responder rates by arm and their comparison: risk difference, risk ratio, odds ratio, NNT.

    Parameters
    ----------
    data
        A :class:`~retrostudy.trial.TrialData` or a canonical long DataFrame.
    outcome
        Outcome id (e.g. ``"pain_nrs"``).
    visit
        Analysis visit; default the last visit. Change is from the baseline visit.
    criteria
        The named default thresholds (``"mcii"``, ``"omeract-oarsi-high"``,
        ``"omeract-oarsi-moderate"``; see :mod:`retrostudy.inference.response_criteria` for
        the values and citations) or a :class:`ResponseCriterion`.
    threshold, relative
        Your own thresholds instead of the defaults: the minimum improvement in the outcome's
        units and/or as a fraction of the baseline value (``0.3`` = 30 %).
    rule
        ``"all"`` (default: every threshold met) or ``"any"`` (one is enough).
    direction
        ``"lower_is_better"`` or ``"higher_is_better"``; default from the outcome definition
        (required for outcomes outside the registry).
    missing
        ``"non-responder"`` (default: every randomized subject counts; no baseline or no
        visit value = non-responder) or ``"complete-case"`` (those subjects are left out).
    family
        ``"trt_vs_ref"`` (each arm vs the reference arm) or ``"pairwise"`` (every earlier arm
        vs every later arm, in declared order).
    reference_arm
        Default: the last declared arm (``"control"`` for the retro walking trial).
    ci_method
        Interval of the risk difference (and so of the NNT): ``"miettinen-nurminen"`` (default)
        or ``"newcombe"`` (hybrid score). The risk ratio always has the Miettinen-Nurminen
        score interval, the odds ratio the Wald interval of the logistic regression.
    covariates
        Subject-level covariates added to the logistic model of the odds ratio.
    conf_level
        Confidence level of every interval.

    Returns
    -------
    ResponderTable
        ``.table`` (one row per pair and measure: ``contrast, visit, measure, estimate,
        std_error, df, statistic, p_value, conf_low, conf_high, ci_method, first, second`` and
        the responders, denominator and rate of each arm), ``.rates``, ``.subjects``,
        ``.criterion``, ``.settings`` and ``.exclusions``. Nothing is adjusted for
        multiplicity.

    Raises
    ------
    SpecError
        An unknown outcome, visit, arm, rule or family; no default threshold for the outcome.
    DataError
        Two values for one subject, visit and outcome; a covariate that varies within a subject.
    ModelError
        Fewer than two arms with subjects to compare.

    Examples
    --------
    >>> import retrostudy as rs
    >>> res = rs.responders(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
    >>> res.rates[["arm", "responders", "n"]].to_string(index=False)
    '    arm  responders  n\\n  retro          12 23\\nforward           7 23\\ncontrol           7 22'
    >>> res.nnt_text()["retro vs control"]
    'NNTB 4.9 (NNTB 2.2 to \u221e to NNTH 11.4)'
    """
    trial = as_trial(data)
    if missing not in MISSING_RULES:
        raise SpecError(f"missing must be one of {', '.join(MISSING_RULES)}, not {missing!r}.")
    if ci_method not in CI_METHODS:
        raise SpecError(f"ci_method must be one of {', '.join(CI_METHODS)}, not {ci_method!r}.")
    if family not in ("trt_vs_ref", "pairwise"):
        raise SpecError(f"family must be 'trt_vs_ref' or 'pairwise', not {family!r}.")
    check_conf_level(conf_level)
    conf = float(conf_level)
    if outcome not in trial.outcomes:
        raise SpecError(f"Outcome {outcome!r} is not in the data; available outcomes: {', '.join(trial.outcomes)}.")
    visits, base_visit = trial.visits, trial.baseline_visit
    visit = visits[-1] if visit is None else visit
    if visit not in visits:
        raise SpecError(f"Visit {visit!r} is not in the data; available visits: {', '.join(visits)}.")
    if visit == base_visit:
        raise SpecError(f"The analysis visit {visit!r} is the baseline visit; choose a post-baseline visit.")
    covariates = tuple(covariates)
    for cov in covariates:
        if cov in _RESERVED or cov not in trial.data.columns:
            raise SpecError(f"Covariate {cov!r} is not a usable column of the data; available: "
                            f"{', '.join(trial.covariates) or 'none'}.")
    arms = trial.arms
    reference = arms[-1] if reference_arm is None else reference_arm
    if reference not in arms:
        raise SpecError(f"Reference arm {reference!r} is not an arm of the data; arms: {', '.join(arms)}.")
    info = _outcome_definition(trial, outcome, direction)
    criterion = resolve_criterion(info, criteria=criteria, threshold=threshold, relative=relative, rule=rule)

    subjects = _subject_frame(trial, outcome, visit, base_visit, covariates)
    b, v = subjects["baseline"].to_numpy(float), subjects["value"].to_numpy(float)
    subjects["change"] = v - b
    subjects["improvement"] = criterion.improvement(b, v)
    subjects["relative_improvement"] = criterion.relative_improvement(b, v)
    met = criterion.met(b, v)
    has_change = np.isfinite(subjects["change"].to_numpy(float))
    subjects["missing"] = [_missing_reason(r, outcome, visit, base_visit) if not ok else ""
                           for (_, r), ok in zip(subjects.iterrows(), has_change)]
    if missing == "non-responder":
        subjects["responder"] = met.astype(float)
    else:
        subjects["responder"] = np.where(has_change, met.astype(float), np.nan)

    notes: list[str] = []
    n_missing = int((~has_change).sum())
    log_records = []
    if n_missing:
        if missing == "non-responder":
            notes.append(f"{n_missing} randomized subject(s) without a {visit} or baseline value count as "
                         "non-responders (missing = 'non-responder').")
        else:
            notes.append(f"{n_missing} randomized subject(s) without a {visit} or baseline value are left out "
                         "(missing = 'complete-case').")
            for r in subjects.loc[~has_change].itertuples():
                log_records.append({"stage": "responders", "subject_id": r.subject_id, "outcome": outcome,
                                    "visit": visit if math.isnan(r.value) else base_visit, "column": "value",
                                    "reason": f"{r.missing}; left out of the responder analysis (complete-case)"})
    if criterion.relative is not None:
        bad = int((has_change & ~(subjects["baseline"].to_numpy(float) > 0)).sum())
        if bad:
            notes.append(f"{bad} subject(s) with a baseline of 0 or less cannot meet the relative threshold.")
    no_base = subjects["baseline"].isna() & subjects["responder"].notna()
    if no_base.any():
        notes.append(f"{int(no_base.sum())} subject(s) without a baseline value are not in the logistic model of "
                     "the odds ratio.")
        for r in subjects.loc[no_base].itertuples():
            log_records.append({"stage": "responders-logistic", "subject_id": r.subject_id, "outcome": outcome,
                                "visit": base_visit, "column": "value",
                                "reason": "no baseline value; left out of the odds-ratio model"})
    notes.append("Intervals and p-values are not adjusted for multiplicity.")

    counted = subjects.dropna(subset=["responder"])
    rates, counts = [], {}
    for arm in arms:
        all_arm = subjects.loc[subjects["arm"] == arm]
        sub = counted.loc[counted["arm"] == arm]
        x, n = int(sub["responder"].sum()), len(sub)
        counts[arm] = (x, n)
        lo, hi = prop.wilson_interval(x, n, conf) if n else (np.nan, np.nan)
        rates.append({"arm": arm, "visit": visit, "responders": x, "n": n, "rate": x / n if n else np.nan,
                      "conf_low": lo, "conf_high": hi, "n_randomized": len(all_arm),
                      "n_missing": int(all_arm["missing"].ne("").sum())})
    rates_frame = pd.DataFrame.from_records(rates, columns=list(RATE_COLUMNS))
    if sum(n > 0 for _, n in counts.values()) < 2:
        raise ModelError(f"Fewer than two arms have subjects with a {outcome} response to compare.")
    pairs = arm_pairs(arms, family, reference)
    odds = logistic_odds_ratios(subjects, arms, reference, covariates, pairs, conf, notes)
    records = [row for pair in pairs for row in pair_rows(pair, counts, visit, ci_method, conf, odds)]
    table = pd.DataFrame.from_records(records).reindex(columns=list(RESPONDER_COLUMNS))
    for col in RESPONDER_COLUMNS:
        if col not in ("contrast", "visit", "measure", "ci_method", "first", "second"):
            table[col] = table[col].astype(float)
    settings = {
        "outcome": outcome, "visit": visit, "baseline_visit": base_visit, "criterion": criterion.describe(),
        "criteria": criterion.name, "threshold": criterion.absolute, "relative": criterion.relative,
        "rule": criterion.rule, "direction": criterion.direction, "criterion_source": criterion.source,
        "missing": missing, "ci_method": ci_method, "rr_ci_method": "miettinen-nurminen",
        "or_method": "logistic regression on arm + baseline" + "".join(f" + {c}" for c in covariates)
                     + ", Wald interval",
        "nnt_method": "1 / RD, interval from the RD interval (Altman 1998)", "conf_level": conf, "family": family,
        "reference_arm": reference, "adjust": "none", "covariates": list(covariates), "notes": notes,
    }
    return ResponderTable(table=table, rates=rates_frame, subjects=subjects.loc[:, list(SUBJECT_COLUMNS)
                          + list(covariates)].reset_index(drop=True), criterion=criterion, settings=settings,
                          exclusions=trial.exclusions.extend(log_records))
