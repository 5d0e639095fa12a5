"""The report's front matter (title, provenance, synthetic-data statement, footer) and its manifest appendix."""
from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from ..trial import TrialData
from .labels import oxford_join, visit_label
from .spec import ReportSpec
from .tables_fmt import kv_dict

__all__ = ["command_line", "dataset_field", "manifest_block", "meta_block"]

DEFAULT_TITLE = "Retro versus forward walking for knee osteoarthritis"


def dataset_field(meta: Mapping, key: str) -> Any:
    """A field of a bundled dataset's JSON metadata that ``load_dataset`` does not copy into ``meta``."""
    name = meta.get("dataset")
    if not name:
        return None
    res = resources.files("retrostudy.datasets").joinpath(f"{name}.json")
    if not res.is_file():
        return None
    return json.loads(res.read_text(encoding="utf-8")).get(key)


def command_line(spec: ReportSpec, input_info: Mapping[str, Any], settings_name: str | None) -> str:
    """The command that rebuilds this report (without ``--out``: the output's name and folder do not change
    the bytes)."""
    name = input_info.get("name", "DATA")
    parts = ["retrostudy", "report", str(name) if input_info.get("kind") in ("dataset", "file") else "<data>",
             "--primary", spec.model, "--adjust", spec.adjust, "--multiplicity", spec.multiplicity]
    if settings_name:
        parts += ["--settings", settings_name]
    if spec.date:
        parts += ["--date", spec.date]
    return " ".join(parts)


def meta_block(trial: TrialData, spec: ReportSpec, input_info: Mapping, stamp: Mapping[str, str],
               versions: Mapping[str, str], weeks: Mapping[str, float], labels: Mapping[str, str]) -> dict:
    meta = trial.meta
    name = meta.get("title") or meta.get("dataset") or meta.get("study") or input_info["name"]
    title = spec.title or DEFAULT_TITLE
    final = visit_label(spec.final_visit, weeks.get(spec.final_visit))
    n_out = len(spec.outcomes)
    subtitle = (f"Comparison at {final}: {', '.join(spec.arms)} ({trial.n_subjects} participants, "
                f"{n_out} outcome{'s' if n_out != 1 else ''})")
    prov = [("Data", str(name)), ("Input", f"{input_info['name']} ({input_info['kind']})"),
            ("Input sha256", f"{input_info['sha256']} ({input_info.get('sha256_of', 'source file')})")]
    for key, label in (("description", "Description"),
                       ("citation", "Published trial" if meta.get("synthetic") else "Source"),
                       ("source", "Source"), ("doi", "DOI"), ("license", "Licence"), ("licence", "Licence")):
        if meta.get(key) and not isinstance(meta.get(key), (dict, list)):
            prov.append((label, str(meta[key])))
    prov.append(("Visits", ", ".join(visit_label(v, weeks.get(v)) for v in spec.visits)))
    prov.append(("Primary outcomes", oxford_join([labels.get(o, o) for o in spec.primary_outcomes])
                 + f" ({spec.primary_outcomes_source}); "
                 + (f"exploratory: {oxford_join([labels.get(o, o) for o in spec.exploratory_outcomes])}"
                    if spec.exploratory_outcomes else "no exploratory outcomes")))
    from .who import model_name

    prov.append(("Analysis", (f"{model_name(spec.model, spec.baseline)} (primary), "
                             f"{model_name(spec.sensitivity_model, spec.baseline)} (sensitivity); "
                             f"reference arm {spec.reference_arm}; covariates: "
                             f"{', '.join(spec.covariates) or 'none besides the baseline value'}")))
    prov.append(("Report", (f"retrostudy {versions.get('retrostudy', '?')}, dated {stamp['date']} "
                           f"({stamp['source']})")))
    warnings = []
    if not meta.get("synthetic") and input_info["kind"] in ("DataFrame",):
        warnings.append("The input was a DataFrame without file provenance; its sha256 is that of the canonical "
                        "table.")
    if stamp.get("undated"):
        warnings.append("This report is undated: no --date, SOURCE_DATE_EPOCH or date in the data was given, so "
                        f"the PDF carries the fixed placeholder {stamp['date']}. Give --date YYYY-MM-DD.")
    statement = str(meta.get("synthetic_statement") or "These data are simulated, not participant data.")
    targets = meta.get("calibrated_to") or dataset_field(meta, "calibrated_to") or []
    calibrated = [str(x) for x in targets] if isinstance(targets, list | tuple) else []
    synthetic = bool(meta.get("synthetic"))
    return {"calibrated_to": calibrated if synthetic else [], "title": title, "subtitle": subtitle,
            "provenance": [list(p) for p in prov], "synthetic": synthetic, "synthetic_statement": statement,
            "warnings": warnings, "footer": f"{title} \u2013 {input_info['name']}",
            "footer_mark": "SYNTHETIC DATA" if synthetic else ""}


def _two_per_row(rows: list[tuple[str, str]]) -> dict:
    """Key-value pairs two to a row (the specification has ~20 short entries)."""
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:] + [("", "")] * (2 * half - len(rows))
    return {"header": ["Specification", "", "", ""],
            "rows": [[str(a), str(b), str(c), str(d)] for (a, b), (c, d) in zip(left, right)],
            "align": "llll", "widths": [1.05, 1.9, 1.05, 1.9]}


def manifest_block(input_info: Mapping[str, Any], spec: Mapping[str, Any], command: str,
                   versions: Mapping[str, str], sources: Mapping[str, str], stamp: Mapping[str, str]) -> dict:
    """The manifest as tables for the appendix (the PDF's own hash is only in the JSON next to it)."""
    def show(v: Any) -> str:
        if isinstance(v, Mapping):
            return "; ".join(f"{k}: {show(x)}" for k, x in v.items()) or "none"
        if isinstance(v, (list, tuple)):
            return ", ".join(map(str, v)) or "none"
        return "default" if v is None else str(v)

    spec_rows = [(k, show(v) if k != "estimand" else
                  f"{', '.join(v) or 'none'}: printed in full in 'Missing data and sensitivity' (and in the JSON manifest)")
                 for k, v in sorted(spec.items())]
    return {
        "intro": [("The manifest (with the sha256 of this PDF) is written as JSON next to the PDF. Re-running the "
                  "command below on the same input with the same versions gives a byte-identical PDF, whatever "
                  "the name or folder of the output file.")],
        "command": command,
        "input": kv_dict([("input", input_info.get("name")), ("kind", input_info.get("kind")),
                          ("input sha256", input_info.get("sha256")),
                          ("date", f"{stamp.get('date')} ({stamp.get('source')})"),
                          ("versions", ", ".join(f"{k} {v}" for k, v in sorted(versions.items(),
                                                                                key=lambda kv: kv[0].lower())))],
                         header=("Input", "")),
        "spec": _two_per_row(spec_rows),
        "files": kv_dict(sorted(sources.items()), header=("Compiled into this PDF", "sha256"), widths=(1.3, 3.0)),
    }
