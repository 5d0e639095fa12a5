"""Source of analyses/01-the-question.ipynb (build with: python analyses/build.py 01)."""

# %% [markdown]
# # 1. The question: does walking backwards help knee pain?
#
# Knee osteoarthritis (OA) makes the knee painful and stiff, and walking is one of the exercises people
# with knee OA are told to do. Walking **backwards** ("retro walking") loads the knee differently: the
# knee-cap joint is pressed less and the thigh muscle (the quadriceps) works harder. So a clinician may
# ask:
#
# > *Do people with knee OA who add backward walking to their usual care end up with less pain and
# > better function than people who add forward walking, or who only get usual care?*
#
# This series of notebooks answers that question step by step with the `retrostudy` package, the way a
# trial statistician would. This first notebook has almost no statistics: it is about **what was asked,
# how the trial was built, and what data we have**.
#
# | notebook | what you learn |
# |---|---|
# | 1 (this one) | the claim, the trial design, the bundled data and why they are synthetic |
# | 2 | reading data files in different layouts; the canonical table; errors and the exclusion log |
# | 3 | the week-6 comparison: change scores vs ANCOVA, marginal means, contrasts, effect sizes |
# | 4 | repeated measures, mixed models and dropout |
# | 5 | from the analysis to a reproducible PDF report |
# | 6 | dropout and sensitivity analyses: what if the people who left did worse? |
# | 7 | planning a replication: how many people a new trial needs |

# %% [markdown]
# ## The trial
#
# The question comes from a real randomized controlled trial (RCT): Alghadir AH, Anwer S, Sarkar B,
# Paul AK, Anwar D. *Effect of 6-week retro or forward walking program on pain, functional disability,
# quadriceps muscle strength, and performance in individuals with knee osteoarthritis: a randomized
# controlled trial (retro-walking trial).* BMC Musculoskeletal Disorders 2019;20:159.
#
# What the published abstract tells us:
#
# * **Who:** 68 adults with knee OA (mean age 55.6 years, 38 women), treated in an outpatient
#   physiotherapy department.
# * **Three arms**, decided by chance (randomization):
#   * **retro**: 10 minutes of supervised backward walking, 3 days a week for 6 weeks, on top of usual care;
#   * **forward**: the same, walking forwards;
#   * **control**: usual care only (a routine physiotherapy exercise programme).
# * **When:** every outcome was measured at **baseline** (before the programme) and at **week 6**.
# * **Outcomes:** pain on a 0-10 numerical rating scale (NRS) and the WOMAC index (knee pain, stiffness
#   and function) were the *primary* outcomes; quadriceps strength and the timed up-and-go test (TUG:
#   stand up, walk 3 m, turn, walk back, sit down) were *secondary*.
# * **Result (abstract):** pain fell by 1.8 points with retro walking and by 1.0 with usual care
#   (p = 0.01); WOMAC fell by 4.8 vs 2.2 points (p = 0.008). Not everyone came back at week 6: 91 %,
#   87 % and 82 % completed in the retro, forward and control arms.
#
# Randomization is what lets us read a difference between arms as an effect of the programme: the arms
# differ only by chance at baseline, so a larger difference at week 6 is hard to explain otherwise.

# %% [markdown]
# ## The data we have: a synthetic reconstruction
#
# The trial's participant-level data are **not public**. What `retrostudy` ships is a *simulated*
# dataset, `alghadir2019_sim`, built by a seeded program (`data/alghadir2019_sim/generate.py`) so that its
# summary numbers match the published ones (group sizes, completion rates, mean changes and p-values of
# the abstract). Everything the paper does not tell (for example the spread of WOMAC at baseline, or the
# forward arm's change) is an assumption, written down with its reason in
# `data/alghadir2019_sim/parameters.csv` and `PROVENANCE.md`.
#
# **What that means for conclusions.** Results computed on these data show how the *methods* behave;
# they are **not evidence** about retro walking. If the synthetic data "find" an effect, that is because
# the simulation put it there. To learn about the treatment itself, read the paper, and to analyse real
# data, load your own file (notebook 2).
#
# First we import the package and ask which datasets it ships with.

# %%
import retrostudy as rs

rs.list_datasets()

# %% [markdown]
# The `synthetic` column says which datasets are simulated: both are. The second, `retro_replication_sim`,
# is a made-up replication with visits at weeks 0, 2, 4 and 6 and dropout, for mixed models and missing
# data. Here we stay with the reconstruction of the original trial. `load_dataset`
# returns a `TrialData` object: the data in one long table plus a log of anything left out and a
# dictionary of metadata. Its printed form is a one-line summary.

# %%
trial = rs.load_dataset("alghadir2019_sim")
trial

