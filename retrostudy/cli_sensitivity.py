"""The ``retrostudy sensitivity`` command: ``rs.sensitivity`` (and ``rs.tipping_point`` with ``--deltas``) from the
command line.

Only :mod:`argparse`, :mod:`retrostudy.cli`'s option helpers and :mod:`retrostudy.options` are imported at module
level, so ``retrostudy --help`` stays fast; the analysis is imported when the command runs. Bad input (an ICE table naming an unknown subject or a
visit after the last, two ICEs for one subject, a reference arm that does not exist, an empty delta grid, an
imputation model that cannot be fitted in too many bootstrap samples) is one sentence from the library, which
``retrostudy.cli.main`` prints without a traceback (exit 3).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from .cli import _choice, _covariance, _header_row_option
from .options import CONTRAST_FAMILIES, COVARIANCES, MI_BASELINE, MI_METHODS, MI_STRATEGIES

__all__ = ["add_sensitivity_parser", "cmd_sensitivity"]

DESCRIPTION = (
    "Reference-based multiple imputation of one outcome (rbmi in Python): the missing values after each "
    "participant's intercurrent event (by default the first visit of a dropout that lasts to the last visit) are "
    "imputed under the strategy, each imputed data set is analysed by an ANCOVA at every post-baseline visit, and "
    "the results are pooled by the method. Prints the contrasts and the arms' means; with --deltas also the tipping "
    "point (the delta added to one arm's imputed values at which the final visit's contrast stops being "
    "significant). List the outcome ids with: retrostudy validate SOURCE.")

EXAMPLES = (
    "retrostudy sensitivity alghadir2019_sim --outcome pain_nrs --strategy j2r --method condmean-jackknife",
    ("retrostudy sensitivity retro_replication_sim --outcome womac --strategy mar --tipping-arm retro --deltas 0 1 2 "
     "3 4 --workers 2 --tables womac-tipping.xlsx"),
)


def add_sensitivity_parser(sub, parser_factory) -> argparse.ArgumentParser:
    """Add the ``sensitivity`` subcommand (``parser_factory``: retrostudy.cli's helper that adds the description
    and the examples)."""
    p = parser_factory(sub, "sensitivity", "missing-data sensitivity analysis (MAR, J2R, CR, CIR, LMCF; tipping point)",
                       DESCRIPTION, EXAMPLES)
    p.add_argument("source", nargs="?", default="alghadir2019_sim",
                   help="data file or bundled dataset id (default alghadir2019_sim)")
    p.add_argument("--config", metavar="YAML", help="mapping file (default: none)")
    _header_row_option(p)
    p.add_argument("--outcome", required=True, help="outcome id, e.g. pain_nrs (list them with: retrostudy validate "
                                                    "SOURCE)")
    p.add_argument("--strategy", default="mar", type=_choice("strategy", MI_STRATEGIES, {"jr": "j2r"}),
                   help=f"imputation after the intercurrent event: {', '.join(MI_STRATEGIES)} (default mar; j2r = "
                        "jump to reference, cr = copy reference, cir = copy increments from reference, lmcf = last "
                        "mean carried forward)")
    p.add_argument("--method", default="condmean-jackknife",
                   type=_choice("method", MI_METHODS, {"jackknife": "condmean-jackknife",
                                                       "bootstrap": "condmean-bootstrap"}),
                   help=f"{', '.join(MI_METHODS)} (default condmean-jackknife: conditional mean imputation with "
                        "jackknife SEs, deterministic and fast)")
    p.add_argument("--baseline", default="covariate_by_visit", type=_choice("baseline", MI_BASELINE),
                   help=f"the baseline visit in the imputation model: {', '.join(MI_BASELINE)} (default "
                        "covariate_by_visit; none keeps it a response, which LMCF needs with one visit after "
                        "baseline; absent: no visit is a baseline)")
    p.add_argument("--family", "--contrasts", dest="family", default="trt_vs_ref",
                   type=_choice("family", CONTRAST_FAMILIES),
                   help=f"contrasts: {', '.join(CONTRAST_FAMILIES)} (default trt_vs_ref: each arm minus the "
                        "reference arm)")
    p.add_argument("--reference-arm", metavar="ARM", help="reference arm (default: the last arm)")
    p.add_argument("--references", nargs="+", metavar="ARM=REF",
                   help="another reference for some arms, e.g. forward=retro (default: the reference arm)")
    p.add_argument("--covariates", nargs="+", default=[], metavar="COLUMN",
                   help="subject-level covariates: by visit in the imputation model, main effects in the ANCOVA "
                        "(default: none)")
    p.add_argument("--covariance", default="us", type=_choice("covariance", COVARIANCES, resolver=_covariance),
                   help=f"imputation-model covariance: {', '.join(COVARIANCES)} or a SAS/R name (default us)")
    p.add_argument("--ice", metavar="FILE|COLUMN",
                   help="intercurrent events: a .csv/.tsv/.xlsx table (subject_id, visit = first affected visit, "
                        "optional strategy) or a column of the data holding the first affected visit (default: "
                        "derived from dropout)")
    p.add_argument("--n-samples", type=int, metavar="B",
                   help="bootstrap samples or imputations (default: 1000 for condmean-bootstrap, 100 otherwise; "
                        "not used by the jackknife)")
    p.add_argument("--seed", type=int, metavar="S", help="seed of the random methods (default: none, a fresh one)")
    p.add_argument("--max-errors", type=int, metavar="K",
                   help="replicates allowed to fail (default: 1%% of the samples; 0 for the jackknife)")
    p.add_argument("--conf-level", type=float, default=0.95, help="confidence level (default 0.95)")
    run = p.add_mutually_exclusive_group()
    run.add_argument("--workers", type=int, metavar="N",
                     help="run the replicates on a local Dask cluster of N processes (default: serial)")
    run.add_argument("--scheduler", metavar="ADDR", help="run them on the Dask cluster at ADDR, e.g. tcp://host:8786")
    p.add_argument("--tipping-arm", metavar="ARM",
                   help="with --deltas: the arm whose imputed values are shifted (default: the first arm that is not "
                        "the reference arm)")
    p.add_argument("--deltas", nargs="*", metavar="D",
                   help="tipping point: the deltas to add to the tipping arm's imputed values, in the order to walk "
                        "them (start at 0), or 'auto' (0 to 4 baseline SDs in 41 points, against the tipping arm, as "
                        "the report; default: no tipping point)")
    p.add_argument("--tables", metavar="FILE", help="also write the tables to FILE (.csv, .json or .xlsx)")
    return p


class UsageError(Exception):
    """A usage error found after parsing (exit 2)."""


def _ice_argument(value: str | None, trial: Any) -> Any:
    """``--ice``: a table file read as text (subjects and visits keep their spelling), or a column name."""
    if value is None:
        return None
    from pathlib import Path

    import pandas as pd

    from .errors import SpecError

    path = Path(value)
    if path.suffix.lower() in (".csv", ".tsv", ".txt", ".xlsx"):
        if not path.is_file():
            raise SpecError(f"The ICE table {value!r} does not exist; give a .csv/.tsv/.xlsx file with the columns "
                            "subject_id and visit (and optionally strategy), or a column of the data.")
        if path.suffix.lower() == ".xlsx":
            return pd.read_excel(path, dtype=str)
        return pd.read_csv(path, dtype=str, sep="\t" if path.suffix.lower() == ".tsv" else ",",
                           keep_default_na=False, na_values=[""])
    if value not in trial.data.columns:
        raise SpecError(f"--ice {value!r} is neither a table file (.csv, .tsv, .xlsx) nor a column of the data; "
                        f"the data's columns: {', '.join(map(str, trial.data.columns))}.")
    return value


def _references(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out = {}
    for item in items:
        arm, sep, ref = item.partition("=")
        if not sep or not arm.strip() or not ref.strip():
            raise UsageError(f"--references takes ARM=REFERENCE pairs such as forward=control, not {item!r}.")
        out[arm.strip()] = ref.strip()
    return out


def _deltas(values: list[str] | None) -> list[float] | str | None:
    if values is None:
        return None
    if [v.lower() for v in values] == ["auto"]:
        return "auto"
    try:
        return [float(v) for v in values]
    except ValueError:
        raise UsageError(f"--deltas takes numbers (e.g. --deltas 0 0.5 1 1.5 2) or 'auto', not {' '.join(values)!r}."
                         ) from None


def cmd_sensitivity(args: argparse.Namespace, width: int, wrap, frame_text, load, covariates_of) -> int:
    """Run the command (the helpers come from :mod:`retrostudy.cli`: terminal width, wrapping, table printing,
    loading a source, matching covariate names)."""
    from .missing import sensitivity, tipping_point

    if args.tables and not args.tables.lower().endswith((".csv", ".json", ".xlsx")):
        raise UsageError(f"--tables takes a file ending in .csv, .json or .xlsx, not {args.tables!r}")
    deltas = _deltas(args.deltas)
    if args.tipping_arm and deltas is None:
        raise UsageError("--tipping-arm needs --deltas (the grid of the tipping point, or 'auto').")
    refs = _references(args.references)
    trial = load(args.source, args.config, header_row=args.header_row)
    kw: dict[str, Any] = {
        "outcome": args.outcome, "strategy": args.strategy, "method": args.method, "baseline": args.baseline,
        "family": args.family, "reference_arm": args.reference_arm, "references": refs,
        "covariates": covariates_of(list(args.covariates), trial), "covariance": args.covariance,
        "ice": _ice_argument(args.ice, trial), "n_samples": args.n_samples, "seed": args.seed,
        "workers": args.workers, "scheduler": args.scheduler, "max_errors": args.max_errors,
        "conf_level": args.conf_level,
    }
    if trial.meta.get("synthetic"):
        print(wrap("NOTE: SYNTHETIC DATA. " + str(trial.meta.get("synthetic_statement", ""))) + "\n")
    res = sensitivity(trial, **kw)
    _print_result(res, wrap, frame_text)
    tables = {"contrasts": res.to_frame(), "lsmeans": res.lsmeans, "intercurrent_events": res.ice}
    if deltas == []:
        from .errors import SpecError

        raise SpecError("The delta grid is empty: give --deltas at least one delta, e.g. --deltas 0 0.5 1 1.5 2, "
                        "or --deltas auto.")
    if deltas is not None:
        arms = list(trial.arms)
        ref = args.reference_arm or arms[-1]
        arm = args.tipping_arm or next((a for a in arms if a != ref), arms[0])
        grid = _auto(trial, res, arm, ref, args.outcome) if isinstance(deltas, str) else list(deltas)
        tip = tipping_point(trial, deltas=grid, arm=arm, **kw)
        _print_tipping(tip, wrap, frame_text)
        tables.update({"tipping_point": tip.to_frame(), "tipping": tip.tipping})
    if len(res.exclusions):
        print()
        print(res.exclusions.summary())
    if args.tables:
        from pathlib import Path

        from .export import write_tables

        files = write_tables(tables, args.tables)
        print("\nTables written: " + ", ".join(Path(f).name for f in files))
    return 0


def _auto(trial: Any, res: Any, arm: str, ref: str, outcome: str) -> list[float]:
    """The report's automatic grid: 0 to 4 baseline SDs against ``arm``'s difference under the strategy."""
    from .report.missing_analysis import arm_estimate, automatic_grid, baseline_sd

    return list(automatic_grid(arm_estimate(res, arm, ref), baseline_sd(trial, outcome, trial.baseline_visit)))


def _print_result(res: Any, wrap, frame_text) -> None:
    s = res.settings
    print(res.title)
    ice = res.ice
    per_arm = ice.groupby(ice["arm"].astype(str)).size().to_dict() if len(ice) else {}
    arms = list(res.lsmeans["arm"].drop_duplicates()) if len(res.lsmeans) else list(per_arm)
    n_ice = ", ".join(f"{a} {per_arm.get(a, 0)}" for a in arms)
    refs = "; ".join(f"{a} -> {r}" for a, r in s.get("references", {}).items() if r != s["reference_arm"])
    print(wrap(f"n: {s['n_subjects']} participants; {s['n_ice']} with an intercurrent event ({n_ice}; {s['ice']}); "
               f"reference arm {s['reference_arm']}" + (f" (other references: {refs})" if refs else "")
               + f"; imputation model: MMRM ({s['covariance']}), baseline {s['baseline']}"
               + (f", covariates {', '.join(s['covariates'])}" if s["covariates"] else "") + "."))
    if res.estimand is not None:
        print("\nEstimand")
        for line in res.estimand.describe().splitlines():
            print(wrap(line, "  "))
    print(f"\nContrasts ({s['family']}; estimate = first arm minus second arm; df: {s['df']})")
    print(frame_text(_shown(res.to_frame())))
    print("\nLeast-squares means by arm")
    print(frame_text(_shown(res.lsmeans.drop(columns=["p_value"], errors="ignore"))))
    for note in s.get("notes", []):
        print(wrap(f"Note: {note}"))
    if s.get("seed") is not None:
        print(wrap(f"Seed: {s['seed']} (give --seed {s['seed']} to repeat this run exactly)."))


def _shown(frame: Any) -> Any:
    """The frame as printed: without the df column when every df is infinite (normal-based intervals)."""
    import numpy as np

    if "df" in frame.columns and np.isinf(frame["df"].to_numpy(float)).all():
        return frame.drop(columns=["df"])
    return frame


def _print_tipping(tip: Any, wrap, frame_text) -> None:
    import numpy as np

    print("\n" + wrap(tip.title))
    t = tip.to_frame()
    rows = t.loc[(t["contrast"] == tip.contrast) & (t["visit"].astype(str) == str(tip.visit))]
    print(frame_text(rows.loc[:, ["delta", "contrast", "visit", "estimate", "std_error", "conf_low", "conf_high",
                                  "p_value"]]))

    def show(x: float) -> str:
        return "not reached" if not np.isfinite(x) else f"{x:.4g}"

    print(wrap(f"Tipping point ({tip.contrast}, {tip.visit}, alpha {tip.alpha:g}): first delta with p >= alpha "
               f"{show(tip.tipping_delta)}; interpolated {show(tip.tipping_delta_interpolated)}."))
    if len(tip.failures):
        print(wrap(f"{len(tip.failures)} replicate(s) failed and were replaced (see the tables)."), file=sys.stderr)
