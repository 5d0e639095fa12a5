"""Simulation of the planned analysis: many trials from a stated model, each analysed as planned.

:func:`simulate_power` draws ``n_sim`` trials from a :class:`~retrostudy.planning.model.TrialModel`,
runs the package's own analysis on each (ANCOVA at the final visit, or an MMRM with the chosen
covariance structure and df method; contrasts of each arm with the reference at the final
visit, with the chosen multiplicity adjustment) and reports power (or type I error under the
null), bias, coverage and their Monte Carlo SE.

Each replicate is the pure top-level function :func:`simulate_replicate` of ``(payload,
index, seed_sequence)``, so it runs unchanged on the project's replicate runner (serial, a
Dask ``LocalCluster`` or a user's scheduler; :mod:`retrostudy.replicates`). Two engines
analyse a replicate:

* ``engine="refit"`` (default): the MMRM is fitted once to a template trial of the same
  design, and every replicate refits that design with its own responses, baseline column and
  observed rows (:class:`retrostudy.models.refit.Refitter`, warm-started); the contrasts' L
  rows come from the template's reference grid. An ANCOVA is the same refit of a one-visit
  model (baseline and final visit), whose REML fit is the least-squares ANCOVA.
* ``engine="api"``: the reference implementation: ``rs.fit_mmrm`` / ``rs.fit_ancova``,
  ``rs.emmeans`` and ``rs.contrasts`` on a canonical table of the replicate. The tests check
  that both engines give the same numbers.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import SpecError
from .model import TrialModel, generate, true_effects

if TYPE_CHECKING:
    from distributed import Client

    from ..results import ModelFit
    from .simresult import PlanDescription, SimulationResult

__all__ = ["AnalysisPlan", "build_payload", "replicate_frame", "simulate_power", "simulate_replicate"]

ANALYSES = ("mmrm", "ancova")
ENGINES = ("refit", "api")
ADJUST = ("none", "bonferroni", "dunnett")


@dataclass(frozen=True)
class AnalysisPlan:
    """The planned analysis of each simulated trial.

    Parameters
    ----------
    analysis
        ``"mmrm"`` (all post-baseline visits, baseline as a covariate) or ``"ancova"``
        (final-visit value ~ arm + baseline, subjects with a final value).
    baseline
        MMRM: ``"covariate"`` (the package's default) or ``"none"`` (the first visit is a
        response too, with its own arm means: Lu, Luo & Chen's setting).
    covariance, df_method
        MMRM covariance structure and df method (as ``rs.fit_mmrm``).
    adjust
        ``"none"``, ``"bonferroni"`` or ``"dunnett"`` over the comparisons with the reference.
    alpha, conf_level
        Level of the tests and of the (unadjusted) confidence intervals whose coverage
        is reported.
    engine
        ``"refit"`` or ``"api"`` (see the module docstring).
    """

    analysis: str = "mmrm"
    baseline: str = "covariate"
    covariance: str = "us"
    df_method: str = "kenward-roger"
    adjust: str = "none"
    alpha: float = 0.05
    conf_level: float = 0.95
    engine: str = "refit"

    def __post_init__(self) -> None:
        if self.analysis not in ANALYSES:
            raise SpecError(f"analysis must be 'mmrm' or 'ancova', not {self.analysis!r}.")
        if self.engine not in ENGINES:
            raise SpecError(f"engine must be 'refit' or 'api', not {self.engine!r}.")
        if self.baseline not in ("covariate", "none"):
            raise SpecError(f"baseline must be 'covariate' or 'none', not {self.baseline!r}.")
        if self.adjust not in ADJUST:
            raise SpecError(f"adjust must be one of {', '.join(ADJUST)}, not {self.adjust!r}.")
        if not 0 < float(self.alpha) < 0.5:
            raise SpecError(f"alpha must be between 0 and 0.5, not {self.alpha!r}.")
        if not 0 < float(self.conf_level) < 1:
            raise SpecError(f"conf_level must be between 0 and 1, not {self.conf_level!r}.")

    def describe(self) -> PlanDescription:
        """The plan as JSON (what :attr:`SimulationResult.plan` holds)."""
        return {"analysis": self.analysis, "baseline": self.baseline if self.analysis == "mmrm" else "covariate",
                "covariance": self.covariance if self.analysis == "mmrm" else None,
                "df_method": self.df_method if self.analysis == "mmrm" else "residual", "adjust": self.adjust,
                "alpha": self.alpha, "conf_level": self.conf_level, "engine": self.engine}


# ---------------------------------------------------------------------------- one trial as a table

def replicate_frame(model: TrialModel, y: np.ndarray, observed: np.ndarray, *, visits: slice | None = None
                    ) -> pd.DataFrame:
    """The observed cells of one simulated trial as a canonical long table (outcome ``"y"``)."""
    arm = np.repeat(np.arange(len(model.arms)), model.n_per_arm)
    T = y.shape[1]
    cols = np.arange(T) if visits is None else np.arange(T)[visits]
    subj, vis = np.nonzero(observed[:, cols])
    vis = cols[vis]
    return pd.DataFrame({
        "study": "simulated",
        "subject_id": pd.Series([f"S{i:05d}" for i in subj], dtype="string"),
        "arm": pd.Categorical(np.asarray(model.arms)[arm[subj]], categories=list(model.arms)),
        "visit": pd.Categorical(np.asarray(model.visits)[vis], categories=[model.visits[c] for c in cols],
                                ordered=True),
        "week": np.asarray(model.weeks)[vis],
        "outcome": pd.Categorical(["y"] * len(subj)),
        "value": y[subj, vis],
    })


def _fit_api(frame: pd.DataFrame, model: TrialModel, plan: AnalysisPlan) -> ModelFit:
    from ..models.ancova import fit_ancova
    from ..models.mmrm import fit_mmrm

    if plan.analysis == "ancova":
        return fit_ancova(frame, outcome="y", reference_arm=model.reference_arm, conf_level=plan.conf_level)
    return fit_mmrm(frame, outcome="y", covariance=plan.covariance, df_method=plan.df_method,
                    baseline=plan.baseline, reference_arm=model.reference_arm, conf_level=plan.conf_level)


def _final_contrasts(fit: ModelFit, model: TrialModel, adjust: str) -> tuple[pd.DataFrame, np.ndarray]:
    from ..inference import contrasts, emmeans

    con = contrasts(emmeans(fit), family="trt_vs_ref", adjust=adjust)
    table = con.to_frame()
    final = str(model.visits[-1])
    rows = np.flatnonzero(table["visit"].astype(str).to_numpy() == final) if "visit" in table else np.arange(len(table))
    want = [f"{a} - {model.reference_arm}" for a in model.experimental]
    table = table.iloc[rows].set_index("contrast").loc[want].reset_index()
    L = np.asarray(con.L)[rows][[list(con.to_frame().iloc[rows]["contrast"]).index(w) for w in want]]
    return table, L


# ---------------------------------------------------------------------------- the payload and one replicate

@dataclass(frozen=True, eq=False)
class _Payload:
    model: TrialModel
    plan: AnalysisPlan
    truth: np.ndarray
    refitter: Any = None
    L: np.ndarray | None = None
    row_subject: np.ndarray | None = None
    row_visit: np.ndarray | None = None
    base_cols: tuple[int, ...] = ()
    base_unit: np.ndarray | None = None  # X[:, base_cols] / template baseline (the column's non-baseline factor)
    extra: dict = field(default_factory=dict)


def build_payload(model: TrialModel, plan: AnalysisPlan, *, truth: np.ndarray | None = None) -> _Payload:
    """Everything a replicate needs; for ``engine="refit"`` the template fit and its reference grid.

    The template is a complete trial of the same design (a fixed seed); its analysed rows
    (every subject at every post-baseline visit) are what each replicate refits with its
    own responses, baseline and observed rows.
    """
    if truth is None:
        truth = np.array(list(true_effects(model)[0].values()))
    if plan.engine == "api":
        return _Payload(model=model, plan=plan, truth=truth)
    from ..models.refit import Refitter

    y, _, _ = generate(model, np.random.default_rng(np.random.SeedSequence(20190159)))
    from ..models.mmrm import fit_mmrm

    full = np.ones_like(y, dtype=bool)
    last = len(model.visits) - 1
    frame = replicate_frame(model, y, full, visits=None if plan.analysis == "mmrm" else np.s_[::last])

    if plan.analysis == "mmrm":
        fit = fit_mmrm(frame, outcome="y", covariance=plan.covariance, df_method=plan.df_method,
                       baseline=plan.baseline, reference_arm=model.reference_arm, conf_level=plan.conf_level)
    else:  # the ANCOVA as a one-visit MMRM: REML with one residual variance = least squares, residual df
        fit = fit_mmrm(frame, outcome="y", covariance="us", df_method="residual",
                       reference_arm=model.reference_arm, conf_level=plan.conf_level)
    _, L = _final_contrasts(fit, model, "none")
    refitter = Refitter(fit)
    data = fit.data
    assert data is not None  # a fitted MMRM keeps its analysis rows
    row_subject = data["subject_id"].astype(str).str[1:].astype(int).to_numpy()
    row_visit = pd.Index([str(v) for v in model.visits]).get_indexer(data["visit"].astype(str))
    base_cols = tuple(int(j) for term, cols in fit.design.term_index.items() if "baseline" in term for j in cols)
    X = refitter.inputs.X
    unit = X[:, list(base_cols)] / data["baseline"].to_numpy(float)[:, None] if base_cols else None
    return _Payload(model=model, plan=plan, truth=truth, refitter=refitter, L=L, row_subject=row_subject,
                    row_visit=row_visit, base_cols=base_cols, base_unit=unit)


def _adjusted(t: np.ndarray, df: np.ndarray, p: np.ndarray, corr: np.ndarray, adjust: str) -> np.ndarray:
    """Adjusted p-values as ``rs.contrasts`` gives them (Bonferroni; Dunnett by the exact multivariate t)."""
    m = len(t)
    if adjust == "none" or m == 1:
        return p
    if adjust == "bonferroni":
        return np.minimum(1.0, p * m)
    from ..inference.mvt import pmvt_max

    return np.clip(np.array([1.0 - pmvt_max(abs(ti), di, corr) for ti, di in zip(t, df)]), 0.0, 1.0)


def _analyse_refit(payload: _Payload, y: np.ndarray, observed: np.ndarray) -> dict[str, np.ndarray]:
    model = payload.model
    rs_, rv, L = payload.row_subject, payload.row_visit, payload.L
    assert rs_ is not None and rv is not None and L is not None  # built by build_payload(engine="refit")
    response = y[rs_, rv]
    if payload.plan.analysis == "mmrm":
        keep = observed[rs_, rv]
    else:  # ANCOVA: subjects with a final-visit value
        keep = observed[rs_, len(model.visits) - 1]
    X = None
    if payload.base_cols:
        X = payload.refitter.inputs.X.copy()
        X[:, list(payload.base_cols)] = payload.base_unit * y[rs_, 0][:, None]
    refit = payload.refitter.fit(response=response, X=X, keep=keep)
    res = refit.linear(L, conf_level=payload.plan.conf_level)
    V = L @ refit.vcov @ L.T
    sd = np.sqrt(np.diag(V))
    corr = V / np.outer(sd, sd)
    res["p_adjusted"] = _adjusted(res["statistic"], res["df"], res["p_value"], corr, payload.plan.adjust)
    res["converged"] = np.array([bool(refit.converged)])
    res["n_subjects"] = np.array([refit.n_subjects])
    return res


def _analyse_api(payload: _Payload, y: np.ndarray, observed: np.ndarray) -> dict[str, np.ndarray]:
    model, plan = payload.model, payload.plan
    frame = replicate_frame(model, y, observed)
    fit = _fit_api(frame, model, plan)
    table, _ = _final_contrasts(fit, model, plan.adjust)
    out = {k: table[k].to_numpy(float) for k in ("estimate", "std_error", "df", "statistic", "p_value", "p_adjusted")}
    q = stats.t.ppf(0.5 + plan.conf_level / 2.0, out["df"])
    out["conf_low"] = out["estimate"] - q * out["std_error"]
    out["conf_high"] = out["estimate"] + q * out["std_error"]
    out["converged"] = np.array([bool(fit.converged)])
    out["n_subjects"] = np.array([fit.n_analysed(by=None)])
    return out


#: Per-contrast numbers of a replicate's record, in order (one block of ``k`` values each, ``k``
#: the number of contrasts), followed by :data:`RECORD_TAIL`.
RECORD_FIELDS = ("estimate", "std_error", "df", "statistic", "p_value", "p_adjusted", "conf_low", "conf_high")
#: The last three values of a record: converged (1 or 0), subjects analysed, subjects observed at the final visit.
RECORD_TAIL = ("converged", "n_subjects", "n_observed_final")
#: Bumped when the record's layout changes, so a checkpoint of an older layout is refused, not misread.
RECORD_VERSION = 2


def simulate_replicate(payload: _Payload, index: int, seed_sequence: np.random.SeedSequence) -> np.ndarray:
    """One simulated trial, analysed as planned: a flat record of its numbers.

    Parameters
    ----------
    payload
        From :func:`build_payload` (the model, the plan and the template fit).
    index
        The replicate's index (unused: everything random comes from ``seed_sequence``).
    seed_sequence
        This replicate's ``numpy.random.SeedSequence`` (a child of the run's seed).

    Returns
    -------
    numpy.ndarray
        ``8 k + 3`` floats: for each of :data:`RECORD_FIELDS` (``estimate, std_error, df,
        statistic, p_value, p_adjusted, conf_low, conf_high``) its ``k`` values, one per contrast
        with the reference arm, then :data:`RECORD_TAIL` (``converged`` as 1/0, ``n_subjects``,
        ``n_observed_final``). One array rather than a dict of lists: 10,000 of them travel back
        from Dask workers and into checkpoints for a fraction of the cost; :func:`summarise`
        reads them into the tidy ``replicates`` table.
    """
    rng = np.random.default_rng(seed_sequence)
    y, observed, _ = generate(payload.model, rng)
    res = (_analyse_refit if payload.plan.engine == "refit" else _analyse_api)(payload, y, observed)
    tail = [float(np.asarray(res["converged"]).all()), float(np.asarray(res["n_subjects"])[0]),
            float(observed[:, -1].sum())]
    return np.concatenate([np.asarray(res[k], float).reshape(-1) for k in RECORD_FIELDS] + [np.asarray(tail)])


class _RunningPower:
    """``on_chunk`` of a simulation: the rejection rate so far and its Monte Carlo SE, for the progress bar.

    Reads only the records that arrived since its last call (``results_so_far`` grows by appending),
    then calls the user's ``on_chunk`` when there is one.
    """

    def __init__(self, names: Sequence[str], alpha: float, then: Callable[[int, list], Any] | None) -> None:
        self.names = list(names)
        self.alpha = float(alpha)
        self.then = then
        self.seen = 0
        self.rejected = np.zeros(len(self.names))

    def __call__(self, done: int, results_so_far: list) -> str:
        k = len(self.names)
        new = results_so_far[self.seen:]
        if new:
            j = RECORD_FIELDS.index("p_adjusted")
            p_adj = np.vstack(new)[:, j * k:(j + 1) * k]
            self.rejected += (p_adj < self.alpha).sum(axis=0)
            self.seen = len(results_so_far)
        if self.then is not None:
            self.then(done, results_so_far)
        n = max(self.seen, 1)
        rate = self.rejected / n
        se = np.sqrt(rate * (1.0 - rate) / n)
        return "power (MC SE) " + ", ".join(f"{name} {r:.3f} ({e:.3f})" for name, r, e in zip(self.names, rate, se))


# ---------------------------------------------------------------------------- the driver

def _fingerprint(model: TrialModel, plan: AnalysisPlan) -> str:
    text = json.dumps({"model": model.describe(), "plan": plan.describe(), "record": RECORD_VERSION},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def simulate_power(
    model: TrialModel,
    *,
    n_sim: int = 1000,
    seed: int | Sequence[int] | np.random.SeedSequence | None = 20190159,
    analysis: str = "mmrm",
    baseline: str = "covariate",
    covariance: str = "us",
    df_method: str = "kenward-roger",
    adjust: str = "none",
    alpha: float = 0.05,
    conf_level: float = 0.95,
    engine: str = "refit",
    workers: int | None = None,
    scheduler: str | Client | None = None,
    progress: bool | None = None,
    max_errors: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    on_chunk: Callable[[int, list[Mapping[str, object]]], object] | None = None,
) -> SimulationResult:
    """Simulate ``n_sim`` trials from ``model`` and analyse each as planned.

    Parameters
    ----------
    model
        The trial to simulate (:class:`TrialModel`; ``model.null()`` for type I error).
    n_sim
        Number of simulated trials.
    seed
        Root seed; replicate i uses the i-th child of ``SeedSequence(seed).spawn(n_sim)``, so
        the result does not depend on how many workers ran it.
    analysis, baseline, covariance, df_method, adjust, alpha, conf_level, engine
        The planned analysis (:class:`AnalysisPlan`).
    workers, scheduler, progress, max_errors, checkpoint, on_chunk
        Passed to the replicate runner (:mod:`retrostudy.replicates`): a Dask
        ``LocalCluster`` of ``workers`` processes or a user's ``scheduler``
        (``"tcp://host:port"``); a progress bar; stop after ``max_errors`` failed
        replicates; save finished chunks to the ``checkpoint`` directory and resume from
        it; ``on_chunk(done, results_so_far)`` for a running estimate.

    Returns
    -------
    SimulationResult
        Per contrast: rejection rate (power, or type I error under the null) with its
        Monte Carlo SE and interval, bias, empirical and mean model SE, coverage; plus
        ``any`` (at least one rejection); ``replicates`` holds every replicate's numbers.

    Raises
    ------
    SpecError
        For a bad plan or model, or workers / scheduler / checkpoint without the runner.

    Examples
    --------
    >>> import numpy as np
    >>> from retrostudy.planning import TrialModel, simulate_power
    >>> m = TrialModel(arms=("new", "control"), n_per_arm=(20, 20), visits=("baseline", "week6"),
    ...                means=[[5, 4], [5, 5]], sd=1.5, corr=[[1, 0.6], [0.6, 1]], retention=[1, 0.9])
    >>> res = simulate_power(m, n_sim=20, seed=1, analysis="ancova")
    >>> res.to_frame().loc[0, "contrast"], int(res.to_frame().loc[0, "n_sim"])
    ('new - control', 20)
    """
    from ..replicates import run_replicates
    from .simresult import summarise

    if not isinstance(model, TrialModel):
        raise SpecError(f"model must be a TrialModel, not {type(model).__name__}.")
    if isinstance(n_sim, bool) or not isinstance(n_sim, (int, np.integer)) or n_sim < 1:
        raise SpecError(f"n_sim must be a whole number of at least 1, not {n_sim!r}.")
    plan = AnalysisPlan(analysis=analysis, baseline=baseline, covariance=covariance, df_method=df_method, adjust=adjust, alpha=alpha,
                        conf_level=conf_level, engine=engine)
    truth, truth_se = true_effects(model)
    payload = build_payload(model, plan, truth=np.array(list(truth.values())))
    run_ = run_replicates(simulate_replicate, int(n_sim), payload=payload, seed=seed, workers=workers,
                          scheduler=scheduler, progress=progress, max_errors=max_errors, checkpoint=checkpoint,
                          fingerprint=_fingerprint(model, plan), label=f"simulate {plan.analysis}",
                          on_chunk=_RunningPower(list(truth), plan.alpha, on_chunk))
    return summarise(run_, model=model, plan=plan, truth=truth, truth_se=truth_se, seed=seed)


def simulate_power_curve(model: TrialModel, n_total: Any, **kwargs: Any) -> pd.DataFrame:
    """Simulated power at each total sample size (the model's allocation kept).

    Parameters
    ----------
    model
        The trial to simulate; :meth:`TrialModel.with_n` rescales it to each size.
    n_total
        Total sample sizes.
    **kwargs
        Passed to :func:`simulate_power` (``n_sim``, ``seed``, ``analysis``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per size and contrast: ``label`` (the contrast), ``n_total``, ``power``
        (the rejection rate), ``mc_se``, ``conf_low``, ``conf_high``.
    """
    rows = []
    for n in n_total:
        res = simulate_power(model.with_n(int(n)), **kwargs)
        for r in res.to_frame().itertuples():
            if r.contrast == "any":
                continue
            rows.append({"label": f"{r.contrast} (simulated)", "n_total": float(sum(res.model["n_per_arm"])),
                         "power": r.rejection_rate, "mc_se": r.rejection_mc_se, "conf_low": r.rejection_conf_low,
                         "conf_high": r.rejection_conf_high})
    return pd.DataFrame(rows, columns=["label", "n_total", "power", "mc_se", "conf_low", "conf_high"])
