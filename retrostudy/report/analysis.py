"""The report's analyses: for each outcome the primary and sensitivity models (EMMs and pairwise contrasts
at every post-baseline visit up to the final one, Hedges' g), a refit on the completers when some
participants miss a visit, and the responder analysis. A model that cannot be fitted is reported as
failed, with the reason (no number is ever invented).

Contrasts are computed unadjusted here (``contrasts(..., adjust="none")``, plus the Dunnett or Tukey
family when ``adjust`` asks for one); :mod:`.multiplicity` adds the adjusted p-values and the interval
that belongs to each.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ..errors import RetrostudyError, SpecError
from ..trial import TrialData
from .multiplicity import CiKind, within_outcome
from .spec import ReportSpec

__all__ = ["Contribution", "ModelResult", "OutcomeResult", "ResponderResult", "analyse_outcome", "completers",
           "contribution", "fit_one"]


@dataclass(frozen=True, eq=False)
class ModelResult:
    """One model of one outcome: the fit and its tables (or why there are none).

    ``contrasts`` has one row per post-baseline visit x pair of arms with the unadjusted
    ``p_value`` and the within-outcome ``p_adjusted``, ``conf_low``, ``conf_high`` (see
    :func:`retrostudy.report.multiplicity.within_outcome`), ``ci_kind`` says what they are.
    """

    model: str
    status: str  # "ok" or "failed"
    message: str = ""
    fit: Any = None
    emm: pd.DataFrame | None = None
    contrasts: pd.DataFrame | None = None
    effects: pd.DataFrame | None = None
    ci_kind: CiKind | None = None
    standardizer: str = "baseline_sd"
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def at(self, visit: str, table: str = "contrasts") -> pd.DataFrame:
        """Rows of ``contrasts``, ``emm`` or ``effects`` at one visit (all rows for a one-visit model)."""
        frame = getattr(self, table)
        if frame is None:
            return pd.DataFrame()
        if "visit" in frame.columns and frame["visit"].notna().any():
            frame = frame.loc[frame["visit"].astype(str) == visit]
        return frame.reset_index(drop=True)


@dataclass(frozen=True, eq=False)
class ResponderResult:
    """The responder analysis of one outcome, or why there is none."""

    status: str  # "ok", "skipped" or "failed"
    message: str = ""
    table: Any = None  # ResponderTable


@dataclass(frozen=True, eq=False)
class OutcomeResult:
    """The analyses of one outcome.

    ``completers_same_as`` is ``"primary"`` or ``"sensitivity"`` when that model already analyses exactly
    the completers (then there is no refit), else None; ``completers`` is the primary model refitted on the
    completers (None when nobody misses a visit or when ``completers_same_as`` is set).
    """

    outcome: str
    primary: ModelResult
    sensitivity: ModelResult
    completers: ModelResult | None
    n_completers: int
    n_all: int
    responders: ResponderResult
    completers_same_as: str | None = None

    @property
    def completers_are_primary(self) -> bool:
        return self.completers_same_as == "primary"


@dataclass(frozen=True)
class Contribution:
    """Who a fit analysed, from the fit itself (``n_analysed``, ``subjects_used``, ``exclusions``).

    Attributes
    ----------
    model
        ``"mmrm"`` or ``"ancova"``.
    randomized, used, left
        Participants per arm: in the data, analysed by the fit, contributing nothing.
    with_final
        Analysed participants with a value at the analysis (final) visit.
    reasons
        Why participants contribute nothing: reason -> participants (the fit's exclusion log; a
        participant the log does not name has no value of the outcome at all).
    """

    model: str
    randomized: Mapping[str, int]
    used: Mapping[str, int]
    left: Mapping[str, int]
    with_final: int
    reasons: Mapping[str, int]

    @property
    def n_used(self) -> int:
        return int(sum(self.used.values()))

    @property
    def n_left(self) -> int:
        return int(sum(self.left.values()))

    @property
    def n_randomized(self) -> int:
        return int(sum(self.randomized.values()))


def contribution(result: ModelResult, randomized: Mapping[str, int], final_visit: str) -> Contribution | None:
    """:class:`Contribution` of a fitted model (None when it failed or carries no data)."""
    if not result.ok or result.fit is None or result.fit.data is None:
        return None
    fit = result.fit
    used = {str(a): int(n) for a, n in fit.n_analysed(by="arm").items()}
    left = {a: int(n) - used.get(a, 0) for a, n in randomized.items()}
    if result.model == "ancova":
        with_final = fit.n_analysed(by=None)
    else:
        with_final = int(fit.n_analysed(by="visit").get(final_visit, 0))
    ids = set(fit.subjects_used())
    log = fit.exclusions.to_frame() if fit.exclusions is not None and len(fit.exclusions) else pd.DataFrame()
    reasons: dict[str, int] = {}
    named: set[str] = set()
    if len(log) and "subject_id" in log.columns:
        own = log.loc[(log["stage"].astype(str) != "read") & log["subject_id"].notna()]
        own = own.loc[~own["subject_id"].astype(str).isin(ids)]
        visits = [str(v) for v in pd.unique(log["visit"].dropna().astype(str))] if "visit" in log.columns else []
        words = own["reason"].astype(str).map(lambda r: _tidy_reason(r, fit.outcome, visits))
        for reason, grp in own.groupby(words, sort=True):
            subjects = set(grp["subject_id"].astype(str)) - named
            if subjects:
                reasons[str(reason)] = len(subjects)
                named |= subjects
    rest = sum(left.values()) - len(named)
    if rest > 0:
        reasons["no value of the outcome at any visit"] = rest
    return Contribution(result.model, dict(randomized), used, left, int(with_final), reasons)


def _fit_function(model: str):
    from ..models.ancova import fit_ancova
    from ..models.mmrm import fit_mmrm

    return {"ancova": fit_ancova, "mmrm": fit_mmrm}[model]


def _order_pairs(frame: pd.DataFrame, arms: tuple[str, ...], visits: tuple[str, ...]) -> pd.DataFrame:
    wanted = [f"{a} - {b}" for a, b in combinations(arms, 2)]
    order = {c: i for i, c in enumerate(wanted)}
    if "visit" in frame.columns and frame["visit"].notna().any():
        frame = frame.loc[frame["visit"].astype(str).isin(visits)]
        vorder = {v: i for i, v in enumerate(visits)}
        frame = frame.assign(_v=frame["visit"].astype(str).map(vorder))
    else:
        frame = frame.assign(_v=0)
    frame = frame.loc[frame["contrast"].isin(wanted)].assign(_o=lambda f: f["contrast"].map(order))
    return frame.sort_values(["_v", "_o"]).drop(columns=["_v", "_o"]).reset_index(drop=True)


def fit_one(trial: TrialData, outcome: str, model: str, spec: ReportSpec) -> ModelResult:
    """Fit ``model`` to ``outcome``; EMMs, pairwise contrasts and g at every post-baseline visit."""
    from ..inference import contrasts, effect_sizes, emmeans

    visits = spec.post_baseline_visits if model == "mmrm" else (spec.final_visit,)
    kwargs: dict[str, Any] = {"outcome": outcome, "covariates": spec.covariates, "reference_arm": spec.reference_arm,
                              "conf_level": spec.conf_level}
    if model == "ancova":
        kwargs["visit"] = spec.final_visit
    else:
        kwargs.update(covariance=spec.covariance, df_method=spec.df_method, baseline=spec.baseline)
    standardizer = spec.standardizer
    try:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            fit = _fit_function(model)(trial, **kwargs)
            emm = emmeans(fit, weights=spec.weights, by="visit" if "visit" in fit.grid_factors else None)
            raw = contrasts(emm, family="pairwise", adjust="none")
            adjusted = (contrasts(emm, family="pairwise", adjust=spec.adjust).to_frame()
                        if spec.adjust in ("dunnett", "tukey") else None)
            try:
                eff = effect_sizes(raw, standardizer=standardizer)
            except SpecError:
                standardizer = "residual_sd"
                eff = effect_sizes(raw, standardizer=standardizer)
        caught = tuple(sorted({str(w.message) for w in rec if not issubclass(w.category, FutureWarning)}))
    except RetrostudyError as exc:
        return ModelResult(model, "failed", f"The {model.upper()} could not be fitted: {exc}")
    con = _order_pairs(raw.to_frame(), spec.arms, visits)
    con, kind = within_outcome(con, spec.adjust, spec.conf_level,
                               None if adjusted is None else _order_pairs(adjusted, spec.arms, visits))
    emm_t = emm.to_frame()
    if "visit" in emm_t.columns and emm_t["visit"].notna().any():
        emm_t = emm_t.loc[emm_t["visit"].astype(str).isin(visits)].reset_index(drop=True)
    return ModelResult(model, "ok", "", fit, emm_t, con, _order_pairs(eff.to_frame(), spec.arms, visits), kind,
                       standardizer, caught)


def completers(trial: TrialData, outcome: str, visits: tuple[str, ...] | None = None) -> tuple[TrialData, int, int]:
    """The trial restricted to participants with ``outcome`` observed at every one of ``visits`` (default:
    every visit); returns (trial, n_completers, n_with_any_value)."""
    rows = trial.data.loc[(trial.data["outcome"].astype(str) == outcome) & trial.data["value"].notna()]
    wanted = set(visits or trial.visits)
    per = rows.loc[rows["visit"].astype(str).isin(wanted)].groupby("subject_id", observed=True)["visit"] \
        .agg(lambda v: set(map(str, v)))
    keep = {str(s) for s, vs in per.items() if wanted <= vs}
    sub = trial.data.loc[trial.data["subject_id"].astype(str).isin(keep)].reset_index(drop=True)
    n_any = int(rows["subject_id"].nunique())
    return TrialData(sub, trial.exclusions, dict(trial.meta)), len(keep), n_any


def responder_analysis(trial: TrialData, outcome: str, spec: ReportSpec) -> ResponderResult:
    """``rs.responders`` with the report's settings; skipped (with the reason) where no threshold is set."""
    from ..inference import responders

    kw = spec.responders.for_outcome(outcome)
    if kw is None:
        return ResponderResult("skipped", "The settings switch the responder analysis off for this outcome.")
    covs = tuple(c for c in spec.covariates if ":" not in c)
    try:
        res = responders(trial, outcome=outcome, visit=spec.final_visit, family="pairwise",
                         reference_arm=spec.reference_arm, covariates=covs, conf_level=spec.conf_level, **kw)
    except SpecError as exc:
        text = str(exc)
        if "no default" in text.lower():
            from .labels import oxford_join

            has = _criteria_outcomes(str(kw.get("criteria")))
            return ResponderResult("skipped", f"No responder analysis: no established responder threshold for this "
                                              f"outcome (the default criteria '{kw.get('criteria')}' define "
                                              f"{oxford_join(has) or 'none'}). To add one, set it in the report "
                                              f"settings, e.g. responders: {{{outcome}: {{relative: 0.2}}}} "
                                              "(an improvement of 20% of baseline) or {threshold: ...}.")
        return ResponderResult("failed", f"The responder analysis could not be done: {text}")
    except RetrostudyError as exc:
        return ResponderResult("failed", f"The responder analysis could not be done: {exc}")
    return ResponderResult("ok", "", res)


