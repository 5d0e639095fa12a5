"""How a fitted model tests a linear combination ``L b``: the df-method dispatch.

A :class:`~retrostudy.results.ModelFit` carries one *inference object* (a small frozen,
picklable dataclass) instead of functions: it knows the fixed effects, the covariance
used for inference and whatever its df method needs, and answers two questions::

    inference.dof(L)    -> denominator df of each row of L      (k,)
    inference.ftest(L)  -> (F, numerator df, denominator df)     Wald F of L b = 0

======================  ======================================  =================================
df method               class                                   needs
======================  ======================================  =================================
``residual``            :class:`ResidualDf`                     one df (n - rank X)
``between-within``      :class:`BetweenWithin`                  the df of each column of X
``satterthwaite``       :class:`Satterthwaite`                  ``C``, ``Q_i``, ``W`` (engine)
``kenward-roger[...]``  :class:`KenwardRogerDf`                 a :class:`KRResult`
(hand-built fits)       :class:`CustomInference`                the caller's two functions
======================  ======================================  =================================

Symbols as in DESIGN.md section 7.1: ``C = (X'V^-1X)^-1``, ``Q_i = X'V^-1 V_i V^-1 X``,
``W`` the covariance of theta-hat, ``Phi_A`` the Kenward-Roger adjusted covariance.

:func:`make_inference` builds the right one from a REML engine fit; both longitudinal
models (:func:`~retrostudy.models.mmrm.fit_mmrm`, :func:`~retrostudy.models.lmm.fit_lmm`)
and the refits of :mod:`retrostudy.models.refit` call it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ModelError
from .dof import between_within_df, bw_dof, satterthwaite_dof, satterthwaite_ftest, wald_f
from .kenward_roger import KRResult, kenward_roger_engine
from .reml import RemlFit
from .sandwich import empirical_vcov

__all__ = ["Inference", "ResidualDf", "BetweenWithin", "Satterthwaite", "KenwardRogerDf", "CustomInference",
           "make_inference"]


@dataclass(frozen=True, eq=False)
class Inference:
    """Base class: the fixed effects and the covariance every test of ``L b`` uses.

    Attributes
    ----------
    df_method
        Name of the df method (``"residual"``, ``"satterthwaite"``, ...).
    beta
        Fixed-effect estimates (p,).
    vcov
        Their covariance used for inference (p, p): model-based, empirical or
        Kenward-Roger adjusted.
    """

    df_method: str
    beta: np.ndarray
    vcov: np.ndarray

    def dof(self, L: np.ndarray) -> np.ndarray:
        """Denominator df of each row of ``L`` (k, p)."""
        raise NotImplementedError

    def ftest(self, L: np.ndarray) -> tuple[float, float, float]:
        """Wald F test of ``L b = 0``: ``(F, num_df, den_df)``; the smallest row df by default."""
        F, q = wald_f(L, self.beta, self.vcov)
        return F, float(q), float(np.min(self.dof(L)))


@dataclass(frozen=True, eq=False)
class ResidualDf(Inference):
    """One df for every test: ``n_obs - rank(X)`` (OLS, SAS ``DDFM=RESIDUAL``)."""

    df: float = np.inf

    def dof(self, L: np.ndarray) -> np.ndarray:
        return np.full(np.atleast_2d(L).shape[0], float(self.df))


@dataclass(frozen=True, eq=False)
class BetweenWithin(Inference):
    """SAS ``DDFM=BW``: each column of X has a between- or within-subject df; a
    combination gets the smallest df of the columns it uses."""

    column_df: np.ndarray = field(default_factory=lambda: np.zeros(0))
    summary: dict[str, Any] = field(default_factory=dict)

    def dof(self, L: np.ndarray) -> np.ndarray:
        return bw_dof(L, self.column_df)


@dataclass(frozen=True, eq=False)
class Satterthwaite(Inference):
    """Satterthwaite df (Giesbrecht & Burns 1985) and Fai-Cornelius F tests.

    ``vcov_model`` is ``C = (X'V^-1X)^-1``, ``Q`` the engine's ``Q_i = X'V^-1 V_i V^-1 X``
    (n_theta, p, p) and ``theta_cov`` the asymptotic covariance ``W`` of the covariance
    parameters.
    """

    vcov_model: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    Q: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    theta_cov: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def dof(self, L: np.ndarray) -> np.ndarray:
        return satterthwaite_dof(L, self.vcov_model, self.Q, self.theta_cov)

    def ftest(self, L: np.ndarray) -> tuple[float, float, float]:
        return satterthwaite_ftest(L, self.beta, self.vcov_model, self.Q, self.theta_cov)


@dataclass(frozen=True, eq=False)
class KenwardRogerDf(Inference):
    """Kenward-Roger (1997): the adjusted covariance ``Phi_A`` (``vcov``), its df and the
    scaled F test, from the :class:`KRResult` ``kr``."""

    kr: KRResult | None = None

    def dof(self, L: np.ndarray) -> np.ndarray:
        assert self.kr is not None, "KenwardRogerDf needs its KRResult"
        return np.asarray(self.kr.dof(L), float)

    def ftest(self, L: np.ndarray) -> tuple[float, float, float]:
        assert self.kr is not None, "KenwardRogerDf needs its KRResult"
        F, q, ddf, _ = self.kr.ftest(L)
        return float(F), float(q), float(ddf)


@dataclass(frozen=True, eq=False)
class CustomInference(Inference):
    """For a hand-built fit: the caller's ``dof(L)`` and ``ftest(L)`` functions.

    Picklable only when the two functions are (top-level functions are; lambdas are not).
    """

    dof_function: Callable[[np.ndarray], np.ndarray] | None = None
    ftest_function: Callable[[np.ndarray], tuple[float, float, float]] | None = None

    def dof(self, L: np.ndarray) -> np.ndarray:
        assert self.dof_function is not None, "CustomInference needs dof_function"
        return np.asarray(self.dof_function(L), float).reshape(-1)

    def ftest(self, L: np.ndarray) -> tuple[float, float, float]:
        if self.ftest_function is None:
            return super().ftest(L)
        F, q, ddf = self.ftest_function(L)
        return float(F), float(q), float(ddf)


def make_inference(df_method: str, eng: RemlFit, *, vcov: str = "model", X: np.ndarray | None = None,
                   subject: np.ndarray | None = None, column_terms: Mapping[str, Sequence[int]] | None = None,
                   information: str = "observed") -> Inference:
    """The inference object of an engine fit for ``df_method``.

    Parameters
    ----------
    df_method
        ``satterthwaite``, ``kenward-roger``, ``kenward-roger-linear``,
        ``between-within`` or ``residual``.
    eng
        The REML/ML engine fit.
    vcov
        ``"model"`` or ``"empirical"`` (CR0 sandwich; only with ``between-within`` or
        ``residual``, checked by the callers).
    X, subject, column_terms
        The design rows, their subject labels and the design's ``term_index``:
        needed by ``between-within`` only.
    information
        Kenward-Roger: ``"observed"`` (SAS) or ``"expected"`` (pbkrtest) information.
    """
    b, C = eng.beta, eng.vcov_beta
    if eng.info.get("approximate_hessian") and df_method in ("satterthwaite", "kenward-roger",
                                                              "kenward-roger-linear"):
        raise RuntimeError("internal: a chord-method fit has no exact Hessian for Satterthwaite/KR df")
    V = empirical_vcov(eng) if vcov == "empirical" else C
    if df_method in ("satterthwaite", "kenward-roger", "kenward-roger-linear") and not (
            eng.hessian_pd or eng.message.startswith("boundary")):
        raise ModelError(
            f"The {eng.method.upper()} fit stopped where the Hessian of the likelihood is not positive definite "
            f"(a saddle point or a covariance parameter on its boundary), so {df_method} df cannot be computed; "
            "use a simpler covariance structure, or df_method='between-within' or 'residual'."
        )
    if df_method == "satterthwaite":
        return Satterthwaite(df_method, b, V, vcov_model=C, Q=eng.Q, theta_cov=eng.theta_cov)
    if df_method.startswith("kenward"):
        kr = kenward_roger_engine(eng, linear=df_method.endswith("linear"), information=information)
        return KenwardRogerDf(df_method, b, kr.vcov, kr=kr)
    if df_method == "between-within":
        if X is None or subject is None or column_terms is None:
            raise AssertionError("between-within df need the design rows, subjects and terms")
        col_df, info = between_within_df(column_terms, X, subject)
        return BetweenWithin(df_method, b, V, column_df=col_df, summary=info)
    if df_method == "residual":
        return ResidualDf(df_method, b, V, df=float(eng.problem.n_obs - eng.problem.p))
    raise AssertionError(f"unknown df method {df_method!r} (callers validate it)")
