"""Assemble the report's JSON data and figures from the trial, the spec and the analyses.

Each outcome is a list of blocks (``sub`` headings, ``text``, ``table``, ``figure``) that the
template lays out in order; ``sections`` is a list of further titled block lists placed after the
results (a later analysis -- missing-data sensitivity -- adds its section there).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import figures as figs
from ..schema import Outcome
from ..tables import table_one
from ..trial import TrialData
from .analysis import OutcomeResult, analysed_by_arm, contribution, final_family, fitted_and_residuals
from .flow import flow_counts, flow_figure
from .labels import covariate_label, criterion_text, oxford_join, visit_label
from .spec import ReportSpec
from .tables_fmt import (
    coef_dict,
    completers_dict,
    contrast_dict,
    emm_dict,
    orient,
    responder_dicts,
    table_one_dict,
    visits_dict,
)
from .text import methods_paragraphs, summary_paragraphs
from .who import model_name, same_differences, same_rows, who_sentence

__all__ = ["build_content", "forest_frame"]


def _fig(path: str, caption: str) -> dict:
    return {"kind": "figure", "path": path, "caption": caption}


def _sub(text: str) -> dict:
    return {"kind": "sub", "text": text}


def _text(text: str) -> dict:
    return {"kind": "text", "text": text}


def _table(t: dict) -> dict:
    return {"kind": "table", **t}


def forest_frame(results: Sequence[OutcomeResult], infos: Mapping[str, Outcome],
                 primary_outcomes: Sequence[str] = (), visit: str | None = None) -> pd.DataFrame:
    """Primary-model Hedges' g per outcome x contrast, oriented so positive = the first-named arm did better."""
    recs = []
    for res in results:
        m = res.primary
        eff = m.effects if visit is None else m.at(visit, "effects")
        if not m.ok or eff is None:
            continue
        for r in eff.itertuples(index=False):
            first, second = [s.strip() for s in str(r.contrast).split(" - ", 1)]
            est, lo, hi = orient(infos[res.outcome], r.estimate, r.conf_low, r.conf_high)
            recs.append({"outcome": res.outcome, "outcome_label": infos[res.outcome].label, "contrast": r.contrast,
                         "first": first, "second": second, "estimate": float(est), "conf_low": float(lo),
                         "conf_high": float(hi), "primary": res.outcome in primary_outcomes or not primary_outcomes})
    return pd.DataFrame.from_records(recs, columns=["outcome", "outcome_label", "contrast", "first", "second",
                                                    "estimate", "conf_low", "conf_high", "primary"])


def _n_final(trial: TrialData, outcome: str, visit: str) -> dict[str, int]:
    rows = trial.data.loc[(trial.data["visit"].astype(str) == visit) & (trial.data["outcome"].astype(str) == outcome)
                          & trial.data["value"].notna()]
    return {str(k): int(v) for k, v in rows.groupby("arm", observed=True)["subject_id"].nunique().items()}


