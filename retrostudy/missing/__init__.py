"""Estimands and missing data: reference-based multiple imputation and tipping points (rbmi in Python).

Public: :func:`sensitivity`, :func:`tipping_point`, :class:`Estimand` (also as
``rs.sensitivity``, ``rs.tipping_point``, ``rs.Estimand``). Modules: ``estimand``
(the estimand), ``ice`` (intercurrent events), ``data`` (wide data and baseline
handling), ``model`` (the imputation MMRM), ``strategies`` (MAR, J2R, CR, CIR, LMCF),
``impute``, ``analyse`` (per-visit ANCOVA), ``pool`` (jackknife, bootstrap, Rubin,
von Hippel-Bartlett), ``draws`` (replicates as tasks), ``gibbs`` (Bayesian MI), ``delta``
(delta adjustment), ``engine`` (options, setup, replicates, pooling), ``tidy`` (tables and
settings), ``results``, ``sensitivity`` (the two public functions).
"""
from __future__ import annotations

from .estimand import Estimand, IntercurrentEvent
from .results import SensitivityResult, TippingPointResult
from .sensitivity import sensitivity, tipping_point

__all__ = [
           "Estimand",
           "IntercurrentEvent",
           "SensitivityResult",
           "TippingPointResult",
           "sensitivity",
           "tipping_point",
]
