"""The ``retrostudy`` command line (also ``python -m retrostudy``).

Exit codes (DESIGN.md section 6): 0 ok; 2 usage error; 3 a data, mapping or
specification problem (one sentence, no traceback); 1 a bug (traceback shown).
Heavy libraries are imported inside the commands so ``--help`` answers at once.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .options import ADJUST, COVARIANCES, DF_METHODS

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_DATA = 0, 1, 2, 3
DEFAULT_DATASET = "alghadir2019_sim"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retrostudy",
        description=(
            "Outcome research on retro walking for knee osteoarthritis: read trial data, fit ANCOVA / "
            "mixed models / MMRM, and write a reproducible PDF report."
        ),
        epilog="Exit codes: 0 ok, 2 usage error, 3 a problem in the data or mapping file, 1 a bug.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("datasets", help="list the bundled datasets")

    p = sub.add_parser("validate", help="check a data file and summarise what was read")
    p.add_argument("file", help="data file (csv, tsv, xlsx, parquet, sas7bdat, xpt, sav, dta)")
    p.add_argument("--config", help="mapping file (YAML) for column roles and labels")
    p.add_argument("--layout", default="auto", choices=["auto", "long", "by-visit", "wide", "adam", "sheets"],
                   help="layout of the file (default: detect)")
    p.add_argument("--header-row", type=int, nargs="+", metavar="LINE",
                   help="line of the header in a csv/xlsx file with title rows above it (two lines for a header "
                        "written over two rows)")

    p = sub.add_parser("show", help="print the canonical table of a file or bundled dataset")
    p.add_argument("source", help="data file or bundled dataset id")
    p.add_argument("--config", help="mapping file (YAML)")
    p.add_argument("--layout", default="auto", choices=["auto", "long", "by-visit", "wide", "adam", "sheets"])
    p.add_argument("--header-row", type=int, nargs="+", metavar="LINE",
                   help="line of the header in a csv/xlsx file with title rows above it (two lines for a header "
                        "written over two rows)")
    p.add_argument("--rows", type=int, default=20, help="rows to print (default 20; 0 for all)")

    p = sub.add_parser("fit", help="fit a model to one outcome and print EMMs and contrasts")
    p.add_argument("source", nargs="?", default=DEFAULT_DATASET, help=f"data file or dataset (default {DEFAULT_DATASET})")
    p.add_argument("--config", help="mapping file (YAML)")
    p.add_argument("--outcome", required=True, help="outcome id, e.g. pain_nrs")
    p.add_argument("--header-row", type=int, nargs="+", metavar="LINE",
                   help="line of the header in a csv/xlsx file with title rows above it (two lines for a header "
                        "written over two rows)")
    p.add_argument("--model", default="ancova", choices=["ancova", "mmrm", "lmm"])
    p.add_argument("--adjust", default="none", choices=ADJUST)
    p.add_argument("--contrasts", default="pairwise", choices=["pairwise", "trt_vs_ref"])
    p.add_argument("--covariates", nargs="+", default=[], metavar="COLUMN", help="subject-level covariates, e.g. age sex")
    p.add_argument("--covariance", default="us",
                   help=f"MMRM covariance structure: {', '.join(COVARIANCES)} or a SAS name such as un, "
                        "arh(1), ante(1) (default us)")
    p.add_argument("--df-method", default=None, choices=DF_METHODS,
                   help="denominator df of MMRM/LMM tests (default satterthwaite; ANCOVA uses the residual df)")

    p = sub.add_parser("report", help="write the six-week comparison as a PDF report")
    p.add_argument("source", nargs="?", default=DEFAULT_DATASET, help=f"data file or dataset (default {DEFAULT_DATASET})")
    p.add_argument("--config", help="mapping file (YAML)")
    p.add_argument("--outcomes", nargs="+", help="outcome ids (default: all)")
    p.add_argument("--header-row", type=int, nargs="+", metavar="LINE",
                   help="line of the header in a csv/xlsx file with title rows above it (two lines for a header "
                        "written over two rows)")
    p.add_argument("--primary", choices=["ancova", "mmrm"], default=None, help="primary analysis (default mmrm)")
    p.add_argument("--adjust", default="holm", choices=ADJUST)
    p.add_argument("--settings", metavar="YAML",
                   help="analysis settings (covariance, df_method, covariates, conf_level, ...)")
    p.add_argument("--out", default="report.pdf", help="output PDF (default report.pdf)")
    p.add_argument("--keep-source", metavar="DIR", help="also write the typst source, its JSON data and figures")

    from .planning.cli import add_power_parser, add_simulate_parser

    add_power_parser(sub)
    add_simulate_parser(sub)
    return parser


class _Usage(Exception):
    """A usage error found after parsing (exit 2)."""


def _load(source: str, config: str | None = None, layout: str = "auto", header_row: list[int] | None = None):
    """A bundled dataset id or a file path -> TrialData."""
    from .datasets import load_source

    if not header_row:
        return load_source(source, config=config, layout=layout)
    from pathlib import Path

    from .io import read_trial

    if len(header_row) > 2:
        raise _Usage("--header-row takes the header's line, or two lines for a header written over two rows.")
    path = Path(source)
    if not path.exists() and not path.suffix and path.name == str(source):
        raise _Usage("--header-row applies to a csv or xlsx file, not to a bundled dataset.")
    return read_trial(path, config=config, layout=layout, header_row=list(header_row))


def _covariates(names: list[str], trial) -> list[str]:
    """``--covariates`` matched to the data's covariate columns (``"body mass index"`` -> ``body_mass_index``)."""
    from .errors import SpecError
    from .io.labels import match_columns

    found, unknown = match_columns(names, trial.covariates)
    if unknown:
        have = ", ".join(f"'{c}'" for c in trial.covariates) or "none"
        raise SpecError(f"The covariate '{unknown[0]}' is not a column of the data; the data's covariates are "
                        f"{have} (give one of these names to --covariates).")
    return found