def _outcome_blocks(trial, spec: ReportSpec, res: OutcomeResult, info: Outcome, fam_p: Mapping, fam_s: Mapping,
                    randomized: Mapping[str, int], weeks: Mapping[str, float], synthetic: bool,
                    figures: dict[str, bytes]) -> list[dict]:
    o = res.outcome
    final = visit_label(spec.final_visit, weeks.get(spec.final_visit))
    base = visit_label(spec.baseline_visit, weeks.get(spec.baseline_visit))
    pct = f"{spec.conf_level:.0%}"
    role = "confirmatory" if spec.is_primary(o) else "exploratory"
    n_subj = trial.data.loc[trial.data["outcome"].astype(str) == o, "subject_id"].nunique()
    lines = n_subj <= figs.INDIVIDUAL_LINES_MAX
    figures[f"trajectory_{o}.svg"] = figs.to_svg(figs.trajectory_plot(
        trial.data, o, info=info, conf_level=spec.conf_level, synthetic=synthetic))
    blocks = [_fig(f"fig/trajectory_{o}.svg",
                   f"{info.display} by arm and week: observed means with {pct} t-based CIs (arms shifted sideways "
                   "so that the bars do not overlap)"
                   + (", over each participant's observed values (faint lines)" if lines else
                      f"; individual lines are not drawn for {n_subj} participants")
                   + ". The legend gives the number of participants with a value at each week. Observed means "
                   "ignore dropout; the model-based estimates are in the tables.")]
    names = {"primary": model_name(res.primary.model, spec.baseline),
             "sensitivity": model_name(res.sensitivity.model, spec.baseline)}
    shown: dict[str, dict] = {}
    for which, m, fam in (("Primary", res.primary, fam_p), ("Sensitivity", res.sensitivity, fam_s)):
        name = names[which.lower()]
        blocks.append(_sub(f"{which} analysis ({name}) at {final}" + (f": {role}" if which == "Primary" else "")))
        if not m.ok:
            blocks.append(_text(m.message))
            continue
        who = contribution(m, randomized, spec.final_visit)
        note = " ".join([who_sentence(who, name, final) if who is not None else ""]
                        + [f"Warning: {w}" for w in m.warnings]).strip()
        table, kind = fam.get(o, (m.at(spec.final_visit), m.ci_kind))
        tab = contrast_dict(table, m.at(spec.final_visit, "effects"), info, kind, spec.conf_level)
        if which == "Sensitivity" and "primary" in shown and same_rows(tab, shown["primary"]):
            blocks.append(_text(f"{note} Its table of comparisons is the primary analysis's above, number for "
                                "number, so it is not repeated.".strip()))
            continue
        if which == "Sensitivity":
            same = same_differences(res.primary, m, spec.final_visit)
            if same is not None:
                note += (f" Its differences equal the primary {names['primary']}'s (within {_digits(same)} standard "
                         "errors)" + _why_same(spec, res) + "; the standard errors, df and p-values differ.")
        if note:
            blocks.append(_text(note))
        if which == "Primary":
            blocks.append(_table(emm_dict(m.at(spec.final_visit, "emm"), _n_final(trial, o, spec.final_visit), info,
                                          spec.conf_level, final)))
        blocks.append(_table(tab))
        shown[which.lower()] = tab
        earlier = [v for v in spec.post_baseline_visits if v != spec.final_visit]
        if which == "Primary" and m.model == "mmrm" and earlier and m.contrasts is not None:
            con = m.contrasts.loc[m.contrasts["visit"].astype(str).isin(earlier)].reset_index(drop=True)
            blocks.append(_sub(f"Earlier visits ({name}, supportive)"))
            blocks.append(_table(visits_dict(con, info, spec.conf_level, weeks)))
    blocks += _completers_blocks(spec, res, info, weeks, names)
    # responders
    rr = res.responders
    blocks.append(_sub("Responder analysis (supportive)"))
    if rr.status != "ok":
        blocks.append(_text(rr.message))
    else:
        t = rr.table
        rate_tab, comp_tab = responder_dicts(t, spec.conf_level)
        crit = t.criterion
        miss = ("counts as a non-responder" if t.settings.get("missing") == "non-responder"
                else "is left out (complete case)")
        blocks.append(_text(f"Response: {criterion_text(crit)} from {base} to {final} ({crit.source}). A "
                            f"participant without a change value {miss}."))
        blocks.append(_table(rate_tab))
        blocks.append(_table(comp_tab))
        from ..figures_responders import response_cdf_plot

        figures[f"responders_{o}.svg"] = figs.to_svg(response_cdf_plot(t, info=info, title="", synthetic=synthetic))
        blocks.append(_fig(f"fig/responders_{o}.svg",
                           f"{info.label}: cumulative distribution of improvement from {base} to {final} by arm "
                           "(percentage of each arm's participants improving at least as much as the x axis). The "
                           "dashed line is the responder threshold; the dots, where an arm crosses it, are its "
                           "responder rate."))
    return blocks


def _digits(x: float) -> str:
    """``3e-12`` -> ``"1e-11"``: a round upper bound for a relative difference."""
    return f"1e-{max(1, int(-np.floor(np.log10(max(x, 1e-16)))))}"


def _why_same(spec: ReportSpec, res: OutcomeResult) -> str:
    """Why a cLDA and the complete-case ANCOVA give the same differences (only where that is the reason)."""
    if spec.baseline == "constrained" and len(spec.post_baseline_visits) == 1 and "ancova" in (
            res.primary.model, res.sensitivity.model):
        return (": with one visit after baseline, a participant without its value informs only the shared "
                "baseline mean and variance, so the cLDA's differences are the ANCOVA's (Liang & Zeger 2000)")
    return ""


