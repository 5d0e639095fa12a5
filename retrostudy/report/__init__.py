"""The six-week comparison as a reproducible PDF: :func:`build_report` and :class:`ReportManifest`.

The PDF is compiled by the ``typst`` Python package from ``templates/report.typ``; all
numbers reach the template as JSON data, figures as deterministic SVG. The same input
and versions give a byte-identical PDF (DESIGN.md section 8).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import SpecError
from ..schema import Outcome, get_outcome, outcome_from_definition
from ..trial import TrialData, as_trial, outcome_definition
from .manifest import PrimaryResult, ReportManifest, package_versions, sha256_bytes
from .spec import DEFAULTS, ReportSpec, make_spec

if TYPE_CHECKING:
    from .analysis import OutcomeResult
    from .missing_analysis import MissingResult
    from .multiplicity import CiKind

__all__ = ["DEFAULTS", "ReportManifest", "ReportSpec", "build_report"]


def _load_settings(settings: Mapping | str | os.PathLike | None) -> dict:
    """The settings dict or YAML file, read safely and type-checked (see :mod:`.settings`)."""
    from .settings import load_settings
    from .spec import SETTING_ALIASES

    return load_settings(settings, known=tuple(DEFAULTS) + tuple(SETTING_ALIASES))


def _resolve(data: Any) -> tuple[TrialData, dict]:
    """TrialData plus a description of the input (name, kind, sha256)."""
    if isinstance(data, (str, os.PathLike)):
        from ..datasets import load_source

        trial = load_source(data)  # raises DataError / SpecError before anything is written
        if trial.meta.get("dataset"):
            return trial, _describe(trial, kind="dataset", name=str(data))
        trial = with_file_date(trial, data)
        return trial, _describe(trial, kind="file", name=Path(data).name)
    trial = as_trial(data)
    if isinstance(data, TrialData) and trial.meta.get("dataset"):
        kind = "dataset"
    elif isinstance(data, TrialData):
        kind = "file" if trial.meta.get("file") and trial.meta.get("format") not in (None, "dataframe") \
            else "TrialData"
    else:
        kind = "DataFrame"
    return trial, _describe(trial, kind=kind)


def with_file_date(trial: TrialData, path: str | os.PathLike) -> TrialData:
    """The trial with its input file's modification day in ``meta["file_modified"]`` (a report date of last
    resort, used when neither --date, SOURCE_DATE_EPOCH nor the data give one)."""
    from .render import file_date

    day = file_date(path)
    if not day or trial.meta.get("file_modified"):
        return trial
    return TrialData(trial.data, trial.exclusions, {**trial.meta, "file_modified": day})


def _sorted(trial: TrialData) -> TrialData:
    """The same trial with its rows in a canonical order, so the row order of the input cannot matter."""
    keys = [c for c in ("subject_id", "visit", "outcome", "week") if c in trial.data.columns]
    frame = trial.data.sort_values(keys, kind="mergesort").reset_index(drop=True)
    return TrialData(frame, trial.exclusions, dict(trial.meta))


def _describe(trial: TrialData, kind: str, name: str | None = None) -> dict:
    meta = trial.meta
    digest = next((str(meta[k]) for k in ("sha256", "file_sha256", "data_sha256", "source_sha256")
                   if meta.get(k)), None)
    basis = f"bundled file {meta['file']}" if meta.get("dataset") and meta.get("file") else "source file"
    if digest is None:
        frame = trial.data.sort_values(["subject_id", "outcome", "week"], kind="mergesort")
        digest = hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()
        basis = "canonical table as CSV"
    label = name or meta.get("dataset") or meta.get("study") or meta.get("file") or kind
    return {"name": Path(str(label)).name, "kind": kind, "sha256": digest, "sha256_of": basis}


def _outcome_info(trial: TrialData, outcome: str) -> Outcome:
    """The loader's outcome definition (label, unit, direction) or the registry's."""
    known = outcome_definition(trial.meta, outcome)
    info = outcome_from_definition(known) if known is not None else None
    return info if info is not None else get_outcome(outcome)


def build_report(data: TrialData | pd.DataFrame | str | os.PathLike[str], *, out: str | os.PathLike[str],
                 outcomes: Sequence[str] | None = None, model: str = "mmrm", primary: str | None = None,
                 adjust: str | None = None, multiplicity: str | None = None,
                 settings: Mapping[str, object] | str | os.PathLike[str] | None = None, date: str | None = None,
                 keep_source: str | os.PathLike[str] | None = None,
                 progress: Callable[[str], None] | None = None) -> ReportManifest:
    """Write the trial report as a PDF (and its manifest as JSON next to it).

    Parameters
    ----------
    data
        TrialData, canonical long DataFrame, bundled dataset id or data file path.
    out
        The PDF to write. The manifest goes to ``<out stem>.manifest.json``. Neither the name nor the
        folder changes the PDF's bytes.
    outcomes
        Outcome ids (default: all in the data).
    model, primary
        The primary analysis, ``"mmrm"`` (default) or ``"ancova"``; ``primary`` wins when given.
        The other model is shown as a sensitivity analysis.
    adjust
        Adjustment within one outcome's pairwise contrasts (default ``"holm"``; used for
        exploratory outcomes and inside a fixed sequence).
    multiplicity
        Strategy across the primary family, every contrast of every primary outcome at the
        final visit: ``"holm"`` (default), ``"bonferroni"``, ``"fixed-sequence"`` or ``"none"``.
    settings
        Dict or YAML file of further settings (every key with its default:
        :data:`retrostudy.options.REPORT_SETTINGS`), e.g. ``{"primary_outcomes": ["pain_nrs"],
        "covariance": "cs", "df_method": "kenward-roger", "covariates": ["age"]}``.
        (How to read a file -- column roles, labels -- is the loader's mapping: pass
        ``rs.read_trial(path, config=...)`` as ``data``.)
    date
        The report's date, ``YYYY-MM-DD`` (default: ``SOURCE_DATE_EPOCH``, else the data's date,
        else the input file's modification date; otherwise the report says it is undated).
    keep_source
        Folder to also write the typst source, its JSON data and the figures to.
    progress
        Called with a short message at each step (the CLI prints them).

    Returns
    -------
    ReportManifest
        What was written (with sha256), from what, and the primary results in brief
        (``summary()``, what ``retrostudy report`` prints).

    Raises
    ------
    DataError, SpecError
        Before anything is written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import retrostudy as rs
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     m = rs.build_report("alghadir2019_sim", out=Path(folder) / "six-week.pdf", outcomes=["pain_nrs"],
    ...                         date="2024-05-31")
    ...     sorted(p.name for p in Path(folder).iterdir())
    ['six-week.manifest.json', 'six-week.pdf']
    >>> print(m.summary())
    Report six-week.pdf (manifest six-week.manifest.json)
    SYNTHETIC DATA: these results show what the analysis does, not what the treatment does.
    Primary outcomes: cLDA MMRM at week 6, n = 68 analysed; ...
      outcome     comparison          difference             CI  p adj.
      Pain (NRS)  retro vs forward         +0.35  -0.23 to 0.93   0.294
      Pain (NRS)  retro vs control         +0.80   0.20 to 1.39   0.030
      Pain (NRS)  forward vs control       +0.44  -0.16 to 1.05   0.294
    """
    say = progress or (lambda msg: None)
    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise SpecError(f"The report is a PDF; give --out a name ending in .pdf, not {out.name!r}.")
    cfg = _load_settings(settings)
    settings_name = None if settings is None or isinstance(settings, Mapping) else Path(settings).name
    say("reading data")
    trial, input_info = _resolve(data)
    trial = _sorted(trial)
    spec = make_spec(trial, cfg, outcomes=outcomes, model=model, primary=primary, adjust=adjust,
                     multiplicity=multiplicity, date=date)
    return _build(trial, input_info, spec, out=out, settings_name=settings_name, keep_source=keep_source, say=say)


def _build(trial: TrialData, input_info: Mapping[str, Any], spec: ReportSpec, *, out: Path,
           settings_name: str | None, keep_source: str | os.PathLike[str] | None,
           say: Callable[[str], None]) -> ReportManifest:
    from .analysis import analyse_outcome, final_family
    from .content import build_content
    from .meta import command_line, manifest_block, meta_block
    from .missing_analysis import analyse_missing
    from .render import compile_pdf, fixed_timestamp, template_text, write_sources

    infos = {o: _outcome_info(trial, o) for o in spec.outcomes}
    results = []
    for i, o in enumerate(spec.outcomes):
        say(f"fitting models for {o} ({i + 1}/{len(spec.outcomes)})")
        results.append(analyse_outcome(trial, o, spec))
    missing = []
    if spec.sensitivity.enabled:
        for o in spec.primary_outcomes:
            say(f"missing-data sensitivity analyses for {o}")
            missing.append(analyse_missing(trial, o, spec))
    versions = package_versions()
    stamp = fixed_timestamp(trial.meta, spec.date)
    weeks = {str(k): float(v) for k, v in trial.data.groupby("visit", observed=True)["week"].first().items()}
    command = command_line(spec, input_info, settings_name)
    labels = {o: infos[o].label for o in spec.outcomes}
    front = meta_block(trial, spec, input_info, stamp, versions, weeks, labels)
    content, figures = build_content(trial, spec, results, infos, front, versions, say, missing=missing,
                                     input_name=str(input_info.get("name") or "DATA"))
    sources = {f"fig/{k}": sha256_bytes(v) for k, v in figures.items()}
    sources["report.typ"] = sha256_bytes(template_text().encode("utf-8"))
    timestamp = {"iso": stamp["iso"], "date": stamp["date"], "source": stamp["source"], "undated": stamp["undated"]}
    spec_dict = spec.to_dict()
    content["manifest"] = manifest_block(input_info, spec_dict, command, versions, sources, stamp)
    say("typesetting the PDF")
    with tempfile.TemporaryDirectory(prefix="retrostudy-report-") as tmp:
        folder = Path(tmp)
        written = write_sources(folder, content, figures)
        pdf = compile_pdf(folder, stamp["epoch"])
    outputs = {out.name: sha256_bytes(pdf)}
    if keep_source is not None:
        dest = Path(keep_source)
        outputs.update({f"{dest.name}/{name}": sha256_bytes(b) for name, b in written.items()})
    fam = final_family(results, spec, "primary")
    manifest = ReportManifest(outputs=outputs, input=input_info, spec=spec_dict, command=command, versions=versions,
                              timestamp=timestamp, pdf=out.name, sources=sources,
                              results=tuple(_brief(results, spec, infos, fam)),
                              synthetic=bool(trial.meta.get("synthetic")),
                              table_maker=lambda: _tables(results, spec, infos, fam, missing))
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(out, pdf)
    _atomic_write(out.with_name(out.stem + ".manifest.json"), manifest.to_json().encode("utf-8"))
    if keep_source is not None:
        dest = Path(keep_source)
        dest.mkdir(parents=True, exist_ok=True)
        for name, b in written.items():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes(b)
    say(f"done: {out.name}")
    return manifest


def _brief(results: Sequence[OutcomeResult], spec: ReportSpec, infos: Mapping[str, Outcome],
           fam: Mapping[str, tuple[pd.DataFrame, CiKind]]) -> list[PrimaryResult]:
    """The primary outcomes' contrasts of the first arm, as ``retrostudy report`` prints them."""
    from . import fmt
    from .labels import visit_label
    from .tables_fmt import orient, pair_label

    rows: list[PrimaryResult] = []
    for o in spec.primary_outcomes:
        if o not in fam:
            continue
        table, kind = fam[o]
        res = next(r for r in results if r.outcome == o)
        n = int(res.primary.fit.n_analysed(by=None)) if res.primary.ok else 0
        for r in table.itertuples(index=False):
            d, lo, hi = (float(x) for x in orient(infos[o], r.estimate, r.conf_low, r.conf_high))
            rows.append({"outcome": o, "label": infos[o].label, "contrast": pair_label(r.contrast),
                         "visit": visit_label(spec.final_visit),
                         "difference": d, "conf_low": lo, "conf_high": hi, "ci": kind.ci_label,
                         "p_adjusted": float(r.p_adjusted), "p_label": kind.p_label, "n": n,
                         "difference_text": f"{d:+.2f}", "ci_text": f"{lo:.2f} to {hi:.2f}",
                         "p_text": fmt.pval(r.p_adjusted)})
    return rows


