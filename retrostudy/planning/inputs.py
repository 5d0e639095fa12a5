"""Planning inputs read from a trial: SD, correlations, dropout by arm and visit, observed effects.

:func:`planning_inputs` reads everything through public objects (the canonical table of a
:class:`~retrostudy.trial.TrialData`, ``fit.residual_covariance`` of an MMRM, the EMM
contrasts of an ANCOVA) and records, for every number, a sentence saying where it came
from; the ``*_kwargs`` methods hand those numbers and sentences to :func:`power_ttest`,
:func:`power_ancova` and :func:`power_mmrm`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..results import ModelFit, TidyResult
from ..tidy import setting_notes
from ..trial import TrialData

__all__ = ["PlanningInputs", "planning_inputs"]


@dataclass(frozen=True, eq=False, repr=False)
class PlanningInputs(TidyResult):
    """Design inputs taken from a trial, each with where it came from.

    Attributes
    ----------
    outcome, study
        The outcome and the study (dataset) they were read from.
    arms, reference_arm, visits, baseline_visit, final_visit
        The trial's design.
    covariance
        Visit x visit covariance of the outcome over all visits (baseline included), from
        an unstructured MMRM with the baseline as a response (or the given fit).
    conditional_covariance
        Covariance of the post-baseline visits given the baseline: the residual
        covariance of the planned MMRM with the baseline as a covariate.
    n_randomized
        Subjects per arm (any row in the trial).
    retention
        Arm -> proportion of randomized subjects with a value at each visit.
    means
        Arms x visits estimated means (EMMs of the unstructured MMRM with the baseline as a
        response).
    effects
        Observed ANCOVA contrasts of each arm against the reference at the final visit
        (``contrast, estimate, std_error, conf_low, conf_high, p_value``).
    sources
        Input name -> sentence.
    synthetic
        Whether the data are a synthetic reconstruction.
    """

    outcome: str
    study: str
    arms: tuple[str, ...]
    reference_arm: str
    visits: tuple[str, ...]
    baseline_visit: str
    final_visit: str
    covariance: pd.DataFrame
    conditional_covariance: pd.DataFrame
    n_randomized: Mapping[str, int]
    retention: Mapping[str, np.ndarray]
    effects: pd.DataFrame
    means: pd.DataFrame
    sources: Mapping[str, str] = field(default_factory=dict)
    synthetic: bool = False
    title: str = "Planning inputs"

    # ------------------------------------------------------------------ derived numbers
    @property
    def sd(self) -> float:
        """SD of the outcome at the final visit."""
        return float(np.sqrt(self.covariance.loc[self.final_visit, self.final_visit]))

    @property
    def corr(self) -> np.ndarray:
        """Correlation over all visits (baseline first)."""
        s = np.sqrt(np.diag(self.covariance.to_numpy()))
        return self.covariance.to_numpy() / np.outer(s, s)

    @property
    def rho(self) -> float:
        """Correlation of baseline and final visit."""
        return float(self.corr[0, -1])

    @property
    def sd_conditional(self) -> float:
        """Residual SD at the final visit given the baseline."""
        return float(np.sqrt(self.conditional_covariance.iloc[-1, -1]))

    @property
    def corr_conditional(self) -> np.ndarray:
        c = self.conditional_covariance.to_numpy()
        s = np.sqrt(np.diag(c))
        return c / np.outer(s, s)

    def effect(self, arm: str | None = None) -> float:
        """Observed adjusted difference ``arm - reference`` at the final visit."""
        arm = self._arm(arm)
        row = self.effects.loc[self.effects["contrast"] == f"{arm} - {self.reference_arm}"]
        return float(row["estimate"].iloc[0])

    def _arm(self, arm: str | None) -> str:
        arm = self.arms[0] if arm is None else str(arm)
        if arm not in self.arms or arm == self.reference_arm:
            others = [a for a in self.arms if a != self.reference_arm]
            raise SpecError(f"arm {arm!r} is not an experimental arm of {self.study}; use one of {', '.join(others)}.")
        return arm

    def _final_retention(self, arm: str) -> float:
        return float(self.retention[arm][-1])

    # ------------------------------------------------------------------ keyword arguments for the planners
    def ttest_kwargs(self, arm: str | None = None) -> dict[str, Any]:
        """``sd``, ``retention`` (arm, reference) and ``sources`` for :func:`power_ttest`."""
        arm = self._arm(arm)
        return {"sd": self.sd, "retention": (self._final_retention(arm), self._final_retention(self.reference_arm)),
                "sources": {k: self.sources[k] for k in ("sd", "retention")}}

    def ancova_kwargs(self, arm: str | None = None) -> dict[str, Any]:
        """``sd``, ``rho``, ``retention`` and ``sources`` for :func:`power_ancova`."""
        out = self.ttest_kwargs(arm)
        out["rho"] = self.rho
        out["sources"] = {k: self.sources[k] for k in ("sd", "rho", "retention")}
        return out

    def mmrm_kwargs(self, arm: str | None = None, *, baseline: str = "covariate") -> dict[str, Any]:
        """``sd``, ``corr``, ``retention``, ``retention2`` and ``sources`` for :func:`power_mmrm`.

        ``baseline="covariate"`` (the package's default MMRM: baseline as a covariate) uses
        the covariance of the post-baseline visits given the baseline and their retention;
        ``baseline="response"`` uses all visits, the baseline included (longpower's setting).
        """
        arm = self._arm(arm)
        if baseline == "covariate":
            return {"sd": self.sd_conditional, "corr": self.corr_conditional,
                    "retention": self.retention[arm][1:], "retention2": self.retention[self.reference_arm][1:],
                    "sources": {"sd": self.sources["sd_conditional"], "corr": self.sources["corr_conditional"],
                                "retention": self.sources["retention"]}}
        if baseline == "response":
            return {"sd": self.sd, "corr": self.corr, "retention": self.retention[arm],
                    "retention2": self.retention[self.reference_arm],
                    "sources": {k: self.sources[k] for k in ("sd", "corr", "retention")}}
        raise SpecError(f"baseline must be 'covariate' or 'response', not {baseline!r}.")

    # ------------------------------------------------------------------ TidyResult
    @property
    def settings(self) -> dict[str, object]:
        notes = [(f"{self.study} is a synthetic reconstruction: these inputs illustrate the method, they are not "
                 "evidence about the trial.")] if self.synthetic else []
        return {"outcome": self.outcome, "study": self.study, "reference_arm": self.reference_arm, "notes": notes}

    @property
    def table(self) -> pd.DataFrame:
        rows = [("sd", "", self.sd), ("rho", "", self.rho), ("sd_conditional", "", self.sd_conditional)]
        for arm in self.arms:
            for visit, r in zip(self.visits, self.retention[arm]):
                rows.append(("retention", f"{arm} {visit}", float(r)))
        for rec in self.effects.itertuples():
            rows.append(("effect", str(rec.contrast), float(rec.estimate)))
        frame = pd.DataFrame(rows, columns=["input", "level", "value"])
        frame["source"] = [self.sources.get(i if i != "retention" else "retention", "") for i in frame["input"]]
        return frame

    def summary(self) -> str:
        lines = [f"{self.title}: {self.outcome} in {self.study}"]
        lines.append(f"  sd = {self.sd:.4g}: {self.sources['sd']}")
        lines.append(f"  rho = {self.rho:.4f}: {self.sources['rho']}")
        lines.append(f"  conditional sd = {self.sd_conditional:.4g}: {self.sources['sd_conditional']}")
        ret = "; ".join(f"{a} " + ", ".join(f"{r:.3f}" for r in self.retention[a]) for a in self.arms)
        lines.append(f"  retention by visit ({', '.join(self.visits)}): {ret}: {self.sources['retention']}")
        for rec in self.effects.itertuples():
            lines.append(f"  effect {rec.contrast} = {rec.estimate:.4g} (95 % CI {rec.conf_low:.3g} to "
                         f"{rec.conf_high:.3g}, p = {rec.p_value:.3g}): {self.sources['effect']}")
        lines.extend(f"Note: {n}" for n in setting_notes(self.settings))
        return "\n".join(lines)


def _retention(frame: pd.DataFrame, arms: list[str], visits: list[str]) -> tuple[dict, dict, list[str]]:
    randomized = frame.groupby("arm", observed=True)["subject_id"].nunique()
    notes = []
    n_rand: dict[str, int] = {}
    out: dict[str, np.ndarray] = {}
    for arm in arms:
        n = int(randomized.get(arm, 0))
        if n == 0:
            raise SpecError(f"Arm {arm!r} has no subjects; planning inputs need every arm.")
        n_rand[arm] = n
        return_rows = []
        for visit in visits:
            return_rows.append(frame.loc[(frame["arm"] == arm) & (frame["visit"] == visit) & frame["_has"],
                                         "subject_id"].nunique() / n)
        r = np.asarray(return_rows, float)
        mono = np.minimum.accumulate(r)
        if np.any(mono < r - 1e-12):
            notes.append(f"{arm}: intermittent missing values make retention rise at a later visit; the running "
                         "minimum is used (monotone dropout).")
        out[arm] = mono
    return n_rand, out, notes


def planning_inputs(
    data: TrialData | pd.DataFrame,
    *,
    outcome: str,
    fit: ModelFit | None = None,
    reference_arm: str | None = None,
) -> PlanningInputs:
    """Read SD, correlations, dropout by arm and visit and observed effects from a trial.

    Parameters
    ----------
    data
        TrialData or a canonical long DataFrame (e.g. ``rs.load_dataset("alghadir2019_sim")``).
    outcome
        The outcome to plan for.
    fit
        Optional MMRM fitted to ``data`` with the baseline as a response
        (``baseline="none"``); its ``residual_covariance`` then gives the SD and the
        correlation instead of the default unstructured MMRM.
    reference_arm
        The control arm (default the last arm, as the models use).

    Returns
    -------
    PlanningInputs
        With ``sd``, ``rho``, ``corr``, ``retention``, ``effects`` and ``sources``.

    Raises
    ------
    SpecError
        If the outcome is not in the data or the trial has a single visit.

    Examples
    --------
    >>> import retrostudy as rs
    >>> inp = rs.planning_inputs(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
    >>> round(inp.rho, 3), inp.retention["control"].round(3).tolist()
    (0.812, [1.0, 0.818])
    """
    from ..inference import contrasts, emmeans
    from ..models.ancova import fit_ancova
    from ..models.mmrm import fit_mmrm
    from ..trial import as_trial

    trial = as_trial(data)
    if outcome not in trial.outcomes:
        raise SpecError(f"Outcome {outcome!r} is not in the data; it has {', '.join(trial.outcomes)}.")
    arms, visits = trial.arms, trial.visits
    if len(visits) < 2:
        raise SpecError("Planning inputs need a baseline and at least one later visit.")
    baseline = trial.baseline_visit
    visits = [baseline] + [v for v in visits if v != baseline]
    final = visits[-1]
    reference = reference_arm or arms[-1]
    if reference not in arms:
        raise SpecError(f"reference_arm {reference!r} is not an arm; the arms are {', '.join(arms)}.")
    study = str(trial.meta.get("study") or trial.meta.get("file") or "the data")
    synthetic = bool(trial.meta.get("synthetic"))
    tag = " (synthetic data)" if synthetic else ""

    frame = trial.data.loc[:, ["subject_id", "arm", "visit", "outcome", "value"]].copy()
    frame["_has"] = (frame["outcome"] == outcome) & frame["value"].notna()
    n_rand, retention, notes = _retention(frame, arms, visits)

    if fit is None:
        fit = fit_mmrm(trial, outcome=outcome, baseline="none", covariance="us", reference_arm=reference)
        how = (f"an unstructured MMRM of {outcome} on arm x visit with the baseline as a response, REML, "
               f"fitted to {study}{tag} ({fit.n_analysed(by=None)} subjects)")
    else:
        how = f"the residual covariance of the given {fit.model.upper()} fit of {fit.outcome}"
    cov = fit.residual_covariance
    if cov is None or list(map(str, cov.index)) != visits:
        raise SpecError("fit must be an MMRM with the baseline as a response (baseline='none') so that its "
                        f"residual covariance covers every visit ({', '.join(visits)}).")
    cov = pd.DataFrame(cov.to_numpy(float), index=visits, columns=visits)
    emm = emmeans(fit).to_frame()
    means = emm.pivot_table(index="arm", columns="visit", values="estimate", observed=True)
    means = pd.DataFrame(means.to_numpy(float), index=[str(a) for a in means.index],
                         columns=[str(v) for v in means.columns]).loc[arms, visits]
    planned = fit_mmrm(trial, outcome=outcome, reference_arm=reference)
    resid = planned.residual_covariance
    if resid is None:
        raise SpecError(f"The planned MMRM of {outcome} has no residual covariance; check the data.")
    labels = [str(v) for v in resid.index]
    cond = pd.DataFrame(resid.to_numpy(float), index=labels, columns=labels)

    anc = fit_ancova(trial, outcome=outcome, reference_arm=reference)
    con = contrasts(emmeans(anc), family="trt_vs_ref").to_frame()
    effects = con.loc[:, ["contrast", "estimate", "std_error", "conf_low", "conf_high", "p_value"]].reset_index(drop=True)

    counts = "; ".join(
        f"{a} {n_rand[a]} randomized, " + ", ".join(f"{round(r * n_rand[a])} at {v}" for v, r in zip(visits, retention[a]))
        for a in arms)
    sources = {
        "sd": f"SD of {outcome} at {final}: square root of its variance in {how}",
        "corr": f"correlation of {outcome} over {', '.join(visits)} in {how}",
        "rho": f"correlation of {outcome} at {baseline} and {final} in {how}",
        "sd_conditional": f"residual SD of {outcome} at {final} given the baseline: residual covariance of the planned "
                          f"MMRM (baseline as a covariate, unstructured, REML) fitted to {study}{tag}",
        "corr_conditional": f"residual correlation of the post-baseline visits in the planned MMRM fitted to {study}{tag}",
        "retention": f"subjects with a value of {outcome} at each visit / randomized per arm in {study}{tag} ({counts})"
                     + (" " + " ".join(notes) if notes else ""),
        "means": f"estimated means by arm and visit (EMMs) of {how}",
        "effect": f"ANCOVA of {outcome} at {final} on arm + baseline in {study}{tag} (observed contrast with its 95 % CI)",
    }
    return PlanningInputs(
        outcome=outcome, study=study, arms=tuple(arms), reference_arm=reference, visits=tuple(visits),
        baseline_visit=baseline, final_visit=final, covariance=cov, conditional_covariance=cond,
        n_randomized=n_rand, retention=retention, effects=effects, means=means, sources=sources,
        synthetic=synthetic)
