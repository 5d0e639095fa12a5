"""ReportManifest: what a report was made from and what it wrote (sha256 of each file)."""
from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Mapping

__all__ = ["ReportManifest", "package_versions", "sha256_bytes", "PACKAGES"]

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


@dataclass(frozen=True, eq=False)
class ReportManifest:
    """The record of one report.

    Attributes
    ----------
    outputs
        File name (relative to the PDF's folder) -> sha256 of its bytes.
    input
        ``name``, ``kind`` (file, dataset, DataFrame) and ``sha256`` of the input (the
        file's bytes, or the canonical table's CSV when there is no file).
    spec
        The analysis specification the report was built with (JSON-safe).
    command
        The command line (or the equivalent Python call).
    versions
        Python and package versions.
    timestamp
        The fixed timestamp written into the PDF (ISO 8601, UTC) and where it came from.
    """

    outputs: Mapping[str, str]
    input: Mapping[str, Any]
    spec: Mapping[str, Any]
    command: str
    versions: Mapping[str, str]
    timestamp: Mapping[str, str] = field(default_factory=dict)
    pdf: str = ""

    def to_dict(self) -> dict:
        return {"pdf": self.pdf, "outputs": dict(sorted(self.outputs.items())), "input": dict(self.input),
                "spec": dict(self.spec), "command": self.command, "versions": dict(self.versions),
                "timestamp": dict(self.timestamp)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame({"file": list(self.outputs), "sha256": list(self.outputs.values())})

    def summary(self) -> str:
        lines = [f"Report {self.pdf}", f"input: {self.input.get('name')} (sha256 {self.input.get('sha256')})"]
        lines += [f"  {name}  sha256 {digest}" for name, digest in sorted(self.outputs.items())]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"ReportManifest({self.pdf!r}, {len(self.outputs)} outputs)"

    def _repr_html_(self) -> str:
        from html import escape

        return "<pre>" + escape(self.summary()) + "</pre>"
