"""The sentences of the missing-data analyses in the report's Methods and plain-language summary, from the
results of :mod:`.missing_analysis` (the section itself is :mod:`.missing_section`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..missing.ice import STRATEGY_NAMES
from ..schema import Outcome
from . import fmt
from .analysis import OutcomeResult
from .labels import oxford_join, visit_label
from .missing_analysis import MissingResult
from .missing_section import values_of
from .spec import ReportSpec
from .tables_fmt import orient

__all__ = ["missing_methods", "missing_summary"]


def missing_methods(spec: ReportSpec, missing: Sequence[MissingResult], weeks: Mapping[str, float]) -> str:
    """The Methods paragraph on the estimand and the sensitivity analyses (empty without primary outcomes)."""
    if not spec.estimands:
        return ""
    final = visit_label(spec.final_visit, weeks.get(spec.final_visit))
    text = ("Estimand (ICH E9(R1)): for each primary outcome, the difference in mean outcome at "
            f"{final} between arms in all randomised participants, with dropout handled as the section 'Missing "
            "data and sensitivity' states (its table gives population, variable, intercurrent event, strategy and "
            "summary). ")
    s = spec.sensitivity
    if not s.enabled:
        return text + "No multiple-imputation sensitivity analysis was run (settings: sensitivity: false)."
    method = {"condmean-jackknife": "conditional mean imputation with jackknife standard errors (Wolbers et al. "
                                    "2022)",
              "condmean-bootstrap": "conditional mean imputation with bootstrap standard errors (Wolbers et al. "
                                    "2022)",
              "approx-bayes": "approximate Bayesian multiple imputation with Rubin's rules",
              "bayes": "Bayesian multiple imputation (Gibbs sampler) with Rubin's rules",
              "bmlmi": "bootstrapped maximum-likelihood multiple imputation (von Hippel & Bartlett 2021)"}[s.method]
    text += (f"Sensitivity to missing data: the missing values after dropout were imputed under "
             f"{oxford_join([STRATEGY_NAMES[x] for x in s.strategies])} (reference-based strategies with "
             f"{spec.reference_arm} as the reference; Carpenter, Roger & Kenward 2013) by {method}, from an MMRM "
             f"fitted to each arm's values before dropout, and each imputed data set was analysed by an ANCOVA "
             f"at each visit. A tipping-point analysis added a delta to the imputed values of "
             f"{s.tipping_arm}'s participants who left ({s.tipping_strategy.upper()} otherwise) until the "
             f"{s.tipping_arm} vs {spec.reference_arm} difference at {final} lost significance "
             f"(unadjusted, at {1 - spec.conf_level:g}).")
    n_mi = [len(sr.result.exclusions.to_frame().query("stage == 'sensitivity'"))
            for mis in missing for sr in mis.strategies if sr.ok and len(sr.result.exclusions)]
    if any(n_mi):
        text += (" Values observed after an intercurrent event are kept in the analysis but not used to fit a "
                 "reference-based imputation model (listed in each result's exclusion log).")
    return text


def missing_summary(spec: ReportSpec, results: Sequence[OutcomeResult], missing: Sequence[MissingResult],
                    infos: Mapping[str, Outcome], weeks: Mapping[str, float]) -> str:
    """One plain-language sentence per primary outcome on the sensitivity analyses (unadjusted), or ""."""
    if not spec.sensitivity.enabled or not missing:
        return ""
    final = visit_label(spec.final_visit, weeks.get(spec.final_visit))
    alpha = 1 - spec.conf_level
    by = {r.outcome: r for r in results}
    parts = []
    for mis in missing:
        info = infos[mis.outcome]
        arm, ref = spec.sensitivity.tipping_arm, spec.reference_arm
        vals = [v for sr in mis.strategies if sr.ok
                and (v := values_of("mi", sr, f"{arm} - {ref}", spec.final_visit)) is not None]
        if not vals or by.get(mis.outcome) is None:
            continue
        d = [float(orient(info, v[0], v[1], v[2])[0]) for v in vals]
        p = [v[3] for v in vals]
        k = sum(x < alpha for x in p)
        unit = f" {info.unit}" if info.unit else ""
        text = (f"{info.label}, {arm} vs {ref}: {fmt.num(min(d))} to {fmt.num(max(d))}{unit} under the "
                f"{len(d)} imputation strategies (unadjusted p {fmt.pval(min(p))} to {fmt.pval(max(p))}; "
                f"{k} of {len(d)} below {alpha:g})")
        tp = mis.tipping
        if tp is not None and np.isfinite(tp.tipping_delta_interpolated):
            text += (f"; tipping point {fmt.num(abs(tp.tipping_delta_interpolated))}{unit} "
                     f"({spec.sensitivity.tipping_strategy.upper()} plus a shift of {arm}'s imputed values)")
        parts.append(text)
    if not parts:
        return ""
    return ("Missing data (positive favours the first arm; unadjusted, see 'Missing data and sensitivity'): "
            + "; ".join(parts) + f". These check the primary analysis's assumption about the participants who "
            f"left before {final}; they are not further tests of the hypotheses.")
