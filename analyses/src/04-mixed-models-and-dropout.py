"""Source of analyses/04-mixed-models-and-dropout.ipynb (build with: python analyses/build.py 04)."""

# %% [markdown]
# # 4. Repeated measures, mixed models and dropout
#
# In notebook 3 every person was one row: baseline as a covariate, week 6 as the response. That
# analysis has to leave out everybody who did not come back at week 6. Another view keeps **both**
# measurements of each person as responses: two values per person, taken from the same knee, which are
# therefore **correlated**. A model for such repeated measures needs a model for that correlation, a
# *covariance model*. This notebook shows
#
# * why repeated measures need a covariance model, and what the covariance of this trial looks like;
# * a random-intercept mixed model vs an MMRM (mixed model for repeated measures) with an unstructured
#   covariance, and covariance structures compared by AIC;
# * the methods for the degrees of freedom (Satterthwaite, Kenward-Roger, ...);
# * what happens to the estimates when dropout is ignored (complete cases) vs modelled.
#
# The data are still the synthetic reconstruction of notebook 1. In them, as in many trials, people with
# more pain at baseline were more likely to drop out (PROVENANCE.md: "MAR dropout").

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import retrostudy as rs

trial = rs.load_dataset("alghadir2019_sim")

# %% [markdown]
# ## Both visits as responses: an MMRM
#
# `rs.fit_mmrm` with `baseline="none"` keeps the baseline visit as a response. The mean model is
# `arm * visit`: a mean for every arm at every visit. The covariance model `covariance="us"`
# (unstructured, SAS `TYPE=UN`) lets each visit have its own variance and the two visits any
# correlation. Every person with at least one value is used: 68 people, 127 values.

# %%
mmrm = rs.fit_mmrm(trial, outcome="pain_nrs", baseline="none", covariance="us")
print(mmrm.summary())

# %% [markdown]
# How to read the coefficients: the `Intercept` is the control arm at baseline, `arm[retro]` the
# retro - control difference at baseline (near 0, as randomization promises), `visit[week6]` the change
# in the control arm, and **`arm[retro]:visit[week6]`** is the difference between the retro and control
# arms in their *change* from baseline to week 6, the treatment effect in this model.
#
# ## The covariance: why the model needs one
#
# The estimated visit x visit covariance matrix and the correlation it implies. Two pain scores of the
# same person are strongly correlated: someone with much pain at baseline tends to have much pain at
# week 6. A model that treated the 127 values as 127 independent people would pretend to have more
# information than it has, and its standard errors would be wrong.

# %%
cov = mmrm.residual_covariance
sd = np.sqrt(np.diag(cov))
print("covariance (points^2):\n", cov.round(3), "\n")
print("correlation:\n", (cov / np.outer(sd, sd)).round(3))

# %% [markdown]
# ## Random intercept vs unstructured covariance
#
# A **random-intercept** linear mixed model (`rs.fit_lmm`, `random="intercept"`) says each person has their
# own level (a random intercept) plus independent noise at every visit. That implies *equal* variances at
# all visits and *one* correlation between any two visits: the compound-symmetry structure (`cs`). The
# unstructured MMRM estimates the variances and the correlation freely. The variance components of the
# mixed model:

# %%
lmm = rs.fit_lmm(trial, outcome="pain_nrs", baseline="none", random="intercept")
lmm.residual_covariance

# %% [markdown]
# Both models give nearly the same treatment effect here (the change difference retro - control), with
# slightly different standard errors. The information criterion AIC (smaller is better; it penalises
# every extra parameter) prefers the simpler random-intercept model a little.

# %%
term = "arm[retro]:visit[week6]"
comparison = pd.DataFrame({
    name: fit.to_frame().set_index("term").loc[term, ["estimate", "std_error", "df", "p_value"]]
    for name, fit in [("random intercept (LMM)", lmm), ("unstructured (MMRM)", mmrm)]
}).T
comparison["AIC"] = [lmm.fit_stats["aic"], mmrm.fit_stats["aic"]]
comparison.round(4)

