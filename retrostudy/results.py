"""Result objects shared by every model: :class:`ModelFit` and the tidy-table base.

A :class:`ModelFit` is the one interface between the model code (ANCOVA, LMM, MMRM)
and the inference layer (``emmeans``, ``contrasts``, ``effect_sizes``): coefficients,
the covariance used for inference, the design (to build reference-grid rows) and two
functions that give the denominator df of any linear combination. Any model that
fills these fields gets EMMs, contrasts and effect sizes without changes to them.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from .design import Design
from .exclusions import ExclusionLog

__all__ = ["TidyResult", "ModelFit", "TIDY_COLUMNS", "infer_linear", "fit_provenance"]

#: Columns every tidy inference table has (DESIGN.md section 5).
TIDY_COLUMNS = ("term", "estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high")


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return _json_safe(obj.astype(object).where(obj.notna(), None).to_dict(orient="records"))
    if isinstance(obj, pd.Series):
        return _json_safe(obj.to_dict())
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        val = float(obj)
        return val if math.isfinite(val) else None
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    return str(obj)


class TidyResult:
    """Mixin for frozen result dataclasses with a ``table`` and ``settings``.

    Subclasses define ``title`` and the fields ``table`` (a DataFrame) and
    ``settings`` (a dict of the inference settings shown in ``summary()``).
    """

    title: str = "Result"
    table: pd.DataFrame
    settings: Mapping[str, Any]

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy)."""
        return self.table.copy()

    def to_dict(self) -> dict:
        """JSON-safe dict of the settings and the table's records."""
        return _json_safe({"title": self.title, "settings": dict(self.settings), "table": self.table})

    def _settings_line(self) -> str:
        def show(v: Any) -> str:
            return f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v)

        return "; ".join(f"{k}: {show(v)}" for k, v in self.settings.items() if v is not None and k != "notes")

    def summary(self) -> str:
        """The table as text with the settings it was computed with."""
        with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 4):
            body = self.table.to_string(index=False)
        notes = self.settings.get("notes")
        tail = ("\n" + "\n".join(f"Note: {n}" for n in notes)) if notes else ""
        return f"{self.title}\n{self._settings_line()}\n{body}{tail}"

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        # subclasses are dataclasses with repr=False: show the table, not every field
        return self.summary()

    def _repr_html_(self) -> str:
        from html import escape

        notes = self.settings.get("notes") or []
        note_html = "".join(f"<p><i>Note: {escape(str(n))}</i></p>" for n in notes)
        return (
            f"<p><b>{escape(self.title)}</b><br><small>{escape(self._settings_line())}</small></p>"
            + self.table.to_html(index=False, float_format=lambda x: f"{x:.4g}")
            + note_html
        )


def fit_provenance(frame: pd.DataFrame, meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``ModelFit.provenance``: package versions, the sha256 of ``frame`` and the source file's identity."""
    import hashlib
    import platform
    from importlib.metadata import version

    from . import __version__

    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()
    prov: dict[str, Any] = {
        "data_sha256": digest,
        "versions": {"retrostudy": __version__, "python": platform.python_version(),
                     **{name: version(name) for name in ("numpy", "pandas", "scipy", "statsmodels")}},
    }
    for key in ("sha256", "file", "study"):
        if meta and meta.get(key):
            prov[f"source_{key}"] = meta[key]
    return prov


def infer_linear(
    estimate: np.ndarray, std_error: np.ndarray, df: np.ndarray, conf_level: float
) -> dict[str, np.ndarray]:
    """t statistics, two-sided p-values and CIs; ``df = inf`` gives the normal (z) case."""
    est = np.asarray(estimate, float)
    se = np.asarray(std_error, float)
    dfs = np.asarray(df, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = est / se
    p = 2.0 * stats.t.sf(np.abs(t), dfs)
    q = stats.t.ppf(0.5 + conf_level / 2.0, dfs)
    return {"statistic": t, "p_value": p, "conf_low": est - q * se, "conf_high": est + q * se}


@dataclass(frozen=True, eq=False, repr=False)
class ModelFit(TidyResult):
    """A fitted mean model with everything inference needs.

    Attributes
    ----------
    model
        ``"ancova"``, ``"lmm"`` or ``"mmrm"``.
    outcome
        Outcome id.
    design
        How to build model-matrix rows for a reference grid.
    coef
        Fixed-effect estimates indexed by ``design.columns``.
    vcov
        Their covariance used for inference (Kenward-Roger adjusted where asked).
    dof
        ``dof(L) -> array``: denominator df of each row of ``L`` (k x p), by the fit's
        df method.
    ftest
        ``ftest(L) -> (F, num_df, den_df)``: Wald F test of ``L b = 0`` (rows of L
        linearly independent), with the fit's df method.
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
        ``n_subjects, n_obs, loglik, minus2_loglik, aic, bic, method`` and
        optimizer details.
    data
        The analysis rows the model was fitted to (with ``baseline`` where used).
    spec
        The arguments the fit was called with (JSON-safe).
    """

    model: str
    outcome: str
    design: Design
    coef: pd.Series
    vcov: pd.DataFrame
    dof: Callable[[np.ndarray], np.ndarray]
    ftest: Callable[[np.ndarray], tuple[float, float, float]]
    grid_factors: tuple[str, ...]
    reference_arm: str
    df_method: str
    conf_level: float = 0.95
    response: str = "value"
    residual_covariance: pd.DataFrame | None = None
    fit_stats: Mapping[str, Any] = field(default_factory=dict)
    converged: bool = True
    exclusions: ExclusionLog = field(default_factory=ExclusionLog)
    provenance: Mapping[str, Any] = field(default_factory=dict)
    data: pd.DataFrame | None = None
    spec: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:  # type: ignore[override]
        return f"{self.model.upper()} fit of {self.outcome} (response: {self.response})"

    @property
    def settings(self) -> dict[str, Any]:  # type: ignore[override]
        keys = ("n_subjects", "n_obs", "method", "minus2_loglik", "aic")
        out: dict[str, Any] = {"df_method": self.df_method, "conf_level": self.conf_level}
        out.update({k: self.fit_stats[k] for k in keys if k in self.fit_stats})
        if self.spec.get("covariance"):
            out["covariance"] = self.spec["covariance"]
        if self.spec.get("vcov"):
            out["vcov"] = self.spec["vcov"]
        if not self.converged:
            out["converged"] = False
        return out

    def linear(self, L: np.ndarray) -> dict[str, np.ndarray]:
        """Estimate, SE, df, t, p and CI of each row of ``L`` (k x p)."""
        L = np.atleast_2d(np.asarray(L, float))
        b = self.coef.to_numpy()
        V = self.vcov.to_numpy()
        est = L @ b
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))
        df = np.asarray(self.dof(L), float).reshape(-1)
        return {"estimate": est, "std_error": se, "df": df, **infer_linear(est, se, df, self.conf_level)}

    @property
    def table(self) -> pd.DataFrame:  # type: ignore[override]
        """Coefficient table with the tidy columns."""
        res = self.linear(np.eye(len(self.coef)))
        frame = pd.DataFrame({"term": list(self.coef.index), **res})
        return frame.loc[:, list(TIDY_COLUMNS)]

    def to_dict(self) -> dict:
        base = super().to_dict()
        base.update(
            _json_safe(
                {
                    "model": self.model,
                    "outcome": self.outcome,
                    "response": self.response,
                    "reference_arm": self.reference_arm,
                    "fit_stats": dict(self.fit_stats),
                    "converged": self.converged,
                    "spec": dict(self.spec),
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
