"""Source of analyses/07-planning-the-replication.ipynb (build with: python analyses/build.py 07)."""

# %% [markdown]
# # 7. Planning the replication: how many people would a new trial need?
#
# The trial we have been analysing randomized 68 people and reported that pain fell by **1.8 points
# after retro walking and by 1.0 point after usual care** (p = 0.01). One small trial is not enough to
# change practice: the next step is a **replication**, and its first question is *how many people to
# recruit*. This notebook answers it in the order a trial statistician would:
#
# 1. what the published effect is, and how uncertain;
# 2. the sample size of the simplest analysis (a t-test), and why the **ANCOVA needs fewer people**;
# 3. what **dropout** costs, and what a third arm with a **multiplicity adjustment** costs;
# 4. a small **simulation** of the planned analysis that agrees with the formula.
#
# As always: the bundled data are a **synthetic reconstruction** (notebook 1). The standard deviations,
# correlations and dropout we read from them illustrate the method; a real plan would take them from
# the published article, other trials or a pilot study.

# %%
import numpy as np
import pandas as pd
from scipy import stats

import retrostudy as rs

trial = rs.load_dataset("alghadir2019_sim")

# %% [markdown]
# ## 1. The published effect and its uncertainty
#
# The abstract gives the mean pain reductions (1.8 and 1.0 points) and a p-value of 0.01 for the
# difference, from 21 retro and 18 control completers. A p-value and an estimate together give the
# **standard error**: the t statistic is the estimate divided by its SE, and a two-sided p = 0.01 on
# 21 + 18 - 2 = 37 df is a t of about 2.7.

# %%
diff, p, df = 1.8 - 1.0, 0.01, 21 + 18 - 2
t = stats.t.isf(p / 2, df)
se = diff / t
low, high = diff - stats.t.ppf(0.975, df) * se, diff + stats.t.ppf(0.975, df) * se
print(f"difference {diff:.2f} points, t = {t:.2f}, SE = {se:.3f}, 95% CI {low:.2f} to {high:.2f}")

# %% [markdown]
# The interval runs from about 0.2 to 1.4 points: the data are compatible with a tiny and with a large
# benefit. Two more reasons for caution before we plan on "0.8 points":
#
# * a single trial that came out significant tends to **overestimate** its effect (small trials only
#   reach p < 0.05 when chance pushed the estimate up: the *winner's curse*);
# * a replication should be able to detect the **smallest effect that matters to patients**, not the
#   effect a previous trial happened to see.
#
# So we will plan for 0.8 points and show how the answer changes for smaller effects.
#
# ## 2. The inputs a plan needs, read from the data
#
# Besides the effect, a sample-size formula needs the outcome's **standard deviation**, the
# **correlation** between baseline and week 6 (for the ANCOVA) and the **retention** (the share of
# people still measured at week 6). `rs.planning_inputs` reads each of them from a trial through the
# package's own models and says where every number came from.

# %%
inputs = rs.planning_inputs(trial, outcome="pain_nrs")
print(inputs.summary())

# %% [markdown]
# ## 3. The t-test: the simplest plan
#
# If the replication compared week-6 pain between two arms with a two-sample t-test, the number per arm
# follows from the effect, the SD, the significance level (5 %, two-sided) and the power we want (80 %:
# a true 0.8-point difference is detected four times out of five). `rs.power_ttest` solves for whichever
# of `n1`, `effect` and `power` is left out, with the exact noncentral t distribution (the same numbers
# as R's `power.t.test`, statsmodels and pingouin).

# %%
effect, sd, rho = 0.8, inputs.sd, inputs.rho
ttest = rs.power_ttest(effect=effect, sd=sd, power=0.8)
ttest

# %% [markdown]
# ## 4. Why the ANCOVA needs fewer people
#
# Notebook 3 showed that adjusting for baseline pain makes the estimate more precise. In a plan this
# becomes a **design factor**: with a baseline-week 6 correlation $\rho$, the error variance of the
# ANCOVA is $\sigma^2(1-\rho^2)$, so it needs about $(1-\rho^2)$ times the t-test's sample size (Borm,
# Fransen & Lemmens 2007). `rs.power_ancova` computes the exact power of the ANCOVA t-test (Shieh 2020),
# which also counts the degree of freedom spent on the baseline and the chance imbalance of baseline
# between the arms.

