"""The fitted-model contract: :class:`ModelFit` and its typed parts.

A :class:`ModelFit` is the one interface between the model code (ANCOVA, LMM, MMRM) and
everything after it (``emmeans``, ``contrasts``, ``effect_sizes``, tables, the report,
multiple imputation, simulation). Its fields are a closed, documented list:

===================== ==========================================================================
field                 what
===================== ==========================================================================
``coef``, ``vcov``    fixed effects and the covariance used for inference
``design``            turns any frame of the variables into model-matrix rows (reference grids)
``inference``         a picklable object answering ``dof(L)`` and ``ftest(L)`` by the df method
                      (:mod:`retrostudy.models.inference`)
``fit_stats``         :class:`FitStats`: n, log-likelihood, AIC/BIC, optimizer state
``spec``              :class:`FitSpec`: what was asked (mean model, columns, options)
``details``           per-model internals (:class:`ModelDetails` subclasses in ``models/``), read
                      only by ``models/``
``data``              the rows analysed; ``exclusions`` every row or subject left out
===================== ==========================================================================

Everything is frozen and picklable, so a fit can be sent to another process (a Dask
worker) and read there through its methods: :meth:`ModelFit.linear`,
:meth:`ModelFit.fitted`, :meth:`ModelFit.residuals`, :meth:`ModelFit.n_analysed`,
:meth:`ModelFit.subjects_used`, :meth:`ModelFit.refit`.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import Field, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from .design import Design
from .exclusions import ExclusionLog
from .tidy import TIDY_COLUMNS, TidyResult, check_conf_level, fit_provenance, infer_linear, json_safe

if TYPE_CHECKING:  # annotations only: importing the models here would make `import retrostudy` slower
    from .models.inference import Inference

__all__ = ["TidyResult", "ModelFit", "FitStats", "FitSpec", "Columns", "ModelDetails", "TIDY_COLUMNS",
           "infer_linear", "fit_provenance", "json_safe", "check_conf_level"]


class _Record(Mapping[str, Any]):
    """Read a frozen dataclass also as a mapping of its set (non-None) fields, so
    ``fit.fit_stats["aic"]``, ``"aic" in fit.fit_stats`` and ``dict(fit.spec)`` keep working."""

    _aliases: Mapping[str, str] = {}
    if TYPE_CHECKING:  # every subclass is a dataclass
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def _names(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def __getitem__(self, key: str) -> Any:
        name = self._aliases.get(key, key)
        if name in self._names():
            return getattr(self, name)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def to_dict(self) -> dict[str, object]:
        """The set fields as a JSON-safe dict."""
        return json_safe({k: (v.to_dict() if isinstance(v, _Record) else v) for k, v in self.items()})


@dataclass(frozen=True)
class FitStats(_Record):
    """Fit statistics (SAS conventions for AIC/BIC of REML fits: covariance parameters only).

    Attributes
    ----------
    n_subjects, n_obs
        Subjects and observations analysed.
    method
        ``"reml"``, ``"ml"`` or ``"ols"``.
    loglik, minus2_loglik, aic, bic
        Log-likelihood (restricted for REML), -2 log L and the information criteria.
    converged
        Whether the optimizer met its criterion.
    n_cov_params, iterations, gradient_norm, hessian_pd, optimizer
        Engine fits: covariance parameters, Newton iterations, largest absolute gradient,
        whether the Hessian is positive definite, the optimizer path.
    n_subjects_ic
        Subjects counted in BIC (SAS counts subjects without any response too).
    df_resid, sigma, r_squared
        OLS fits: residual df, root mean squared error, R squared.
    covariance, df_method, vcov, random
        Model options echoed for display.
    note
        What a reader must know about the optimum, e.g. a boundary (singular) fit.
    """

    n_subjects: int
    n_obs: int | None = None
    method: str | None = None
    loglik: float | None = None
    minus2_loglik: float | None = None
    aic: float | None = None
    bic: float | None = None
    converged: bool = True
    n_cov_params: int | None = None
    iterations: int | None = None
    gradient_norm: float | None = None
    hessian_pd: bool | None = None
    optimizer: str | None = None
    n_subjects_ic: int | None = None
    df_resid: float | None = None
    sigma: float | None = None
    r_squared: float | None = None
    covariance: str | None = None
    df_method: str | None = None
    vcov: str | None = None
    random: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Columns(_Record):
    """Column names a fit read its data from (DESIGN.md: one ``columns=`` keyword).

    ``subject``, ``visit``, ``arm``, ``response`` always; ``time`` (LMM slope), ``group``
    (a covariance per level, SAS ``GROUP=``) and ``weights`` (SAS ``WEIGHT``) when used.
    """

    subject: str = "subject_id"
    visit: str = "visit"
    arm: str | None = "arm"
    response: str = "value"
    time: str | None = None
    group: str | None = None
    weights: str | None = None


@dataclass(frozen=True)
class FitSpec(_Record):
    """What the fit was asked to do.

    Attributes
    ----------
    model, outcome
        ``"ancova"``, ``"lmm"`` or ``"mmrm"``; the outcome id.
    mean
        Right-hand side of the mean model (``"arm + baseline"``,
        ``"arm * visit + baseline"``).
    columns
        :class:`Columns` of the data.
    covariates
        Covariates as given (``"age"``, ``"age:visit"``).
    baseline
        How the baseline visit enters: ``"covariate"``, ``"covariate_by_visit"`` or
        ``"none"`` (kept as a response).
    baseline_visit
        The baseline visit's label.
    visit
        ANCOVA: the analysis visit's label (None for longitudinal fits).
    response
        What is modelled: ``"value"`` or ``"change"`` (from baseline).
    reference_arm, reference_levels, conf_level
        Reference arm, reference level of other factors, confidence level.
    method, df_method, covariance, vcov, random, information
        Estimation method, df method, covariance structure, ``"model"``/``"empirical"``
        vcov, random-effects form (LMM) and Kenward-Roger information.
    """

    model: str
    outcome: str
    mean: str
    columns: Columns = field(default_factory=Columns)
    covariates: tuple[str, ...] = ()
    baseline: str | None = None
    baseline_visit: str | None = None
    visit: str | None = None
    response: str = "value"
    reference_arm: str | None = None
    reference_levels: Mapping[str, str] | None = None
    conf_level: float = 0.95
    method: str | None = None
    df_method: str | None = None
    covariance: str | None = None
    vcov: str | None = None
    random: str | None = None
    information: str | None = None

    _aliases = {"rhs": "mean", "reference": "reference_levels"}


@dataclass(frozen=True, eq=False)
class ModelDetails:
    """Base of the per-model internals (``ModelFit.details``); subclasses live in
    ``retrostudy.models`` and only ``models/`` reads them."""


@dataclass(frozen=True, eq=False, repr=False)
class ModelFit(TidyResult):
    """A fitted mean model with everything inference needs.

    Attributes
    ----------
    model, outcome
        ``"ancova"``, ``"lmm"`` or ``"mmrm"``; the outcome id.
    design
        How to build model-matrix rows for a reference grid.
    coef
        Fixed-effect estimates indexed by ``design.columns``.
    vcov
        Their covariance used for inference (Kenward-Roger adjusted where asked).
    inference
        The df method's picklable object (:mod:`retrostudy.models.inference`):
        ``dof(L)`` and ``ftest(L)``.
    grid_factors
        Factors of the reference grid: ``("arm",)`` or ``("arm", "visit")``.
    reference_arm
        The arm contrasts compare against.
    df_method, conf_level
        Inference settings.
    response
        ``"value"`` or ``"change"`` (change from baseline).
    residual_covariance
        Visit x visit covariance (MMRM), variance components (LMM) or residual
        variance (ANCOVA).
    fit_stats
        :class:`FitStats`.
    converged
        Whether the optimizer met its criterion.
    exclusions
        Every row or subject left out, before and by the model, with its reason.
    provenance
        Package versions and the data's sha256.
    data
        The analysis rows the model was fitted to (with ``baseline`` where used).
    spec
        :class:`FitSpec`.
    details
        Per-model internals (:class:`ModelDetails`).

    Examples
    --------
    >>> import retrostudy as rs
    >>> fit = rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
    >>> fit.n_analysed()
    {'retro': 21, 'forward': 20, 'control': 18}
    >>> fit.fit_stats.n_obs, fit.spec.mean
    (59, 'arm + baseline')
    """

    model: str
    outcome: str
    design: Design
    coef: pd.Series
    vcov: pd.DataFrame
    inference: Inference
    grid_factors: tuple[str, ...]
    reference_arm: str
    df_method: str
    conf_level: float = 0.95
    response: str = "value"
    residual_covariance: pd.DataFrame | None = None
    fit_stats: FitStats | None = None
    converged: bool = True
    exclusions: ExclusionLog = field(default_factory=ExclusionLog)
    provenance: Mapping[str, object] = field(default_factory=dict)
    data: pd.DataFrame | None = None
    spec: FitSpec | None = None
    details: ModelDetails = field(default_factory=ModelDetails)

    @property
    def title(self) -> str:
        """Model, outcome and response, e.g. ``"ANCOVA fit of pain_nrs (response: value)"``."""
        return f"{self.model.upper()} fit of {self.outcome} (response: {self.response})"

    @property
    def settings(self) -> dict[str, object]:
        """What ``summary()`` prints above the coefficients: df method, level, sizes, fit statistics."""
        out: dict[str, object] = {"df_method": self.df_method, "conf_level": self.conf_level}
        st = self.fit_stats
        if st is not None:
            out.update({k: st[k] for k in ("n_subjects", "n_obs", "method", "minus2_loglik", "aic") if k in st})
        if self.spec is not None and self.spec.covariance:
            out["covariance"] = self.spec.covariance
        if self.spec is not None and self.spec.vcov:
            out["vcov"] = self.spec.vcov
        if not self.converged:
            out["converged"] = False
        if st is not None and st.note:
            out["notes"] = [st.note]
        n_excl = self.n_excluded()
        if n_excl:
            out["excluded_subjects"] = n_excl
        return out

    # ------------------------------------------------------------ inference

    def dof(self, L: np.ndarray) -> np.ndarray:
        """Denominator df of each row of ``L`` by the fit's df method.

        Parameters
        ----------
        L
            Linear combinations of the coefficients, k x p (or one row of p).

        Returns
        -------
        numpy.ndarray
            k df (residual, between-within, Satterthwaite or Kenward-Roger).

        Examples
        --------
        >>> import numpy as np, retrostudy as rs
        >>> fit = rs.fit_mmrm(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", baseline="none")
        >>> list(fit.coef.index)  # doctest: +NORMALIZE_WHITESPACE
        ['Intercept', 'arm[retro]', 'arm[forward]', 'visit[week6]',
         'arm[retro]:visit[week6]', 'arm[forward]:visit[week6]']
        >>> fit.dof(np.eye(6)).round(1)  # Satterthwaite: between-subject terms get more df
        array([65. , 65. , 65. , 56.6, 56.5, 56.5])
        """
        return np.asarray(self.inference.dof(L), float).reshape(-1)

    def ftest(self, L: np.ndarray) -> tuple[float, float, float]:
        """Wald F test of ``L b = 0`` by the fit's df method (Kenward-Roger: scaled F).

        Parameters
        ----------
        L
            Hypothesis matrix, k x p, rows linearly independent.

        Returns
        -------
        tuple of float
            ``(F, num_df, den_df)``.

        Examples
        --------
        >>> import numpy as np, retrostudy as rs
        >>> fit = rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
        >>> list(fit.coef.index)
        ['Intercept', 'arm[retro]', 'arm[forward]', 'baseline']
        >>> F, num_df, den_df = fit.ftest(np.eye(4)[1:3])  # no difference between the arms
        >>> round(F, 3), num_df, den_df
        (3.62, 2.0, 55.0)
        """
        return self.inference.ftest(L)

    def linear(self, L: np.ndarray) -> dict[str, np.ndarray]:
        """Estimate, SE, df, t statistic, p-value and CI of linear combinations of the coefficients.

        Parameters
        ----------
        L
            k x p (or one row of p).

        Returns
        -------
        dict of numpy.ndarray
            ``estimate``, ``std_error``, ``df``, ``statistic``, ``p_value``, ``conf_low``,
            ``conf_high`` (at the fit's ``conf_level``), k values each.

        Examples
        --------
        >>> import numpy as np, retrostudy as rs
        >>> fit = rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
        >>> res = fit.linear(np.array([0, 1, -1, 0]))  # retro minus forward
        >>> {k: round(float(v[0]), 3) for k, v in res.items() if k in ("estimate", "std_error", "p_value")}
        {'estimate': -0.352, 'std_error': 0.29, 'p_value': 0.231}
        """
        L = np.atleast_2d(np.asarray(L, float))
        b = self.coef.to_numpy()
        V = self.vcov.to_numpy()
        est = L @ b
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))
        df = self.dof(L)
        return {"estimate": est, "std_error": se, "df": df, **infer_linear(est, se, df, self.conf_level)}

    @property
    def table(self) -> pd.DataFrame:
        """Coefficient table with the tidy columns."""
        res = self.linear(np.eye(len(self.coef)))
        frame = pd.DataFrame({"term": list(self.coef.index), **res})
        return frame.loc[:, list(TIDY_COLUMNS)]

    # ------------------------------------------------------------ the data analysed

    @property
    def columns(self) -> Columns:
        """The :class:`Columns` the data were read from."""
        return self.spec.columns if self.spec is not None else Columns()

    def _analysed(self) -> pd.DataFrame:
        if self.data is None:
            raise AttributeError("This fit carries no data (a hand-built fit without data=).")
        return self.data

    def fitted(self) -> np.ndarray:
        """Marginal fitted values ``X b`` of the analysed rows, in the order of ``data``.

        Raises
        ------
        AttributeError
            A hand-built fit without ``data``.

        Examples
        --------
        >>> import retrostudy as rs
        >>> fit = rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
        >>> fit.fitted()[:3].round(3), fit.residuals()[:3].round(3)
        (array([5.952, 5.066, 3.294]), array([ 0.048, -1.066,  0.706]))
        """
        X = self.design.matrix(self._analysed())
        return np.asarray(X, float) @ self.coef.to_numpy()

    def residuals(self) -> np.ndarray:
        """Marginal residuals ``y - X b`` of the analysed rows (``y``: the modelled response),
        in the order of ``data`` (example: :meth:`fitted`)."""
        data = self._analysed()
        col = self.response if self.model == "ancova" else self.columns.response
        return data[col].to_numpy(float) - self.fitted()

    def subjects_used(self) -> tuple[str, ...]:
        """Ids of the subjects that contribute to the fit, sorted.

        Examples
        --------
        >>> import retrostudy as rs
        >>> fit = rs.fit_ancova(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs")
        >>> len(fit.subjects_used()), fit.subjects_used()[:3]
        (59, ('C01', 'C02', 'C05'))
        """
        data = self._analysed()
        return tuple(sorted(pd.unique(data[self.columns.subject].astype(str))))

    def n_analysed(self, by: str | None = "arm") -> dict[str, int] | int:
        """Subjects analysed, per arm, per visit or in total.

        Parameters
        ----------
        by
            ``"arm"`` (in level order), ``"visit"`` (subjects with a value there), another
            column of ``data``, or None for the total.

        Returns
        -------
        dict or int
            Level -> subjects, or the number of subjects.

        Raises
        ------
        KeyError
            The analysed data have no such column.

        Examples
        --------
        >>> import retrostudy as rs
        >>> fit = rs.fit_mmrm(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", baseline="none")
        >>> fit.n_analysed(), fit.n_analysed(by="visit"), fit.n_analysed(by=None)
        ({'retro': 23, 'forward': 23, 'control': 22}, {'baseline': 68, 'week6': 59}, 68)
        """
        data = self._analysed()
        subject = self.columns.subject
        if by is None:
            return int(data[subject].nunique())
        col = {"arm": self.columns.arm, "visit": self.columns.visit}.get(by, by)
        if col is None or col not in data.columns:
            raise KeyError(f"The analysed data have no column for {by!r}.")
        levels = (list(self.design.factors[col].levels) if col in self.design.factors
                  else sorted(pd.unique(data[col].astype(str))))
        counts = data.groupby(data[col].astype(str), observed=True)[subject].nunique()
        return {str(level): int(counts.get(str(level), 0)) for level in levels}

    def n_excluded(self) -> int:
        """Subjects in the exclusion log that do not contribute to the fit at all."""
        if self.data is None or self.exclusions is None or not len(self.exclusions):
            return 0
        frame = self.exclusions.to_frame()
        if "subject_id" not in frame.columns:
            return 0
        used = set(self.subjects_used())
        logged = {str(s) for s in frame["subject_id"].dropna()}
        return len(logged - used)

    # ------------------------------------------------------------ replicates

    def refit(self, *, response: np.ndarray | None = None, keep: np.ndarray | None = None,
              drop_subjects: Sequence[str] | None = None,
              subject_weights: pd.Series | Sequence[int] | np.ndarray | None = None) -> ModelFit:
        """The same MMRM or LMM refitted on the same design (warm-started), with other
        responses, rows or subjects (jackknife, bootstrap, imputed or simulated data).

        Parameters
        ----------
        response
            New response values of the analysed rows, in the order of ``data``.
        keep
            Boolean mask of the analysed rows to keep.
        drop_subjects
            Subject ids to leave out (logged in the exclusion log, stage ``"refit"``).
        subject_weights
            Whole-number copies of each subject (a bootstrap sample): a Series indexed by
            subject id, or an array in ``Refitter(fit).subjects`` order.

        Returns
        -------
        ModelFit
            Its data, exclusion log and statistics describe the replicate.

        Raises
        ------
        SpecError
            An ANCOVA fit, or replicate arguments that do not match the analysed rows.
        ModelError
            The replicate cannot be fitted.

        Examples
        --------
        >>> import numpy as np, retrostudy as rs
        >>> fit = rs.fit_mmrm(rs.load_dataset("alghadir2019_sim"), outcome="pain_nrs", baseline="none")
        >>> jack = fit.refit(drop_subjects=["R01"])
        >>> jack.n_analysed(by=None), bool(np.allclose(fit.refit().coef, fit.coef))
        (67, True)
        """
        from .models.refit import refit

        return refit(self, response=response, keep=keep, drop_subjects=drop_subjects,
                     subject_weights=subject_weights)

    # ------------------------------------------------------------ old spellings

    @property
    def extra(self) -> dict[str, object]:
        """Deprecated: the per-model internals as a dict; read :attr:`details` in ``models/``."""
        warnings.warn("ModelFit.extra is deprecated; use the fit's methods, or ModelFit.details inside "
                      "retrostudy.models.", FutureWarning, stacklevel=2)
        d = self.details
        return {f.name: getattr(d, f.name) for f in fields(d)} if hasattr(d, "__dataclass_fields__") else {}

    def to_dict(self) -> dict[str, object]:
        """JSON-safe: the coefficient table, settings, fit statistics, spec, vcov, exclusions."""
        base = super().to_dict()
        base.update(
            json_safe(
                {
                    "model": self.model,
                    "outcome": self.outcome,
                    "response": self.response,
                    "reference_arm": self.reference_arm,
                    "fit_stats": self.fit_stats.to_dict() if self.fit_stats is not None else {},
                    "converged": self.converged,
                    "spec": self.spec.to_dict() if self.spec is not None else {},
                    "provenance": dict(self.provenance),
                    "vcov": self.vcov.to_numpy(),
                    "residual_covariance": None
                    if self.residual_covariance is None
                    else self.residual_covariance.reset_index(),
                    "exclusions": self.exclusions.to_dict(),
                }
            )
        )
        json.dumps(base)  # guarantee JSON-safety
        return base
