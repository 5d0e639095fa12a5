"""What sits between a fitted model and the tables: estimated marginal means, contrasts with
multiplicity adjustment, joint tests, standardized effect sizes and the multivariate t.

Every function takes a :class:`~retrostudy.results.ModelFit` (or the previous step's table)
and reads the fit only through its public methods (``linear``, ``ftest``, ``dof``,
``design``), so any model that fills a ModelFit gets them unchanged.

========================  ================================================================
module                    holds
========================  ================================================================
``emmeans``               reference grid, weights, EMMs (:func:`emmeans`)
``contrasts``             trt-vs-ref / pairwise / custom contrasts, adjustment, joint tests
``mvt``                   multivariate t probabilities and quantiles (Dunnett)
``effects``               standardized effect sizes (Hedges' g) with CIs
``responders``            responder analysis (:func:`responders`): subjects, rates, result table
``responder_measures``    per pair of arms: risk difference / ratio, adjusted odds ratio, NNT
``response_criteria``     responder thresholds per outcome, literature defaults with citations
``proportions``           two-proportion score intervals (Miettinen-Nurminen, Newcombe, Wilson)
========================  ================================================================
"""
from __future__ import annotations

from .contrasts import ContrastTable, JointTestTable, contrasts, joint_tests
from .effects import EffectSizeTable, effect_sizes
from .emmeans import EmmTable, emmeans, reference_grid
from .mvt import pmvt_max, qmvt_max
from .responders import ResponderTable, responders
from .response_criteria import ResponseCriterion

__all__ = ["emmeans", "EmmTable", "reference_grid", "contrasts", "joint_tests", "ContrastTable",
           "JointTestTable", "effect_sizes", "EffectSizeTable", "pmvt_max", "qmvt_max", "responders",
           "ResponderTable", "ResponseCriterion"]