# %% [markdown]
# ## Covariance structures compared by AIC
#
# `fit_mmrm` knows the SAS structures: `us`, `cs`, `csh` (heterogeneous CS), `ar1`, `ar1h`, `toep`
# (Toeplitz), `ad` (antedependence) and more. We fit each one by REML and compare AIC and the number of
# covariance parameters. REML AICs may be compared here because every model has the same mean model.
#
# Look closely: with only **two** visits there is only one correlation to estimate, so AR(1), Toeplitz,
# antedependence and CS are the same model (2 parameters), and so are UN, CSH and ARH(1) (3 parameters).
# Their AICs agree to many digits: a good check that the software is right. Structures differ once a trial
# has three or more visits.

# %%
structures = {}
for structure in ("us", "csh", "ar1h", "cs", "ar1", "toep", "ad"):
    fit = rs.fit_mmrm(trial, outcome="pain_nrs", baseline="none", covariance=structure)
    effect = fit.to_frame().set_index("term").loc[term]
    structures[structure] = {"parameters": fit.fit_stats["n_cov_params"], "-2 REML logL": fit.fit_stats["minus2_loglik"],
                             "AIC": fit.fit_stats["aic"], "effect": effect["estimate"], "SE": effect["std_error"]}
pd.DataFrame(structures).T.round(4).sort_values(["AIC", "parameters"], kind="stable")

# %% [markdown]
# ## Degrees of freedom
#
# A t-test needs degrees of freedom (df). In a mixed model they are not simply "n minus parameters",
# because the information comes partly from between people and partly from within people. The usual
# choices: **Satterthwaite** (an approximation from the variance of the estimate), **Kenward-Roger**
# (Satterthwaite plus a correction of the standard error for small samples; the recommended default of
# many guidelines for small trials), **between-within** (SAS's split of the residual df) and the naive
# **residual** df (observations minus parameters, too optimistic). With 68 people the p-values hardly
# differ; with 20 people they would.

# %%
rows = {}
for df_method in ("satterthwaite", "kenward-roger", "between-within", "residual"):
    fit = rs.fit_mmrm(trial, outcome="pain_nrs", baseline="none", df_method=df_method)
    rows[df_method] = fit.to_frame().set_index("term").loc[term, ["estimate", "std_error", "df", "p_value",
                                                                  "conf_low", "conf_high"]]
pd.DataFrame(rows).T.round(4)

# %% [markdown]
# ## Dropout: complete cases vs modelled
#
# Nine people have no week-6 pain score. A **complete-case** analysis keeps only the people with both
# values. If the people who left differ from those who stayed (for example, more pain at baseline), the
# completers are a selected group and their averages are biased. The MMRM on all data keeps the dropouts'
# baseline values and uses the baseline-week 6 correlation to estimate what their arm's week-6 mean would
# have been. This is valid when dropout depends only on what was observed ("missing at random", MAR).
#
# The completers are a few lines of pandas on the canonical table: keep the people who have the outcome
# at every visit. (The PDF report fits the same subset in its "Completers vs all participants" table.)

# %%
def complete_case(trial, outcome):
    """The trial restricted to the people with `outcome` at every visit: (trial, n kept, n with any value)."""
    rows = trial.data[trial.data["outcome"] == outcome]
    visits_per_person = rows.groupby("subject_id", observed=True)["visit"].nunique()
    keep = visits_per_person.index[visits_per_person == len(trial.visits)]
    kept = trial.data[trial.data["subject_id"].isin(keep)]
    return rs.TrialData(kept, trial.exclusions, dict(trial.meta)), len(keep), len(visits_per_person)


completers, n_complete, n_all = complete_case(trial, "pain_nrs")
mmrm_cc = rs.fit_mmrm(completers, outcome="pain_nrs", baseline="none", covariance="us")
print(f"complete cases: {n_complete} of {n_all} people")

# %% [markdown]
# The estimated marginal means of both fits side by side. In these data the nine dropouts had baseline
# pain close to their arm's average, so ignoring them changes the means by little (most in the forward
# arm, whose three dropouts had more baseline pain than the people who stayed).

# %%
emms = {"all data (MMRM)": rs.emmeans(mmrm).to_frame(), "complete cases": rs.emmeans(mmrm_cc).to_frame()}
side = pd.concat({k: v.set_index(["visit", "arm"])["estimate"] for k, v in emms.items()}, axis=1)
side["difference"] = side["all data (MMRM)"] - side["complete cases"]
side.round(3)

