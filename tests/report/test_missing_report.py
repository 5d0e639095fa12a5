"""The bundled report's primary analysis, its Methods and its "Missing data and sensitivity" section agree with
what the public API computes (issue 11): the cLDA MMRM on every randomised participant, who each model used and
left out (from the fits), each strategy's numbers, the tipping point, the estimand; settings reach them; a table
identical to another is said once.

The numbers are recomputed here with ``rs.fit_mmrm``, ``rs.fit_ancova``, ``rs.sensitivity`` and
``rs.tipping_point`` (themselves checked against nlme, R and rbmi in tests/models and tests/missing) and compared
with the report's JSON data as the report prints them (2 decimals, oriented so that positive favours the first
arm)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import retrostudy as rs
from retrostudy.errors import SpecError
from retrostudy.report import build_report, fmt
from retrostudy.report.spec import make_spec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _trial import make_trial

STRATEGIES = ("mar", "j2r", "cr", "cir", "lmcf")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bundled")
    manifest = build_report("alghadir2019_sim", out=folder / "r.pdf", keep_source=folder / "src",
                            outcomes=["pain_nrs", "womac"])
    return json.loads((folder / "src" / "report.json").read_text()), manifest


def _blocks(data, outcome):
    return next(o for o in data["outcomes"] if o["id"] == outcome)["blocks"]


def _section(data):
    return next(s for s in data["sections"] if s["title"] == "Missing data and sensitivity")["blocks"]


def _texts(blocks):
    return [b["text"] for b in blocks if b["kind"] == "text"]


def _cell(r):
    """A difference and its CI as the section prints them (lower is better: the sign flips)."""
    return f"{fmt.num(-r['estimate'])} ({fmt.ci(-r['conf_high'], -r['conf_low'])})"


TRIAL = rs.load_dataset("alghadir2019_sim")
RANDOMISED = {"retro": 23, "forward": 23, "control": 22}


def test_primary_is_the_clda_on_every_randomised_participant(bundled):
    data, manifest = bundled
    assert manifest.spec["baseline"] == "constrained" and manifest.spec["df_method"] == "kenward-roger"
    fit = rs.fit_mmrm(TRIAL, outcome="pain_nrs", baseline="constrained", df_method="kenward-roger")
    used = fit.n_analysed(by="arm")
    assert used == RANDOMISED  # every randomised participant
    blocks = _blocks(data, "pain_nrs")
    assert "Primary analysis (cLDA MMRM) at week 6: confirmatory" in [b["text"] for b in blocks if b["kind"] == "sub"]
    n6 = fit.n_analysed(by="visit")["week6"]
    sentence = (f"The cLDA MMRM used {fit.n_analysed(by=None)} of 68 randomised participants (retro {used['retro']}, "
                f"forward {used['forward']}, control {used['control']}): {n6} with a week 6 value and {68 - n6} "
                "without one, who contribute their earlier values.")
    assert sentence in _texts(blocks)
    # the contrast table is the cLDA's (pain: lower is better, so the printed difference is minus the estimate)
    con = rs.contrasts(rs.emmeans(fit), family="pairwise").to_frame().set_index("contrast")
    table = next(b for b in blocks if b["kind"] == "table" and b["header"][0] == "Comparison")
    rows = {r[0]: r for r in table["rows"]}
    for pair in ("retro - forward", "retro - control", "forward - control"):
        r = con.loc[pair]
        a, b = pair.split(" - ")
        assert rows[f"{a} vs {b}"][1:5] == [fmt.num(-r["estimate"]), fmt.ci(-r["conf_high"], -r["conf_low"]),
                                          fmt.num(r["std_error"]), fmt.num(r["df"], 1)]
    # near miss: the MMRM with the baseline as a covariate uses only 59 and has other SEs
    cov = rs.fit_mmrm(TRIAL, outcome="pain_nrs", df_method="kenward-roger")
    assert cov.n_analysed(by=None) == 59
    se = {m: rs.contrasts(rs.emmeans(f), family="pairwise").to_frame().set_index("contrast").loc["retro - control",
                                                                                                  "std_error"]
          for m, f in (("clda", fit), ("covariate", cov))}
    assert abs(se["clda"] / se["covariate"] - 1) > 1e-3


def test_methods_say_who_each_model_used_from_the_fits(bundled):
    data, _ = bundled
    methods = " ".join(data["methods"])
    clda = rs.fit_mmrm(TRIAL, outcome="pain_nrs", baseline="constrained", df_method="kenward-roger")
    anc = rs.fit_ancova(TRIAL, outcome="pain_nrs")
    u, a = clda.n_analysed(), anc.n_analysed()
    without = clda.n_analysed(by=None) - clda.n_analysed(by="visit")["week6"]
    assert (f"Pain (NRS) and WOMAC total: 68 of 68 (retro {u['retro']}, forward {u['forward']}, control "
            f"{u['control']}), {without} of them without a week 6 value.") in methods
    left = {k: RANDOMISED[k] - a[k] for k in a}
    log = anc.exclusions.to_frame()
    reasons = log.loc[log["stage"] == "ancova", "reason"].unique()
    assert list(reasons) == ["no pain_nrs value at week6"] and anc.n_excluded() == sum(left.values()) == 9
    assert (f"Pain (NRS) and WOMAC total: 59 of 68 (retro {a['retro']}, forward {a['forward']}, control "
            f"{a['control']}); 9 left out (retro {left['retro']}, forward {left['forward']}, control "
            f"{left['control']}): no value at week 6 (9).") in methods
    assert "constrained longitudinal data analysis (cLDA; Liang & Zeger 2000; Lu 2010)" in methods
    assert "Kenward-Roger denominator degrees of freedom" in methods
    assert "Every randomised participant contributed" not in methods


def test_the_ancova_is_said_to_share_the_differences_and_completers_are_not_refitted(bundled):
    data, _ = bundled
    texts = " ".join(_texts(_blocks(data, "pain_nrs")))
    clda = rs.contrasts(rs.emmeans(rs.fit_mmrm(TRIAL, outcome="pain_nrs", baseline="constrained")),
                        family="pairwise").to_frame()
    anc = rs.contrasts(rs.emmeans(rs.fit_ancova(TRIAL, outcome="pain_nrs")), family="pairwise").to_frame()
    np.testing.assert_allclose(clda["estimate"], anc["estimate"], rtol=1e-8)  # the claim the text makes
    assert not np.allclose(clda["std_error"], anc["std_error"], rtol=1e-6)
    assert "Its differences equal the primary cLDA MMRM's" in texts
    assert "The ANCOVA above (sensitivity analysis) analyses exactly the 59 completers" in texts
    headers = [b["header"][1] for b in _blocks(data, "pain_nrs") if b["kind"] == "table"]
    assert not any(h.startswith("All (n =") for h in headers)  # no completers table repeating the ANCOVA


def test_sensitivity_section_numbers_are_the_apis(bundled):
    data, _ = bundled
    blocks = _section(data)
    tables = [b for b in blocks if b["kind"] == "table" and b["header"][0] == "Analysis"]
    assert len(tables) == 2  # pain, WOMAC
    for outcome, table in zip(("pain_nrs", "womac"), tables):
        rows = {r[0]: r for r in table["rows"]}
        assert table["header"][1::2] == ["retro vs control", "forward vs control", "retro vs forward"]
        for s in STRATEGIES:
            res = rs.sensitivity(TRIAL, outcome=outcome, strategy=s, baseline="none", family="pairwise")
            got = res.to_frame().set_index("contrast")
            for k, pair in enumerate(("retro - control", "forward - control", "retro - forward")):
                r = got.loc[pair]
                assert rows[f"MI: {s.upper()}"][1 + 2 * k] == _cell(r)
                assert rows[f"MI: {s.upper()}"][2 + 2 * k] == fmt.pval(r["p_value"])
        # near miss: J2R differs from CR (the reference-based strategies are not interchangeable)
        assert rows["MI: J2R"][1] != rows["MI: CR"][1]
        prim = rs.contrasts(rs.emmeans(rs.fit_mmrm(TRIAL, outcome=outcome, baseline="constrained",
                                                   df_method="kenward-roger")), family="pairwise").to_frame()
        p = prim.set_index("contrast").loc["retro - control"]
        assert rows["Primary: cLDA MMRM (MAR)"][1] == _cell(p)


def test_tipping_point_is_the_apis_on_the_automatic_grid(bundled):
    data, _ = bundled
    texts = " ".join(_texts(_section(data)))
    for outcome, label in (("pain_nrs", "Pain (NRS)"), ("womac", "WOMAC total")):
        base = TRIAL.data.query("outcome == @outcome and visit == 'baseline'")["value"].to_numpy(float)
        sd = np.std(base, ddof=1)
        grid = sd * np.linspace(0, 4, 41)  # retro's values are lower (better): shifted upwards, against retro
        tp = rs.tipping_point(TRIAL, outcome=outcome, arm="retro", deltas=list(grid), baseline="none",
                              family="pairwise", contrast="retro - control")
        assert np.isfinite(tp.tipping_delta_interpolated)
        assert (f"{label}: the retro vs control difference at week 6 stays significant (unadjusted p < 0.05) until "
                f"the imputed values of the 2 retro participants who left are "
                f"{fmt.num(tp.tipping_delta_interpolated)} points worse than MAR predicts "
                f"({tp.tipping_delta_interpolated / sd:.2f} baseline SDs)") in texts
    summary = " ".join(data["summary"])
    assert "Missing data (positive favours the first arm; unadjusted" in summary


def test_estimand_is_printed(bundled):
    data, manifest = bundled
    table = next(b for b in _section(data) if b["kind"] == "table" and b["header"][0] == "Attribute")
    rows = {r[0]: r[1:] for r in table["rows"]}
    assert rows["Population"] == ["all randomised participants"] * 2
    assert rows["Variable"] == ["Pain (NRS) at week 6", "WOMAC total at week 6"]
    assert rows["Population-level summary"][0] == \
        "difference in means: retro \u2212 control, forward \u2212 control, retro \u2212 forward"
    assert rows["Strategy"][0].startswith("hypothetical")
    est = rs.Estimand.from_mapping(manifest.spec["estimand"]["pain_nrs"])  # the manifest round-trips
    assert est.contrasts == ("retro - control", "forward - control", "retro - forward")


def test_settings_file_sets_the_estimand_and_the_sensitivity_analyses(tmp_path):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("estimand:\n  population: everyone randomised with a baseline value\n  intercurrent_events:\n"
                   "    - {event: stopped walking, strategy: treatment policy, imputation: j2r}\n"
                   "sensitivity: {strategies: [mar, j2r], deltas: [0, 1, 2, 3]}\n")
    trial = make_trial(n_per_arm=10)
    build_report(trial, out=tmp_path / "t.pdf", outcomes=["pain_nrs"], settings=cfg, keep_source=tmp_path / "src")
    data = json.loads((tmp_path / "src" / "report.json").read_text())
    blocks = _section(data)
    table = next(b for b in blocks if b["kind"] == "table" and b["header"][0] == "Attribute")
    rows = {r[0]: r[1:] for r in table["rows"]}
    assert rows["Population"] == ["everyone randomised with a baseline value"]
    assert rows["Intercurrent event"] == ["stopped walking"] and rows["Strategy"][0].startswith("treatment policy")
    assert "its estimate is the MI: J2R row" in " ".join(_texts(blocks))
    res = next(b for b in blocks if b["kind"] == "table" and b["header"][0] == "Analysis")
    assert [r[0] for r in res["rows"]][2:] == ["MI: MAR", "MI: J2R"]
    tp = rs.tipping_point(trial, outcome="pain_nrs", arm="retro", deltas=[0, 1, 2, 3], baseline="none",
                          family="pairwise")
    code = next(b for b in blocks if b["kind"] == "code")["text"]
    assert "deltas: [0, 1, 2, 3]" in code and "retrostudy sensitivity" in code
    assert "4 deltas from 0.00 to 3.00 (from the settings)" in json.dumps(data, ensure_ascii=False)
    assert tp.settings["n_deltas"] == 4


@pytest.mark.parametrize("settings, pattern", [
    ({"sensitivity": {"strategy": ["mar"]}}, "Unknown key 'strategy' in sensitivity \\(did you mean 'strategies'"),
    ({"sensitivity": {"strategies": ["jump"]}}, "sensitivity.strategies must be one of"),
    ({"sensitivity": {"tipping_arm": "control"}}, "is the reference arm"),
    ({"sensitivity": {"tipping_arm": "sham"}}, "not an arm of the data"),
    ({"sensitivity": {"deltas": []}}, "non-empty list of numbers"),
    ({"sensitivity": {"n_samples": 50}}, "does not apply to the jackknife"),
    ({"sensitivity": "yes"}, "must be a mapping"),
    ({"estimand": {"populaton": "x"}}, "Unknown key 'populaton' in estimand \\(did you mean 'population'"),
    ({"estimand": {"visit": "week2"}}, "not the report's final visit"),
    ({"estimand": {"treatments": ["retro", "sham"], "contrasts": ["retro - sham"]}}, "must be arms of the data"),
    ({"baseline": "response"}, "Unknown baseline 'response'; use one of constrained, covariate"),
])
def test_bad_settings_are_one_sentence(settings, pattern):
    with pytest.raises(SpecError, match=pattern) as err:
        make_spec(make_trial(n_per_arm=4), settings)
    assert "\n" not in str(err.value)


def test_sensitivity_false_keeps_the_estimand_and_the_pattern(tmp_path):
    build_report(make_trial(n_per_arm=8), out=tmp_path / "t.pdf", outcomes=["pain_nrs"],
                 settings={"sensitivity": False}, keep_source=tmp_path / "src")
    data = json.loads((tmp_path / "src" / "report.json").read_text())
    blocks = _section(data)
    assert any(b["kind"] == "table" and b["header"][0] == "Attribute" for b in blocks)
    assert "fig/missing_pattern.svg" in [b.get("path") for b in blocks]
    assert "The settings leave the multiple-imputation sensitivity analyses out" in " ".join(_texts(blocks))
    assert "No multiple-imputation sensitivity analysis was run" in " ".join(data["methods"])


def test_identical_tables_are_printed_once(tmp_path):
    """baseline: covariate on the bundled trial: with one visit after baseline that MMRM is the complete-case
    ANCOVA, number for number, so the report prints the table once and says so."""
    build_report("alghadir2019_sim", out=tmp_path / "t.pdf", outcomes=["pain_nrs"],
                 settings={"baseline": "covariate", "df_method": "satterthwaite", "sensitivity": False},
                 keep_source=tmp_path / "src")
    data = json.loads((tmp_path / "src" / "report.json").read_text())
    blocks = _blocks(data, "pain_nrs")
    mmrm = rs.contrasts(rs.emmeans(rs.fit_mmrm(TRIAL, outcome="pain_nrs")), family="pairwise").to_frame()
    anc = rs.contrasts(rs.emmeans(rs.fit_ancova(TRIAL, outcome="pain_nrs")), family="pairwise").to_frame()
    for col in ("estimate", "std_error", "df", "p_value"):  # the claim: the same table
        np.testing.assert_allclose(mmrm[col], anc[col], rtol=1e-6)
    assert sum(b["kind"] == "table" and b["header"][1] == "Difference" for b in blocks) == 1
    assert any("is the primary analysis's above, number for number, so it is not repeated" in t
               for t in _texts(blocks))
    assert any("The MMRM above analyses exactly the 59 completers" in t for t in _texts(blocks))


def test_four_visits_get_a_completers_table_and_the_pattern(tmp_path):
    trial = rs.load_dataset("retro_replication_sim")
    build_report(trial, out=tmp_path / "t.pdf", outcomes=["pain_nrs"], keep_source=tmp_path / "src",
                 settings={"sensitivity": {"strategies": ["mar", "j2r"]}})
    data = json.loads((tmp_path / "src" / "report.json").read_text())
    blocks = _blocks(data, "pain_nrs")
    cc = next(b for b in blocks if b["kind"] == "table" and b["header"][0] == "Comparison"
              and b["header"][1].startswith("All (n ="))
    complete = trial.data.query("outcome == 'pain_nrs'").dropna(subset=["value"]).groupby("subject_id")["visit"] \
        .nunique()
    assert cc["header"][1] == "All (n = 150)" and cc["header"][3] == f"Completers (n = {(complete == 4).sum()})"
    from retrostudy.figures_missing import missingness_data

    m = missingness_data(trial, ["pain_nrs"]).set_index(["arm", "visit"])
    by_hand = trial.data.query("outcome == 'pain_nrs' and visit == 'week6'").dropna(subset=["value"]) \
        .groupby("arm", observed=True)["subject_id"].nunique()
    for arm, n in by_hand.items():
        assert m.loc[(str(arm), "week6"), "observed"] == n


def test_report_tables_hold_the_sensitivity_analyses(bundled):
    """``report --tables`` writes each strategy's tidy table and the tipping point (estimate = first minus
    second, as every tidy table)."""
    _, manifest = bundled
    tables = manifest.tables
    sens = tables["sensitivity"]
    assert set(sens["strategy"]) == set(STRATEGIES) and set(sens["outcome"]) == {"pain_nrs", "womac"}
    j2r = sens.query("outcome == 'pain_nrs' and strategy == 'j2r' and contrast == 'retro - control'").iloc[0]
    ref = rs.sensitivity(TRIAL, outcome="pain_nrs", strategy="j2r", baseline="none", family="pairwise").to_frame()
    np.testing.assert_allclose(j2r["estimate"], ref.set_index("contrast").loc["retro - control", "estimate"],
                               rtol=1e-12)
    tip = tables["tipping_point"]
    assert len(tip.query("outcome == 'pain_nrs'")) == 41 * 3  # 41 deltas x 3 pairwise contrasts at week 6