# %% [markdown]
# The metadata say, in the data themselves, that they are synthetic and where they come from. Every table
# and report made from them repeats this warning.

# %%
for key in ("study", "synthetic", "title", "citation", "licence", "license"):
    if key in trial.meta:
        print(f"{key:>10}: {trial.meta[key]}")

# %% [markdown]
# ## The canonical long table
#
# `retrostudy` keeps every trial in the same shape: **one row per subject x visit x outcome**. It looks
# repetitive, but it means every analysis can use the same code whatever file the data came from. Here are
# the first eight rows: subject `R01` (the first subject in the retro arm) with four outcomes at two
# visits. `age`, `sex` and `bmi` are subject-level covariates, the same on every row of a subject.

# %%
trial.data.head(8)

# %% [markdown]
# ## The outcomes and their units
#
# Each outcome id (`pain_nrs`, `womac`, ...) has an entry in the outcome registry with a label, a unit,
# the valid range and whether lower or higher is better. Pain, WOMAC and TUG are better when **lower**;
# strength is better when **higher**. Keep this in mind when you read a difference between arms.

# %%
import pandas as pd

pd.DataFrame([rs.OUTCOMES[o].to_dict() for o in trial.outcomes]).set_index("id")[
    ["label", "unit", "low", "high", "direction", "version"]]

# %% [markdown]
# ## How many people, and how many came back?
#
# We count the subjects with a pain score at each visit, per arm. The drop from baseline to week 6 is the
# **dropout** the paper reports (completion 91 %, 87 %, 82 %). Missing week-6 values are not rows with an
# empty value: they are absent from the long table and listed in the exclusion log (the "36 values
# excluded" above: 9 people x 4 outcomes). Notebook 4 asks what dropout does to the answer.

# %%
pain = trial.data[trial.data["outcome"] == "pain_nrs"]
counts = pd.crosstab(pain["arm"], pain["visit"])
counts["completed (%)"] = (100 * counts["week6"] / counts["baseline"]).round(1)
counts

# %% [markdown]
# ## Who was in the trial?
#
# A trial report starts with "Table 1": the participants' characteristics at baseline, by arm and in
# total. `rs.table_one` computes it from the canonical table (numbers: `.table`, `.smd`), and its
# `.formatted()` gives the text of the table as the PDF report prints it. In a randomized trial the arms
# should look alike at baseline; differences are due to chance, so we describe them (SMD: standardized mean
# difference) rather than test them with p-values.

# %%
rs.table_one(trial).formatted()

# %% [markdown]
# ## A first look at pain over time
#
# The plot shows each subject's pain at baseline and week 6 as a faint line and the mean of each arm with
# its 95 % confidence interval; the legend gives the number of people with a value at each week. All arms improve, partly because of usual care and partly because people
# tend to enter a trial when their pain is at its worst (regression to the mean). That is why we need the
# **control arm**: the question is not "did pain fall?" but "did it fall *more* with retro walking?".

# %%
rs.trajectory_plot(trial.data, "pain_nrs", synthetic=True)

# %% [markdown]
# ## What we learned
#
# * The claim: adding backward walking to usual care reduces knee OA pain and disability more than
#   forward walking or usual care alone. The evidence: one three-arm RCT of 68 people, outcomes at
#   baseline and week 6.
# * The bundled dataset `alghadir2019_sim` is a **synthetic reconstruction** calibrated to the published
#   summary numbers; it teaches methods and tests software, it is not evidence about retro walking.
# * `retrostudy` holds every trial as one long table (subject x visit x outcome) with an outcome
#   registry that knows units, ranges and which direction is better.
# * Some people did not come back at week 6, and all arms improved, so a fair comparison needs the
#   control arm and a plan for missing data.
#
# ## Exercises
#
# 1. Draw the same figure for the timed up-and-go test. Which direction is "better" for TUG, and does
#    the y-axis label show the unit?
# 2. How many women are in each arm of the synthetic data? (Hint: `sex` is a subject-level column, so
#    count each subject once.)
# 3. The abstract reports completion rates of 91 %, 87 % and 82 %. Which numbers of completers out of
#    which group sizes give these rates in the synthetic data?
#
# <details>
# <summary><b>Solutions</b> (click to open)</summary>
#
# 1. `rs.trajectory_plot(trial.data, "tug")`. Lower is better (a faster test, as the legend says); the
#    axis reads "Timed up-and-go (s)".
# 2. Keep one row per subject, then cross-tabulate:
#
#    ```python
#    subjects = trial.data.drop_duplicates("subject_id")
#    pd.crosstab(subjects["arm"], subjects["sex"])
#    ```
#
# 3. The table `counts` above: the `week6` column over the `baseline` column in each arm
#    (for example 21 of 23 = 91.3 % in the retro arm).
#
# </details>
