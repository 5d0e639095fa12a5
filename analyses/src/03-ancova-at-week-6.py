"""Source of analyses/03-ancova-at-week-6.ipynb (build with: python analyses/build.py 03)."""

# %% [markdown]
# # 3. The week-6 comparison: ANCOVA, marginal means, contrasts and effect sizes
#
# The trial's main question, for its primary outcome: **at week 6, is pain lower after retro walking
# than after usual care (and than after forward walking)?** This notebook answers it the way trial
# statisticians usually do, with an **analysis of covariance (ANCOVA)**, and explains each number on the
# way: change scores, what adjusting for baseline does, estimated marginal means, contrasts, multiplicity,
# Hedges' g and how to read a confidence interval.
#
# Remember (notebook 1): the data are a **synthetic reconstruction**, so the numbers below show how the
# methods work, not whether retro walking works.

# %%
import matplotlib.pyplot as plt
import pandas as pd

import retrostudy as rs

trial = rs.load_dataset("alghadir2019_sim")

# %% [markdown]
# ## One row per person: baseline, week 6 and the change
#
# We fit the ANCOVA straight away, because its `data` attribute is the table we want to look at first:
# one row per analysed person with the pain score at baseline, at week 6 and the **change** (week 6 minus
# baseline; negative = less pain). People without a week-6 value cannot be in this analysis; the model
# writes each of them into its exclusion log, so we can see who is missing and why.

# %%
fit = rs.fit_ancova(trial, outcome="pain_nrs")
print(fit.exclusions.summary())
fit.data.head()

# %% [markdown]
# The mean of each column per arm. Pain fell in every arm, and the arms started at slightly different
# baseline levels, by chance.

# %%
fit.data.groupby("arm", observed=True)[["baseline", "value", "change"]].agg(["mean", "count"]).round(2)

# %% [markdown]
# ## Analysis 1: compare the change scores
#
# The simplest comparison: the mean change in the retro arm minus the mean change in the control arm, with
# a two-sample t-test. `retrostudy` has no function for this analysis on purpose (the ANCOVA below is
# better), so for this one comparison we call `scipy` directly.

# %%
from scipy import stats

change = fit.data.set_index("arm")["change"]
ttest = stats.ttest_ind(change["retro"], change["control"])
ci = ttest.confidence_interval(0.95)
diff = change["retro"].mean() - change["control"].mean()
print(f"change score, retro - control: {diff:.3f} points, SE {diff / ttest.statistic:.3f}, "
      f"95% CI {ci.low:.3f} to {ci.high:.3f}, p = {ttest.pvalue:.4f}")

# %% [markdown]
# ## Analysis 2: ANCOVA, adjusting for baseline
#
# ANCOVA models the week-6 value as
#
# $$\text{pain}_{\text{week 6}} = \beta_0 + \beta_1\,\text{pain}_{\text{baseline}} + \text{arm effect} + \text{error}.$$
#
# The arm effects are differences between arms **for people with the same baseline pain**. The table has
# one row per coefficient: `arm[retro]` is retro minus control (the reference arm), `baseline` is
# $\beta_1$. A change-score analysis is the special case that forces $\beta_1 = 1$; ANCOVA estimates
# it from the data.

# %%
fit.to_frame()

# %% [markdown]
# ### What adjusting for baseline does
#
# Two things happen. (1) Baseline pain predicts week-6 pain strongly, so the unexplained variation
# (the error) shrinks, and with it the **standard error** of the arm difference: the estimate is more
# precise and the test has more power. (2) The comparison is corrected for the chance difference in
# baseline pain between the arms. The ANCOVA of the **change** gives exactly the same arm differences as
# the ANCOVA of the week-6 value (only the baseline coefficient moves, by one): once baseline is in the
# model, "value" or "change" does not matter.

# %%
fit_change = rs.fit_ancova(trial, outcome="pain_nrs", response="change")
rows = {}
for label, model in [("ANCOVA of the week-6 value", fit), ("ANCOVA of the change", fit_change)]:
    coef = model.to_frame().set_index("term")
    rows[label] = coef.loc["arm[retro]", ["estimate", "std_error", "p_value"]].tolist() + [
        coef.loc["baseline", "estimate"]]
