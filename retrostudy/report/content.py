"""Assemble the report's JSON data and figures from the trial, the spec and the analyses."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from .. import figures as figs
from ..schema import Outcome
from ..tables import table_one
from ..trial import TrialData
from .analysis import OutcomeResult, fitted_and_residuals
from .flow import flow_counts, flow_figure
from .tables_fmt import coef_dict, complete_case_dict, contrast_dict, emm_dict, kv_dict, table_one_dict
from .text import methods_paragraphs, summary_paragraphs

__all__ = ["build_content", "forest_frame"]


def _fig(path: str, caption: str) -> dict:
    return {"path": path, "caption": caption}


def forest_frame(results: Sequence[OutcomeResult], infos: Mapping[str, Outcome]) -> pd.DataFrame:
    """Primary Hedges' g per outcome x contrast, oriented so positive = the first-named arm did better."""
    recs = []
    for res in results:
        eff = res.primary.effects
        if res.primary.status != "ok" or eff is None:
            continue
        sign = -1.0 if infos[res.outcome].lower_is_better else 1.0
        for r in eff.itertuples(index=False):
            first, second = [s.strip() for s in str(r.contrast).split(" - ", 1)]
            lo, hi = sign * float(r.conf_low), sign * float(r.conf_high)
            recs.append({"outcome": res.outcome, "outcome_label": infos[res.outcome].label, "contrast": r.contrast,
                         "first": first, "second": second, "estimate": sign * float(r.estimate),
                         "conf_low": min(lo, hi), "conf_high": max(lo, hi)})
    return pd.DataFrame.from_records(recs, columns=["outcome", "outcome_label", "contrast", "first", "second",
                                                    "estimate", "conf_low", "conf_high"])


def _model_section(title: str, res, infos, outcome, spec, n_final, text: str = "") -> dict:
    info = infos[outcome]
    if res.status != "ok":
        return {"title": title, "text": res.message, "tables": []}
    warn = " ".join(f"Warning: {w}" for w in res.warnings)
    tables = [emm_dict(res.emm, n_final, info, spec["conf_level"]),
              contrast_dict(res.contrasts, res.effects, info, spec["conf_level"], spec["adjust"])]
    return {"title": title, "text": (text + " " + warn).strip(), "tables": tables}