def _completers_blocks(spec: ReportSpec, res: OutcomeResult, info: Outcome, weeks: Mapping[str, float],
                       names: Mapping[str, str]) -> list[dict]:
    """Completers vs all participants: a table only when it shows something no other table does."""
    visits = (spec.baseline_visit,) + spec.post_baseline_visits
    what = f"{info.label} at every visit ({oxford_join([visit_label(v, weeks.get(v)) for v in visits])})"
    lacking = (f"{res.n_all - res.n_completers} of {res.n_all} participants with a {info.label} value lack it at "
               "some visit.")
    if res.completers_same_as is not None:
        name = names[res.completers_same_as]
        where = "above" if res.completers_same_as == "primary" else "above (sensitivity analysis)"
        return [_sub("Completers vs all participants"),
                _text(f"{lacking} The {name} {where} analyses exactly the {res.n_completers} completers ({what}), so "
                      "it is the completers' analysis; a refit on them would repeat its table. It is valid if "
                      "dropout does not depend on the unobserved outcome.")]
    if res.completers is None:
        return []
    cc = res.completers
    blocks = [_sub("Completers vs all participants")]
    if not (cc.ok and res.primary.ok):
        return blocks + [_text(cc.message)]
    used = int(res.primary.fit.n_analysed(by=None))
    tab = completers_dict(res.primary.at(spec.final_visit), cc.at(spec.final_visit), info, used, res.n_completers,
                          spec.conf_level, what)
    if all(row[1:3] == row[3:5] for row in tab["rows"]):
        return blocks + [_text(f"{lacking} Refitted on the {res.n_completers} completers ({what}), the "
                               f"{names['primary']} gives the differences and unadjusted CIs of all {used} participants "
                               "above, number for number, so the table is not repeated.")]
    return blocks + [_table(tab)]


def _covariate_units(trial: TrialData) -> dict[str, str]:
    from .meta import dataset_field

    units = {}
    for c in dataset_field(trial.meta, "covariates") or []:
        if isinstance(c, Mapping) and c.get("name") and c.get("unit"):
            units[str(c["name"])] = str(c["unit"])
    return units