# %% [markdown]
# ### A what-if experiment: selective dropout
#
# To see the bias clearly, we make the dropout worse on purpose: we delete the week-6 pain scores of the
# five people in the **retro** arm who had the most pain at baseline (as if the people who were worst off
# had stopped coming). Because we still have the deleted values, we know the full-data answer and can see
# which analysis comes closer to it. The canonical table is an ordinary DataFrame, so deleting rows is one
# line of pandas; `rs.TrialData` wraps the result for the functions that expect a trial.

# %%
pain_wide = complete_case(trial, "pain_nrs")[0].data.query("outcome == 'pain_nrs'").pivot_table(
    index=["subject_id", "arm"], columns="visit", values="value", observed=True).reset_index()
leavers = pain_wide[pain_wide["arm"] == "retro"].nlargest(5, "baseline")["subject_id"].tolist()
data = trial.data
experiment = rs.TrialData(data[~(data["subject_id"].isin(leavers) & (data["visit"] == "week6"))])
print("week-6 values deleted for:", ", ".join(leavers))

# %% [markdown]
# **Which treatment effect?** Up to here the effect was the interaction `arm[retro]:visit[week6]`, the
# difference between retro and control in their mean **change** from baseline to week 6 (−0.81 points).
# From now on we look at the **week-6 contrast** of the same model: the difference between the arms' mean
# pain *at* week 6 (−0.67 points, the EMM contrast `retro - control` at `week6`). The two differ by the
# arms' difference at baseline (+0.14 points, retro a little higher by chance): −0.67 = −0.81 + 0.14. We
# switch because dropout acts on the week-6 values, so the week-6 contrast is where selective dropout
# shows; and because it is the quantity the trial report gives. The report's primary analysis (and
# ANCOVA) adjusts it for the baseline value, which removes the chance baseline difference and gives
# −0.80 (last table of this notebook).
#
# Now the week-6 difference between retro and control (the EMM contrast at week 6) in three analyses:
# the full data (what we would like to get), complete cases of the experiment, and the MMRM on all that is
# left of the experiment.

# %%
analyses = {
    "full data": trial,
    "experiment: complete cases": complete_case(experiment, "pain_nrs")[0],
    "experiment: MMRM, all data": experiment,
}
week6 = {}
for label, d in analyses.items():
    fit = rs.fit_mmrm(d, outcome="pain_nrs", baseline="none")
    table = rs.contrasts(rs.emmeans(fit)).to_frame().set_index(["contrast", "visit"])
    week6[label] = table.loc[("retro - control", "week6"), ["estimate", "std_error", "conf_low", "conf_high"]]
week6 = pd.DataFrame(week6).T
week6.round(3)

# %% [markdown]
# The figure shows the three estimates with their 95 % confidence intervals. The complete-case analysis
# exaggerates the benefit of retro walking: the retro completers are the people who had *less* pain to
# begin with. The MMRM uses the five leavers' baseline values and lands close to the full-data answer.

# %%
fig, ax = plt.subplots(figsize=(7, 2.6))
y = np.arange(len(week6))[::-1]
ax.errorbar(week6["estimate"], y, xerr=[week6["estimate"] - week6["conf_low"], week6["conf_high"] - week6["estimate"]],
            fmt="o", color="#0072B2", capsize=3)
ax.axvline(week6.loc["full data", "estimate"], color="#D55E00", ls=":", lw=1.2, label="full-data estimate")
ax.axvline(0, color="grey", ls="--", lw=1, label="no difference")
ax.set_yticks(y, week6.index)
ax.set_xlabel("Week-6 pain, retro minus control (NRS points), with 95% CI")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=2, frameon=False)
fig.tight_layout()

