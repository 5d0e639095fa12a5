"""The closed vocabularies of analysis options, with the words reports print for them.

One place for each list, so the models, the inference layer, the report and the command
line (which must import nothing heavy) agree. Nothing here imports numpy or pandas.
"""
from __future__ import annotations

__all__ = ["ADJUST", "ADJUST_NAMES", "ADJUST_CI", "DF_METHODS", "DF_NAMES", "BASELINE_OPTIONS", "COVARIANCES",
           "CONTRAST_FAMILIES", "METHODS", "VCOV", "EMM_WEIGHTS"]

#: Multiplicity adjustments within a family of contrasts (``adjust=``).
ADJUST = ("none", "holm", "bonferroni", "dunnett", "tukey")
#: How reports name each adjustment.
ADJUST_NAMES = {"none": "unadjusted", "holm": "Holm", "bonferroni": "Bonferroni", "dunnett": "Dunnett",
                "tukey": "Tukey"}
#: The simultaneous CI that goes with each adjusted p-value (Holm p -> Bonferroni CI, as R emmeans).
ADJUST_CI = {"holm": "Bonferroni", "bonferroni": "Bonferroni", "dunnett": "Dunnett (multivariate t)",
             "tukey": "Tukey"}

#: Denominator df methods of the longitudinal models (``df_method=``).
DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "between-within", "residual")
#: How reports name each df method.
DF_NAMES = {"satterthwaite": "Satterthwaite", "kenward-roger": "Kenward-Roger",
            "kenward-roger-linear": "Kenward-Roger (linear)", "between-within": "between-within",
            "residual": "residual"}

#: How the baseline visit enters a longitudinal model (``baseline=``).
BASELINE_OPTIONS = ("covariate", "covariate_by_visit", "none")

#: Covariance structures of the MMRM (``covariance=``; aliases in retrostudy.models.structures).
COVARIANCES = ("us", "cs", "csh", "ar1", "ar1h", "toep", "toeph", "ad", "adh")

#: Families of contrasts (``contrasts(..., family=)``), besides a {name: weights} dict.
CONTRAST_FAMILIES = ("trt_vs_ref", "pairwise")

#: Estimation methods of the engine (``method=``).
METHODS = ("reml", "ml")

#: Covariance of the fixed effects used for inference (``vcov=``).
VCOV = ("model", "empirical")

#: Weights of the EMMs over the levels of other factors (``emmeans(..., weights=)``).
EMM_WEIGHTS = ("equal", "proportional")
