"""ReportManifest: what a report was made from and what it wrote (sha256 of each file)."""
from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PACKAGES", "PrimaryResult", "ReportManifest", "package_versions", "sha256_bytes"]

#: Packages whose versions every report records (the retrostudy dependency set).
PACKAGES = ("retrostudy", "numpy", "scipy", "pandas", "statsmodels", "pingouin", "seaborn", "matplotlib",
            "typst", "PyYAML", "pyreadstat", "openpyxl", "pyarrow")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package_versions() -> dict[str, str]:
    """Python and every dependency's installed version (``"not installed"`` when absent)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


class PrimaryResult(TypedDict):
    """One primary outcome x contrast in brief (:attr:`ReportManifest.results`): the difference
    oriented so that a positive value favours the first arm, its interval and adjusted p."""

    outcome: str
    label: str
    contrast: str
    visit: str
    difference: float
    conf_low: float
    conf_high: float
    ci: str
    p_adjusted: float
    p_label: str
    n: int
    difference_text: str
    ci_text: str
    p_text: str


@dataclass(frozen=True, eq=False)
class ReportManifest:
    """The record of one report.

    Attributes
    ----------
    outputs
        Every file written (relative to the PDF's folder; kept sources under their folder's name)
        -> sha256 of its bytes. The manifest JSON itself is written next to the PDF as
        ``<stem>.manifest.json``.
    sources
        The files compiled into the PDF (template and figures) -> sha256; written only with
        ``keep_source``.
    input
        ``name``, ``kind`` (file, dataset, DataFrame) and ``sha256`` of the input (the
        file's bytes, or the canonical table's CSV when there is no file).
    spec
        The analysis specification the report was built with (JSON-safe).
    command
        The command line that rebuilds the report (without ``--out``).
    versions
        Python and package versions.
    timestamp
        The fixed date written into the PDF (ISO 8601, UTC) and where it came from.
    results
        The primary results in brief: one :class:`PrimaryResult` per primary outcome x contrast
        (``outcome``, ``label``, ``contrast``, oriented ``difference``, ``conf_low``,
        ``conf_high``, ``ci``, ``p_adjusted``, ``p_label``, ``n``) -- what ``retrostudy report``
        prints.
    synthetic
        Whether the data are synthetic.
    table_maker
        Makes :attr:`tables`, the report's tidy tables by name (not part of the JSON;
        ``retrostudy report --tables`` writes them).
    """

    outputs: Mapping[str, str]
    input: Mapping[str, object]
    spec: Mapping[str, object]
    command: str
    versions: Mapping[str, str]
    timestamp: Mapping[str, object] = field(default_factory=dict)
    pdf: str = ""
    sources: Mapping[str, str] = field(default_factory=dict)
    results: tuple[PrimaryResult, ...] = ()
    synthetic: bool = False
    table_maker: Callable[[], Mapping[str, pd.DataFrame]] | None = field(default=None, repr=False, compare=False)

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]:
        """The report's tidy tables by name (``emmeans``, ``contrasts``, ``effect_sizes``, ``responders``,
        ``responder_rates``), made on first use (``retrostudy report --tables`` writes them)."""
        cached: dict[str, pd.DataFrame] | None = self.__dict__.get("_tables")
        if cached is None:
            cached = dict(self.table_maker()) if self.table_maker is not None else {}
            object.__setattr__(self, "_tables", cached)
        return cached

    def to_dict(self) -> dict[str, object]:
        """Everything but the tables, JSON-safe (what ``<stem>.manifest.json`` holds)."""
        return {"pdf": self.pdf, "outputs": dict(sorted(self.outputs.items())),
                "sources": dict(sorted(self.sources.items())), "input": dict(self.input),
                "spec": dict(self.spec), "command": self.command, "versions": dict(self.versions),
                "timestamp": dict(self.timestamp), "synthetic": self.synthetic,
                "results": [dict(r) for r in self.results]}

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON with sorted keys."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n"

    def to_frame(self) -> pd.DataFrame:
        """The files written with their sha256."""
        import pandas as pd

        return pd.DataFrame({"file": list(self.outputs), "sha256": list(self.outputs.values())})

    def summary(self) -> str:
        """The primary results in a few lines (what ``retrostudy report`` prints)."""
        lines = [f"Report {self.pdf} (manifest {self.pdf.rsplit('.', 1)[0]}.manifest.json)"]
        if self.synthetic:
            lines.append("SYNTHETIC DATA: these results show what the analysis does, not what the treatment does.")
        spec = self.spec
        if self.results:
            first = self.results[0]
            ns = sorted({r["n"] for r in self.results})
            n = str(ns[0]) if len(ns) == 1 else f"{ns[0]}-{ns[-1]}"
            from .who import model_name

            name = model_name(str(spec.get("primary", "")), str(spec.get("baseline", "constrained")))
            lines.append(f"Primary outcomes: {name} at {first.get('visit', spec.get('final_visit'))}, "
                         f"n = {n} analysed; difference > 0 favours the first arm; {first['ci']}; "
                         f"{first['p_label']}.")
            rows = [("outcome", "comparison", "difference", "CI", "p adj.")]
            rows += [(r["label"], r["contrast"], r["difference_text"], r["ci_text"], r["p_text"]) for r in self.results]
            widths = [max(len(row[i]) for row in rows) for i in range(5)]
            for row in rows:
                lines.append("  " + "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                                              for i, (c, w) in enumerate(zip(row, widths))))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ReportManifest({self.pdf!r}, {len(self.outputs)} outputs)"

    def _repr_html_(self) -> str:
        from html import escape

        return "<pre>" + escape(self.summary()) + "</pre>"