def build_content(trial: TrialData, spec: ReportSpec, results: Sequence[OutcomeResult],
                  infos: Mapping[str, Outcome], meta_block: Mapping[str, Any], versions: Mapping[str, str],
                  progress: Callable[[str], None], *, missing: Sequence[Any] = (),
                  input_name: str = "DATA") -> tuple[dict, dict]:
    """The JSON data for the template and the SVG figures (name -> bytes); ``missing``: the
    :class:`~retrostudy.report.missing_analysis.MissingResult` of each primary outcome."""
    from .missing_section import missing_section
    from .missing_text import missing_methods, missing_summary

    figures: dict[str, bytes] = {}
    synthetic = bool(trial.meta.get("synthetic"))
    weeks = {str(k): float(v) for k, v in trial.data.groupby("visit", observed=True)["week"].first().items()}
    final = visit_label(spec.final_visit, weeks.get(spec.final_visit))

    # participant flow, in participants
    analysed: dict[str, dict[str, int]] = {}
    for r in results:
        by_arm = analysed_by_arm(r.primary)
        if by_arm is not None:
            analysed[r.outcome] = by_arm
    counts = flow_counts(trial, analysed, outcomes=spec.outcomes, final_visit=spec.final_visit,
                         labels={o: infos[o].label for o in spec.outcomes})
    randomized = {a["arm"]: a["randomized"] for a in counts["arms"]}
    reasons = [why for r in results if (c := contribution(r.primary, randomized, spec.final_visit)) is not None
               for why in c.reasons]
    reason = "; ".join(dict.fromkeys(reasons)) or "none"
    figures["flow.svg"] = figs.to_svg(flow_figure(counts, model=model_name(spec.model, spec.baseline),
                                                  reason=reason, synthetic=synthetic))
    excl_rows = [[e["reason"], str(e["values"]), str(e["participants"])] for e in counts["excluded"]]
    flow = {
        "figure": _fig("fig/flow.svg",
                       "Participant flow (CONSORT 2025 terms). Lost to follow-up: no value of any reported outcome "
                       "after the visit named. Analysed: participants in the primary analysis of each outcome. The "
                       "data do not record eligibility screening, whether the allocated intervention was received, "
                       "or reasons for loss to follow-up."),
        "exclusions": {"header": ["Values left out while reading", "Values", "Participants"], "rows": excl_rows,
                       "align": "lrr", "widths": [4.0, 0.8, 0.9],
                       "note": "From the loader's exclusion log: cells of the input that are not in the analysis "
                               "(an empty cell of a participant who left is a missing value)."},
        "no_exclusions": "No value of the input was left out while reading.",
    }

    # Table 1
    units = _covariate_units(trial)
    covs = list(spec.table1_covariates) if spec.table1_covariates is not None else list(trial.covariates)
    labels = {c: covariate_label(c, spec.covariate_labels, units) for c in covs}
    t1 = table_one(trial, outcomes=spec.outcomes, covariates=covs, labels=labels)
    table1 = table_one_dict(t1)

    fam_p = final_family(results, spec, "primary")
    fam_s = final_family(results, spec, "sensitivity")
    out_blocks, diagnostics, coefficients = [], [], []
    n_prim = len(spec.primary_outcomes)
    for i, res in enumerate(results):
        o = res.outcome
        info = infos[o]
        progress(f"figures for {o} ({i + 1}/{len(results)})")
        role = (f"primary outcome {spec.primary_outcomes.index(o) + 1} of {n_prim}" if spec.is_primary(o)
                else "exploratory outcome")
        out_blocks.append({"id": o, "label": f"{info.display}: {role}",
                           "blocks": _outcome_blocks(trial, spec, res, info, fam_p, fam_s, randomized, weeks,
                                                     synthetic, figures)})
        for m in (res.primary, res.sensitivity):
            if not m.ok:
                continue
            if m is res.primary:
                fr = fitted_and_residuals(m.fit)
                if fr is not None:
                    tag = f"{o}_{m.model}"
                    figures[f"diag_{tag}.svg"] = figs.to_svg(figs.diagnostics_plot(fr[0], fr[1], synthetic=synthetic))
                    diagnostics.append(_fig(f"fig/diag_{tag}.svg",
                                            f"{info.display}, primary {model_name(m.model, spec.baseline)}: residuals (observed minus "
                                            "marginal fitted value) against fitted values, and a normal Q-Q plot of "
                                            "the standardized residuals."))
            coefficients.append(coef_dict(m.fit, f"{info.display}: {model_name(m.model, spec.baseline)} "
                                                   "coefficients"))

    ff = forest_frame(results, infos, spec.primary_outcomes, spec.final_visit)
    forest = None
    if len(ff):
        progress("forest plot")
        figures["forest.svg"] = figs.to_svg(figs.forest_plot(ff, conf_level=spec.conf_level, synthetic=synthetic))
        forest = _fig("fig/forest.svg",
                      f"Hedges' g at {final} from the primary analysis with unadjusted {spec.conf_level:.0%} CIs, "
                      "each printed beside its line. Signs are oriented so that right of zero always means the "
                      "first-named arm did better (for pain, WOMAC and TUG, where lower is better, that is the "
                      "second arm's mean minus the first's); the tables use the same orientation. Exploratory "
                      "outcomes are grey.")
    sections = []
    if spec.primary_outcomes:
        progress("missing-data section")
        sections.append(missing_section(trial, spec, results, missing, infos, weeks, synthetic, input_name, figures))
    summary = summary_paragraphs(trial.meta, results, infos, spec, fam_p, counts["total"], weeks)
    extra = missing_summary(spec, results, missing, infos, weeks)
    if extra:
        summary.insert(len(summary) - (1 if spec.exploratory_outcomes else 0), extra)
    methods = methods_paragraphs(spec, results, infos, versions, fam_p, weeks, randomized)
    extra = missing_methods(spec, missing, weeks)
    if extra:
        at = next((i + 1 for i, p in enumerate(methods) if p.startswith("Sensitivity analysis:")), len(methods))
        methods.insert(at, extra)
    content = {
        "meta": dict(meta_block),
        "summary": summary,
        "flow": flow,
        "table1": table1,
        "outcomes": out_blocks,
        "sections": sections,
        "forest": forest,
        "forest_missing": "No standardized contrasts are available (the primary model has not been fitted).",
        "methods": methods,
        "diagnostics": diagnostics,
        "diagnostics_missing": "No model was fitted, so there are no residuals to show.",
        "coefficients": coefficients,
        "coefficients_missing": "No model was fitted, so there are no coefficient tables.",
    }
    return content, figures
