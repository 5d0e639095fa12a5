"""The ``retrostudy`` command line (also ``python -m retrostudy``).

Exit codes (DESIGN.md section 6): 0 ok; 2 usage error; 3 a data, mapping or
specification problem (one sentence, no traceback); 1 a bug (traceback shown).
Heavy libraries are imported inside the commands so ``--help`` answers at once; the
option vocabularies come from :mod:`retrostudy.options` (one copy), and a misspelt choice
(``--df-method kenward``) is answered with the closest one.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence
from importlib import util as _import_util

from .options import (
    ADJUST,
    CONTRAST_FAMILIES,
    COVARIANCES,
    DF_ALIASES,
    DF_METHODS,
    MULTIPLICITY,
    MULTIPLICITY_ALIASES,
    REPORT_SETTINGS,
    SENSITIVITY_SETTINGS,
    resolve_option,
)

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_DATA = 0, 1, 2, 3
DEFAULT_DATASET = "alghadir2019_sim"
LAYOUTS = ("auto", "long", "by-visit", "wide", "adam", "sheets")
MODELS = ("ancova", "mmrm", "lmm")
TABLE_ENDINGS = (".csv", ".json", ".xlsx")
OUTCOME_HINT = "list the outcome ids of a file or dataset with: retrostudy validate SOURCE"


def _width() -> int:
    """The terminal's width (80 when not a terminal), capped at 120 for reading."""
    return max(60, min(shutil.get_terminal_size((80, 24)).columns, 120))


def _wrap(text: str, indent: str = "", hang: str = "  ") -> str:
    return textwrap.fill(text, _width() - 2, initial_indent=indent, subsequent_indent=indent + hang,
                         break_on_hyphens=False)


def _choice(what: str, choices: Sequence[str], aliases: dict[str, str] | None = None,
            resolver: Callable[[str], str] | None = None) -> Callable[[str], str]:
    """An argparse ``type=`` that accepts the choices and their aliases, or says "did you mean"."""
    def convert(value: str) -> str:
        try:
            if resolver is not None:
                return resolver(value)
            return resolve_option(value, tuple(choices), what, aliases)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        except Exception as exc:  # SpecError from the covariance resolver
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = what
    return convert


def _covariance(value: str) -> str:
    from .models.structures import covariance_key

    return covariance_key(value)


def _header_row_option(p: argparse.ArgumentParser) -> None:
    """``--header-row``, the same for every command that reads a data file."""
    p.add_argument("--header-row", type=int, nargs="+", metavar="LINE",
                   help="line of the header in a csv/xlsx file with title rows above it (two lines for a header "
                        "written over two rows; default: line 1)")


def _mapping_keys() -> str:
    """The mapping file's keys, read from the docstring of retrostudy.io.mapping without importing it."""
    try:
        spec = _import_util.find_spec("retrostudy.io.mapping")
        if spec is None or spec.origin is None:
            return "  (see the README)"
        with open(spec.origin, encoding="utf-8") as fh:
            doc = ast.get_docstring(ast.parse(fh.read())) or ""
    except (OSError, AttributeError, SyntaxError):
        return "  (see the README)"
    block = doc.split("::", 1)[-1].split("Outcome definition keys", 1)
    keys = textwrap.dedent(block[0]).strip("\n")
    tail = ("Outcome definition keys" + block[1].split("The file is read", 1)[0]).strip() if len(block) > 1 else ""
    return textwrap.indent(keys, "  ") + "\n" + _wrap(" ".join(tail.replace("``", "").split()), "  ")


def _settings_keys() -> str:
    lines = []
    for table, indent in ((REPORT_SETTINGS, "  "), (SENSITIVITY_SETTINGS, "    ")):
        if table is SENSITIVITY_SETTINGS:
            lines.append(_wrap("Keys of sensitivity (e.g. sensitivity: {strategies: [mar, j2r], seed: 7}):", "  "))
        for key, (default, what) in table.items():
            if default is None or default == {}:  # the description says what the default is
                lines.append(_wrap(f"{key}: {what}", indent))
                continue
            shown = default if isinstance(default, str) else repr(default)
            lines.append(_wrap(f"{key} (default {shown}): {what}", indent))
    return "\n".join(lines)


def _epilog(*examples: str, extra: str = "") -> str:
    text = "Examples:\n" + "\n".join(f"  {e}" for e in examples)
    return (extra.rstrip() + "\n\n" + text) if extra else text