# %% [markdown]
# Finally, the treatment effect on the real (synthetic) data in five analyses. The ANCOVA of notebook 3 and
# an MMRM with baseline as a covariate give identical answers: with a single follow-up visit both can only
# use the people who have it. Keeping baseline as a response uses everyone.
#
# The **constrained** longitudinal model (cLDA, `baseline="constrained"`) keeps the baseline value as a
# response too, but gives all arms **one** baseline mean (they were randomized, so they are the same at
# baseline). It is the **primary analysis of the PDF report** (notebook 5): it uses all 68 people, and with
# one follow-up visit its week-6 difference equals the ANCOVA's (the nine people without week 6 inform only
# the shared baseline mean), with a slightly different standard error. The report shows it as "retro vs
# control 0.80" because it turns every difference so that a positive number favours the first-named arm
# (for pain, lower is better, so the report shows control minus retro), and adjusts its p-value for the six
# comparisons of the two primary outcomes (pain and WOMAC). Notebook 6 asks what happens if the people who
# left did worse than this model assumes.

# %%
effects = {
    "MMRM, baseline as response, all data": mmrm.to_frame().set_index("term").loc[term],
    "MMRM, baseline as response, complete cases": mmrm_cc.to_frame().set_index("term").loc[term],
    "MMRM, baseline as covariate": rs.fit_mmrm(trial, outcome="pain_nrs").to_frame().set_index("term")
    .loc["arm[retro]"],
    "ANCOVA (notebook 3)": rs.fit_ancova(trial, outcome="pain_nrs").to_frame().set_index("term").loc["arm[retro]"],
    "cLDA: baseline as response, one baseline mean": rs.fit_mmrm(trial, outcome="pain_nrs", baseline="constrained")
    .to_frame().set_index("term").loc["visit[week6]:arm[retro]"],
}
pd.DataFrame(effects).T[["estimate", "std_error", "df", "p_value", "conf_low", "conf_high"]].round(4)

# %% [markdown]
# ## What we learned
#
# * Repeated measurements of one person are correlated (here about 0.8 between baseline and week 6), so a
#   model of them needs a covariance model; treating them as independent would give wrong standard errors.
# * A random-intercept mixed model implies compound symmetry; an MMRM with an unstructured covariance
#   estimates every variance and correlation. AIC compares structures fitted to the same mean model.
#   With two visits several structures are the same model.
# * Degrees-of-freedom methods (Satterthwaite, Kenward-Roger, between-within, residual) change p-values
#   and intervals, most in small trials.
# * Complete-case averages are biased when dropout depends on the outcome's earlier values (the what-if
#   experiment); an MMRM on all data corrects this when dropout is missing at random.
# * The constrained model (cLDA) uses every randomized person and, with complete data, gives the ANCOVA's
#   treatment difference; it is the report's primary analysis.
#
# ## Exercises
#
# 1. Repeat the structure comparison for the timed up-and-go test (`outcome="tug"`). Which structure has
#    the lowest AIC?
# 2. Fit the unstructured MMRM with `df_method="kenward-roger"` and compare its standard error of the
#    treatment effect with the Satterthwaite fit. Which is larger, and why?
# 3. Repeat the what-if experiment, but delete the week-6 values of the five **control** people with
#    the most baseline pain. In which direction does the complete-case retro - control difference move
#    now, and why?
#
# <details>
# <summary><b>Solutions</b> (click to open)</summary>
#
# 1. ```python
#    for structure in ("us", "cs"):
#        fit = rs.fit_mmrm(trial, outcome="tug", baseline="none", covariance=structure)
#        print(structure, round(fit.fit_stats["aic"], 3))
#    ```
#    The lower AIC wins; as for pain, the other structures equal one of these two with two visits.
# 2. ```python
#    kr = rs.fit_mmrm(trial, outcome="pain_nrs", baseline="none", df_method="kenward-roger")
#    kr.to_frame().set_index("term").loc[term, ["std_error", "df"]]
#    ```
#    Kenward-Roger's standard error is slightly larger: it corrects for the uncertainty in the estimated
#    covariance parameters, which the Satterthwaite (model-based) standard error ignores.
# 3. Replace `"retro"` by `"control"` in the cell that picks the `leavers` and run the cells again. The
#    complete-case difference moves **towards zero**: now the control completers are the people with less
#    pain, so usual care looks better than it was and retro walking's advantage shrinks. Selection bias
#    can go in either direction; which one depends on who leaves which arm.
#
# </details>
