"""``rs.sensitivity`` and ``rs.tipping_point``: reference-based multiple imputation, as rbmi does it.

The steps (rbmi's draws -> impute -> analyse -> pool):

1. **data** (:mod:`.data`): one row per subject, NaN where a value is missing; the
   baseline handled as ``baseline=`` says; subjects left out are logged.
2. **intercurrent events** (:mod:`.ice`): derived from monotone dropout, or given.
3. **imputation model** (:mod:`.model`): an MMRM (``rs.fit_mmrm``, REML, ``us`` by
   default) of the values that follow MAR on ``arm * visit`` + covariates by visit
   (+ baseline by visit), fitted to the full data and to every replicate's subjects.
4. **impute** (:mod:`.impute`, :mod:`.strategies`): each subject's missing values from
   the strategy's distribution given their observed values: the conditional mean
   (``condmean-*``) or a draw (``approx-bayes``, ``bayes``).
5. **analyse** (:mod:`.analyse`): an ANCOVA at every post-baseline visit, with the
   deltas of :mod:`.delta` added to imputed values after the ICE.
6. **pool** (:mod:`.pool`): jackknife or bootstrap SE with normal intervals, or Rubin's
   rules with Barnard-Rubin df.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..trial import TrialData
from .delta import delta_matrix, grid_deltas
from .engine import METHODS, _compute, _fitted, _prepare
from .estimand import Estimand
from .results import (
    RESULT_COLUMNS,
    SensitivityResult,
    TippingPointResult,
    tipping_points,
)
from .tidy import _estimand, _failure_frame, _imputed_frame, _replicate_frame, _settings, _table

__all__ = ["METHODS", "sensitivity", "tipping_point"]


def sensitivity(
    data: TrialData | pd.DataFrame,
    *,
    outcome: str | None = None,
    strategy: str = "mar",
    method: str = "condmean-jackknife",
    covariates: Sequence[str] = (),
    baseline: str = "covariate_by_visit",
    reference_arm: str | None = None,
    references: Mapping[str, str] | None = None,
    ice: str | pd.DataFrame | None = None,
    delta: pd.DataFrame | None = None,
    n_samples: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    covariance: str = "us",
    same_cov: bool = True,
    family: str = "trt_vs_ref",
    conf_level: float = 0.95,
    max_errors: int | None = None,
    estimand: Estimand | None = None,
    prior: str = "inverse-wishart",
    burn_in: int = 200,
    thin: int = 50,
    n_imputations: int = 2,
    progress: bool | None = None,
    ci: str = "normal",
    columns: Mapping[str, str] | None = None,
    baseline_visit: str | None = None,
) -> SensitivityResult:
    """Reference-based multiple imputation of missing values after intercurrent events (rbmi in Python).

    Parameters
    ----------
    data
        TrialData or a canonical long DataFrame (``outcome`` selects the rows), or any
        long frame with one row per subject and visit (``outcome=None``; name its columns
        with ``columns=``). Missing values may be absent rows or rows with a missing value.
    outcome
        The outcome id (canonical data).
    strategy
        How missing values after an ICE are imputed: ``"mar"``, ``"j2r"`` (jump to
        reference), ``"cr"`` (copy reference), ``"cir"`` (copy increments from
        reference) or ``"lmcf"`` (last mean carried forward). An ICE table may give a
        strategy per subject.
    method
        ``"condmean-jackknife"`` (conditional mean imputation, jackknife SE;
        deterministic), ``"condmean-bootstrap"``, ``"approx-bayes"`` (bootstrapped REML
        fits, random imputation, Rubin's rules), ``"bayes"`` (Gibbs sampler, see
        :mod:`retrostudy.missing.gibbs`; ``prior``, ``burn_in``, ``thin``) or ``"bmlmi"``
        (bootstrapped ML MI: ``n_imputations`` random imputations of each bootstrap sample).
    covariates
        Subject-level columns: by visit in the imputation model, main effects in the
        analysis ANCOVA.
    baseline
        ``"covariate_by_visit"`` (default), ``"none"`` or ``"absent"``; see
        :mod:`retrostudy.missing.data`.
    reference_arm
        The arm contrasts compare against and reference-based strategies refer to
        (default: the last arm, ``control`` in the retro trial).
    references
        ``{arm: reference arm}`` overriding the reference of some arms.
    ice
        None (derived from monotone dropout), a subject-level column holding the first
        affected visit, or a table (subject, visit, optional strategy); see
        :mod:`retrostudy.missing.ice`.
    delta
        A table (subject or arm, visit, delta) added to imputed values after the ICE.
    n_samples
        Bootstrap samples or imputations (defaults 1000, 100, 100, 100); None for the jackknife.
    seed
        Seed of ``numpy.random.SeedSequence`` (random methods); the one used is in ``settings``.
    workers, scheduler
        Run the replicates on a Dask LocalCluster with ``workers`` processes, or on the
        cluster at ``scheduler``; the results are identical to the serial run.
    covariance, same_cov
        Covariance structure of the imputation MMRM (any of ``rs.fit_mmrm``'s) and
        whether the arms share it (``False``: one per arm, as the SAS five macros fit).
    family
        The family of contrasts (as in ``rs.contrasts``): ``"trt_vs_ref"`` (every arm minus the
        reference) or ``"pairwise"`` (every earlier arm minus every later one).
    conf_level
        Confidence level of the intervals.
    max_errors
        Replicates allowed to fail (default 1 % of ``n_samples``; 0 for the jackknife).
    estimand
        The estimand to attach to the result (default: the one this call estimates).
    prior, burn_in, thin
        Options of ``method="bayes"``.
    n_imputations
        Imputations per bootstrap sample of ``method="bmlmi"`` (bootstrapped maximum-likelihood
        MI, von Hippel & Bartlett 2021; rbmi ``method_bmlmi``'s D).
    progress
        Progress bar of the replicates: None (after 2 s), True or False.
    ci
        ``"normal"`` (default) or, with ``condmean-bootstrap``, ``"percentile"`` (rbmi's
        ``pool(type = "percentile")``: type-6 quantiles of the bootstrap estimates and the
        matching p-value; ``std_error`` stays the bootstrap SD).
    columns
        The data's column names, as ``fit_mmrm`` takes them: a dict with any of the keys
        ``subject`` (default ``"subject_id"``), ``visit`` (``"visit"``), ``arm`` (``"arm"``)
        and ``response`` (``"value"``).
    baseline_visit
        The baseline visit (default: the trial's declared baseline, else the first visit).

    Returns
    -------
    SensitivityResult
        ``to_frame()``: ``contrast, visit, estimate, std_error, df, conf_low, conf_high,
        p_value`` for every contrast at every post-baseline visit.

    Raises
    ------
    SpecError
        An invalid option, column, ICE table, reference arm or delta table.
    ModelError
        The imputation model cannot be fitted to the data, or too many replicates fail.

    Examples
    --------
    >>> import retrostudy as rs
    >>> trial = rs.load_dataset("alghadir2019_sim")
    >>> res = rs.sensitivity(trial, outcome="pain_nrs", strategy="j2r")
    >>> list(res.to_frame().columns)
    ['contrast', 'visit', 'estimate', 'std_error', 'df', 'conf_low', 'conf_high', 'p_value']
    """
    method, strategy, n_samples, setup = _prepare(
        data, outcome, strategy, method, covariates, baseline, reference_arm, references, ice, n_samples, covariance,
        same_cov, family, conf_level, columns, baseline_visit)
    if ci not in ("normal", "percentile") or (ci == "percentile" and method != "condmean-bootstrap"):
        raise SpecError(f"ci must be 'normal', or 'percentile' with method='condmean-bootstrap', not {ci!r}.")
    deltas = None if delta is None else delta_matrix(setup.data, setup.plan, delta)[None]
    setup = _fitted(setup)
    pooled = _compute(setup, method, deltas, n_samples=n_samples, seed=seed, workers=workers, scheduler=scheduler,
                      max_errors=max_errors, bayes_options={"prior": prior, "burn_in": burn_in, "thin": thin,
                                     "n_imputations": n_imputations},
                      progress=progress, ci=ci, conf_level=conf_level)
    notes = []
    if deltas is not None:
        n_adj = int(np.count_nonzero(deltas))
        notes.append(f"Delta adjustment: {n_adj} imputed value(s) after an ICE shifted by the delta table.")
    settings = _settings(setup, method, strategy, pooled, conf_level, covariance, same_cov, family, notes)
    if method == "bmlmi":
        settings["n_imputations"] = pooled.extra["n_imputations"]
    if method == "bayes":
        settings.update({k: v for k, v in pooled.extra.items() if k not in ("notes", "where")})
        settings["notes"] = settings["notes"] + list(pooled.extra.get("notes", []))
    override = {k: v[0] for k, v in pooled.extra["percentile"].items()} if ci == "percentile" else None
    if ci == "percentile":
        settings["df"] = "bootstrap percentile"
        settings["notes"][0] = (f"Conditional mean imputation; {pooled.n_samples} bootstrap samples: percentile "
                                "intervals and p-values (type-6 quantiles of the bootstrap estimates); std_error is "
                                "the bootstrap SD.")
    return SensitivityResult(
        table=_table(setup, pooled.est[0], pooled.se[0], pooled.df[0], conf_level, override=override),
        settings=settings,
        lsmeans=_table(setup, pooled.est[0], pooled.se[0], pooled.df[0], conf_level, lsmeans=True,
                       override=override),
        estimand=estimand if estimand is not None else _estimand(setup, strategy, ice),
        ice=setup.ice.table(setup.data),
        replicates=_replicate_frame(setup, pooled.replicates),
        failures=_failure_frame(pooled.failures),
        exclusions=setup.exclusions,
        imputation_model=setup.fit,
        imputed=_imputed_frame(setup, pooled.extra.get("imputed"), deltas),
    )


def tipping_point(
    data: TrialData | pd.DataFrame,
    *,
    deltas: Sequence[float],
    arm: str,
    outcome: str | None = None,
    strategy: str = "mar",
    method: str = "condmean-jackknife",
    covariates: Sequence[str] = (),
    baseline: str = "covariate_by_visit",
    reference_arm: str | None = None,
    references: Mapping[str, str] | None = None,
    ice: str | pd.DataFrame | None = None,
    n_samples: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    covariance: str = "us",
    same_cov: bool = True,
    family: str = "trt_vs_ref",
    conf_level: float = 0.95,
    alpha: float | None = None,
    contrast: str | None = None,
    max_errors: int | None = None,
    estimand: Estimand | None = None,
    prior: str = "inverse-wishart",
    burn_in: int = 200,
    thin: int = 50,
    n_imputations: int = 2,
    progress: bool | None = None,
    columns: Mapping[str, str] | None = None,
    baseline_visit: str | None = None,
) -> TippingPointResult:
    """The sensitivity analysis repeated with each delta of a grid added to ``arm``'s imputed values.

    Each delta is added to the imputed values of ``arm``'s subjects at every visit at or
    after their ICE (rbmi's marginal delta); the imputations are computed once and
    every delta is analysed on them (the replicates do not depend on the delta).

    Parameters
    ----------
    deltas
        The grid, walked in the order given (start at 0 and move in the direction that
        works against ``arm``).
    arm
        The arm whose imputed values are shifted.
    alpha
        Significance level of the tipping point (default ``1 - conf_level``).
    contrast
        The contrast whose tipping point the attributes give (default ``arm - reference``,
        or the first contrast when ``arm`` is the reference).
    Others
        As :func:`sensitivity`.

    Returns
    -------
    TippingPointResult
        One row per delta, contrast and visit; ``tipping_delta`` and
        ``tipping_delta_interpolated`` at the final visit.

    Raises
    ------
    SpecError
        An empty grid or an unknown arm, as well as everything :func:`sensitivity` raises.

    Examples
    --------
    >>> import retrostudy as rs
    >>> trial = rs.load_dataset("alghadir2019_sim")
    >>> tp = rs.tipping_point(trial, outcome="pain_nrs", arm="retro", deltas=[0, 1, 2, 3])
    >>> tp.to_frame().columns[0]
    'delta'
    """
    try:
        grid = np.asarray(list(deltas) if not np.isscalar(deltas) else [deltas], dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise SpecError("deltas must be a list of numbers, e.g. [0, 0.5, 1, 1.5, 2].") from None
    if grid.size == 0:
        raise SpecError("The delta grid is empty; give at least one delta, e.g. deltas=[0, 0.5, 1, 1.5, 2].")
    method, strategy, n_samples, setup = _prepare(
        data, outcome, strategy, method, covariates, baseline, reference_arm, references, ice, n_samples, covariance,
        same_cov, family, conf_level, columns, baseline_visit)
    D = grid_deltas(setup.data, setup.plan, grid, arm)
    names = setup.analysis.contrasts
    if contrast is not None and contrast not in names:
        raise SpecError(f"Contrast {contrast!r} is not one of {', '.join(names)}.")
    setup = _fitted(setup)
    pooled = _compute(setup, method, D, n_samples=n_samples, seed=seed, workers=workers, scheduler=scheduler,
                      max_errors=max_errors, bayes_options={"prior": prior, "burn_in": burn_in, "thin": thin,
                                     "n_imputations": n_imputations},
                      progress=progress)
    frames = []
    for k, d in enumerate(grid):
        frames.append(_table(setup, pooled.est[k], pooled.se[k], pooled.df[k], conf_level).assign(delta=float(d)))
    table = pd.concat(frames, ignore_index=True).loc[:, ["delta", *RESULT_COLUMNS]]
    alpha = 1.0 - float(conf_level) if alpha is None else float(alpha)
    final = setup.data.visits[setup.analysis.visits[-1]]
    names = setup.analysis.contrasts
    if contrast is None:
        ref = setup.reference_arm
        contrast = f"{arm} - {ref}" if arm != ref and f"{arm} - {ref}" in names else names[0]
    if contrast not in names:
        raise SpecError(f"Contrast {contrast!r} is not one of {', '.join(names)}.")
    tips = []
    for name in names:
        rows = table.loc[(table["contrast"] == name) & (table["visit"] == final)]
        first, interp = tipping_points(rows["delta"].to_numpy(), rows["p_value"].to_numpy(), alpha)
        tips.append({"contrast": name, "visit": final, "tipping_delta": first, "tipping_delta_interpolated": interp})
    tipping = pd.DataFrame(tips)
    mine = tipping.loc[tipping["contrast"] == contrast].iloc[0]
    settings = _settings(setup, method, strategy, pooled, conf_level, covariance, same_cov, family,
                         [f"Delta added to the imputed values of {arm} at every visit after the ICE."])
    settings.update({"arm": arm, "alpha": alpha, "n_deltas": int(grid.size)})
    return TippingPointResult(
        table=table, settings=settings, tipping_delta=float(mine["tipping_delta"]),
        tipping_delta_interpolated=float(mine["tipping_delta_interpolated"]), contrast=contrast, visit=final,
        alpha=alpha, arm=arm, tipping=tipping,
        estimand=estimand if estimand is not None else _estimand(setup, strategy, ice),
        ice=setup.ice.table(setup.data), failures=_failure_frame(pooled.failures), exclusions=setup.exclusions,
    )
