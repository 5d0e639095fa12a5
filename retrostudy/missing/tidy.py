"""From pooled arrays to the tidy tables, the replicate table, the estimand and the settings of a result."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .draws import Failure
from .engine import _DF_KIND, _Pooled, _Setup
from .estimand import _E9_OF_IMPUTATION, Estimand, IntercurrentEvent
from .pool import inference
from .results import RESULT_COLUMNS


def _table(setup: _Setup, est: np.ndarray, se: np.ndarray, df: np.ndarray, conf_level: float,
           lsmeans: bool = False, override: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Visit-major table of one delta from (C + A, V) arrays: the contrasts, or the arms' LS means.
    ``override``: (C + A, V) arrays replacing the normal/t CI and p-value (percentile bootstrap)."""
    an, data = setup.analysis, setup.data
    C = len(an.contrasts)
    rows = slice(C, None) if lsmeans else slice(0, C)
    names = an.arms if lsmeans else an.contrasts
    est, se, df = est[rows], se[rows], np.broadcast_to(df, est.shape)[rows]
    R, V = est.shape
    inf = inference(est.T.reshape(-1), se.T.reshape(-1), df.T.reshape(-1), conf_level)
    for key, arr in (override or {}).items():
        inf[key] = np.asarray(arr)[rows].T.reshape(-1)
    frame = pd.DataFrame({
        "arm" if lsmeans else "contrast": [names[c] for _ in range(V) for c in range(R)],
        "visit": [data.visits[an.visits[v]] for v in range(V) for _ in range(R)],
        **{k: inf[k] for k in ("estimate", "std_error", "df", "conf_low", "conf_high", "p_value")},
    })
    return frame if lsmeans else frame.loc[:, list(RESULT_COLUMNS)]


def _replicate_frame(setup: _Setup, rows, k: int = 0) -> pd.DataFrame:
    an, data = setup.analysis, setup.data
    terms = [("contrast", c) for c in an.contrasts] + [("lsmean", a) for a in an.arms]
    V = len(an.visits)
    recs = []
    for rep, est, se, df in rows:
        for v in range(V):
            for c, (kind, term) in enumerate(terms):
                recs.append((rep, kind, term, data.visits[an.visits[v]], float(est[k, c, v]),
                             float(se[k, c, v]) if se is not None else float("nan"), df))
    return pd.DataFrame.from_records(
        recs, columns=["replicate", "quantity", "term", "visit", "estimate", "std_error", "df"])


def _imputed_frame(setup: _Setup, Y: np.ndarray | None, deltas: np.ndarray | None) -> pd.DataFrame:
    """Every subject's values at every visit of the imputation model, with the conditional mean imputations (plus
    the delta, as analysed) where a value was missing: subject_id, arm, visit, value, imputed, ice."""
    cols = ["subject_id", "arm", "visit", "value", "imputed", "ice"]
    if Y is None:
        return pd.DataFrame(columns=cols)
    data, plan = setup.data, setup.plan
    Y = np.asarray(Y, float) + (deltas[0] if deltas is not None else 0.0)
    n, T = Y.shape
    post = setup.ice.post_ice(T)
    return pd.DataFrame({
        "subject_id": np.repeat(data.subjects.astype(str), T),
        "arm": np.repeat(np.asarray(data.arms, dtype=object)[data.arm_code], T),
        "visit": pd.Categorical(np.tile(np.asarray(data.visits, dtype=object), n), categories=list(data.visits),
                                ordered=True),
        "value": Y.reshape(-1), "imputed": plan.imputed.reshape(-1), "ice": post.reshape(-1),
    }, columns=cols)


def _failure_frame(failures: list[Failure]) -> pd.DataFrame:
    return pd.DataFrame({"replicate": [f.index for f in failures], "seed": [f.seed for f in failures],
                         "message": [f.message for f in failures]})


def _label(outcome: str) -> str:
    from ..schema import OUTCOMES

    return OUTCOMES[outcome].label if outcome in OUTCOMES else outcome


def _estimand(setup: _Setup, strategy: str, ice_arg) -> Estimand:
    data = setup.data
    source = {"derived": "dropout (the first visit of a run of missing values that lasts to the last visit)",
              "column": "intercurrent events as recorded in the data", "table": "intercurrent events as tabulated"}
    return Estimand(
        population=f"the {data.n} subjects of the data with an arm" + (
            " and a baseline value" if data.baseline == "covariate_by_visit" else ""),
        variable=f"{_label(data.outcome)} at {data.visits[-1]}", outcome=data.outcome, visit=data.visits[-1],
        treatments=data.arms,
        intercurrent_events=(IntercurrentEvent(event=source[setup.ice.source], strategy=_E9_OF_IMPUTATION[strategy],
                                               imputation=strategy),),
        contrasts=setup.analysis.contrasts,
    )


def _settings(setup: _Setup, method: str, strategy: str, pooled: _Pooled, conf_level: float, covariance: str,
              same_cov: bool, family: str, extra_notes: Sequence[str] = ()) -> dict[str, Any]:
    data = setup.data
    n_ice = int(np.sum(setup.ice.index < data.T))
    df_kind = _DF_KIND[method]
    notes = []
    if method.startswith("condmean"):
        what = "jackknife" if method.endswith("jackknife") else "bootstrap"
        notes.append(f"Conditional mean imputation; SEs from the {what} "
                     f"({pooled.n_samples} {'leave-one-subject-out fits' if what == 'jackknife' else 'samples'}), "
                     "normal-based confidence intervals and p-values (df = inf).")
    elif method == "bmlmi":
        D = pooled.extra.get("n_imputations", 2)
        notes.append(f"Bootstrapped ML multiple imputation: {pooled.n_samples} bootstrap samples x {D} imputations, "
                     "pooled by von Hippel & Bartlett's (2021) random-effects ANOVA; t intervals with their df.")
    else:
        notes.append(f"{pooled.n_samples} imputations pooled by Rubin's rules; t intervals with Barnard-Rubin df.")
    if pooled.failures:
        notes.append(f"{len(pooled.failures)} replicate(s) could not be fitted and were replaced; see .failures.")
    n_left = int(np.sum(data.observed & ~setup.model.fit_mask))
    if n_left:
        notes.append(f"{n_left} value(s) observed after a reference-based ICE are kept in the analysis but not used "
                     "to fit the imputation model.")
    notes.extend(extra_notes)
    refs = {a: r for a, r in setup.references.items() if a != r}
    where = pooled.extra.get("where") or {}
    return {
        "outcome": data.outcome, "method": method, "strategy": strategy, "references": refs,
        "reference_arm": setup.reference_arm, "df": df_kind, "conf_level": float(conf_level),
        "n_samples": pooled.n_samples, "n_failed": len(pooled.failures), "seed": pooled.seed,
        "covariance": covariance, "same_cov": bool(same_cov), "baseline": data.baseline,
        "covariates": list(data.covariates), "family": family, "n_subjects": data.n, "n_ice": n_ice,
        "ice": setup.ice.source, "runner": where.get("runner"),
        "cluster_startup_s": round(where["startup"], 3) if where.get("startup") else None, "notes": notes,
    }