def _check_outputs(out: str, keep_source: str | None) -> None:
    """Refuse an --out or --keep-source that cannot be written before any work is done."""
    import os
    import tempfile
    from pathlib import Path

    target = Path(out)
    if target.is_dir():
        raise _Usage(f"--out '{out}' is a folder; give the name of the PDF to write, e.g. {target / 'report.pdf'}.")
    blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise _Usage(f"cannot write the report to '{out}': '{blocker}' is a file, not a folder; choose another --out.")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".retrostudy-write-check-"):
            pass
    except OSError as exc:
        raise _Usage(f"cannot write the report to '{out}' ({exc.strerror or type(exc).__name__}); choose another "
                     "--out.") from None
    if keep_source is not None:
        folder = Path(keep_source)
        if folder.exists() and not folder.is_dir():
            raise _Usage(f"--keep-source '{keep_source}' is an existing file; give a folder to write the typst "
                         "source to (it is created if it does not exist).")
        existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
        if not existing.is_dir() or not os.access(existing, os.W_OK):
            raise _Usage(f"cannot create the folder '{keep_source}' for --keep-source; choose another folder.")

def _cmd_datasets(args: argparse.Namespace) -> int:
    from .datasets import list_datasets

    import pandas as pd

    frame = list_datasets()
    wide = [c for c in ("citation",) if c in frame.columns]
    with pd.option_context("display.width", 200, "display.max_colwidth", 100, "display.max_columns", 20):
        print(frame.drop(columns=wide).to_string(index=False))
    for rec in frame.to_dict(orient="records"):
        if rec.get("citation"):
            print(f"\n{rec['id']} cites: {rec['citation']}")
    if "synthetic" in frame.columns and frame["synthetic"].astype(str).str.lower().isin(["yes", "true"]).any():
        print("\nSynthetic datasets are simulated, not participant data.")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from .io import validate_trial

    extra = {"header_row": list(args.header_row)} if args.header_row else {}
    if args.header_row and len(args.header_row) > 2:
        raise _Usage("--header-row takes the header's line, or two lines for a header written over two rows.")
    report = validate_trial(args.file, config=args.config, layout=args.layout, **extra)
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_DATA


def _cmd_show(args: argparse.Namespace) -> int:
    import pandas as pd

    trial = _load(args.source, args.config, args.layout, args.header_row)
    print(repr(trial))
    if trial.meta.get("synthetic"):
        print(trial.meta.get("synthetic_statement", "SYNTHETIC DATA: simulated, not participant data."))
    frame = trial.data if args.rows == 0 else trial.data.head(args.rows)
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_rows", 100000):
        print(frame.to_string(index=False))
    if args.rows and len(trial.data) > args.rows:
        print(f"... {len(trial.data) - args.rows} more rows (use --rows 0 for all)")
    print(trial.exclusions.summary())
    return EXIT_OK


def _cmd_fit(args: argparse.Namespace) -> int:
    from .inference import contrasts, emmeans

    trial = _load(args.source, args.config, header_row=args.header_row)
    kwargs = {"outcome": args.outcome, "covariates": _covariates(list(args.covariates), trial)}
    if args.model == "ancova":
        from .models.ancova import fit_ancova

        fit = fit_ancova(trial, **kwargs)
    elif args.model == "mmrm":
        from .models.mmrm import fit_mmrm

        fit = fit_mmrm(trial, covariance=args.covariance, df_method=args.df_method or "satterthwaite", **kwargs)
    else:
        from .models.lmm import fit_lmm

        fit = fit_lmm(trial, df_method=args.df_method or "satterthwaite", **kwargs)
    if trial.meta.get("synthetic"):
        print("NOTE: " + str(trial.meta.get("synthetic_statement", "these data are synthetic.")) + "\n")
    emm = emmeans(fit)
    con = contrasts(emm, family=args.contrasts, adjust=args.adjust)
    print(emm.summary())
    print()
    print(con.summary())
    if len(fit.exclusions):
        print()
        print(fit.exclusions.summary())
    return EXIT_OK


def _cmd_power(args: argparse.Namespace) -> int:
    from .planning.cli import cmd_power

    return cmd_power(args)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .planning.cli import cmd_simulate

    return cmd_simulate(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import build_report

    _check_outputs(args.out, args.keep_source)
    data = _load(args.source, args.config, header_row=args.header_row)
    manifest = build_report(
        data,
        out=args.out,
        outcomes=args.outcomes,
        primary=args.primary,
        adjust=args.adjust,
        settings=args.settings,
        keep_source=args.keep_source,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(f"Wrote {args.out}")
    summary = getattr(manifest, "summary", None)
    if callable(summary):
        print(summary())
    return EXIT_OK


_COMMANDS = {
    "datasets": _cmd_datasets,
    "validate": _cmd_validate,
    "show": _cmd_show,
    "fit": _cmd_fit,
    "report": _cmd_report,
    "power": _cmd_power,
    "simulate": _cmd_simulate,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.version:
        from . import __version__

        print(f"retrostudy {__version__}")
        return EXIT_OK
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from .errors import RetrostudyError

    try:
        return _COMMANDS[args.command](args)
    except _Usage as exc:
        print(f"retrostudy: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RetrostudyError as exc:
        print(f"retrostudy: {exc}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt:
        print("retrostudy: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