# %%
ancova = rs.power_ancova(effect=effect, sd=sd, rho=rho, power=0.8)
print(f"rho = {rho:.2f}, design factor 1 - rho^2 = {1 - rho ** 2:.3f}")
print(f"t-test: {ttest.n1:.1f} per arm;  ANCOVA: {ancova.n1:.1f} per arm;  "
      f"ratio {ancova.n1 / ttest.n1:.3f}")

# %% [markdown]
# The saving depends on how strongly baseline predicts week 6. The table shows the people needed per
# arm for a range of correlations (the first row, $\rho = 0$, is the t-test). Forgetting the design
# factor, that is planning an ANCOVA with the t-test formula, would recruit the first row's numbers.

# %%
rows = []
for r in (0.0, 0.4, 0.6, 0.8):
    exact = rs.power_ancova(effect=effect, sd=sd, rho=r, power=0.8) if r > 0 else ttest
    borm = rs.power_ancova(effect=effect, sd=sd, rho=r, power=0.8, method="z") if r > 0 else None
    rows.append({"rho": r, "n per arm (exact)": exact.n1_rounded,
                 "Borm normal formula": np.nan if borm is None else round(borm.n1, 1)})
pd.DataFrame(rows)

# %% [markdown]
# ## 5. What dropout costs
#
# Only people with a week-6 value enter the ANCOVA. If 13 % leave, the randomized numbers must be
# larger so that enough *remain*: the needed number is divided by the retention. `retention=` takes one
# proportion, or one per arm (experimental, control); `inputs.ancova_kwargs()` hands over the trial's SD,
# correlation and retention by arm together with their sources.

# %%
kw = inputs.ancova_kwargs("retro")
with_dropout = rs.power_ancova(effect=effect, power=0.8, **kw)
print(f"retention retro {kw['retention'][0]:.3f}, control {kw['retention'][1]:.3f}")
print(f"complete data: {ancova.n_total_rounded} randomized; with this dropout: {with_dropout.n_total_rounded}")

# %% [markdown]
# With more than two visits an MMRM uses the intermediate visits of people who leave early, so dropout
# costs less. `rs.power_mmrm` implements Lu, Luo & Chen (2008), as R's `longpower::power.mmrm`: a variance
# factor $\phi$ per arm from the correlation over visits and the retention at each visit. The textbook
# case (4 visits, compound symmetry 0.25, retention 1, 0.9, 0.8, 0.7, effect 0.5 SD) needs 87 per arm:

# %%
rs.power_mmrm(effect=0.5, sd=1, corr=0.25, structure="cs", retention=[1, 0.9, 0.8, 0.7], power=0.8)

# %% [markdown]
# ## 6. Three arms and multiplicity
#
# The replication would keep all three arms: retro walking and forward walking are each compared with
# usual care. Two comparisons at 5 % each would make a false positive more likely, so the plan adjusts:
# **Bonferroni** tests each at 2.5 %, **Dunnett** uses the fact that both comparisons share the control
# arm and is a little less strict. `arms=3` sizes each of the three arms for the retro - control
# comparison.

# %%
plans = {adjust: rs.power_ancova(effect=effect, power=0.8, arms=3, adjust=adjust, **kw)
         for adjust in ("none", "bonferroni", "dunnett")}
pd.DataFrame({adjust: {"critical value": round(res.critical_value, 3), "n per arm": res.n1_rounded,
                       "total randomized": res.n_total_rounded} for adjust, res in plans.items()})

# %% [markdown]
# The plan we would write down: **three arms of the Dunnett size**, analysed by ANCOVA on baseline. The
# same call with `power=None` and `n1=` gives the power of any size, and `rs.planning.power_curve`
# draws it. The second curve shows how much a smaller true effect (0.5 points) costs.

# %%
from retrostudy.planning import power_curve, power_curve_plot

sizes = np.arange(30, 301, 15)
curve_kw = {k: v for k, v in kw.items() if k != "sources"}
curves = pd.concat([
    power_curve("ancova", sizes, effect=e, arms=3, adjust="dunnett", **curve_kw).assign(label=f"effect {e}")
    for e in (0.8, 0.5)])
fig = power_curve_plot(curves, target=0.8, title="ANCOVA, three arms, Dunnett: power by total size")

