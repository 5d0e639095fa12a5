"""The closed vocabularies of analysis options, with the words reports print for them.

One place for each list, so the models, the inference layer, the report and the command
line (which must import nothing heavy) agree. Nothing here imports numpy or pandas.
"""
from __future__ import annotations

__all__ = [
    "ADJUST",
    "ADJUST_CI",
    "ADJUST_NAMES",
    "BASELINE_OPTIONS",
    "CONTRAST_FAMILIES",
    "COVARIANCES",
    "DF_ALIASES",
    "DF_METHODS",
    "DF_NAMES",
    "EMM_WEIGHTS",
    "METHODS",
    "MI_BASELINE",
    "MI_METHODS",
    "MI_STRATEGIES",
    "MULTIPLICITY",
    "MULTIPLICITY_ALIASES",
    "MULTIPLICITY_NAMES",
    "REPORT_BASELINE",
    "REPORT_SETTINGS",
    "RESPONDER_CI",
    "RESPONDER_CRITERIA",
    "RESPONDER_KEYS",
    "RESPONDER_MISSING",
    "SENSITIVITY_SETTINGS",
    "SINGLE_STEP",
    "VCOV",
    "did_you_mean",
    "resolve_option",
]

#: Multiplicity adjustments within a family of contrasts (``adjust=``).
ADJUST = ("none", "holm", "bonferroni", "dunnett", "tukey")
#: How reports name each adjustment.
ADJUST_NAMES = {"none": "unadjusted", "holm": "Holm", "bonferroni": "Bonferroni", "dunnett": "Dunnett",
                "tukey": "Tukey"}
#: The simultaneous CI that goes with each adjusted p-value (Holm p -> Bonferroni CI, as R emmeans).
ADJUST_CI = {"holm": "Bonferroni", "bonferroni": "Bonferroni", "dunnett": "Dunnett (multivariate t)",
             "tukey": "Tukey"}

#: Denominator df methods of the longitudinal models (``df_method=``).
DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "between-within", "residual")
#: How reports name each df method.
DF_NAMES = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger",
            "kenward-roger-linear": "Kenward-Roger (linear)", "between-within": "between-within",
            "residual": "residual"}

#: How the baseline visit enters a longitudinal model (``baseline=``): as a covariate (with or without its
#: interaction with visit), as a response with arm effects at every visit (``none``), or as a response with one
#: baseline mean for all arms (``constrained``: the constrained longitudinal data analysis, cLDA).
BASELINE_OPTIONS = ("covariate", "covariate_by_visit", "none", "constrained")

#: Covariance structures of the MMRM (``covariance=``; aliases in retrostudy.models.structures).
COVARIANCES = ("us", "cs", "csh", "ar1", "ar1h", "toep", "toeph", "ad", "adh")

#: Families of contrasts (``contrasts(..., family=)``), besides a {name: weights} dict.
CONTRAST_FAMILIES = ("trt_vs_ref", "pairwise")

#: Estimation methods of the engine (``method=``).
METHODS = ("reml", "ml")

#: Covariance of the fixed effects used for inference (``vcov=``).
VCOV = ("model", "empirical")

#: Weights of the EMMs over the levels of other factors (``emmeans(..., weights=)``).
EMM_WEIGHTS = ("equal", "proportional")

#: Other spellings of the df methods (``kr`` on a command line, SAS's ``DDFM=`` names).
DF_ALIASES = {"kr": "kenward-roger", "kenward_roger": "kenward-roger", "kenwardroger": "kenward-roger",
              "kenward roger": "kenward-roger", "kr2": "kenward-roger", "kr-linear": "kenward-roger-linear",
              "kenward_roger_linear": "kenward-roger-linear", "sat": "satterthwaite", "satterth": "satterthwaite",
              "satterthwaite's": "satterthwaite", "bw": "between-within", "betwithin": "between-within",
              "between_within": "between-within", "resid": "residual", "contain": "residual"}

#: Multiplicity strategies across the primary outcomes of a report (``multiplicity=``).
MULTIPLICITY = ("holm", "bonferroni", "fixed-sequence", "none")
#: How reports name each strategy.
MULTIPLICITY_NAMES = {"holm": "Holm", "bonferroni": "Bonferroni", "fixed-sequence": "fixed-sequence (gatekeeping)",
                      "none": "no adjustment across outcomes"}
