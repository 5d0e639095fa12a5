"""The tidy-result base every table of retrostudy shares, and small helpers for results.

:class:`TidyResult` gives a frozen result dataclass with a ``table`` and ``settings``
its ``to_frame()``, ``to_dict()`` (JSON-safe), ``summary()`` and ``_repr_html_``;
:func:`json_safe` is the one JSON sanitiser of the package; :func:`infer_linear` turns
estimates, SEs and df into t statistics, p-values and CIs.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special

__all__ = ["TidyResult", "TIDY_COLUMNS", "json_safe", "infer_linear", "fit_provenance", "check_conf_level",
           "setting_notes"]

#: Columns every tidy inference table has (DESIGN.md section 5).
TIDY_COLUMNS = ("term", "estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high")


def json_safe(obj: Any) -> Any:
    """``obj`` with every value made JSON-serialisable: numpy scalars and arrays to Python
    numbers and lists, DataFrames to lists of records, non-finite floats and pandas NA to
    ``None``, anything else to its ``str``."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return json_safe(obj.astype(object).where(obj.notna(), None).to_dict(orient="records"))
    if isinstance(obj, pd.Series):
        return json_safe(obj.to_dict())
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
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


def setting_notes(settings: Mapping[str, object]) -> list[str]:
    """The ``"notes"`` of a result's settings (a list of sentences; none when absent)."""
    notes = settings.get("notes")
    return [str(n) for n in notes] if isinstance(notes, list | tuple) else []


class TidyResult:
    """Mixin for frozen result dataclasses with a ``table`` and ``settings``.

    Subclasses define ``title`` and the fields ``table`` (a DataFrame) and
    ``settings`` (a dict of the inference settings shown in ``summary()``).
    """

    if TYPE_CHECKING:
        # read-only for type checkers: subclasses give them as dataclass fields or as properties
        @property
        def title(self) -> str: ...

        @property
        def table(self) -> pd.DataFrame: ...

        @property
        def settings(self) -> Mapping[str, object]: ...
    else:
        title = "Result"

    def to_frame(self) -> pd.DataFrame:
        """The tidy table (a copy)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dict of the settings and the table's records."""
        return json_safe({"title": self.title, "settings": dict(self.settings), "table": self.table})

    def _settings_line(self) -> str:
        def show(v: Any) -> str:
            return f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v)

        return "; ".join(f"{k}: {show(v)}" for k, v in self.settings.items() if v is not None and k != "notes")

    def summary(self) -> str:
        """The table as text with the settings it was computed with."""
        with pd.option_context("display.width", 160, "display.max_columns", 30, "display.precision", 4):
            body = self.table.to_string(index=False)
        notes = setting_notes(self.settings)
        tail = ("\n" + "\n".join(f"Note: {n}" for n in notes)) if notes else ""
        return f"{self.title}\n{self._settings_line()}\n{body}{tail}"

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        # subclasses are dataclasses with repr=False: show the table, not every field
        return self.summary()

    def _repr_html_(self) -> str:
        from html import escape

        notes = setting_notes(self.settings)
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
    # scipy.special's t functions are what scipy.stats.t calls, without its per-call overhead
    # (replicate loops call this thousands of times); df <= 0 gives NaN as before
    with np.errstate(invalid="ignore"):
        p = np.where(dfs > 0, 2.0 * special.stdtr(np.where(dfs > 0, dfs, 1.0), -np.abs(t)), np.nan)
        q = np.where(dfs > 0, special.stdtrit(np.where(dfs > 0, dfs, 1.0), 0.5 + conf_level / 2.0), np.nan)
    return {"statistic": t, "p_value": p, "conf_low": est - q * se, "conf_high": est + q * se}




def check_conf_level(conf_level: Any, name: str = "conf_level") -> float:
    """``conf_level`` as a float strictly between 0 and 1, or a :class:`SpecError` sentence."""
    from .errors import SpecError

    try:
        value = float(conf_level)
    except (TypeError, ValueError):
        raise SpecError(f"{name} must be a number between 0 and 1 (e.g. 0.95), not {conf_level!r}.") from None
    if not 0.0 < value < 1.0:
        raise SpecError(f"{name} must be between 0 and 1 (e.g. 0.95), not {conf_level!r}.")
    return value
