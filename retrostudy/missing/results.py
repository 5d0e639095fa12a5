"""Result objects of the sensitivity analyses: frozen tidy tables like the rest of the package."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exclusions import ExclusionLog
from ..tidy import TidyResult
from ..tidy import json_safe as _json_safe
from .estimand import Estimand

__all__ = ["RESULT_COLUMNS", "SensitivityResult", "TippingPointResult"]

#: Columns of ``SensitivityResult.to_frame()`` (contract).
RESULT_COLUMNS = ("contrast", "visit", "estimate", "std_error", "df", "conf_low", "conf_high", "p_value")


@dataclass(frozen=True, eq=False, repr=False)
class SensitivityResult(TidyResult):
    """Pooled contrasts of a reference-based multiple imputation analysis.

    Attributes
    ----------
    table
        One row per contrast and post-baseline visit: ``contrast, visit, estimate,
        std_error, df, conf_low, conf_high, p_value`` (``df`` is ``inf`` for the
        normal-based jackknife and bootstrap intervals).
    settings
        Method, strategy, references, the kind of df / CI, conf_level, samples, failures,
        seed, imputation-model options; ``summary()`` prints them.
    estimand
        What was estimated (:class:`~retrostudy.missing.estimand.Estimand`).
    ice
        The intercurrent events used: subject_id, arm, visit (first affected), strategy, source.
    lsmeans
        Each arm's least-squares mean at each visit, pooled the same way (rbmi's
        ``lsm_*``, counterfactual weights): ``arm, visit, estimate, std_error, df,
        conf_low, conf_high, p_value``.
    replicates
        Per replicate (0 = the full data for conditional mean imputation): replicate,
        quantity (``contrast`` or ``lsmean``), term (contrast or arm), visit, estimate,
        std_error, df.
    failures
        Replicates whose imputation model could not be fitted: replicate, seed, message.
    exclusions
        The input's exclusion log plus every subject left out of the imputation and
        every value not used to fit the imputation model.
    imputation_model
        The imputation model fitted to all subjects (a :class:`~retrostudy.results.ModelFit`).
    imputed
        Conditional mean imputation (``condmean-*`` methods; empty for the random ones): every subject's
        value at every visit of the imputation model, ``subject_id, arm, visit, value, imputed, ice``
        (``imputed``: the value was missing and is the conditional mean under the strategy, plus the delta
        where one is given; ``ice``: the visit is at or after the subject's intercurrent event).
    """

    table: pd.DataFrame
    settings: Mapping[str, Any]
    lsmeans: pd.DataFrame = field(default_factory=pd.DataFrame)
    estimand: Estimand | None = None
    ice: pd.DataFrame = field(default_factory=pd.DataFrame)
    replicates: pd.DataFrame = field(default_factory=pd.DataFrame)
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    exclusions: ExclusionLog = field(default_factory=ExclusionLog)
    imputation_model: Any = None
    imputed: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def title(self) -> str:
        s = self.settings
        return (f"Sensitivity analysis of {s.get('outcome')}: {str(s.get('strategy', '')).upper()} imputation, "
                f"{s.get('method')}")

    def to_dict(self) -> dict:
        base = super().to_dict()
        base.update(_json_safe({
            "estimand": self.estimand.to_dict() if self.estimand is not None else None,
            "lsmeans": self.lsmeans, "ice": self.ice, "failures": self.failures,
            "exclusions": self.exclusions.to_dict(),
        }))
        return base


@dataclass(frozen=True, eq=False, repr=False)
class TippingPointResult(TidyResult):
    """The sensitivity analysis repeated over a grid of deltas added to one arm's imputed values.

    Attributes
    ----------
    table
        One row per delta, contrast and visit: ``delta`` plus the columns of
        :class:`SensitivityResult`.
    tipping_delta
        The first grid point (in the order given) at which the p-value of ``contrast`` at
        ``visit`` (the final visit) is at least ``alpha``; NaN when none is.
    tipping_delta_interpolated
        The delta at which that p-value crosses ``alpha``, by linear interpolation of the
        p-value between the last grid point below ``alpha`` and ``tipping_delta``; NaN
        when the first grid point is already at or above ``alpha`` or none is.
    contrast, visit, alpha, arm
        What the tipping point is computed for.
    tipping
        The same two numbers for every contrast at the final visit.
    """

    table: pd.DataFrame
    settings: Mapping[str, Any]
    tipping_delta: float = float("nan")
    tipping_delta_interpolated: float = float("nan")
    contrast: str = ""
    visit: str = ""
    alpha: float = 0.05
    arm: str = ""
    tipping: pd.DataFrame = field(default_factory=pd.DataFrame)
    estimand: Estimand | None = None
    ice: pd.DataFrame = field(default_factory=pd.DataFrame)
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    exclusions: ExclusionLog = field(default_factory=ExclusionLog)

    @property
    def title(self) -> str:
        s = self.settings
        return (f"Tipping point of {s.get('outcome')}: delta added to the imputed values of {self.arm} "
                f"({str(s.get('strategy', '')).upper()}, {s.get('method')})")

    def summary(self) -> str:
        text = super().summary()
        tip = (f"Tipping point ({self.contrast}, {self.visit}, alpha {self.alpha:g}): first delta with p >= alpha "
               f"{_fmt(self.tipping_delta)}; interpolated {_fmt(self.tipping_delta_interpolated)}.")
        return f"{text}\n{tip}"

    def to_dict(self) -> dict:
        base = super().to_dict()
        base.update(_json_safe({
            "tipping_delta": self.tipping_delta, "tipping_delta_interpolated": self.tipping_delta_interpolated,
            "contrast": self.contrast, "visit": self.visit, "alpha": self.alpha, "arm": self.arm,
            "tipping": self.tipping,
            "estimand": self.estimand.to_dict() if self.estimand is not None else None,
        }))
        return base


def _fmt(x: float) -> str:
    return "not reached" if not np.isfinite(x) else f"{x:.6g}"


def tipping_points(deltas: np.ndarray, p: np.ndarray, alpha: float) -> tuple[float, float]:
    """(first grid point with p >= alpha, interpolated crossing) along the grid in the order given."""
    hit = np.flatnonzero(p >= alpha)
    if hit.size == 0:
        return float("nan"), float("nan")
    k = int(hit[0])
    if k == 0:
        return float(deltas[0]), float("nan")
    d0, d1, p0, p1 = deltas[k - 1], deltas[k], p[k - 1], p[k]
    return float(deltas[k]), float(d0 + (alpha - p0) / (p1 - p0) * (d1 - d0))
