"""The report's prose: the methods written from the spec and from what the fits report about
themselves, and the plain-language summary, which follows the declared hierarchy (primary outcomes
with the family's adjusted p-values first; exploratory outcomes without claims)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..models.structures import DISPLAY_NAMES
from ..options import ADJUST_NAMES, DF_NAMES, MULTIPLICITY_NAMES
from ..schema import Outcome
from . import fmt
from .analysis import contribution
from .labels import criterion_text, oxford_join, visit_label
from .tables_fmt import orient
from .who import contributed_text, model_name

__all__ = ["SMALL_TRIAL", "methods_paragraphs", "summary_paragraphs"]

#: Below this many participants the summary warns that estimates are imprecise ("a trial this small").
SMALL_TRIAL = 100


def _versions(v: Mapping[str, str]) -> str:
    keys = ("retrostudy", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "seaborn", "typst")
    return ", ".join(f"{k} {v[k]}" for k in keys if k in v) + f" on Python {v.get('python', '?')}"


def methods_paragraphs(spec, results: Sequence, infos: Mapping[str, Outcome], versions: Mapping[str, str],
                       family: Mapping[str, tuple], weeks: Mapping[str, float],
                       randomized: Mapping[str, int]) -> list[str]:
    """Methods text from the spec, the fits (who contributed) and the family's adjustment."""
    final = visit_label(spec.final_visit, weeks.get(spec.final_visit))
    base = visit_label(spec.baseline_visit, weeks.get(spec.baseline_visit))
    pct = f"{spec.conf_level:.0%}"
    covs = oxford_join(list(spec.covariates)) or "no further covariates"
    prim_labels = [infos[o].label for o in spec.primary_outcomes]
    expl_labels = [infos[o].label for o in spec.exploratory_outcomes]
    kind = next((k for (_, k) in family.values()), None)
    paras = []
    # outcomes and multiplicity
    text = (f"Primary outcome{'s' if len(prim_labels) > 1 else ''}: {oxford_join(prim_labels)} at {final} "
            f"({spec.primary_outcomes_source}). ")
    if spec.multiplicity in ("holm", "bonferroni"):
        text += (f"The primary family is every pairwise arm contrast of the primary outcome"
                 f"{'s' if len(prim_labels) > 1 else ''} at {final} ({kind.family_size if kind else '?'} tests); "
                 f"their p-values are adjusted together by the {MULTIPLICITY_NAMES[spec.multiplicity]} method, "
                 "which keeps the chance of any false positive among them at most "
                 f"{1 - spec.conf_level:.2g}. ")
    elif spec.multiplicity == "fixed-sequence":
        arrow = " \u2192 "
        text += (f"The primary outcomes are tested in a fixed sequence ({arrow.join(prim_labels)}): the "
                 f"contrasts of an outcome are tested at the full {1 - spec.conf_level:.2g} level "
                 + (f"({ADJUST_NAMES[spec.adjust]}-adjusted within the outcome) " if spec.adjust != "none" else "")
                 + "only if every contrast of the outcomes before it was significant. ")
    else:
        text += ("No adjustment is made across the primary outcomes"
                 + (f"; p-values are {ADJUST_NAMES[spec.adjust]}-adjusted within each outcome's contrasts. "
                    if spec.adjust != "none" else ". "))
    if expl_labels:
        text += (f"Exploratory outcome{'s' if len(expl_labels) > 1 else ''}: {oxford_join(expl_labels)}; "
                 + (f"their p-values are {ADJUST_NAMES[spec.adjust]}-adjusted only within each outcome's "
                    "contrasts" if spec.adjust != "none" else "their p-values are unadjusted")
                 + ", and they generate hypotheses rather than test them.")
    paras.append(text.strip())
    if kind is not None:
        paras.append(f"Intervals: {kind.note.split('; ', 1)[-1]}. Every interval and p-value from an "
                     "earlier visit, the sensitivity analysis, the completers and the responder analysis is "
                     "unadjusted unless its table says otherwise.")
    # models
    cov_name = DISPLAY_NAMES.get(spec.covariance, spec.covariance)
    df_name = DF_NAMES.get(spec.df_method, spec.df_method)
    covs_text = f", and {covs} as main effects" if spec.covariates else ""
    who_mmrm = _contributed(results, "mmrm", spec, infos, randomized, final)
    who_ancova = _contributed(results, "ancova", spec, infos, randomized, final)
    if spec.baseline == "constrained":
        mmrm = (f"a constrained longitudinal data analysis (cLDA; Liang & Zeger 2000; Lu 2010): a mixed model for "
                f"repeated measures (MMRM) of every value from {base} to {final}, in which the {base} value is a "
                f"response like the later ones and all arms share one {base} mean (randomisation makes the arms "
                f"equal at {base}), with fixed effects for visit and for arm at each later visit{covs_text}; the "
                f"within-participant covariance over visits was {cov_name}, estimated by REML, with {df_name} "
                "denominator degrees of freedom. It analyses every randomised participant with a value of the "
                f"outcome at any visit, including those who left before {final}, and is valid if missingness depends "
                "only on observed data (missing at random, MAR). With complete data its differences equal the "
                "ANCOVA's (Liang & Zeger 2000); unlike the ANCOVA it keeps participants without a baseline or a "
                "final value, which makes it more efficient when there are such participants (Lu 2010), and the "
                "shared baseline mean makes it more efficient than the unconstrained longitudinal model with arm "
                f"effects at {base} (Coffman et al. 2016). {who_mmrm}")
    else:
        mmrm = (f"a mixed model for repeated measures (MMRM) of every post-baseline value up to {final} with fixed "
                f"effects for arm, visit and their interaction, the {base} value of the outcome as a covariate"
                f"{covs_text}; the within-participant covariance over visits was {cov_name}, estimated by REML, "
                f"with {df_name} denominator degrees of freedom. A participant with missing visits contributes the "
                "values observed (valid if missingness depends only on observed data, missing at random, MAR); a "
                f"participant without a value after {base} contributes nothing. {who_mmrm}")
    ancova = (f"an ANCOVA of the {final} value by ordinary least squares with arm, the {base} value"
              + (f" and {covs}" if spec.covariates else "") + " as covariates, on the participants with both a {base} and a {final} value of the outcome "
              f"(complete cases; valid if dropout is unrelated to the outcome given the {base} value). {who_ancova}")
    if spec.model == "mmrm":
        paras += [f"Primary analysis: {mmrm}", f"Sensitivity analysis: {ancova}"]
    else:
        paras += [f"Primary analysis: {ancova}", f"Sensitivity analysis: {mmrm}"]
    extra = ("Contrasts at earlier visits come from the same MMRM and are shown unadjusted. "
             if len(spec.post_baseline_visits) > 1 else "")
    paras.append(
        f"Estimated marginal means (EMMs) at {final} average over covariates with {spec.weights} weights; the "
        f"three pairwise arm contrasts have {pct} confidence intervals. {extra}Differences are shown so that a "
        "positive value favours the first-named arm (the second arm's mean minus the first's where lower values "
        f"are better). Hedges' g divides each contrast by the pooled {base} standard deviation of the outcome with "
        f"the small-sample correction. The reference arm of the models is {spec.reference_arm}.")
    resp = [r for r in results if r.responders.status == "ok"]
    if resp:
        t = resp[0].responders.table
        miss = ("counts as a non-responder" if t.settings.get("missing") == "non-responder"
                else "is left out (complete case)")
        crit = "; ".join(f"{infos[r.outcome].label}: {criterion_text(r.responders.table.criterion)} "
                         f"({r.responders.table.criterion.source})" for r in resp)
        ci = {"miettinen-nurminen": "Miettinen-Nurminen", "newcombe": "Newcombe's hybrid score"}.get(
            str(t.settings.get("ci_method")), str(t.settings.get("ci_method")))
        paras.append(
            f"Responder analysis (supportive): a participant responded when the improvement from {base} to {final} "
            f"met the threshold ({crit}); a participant without a change value {miss}. Rates are compared by the "
            f"risk difference ({ci} interval, score test), the risk ratio (Miettinen-Nurminen), the odds ratio "
            "adjusted for the baseline value (logistic regression) and the number needed to treat (Altman 1998); "
            "none is adjusted for multiplicity. The figure shows each arm's cumulative distribution of improvement "
            "(the FDA's 'CDF of response').")
    skipped = [infos[r.outcome].label for r in results if r.responders.status == "skipped"]
    if skipped:
        paras[-1] += (f" {oxford_join(skipped)} ha{'s' if len(skipped) == 1 else 've'} no established responder "
                      "threshold and no threshold in the settings, so no responder analysis.")
    paras.append("Baseline balance is described by standardized mean differences, not by p-values. Participant "
                 "counts come from the data, and every value left out while reading them is listed with its reason "
                 "from the loader's exclusion log.")
    paras.append(f"Software: {_versions(versions)}. The exact versions of every package, the input's sha256 and the "
                 "specification are in the manifest (appendix).")
    return paras


