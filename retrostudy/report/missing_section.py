"""The report section "Missing data and sensitivity" (its sentences in the Methods and the summary are in
:mod:`.missing_text`).

The section holds, for the primary outcomes: the estimand (ICH E9(R1)); who has a value at each visit by arm
(a figure); the primary result next to the results under each imputation strategy (a table per outcome and a
forest-style figure with the numbers beside it); the tipping point (a figure and its delta in words); and the
settings and commands that reproduce them. Every number is read from the results of
:mod:`.missing_analysis` and :mod:`.analysis`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import figures as figs
from ..missing.ice import STRATEGY_NAMES
from ..schema import Outcome
from . import fmt
from .analysis import OutcomeResult
from .labels import oxford_join, visit_label
from .missing_analysis import GRID_POINTS, GRID_SDS, MissingResult
from .spec import ReportSpec
from .tables_fmt import kv_dict, orient, pair_label
from .who import model_name

__all__ = ["missing_section", "reproduce_code", "values_of"]

def _sub(text: str) -> dict:
    return {"kind": "sub", "text": text}


def _text(text: str) -> dict:
    return {"kind": "text", "text": text}


def _fig(path: str, caption: str) -> dict:
    return {"kind": "figure", "path": path, "caption": caption}


def _lookup(frame: pd.DataFrame, contrast: str, visit: str, low: str = "conf_low",
            high: str = "conf_high") -> tuple[float, float, float, float]:
    """(estimate, low, high, p) of ``contrast`` at ``visit``; a pair named the other way round is negated."""
    t = frame.loc[frame["visit"].astype(str) == visit] if "visit" in frame.columns else frame
    t = t.set_index("contrast")
    if contrast in t.index:
        r = t.loc[contrast]
        return float(r["estimate"]), float(r[low]), float(r[high]), float(r["p_value"])
    a, b = contrast.split(" - ")
    if f"{b} - {a}" in t.index:
        r = t.loc[f"{b} - {a}"]
        return -float(r["estimate"]), -float(r[high]), -float(r[low]), float(r["p_value"])
    nan = float("nan")
    return nan, nan, nan, nan


def _rows(spec: ReportSpec, res: OutcomeResult, mis: MissingResult) -> list[tuple[str, str, bool, Any]]:
    """(label, kind, is_primary, source) of every analysis in the section's order."""
    rows: list[tuple[str, str, bool, Any]] = []
    for role, m in (("Primary", res.primary), ("Sensitivity", res.sensitivity)):
        how = "MAR" if m.model == "mmrm" else "complete cases"
        rows.append((f"{role}: {model_name(m.model, spec.baseline)} ({how})", "model", role == "Primary", m))
    for sr in mis.strategies:
        rows.append((f"MI: {sr.strategy.upper()}", "mi", False, sr))
    return rows


def values_of(kind: str, source: Any, contrast: str, visit: str) -> tuple[float, float, float, float] | None:
    if kind == "model":
        if not source.ok:
            return None
        return _lookup(source.contrasts, contrast, visit, "conf_low_unadj", "conf_high_unadj")
    if not source.ok:
        return None
    return _lookup(source.result.to_frame(), contrast, visit)