def _tagged(frame: pd.DataFrame, tag: Mapping[str, Any]) -> pd.DataFrame:
    """``tag`` columns first, then the frame's (built at once: inserting columns one by one is slow)."""
    cols = {k: [v] * len(frame) for k, v in tag.items()}
    cols.update({c: frame[c].to_numpy() for c in frame.columns})
    return pd.DataFrame(cols)


def _tables(results: Sequence[OutcomeResult], spec: ReportSpec, infos: Mapping[str, Outcome],
            fam: Mapping[str, tuple[pd.DataFrame, CiKind]],
            missing: Sequence[MissingResult] = ()) -> dict[str, pd.DataFrame]:
    """The report's numbers as tidy tables (``estimate`` = first minus second, as every tidy table)."""
    emm, con, eff, resp, rates, sens, tips = [], [], [], [], [], [], []
    for mis in missing:
        for sr in mis.strategies:
            if sr.ok:
                sens.append(_tagged(sr.result.to_frame(), {"outcome": mis.outcome, "strategy": sr.strategy,
                                                           "method": sr.result.settings["method"]}))
        if mis.tipping is not None:
            tips.append(_tagged(mis.tipping.to_frame(), {"outcome": mis.outcome, "arm": mis.tipping.arm,
                                                         "strategy": mis.tipping.settings["strategy"]}))
    for r in results:
        for role, m in (("primary", r.primary), ("sensitivity", r.sensitivity)):
            if not m.ok or m.emm is None or m.contrasts is None or m.effects is None:  # a fit that worked has all
                continue
            tag = {"outcome": r.outcome, "model": m.model, "analysis": role,
                   "outcome_role": "primary" if spec.is_primary(r.outcome) else "exploratory"}
            emm.append(_tagged(m.emm, tag))
            c = m.contrasts.copy()
            if role == "primary" and r.outcome in fam:
                fin = fam[r.outcome][0].set_index("contrast")
                is_final = c["visit"].astype(str) == spec.final_visit
                for col in ("p_adjusted", "conf_low", "conf_high"):
                    c.loc[is_final, col] = c.loc[is_final, "contrast"].map(fin[col]).to_numpy()
                c["p_adjusted_over"] = ["primary family" if f and spec.is_primary(r.outcome) else "within outcome"
                                        for f in is_final]
            con.append(_tagged(c, tag))
            eff.append(_tagged(m.effects, tag))
        if r.responders.status == "ok":
            resp.append(_tagged(r.responders.table.to_frame(), {"outcome": r.outcome}))
            rates.append(_tagged(r.responders.table.rates, {"outcome": r.outcome}))
    out = {"emmeans": emm, "contrasts": con, "effect_sizes": eff, "responders": resp, "responder_rates": rates,
           "sensitivity": sens, "tipping_point": tips}
    return {k: pd.concat(v, ignore_index=True) for k, v in out.items() if v}


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
