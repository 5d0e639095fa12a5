"""What a report analyses: :class:`ReportSpec`, built once from the arguments, the settings and the data.

The settings keys, their defaults and what they do are one table,
:data:`retrostudy.options.REPORT_SETTINGS` (the README and ``retrostudy report --help``
print it); :data:`DEFAULTS` is its default column. :func:`make_spec` validates every
value (an unknown key or option gets a "did you mean"), resolves the defaults that depend on
the data (outcomes, primary outcomes, final visit, reference arm) and returns a frozen
:class:`ReportSpec` that every later step reads; nothing downstream looks at the raw settings.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import SpecError
from ..options import (
    ADJUST,
    DF_ALIASES,
    DF_METHODS,
    EMM_WEIGHTS,
    MULTIPLICITY,
    MULTIPLICITY_ALIASES,
    REPORT_BASELINE,
    REPORT_SETTINGS,
    RESPONDER_CI,
    RESPONDER_CRITERIA,
    RESPONDER_KEYS,
    RESPONDER_MISSING,
    did_you_mean,
    resolve_option,
)
from .labels import visit_label
from .sensitivity_spec import SensitivitySpec, default_estimand, make_estimands, make_sensitivity_spec

if TYPE_CHECKING:
    from ..missing.estimand import Estimand

__all__ = ["DEFAULTS", "MODELS", "ReportSpec", "ResponderSpec", "check_setting_keys", "default_primary_outcomes",
           "make_spec"]

#: Every report setting with its default (see :data:`retrostudy.options.REPORT_SETTINGS`).
DEFAULTS: dict[str, Any] = {key: default for key, (default, _) in REPORT_SETTINGS.items()}
#: Spellings accepted besides the keys of :data:`DEFAULTS`.
SETTING_ALIASES = {"model": "primary"}
#: The models a report can take as its primary analysis.
MODELS = ("mmrm", "ancova")
#: The retro-walking trial's primary outcomes (Alghadir et al. 2019: pain and WOMAC).
TRIAL_PRIMARY_OUTCOMES = ("pain_nrs", "womac")
STANDARDIZERS = ("baseline_sd", "residual_sd")


def check_setting_keys(cfg: Mapping[str, Any], where: str = "report settings") -> None:
    """Raise :class:`SpecError` naming the first unknown key, with the closest known one."""
    known = list(DEFAULTS) + list(SETTING_ALIASES)
    unknown = [k for k in cfg if k not in known]
    if unknown:
        first = unknown[0]
        more = f" (and {len(unknown) - 1} more: {', '.join(map(str, unknown[1:]))})" if len(unknown) > 1 else ""
        raise SpecError(f"Unknown setting {first!r} in the {where}{did_you_mean(str(first), known)}{more}; "
                        f"known settings: {', '.join(DEFAULTS)} (see retrostudy report --help).")


@dataclass(frozen=True)
class ResponderSpec:
    """The responder analysis of a report: default thresholds, missing rule, RD interval and per-outcome
    overrides (outcome -> ``rs.responders`` keywords; ``None`` = no responder analysis for that outcome)."""

    criteria: str = "mcii"
    missing: str = "non-responder"
    ci_method: str = "miettinen-nurminen"
    per_outcome: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)

    def for_outcome(self, outcome: str) -> dict[str, Any] | None:
        """Keywords of ``rs.responders`` for ``outcome`` (``None`` when switched off)."""
        if outcome in self.per_outcome and self.per_outcome[outcome] is None:
            return None
        own = dict(self.per_outcome.get(outcome) or {})
        kw: dict[str, Any] = {"criteria": own.pop("criteria", self.criteria), "missing": self.missing,
                              "ci_method": self.ci_method}
        kw.update(own)
        return kw

    def to_dict(self) -> dict[str, Any]:
        return {"criteria": self.criteria, "missing": self.missing, "ci_method": self.ci_method,
                "per_outcome": {k: (None if v is None else dict(v)) for k, v in sorted(self.per_outcome.items())}}


@dataclass(frozen=True)
class ReportSpec:
    """Everything a report analyses, resolved against the data (read by every step after :func:`make_spec`).

    Attributes
    ----------
    model
        The primary model, ``"mmrm"`` or ``"ancova"``; :attr:`sensitivity_model` is the other.
    baseline
        How the MMRM uses the baseline visit: ``"constrained"`` (cLDA) or ``"covariate"``.
    outcomes, primary_outcomes
        Outcomes reported, and the primary ones in their testing order (the rest are exploratory);
        ``primary_outcomes_source`` says where the primary ones came from.
    multiplicity, adjust
        The strategy across the primary family and the adjustment within one outcome's contrasts.
    final_visit, baseline_visit, visits, arms, reference_arm
        Resolved from the data.
    covariance, df_method, weights, conf_level, covariates, standardizer
        Model and inference options (canonical names).
    title, date, table1_covariates, covariate_labels
        Presentation.
    responders
        :class:`ResponderSpec`.
    estimands
        Each primary outcome's :class:`~retrostudy.missing.estimand.Estimand`.
    sensitivity
        :class:`~retrostudy.report.sensitivity_spec.SensitivitySpec`: the missing-data sensitivity analyses.
    """

    model: str
    adjust: str
    multiplicity: str
    outcomes: tuple[str, ...]
    primary_outcomes: tuple[str, ...]
    primary_outcomes_source: str
    final_visit: str
    baseline_visit: str
    visits: tuple[str, ...]
    arms: tuple[str, ...]
    reference_arm: str
    covariance: str = "us"
    df_method: str = "kenward-roger"
    weights: str = "equal"
    conf_level: float = 0.95
    covariates: tuple[str, ...] = ()
    standardizer: str = "baseline_sd"
    title: str | None = None
    date: str | None = None
    table1_covariates: tuple[str, ...] | None = None
    covariate_labels: Mapping[str, str] = field(default_factory=dict)
    responders: ResponderSpec = field(default_factory=ResponderSpec)
    baseline: str = "constrained"
    estimands: Mapping[str, Estimand] = field(default_factory=dict)
    estimands_source: str = "default"
    sensitivity: SensitivitySpec = field(default_factory=SensitivitySpec)

    @property
    def sensitivity_model(self) -> str:
        """The model that is not the primary one."""
        return "ancova" if self.model == "mmrm" else "mmrm"

    @property
    def exploratory_outcomes(self) -> tuple[str, ...]:
        """The reported outcomes that are not primary."""
        return tuple(o for o in self.outcomes if o not in self.primary_outcomes)

    def is_primary(self, outcome: str) -> bool:
        """Whether ``outcome`` is in the primary family."""
        return outcome in self.primary_outcomes

    @property
    def post_baseline_visits(self) -> tuple[str, ...]:
        """Visits after the baseline up to and including the final visit, in week order."""
        first, last = self.visits.index(self.baseline_visit), self.visits.index(self.final_visit)
        return tuple(v for i, v in enumerate(self.visits) if first < i <= last)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe, keys sorted, for the manifest."""
        out: dict[str, object] = {
            "primary": self.model, "adjust": self.adjust, "multiplicity": self.multiplicity,
            "outcomes": list(self.outcomes), "primary_outcomes": list(self.primary_outcomes),
            "primary_outcomes_source": self.primary_outcomes_source, "final_visit": self.final_visit,
            "baseline_visit": self.baseline_visit, "arms": list(self.arms), "reference_arm": self.reference_arm,
            "covariance": self.covariance, "df_method": self.df_method, "weights": self.weights,
            "conf_level": self.conf_level, "covariates": list(self.covariates), "standardizer": self.standardizer,
            "title": self.title, "date": self.date,
            "table1_covariates": None if self.table1_covariates is None else list(self.table1_covariates),
            "covariate_labels": dict(sorted(self.covariate_labels.items())), "responders": self.responders.to_dict(),
            "baseline": self.baseline, "estimand": {o: e.to_dict() for o, e in self.estimands.items()},
            "sensitivity": self.sensitivity.to_dict(),
        }
        return dict(sorted(out.items()))