def _estimand_block(spec: ReportSpec, infos: Mapping[str, Outcome]) -> list[dict]:
    outs = [o for o in spec.primary_outcomes if o in spec.estimands]
    ests = [spec.estimands[o] for o in outs]
    if not ests:
        return []

    def events(e) -> str:
        return "; ".join(f"{ev.event}" for ev in e.intercurrent_events) or "none declared"

    def strategy(e) -> str:
        return "; ".join(f"{ev.strategy}" + (f" ({ev.description})" if ev.description else "")
                         + f"; missing values after it as under {STRATEGY_NAMES[ev.imputation]}"
                         for ev in e.intercurrent_events) or fmt.MISSING

    def summary(e) -> str:
        return f"{e.summary}: " + ", ".join(c.replace(" - ", " \u2212 ") for c in e.contrasts)

    rows = [["Population"] + [e.population for e in ests], ["Variable"] + [e.variable for e in ests],
            ["Treatments"] + [", ".join(e.treatments) for e in ests],
            ["Intercurrent event"] + [events(e) for e in ests], ["Strategy"] + [strategy(e) for e in ests],
            ["Population-level summary"] + [summary(e) for e in ests]]
    table = {"header": ["Attribute"] + [infos[o].label for o in outs], "rows": rows, "align": "l" * (len(outs) + 1),
             "widths": [1.2] + [3.0] * len(outs),
             "note": "The estimand of each primary outcome (ICH E9(R1)): "
                     + ("as the settings' estimand key declares it (unset keys keep the default)."
                        if spec.estimands_source == "settings" else
                        "the report's default (declare another with the settings key estimand).")}
    blocks = [_sub("Estimand"), {"kind": "table", **table}]
    imps = sorted({ev.imputation for e in ests for ev in e.intercurrent_events})
    name = model_name(spec.model, spec.baseline)
    if imps and imps != ["mar"]:
        which = oxford_join([i.upper() for i in imps if i != "mar"])
        blocks.append(_text(f"The primary analysis ({name}) assumes missing at random (MAR); the estimand handles "
                            f"dropout by {which}, so its estimate is the MI: {which} row of the tables below."))
    else:
        assume = ("missing at random (MAR)" if spec.model == "mmrm" else
                  "that dropout is unrelated to the outcome given the baseline value")
        blocks.append(_text(f"The primary analysis ({name}) estimates it assuming {assume}; the analyses below "
                            "ask how much the conclusion depends on that assumption."))
    return blocks


def _ice_counts(mis: MissingResult, arms: Sequence[str] = ()) -> dict[str, int] | None:
    """Participants with an intercurrent event (dropout) per arm, in arm order, from the imputation's ICE table."""
    sr = next((s for s in mis.strategies if s.ok), None)
    if sr is None:
        return None
    ice = sr.result.ice
    n = ice.groupby(ice["arm"].astype(str)).size() if len(ice) else pd.Series(dtype=int)
    order = list(arms) or sorted(n.index)
    return {str(a): int(n.get(a, 0)) for a in order}


def _result_table(spec: ReportSpec, res: OutcomeResult, mis: MissingResult, info: Outcome, contrasts: Sequence[str],
                  final: str) -> dict:
    pct = f"{spec.conf_level:.0%}"
    body = []
    failed = []
    for label, kind, _, src in _rows(spec, res, mis):
        cells = [label]
        for c in contrasts:
            v = values_of(kind, src, c, spec.final_visit)
            if v is None:
                cells += [fmt.MISSING, fmt.MISSING]
                continue
            d, lo, hi = orient(info, v[0], v[1], v[2])
            cells += [f"{fmt.num(d)} ({fmt.ci(lo, hi)})", fmt.pval(v[3])]
        if kind == "mi" and not src.ok:
            failed.append(f"{src.strategy.upper()}: {src.message}")
        body.append(cells)
    header = ["Analysis"]
    for c in contrasts:
        header += [pair_label(c), "p"]
    ref = spec.reference_arm
    note = (f"Differences at {final} with unadjusted {pct} CIs and p-values, oriented so that a positive value "
            f"favours the first-named arm. MI: multiple imputation of the missing values after dropout under MAR, "
            f"jump to reference (J2R), copy reference (CR), copy increments from reference (CIR) or last mean "
            f"carried forward (LMCF), with {ref} as the reference arm; each imputed data set analysed by an ANCOVA "
            "on the baseline value.")
    if failed:
        note += " Not computed: " + " ".join(failed)
    k = len(contrasts)
    return {"kind": "table", "header": header, "rows": body, "align": "l" + "rr" * k,
            "widths": [2.0] + [1.45, 0.55] * k, "note": note}