def _criteria_outcomes(name: str) -> list[str]:
    from ..inference.response_criteria import CRITERIA

    return list(CRITERIA.get(name, {}))


def _tidy_reason(reason: str, outcome: str, visits: Sequence[str]) -> str:
    """An exclusion reason as the report prints it: without the outcome id (the sentence names the outcome),
    visits as labels (``"no pain_nrs value at week6"`` -> ``"no value at week 6"``)."""
    import re

    from .labels import visit_label

    text = reason.replace(f"{outcome} value", "value")
    for v in sorted(set(visits), key=len, reverse=True):
        text = re.sub(rf"(?<![\w]){re.escape(v)}(?![\w])", visit_label(v), text)
    return re.sub(r"\b(\w+)( value)? \(\1\)", r"\1\2", text)  # "a baseline value (baseline)" -> "a baseline value"


def _subjects(result: ModelResult) -> set[str] | None:
    if not result.ok or result.fit is None or result.fit.data is None:
        return None
    return set(result.fit.subjects_used())


def analyse_outcome(trial: TrialData, outcome: str, spec: ReportSpec) -> OutcomeResult:
    """Primary, sensitivity, completers and responder analyses of one outcome.

    The completers (a value at every visit up to the final one) are refitted with the primary model only
    when neither model already analyses exactly them (with one visit after baseline the complete-case ANCOVA,
    or an MMRM with the baseline as a covariate, is the completers' analysis).
    """
    res_p = fit_one(trial, outcome, spec.model, spec)
    res_s = fit_one(trial, outcome, spec.sensitivity_model, spec)
    visits = (spec.baseline_visit,) + spec.post_baseline_visits
    cc_trial, n_cc, n_all = completers(trial, outcome, visits)
    res_cc = None
    same = None
    if 0 < n_cc < n_all:
        ids = set(cc_trial.data["subject_id"].astype(str))
        same = next((role for role, m in (("primary", res_p), ("sensitivity", res_s)) if _subjects(m) == ids), None)
        if same is None:
            res_cc = fit_one(cc_trial, outcome, spec.model, spec)
    return OutcomeResult(outcome, res_p, res_s, res_cc, n_cc, n_all, responder_analysis(trial, outcome, spec), same)