def _contributed(results: Sequence, model: str, spec, infos: Mapping[str, Outcome],
                 randomized: Mapping[str, int], final_text: str) -> str:
    """Who the fits of ``model`` used and left out, per outcome, with the reasons (from the fits)."""
    items = []
    for r in results:
        m = r.primary if r.primary.model == model else r.sensitivity
        c = contribution(m, randomized, spec.final_visit)
        if c is not None:
            items.append((infos[r.outcome].label, c))
    return contributed_text(items, final_text)


def _p(p) -> str:
    text = fmt.pval(p)
    return "< 0.001" if text.startswith("<") else f"= {text}"


def _describe(info: Outcome, row, final: str) -> tuple[str, str, float, float, float]:
    """(first arm, second arm, oriented difference, low, high)."""
    a, b = [s.strip() for s in str(row.contrast).split(" - ", 1)]
    d, lo, hi = orient(info, row.estimate, row.conf_low, row.conf_high)
    return a, b, float(d), float(lo), float(hi)


def _primary_sentence(info: Outcome, row, kind, alpha: float, n_family: int) -> str:
    a, b, d, lo, hi = _describe(info, row, "")
    unit = f" {info.unit}" if info.unit else ""
    if not np.isfinite(d):
        return f"{a} vs {b}: not estimable."
    better, worse = (a, b) if d >= 0 else (b, a)
    size = (f"{a} vs {b}: {better} did {fmt.num(abs(d))}{unit} better than {worse} ({kind.ci_label} "
            f"{fmt.ci(lo, hi)}; adjusted p {_p(row.p_adjusted)})")
    if not bool(getattr(row, "tested", True)):
        return f"{size}, not tested: the fixed sequence stopped at an earlier outcome."
    if row.p_adjusted < alpha:
        return f"{size}, significant after adjustment for multiplicity: the data favour {better}."
    extra = ""
    if "unadj" in kind.ci_label and (lo > 0 or hi < 0) and n_family > 1:
        extra = f" (its unadjusted CI excludes 0, but that ignores the other {n_family - 1} primary tests)"
    return f"{size}, not significant after adjustment for multiplicity{extra}."


