"""The six-week comparison as a reproducible PDF: :func:`build_report` and :class:`ReportManifest`.

The PDF is compiled by the ``typst`` Python package from ``templates/report.typ``; all
numbers reach the template as JSON data, figures as deterministic SVG. The same input
and versions give a byte-identical PDF (DESIGN.md section 8).
"""
from __future__ import annotations

import datetime as _dt
import gc
import hashlib
import os
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from ..errors import SpecError
from ..options import ADJUST
from ..schema import Outcome, get_outcome
from ..trial import TrialData, as_trial
from .manifest import ReportManifest, package_versions, sha256_bytes

__all__ = ["build_report", "ReportManifest", "report_main", "DEFAULTS"]

#: Report settings that ``settings`` (dict or YAML file; CLI ``--settings``) may override.
DEFAULTS: dict[str, Any] = {
    "covariance": "us", "df_method": "satterthwaite", "weights": "equal", "conf_level": 0.95,
    "covariates": [], "reference_arm": None, "standardizer": "baseline_sd", "title": None, "final_visit": None,
    "table1_covariates": None,
}


def _load_settings(settings: Mapping | str | os.PathLike | None) -> dict:
    """The settings dict or YAML file, read safely and type-checked (see :mod:`.settings`)."""
    from .settings import load_settings

    return load_settings(settings, known=tuple(DEFAULTS) + ("outcomes", "primary", "adjust", "model"))


def _resolve(data: Any) -> tuple[TrialData, dict]:
    """TrialData plus a description of the input (name, kind, sha256)."""
    if isinstance(data, (str, os.PathLike)):
        from ..datasets import load_source

        trial = load_source(data)  # raises DataError / SpecError before anything is written
        if trial.meta.get("dataset"):
            return trial, _describe(trial, kind="dataset", name=str(data))
        return trial, _describe(trial, kind="file", name=Path(data).name)
    trial = as_trial(data)
    return trial, _describe(trial, kind="TrialData" if isinstance(data, TrialData) else "DataFrame")


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
    known = (trial.meta.get("outcomes") or {}).get(outcome)
    if isinstance(known, Mapping):
        try:
            return Outcome(**{k: v for k, v in known.items() if k in Outcome.__dataclass_fields__})
        except (TypeError, ValueError):
            pass
    return get_outcome(outcome)


def _command(spec: Mapping, input_info: Mapping, out: Path) -> str:
    argv0 = Path(sys.argv[0]).name if sys.argv else ""
    if argv0 in ("retrostudy", "__main__.py") and "report" in sys.argv[1:]:
        return "retrostudy " + shlex.join(sys.argv[1:])
    return (f"rs.build_report({input_info['name']!r}, out={out.name!r}, outcomes={list(spec['outcomes'])!r}, "
            f"primary={spec['primary']!r}, adjust={spec['adjust']!r})")


def _spec(trial: TrialData, outcomes, model, primary, adjust, cfg) -> dict:
    spec = dict(DEFAULTS)
    spec.update({k: v for k, v in cfg.items() if k not in ("outcomes", "primary", "adjust", "model")})
    prim = primary or cfg.get("primary") or cfg.get("model") or model
    if prim not in ("ancova", "mmrm"):
        raise SpecError(f"The primary analysis must be 'ancova' or 'mmrm', not {prim!r}.")
    adj = adjust if adjust is not None else cfg.get("adjust", "holm")
    if adj not in ADJUST:
        raise SpecError(f"adjust must be one of {', '.join(ADJUST)}, not {adj!r}.")
    outs = list(outcomes or cfg.get("outcomes") or trial.outcomes)
    unknown = [o for o in outs if o not in trial.outcomes]
    if unknown:
        raise SpecError(f"Outcome {unknown[0]!r} is not in the data; the data have {', '.join(trial.outcomes)}.")
    visits = trial.visits
    final = spec["final_visit"] or visits[-1]
    if final not in visits:
        raise SpecError(f"final_visit {final!r} is not a visit of the data ({', '.join(visits)}).")
    if len(trial.arms) < 2:
        raise SpecError("The report compares arms, but the data have fewer than two arms.")
    spec.update({"primary": prim, "adjust": adj, "outcomes": outs, "final_visit": final,
                 "baseline_visit": trial.baseline_visit, "arms": trial.arms,
                 "covariates": list(spec.get("covariates") or [])})
    return spec


def build_report(data: TrialData | pd.DataFrame | str | os.PathLike, *, out: str | os.PathLike,
                 outcomes: Sequence[str] | None = None, model: str = "mmrm", primary: str | None = None,
                 adjust: str | None = "holm", settings: Mapping | str | os.PathLike | None = None,
                 keep_source: str | os.PathLike | None = None,
                 progress: Callable[[str], None] | None = None) -> ReportManifest:
    """Write the six-week comparison report as a PDF (and its manifest as JSON next to it).

    Parameters
    ----------
    data
        TrialData, canonical long DataFrame, bundled dataset id or data file path.
    out
        The PDF to write. The manifest goes to ``<out stem>.manifest.json``.
    outcomes
        Outcome ids (default: all in the data).
    model, primary
        The primary analysis, ``"mmrm"`` (default) or ``"ancova"``; ``primary`` wins when given.
        The other model is shown as a sensitivity analysis.
    adjust
        Multiplicity adjustment over the three pairwise contrasts of each outcome.
    settings
        Dict or YAML file of further analysis settings (see :data:`DEFAULTS`), e.g.
        ``{"covariance": "cs", "df_method": "kenward-roger", "covariates": ["age"]}``.
        (How to read a file -- column roles, labels -- is the loader's mapping: pass
        ``rs.read_trial(path, config=...)`` as ``data``.)
    keep_source
        Folder to also write the typst source, its JSON data and the figures to.
    progress
        Called with a short message at each step (the CLI prints them).

    Returns
    -------
    ReportManifest

    Raises
    ------
    DataError, SpecError
        Before anything is written.
    """
    # statsmodels' multipletests runs gc.collect() on every call; freezing the objects alive now (modules,
    # the data) keeps those collections cheap. Undone in the finally clause, so nothing leaks.
    gc.freeze()
    try:
        return _build(data, out=out, outcomes=outcomes, model=model, primary=primary, adjust=adjust,
                      settings=settings, keep_source=keep_source, progress=progress)
    finally:
        gc.unfreeze()