def _parser(sub, name: str, help: str, description: str, examples: Sequence[str], extra: str = ""):
    return sub.add_parser(name, help=help, description=_wrap(description, hang=""), epilog=_epilog(*examples, extra=extra),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="retrostudy",
        description=_wrap(hang="", text=
            "Outcome research on retro walking for knee osteoarthritis: read trial data, fit ANCOVA / "
            "mixed models / MMRM, and write a reproducible PDF report."
        ),
        epilog=_epilog(
            "retrostudy fit alghadir2019_sim --outcome pain_nrs --model mmrm --df-method kr",
            "retrostudy report mytrial.csv --config mytrial.yaml --settings analysis.yaml --out mytrial.pdf",
            extra=("Run retrostudy COMMAND --help for each command's options and defaults. Exit codes: 0 ok, "
                   "2 usage error, 3 a problem in the data, mapping or settings file, 1 a bug.\n\n"
                   "Mapping file keys (--config; how to read a file; all optional):\n" + _mapping_keys()
                   + "\n\nReport settings keys (--settings FILE, YAML; every key optional):\n" + _settings_keys())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _parser(sub, "datasets", "list the bundled datasets", "List the bundled datasets (synthetic ones are marked).",
            ["retrostudy datasets", "retrostudy show alghadir2019_sim"])

    p = _parser(sub, "validate", "check a data file and summarise what was read (arms, visits, outcome ids)",
                "Check a data file (or a bundled dataset's file): every problem as a sentence, or what was read -- "
                "arms, visits, the outcome ids that --outcome and --outcomes take, and the values left out.",
                ["retrostudy validate mytrial.xlsx", "retrostudy validate mytrial.csv --config mytrial.yaml"],
                extra="Mapping file keys (--config):\n" + _mapping_keys())
    p.add_argument("file", help="data file (csv, tsv, xlsx, parquet, sas7bdat, xpt, sav, dta) or bundled dataset id")
    p.add_argument("--config", metavar="YAML", help="mapping file for column roles and labels (default: none)")
    p.add_argument("--layout", default="auto", choices=LAYOUTS,
                   help=f"layout of the file: {', '.join(LAYOUTS)} (default: auto, recognised from the columns)")
    _header_row_option(p)

    p = _parser(sub, "show", "print the canonical table of a file or bundled dataset",
                "Print the canonical long table (one row per participant x visit x outcome) of a file or bundled "
                "dataset, and the exclusion log.",
                ["retrostudy show alghadir2019_sim --rows 10", "retrostudy show mytrial.csv --config mytrial.yaml"])
    p.add_argument("source", help="data file or bundled dataset id (retrostudy datasets lists them)")
    p.add_argument("--config", metavar="YAML", help="mapping file (default: none)")
    p.add_argument("--layout", default="auto", choices=LAYOUTS,
                   help=f"layout of the file: {', '.join(LAYOUTS)} (default: auto)")
    _header_row_option(p)
    p.add_argument("--rows", type=int, default=20, help="rows to print (default 20; 0 for all)")

    p = _parser(sub, "fit", "fit a model to one outcome: n, EMMs, contrasts, effect sizes",
                "Fit one model to one outcome and print the participants and observations analysed, the estimated "
                "marginal means, the contrasts (with the same multiplicity default as `report`: Holm within the "
                f"outcome's contrasts at each visit) and Hedges' g. {OUTCOME_HINT[:1].upper() + OUTCOME_HINT[1:]}.",
                ["retrostudy fit alghadir2019_sim --outcome pain_nrs --model ancova",
                 ("retrostudy fit mytrial.csv --outcome womac --model mmrm --covariance toeplitz --df-method kr "
                 "--tables womac.xlsx")])
    p.add_argument("source", nargs="?", default=DEFAULT_DATASET,
                   help=f"data file or bundled dataset id (default {DEFAULT_DATASET})")
    p.add_argument("--config", metavar="YAML", help="mapping file (default: none)")
    p.add_argument("--outcome", required=True, help=f"outcome id, e.g. pain_nrs ({OUTCOME_HINT})")
    _header_row_option(p)
    p.add_argument("--model", default="ancova", type=_choice("model", MODELS),
                   help=f"{', '.join(MODELS)} (default ancova: the final visit ~ arm + baseline)")
    p.add_argument("--adjust", default="holm", type=_choice("adjust", ADJUST),
                   help=f"multiplicity adjustment of the contrasts at each visit: {', '.join(ADJUST)} (default "
                        "holm, as `report`; holm keeps unadjusted CIs, bonferroni/dunnett/tukey print simultaneous "
                        "CIs)")
    p.add_argument("--family", "--contrasts", dest="family", default="pairwise",
                   type=_choice("family", CONTRAST_FAMILIES),
                   help=f"the family of contrasts: {', '.join(CONTRAST_FAMILIES)} (default pairwise; trt_vs_ref: each "
                        "arm minus the reference arm); --contrasts is its old name")
    p.add_argument("--covariates", nargs="+", default=[], metavar="COLUMN",
                   help="subject-level covariates, e.g. age sex (default: none)")
    p.add_argument("--covariance", default="us", type=_choice("covariance", COVARIANCES, resolver=_covariance),
                   help=f"MMRM covariance structure: {', '.join(COVARIANCES)} or a SAS/R name such as un, toeplitz, "
                        "arh(1), ante(1) (default us)")
    p.add_argument("--df-method", default=None, type=_choice("df method", DF_METHODS, DF_ALIASES),
                   help=f"denominator df of MMRM/LMM tests: {', '.join(DF_METHODS)}; kr = kenward-roger (default "
                        "satterthwaite; ANCOVA always uses the residual df)")
    p.add_argument("--tables", metavar="FILE", help="also write the tables to FILE (.csv, .json or .xlsx)")

    p = _parser(sub, "report", "write the trial report as a PDF (and print its primary results)",
                "Fit the primary (cLDA MMRM) and sensitivity (complete-case ANCOVA) analyses of every outcome, run "
                "the missing-data sensitivity analyses of the primary outcomes (multiple imputation under MAR, J2R, "
                "CR, CIR, LMCF and a tipping point) and write a reproducible PDF report with its manifest; print the "
                "primary results. Command-line options override the "
                f"settings file. {OUTCOME_HINT[:1].upper() + OUTCOME_HINT[1:]}.",
                ["retrostudy report --out six-week.pdf",
                 ("retrostudy report mytrial.csv --config mytrial.yaml --settings analysis.yaml --date 2024-05-31 "
                 "--out mytrial.pdf --tables mytrial.xlsx")],
                extra="Settings keys (--settings FILE, YAML; every key optional):\n" + _settings_keys())
    p.add_argument("source", nargs="?", default=DEFAULT_DATASET,
                   help=f"data file or bundled dataset id (default {DEFAULT_DATASET})")
    p.add_argument("--config", metavar="YAML", help="mapping file (default: none)")
    p.add_argument("--outcomes", nargs="+", metavar="ID", help="outcome ids to report (default: all)")
    _header_row_option(p)
    p.add_argument("--primary-outcomes", nargs="+", metavar="ID",
                   help="primary outcome(s), in testing order (default: pain_nrs and womac where present, else the "
                        "first outcome); the others are exploratory")
    p.add_argument("--primary", default=None, type=_choice("primary analysis", ("mmrm", "ancova")),
                   help="primary analysis: mmrm or ancova (default mmrm)")
    p.add_argument("--adjust", default=None, type=_choice("adjust", ADJUST),
                   help=f"within one outcome's contrasts: {', '.join(ADJUST)} (default holm)")
    p.add_argument("--multiplicity", default=None, type=_choice("multiplicity", MULTIPLICITY, MULTIPLICITY_ALIASES),
                   help=f"across the primary outcomes' contrasts: {', '.join(MULTIPLICITY)} (default holm)")
    p.add_argument("--settings", metavar="YAML", help="analysis settings file (keys below; default: none)")
    p.add_argument("--date", metavar="YYYY-MM-DD",
                   help="report date (default: SOURCE_DATE_EPOCH, else the data's date, else the file's "
                        "modification date)")
    p.add_argument("--out", default="report.pdf", help="output PDF (default report.pdf); the manifest goes next to it")
    p.add_argument("--keep-source", metavar="DIR", help="also write the typst source, its JSON data and figures")
    p.add_argument("--tables", metavar="FILE", help="also write the report's tables to FILE (.csv, .json or .xlsx)")

    from .cli_sensitivity import add_sensitivity_parser
    from .planning.cli import add_power_parser, add_simulate_parser

    add_sensitivity_parser(sub, _parser)

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


def _frame_text(frame, digits: int = 2) -> str:
    import pandas as pd

    from .format import format_frame

    with pd.option_context("display.width", _width(), "display.max_columns", 40, "display.max_colwidth", 40):
        return format_frame(frame, digits).to_string(index=False, line_width=_width())


def _cmd_datasets(args: argparse.Namespace) -> int:
    import pandas as pd

    from .datasets import list_datasets

    frame = list_datasets()
    narrow = [c for c in ("id", "synthetic", "subjects", "visits") if c in frame.columns]
    with pd.option_context("display.width", _width(), "display.max_colwidth", 60, "display.max_columns", 20):
        print(frame.loc[:, narrow].to_string(index=False, line_width=_width()))
    for rec in frame.to_dict(orient="records"):
        print()
        for key, words in (("title", ""), ("outcomes", "outcomes: "), ("licence", "licence: "), ("citation", "cites: ")):
            if rec.get(key):
                print(_wrap(f"{rec['id']} {words}{rec[key]}" if words else f"{rec['id']}: {rec[key]}"))
    if "synthetic" in frame.columns and frame["synthetic"].astype(str).str.lower().isin(["yes", "true"]).any():
        print("\nSynthetic datasets are simulated, not participant data.")
    return EXIT_OK


def _is_dataset_id(source: str) -> bool:
    from pathlib import Path

    path = Path(source)
    return not path.exists() and path.name == str(source) and not path.suffix


def _cmd_validate(args: argparse.Namespace) -> int:
    from importlib import resources

    from .io import validate_trial

    if args.header_row and len(args.header_row) > 2:
        raise _Usage("--header-row takes the header's line, or two lines for a header written over two rows.")
    if _is_dataset_id(args.file):
        from .datasets import dataset_file

        if args.config:
            print("retrostudy: a mapping (--config) applies to files, not to a bundled dataset.", file=sys.stderr)
            return EXIT_USAGE
        resource, config = dataset_file(args.file)
        print(f"Bundled dataset {args.file}: checking its packaged file {resource.name}.")
        with resources.as_file(resource) as path:
            report = validate_trial(path, config=config, layout="long")
    else:
        extra = {"header_row": list(args.header_row)} if args.header_row else {}
        report = validate_trial(args.file, config=args.config, layout=args.layout, **extra)
    for line in report.summary().splitlines():
        print(line if line.startswith(" ") else _wrap(line))
    return EXIT_OK if report.ok else EXIT_DATA


def _cmd_show(args: argparse.Namespace) -> int:
    import pandas as pd

    trial = _load(args.source, args.config, args.layout, args.header_row)
    print(_wrap(repr(trial)))
    if trial.meta.get("synthetic"):
        print(_wrap(str(trial.meta.get("synthetic_statement", "SYNTHETIC DATA: simulated, not participant data."))))
    frame = trial.data if args.rows == 0 else trial.data.head(args.rows)
    with pd.option_context("display.width", _width(), "display.max_columns", 30, "display.max_rows", 100000):
        print(frame.to_string(index=False, line_width=_width()))
    if args.rows and len(trial.data) > args.rows:
        print(f"... {len(trial.data) - args.rows} more rows (use --rows 0 for all)")
    print(trial.exclusions.summary())
    return EXIT_OK


def _fit_model(trial, args):
    kwargs = {"outcome": args.outcome, "covariates": _covariates(list(args.covariates), trial)}
    if args.model == "ancova":
        from .models.ancova import fit_ancova

        return fit_ancova(trial, **kwargs)
    if args.model == "mmrm":
        from .models.mmrm import fit_mmrm

        return fit_mmrm(trial, covariance=args.covariance, df_method=args.df_method or "satterthwaite", **kwargs)
    from .models.lmm import fit_lmm

    return fit_lmm(trial, df_method=args.df_method or "satterthwaite", **kwargs)


def _cmd_fit(args: argparse.Namespace) -> int:
    from .errors import SpecError
    from .inference import contrasts, effect_sizes, emmeans
    from .report.multiplicity import within_outcome

    if args.tables and not args.tables.lower().endswith(TABLE_ENDINGS):
        return _usage(f"--tables takes a file ending in {', '.join(TABLE_ENDINGS)}, not {args.tables!r}")
    trial = _load(args.source, args.config, header_row=args.header_row)
    fit = _fit_model(trial, args)
    if trial.meta.get("synthetic"):
        print(_wrap("NOTE: SYNTHETIC DATA. " + str(trial.meta.get("synthetic_statement", ""))) + "\n")
    emm = emmeans(fit)
    raw = contrasts(emm, family=args.family, adjust="none")
    adjusted = contrasts(emm, family=args.family, adjust=args.adjust).to_frame() \
        if args.adjust in ("dunnett", "tukey") else None
    con, kind = within_outcome(raw.to_frame(), args.adjust, fit.conf_level, adjusted)
    try:
        eff = effect_sizes(raw, standardizer="baseline_sd")
    except SpecError:
        eff = effect_sizes(raw, standardizer="residual_sd")
    by_arm = fit.n_analysed(by="arm")
    randomized = trial.data.groupby("arm", observed=True)["subject_id"].nunique()
    n_rand = int(randomized.sum())
    stats = fit.fit_stats
    print(f"{fit.model.upper()} of {fit.outcome} (response: {fit.response}); mean model: {fit.spec.mean}")
    line = (f"n: {stats.n_subjects} participants, {stats.n_obs} observations analysed "
            f"({', '.join(f'{a} {n}' for a, n in by_arm.items())}) of {n_rand} randomised")
    if n_rand > stats.n_subjects:
        why = ("they have no value after baseline" if fit.model != "ancova"
               else "they lack the baseline or the analysis visit's value")
        line += f"; {n_rand - stats.n_subjects} contribute nothing because {why}"
    print(_wrap(line + "."))
    print(f"df: {fit.df_method}; confidence level {fit.conf_level:.0%}")
    print("\nEstimated marginal means")
    print(_frame_text(emm.to_frame().loc[:, [c for c in ("arm", "visit", "estimate", "std_error", "df", "conf_low",
                                                          "conf_high") if c in emm.to_frame().columns]]))
    print(f"\nContrasts ({args.family}; estimate = first arm minus second arm)")
    print(_wrap(f"{kind.p_label}: {kind.note}."))
    cols = ["contrast", "visit", "estimate", "std_error", "df", "statistic", "p_value", "p_adjusted", "conf_low",
            "conf_high"]
    print(_frame_text(con.loc[:, [c for c in cols if c in con.columns]]))
    ef = eff.to_frame()
    sd = f"{float(ef['standardizer'].iloc[0]):.2f}" if len(ef) else "?"
    which = eff.settings.get("standardizer", "baseline_sd")
    print("\n" + _wrap(f"Effect sizes (Hedges' g = contrast / SD {sd} ({which}), small-sample corrected; "
                       "unadjusted CIs)"))
    print(_frame_text(ef.loc[:, [c for c in ("contrast", "visit", "estimate", "conf_low", "conf_high")
                                 if c in ef.columns]]))
    if len(fit.exclusions):
        print()
        print(fit.exclusions.summary())
    if args.tables:
        from .export import write_tables

        coef = fit.to_frame()
        files = write_tables({"emmeans": emm.to_frame(), "contrasts": con, "effect_sizes": ef, "coefficients": coef},
                             args.tables)
        print("\nTables written: " + ", ".join(str(f) for f in files))
    return EXIT_OK


def _usage(message: str) -> int:
    print(f"retrostudy: usage error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _cmd_power(args: argparse.Namespace) -> int:
    from .planning.cli import cmd_power

    return cmd_power(args)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from .planning.cli import cmd_simulate

    return cmd_simulate(args)


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from .cli_sensitivity import UsageError, cmd_sensitivity

    try:
        return cmd_sensitivity(args, _width(), _wrap, _frame_text, _load, _covariates)
    except UsageError as exc:
        raise _Usage(str(exc)) from None


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    if not str(args.out).lower().endswith(".pdf") and not Path(args.out).is_dir():  # a folder: _check_outputs says so
        return _usage(f"--out names the PDF to write and must end in .pdf, not {args.out!r}")
    if args.tables and not args.tables.lower().endswith(TABLE_ENDINGS):
        return _usage(f"--tables takes a file ending in {', '.join(TABLE_ENDINGS)}, not {args.tables!r}")
    _check_outputs(args.out, args.keep_source)
    from .report import build_report, with_file_date

    data = _load(args.source, args.config, header_row=args.header_row)
    if not _is_dataset_id(args.source):
        data = with_file_date(data, args.source)
    settings = args.settings
    if args.primary_outcomes:
        from .report import _load_settings

        settings = {**_load_settings(args.settings), "primary_outcomes": list(args.primary_outcomes)}
    manifest = build_report(
        data,
        out=args.out,
        outcomes=args.outcomes,
        primary=args.primary,
        adjust=args.adjust,
        multiplicity=args.multiplicity,
        settings=settings,
        date=args.date,
        keep_source=args.keep_source,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(f"Wrote {manifest.summary().splitlines()[0][len('Report '):]}.")
    for line in manifest.summary().splitlines()[1:]:
        print(line if line.startswith("  ") else _wrap(line))
    if args.tables:
        from .export import write_tables

        files = write_tables(manifest.tables, args.tables)
        print("Tables written: " + ", ".join(Path(f).name for f in files))
    return EXIT_OK


_COMMANDS = {
    "datasets": _cmd_datasets,
    "validate": _cmd_validate,
    "show": _cmd_show,
    "fit": _cmd_fit,
    "report": _cmd_report,
    "sensitivity": _cmd_sensitivity,
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
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
