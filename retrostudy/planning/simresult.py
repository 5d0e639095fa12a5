"""The result of a simulation of the planned analysis (:class:`SimulationResult`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, SupportsInt, TypedDict

import numpy as np
import pandas as pd
from scipy import stats

from ..results import TidyResult
from .model import TrialDescription

if TYPE_CHECKING:
    from ..replicates.result import ReplicateRun
    from .model import TrialModel
    from .simulate import AnalysisPlan

__all__ = ["SIMULATION_COLUMNS", "PlanDescription", "SimulationResult", "summarise"]

#: Columns of ``SimulationResult.to_frame()``: one row per contrast, and ``any``.
SIMULATION_COLUMNS = ("contrast", "truth", "n_sim", "n_failed", "rejection_rate", "rejection_mc_se",
                      "rejection_conf_low", "rejection_conf_high", "mean_estimate", "bias", "bias_mc_se",
                      "empirical_se", "mean_std_error", "coverage", "coverage_mc_se", "mean_df",
                      "mean_n_subjects")

REPLICATE_COLUMNS = ("replicate", "contrast", "estimate", "std_error", "df", "statistic", "p_value", "p_adjusted",
                     "conf_low", "conf_high", "reject", "covers", "converged", "n_subjects", "n_observed_final")


class PlanDescription(TypedDict):
    """``AnalysisPlan.describe()``: the planned analysis as JSON (``covariance`` is None for ANCOVA)."""

    analysis: str
    baseline: str
    covariance: str | None
    df_method: str
    adjust: str
    alpha: float
    conf_level: float
    engine: str


@dataclass(frozen=True, eq=False, repr=False)
class SimulationResult(TidyResult):
    """Power, type I error, bias and coverage of the planned analysis, with Monte Carlo SEs.

    Attributes
    ----------
    table
        One row per contrast (and ``any``: at least one comparison rejected), columns
        :data:`SIMULATION_COLUMNS`. ``rejection_rate`` is the power when the contrast's
        truth is not 0 and the type I error when it is; ``rejection_conf_*`` its 95 %
        Monte Carlo interval (Wilson). Bias, coverage and their SEs are against
        ``truth`` (the treatment-policy effect under a departure).
    replicates
        Every replicate's numbers (columns ``REPLICATE_COLUMNS``), long by contrast.
    failures
        Failed replicates with their seeds (index, seed_entropy, seed_spawn_key, error,
        message, traceback); never dropped silently.
    model, plan
        JSON descriptions of the simulated trial and the analysis.
    settings
        n_sim, seed, alpha, adjust, analysis, where it ran and how long it took.
    """

    table: pd.DataFrame
    replicates: pd.DataFrame
    failures: pd.DataFrame
    model: TrialDescription
    plan: PlanDescription
    settings: Mapping[str, object] = field(default_factory=dict)
    title: str = "Simulation of the planned analysis"

    def power(self, contrast: str | None = None) -> float:
        """The rejection rate of one contrast: its power (its type I error under the null).

        Parameters
        ----------
        contrast
            A contrast of ``table`` (``"retro - control"``; ``"any"``: at least one
            comparison rejected); default the first.

        Returns
        -------
        float

        Examples
        --------
        >>> from retrostudy.planning import TrialModel, simulate_power
        >>> model = TrialModel(arms=("retro", "control"), n_per_arm=(30, 30), visits=("baseline", "week6"),
        ...                    means=[[6.0, 4.0], [6.0, 5.0]], sd=1.8, corr=[[1, 0.6], [0.6, 1]],
        ...                    retention=[1, 0.85])
        >>> simulate_power(model, n_sim=20, seed=1, analysis="ancova").power("retro - control")
        0.6
        """
        row = self.table.iloc[0] if contrast is None else self.table.set_index("contrast").loc[contrast]
        return float(row["rejection_rate"])

    def to_dict(self) -> dict[str, object]:
        """JSON-safe: the table, settings, the model and plan descriptions, the number of failures."""
        base = super().to_dict()
        base["model"] = dict(self.model)
        base["plan"] = dict(self.plan)
        base["n_failures"] = len(self.failures)
        return base

    def summary(self) -> str:
        """The trial, the plan and each contrast's operating characteristics in a few lines."""
        plan = self.plan
        how = (f"{plan['analysis'].upper()}" + (f" ({plan['covariance']}, {plan['df_method']} df)"
                                                 if plan["analysis"] == "mmrm" else " (residual df)")
               + f", adjust {plan['adjust']}, alpha {plan['alpha']:g}")
        n_sim = self.settings.get("n_sim", 0)
        n = int(n_sim) if isinstance(n_sim, SupportsInt) else 0
        arms = ", ".join(f"{a} {k}" for a, k in zip(self.model["arms"], self.model["n_per_arm"]))
        lines = [(f"{self.title}: {n} simulated trials of {sum(self.model['n_per_arm'])} subjects ({arms}), "
                  f"dropout {self.model['dropout']}, departure {self.model['departure']}; analysis {how}.")]
        for r in self.table.itertuples():
            what = "power" if (r.contrast == "any" or abs(r.truth) > 0) else "type I error"
            if r.contrast == "any":
                lines.append(f"  at least one comparison rejected: {r.rejection_rate:.4f} (MC SE {r.rejection_mc_se:.4f})")
                continue
            lines.append(
                f"  {r.contrast}: {what} {r.rejection_rate:.4f} (MC SE {r.rejection_mc_se:.4f}; 95 % "
                f"{r.rejection_conf_low:.4f} to {r.rejection_conf_high:.4f}); truth {r.truth:.4g}, bias {r.bias:.4g} "
                f"(MC SE {r.bias_mc_se:.2g}); SE model/empirical {r.mean_std_error:.4g}/{r.empirical_se:.4g}; "
                f"coverage {r.coverage:.4f} (MC SE {r.coverage_mc_se:.4f}); mean df {r.mean_df:.1f}")
        lines.append(f"  failed replicates: {len(self.failures)} (listed with their seeds in .failures)")
        lines.append(f"  ran: {self.settings.get('scheduler', 'serial')}, {self.settings.get('elapsed', float('nan')):.1f} s")
        return "\n".join(lines)


