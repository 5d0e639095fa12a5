# Reference values for retrostudy's ANCOVA on the bundled synthetic trial
# (retrostudy/datasets/alghadir2019_sim.csv): for each outcome, week-6 value ~ arm + baseline
# (arms retro, forward, control; reference control), complete cases; plus pain_nrs with age + sex.
# Run from the project root or anywhere: Rscript tests/reference/ancova/trial_sim.R
# (writes trial_sim.json with the CSV's sha256; rerun whenever the CSV changes).
args <- grep("^--file=", commandArgs(FALSE), value = TRUE)
here <- if (length(args)) dirname(normalizePath(sub("^--file=", "", args[1]))) else getwd()
source(file.path(here, "common.R"))
path <- normalizePath(file.path(here, "..", "..", "..", "retrostudy", "datasets", "alghadir2019_sim.csv"))
d <- read.csv(path, stringsAsFactors = FALSE, na.strings = c("", "NA"))
arms <- c("retro", "forward", "control")
subject_table <- function(outcome) {
  x <- d[d$outcome == outcome, ]
  b <- x[x$visit == "baseline", c("subject_id", "arm", "value", "age", "sex")]
  p <- x[x$visit == "week6", c("subject_id", "value")]
  names(b)[3] <- "baseline"; names(p)[2] <- "post"
  w <- merge(b, p, by = "subject_id", sort = FALSE)
  w <- w[!is.na(w$baseline) & !is.na(w$post), ]
  w <- w[order(match(w$subject_id, unique(d$subject_id))), ]
  w$arm <- factor(w$arm, levels = arms)
  w$sex <- factor(w$sex)
  rownames(w) <- NULL
  w
}
cases <- list()
for (oc in c("pain_nrs", "womac", "quad_strength", "tug")) cases[[oc]] <- ancova_case(subject_table(oc), character(0), "control")
cases[["pain_nrs_age_sex"]] <- ancova_case(subject_table("pain_nrs"), c("age", "sex"), "control")
out <- list(
  generated_by = "tests/reference/ancova/trial_sim.R",
  versions = versions(),
  data = "retrostudy/datasets/alghadir2019_sim.csv",
  data_sha256 = strsplit(system2("sha256sum", shQuote(path), stdout = TRUE), " ")[[1]][1],
  reference_arm = "control",
  cases = cases
)
write_json17(out, file.path(here, "trial_sim.json"))