MULTIPLICITY_ALIASES = {"fixed": "fixed-sequence", "fixed_sequence": "fixed-sequence", "sequence": "fixed-sequence",
                        "hierarchical": "fixed-sequence", "gatekeeping": "fixed-sequence",
                        "serial-gatekeeping": "fixed-sequence", "bonf": "bonferroni", "unadjusted": "none"}
#: Adjustments whose p-values have a matching single-step simultaneous interval (the interval excludes 0
#: exactly when the adjusted p is below 1 - conf_level). Holm's step-down p-values have none.
SINGLE_STEP = ("none", "bonferroni", "dunnett", "tukey")

#: How the report's MMRM uses the baseline visit (report setting ``baseline``): ``constrained`` (cLDA, the
#: default) or ``covariate``.
REPORT_BASELINE = ("constrained", "covariate")

#: Imputation strategies of ``rs.sensitivity`` (for the report settings and the CLI, which import nothing heavy;
#: the same as ``retrostudy.missing.ice.STRATEGIES``, a test checks).
MI_STRATEGIES = ("mar", "j2r", "cr", "cir", "lmcf")
#: Methods of ``rs.sensitivity`` (``retrostudy.missing.engine.METHODS``).
MI_METHODS = ("condmean-jackknife", "condmean-bootstrap", "approx-bayes", "bayes", "bmlmi")
#: How the baseline visit enters the imputation model of ``rs.sensitivity`` (``baseline=``).
MI_BASELINE = ("covariate_by_visit", "none", "absent")

#: The report's missing-data sensitivity analyses (report setting ``sensitivity``, a mapping of these keys, or
#: ``false`` to skip them): key -> (default, what it does).
SENSITIVITY_SETTINGS: dict[str, tuple[object, str]] = {
    "strategies": (["mar", "j2r", "cr", "cir", "lmcf"], "imputation strategies shown side by side: mar, j2r, cr, "
                   "cir, lmcf"),
    "method": ("condmean-jackknife", "condmean-jackknife (deterministic, fast), condmean-bootstrap, approx-bayes, "
               "bayes, bmlmi"),
    "n_samples": (None, "bootstrap samples or imputations (default: the method's, 1000 or 100; none for the "
                  "jackknife)"),
    "seed": (1, "seed of the random methods (the same seed gives the same report)"),
    "baseline": ("none", "the baseline visit in the imputation model: none (a response, as in the primary cLDA; "
                 "LMCF needs it) or covariate_by_visit"),
    "tipping_arm": (None, "arm whose imputed values the tipping point shifts (default: the first arm that is not the "
                    "reference arm)"),
    "tipping_strategy": ("mar", "strategy the tipping point starts from"),
    "deltas": (None, "the tipping point's grid of deltas in the outcome's units (default: 0 to 4 baseline SDs in "
               "41 steps, in the direction that works against the tipping arm)"),
}

#: Missing-data rules and risk-difference intervals of the responder analysis (``rs.responders``).
RESPONDER_MISSING = ("non-responder", "complete-case")
RESPONDER_CI = ("miettinen-nurminen", "newcombe")
#: The named default responder thresholds (retrostudy.inference.response_criteria.CRITERIA).
RESPONDER_CRITERIA = ("mcii", "omeract-oarsi-high", "omeract-oarsi-moderate")
#: Keys of one outcome's entry under the report setting ``responders``.
RESPONDER_KEYS = ("criteria", "threshold", "relative", "rule")


def resolve_option(value: object, choices: tuple[str, ...], what: str,
                   aliases: dict[str, str] | None = None) -> str:
    """``value`` as one of ``choices`` (through ``aliases``, case and ``_``/``-`` insensitive).

    Raises ``ValueError`` with a "did you mean" sentence when nothing matches (callers turn
    it into a usage error or a :class:`~retrostudy.errors.SpecError`).

    >>> resolve_option("KR", DF_METHODS, "df_method", DF_ALIASES)
    'kenward-roger'
    """
    text = " ".join(str(value).strip().lower().split())
    for cand in (text, text.replace("_", "-"), text.replace("-", "_")):
        if cand in choices:
            return cand
        if aliases and cand in aliases:
            return aliases[cand]
    raise ValueError(f"unknown {what} {value!r}{did_you_mean(text, list(choices) + list(aliases or ()), aliases)}; "
                     f"use one of {', '.join(choices)}")