def analysed_by_arm(result: ModelResult) -> dict[str, int] | None:
    """Participants per arm in a fit (``None`` when it failed)."""
    if not result.ok or result.fit is None or result.fit.data is None:
        return None
    return {str(k): int(v) for k, v in result.fit.n_analysed(by="arm").items()}


def not_analysed(result: ModelResult, randomized: Mapping[str, int]) -> dict[str, int]:
    """Randomised participants per arm that contribute nothing to a fit."""
    got = analysed_by_arm(result) or {}
    return {a: int(n) - int(got.get(a, 0)) for a, n in randomized.items()}


def fitted_and_residuals(fit: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Marginal fitted values and residuals of a fit, or None when it carries no data."""
    if fit is None or fit.data is None:
        return None
    return fit.fitted(), fit.residuals()


def final_family(results: Sequence[OutcomeResult], spec: ReportSpec, role: str = "primary"
                 ) -> dict[str, tuple[pd.DataFrame, CiKind]]:
    """Each outcome's contrasts at the final visit as the report shows them, with what their p and CI are.

    ``role`` picks the model: ``"primary"`` or ``"sensitivity"``. Primary outcomes get the family's
    adjustment (:func:`~retrostudy.report.multiplicity.across_primary`, computed over that model's fits);
    exploratory outcomes keep the within-outcome adjustment.
    """
    from .multiplicity import across_primary

    models = {r.outcome: (r.primary if role == "primary" else r.sensitivity) for r in results}
    out: dict[str, tuple[pd.DataFrame, CiKind]] = {}
    prim = {o: models[o].at(spec.final_visit) for o in spec.primary_outcomes if o in models and models[o].ok}
    if prim:
        tables, kind = across_primary(prim, spec.primary_outcomes, spec.multiplicity, spec.adjust, spec.conf_level)
        out.update({o: (t, kind) for o, t in tables.items()})
    for o in spec.exploratory_outcomes:
        m = models.get(o)
        if m is not None and m.ok and m.ci_kind is not None:
            out[o] = (m.at(spec.final_visit), m.ci_kind)
    return out
