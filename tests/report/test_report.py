"""build_report: byte-identical PDFs across processes, numbers in the PDF as the results tables hold them,
nothing written on bad input, manifest and kept sources."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import retrostudy as rs
from retrostudy.errors import DataError, SpecError
from retrostudy.report import build_report, fmt
from retrostudy.report.multiplicity import adjust_p

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trial import make_trial

pypdf = pytest.importorskip("pypdf")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

_SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from _trial import make_trial
from retrostudy.report import build_report
build_report(make_trial(), out="toy.pdf", keep_source="src")
"""


@pytest.fixture(scope="module")
def toy_report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("toy")
    out = folder / "toy.pdf"
    manifest = build_report(make_trial(), out=out, keep_source=folder / "src")
    return folder, out, manifest


@pytest.fixture(scope="module")
def toy_text(toy_report):
    return _text(toy_report[1])


def _text(pdf: Path) -> str:
    reader = pypdf.PdfReader(str(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_byte_identical_in_two_processes(tmp_path, toy_report):
    """A fresh process (other folder, random hash seed) gives the bytes this test process wrote."""
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "random"}
    env.pop("SOURCE_DATE_EPOCH", None)
    proc = subprocess.run([sys.executable, "-c", _SCRIPT.format(here=str(HERE))], cwd=tmp_path, env=env, check=False,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    a = (tmp_path / "toy.pdf").read_bytes()
    b = toy_report[1].read_bytes()
    assert a[:5] == b"%PDF-" and len(a) > 20_000
    assert hashlib.sha256(a).hexdigest() == hashlib.sha256(b).hexdigest()
    for name in ("report.json", "report.typ", "fig/flow.svg", "fig/forest.svg"):
        assert (tmp_path / "src" / name).read_bytes() == (toy_report[0] / "src" / name).read_bytes()


def test_row_order_of_the_input_does_not_matter(tmp_path, toy_report):
    trial = make_trial()
    shuffled = trial.data.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled_trial = type(trial)(shuffled, trial.exclusions, dict(trial.meta))
    build_report(shuffled_trial, out=tmp_path / "toy.pdf")
    assert (tmp_path / "toy.pdf").read_bytes() == toy_report[1].read_bytes()


def _row(r, g, lower_is_better: bool) -> str:
    """A contrast row as the report prints it: oriented so that positive favours the first arm."""
    s = -1.0 if lower_is_better else 1.0
    lo, hi = sorted((s * r.conf_low, s * r.conf_high))
    glo, ghi = sorted((s * g["conf_low"], s * g["conf_high"]))
    a, b = r.contrast.split(" - ")
    return " ".join([f"{a} vs {b}", fmt.num(s * r.estimate), fmt.ci(lo, hi), fmt.num(r.std_error), fmt.num(r.df, 1),
                     fmt.pval(r.p_value), fmt.pval(r.p_adjusted), fmt.num(s * g["estimate"]), fmt.ci(glo, ghi)])


def test_pdf_contains_contrasts_as_the_tables_hold_them(toy_text):
    """Refit with the public API and look for each formatted contrast row in the PDF's text: Holm p-values next
    to unadjusted CIs (the toy data have one primary outcome, pain, so its family is its three contrasts)."""
    text = toy_text
    trial = make_trial()
    for outcome in ("pain_nrs", "tug"):
        mmrm = rs.fit_mmrm(trial, outcome=outcome, baseline="constrained", df_method="kenward-roger")
        for fit in (mmrm, rs.fit_ancova(trial, outcome=outcome, visit="week6")):
            con = rs.contrasts(rs.emmeans(fit), family="pairwise", adjust="none")
            eff = rs.effect_sizes(con).to_frame()
            tab = con.to_frame()
            tab = tab.loc[tab["visit"].astype(str) == "week6"].copy()
            tab["p_adjusted"] = adjust_p(tab["p_value"], "holm")
            eff = eff.loc[eff["visit"].astype(str) == "week6"].set_index("contrast")
            assert len(tab) == 3
            for r in tab.itertuples(index=False):
                row = _row(r, eff.loc[r.contrast], lower_is_better=True)
                assert row in text, f"{fit.model} {outcome}: {row!r} not in the PDF"
    # near miss: the Bonferroni intervals that emmeans pairs with Holm p are NOT what the table shows
    fit = rs.fit_mmrm(trial, outcome="pain_nrs", baseline="constrained", df_method="kenward-roger")
    bonf = rs.contrasts(rs.emmeans(fit), family="pairwise", adjust="bonferroni").to_frame()
    r = bonf.loc[bonf["visit"].astype(str) == "week6"].iloc[0]
    assert f"{fmt.num(-r['estimate'])} {fmt.ci(-r['conf_high'], -r['conf_low'])} " not in text
    # the earlier visit of the MMRM is tabulated too (supportive, unadjusted)
    raw = rs.contrasts(rs.emmeans(fit), family="pairwise", adjust="none").to_frame()
    r2 = raw.loc[raw["visit"].astype(str) == "week2"].iloc[0]
    assert f"Week 2 retro vs forward {fmt.num(-r2['estimate'])} {fmt.ci(-r2['conf_high'], -r2['conf_low'])}" in text


def test_pdf_sections_and_synthetic_box_absent_for_user_data(toy_text):
    text = toy_text
    for heading in ("Plain-language summary", "Participant flow", "Baseline characteristics", "Results by outcome",
                    "Standardized contrasts across outcomes", "Methods", "Appendix: model diagnostics",
                    "Appendix: coefficient tables", "Appendix: manifest", "Completers vs all participants",
                    "Responder analysis (supportive)", "Earlier visits (cLDA MMRM, supportive)"):
        assert heading in text
    assert "Synthetic data." not in text and "SYNTHETIC" not in text
    assert "Holm" in text and "Satterthwaite" not in text  # df method named as used (Kenward-Roger default)
    assert "Kenward-Roger denominator degrees of freedom" in text
    assert "primary outcome 1 of 1" in text and "exploratory outcome" in text
    assert "an improvement (decrease) of at least" in text  # the responder criterion, stated


def test_manifest_and_kept_sources(toy_report, toy_text):
    folder, out, manifest = toy_report
    on_disk = json.loads((folder / "toy.manifest.json").read_text())
    assert on_disk == json.loads(manifest.to_json())
    assert on_disk["outputs"]["toy.pdf"] == hashlib.sha256(out.read_bytes()).hexdigest()
    for name, digest in on_disk["outputs"].items():
        if name != "toy.pdf":
            assert name.startswith("src/")
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    for name, digest in on_disk["sources"].items():
        assert on_disk["outputs"][f"src/{name}"] == digest
    assert on_disk["input"]["sha256"] == "0" * 64
    assert {"python", "numpy", "pandas", "typst", "matplotlib", "retrostudy"} <= set(on_disk["versions"])
    spec = on_disk["spec"]
    assert spec["primary"] == "mmrm" and spec["adjust"] == "holm" and spec["multiplicity"] == "holm"
    assert spec["reference_arm"] == "control" and spec["covariates"] == []
    assert "--out" not in on_disk["command"] and on_disk["command"].startswith("retrostudy report")
    data = json.loads((folder / "src" / "report.json").read_text())
    # numbers reach the template as data: the template itself holds no digits of the results
    template = (folder / "src" / "report.typ").read_text()
    table = next(b for b in data["outcomes"][0]["blocks"] if b["kind"] == "table" and b["header"][0] == "Comparison")
    assert table["rows"][0][1] not in template
    # no path of this machine leaks into the report or the manifest
    blob = (folder / "src" / "report.json").read_text() + toy_text + (folder / "toy.manifest.json").read_text()
    assert str(folder) not in blob and str(ROOT) not in blob
    assert "reference arm control" in " ".join(toy_text.split())


def test_bytes_do_not_depend_on_the_output_path(tmp_path, toy_report):
    """Another folder and another file name, no kept sources: the same PDF; the manifest lists only what was
    written."""
    other = tmp_path / "deeper" / "folder" / "another-name.pdf"
    m = build_report(make_trial(), out=other)
    assert other.read_bytes() == toy_report[1].read_bytes()
    assert sorted(m.outputs) == ["another-name.pdf"]
    assert sorted(p.name for p in other.parent.iterdir()) == ["another-name.manifest.json", "another-name.pdf"]
    assert m.sources == toy_report[2].sources


def test_bad_file_exits_3_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("subject_id,arm,visit,week,outcome,value\nR01,retro,baseline,0,pain_nrs,6\n"
                   "R01,retro,week6,6,pain_nrs,banana\nF01,forward,baseline,0,pain_nrs,99\n")
    out = tmp_path / "out.pdf"
    proc = subprocess.run([sys.executable, "-m", "retrostudy", "report", str(bad), "--out", str(out)], check=False,
                          capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"}, timeout=120)
    assert proc.returncode == 3, proc.stderr
    with pytest.raises(DataError) as err:
        rs.read_trial(bad)
    assert str(err.value) in proc.stderr
    assert "Traceback" not in proc.stderr
    with pytest.raises(DataError):
        build_report(bad, out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_spec_errors_write_nothing(tmp_path):
    with pytest.raises(SpecError, match="not in the data"):
        build_report(make_trial(), out=tmp_path / "x.pdf", outcomes=["womac"])
    with pytest.raises(SpecError, match="ending in .pdf"):
        build_report(make_trial(), out=tmp_path / "x.docx")
    with pytest.raises(SpecError, match="primary"):
        build_report(make_trial(), out=tmp_path / "x.pdf", primary="anova")
    assert list(tmp_path.iterdir()) == []


def test_report_date_is_explicit(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1555286400")  # 2019-04-15
    m = build_report(make_trial(n_per_arm=6), out=tmp_path / "d.pdf", outcomes=["pain_nrs"], primary="ancova")
    assert m.timestamp["iso"] == "2019-04-15T00:00:00Z" and m.timestamp["source"] == "SOURCE_DATE_EPOCH"
    info = pypdf.PdfReader(str(tmp_path / "d.pdf")).metadata
    assert info["/CreationDate"].startswith("D:20190415")
    m = build_report(make_trial(n_per_arm=6), out=tmp_path / "e.pdf", outcomes=["pain_nrs"], date="2021-03-04")
    assert m.timestamp["date"] == "2021-03-04" and "--date 2021-03-04" in m.command
    assert pypdf.PdfReader(str(tmp_path / "e.pdf")).metadata["/CreationDate"].startswith("D:20210304")
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    m = build_report(make_trial(n_per_arm=6), out=tmp_path / "f.pdf", outcomes=["pain_nrs"])
    assert m.timestamp["undated"] is True
    assert "This report is undated" in " ".join(_text(tmp_path / "f.pdf").split())
    with pytest.raises(SpecError, match="YYYY-MM-DD"):
        build_report(make_trial(n_per_arm=6), out=tmp_path / "g.pdf", date="next tuesday")


def test_bundled_synthetic_data_get_the_boxed_statement(tmp_path):
    meta = json.loads((ROOT / "retrostudy" / "datasets" / "alghadir2019_sim.json").read_text())
    m = build_report("alghadir2019_sim", out=tmp_path / "sim.pdf", outcomes=["pain_nrs"])
    assert m.input["kind"] == "dataset" and m.input["sha256"] == meta["sha256"]
    text = " ".join(_text(tmp_path / "sim.pdf").split())
    assert "Synthetic data." in text
    assert " ".join(meta["synthetic_statement"].split()) in text
    assert "SYNTHETIC data set" in text
    assert "Calibrated to:" in text and "68 randomized" in text
    assert "missing value" in text  # the dropouts' empty week-6 cells, from the exclusion log
    pages = [" ".join(p.extract_text().split()) for p in pypdf.PdfReader(str(tmp_path / "sim.pdf")).pages]
    assert all("SYNTHETIC DATA" in p for p in pages)  # in every page's footer
    assert m.synthetic and m.timestamp["source"] == "the data's date"


def test_settings_file_reaches_the_models_and_the_methods(tmp_path):
    cfg = tmp_path / "report.yaml"
    cfg.write_text("report:\n  covariance: cs\n  df_method: kenward-roger\n  conf_level: 0.9\n")
    m = build_report(make_trial(n_per_arm=8), out=tmp_path / "c.pdf", outcomes=["pain_nrs"], settings=cfg)
    assert m.spec["covariance"] == "cs" and m.spec["df_method"] == "kenward-roger"
    text = " ".join(_text(tmp_path / "c.pdf").split())
    assert "compound symmetry (CS)" in text and "Kenward-Roger denominator degrees of freedom" in text
    assert "90% CI" in text
    fit = rs.fit_mmrm(make_trial(n_per_arm=8), outcome="pain_nrs", covariance="cs", df_method="kenward-roger",
                      conf_level=0.9, baseline="constrained")
    con = rs.contrasts(rs.emmeans(fit), family="pairwise", adjust="none").to_frame()
    r = con.loc[con["visit"].astype(str) == "week6"].iloc[0]
    a, b = r["contrast"].split(" - ")
    assert f"{a} vs {b} {fmt.num(-r['estimate'])} {fmt.ci(-r['conf_high'], -r['conf_low'])} {fmt.num(r['std_error'])}" \
        f" {fmt.num(r['df'], 1)}" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text("covariance: us\ncolour: red\n")
    with pytest.raises(SpecError, match="key 'colour': unknown report setting"):
        build_report(make_trial(n_per_arm=8), out=tmp_path / "d.pdf", settings=bad)
    assert not (tmp_path / "d.pdf").exists()