rows["change score (t-test)"] = [diff, diff / ttest.statistic, ttest.pvalue, 1.0]
pd.DataFrame(rows, index=["retro - control", "std_error", "p_value", "baseline coefficient"]).T.round(4)

# %% [markdown]
# ## Estimated marginal means (EMMs)
#
# The coefficients answer "how much lower than control"; the **EMMs** answer "what pain level do we
# expect at week 6 in each arm, for a person with the average baseline pain". They are the model's
# predictions at the mean baseline (the note under the table says which value), so all arms are compared
# at the same starting point.

# %%
emm = rs.emmeans(fit)
print(emm.summary())

# %% [markdown]
# ## Contrasts: treatment vs reference
#
# A **contrast** is a difference of EMMs. The default compares each arm with the reference arm
# (`control`, the last declared arm). For the ANCOVA, `retro - control` is the `arm[retro]` coefficient
# again. `p_adjusted` equals `p_value` here because we asked for no multiplicity adjustment.

# %%
con = rs.contrasts(emm)
print(con.summary())

# %% [markdown]
# Before looking at individual pairs, one **overall test** asks whether the three arms differ at all:
# the F test of the `arm` term (two degrees of freedom, for three arms).

# %%
print(rs.joint_tests(fit).summary())

# %% [markdown]
# ## Multiplicity: several comparisons, one error rate
#
# With three arms there are three pairwise comparisons. If each is tested at the 5 % level, the chance
# that **at least one** of them is "significant" by chance alone is larger than 5 %. Adjustments keep
# that family-wise error rate at 5 %: Bonferroni multiplies each p-value by the number of tests; Holm
# does the same step by step and is never worse; Tukey uses the exact joint distribution of all pairwise
# differences; Dunnett does that for comparisons with one reference arm. Here are the pairwise p-values
# under each method, side by side.

# %%
adjusted = {
    adjust: rs.contrasts(emm, family="pairwise", adjust=adjust).to_frame().set_index("contrast")["p_adjusted"]
    for adjust in ("none", "bonferroni", "holm", "tukey")
}
pd.DataFrame(adjusted).round(4)

# %% [markdown]
# Adjustment also widens the confidence intervals. For Bonferroni, Tukey and Dunnett there is an interval
# that matches the adjusted p-value exactly (it excludes 0 exactly when the adjusted p is below 0.05).
# Holm's step-by-step p-values have no such interval: `rs.contrasts` pairs them with Bonferroni intervals,
# as R's emmeans does, which can include 0 while the Holm p is below 0.05. The PDF report therefore shows
# unadjusted intervals next to Holm p-values and labels them "unadj.". The figure draws each pairwise difference with its
# unadjusted and its Tukey-adjusted 95 % interval. An interval that crosses the dashed zero line is
# compatible with "no difference".

# %%
pairs = {adjust: rs.contrasts(emm, family="pairwise", adjust=adjust).to_frame() for adjust in ("none", "tukey")}
fig, ax = plt.subplots(figsize=(7, 3.2))
for shift, (adjust, colour) in zip((0.12, -0.12), (("none", "#0072B2"), ("tukey", "#D55E00"))):
    tab = pairs[adjust]
    y = [len(tab) - 1 - i + shift for i in range(len(tab))]
    ax.errorbar(tab["estimate"], y, xerr=[tab["estimate"] - tab["conf_low"], tab["conf_high"] - tab["estimate"]],
                fmt="o", color=colour, capsize=3, label="unadjusted 95% CI" if adjust == "none" else "Tukey 95% CI")
ax.axvline(0, color="grey", ls="--", lw=1)
ax.set_yticks(range(len(tab)), tab["contrast"][::-1])
ax.set_xlabel("Difference in week-6 pain, adjusted for baseline (NRS points)")
ax.set_title("Pairwise differences (negative = first arm has less pain)", loc="left")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, frameon=False)
fig.tight_layout()