def _forest_frame(spec: ReportSpec, results: Mapping[str, OutcomeResult], missing: Sequence[MissingResult],
                  infos: Mapping[str, Outcome]) -> pd.DataFrame:
    recs = []
    for mis in missing:
        res, info = results[mis.outcome], infos[mis.outcome]
        arm, ref = spec.sensitivity.tipping_arm, spec.reference_arm
        for label, kind, prim, src in _rows(spec, res, mis):
            v = values_of(kind, src, f"{arm} - {ref}", spec.final_visit)
            est, lo, hi = orient(info, *(v[:3] if v else (np.nan,) * 3))
            recs.append({"outcome_label": info.label, "analysis": label, "first": arm, "second": ref,
                         "estimate": float(est), "conf_low": float(lo), "conf_high": float(hi),
                         "p_value": float(v[3]) if v else np.nan, "primary": prim})
    return pd.DataFrame.from_records(recs)


def _tipping_words(spec: ReportSpec, mis: MissingResult, info: Outcome, final: str) -> str:
    tp = mis.tipping
    if tp is None:
        return mis.tipping_message
    alpha = tp.alpha
    arm, unit = spec.sensitivity.tipping_arm, f" {info.unit}" if info.unit else ""
    rows = tp.to_frame()
    rows = rows.loc[(rows["contrast"] == tp.contrast) & (rows["visit"].astype(str) == str(tp.visit))]
    first_row = rows.iloc[0]
    p0 = float(first_row["p_value"])
    strat = spec.sensitivity.tipping_strategy.upper()
    pair = pair_label(mis.contrast)
    if not p0 < alpha:
        return (f"{info.label}: under {strat} without a shift (delta {fmt.num(first_row['delta'])}) the {pair} "
                f"difference at {final} is not significant (unadjusted p {fmt.pval(p0)} \u2265 {alpha:g}), so there "
                "is no significant result for a shift to overturn.")
    d0 = orient(info, first_row["estimate"], first_row["conf_low"], first_row["conf_high"])[0]
    favours_arm = (float(d0) > 0) == (mis.contrast.startswith(f"{arm} - "))
    way = "worse" if favours_arm else "better"
    n_ice = (_ice_counts(mis, spec.arms) or {}).get(arm)
    who = f"the {n_ice} {arm} participants who left" if n_ice else f"{arm}'s participants who left"
    grid = np.asarray(mis.deltas, float)
    if not np.isfinite(tp.tipping_delta):
        return (f"{info.label}: the {pair} difference at {final} stays significant (unadjusted p < {alpha:g}) over "
                f"the whole grid: even when the imputed values of {who} are {fmt.num(np.max(np.abs(grid)))}{unit} "
                f"{way} than {strat} predicts, the conclusion holds.")
    tip = tp.tipping_delta_interpolated if np.isfinite(tp.tipping_delta_interpolated) else tp.tipping_delta
    sd = f" ({abs(tip) / mis.baseline_sd:.2f} baseline SDs)" if np.isfinite(mis.baseline_sd) and mis.baseline_sd > 0 \
        else ""
    return (f"{info.label}: the {pair} difference at {final} stays significant (unadjusted p < {alpha:g}) until the "
            f"imputed values of {who} are {fmt.num(abs(tip))}{unit} {way} than {strat} predicts{sd}: the "
            f"tipping point (interpolated; the first grid point with p \u2265 {alpha:g} is delta "
            f"{fmt.num(tp.tipping_delta)}). Whether a shift that large is plausible for participants who stopped "
            "the programme is a clinical judgement.")