def did_you_mean(word: str, known: list[str] | tuple[str, ...], aliases: dict[str, str] | None = None) -> str:
    """`` (did you mean 'x'?)`` for the closest known word, or ``""``."""
    import difflib

    close = difflib.get_close_matches(str(word).lower(), [str(k) for k in known], n=1, cutoff=0.6)
    if not close:
        return ""
    best = (aliases or {}).get(close[0], close[0])
    return f" (did you mean {best!r}?)"


#: The report's settings (``build_report(settings=...)``, ``retrostudy report --settings FILE``):
#: key -> (default, what it does). The README and ``retrostudy report --help`` print this table.
REPORT_SETTINGS: dict[str, tuple[object, str]] = {
    "primary": ("mmrm", "primary model: mmrm or ancova (the other is the sensitivity analysis); alias: model"),
    "outcomes": (None, "outcome ids to report (default: every outcome of the data)"),
    "primary_outcomes": (None, ("the primary outcome(s), in testing order (default: pain_nrs and womac where the "
                               "data have them, as the retro-walking trial declared, else the first outcome); "
                               "the others are reported as exploratory")),
    "multiplicity": ("holm", ("across the primary family (every contrast of every primary outcome at the final "
                             "visit): holm, bonferroni, fixed-sequence (outcomes tested in the declared order, each "
                             "only if every contrast before it was significant) or none")),
    "adjust": ("holm", ("within one outcome's contrasts: none, holm, bonferroni, dunnett, tukey (used for "
                       "exploratory outcomes and inside each step of a fixed sequence)")),
    "covariance": ("us", ("MMRM covariance: us, cs, csh, ar1, ar1h, toep, toeph, ad, adh or a SAS name (un, "
                         "toeplitz, ante(1), ...)")),
    "df_method": ("kenward-roger", ("MMRM df: kenward-roger (kr), satterthwaite, kenward-roger-linear, "
                                   "between-within, residual")),
    "baseline": ("constrained", ("how the MMRM uses the baseline visit: constrained (cLDA: the baseline value is "
                                "a response with one mean for all arms, so every randomised participant with a "
                                "value is analysed) or covariate (participants without a value after baseline are "
                                "left out)")),
    "weights": ("equal", "EMM weights over covariate levels: equal or proportional"),
    "conf_level": (0.95, "confidence level of every interval"),
    "covariates": ([], "subject-level covariates of both models, e.g. [age, sex]"),
    "reference_arm": (None, "reference arm of the models (default: the data's, usually the last arm)"),
    "final_visit": (None, "the analysis visit (default: the last visit)"),
    "standardizer": ("baseline_sd", "SD that Hedges' g divides by: baseline_sd or residual_sd"),
    "title": (None, "report title"),
    "date": (None, ("report date YYYY-MM-DD (default: SOURCE_DATE_EPOCH, else the data's date, else the input "
                   "file's modification date); the CLI's --date sets it too")),
    "table1_covariates": (None, "covariates in Table 1 (default: every covariate column)"),
    "covariate_labels": ({}, "Table 1 labels with units, e.g. {age: Age (years)}"),
    "responders": ({}, ("per outcome: {criteria: mcii, threshold: 2, relative: 0.3, rule: all|any}, or false to "
                       "skip it; e.g. {quad_strength: {relative: 0.2}}")),
    "responder_criteria": ("mcii", ("default responder thresholds: mcii, omeract-oarsi-high, "
                                   "omeract-oarsi-moderate")),
    "responder_missing": ("non-responder", "a participant without a change is a non-responder, or complete-case"),
    "responder_ci_method": ("miettinen-nurminen", ("interval of the risk difference: miettinen-nurminen or "
                                                  "newcombe")),
    "estimand": ({}, ("the estimand of the primary outcomes (rs.Estimand keys: population, variable, treatments, "
                     "intercurrent_events [{event, strategy, imputation}], summary, contrasts), once for all or "
                     "under each outcome id; keys not given keep the default: all randomised participants, the "
                     "outcome at the final visit, dropout handled by the hypothetical strategy (MAR), differences "
                     "in means of each arm vs the reference and of the other pairs")),
    "sensitivity": ({}, ("the missing-data sensitivity analyses of the primary outcomes: a mapping of strategies, "
                        "method, n_samples, seed, baseline, tipping_arm, tipping_strategy, deltas (defaults below), "
                        "or false to leave them out")),
}
