"""The ``retrostudy power`` command (and the option helpers ``retrostudy simulate`` shares).

Only :mod:`argparse` is imported at module level so ``retrostudy --help`` stays fast.
Every option can also come from ``--settings plan.yaml`` (same names, ``_`` or ``-``);
options on the command line win over the file.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_power_parser", "add_simulate_parser", "cmd_power", "cmd_simulate", "parse_corr", "write_outputs"]

POWER_KEYS = ("design", "source", "outcome", "arm", "baseline", "n_total", "n1", "effect", "power", "sd", "rho",
              "corr", "corr2", "structure", "times", "retention", "retention2", "allocation", "alpha",
              "alternative", "test", "method", "arms", "adjust", "curve")


def add_power_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "power", help="sample size or power of a t-test, ANCOVA or MMRM (analytic)",
        description="Solve for the sample size, the effect or the power (leave exactly one out) of the two-sample "
                    "t-test, the ANCOVA on baseline or the MMRM at the final visit (Lu, Luo & Chen 2008). SD, "
                    "correlations and dropout can be read from a dataset with --from.")
    p.add_argument("--design", choices=["ttest", "ancova", "mmrm"], help="analysis to plan for (default mmrm)")
    p.add_argument("--settings", metavar="YAML", help="the plan as a YAML mapping of these options")
    p.add_argument("--from", dest="source", metavar="SOURCE",
                   help="take sd, rho, correlation and dropout from a data file or bundled dataset")
    p.add_argument("--outcome", help="outcome for --from, e.g. pain_nrs")
    p.add_argument("--arm", help="experimental arm for --from (default: the first arm)")
    p.add_argument("--baseline", choices=["covariate", "response"],
                   help="MMRM with --from: baseline as a covariate (default, the package's MMRM) or as a response")
    p.add_argument("--n-total", type=float, help="all subjects randomized")
    p.add_argument("--n1", type=float, help="subjects in the (each) experimental arm (t-test, ANCOVA)")
    p.add_argument("--effect", help="difference in means to detect, or 'observed' with --from")
    p.add_argument("--power", type=float, help="power, e.g. 0.8")
    p.add_argument("--sd", type=float, help="SD of the outcome at the final visit")
    p.add_argument("--rho", type=float, help="ANCOVA: correlation of baseline and final value")
    p.add_argument("--corr", help="MMRM: one correlation (with --structure) or a matrix '1,0.5;0.5,1'")
    p.add_argument("--corr2", help="MMRM: the control arm's correlation, if different")
    p.add_argument("--structure", choices=["cs", "ar1"], help="how one --corr value spreads over the visits")
    p.add_argument("--times", type=float, nargs="+", help="visit times for --structure ar1")
    p.add_argument("--retention", type=float, nargs="+", help="proportion observed at each visit (MMRM), or at "
                   "the final visit (t-test, ANCOVA; two values: experimental, control)")
    p.add_argument("--retention2", type=float, nargs="+", help="MMRM: the control arm's retention")
    p.add_argument("--allocation", type=float, help="n1 / n2 (default 1)")
    p.add_argument("--alpha", type=float, help="significance level (default 0.05)")
    p.add_argument("--alternative", choices=["two-sided", "one-sided"])
    p.add_argument("--test", choices=["z", "t"], help="MMRM: z (longpower) or t (default z)")
    p.add_argument("--method", choices=["exact", "t", "z"], help="ANCOVA: exact (default), t or z")
    p.add_argument("--arms", type=int, help="number of arms, one of them the control (default 2)")
    p.add_argument("--adjust", choices=["none", "bonferroni", "dunnett"], help="multiplicity over the comparisons")
    p.add_argument("--curve", type=float, nargs=3, metavar=("FROM", "TO", "STEP"),
                   help="also print the power at total sizes FROM, FROM+STEP, ..., TO")
    p.add_argument("--csv", metavar="PATH", help="write the result (or the curve) as CSV")
    p.add_argument("--json", metavar="PATH", help="write the result (and the curve) as JSON")
    p.add_argument("--figure", metavar="PATH", help="write the power curve as a figure (.png, .svg, .pdf)")
    return p


def parse_corr(text: Any) -> Any:
    """``"0.3"`` -> 0.3; ``"1,0.5;0.5,1"`` -> nested list; lists and numbers pass through."""
    from ..errors import SpecError

    if text is None or isinstance(text, (int, float, list, tuple)):
        return text
    try:
        rows = [[float(x) for x in row.split(",")] for row in str(text).strip().split(";") if row.strip()]
    except ValueError:
        raise SpecError(f"--corr must be a number or a matrix written '1,0.5;0.5,1', not {text!r}.") from None
    if len(rows) == 1 and len(rows[0]) == 1:
        return rows[0][0]
    return rows


def merged(args: argparse.Namespace, keys, settings_keys=None) -> dict[str, Any]:
    """Settings file values overridden by the options given on the command line."""
    from .settings import read_settings

    cfg = read_settings(args.settings, settings_keys or keys) if getattr(args, "settings", None) else {}
    for key in keys:
        value = getattr(args, key, None)
        if value is not None:
            cfg[key] = value
    return cfg


def write_outputs(result_frame, payload: dict, figure, args) -> None:
    """Write --csv, --json and --figure where asked."""
    import json
    from pathlib import Path

    if args.csv:
        result_frame.to_csv(args.csv, index=False)
        print(f"Wrote {args.csv}")
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2), encoding="utf-8")
        print(f"Wrote {args.json}")
    if args.figure:
        if figure is None:
            from ..errors import SpecError

            raise SpecError("--figure draws the power curve; give --curve FROM TO STEP too.")
        import matplotlib.pyplot as plt

        from ..figures import style

        with style():
            figure.savefig(args.figure, metadata={"Date": None} if str(args.figure).endswith(".svg") else None)
        plt.close(figure)
        print(f"Wrote {args.figure}")


def _from_source(cfg: dict, design: str) -> dict[str, Any]:
    """Inputs read from --from SOURCE --outcome OUT, overridden by explicit options."""
    from ..datasets import load_source
    from ..errors import SpecError
    from .inputs import planning_inputs

    if not cfg.get("outcome"):
        raise SpecError("--from needs --outcome to say which outcome to plan for.")
    inputs = planning_inputs(load_source(str(cfg["source"])), outcome=str(cfg["outcome"]))
    arm = cfg.get("arm")
    if design == "mmrm":
        kw = inputs.mmrm_kwargs(arm, baseline=cfg.get("baseline") or "covariate")
    elif design == "ancova":
        kw = inputs.ancova_kwargs(arm)
    else:
        kw = inputs.ttest_kwargs(arm)
    if str(cfg.get("effect", "")).lower() == "observed":
        kw["effect"] = abs(inputs.effect(arm))
        kw["sources"]["effect"] = inputs.sources["effect"] + f": {inputs.effect(arm):.4g}, its size used"
    print(inputs.summary())
    print()
    return kw


def planner_kwargs(cfg: dict) -> tuple[str, dict[str, Any]]:
    """(design, keyword arguments of rs.power_<design>) from merged settings."""
    from ..errors import SpecError

    design = cfg.get("design") or "mmrm"
    if design not in ("ttest", "ancova", "mmrm"):
        raise SpecError(f"design must be ttest, ancova or mmrm, not {design!r}.")
    kw: dict[str, Any] = _from_source(cfg, design) if cfg.get("source") else {}
    effect = cfg.get("effect")
    if effect is not None and str(effect).lower() != "observed":
        try:
            kw["effect"] = float(effect)
        except ValueError:
            raise SpecError(f"--effect must be a number (or 'observed' with --from), not {effect!r}.") from None
        kw.setdefault("sources", {}).pop("effect", None)
    elif effect is not None and not cfg.get("source"):
        raise SpecError("--effect observed needs --from SOURCE --outcome OUT to observe it.")
    common = ("power", "sd", "allocation", "alpha", "alternative", "arms", "adjust")
    per = {"ttest": ("n1", "retention"), "ancova": ("n1", "rho", "method", "retention"),
           "mmrm": ("n_total", "corr", "corr2", "structure", "times", "retention", "retention2", "test")}[design]
    for key in common + per:
        if cfg.get(key) is not None:
            kw[key] = parse_corr(cfg[key]) if key in ("corr", "corr2") else cfg[key]
            if key in kw.get("sources", {}):
                kw["sources"].pop(key)
    if design != "mmrm" and cfg.get("n_total") is not None:
        alloc, arms = float(kw.get("allocation", 1.0)), int(kw.get("arms", 2))
        kw["n1"] = float(cfg["n_total"]) * alloc / ((arms - 1) * alloc + 1.0)
    if design != "mmrm" and isinstance(kw.get("retention"), list) and len(kw["retention"]) == 1:
        kw["retention"] = kw["retention"][0]
    if "arms" in kw:
        kw["arms"] = int(kw["arms"])
    for key in ("sd",):
        if key not in kw:
            raise SpecError(f"--{key} is needed (or --from SOURCE --outcome OUT to read it from data).")
    if design == "ancova" and "rho" not in kw:
        raise SpecError("--rho (the baseline-final correlation) is needed for the ANCOVA, or --from to read it.")
    if design == "mmrm" and ("corr" not in kw or "retention" not in kw):
        raise SpecError("The MMRM needs --corr and --retention (or --from SOURCE --outcome OUT to read them).")
    return design, kw


def cmd_power(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from .analytic import power_ancova, power_mmrm, power_ttest
    from .curve import power_curve, power_curve_plot

    cfg = merged(args, POWER_KEYS)
    design, kw = planner_kwargs(cfg)
    funcs: dict[str, Any] = {"ttest": power_ttest, "ancova": power_ancova, "mmrm": power_mmrm}
    func = funcs[design]
    curve = cfg.get("curve")
    result = None
    if sum(kw.get(k) is None for k in ("n_total" if design == "mmrm" else "n1", "effect", "power")) == 1:
        result = func(**kw)
        print(result.summary())
    elif curve is None:
        from ..errors import SpecError

        size = "--n-total" if design == "mmrm" else "--n1 (or --n-total)"
        raise SpecError(f"Give two of {size}, --effect and --power (the third is solved for), or --effect with "
                        "--curve FROM TO STEP for a power curve.")
    frame = result.to_frame() if result is not None else pd.DataFrame()
    payload: dict[str, Any] = {"result": result.to_dict() if result is not None else None}
    fig = None
    if curve is not None:
        lo, hi, step = (float(x) for x in curve)
        if step <= 0 or hi < lo:
            from ..errors import SpecError

            raise SpecError("--curve needs FROM <= TO and a positive STEP, e.g. --curve 40 200 10.")
        sizes = np.arange(lo, hi + step / 2, step)
        ckw = {k: v for k, v in kw.items() if k not in ("power", "n1", "n_total")}
        frame = power_curve(design, sizes, **ckw)
        with pd.option_context("display.width", 120):
            print()
            print(f"Power curve ({design}, effect {ckw.get('effect')}):")
            print(frame.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        payload["curve"] = frame.to_dict(orient="records")
        fig = power_curve_plot(frame, target=kw.get("power") or 0.8, title=f"{design}: power by total size")
    write_outputs(frame, payload, fig, args)
    sys.stdout.flush()
    return 0


# ---------------------------------------------------------------------------- retrostudy simulate

SIM_MODEL_KEYS = ("arms", "n_per_arm", "visits", "weeks", "means", "sd", "corr", "retention", "dropout", "mar_slope",
                  "departure", "reference_arm")
SIM_KEYS = ("source", "outcome", "effect", "n_total", "n_per_arm", "dropout", "mar_slope", "departure", "analysis",
            "baseline", "covariance", "df_method", "adjust", "alpha", "engine", "n_sim", "seed", "null", "workers",
            "scheduler", "max_errors", "checkpoint", "curve")


def add_simulate_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "simulate", help="simulate trials and run the planned analysis on each (power, type I error, bias)",
        description="Simulate trials from a stated model (means by arm and visit, covariance, dropout) and analyse "
                    "each with the package's own ANCOVA or MMRM; prints power (or type I error with --null), bias, "
                    "coverage and their Monte Carlo SE. The model comes from --from SOURCE --outcome OUT (the trial's "
                    "SD, correlation and dropout) or from --settings YAML (keys arms, n_per_arm, visits, means, sd, "
                    "corr, retention, dropout, mar_slope, departure, and any option below).")
    p.add_argument("--settings", metavar="YAML", help="model and options as a YAML mapping")
    p.add_argument("--from", dest="source", metavar="SOURCE", help="data file or bundled dataset to take the model from")
    p.add_argument("--outcome", help="outcome for --from")
    p.add_argument("--effect", help="effect of each experimental arm at the final visit, or 'observed' (default)")
    p.add_argument("--n-total", type=int, help="total subjects (allocation as in the model)")
    p.add_argument("--n-per-arm", type=int, nargs="+", help="subjects per arm")
    p.add_argument("--dropout", choices=["mcar", "mar"], help="dropout mechanism (default mar with --from)")
    p.add_argument("--mar-slope", type=float, help="MAR: log-odds of leaving per SD of the last value (default 0.5)")
    p.add_argument("--departure", choices=["none", "j2r"], help="after dropout: own arm (none) or jump to reference")
    p.add_argument("--analysis", choices=["mmrm", "ancova"], help="the planned analysis (default mmrm)")
    p.add_argument("--baseline", choices=["covariate", "none"], help="MMRM: baseline as covariate (default) or response")
    p.add_argument("--covariance", help="MMRM covariance structure (default us)")
    p.add_argument("--df-method", help="MMRM df method (default kenward-roger)")
    p.add_argument("--adjust", choices=["none", "bonferroni", "dunnett"], help="multiplicity over the comparisons")
    p.add_argument("--alpha", type=float, help="significance level (default 0.05)")
    p.add_argument("--engine", choices=["refit", "api"], help="refit the template design (default) or the public API")
    p.add_argument("--n-sim", type=int, help="simulated trials (default 1000)")
    p.add_argument("--seed", type=int, help="root seed (default 20190159)")
    p.add_argument("--null", action="store_true", default=None, help="simulate under no effect (type I error)")
    p.add_argument("--workers", type=int, help="run on a local Dask cluster of this many workers")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--max-errors", type=int, help="stop after this many failed replicates")
    p.add_argument("--checkpoint", metavar="DIR", help="save finished chunks here and resume from them")
    p.add_argument("--curve", type=float, nargs=3, metavar=("FROM", "TO", "STEP"),
                   help="simulated power at total sizes FROM, FROM+STEP, ..., TO")
    p.add_argument("--csv", metavar="PATH", help="write the result table (or the curve) as CSV")
    p.add_argument("--json", metavar="PATH", help="write the result as JSON")
    p.add_argument("--figure", metavar="PATH", help="write the power curve as a figure")
    return p


def _sim_model(cfg: dict):
    from ..datasets import load_source
    from ..errors import SpecError
    from .inputs import planning_inputs
    from .model import TrialModel

    effect = cfg.get("effect")
    if effect is not None and str(effect).lower() != "observed":
        try:
            effect = float(effect)
        except ValueError:
            raise SpecError(f"--effect must be a number or 'observed', not {effect!r}.") from None
    else:
        effect = None
    if cfg.get("source"):
        if not cfg.get("outcome"):
            raise SpecError("--from needs --outcome to say which outcome to simulate.")
        inputs = planning_inputs(load_source(str(cfg["source"])), outcome=str(cfg["outcome"]))
        print(inputs.summary())
        print()
        model = TrialModel.from_inputs(inputs, effect=effect, n_per_arm=cfg.get("n_per_arm"),
                                       dropout=cfg.get("dropout") or "mar", mar_slope=float(cfg.get("mar_slope", 0.5)),
                                       departure=cfg.get("departure") or "none")
    else:
        missing = [k for k in ("arms", "n_per_arm", "visits", "means", "sd", "corr", "retention") if cfg.get(k) is None]
        if missing:
            raise SpecError("Say what to simulate: --from SOURCE --outcome OUT, or a --settings file with "
                            f"{', '.join(missing)}.")
        kw = {k: cfg[k] for k in SIM_MODEL_KEYS if cfg.get(k) is not None}
        kw["corr"] = parse_corr(kw["corr"])
        if not isinstance(kw["corr"], (list, tuple)):
            from .analytic import structured_corr

            kw["corr"] = structured_corr(float(kw["corr"]), len(kw["visits"]), str(cfg.get("structure") or "cs"))
        model = TrialModel(**kw)
    if cfg.get("n_total"):
        model = model.with_n(int(cfg["n_total"]))
    if cfg.get("null"):
        model = model.null()
    return model


def cmd_simulate(args: argparse.Namespace) -> int:
    import numpy
    import pandas as pd

    from .curve import power_curve_plot
    from .simulate import simulate_power, simulate_power_curve

    cfg = merged(args, SIM_KEYS, SIM_KEYS + SIM_MODEL_KEYS + ("structure",))
    model = _sim_model(cfg)
    kw = {k: cfg[k] for k in ("analysis", "baseline", "covariance", "df_method", "adjust", "alpha", "engine",
                              "seed", "workers", "scheduler", "max_errors", "checkpoint") if cfg.get(k) is not None}
    kw["n_sim"] = 1000 if cfg.get("n_sim") is None else cfg["n_sim"]
    curve = cfg.get("curve")
    fig = None
    if curve is None:
        res = simulate_power(model, **kw)
        print(res.summary())
        frame, payload = res.to_frame(), res.to_dict()
    else:
        lo, hi, step = (float(x) for x in curve)
        sizes = numpy.arange(lo, hi + step / 2, step)
        frame = simulate_power_curve(model, sizes, **kw)
        with pd.option_context("display.width", 120):
            print(frame.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        payload = {"model": model.describe(), "curve": frame.to_dict(orient="records")}
        fig = power_curve_plot(frame, title="simulated power by total size")
    write_outputs(frame, payload, fig, args)
    return 0