# %% [markdown]
# ## Effect size: Hedges' g
#
# "0.8 points on a 0-10 scale" means something to a clinician who uses the scale; to compare across
# outcomes (points, kilograms, seconds) we divide the difference by a standard deviation. `retrostudy`
# uses the pooled **baseline SD** of the outcome (it is not affected by the treatment) and multiplies by
# Hedges' small-sample correction $J$ (column `correction`), giving **Hedges' g** (column `estimate`;
# `contrast_estimate` is the difference in points and `standardizer` the SD it is divided by). Values
# around 0.2, 0.5 and 0.8 are often called small, medium and large, but what matters clinically depends
# on the outcome.

# %%
g = rs.effect_sizes(con)
g.to_frame()[["contrast", "effect_size", "estimate", "conf_low", "conf_high", "contrast_estimate",
              "standardizer", "correction"]].round(3)

# %% [markdown]
# ## Reading a confidence interval
#
# The retro - control contrast is the trial's main result. Below it is written as a sentence. The
# **estimate** is our best single guess of the difference. The **95 % confidence interval** is the range
# of differences that are compatible with the data: if we repeated the trial many times, 95 % of the
# intervals computed this way would contain the true difference. A CI that excludes 0 corresponds to
# p < 0.05. The CI also shows the *size*: its end nearest to zero is the smallest effect the data still
# support, which is what to hold against the smallest difference that matters to patients (for pain NRS
# often taken to be about 1 point).

# %%
row = con.to_frame().set_index("contrast").loc["retro - control"]
print(f"At week 6, adjusted for baseline pain, pain was {abs(row.estimate):.2f} points "
      f"{'lower' if row.estimate < 0 else 'higher'} with retro walking than with usual care "
      f"(95% CI {row.conf_low:.2f} to {row.conf_high:.2f}; p = {row.p_value:.3f}; "
      f"{row.df:.0f} residual df).")

# %% [markdown]
# ## What we learned
#
# * A change-score comparison and an ANCOVA estimate the same arm difference in a randomized trial, but
#   ANCOVA adjusts for baseline: a smaller standard error (more power) and a correction for chance baseline
#   imbalance. With baseline in the model, analysing the value or the change gives the same contrasts.
# * `rs.fit_ancova` fits the model, `rs.emmeans` gives each arm's expected week-6 value at the average
#   baseline, `rs.contrasts` gives differences of EMMs, `rs.joint_tests` the overall F test and
#   `rs.effect_sizes` Hedges' g.
# * Several comparisons need a multiplicity adjustment (`adjust="holm"`, `"tukey"`, `"dunnett"`), which
#   raises p-values and widens intervals.
# * A CI is read for its location and its width, and against a clinically relevant difference, not only
#   for whether it crosses zero.
#
# ## Exercises
#
# 1. Repeat the analysis for WOMAC. Is the retro - control difference larger or smaller than for pain
#    when both are expressed as Hedges' g?
# 2. Add age and sex as covariates (`covariates=["age", "sex"]`). How much does the retro - control
#    estimate change, and why would you expect only a small change in a randomized trial?
# 3. Compare `adjust="dunnett"` and `adjust="bonferroni"` for the two treatment-vs-control contrasts.
#    Which gives the smaller adjusted p-values, and why?
#
# <details>
# <summary><b>Solutions</b> (click to open)</summary>
#
# 1. ```python
#    womac = rs.fit_ancova(trial, outcome="womac")
#    rs.effect_sizes(rs.contrasts(rs.emmeans(womac)))
#    ```
#    For WOMAC the retro - control g is about -0.2, smaller in size than the -0.5 for pain: the WOMAC
#    difference (in points) is small compared with how much people differ in WOMAC at baseline.
# 2. ```python
#    adjusted = rs.fit_ancova(trial, outcome="pain_nrs", covariates=["age", "sex"])
#    rs.contrasts(rs.emmeans(adjusted))
#    ```
#    The estimate moves only a little: randomization makes age and sex independent of the arm on
#    average, so adjusting for them mainly changes the precision, not the expected difference.
# 3. ```python
#    for adjust in ("dunnett", "bonferroni"):
#        print(rs.contrasts(emm, adjust=adjust).to_frame()[["contrast", "p_value", "p_adjusted"]])
#    ```
#    Dunnett's p-values are smaller: Bonferroni ignores that the two contrasts share the control arm
#    (they are positively correlated), Dunnett uses that correlation exactly.
#
# </details>