def _settings_rows(spec: ReportSpec, missing: Sequence[MissingResult], infos: Mapping[str, Outcome],
                   base: str) -> list[tuple[str, str]]:
    s = spec.sensitivity
    first = next((sr.result for mis in missing for sr in mis.strategies if sr.ok), None)
    from ..models.structures import DISPLAY_NAMES

    covs = [c for c in spec.covariates if ":" not in c]
    how_base = {"none": f"the {base} value is a response of the imputation model",
                "covariate_by_visit": f"the {base} value is a covariate by visit"}[s.baseline]
    rows = [("Strategies", ", ".join(x.upper() for x in s.strategies)
             + f" (reference arm {spec.reference_arm} for J2R, CR and CIR)"),
            ("Method", s.method + (f": {first.settings['notes'][0]}" if first is not None else "")),
            ("Imputation model", f"MMRM on arm by visit{', ' + oxford_join(covs) + ' by visit' if covs else ''}; "
                                 f"{DISPLAY_NAMES.get(spec.covariance, spec.covariance)} covariance, REML; {how_base}"),
            ("Intercurrent events", "derived from the data: the first visit of a run of missing values that lasts "
                                    "to the last visit (dropout); intermittent missing values are imputed under MAR; "
                                    "values observed after an event do not enter a reference-based imputation model"),
            ("Analysis", f"ANCOVA at each visit on arm and the {base} value"
                         + (f" and {oxford_join(covs)}" if covs else "") + "; pairwise differences"),
            ("Seed", str(s.seed) if s.random else "none needed (deterministic)")]
    for mis in missing:
        g = np.asarray(mis.deltas, float)
        src = (f"automatic: 0 to {GRID_SDS:g} baseline SDs (SD {fmt.num(mis.baseline_sd)}) in {GRID_POINTS} points"
               if mis.grid_source == "automatic" else "from the settings")
        rows.append((f"Tipping point, {infos[mis.outcome].label}",
                     f"{s.tipping_strategy.upper()}; delta added to {s.tipping_arm}'s imputed values at every visit "
                     f"after the event; {len(g)} deltas from {fmt.num(g[0])} to {fmt.num(g[-1])} ({src})"))
    return rows


def reproduce_code(spec: ReportSpec, input_name: str) -> str:
    """The settings and the command lines that reproduce the section (shown verbatim)."""
    s = spec.sensitivity
    lines = ["# report settings (retrostudy report --settings FILE)", "sensitivity:",
             f"  strategies: [{', '.join(s.strategies)}]", f"  method: {s.method}", f"  baseline: {s.baseline}",
             f"  tipping_arm: {s.tipping_arm}", f"  tipping_strategy: {s.tipping_strategy}"]
    if s.random:
        lines.append(f"  seed: {s.seed}")
        if s.n_samples:
            lines.append(f"  n_samples: {s.n_samples}")
    if s.deltas is not None:
        lines.append(f"  deltas: [{', '.join(f'{d:g}' for d in s.deltas)}]")
    common = f"--method {s.method} --baseline {s.baseline}" + (f" --seed {s.seed}" if s.random else "") + (
        f" --n-samples {s.n_samples}" if s.random and s.n_samples else "")
    strategy = "j2r" if "j2r" in s.strategies else s.strategies[0]
    deltas = "auto" if s.deltas is None else " ".join(f"{d:g}" for d in s.deltas)
    lines += ["# the same analyses of one outcome from the command line (one strategy per run)"]
    for o in spec.primary_outcomes[:1]:
        lines.append(f"retrostudy sensitivity {input_name} --outcome {o} --strategy {strategy} {common}")
        lines.append(f"retrostudy sensitivity {input_name} --outcome {o} --strategy {s.tipping_strategy} {common} "
                     f"--tipping-arm {s.tipping_arm} --deltas {deltas}")
    return "\n".join(lines)