def _exploratory_sentence(info: Outcome, row, pct: str) -> str:
    a, b = [s.strip() for s in str(row.contrast).split(" - ", 1)]
    d, lo, hi = (float(x) for x in orient(info, row.estimate, row.conf_low_unadj, row.conf_high_unadj))
    unit = f" {info.unit}" if info.unit else ""
    if not np.isfinite(d):
        return f"{a} vs {b} not estimable"
    return f"{a} vs {b} {fmt.num(d)}{unit} (unadjusted {pct} CI {fmt.ci(lo, hi)})"


def summary_paragraphs(meta: Mapping, results: Sequence, infos: Mapping[str, Outcome], spec,
                       family: Mapping[str, tuple], n_total: int, weeks: Mapping[str, float]) -> list[str]:
    """Plain-language results; every number is copied from the tables the report shows."""
    paras = []
    final = visit_label(spec.final_visit, weeks.get(spec.final_visit))
    alpha = 1.0 - spec.conf_level
    pct = f"{spec.conf_level:.0%}"
    if meta.get("synthetic"):
        paras.append("These results come from a SYNTHETIC data set: they show what the analysis does, not "
                     "what retro walking does for real patients.")
    used = {}
    for r in results:
        if r.outcome in spec.primary_outcomes and r.primary.ok and r.primary.fit is not None:
            used[r.outcome] = int(r.primary.fit.n_analysed(by=None))
    text = f"{n_total} participants were randomised."
    if used:
        vals = sorted(set(used.values()))
        span = str(vals[0]) if len(vals) == 1 else f"{vals[0]} to {vals[-1]}"
        text += (f" The primary analysis ({model_name(spec.model, spec.baseline)}) of the primary outcome"
                 f"{'s' if len(used) > 1 else ''} used {'all ' if vals[0] == n_total else ''}{span} of them")
        text += (" (who was left out and why: see the Methods and the participant flow)."
                 if vals[0] < n_total else ".")
    if n_total < SMALL_TRIAL:
        text += (" In a trial this small, estimates are imprecise: read the confidence intervals (the range of "
                 "differences compatible with the data), not only the p-values, and do not read a p-value above "
                 f"{alpha:.2g} as proof that two arms are equal.")
    else:
        text += (" Read the confidence intervals (the range of differences compatible with the data) as well as "
                 f"the p-values, and do not read a p-value above {alpha:.2g} as proof that two arms are equal.")
    paras.append(text)
    first = spec.arms[0]
    for o in spec.primary_outcomes:
        r = next((x for x in results if x.outcome == o), None)
        info = infos[o]
        if r is None or o not in family:
            paras.append(f"{info.label} (primary): {r.primary.message if r else 'not analysed.'}")
            continue
        table, kind = family[o]
        how = {"holm": f"Holm over the {kind.family_size} primary tests",
               "bonferroni": f"Bonferroni over the {kind.family_size} primary tests",
               "fixed-sequence": "the fixed sequence", "none": "within the outcome only"}[spec.multiplicity]
        better = "lower" if info.lower_is_better else "higher"
        lead = (f"{info.label}, primary outcome ({model_name(spec.model, spec.baseline)} at {final}; {better} is "
                f"better; p adjusted by "
                f"{how}). ")
        parts = [_primary_sentence(info, row, kind, alpha, kind.family_size) for row in table.itertuples(index=False)
                 if str(row.contrast).startswith(first + " - ")]
        others = [str(row.contrast).replace(" - ", " vs ") for row in table.itertuples(index=False)
                  if not str(row.contrast).startswith(first + " - ")]
        tail = f" {oxford_join(others)}: see the table." if others else ""
        resp = r.responders
        if resp.status == "ok":
            rates = resp.table.rates
            tail += (f" Responders ({criterion_text(resp.table.criterion, short=True)}): "
                     + ", ".join(f"{x.arm} {100 * x.rate:.0f}%" for x in rates.itertuples(index=False)
                                 if x.n) + ".")
        paras.append(lead + " ".join(p[0].upper() + p[1:] for p in parts) + tail)
    expl = []
    for o in spec.exploratory_outcomes:
        r = next((x for x in results if x.outcome == o), None)
        if r is None or not r.primary.ok:
            continue
        fin = r.primary.at(spec.final_visit)
        rows = [row for row in fin.itertuples(index=False) if str(row.contrast).startswith(first + " - ")]
        expl.append(f"{infos[o].label}: " + "; ".join(_exploratory_sentence(infos[o], row, pct) for row in rows))
    if expl:
        paras.append("Exploratory outcomes (not part of the confirmatory family, so no claim is made about them; "
                     "positive differences favour the first-named arm): " + ". ".join(expl) + ".")
    return paras