def _build(data, *, out, outcomes, model, primary, adjust, settings, keep_source, progress) -> ReportManifest:
    from .analysis import analyse_outcome
    from .content import build_content, manifest_block
    from .render import compile_pdf, fixed_timestamp, write_sources

    say = progress or (lambda msg: None)
    out = Path(out)
    if out.suffix.lower() != ".pdf":
        raise SpecError(f"The report is a PDF; give --out a name ending in .pdf, not {out.name!r}.")
    cfg = _load_settings(settings)
    say("reading data")
    trial, input_info = _resolve(data)
    trial = _sorted(trial)
    spec = _spec(trial, outcomes, model, primary, adjust, cfg)
    infos = {o: _outcome_info(trial, o) for o in spec["outcomes"]}
    results = []
    for i, o in enumerate(spec["outcomes"]):
        say(f"fitting models for {o} ({i + 1}/{len(spec['outcomes'])})")
        results.append(analyse_outcome(trial, o, spec))
        gc.freeze()  # the modules the first fit imported, too (see build_report)
    versions = package_versions()
    stamp, stamp_src = fixed_timestamp(trial.meta)
    iso = _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    timestamp = {"iso": iso, "source": stamp_src}
    command = _command(spec, input_info, out)
    meta_block = _meta_block(trial, spec, input_info, iso, versions)
    # figures first (their hashes go into the appendix), then the JSON that references them
    content, figures = build_content(trial, spec, results, infos, meta_block, versions, {}, say)
    files = {f"fig/{k}": sha256_bytes(v) for k, v in figures.items()}
    from .render import template_text

    files["report.typ"] = sha256_bytes(template_text().encode("utf-8"))
    json_spec = {k: v for k, v in spec.items()}
    content["manifest"] = manifest_block(input_info, json_spec, command, versions, files, timestamp)
    say("typesetting the PDF")
    with tempfile.TemporaryDirectory(prefix="retrostudy-report-") as tmp:
        folder = Path(tmp)
        written = write_sources(folder, content, figures)
        pdf = compile_pdf(folder, stamp)
        outputs = {name: sha256_bytes(b) for name, b in written.items()}
        outputs[out.name] = sha256_bytes(pdf)
        manifest = ReportManifest(outputs=outputs, input=input_info, spec=json_spec, command=command,
                                  versions=versions, timestamp=timestamp, pdf=out.name)
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


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _meta_block(trial: TrialData, spec: Mapping, input_info: Mapping, iso: str, versions: Mapping) -> dict:
    meta = trial.meta
    name = meta.get("title") or meta.get("dataset") or meta.get("study") or input_info["name"]
    title = spec.get("title") or "Retro versus forward walking for knee osteoarthritis"
    subtitle = (f"Comparison at {spec['final_visit']}: {', '.join(trial.arms)} "
                f"({trial.n_subjects} participants, {len(spec['outcomes'])} outcome"
                f"{'s' if len(spec['outcomes']) != 1 else ''})")
    prov = [("Data", str(name)), ("Input", f"{input_info['name']} ({input_info['kind']})"),
            ("Input sha256", f"{input_info['sha256']} ({input_info.get('sha256_of', 'source file')})")]
    for key, label in (("description", "Description"),
                       ("citation", "Published trial" if meta.get("synthetic") else "Source"),
                       ("source", "Source"), ("doi", "DOI"), ("license", "Licence"), ("licence", "Licence")):
        if meta.get(key) and not isinstance(meta.get(key), (dict, list)):
            prov.append((label, str(meta[key])))
    prov.append(("Visits", ", ".join(trial.visits)))
    prov.append(("Report", f"retrostudy {versions.get('retrostudy', '?')}, dated {iso[:10]}"))
    warnings = []
    if not meta.get("synthetic") and input_info["kind"] in ("DataFrame",):
        warnings.append("The input was a DataFrame without file provenance; its sha256 is that of the canonical "
                        "table.")
    statement = str(meta.get("synthetic_statement") or "These data are simulated, not participant data.")
    calibrated = [str(x) for x in (meta.get("calibrated_to") or _dataset_field(meta, "calibrated_to") or [])]
    return {"calibrated_to": calibrated if meta.get("synthetic") else [],"title": title, "subtitle": subtitle, "provenance": [list(p) for p in prov],
            "synthetic": bool(meta.get("synthetic")), "synthetic_statement": statement, "warnings": warnings,
            "footer": f"{title} \u2013 {input_info['name']}"}


def _dataset_field(meta: Mapping, key: str) -> Any:
    """A field of a bundled dataset's JSON metadata that load_dataset does not copy into ``meta``."""
    name = meta.get("dataset")
    if not name:
        return None
    import json
    from importlib import resources

    res = resources.files("retrostudy.datasets").joinpath(f"{name}.json")
    if not res.is_file():
        return None
    return json.loads(res.read_text(encoding="utf-8")).get(key)


def report_main(argv: Sequence[str] | None = None) -> int:
    """``retrostudy report`` as a function (the CLI calls the same code); returns the exit code."""
    from ..cli import main

    return main(["report", *(argv or [])])