def default_primary_outcomes(outcomes: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """pain_nrs and womac where present (the trial's declared primary outcomes), else the first outcome."""
    trial = tuple(o for o in TRIAL_PRIMARY_OUTCOMES if o in outcomes)
    if trial:
        return trial, "default: the retro-walking trial's primary outcomes (pain and WOMAC)"
    return (outcomes[0],), "default: the first outcome (no primary_outcomes setting)"


def _option(value: Any, choices: tuple[str, ...], what: str, aliases: dict[str, str] | None = None) -> str:
    try:
        return resolve_option(value, choices, what, aliases)
    except ValueError as exc:
        raise SpecError(str(exc)[0].upper() + str(exc)[1:] + ".") from None


def _names(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value)
    raise SpecError(f"{what} must be a list of names, e.g. [age, sex], not {value!r}.")


def _date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    try:
        return _dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError:
        raise SpecError(f"date must be a day as YYYY-MM-DD, e.g. 2024-05-31, not {value!r}.") from None


def _responders(cfg: Mapping[str, Any], outcomes: Sequence[str]) -> ResponderSpec:
    crit = _option(cfg.get("responder_criteria", DEFAULTS["responder_criteria"]), RESPONDER_CRITERIA,
                   "responder_criteria")
    missing = _option(cfg.get("responder_missing", DEFAULTS["responder_missing"]), RESPONDER_MISSING,
                      "responder_missing", {"nonresponder": "non-responder", "non_responder": "non-responder",
                                            "complete_case": "complete-case", "cc": "complete-case"})
    ci = _option(cfg.get("responder_ci_method", DEFAULTS["responder_ci_method"]), RESPONDER_CI,
                 "responder_ci_method", {"mn": "miettinen-nurminen", "miettinen_nurminen": "miettinen-nurminen"})
    per: dict[str, Mapping[str, Any] | None] = {}
    raw = cfg.get("responders") or {}
    if not isinstance(raw, Mapping):
        raise SpecError("responders must map outcome ids to thresholds, e.g. {quad_strength: {relative: 0.2}}.")
    for outcome, entry in raw.items():
        if outcome not in outcomes:
            raise SpecError(f"responders names outcome {outcome!r}, which the report does not analyse"
                            f"{did_you_mean(str(outcome), list(outcomes))}; outcomes: {', '.join(outcomes)}.")
        if entry is False or entry is None:
            per[str(outcome)] = None
            continue
        if not isinstance(entry, Mapping):
            raise SpecError(f"responders.{outcome} must be a mapping such as {{threshold: 2}} or false, not {entry!r}.")
        bad = [k for k in entry if k not in RESPONDER_KEYS]
        if bad:
            raise SpecError(f"Unknown key {bad[0]!r} in responders.{outcome}{did_you_mean(str(bad[0]), RESPONDER_KEYS)}"
                            f"; use {', '.join(RESPONDER_KEYS)}.")
        own = dict(entry)
        if "criteria" in own:
            own["criteria"] = _option(own["criteria"], RESPONDER_CRITERIA, f"responders.{outcome}.criteria")
        for key in ("threshold", "relative"):
            if key in own and own[key] is not None:
                try:
                    own[key] = float(own[key])
                except (TypeError, ValueError):
                    raise SpecError(f"responders.{outcome}.{key} must be a number, not {own[key]!r}.") from None
        per[str(outcome)] = MappingProxyType(own)
    return ResponderSpec(crit, missing, ci, MappingProxyType(per))


def make_spec(trial: Any, cfg: Mapping[str, Any], *, outcomes: Sequence[str] | None = None, model: str = "mmrm",
              primary: str | None = None, adjust: str | None = None, multiplicity: str | None = None,
              date: str | None = None) -> ReportSpec:
    """The :class:`ReportSpec` of ``trial`` from the keyword arguments (which win) and the settings ``cfg``.

    Raises
    ------
    SpecError
        An unknown key, option, outcome, visit, arm or covariate (with the closest known one).
    """
    from ..models.structures import covariance_key

    check_setting_keys(cfg)
    cfg = {SETTING_ALIASES.get(k, k): v for k, v in cfg.items()}
    prim = _option(primary or cfg.get("primary") or model, MODELS, "primary analysis")
    adj = _option(adjust if adjust is not None else cfg.get("adjust", DEFAULTS["adjust"]), ADJUST, "adjust")
    mult = _option(multiplicity if multiplicity is not None else cfg.get("multiplicity", DEFAULTS["multiplicity"]),
                   MULTIPLICITY, "multiplicity", MULTIPLICITY_ALIASES)
    data_outcomes = list(trial.outcomes)
    outs = list(outcomes or _names(cfg.get("outcomes"), "outcomes") or data_outcomes)
    for o in outs:
        if o not in data_outcomes:
            raise SpecError(f"Outcome {o!r} is not in the data{did_you_mean(o, data_outcomes)}; the data have "
                            f"{', '.join(data_outcomes)} (retrostudy validate SOURCE lists them).")
    if cfg.get("primary_outcomes"):
        prim_outs = _names(cfg["primary_outcomes"], "primary_outcomes")
        for o in prim_outs:
            if o not in outs:
                raise SpecError(f"primary_outcomes names {o!r}, which the report does not analyse"
                                f"{did_you_mean(o, outs)}; outcomes: {', '.join(outs)}.")
        source = "settings (primary_outcomes)"
    else:
        prim_outs, source = default_primary_outcomes(outs)
    # primary outcomes first, in their testing order, then the exploratory ones in data order
    outs = list(prim_outs) + [o for o in outs if o not in prim_outs]
    visits = tuple(trial.visits)
    final = cfg.get("final_visit") or visits[-1]
    if final not in visits:
        raise SpecError(f"final_visit {final!r} is not a visit of the data{did_you_mean(str(final), visits)}; "
                        f"visits: {', '.join(visits)}.")
    if final == trial.baseline_visit:
        raise SpecError(f"final_visit {final!r} is the baseline visit; choose a later visit.")
    arms = tuple(trial.arms)
    if len(arms) < 2:
        raise SpecError("The report compares arms, but the data have fewer than two arms.")
    ref = cfg.get("reference_arm") or arms[-1]
    if ref not in arms:
        raise SpecError(f"reference_arm {ref!r} is not an arm of the data{did_you_mean(str(ref), arms)}; "
                        f"arms: {', '.join(arms)}.")
    covs = _names(cfg.get("covariates"), "covariates")
    known_cols = set(trial.data.columns)
    for c in covs:
        if c.split(":", 1)[0] not in known_cols:
            raise SpecError(f"Covariate {c!r} is not a column of the data{did_you_mean(c, list(trial.covariates))}; "
                            f"covariates: {', '.join(trial.covariates) or 'none'}.")
    t1 = cfg.get("table1_covariates")
    t1_names = None if t1 is None else _names(t1, "table1_covariates")
    labels = cfg.get("covariate_labels") or {}
    if not isinstance(labels, Mapping):
        raise SpecError("covariate_labels must map column names to labels, e.g. {age: Age (years)}.")
    try:
        conf = float(cfg.get("conf_level", DEFAULTS["conf_level"]))
    except (TypeError, ValueError):
        raise SpecError(f"conf_level must be a number between 0 and 1, not {cfg.get('conf_level')!r}.") from None
    if not 0.5 <= conf < 1.0:
        raise SpecError(f"conf_level must be at least 0.5 and below 1, not {conf!r}.")
    try:
        cov = covariance_key(str(cfg.get("covariance", DEFAULTS["covariance"])))
    except SpecError as exc:
        raise SpecError(f"Setting covariance: {exc}") from None
    baseline = _option(cfg.get("baseline", DEFAULTS["baseline"]), REPORT_BASELINE, "baseline",
                       {"clda": "constrained", "constrained-lda": "constrained"})
    weeks = {str(k): float(v) for k, v in trial.data.groupby("visit", observed=True)["week"].first().items()}
    defaults = {o: default_estimand(o, _outcome_label(trial, o), str(final),
                                    visit_label(str(final), weeks.get(str(final))), arms, str(ref))
                for o in prim_outs}
    estimands = make_estimands(cfg.get("estimand"), prim_outs, defaults, arms, str(final))
    sens = make_sensitivity_spec(cfg.get("sensitivity"), arms, str(ref))
    return ReportSpec(
        model=prim, adjust=adj, multiplicity=mult, outcomes=tuple(outs), primary_outcomes=tuple(prim_outs),
        primary_outcomes_source=source, final_visit=str(final), baseline_visit=str(trial.baseline_visit),
        visits=visits, arms=arms, reference_arm=str(ref), covariance=cov,
        df_method=_option(cfg.get("df_method", DEFAULTS["df_method"]), DF_METHODS, "df_method", DF_ALIASES),
        weights=_option(cfg.get("weights", DEFAULTS["weights"]), EMM_WEIGHTS, "weights"), conf_level=conf,
        covariates=covs, standardizer=_option(cfg.get("standardizer", DEFAULTS["standardizer"]), STANDARDIZERS,
                                              "standardizer"),
        title=None if cfg.get("title") is None else str(cfg["title"]), date=_date(date or cfg.get("date")),
        table1_covariates=t1_names, covariate_labels=MappingProxyType({str(k): str(v) for k, v in labels.items()}),
        responders=_responders(cfg, outs), baseline=baseline, estimands=MappingProxyType(estimands),
        estimands_source="settings" if cfg.get("estimand") else "default", sensitivity=sens)


def _outcome_label(trial: Any, outcome: str) -> str:
    """The outcome's label: the loader's definition, else the registry's, else its id."""
    from ..schema import OUTCOMES

    known = (trial.meta.get("outcomes") or {}).get(outcome)
    if isinstance(known, Mapping) and known.get("label"):
        return str(known["label"])
    return OUTCOMES[outcome].label if outcome in OUTCOMES else outcome