def missing_section(trial, spec: ReportSpec, results: Sequence[OutcomeResult], missing: Sequence[MissingResult],
                    infos: Mapping[str, Outcome], weeks: Mapping[str, float], synthetic: bool, input_name: str,
                    figures: dict[str, bytes]) -> dict:
    """The section's title and blocks (and its figures added to ``figures``)."""
    from ..figures_missing import missingness_plot, sensitivity_plot, tipping_point_frame, tipping_point_plot

    final = visit_label(spec.final_visit, weeks.get(spec.final_visit))
    base = visit_label(spec.baseline_visit, weeks.get(spec.baseline_visit))
    by = {r.outcome: r for r in results}
    outs = [o for o in spec.primary_outcomes if o in by]
    blocks = _estimand_block(spec, infos)
    # the pattern of missing values
    figures["missing_pattern.svg"] = figs.to_svg(missingness_plot(
        trial, outs, labels={o: infos[o].label for o in outs},
        visit_labels={v: visit_label(v, weeks.get(v)) for v in spec.visits}, synthetic=synthetic))
    blocks += [_sub("Who has a value at each visit"),
               _fig("fig/missing_pattern.svg",
                    "Participants with a value of each primary outcome at each visit, by arm (n / randomised; the "
                    "shading is the percentage, from 50% or less to 100%).")]
    ice = [(infos[m.outcome].label, _ice_counts(m, spec.arms)) for m in missing]
    ice_text = "; ".join(f"{lab}: " + ", ".join(f"{a} {n}" for a, n in counts.items())
                         for lab, counts in ice if counts is not None)
    if ice_text:
        blocks.append(_text(f"Participants who left before {final} (their first missing visit starts a run of "
                            f"missing values to the last visit), by arm: {ice_text}."))
    if not spec.sensitivity.enabled:
        blocks.append(_text("The settings leave the multiple-imputation sensitivity analyses out (sensitivity: "
                            "false)."))
        return {"title": "Missing data and sensitivity", "blocks": blocks}
    # results under each assumption
    blocks.append(_sub(f"Results at {final} under each assumption about the missing values"))
    for mis in missing:
        res, info = by[mis.outcome], infos[mis.outcome]
        contrasts = spec.estimands[mis.outcome].contrasts if mis.outcome in spec.estimands else ()
        blocks.append(_text(info.display))
        blocks.append(_result_table(spec, res, mis, info, contrasts or (mis.contrast,), final))
    ff = _forest_frame(spec, by, missing, infos)
    if len(ff):
        figures["sensitivity.svg"] = figs.to_svg(sensitivity_plot(ff, conf_level=spec.conf_level,
                                                                  synthetic=synthetic))
        arm, ref = spec.sensitivity.tipping_arm, spec.reference_arm
        blocks.append(_fig("fig/sensitivity.svg",
                           f"{arm} vs {ref} at {final} under each analysis, with unadjusted {spec.conf_level:.0%} "
                           "CIs and p-values printed beside each line (positive favours "
                           f"{arm}); the primary analysis in black."))
    # tipping point
    blocks.append(_sub("Tipping point"))
    frames = []
    for mis in missing:
        info = infos[mis.outcome]
        blocks.append(_text(_tipping_words(spec, mis, info, final)))
        if mis.tipping is not None:
            frames.append(tipping_point_frame(mis.tipping, info).assign(unit=info.unit or ""))
    if frames:
        frame = pd.concat(frames, ignore_index=True)
        figures["tipping.svg"] = figs.to_svg(tipping_point_plot(
            frame, alpha=missing[0].tipping.alpha if missing[0].tipping is not None else 1 - spec.conf_level,
            conf_level=spec.conf_level, arm=spec.sensitivity.tipping_arm, synthetic=synthetic))
        blocks.append(_fig("fig/tipping.svg",
                           f"Tipping point: the {final} difference (positive favours {spec.sensitivity.tipping_arm}) "
                           f"with its {spec.conf_level:.0%} CI as a delta is added to the imputed values of "
                           f"{spec.sensitivity.tipping_arm}'s participants who left "
                           f"({spec.sensitivity.tipping_strategy.upper()} otherwise). Filled points: p < "
                           f"{1 - spec.conf_level:g}; the vertical line marks the tipping delta, where the CI "
                           "reaches the dashed line of no difference."))
    # settings
    blocks.append(_sub("Settings that reproduce these analyses"))
    blocks.append({"kind": "table", **kv_dict(_settings_rows(spec, missing, infos, base),
                                             header=("Setting", "Value"), widths=(1.2, 4.0))})
    blocks.append({"kind": "code", "text": reproduce_code(spec, input_name)})
    return {"title": "Missing data and sensitivity", "blocks": blocks}