def _wilson(k: float, n: int, level: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def _replicate_frame(results: Sequence[Any], names: list[str], truth: Mapping[str, float], alpha: float
                     ) -> pd.DataFrame:
    """The replicates that succeeded, one row per replicate and contrast (columns ``REPLICATE_COLUMNS``),
    from the records of ``simulate.simulate_replicate``."""
    from .simulate import RECORD_FIELDS, RECORD_TAIL

    index = [i for i, res in enumerate(results) if res is not None]
    k = len(names)
    width = len(RECORD_FIELDS) * k + len(RECORD_TAIL)
    M = np.vstack([results[i] for i in index]) if index else np.zeros((0, width))
    if M.shape[1] != width:
        raise RuntimeError(f"internal: a replicate record has {M.shape[1]} values, not {width}")
    cols: dict[str, Any] = {"replicate": np.repeat(np.asarray(index, dtype=np.int64), k),
                            "contrast": np.tile(np.asarray(names, dtype=object), len(index))}
    for j, key in enumerate(RECORD_FIELDS):
        cols[key] = M[:, j * k:(j + 1) * k].reshape(-1)
    true = np.tile(np.asarray([truth[name] for name in names], dtype=float), len(index))
    cols["reject"] = cols["p_adjusted"] < alpha
    cols["covers"] = (cols["conf_low"] <= true) & (true <= cols["conf_high"])
    tail = M[:, len(RECORD_FIELDS) * k:]
    cols["converged"] = np.repeat(tail[:, 0] != 0, k)
    cols["n_subjects"] = np.repeat(tail[:, 1].astype(np.int64), k)
    cols["n_observed_final"] = np.repeat(tail[:, 2].astype(np.int64), k)
    return pd.DataFrame(cols, columns=list(REPLICATE_COLUMNS))


def summarise(run: ReplicateRun, *, model: TrialModel, plan: AnalysisPlan, truth: Mapping[str, float],
              truth_se: Mapping[str, float], seed: int | Sequence[int] | np.random.SeedSequence | None
              ) -> SimulationResult:
    """Turn a replicate run into a :class:`SimulationResult`."""
    names = list(truth)
    reps = _replicate_frame(run.results, names, truth, plan.alpha)
    n_failed = len(run.failures)
    table = []
    for name in names:
        part = reps.loc[reps["contrast"] == name]
        n = len(part)
        rej = float(part["reject"].mean()) if n else float("nan")
        est = part["estimate"].to_numpy(float)
        sd = float(est.std(ddof=1)) if n > 1 else float("nan")
        cov = float(part["covers"].mean()) if n else float("nan")
        lo, hi = _wilson(float(part["reject"].sum()), n)
        table.append({
            "contrast": name, "truth": float(truth[name]), "n_sim": float(n), "n_failed": float(n_failed),
            "rejection_rate": rej, "rejection_mc_se": float(np.sqrt(rej * (1 - rej) / n)) if n else float("nan"),
            "rejection_conf_low": lo, "rejection_conf_high": hi,
            "mean_estimate": float(est.mean()) if n else float("nan"),
            "bias": float(est.mean() - truth[name]) if n else float("nan"),
            "bias_mc_se": float(np.sqrt(sd * sd / n + truth_se[name] ** 2)) if n > 1 else float("nan"),
            "empirical_se": sd, "mean_std_error": float(part["std_error"].mean()) if n else float("nan"),
            "coverage": cov, "coverage_mc_se": float(np.sqrt(cov * (1 - cov) / n)) if n else float("nan"),
            "mean_df": float(part["df"].mean()) if n else float("nan"),
            "mean_n_subjects": float(part["n_subjects"].mean()) if n else float("nan"),
        })
    if len(names) > 1 and len(reps):
        anyrej = reps.groupby("replicate")["reject"].any()
        n = len(anyrej)
        p = float(anyrej.mean())
        lo, hi = _wilson(float(anyrej.sum()), n)
        table.append({"contrast": "any", "truth": float("nan"), "n_sim": float(n), "n_failed": float(n_failed),
                      "rejection_rate": p, "rejection_mc_se": float(np.sqrt(p * (1 - p) / n)),
                      "rejection_conf_low": lo, "rejection_conf_high": hi})
    frame = pd.DataFrame(table, columns=list(SIMULATION_COLUMNS))
    settings = {"n_sim": int(run.n), "seed": seed if isinstance(seed, (int, type(None))) else str(seed),
                "analysis": plan.analysis, "adjust": plan.adjust, "alpha": plan.alpha, "engine": plan.engine,
                "scheduler": getattr(run, "scheduler", "serial"), "workers": int(getattr(run, "workers", 0)),
                "elapsed": float(getattr(run, "elapsed", float("nan"))),
                "startup": float(getattr(run, "startup", 0.0)),
                "notes": [f"{n_failed} replicate(s) failed; see .failures for their seeds."] if n_failed else []}
    return SimulationResult(table=frame, replicates=reps, failures=run.failures, model=model.describe(),
                            plan=plan.describe(), settings=settings)