def build_content(trial: TrialData, spec: Mapping[str, Any], results: Sequence[OutcomeResult],
                  infos: Mapping[str, Outcome], meta_block: Mapping[str, Any], versions: Mapping[str, str],
                  manifest_block: Mapping[str, Any], progress: Callable[[str], None]) -> tuple[dict, dict]:
    """The JSON data for the template and the SVG figures (name -> bytes)."""
    figures: dict[str, bytes] = {}
    final = spec["final_visit"]
    final_rows = trial.data.loc[trial.data["visit"].astype(str) == final]

    # participant flow
    analysed = None
    prim_fits = [r.primary.fit for r in results if r.primary.status == "ok"]
    if prim_fits and getattr(prim_fits[0], "data", None) is not None and "arm" in prim_fits[0].data.columns:
        d0 = prim_fits[0].data
        analysed = {str(k): int(v) for k, v in d0.groupby("arm", observed=True)["subject_id"].nunique().items()}
    counts = flow_counts(trial, analysed)
    figures["flow.svg"] = figs.to_svg(flow_figure(
        counts, analysed_label=f"Analysed ({spec['primary'].upper()})"))
    excl_rows = [[e["stage"], e["reason"], str(e["values"])] for e in counts["excluded"]]
    flow = {
        "figure": _fig("fig/flow.svg", "Participant flow. Assessed = at least one outcome value at the visit; "
                                        "values left out while reading are counted at the top and listed below. "
                                        + (f"Analysed = subjects in the primary analysis of "
                                           f"{infos[results[0].outcome].label}." if analysed else "")),
        "exclusions": {"header": ["Stage", "Reason", "Values left out"], "rows": excl_rows, "align": "llr",
                       "widths": [0.7, 4.0, 1.0],
                       "note": "Every row or value of the input that is not in the analysis, from the exclusion log."},
        "no_exclusions": "No value of the input was left out while reading.",
    }

    # Table 1
    t1 = table_one(trial, outcomes=spec["outcomes"], covariates=spec.get("table1_covariates"))
    table1 = table_one_dict(t1)

    # outcomes
    out_blocks = []
    diagnostics, coefficients = [], []
    for i, res in enumerate(results):
        o = res.outcome
        info = infos[o]
        progress(f"figures for {o} ({i + 1}/{len(results)})")
        figures[f"trajectory_{o}.svg"] = figs.to_svg(figs.trajectory_plot(trial.data, o, info=info,
                                                                          conf_level=spec["conf_level"]))
        n_final = {str(k): int(v) for k, v in final_rows.loc[final_rows["outcome"].astype(str) == o]
                   .groupby("arm", observed=True)["subject_id"].nunique().items()}
        label_p = "MMRM" if spec["primary"] == "mmrm" else "ANCOVA"
        label_s = "ANCOVA" if spec["primary"] == "mmrm" else "MMRM"
        sections = [
            _model_section(f"Primary analysis ({label_p}) at {final}", res.primary, infos, o, spec, n_final),
            _model_section(f"Sensitivity analysis ({label_s}) at {final}", res.sensitivity, infos, o, spec,
                           n_final),
        ]
        if res.complete_case is not None:
            cc = res.complete_case
            if cc.status == "ok" and res.primary.status == "ok":
                used = res.primary.fit.n_analysed(by=None) if res.primary.fit.data is not None else res.n_all
                tab = complete_case_dict(res.primary.contrasts, cc.contrasts, int(used), res.n_complete,
                                         spec["conf_level"])
                sections.append({"title": "Complete cases vs all data", "text": "", "tables": [tab]})
            else:
                sections.append({"title": "Complete cases vs all data", "text": cc.message, "tables": []})
        elif res.complete_case_is_primary:
            sections.append({"title": "Complete cases vs all data",
                             "text": f"{res.n_all - res.n_complete} of {res.n_all} subjects lack {info.label} at "
                                     "some visit. The primary model already uses exactly the complete cases (with a "
                                     "single post-baseline visit, a subject without it contributes nothing), so "
                                     "the complete-case analysis is the analysis above; it is valid if dropout "
                                     "does not depend on the unobserved outcome.", "tables": []})
        elif res.n_complete == res.n_all:
            sections.append({"title": "Complete cases vs all data",
                             "text": f"Every subject has {info.label} at every visit (no dropout): the complete-"
                                     "case analysis is the analysis above.", "tables": []})
        out_blocks.append({"id": o, "label": info.display, "sections": sections, "trajectory": _fig(
            f"fig/trajectory_{o}.svg",
            f"{info.display} by arm and week: observed means with {spec['conf_level']:.0%} t-based CIs over "
            "each participant's observed values (faint lines). Observed means ignore dropout; the model-based "
            "estimates are in the tables.")})
        for res_m in (res.primary, res.sensitivity):
            if res_m.status != "ok":
                continue
            fr = fitted_and_residuals(res_m.fit)
            tag = f"{o}_{res_m.model}"
            if fr is not None and res_m is res.primary:
                figures[f"diag_{tag}.svg"] = figs.to_svg(figs.diagnostics_plot(
                    fr[0], fr[1], title=f"{info.label}, {res_m.model.upper()}"))
                diagnostics.append(_fig(f"fig/diag_{tag}.svg",
                                        f"{info.display}, primary {res_m.model.upper()}: residuals (observed minus "
                                        "marginal fitted value) and a normal Q-Q plot of standardized residuals."))
            coefficients.append(coef_dict(res_m.fit, f"{info.display}: {res_m.model.upper()} coefficients"))

    # forest
    ff = forest_frame(results, infos)
    forest = None
    if len(ff):
        progress("forest plot")
        figures["forest.svg"] = figs.to_svg(figs.forest_plot(ff, conf_level=spec["conf_level"]))
        forest = _fig("fig/forest.svg",
                      f"Hedges' g at {final} from the primary analysis with {spec['conf_level']:.0%} CIs. Signs are "
                      "flipped for outcomes where lower values are better, so that right of zero always means the "
                      "first-named arm did better (for the first two panels: favours retro walking). CIs are "
                      "unadjusted.")

    fits = {}
    for r in results:
        for m in (r.primary, r.sensitivity):
            if m.status == "ok":
                fits.setdefault(m.model, m.fit)
    content = {
        "meta": dict(meta_block),
        "summary": summary_paragraphs(trial.meta, results, infos, spec, counts["total"]),
        "flow": flow,
        "table1": table1,
        "outcomes": out_blocks,
        "forest": forest,
        "forest_missing": "No standardized contrasts are available (the primary model has not been fitted).",
        "methods": methods_paragraphs(spec, fits, versions),
        "diagnostics": diagnostics,
        "diagnostics_missing": "No model was fitted, so there are no residuals to show.",
        "coefficients": coefficients,
        "coefficients_missing": "No model was fitted, so there are no coefficient tables.",
        "manifest": dict(manifest_block),
    }
    return content, figures


def manifest_block(input_info: Mapping[str, Any], spec: Mapping[str, Any], command: str,
                   versions: Mapping[str, str], files: Mapping[str, str], timestamp: Mapping[str, str]) -> dict:
    """The manifest as tables for the appendix (the PDF's own hash is only in the JSON next to it)."""
    spec_rows = [(k, ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else ("-" if v is None else v))
                 for k, v in sorted(spec.items())]
    return {
        "intro": ["The full manifest (with the sha256 of this PDF and of report.json) is written as JSON next to "
                  "the PDF. Re-running the command below on the same input with the same versions gives a "
                  "byte-identical PDF."],
        "input": kv_dict([("input", input_info.get("name")), ("kind", input_info.get("kind")),
                          ("input sha256", input_info.get("sha256")), ("command", command),
                          ("timestamp", f"{timestamp.get('iso')} ({timestamp.get('source')})")],
                         header=("Input", "")),
        "spec": kv_dict(spec_rows, header=("Specification", "")),
        "versions": kv_dict(sorted(versions.items()), header=("Package", "Version")),
        "files": kv_dict(sorted(files.items()), header=("File", "sha256"), widths=(1.2, 3.0)),
    }