# %% [markdown]
# ## 7. A small simulation that agrees with the formula
#
# Formulas rest on assumptions (normal data, dropout unrelated to the outcome, the analysis exactly as
# modelled). A **simulation** checks them: draw many trials from a stated model, run the real analysis
# on each one, and count how often it rejects. `rs.TrialModel.from_inputs` builds a model of a trial
# like ours: the observed SDs and correlation, the retention by arm, dropout that depends on the last
# observed value (missing at random), and our planned effect. `rs.simulate_power` analyses each
# simulated trial with `rs.fit_ancova`-equivalent refits (the tests check they give the same numbers).

# %%
plan = plans["dunnett"]
n = (plan.n1_rounded, plan.n1_rounded, plan.n2_rounded)
model = rs.TrialModel.from_inputs(inputs, effect={"retro": -effect, "forward": -effect}, n_per_arm=n)
sim = rs.simulate_power(model, n_sim=1000, seed=7, analysis="ancova", adjust="dunnett", progress=False)
sim.to_frame()[["contrast", "truth", "rejection_rate", "rejection_mc_se", "bias", "coverage"]].round(4)

# %% [markdown]
# Each simulated power has a **Monte Carlo standard error** (1000 trials: about 0.013). The formula's
# power for this size and the distance in Monte Carlo SEs:

# %%
formula = rs.power_ancova(n1=plan.n1_rounded, allocation=plan.n1_rounded / plan.n2_rounded, effect=effect,
                          arms=3, adjust="dunnett", **kw).power
row = sim.to_frame().iloc[0]
print(f"formula {formula:.3f}, simulation {row['rejection_rate']:.3f} (MC SE {row['rejection_mc_se']:.3f}), "
      f"difference {(row['rejection_rate'] - formula) / row['rejection_mc_se']:+.1f} MC SE")

# %% [markdown]
# They agree within the simulation's precision. The simulation can answer what the formula cannot: the
# same call with `model.null()` gives the **type I error** of the planned analysis, `dropout="mcar"` or a
# steeper `mar_slope` changes the dropout mechanism, `departure="j2r"` lets the people who leave the
# retro arm lose its benefit (jump to reference), and `analysis="mmrm"` with `df_method=` plans an MMRM.
# For the thousands of replicates a real plan uses, `workers=` runs them in parallel with the same result.
#
# ## What we learned
#
# * A sample size needs an effect, an SD, a significance level and a power; the effect is the most
#   uncertain input, and a published significant effect is likely too large.
# * `rs.power_ttest`, `rs.power_ancova` and `rs.power_mmrm` solve for the size, the effect or the power;
#   sizes are unrounded, and each arm is rounded up when printed.
# * Adjusting for baseline multiplies the sample size by about $1 - \rho^2$; with a baseline-week 6
#   correlation near 0.8 the ANCOVA needs about a third of the t-test's people.
# * Dropout divides the analysable numbers by the retention; an MMRM over several visits loses less.
# * A third arm adds people and a multiplicity adjustment (Dunnett is less strict than Bonferroni).
# * A simulation of the planned analysis checks the formula and answers what it cannot (type I error,
#   dropout mechanisms, departures).
#
# ## Exercises
#
# 1. What is the smallest retro - control difference the Dunnett plan above detects with 90 % power?
#    (Leave `effect` out and give `n1` and `power`.)
# 2. How many people would the two-arm ANCOVA need if you planned for the lower end of the published
#    95 % CI (about 0.2 points)? What does that tell you about planning on a single small trial?
# 3. Simulate the type I error of the planned three-arm analysis (`model.null()`). Is the family-wise
#    error (the `any` row) close to 5 %?
#
# <details>
# <summary><b>Solutions</b> (click to open)</summary>
#
# 1. ```python
#    rs.power_ancova(n1=plan.n1_rounded, power=0.9, arms=3, adjust="dunnett", **kw).effect
#    ```
#    About 0.9 points: with 90 % instead of 80 % power the same trial only reliably detects a larger
#    difference.
# 2. ```python
#    rs.power_ancova(effect=0.2, power=0.8, **kw).n_total_rounded
#    ```
#    Well over a thousand people: the published interval is so wide that it does not pin down a sample
#    size; a replication has to be planned on the smallest effect that matters.
# 3. ```python
#    null = rs.simulate_power(model.null(), n_sim=400, seed=8, analysis="ancova", adjust="dunnett")
#    null.to_frame()[["contrast", "rejection_rate", "rejection_mc_se"]]
#    ```
#    Each comparison rejects about 2.5-3 % of the time and the `any` row about 5 %: Dunnett keeps the
#    family-wise error at the planned level.
#
# </details>
