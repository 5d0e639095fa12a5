"""The report's prose: the methods paragraph written from the spec, and the plain-language summary."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..schema import Outcome
from . import fmt
from ..models.structures import DISPLAY_NAMES
from ..options import ADJUST_CI, ADJUST_NAMES, DF_NAMES

__all__ = ["methods_paragraphs", "summary_paragraphs"]

def _versions(v: Mapping[str, str]) -> str:
    keys = ("retrostudy", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "seaborn", "typst")
    return ", ".join(f"{k} {v[k]}" for k in keys if k in v) + f" on Python {v.get('python', '?')}"


def methods_paragraphs(spec: Mapping, fits: Mapping[str, object], versions: Mapping[str, str]) -> list[str]:
    """Methods text from the spec and from what the fits report about themselves."""
    final = spec["final_visit"]
    base = spec["baseline_visit"]
    ref = spec.get("reference_arm") or next((getattr(f, "reference_arm", None) for f in fits.values()
                                             if getattr(f, "reference_arm", None)), None) or spec["arms"][-1]
    adj = ADJUST_NAMES.get(spec["adjust"], spec["adjust"])
    covs = ", ".join(spec.get("covariates") or ()) or "no further covariates"
    mm = fits.get("mmrm")
    an = fits.get("ancova")
    mspec = dict(getattr(mm, "spec", {}) or {})
    base_how = {"covariate": f"the {base} value of the outcome as a covariate",
                "covariate_by_visit": f"the {base} value of the outcome as a covariate with its interaction with visit",
                "none": f"the {base} visit kept as a response"}.get(mspec.get("baseline", "covariate"), "")
    mmrm_text = (
        f"The mixed model for repeated measures (MMRM) modelled every post-baseline value with fixed effects for "
        f"arm, visit and their interaction, {base_how} and "
        f"{covs}; the within-subject covariance over visits was {DISPLAY_NAMES.get(spec['covariance'], spec['covariance'])}, "
        f"estimated by REML, with {DF_NAMES.get(spec['df_method'], spec['df_method'])} denominator degrees of freedom. "
        "Subjects with missing visits contribute their observed values (valid if missingness depends only on "
        "observed data, missing at random).")
    if mspec.get("mean"):
        mmrm_text += f" Mean model (right-hand side): {mspec['mean']}."
    aspec = dict(getattr(an, "spec", {}) or {})

    ancova_text = (
        f"The ANCOVA modelled the {final} value by ordinary least squares with arm and the {base} value as "
        f"covariates ({covs}); subjects without a {base} or {final} value of the outcome are left out "
        "(complete cases for that outcome)." + (f" Mean model: {aspec['rhs']}." if aspec.get("rhs") else ""))
    prim = spec["primary"]
    first = mmrm_text if prim == "mmrm" else ancova_text
    second = ancova_text if prim == "mmrm" else mmrm_text
    paras = [
        f"Primary analysis: {'MMRM' if prim == 'mmrm' else 'ANCOVA'} of each outcome at {final}. " + first,
        f"Sensitivity analysis: {'ANCOVA' if prim == 'mmrm' else 'MMRM'}. " + second,
        f"Estimated marginal means (EMMs) at {final} average over covariates with {spec['weights']} weights. "
        f"The three pairwise arm contrasts are reported with {spec['conf_level']:.0%} confidence intervals and "
        f"p-values adjusted for the three comparisons within each outcome by the {adj} method; no adjustment is "
        f"made across outcomes. Hedges' g divides each contrast by the pooled {base} standard deviation of the "
        f"outcome ({spec['standardizer']}) with the small-sample correction. The reference arm of the models is {ref}.",
        "Baseline balance is described by standardized mean differences, not by p-values. Participant counts, "
        "and every value left out while reading the data with its reason, come from the loader's exclusion log.",
        f"Software: {_versions(versions)}. The exact versions of every package, the input's sha256 and the "
        "specification are in the manifest (appendix).",
    ]
    return paras


def _p(p) -> str:
    text = fmt.pval(p)
    return "< 0.001" if text.startswith("<") else f"= {text}"


def _sentence(info: Outcome, row, g_row, adjust: str, final: str) -> str:
    a, b = [s.strip() for s in str(row.contrast).split(" - ", 1)]
    est, lo, hi = float(row.estimate), float(row.conf_low), float(row.conf_high)
    unit = f" {info.unit}" if info.unit else ""
    if not np.isfinite(est):
        return ""
    word = "lower" if est < 0 else "higher"
    ci_name = "95% CI" if adjust == "none" else f"{ADJUST_CI.get(adjust, adjust)}-adjusted 95% CI"
    better = (est < 0) == info.lower_is_better
    who = a if better else b
    txt = (f"at {final}, {a} was {fmt.num(abs(est))}{unit} {word} than {b} ({ci_name} {fmt.ci(lo, hi)}{unit}"
           f"; {ADJUST_NAMES.get(adjust, adjust)}-adjusted p {_p(row.p_adjusted)}")
    if g_row is not None:
        txt += f"; Hedges' g {fmt.num(g_row['estimate'])}"
    txt += "). "
    if lo <= 0 <= hi:
        txt += ("The interval includes zero: the data cannot tell which of the two is better, and differences as "
                "large as either end of the interval remain plausible.")
    else:
        txt += (f"The interval does not include zero, so the data favour {who}; the true advantage could be "
                f"anywhere from {fmt.num(min(abs(lo), abs(hi)))} to {fmt.num(max(abs(lo), abs(hi)))}{unit}.")
    return txt


def summary_paragraphs(meta: Mapping, outcomes: Sequence, infos: Mapping[str, Outcome], spec: Mapping,
                       n_total: int) -> list[str]:
    """Plain-language results; every number is copied from the contrast tables."""
    paras = []
    if meta.get("synthetic"):
        paras.append("These results come from a SYNTHETIC data set: they show what the analysis does, not "
                     "what retro walking does for real patients.")
    used = sorted({int(r.primary.fit.fit_stats["n_subjects"]) for r in outcomes
                   if r.primary.status == "ok" and r.primary.fit is not None and "n_subjects" in r.primary.fit.fit_stats})
    if used and used != [n_total]:
        span = f"{used[0]}" if len(used) == 1 else f"{used[0]} to {used[-1]}"
        analysed = (f"{n_total} participants are in the data; the primary analysis of each outcome used the "
                    f"{span} with the values it needs (see the tables and the participant flow).")
    else:
        analysed = f"{n_total} participants were analysed."
    paras.append(
        f"{analysed} In a trial this small, estimates are imprecise: read the "
        "confidence intervals (the range of differences compatible with the data), not only the p-values, and do "
        "not read a p-value above 0.05 as proof that two arms are equal.")
    for res in outcomes:
        info = infos[res.outcome]
        p = res.primary
        if p.status != "ok" or p.contrasts is None or not len(p.contrasts):
            paras.append(f"{info.label}: {p.message or 'no primary analysis available.'}")
            continue
        g = p.effects.set_index("contrast") if p.effects is not None and len(p.effects) else None
        parts = []
        for row in p.contrasts.itertuples(index=False):
            if not str(row.contrast).startswith(spec["arms"][0]):
                continue
            gr = g.loc[row.contrast] if g is not None and row.contrast in g.index else None
            parts.append(_sentence(info, row, gr, spec["adjust"], spec["final_visit"]))
        paras.append(f"{info.label} ({p.model.upper()}): " + " Also, ".join(s[0].lower() + s[1:] if i else s
                                                                           for i, s in enumerate(parts)))
    return paras
