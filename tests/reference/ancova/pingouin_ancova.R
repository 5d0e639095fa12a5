# Reference values for retrostudy's ANCOVA on pingouin's bundled `ancova` data set
# (pingouin.read_dataset("ancova"), copied verbatim to pingouin_ancova.csv).
# Mapping to the canonical table: arm = Method (A, B, C, D; reference = the last, D),
# "baseline" = Income, analysis visit value = Scores, covariate BMI (second case).
# Run: Rscript tests/reference/ancova/pingouin_ancova.R   (writes pingouin_ancova.json)
args <- grep("^--file=", commandArgs(FALSE), value = TRUE)
here <- if (length(args)) dirname(normalizePath(sub("^--file=", "", args[1]))) else getwd()
source(file.path(here, "common.R"))
path <- file.path(here, "pingouin_ancova.csv")
d <- read.csv(path)
w <- data.frame(subject_id = sprintf("S%02d", seq_len(nrow(d))), arm = factor(d$Method, levels = c("A", "B", "C", "D")),
                baseline = d$Income, post = d$Scores, BMI = d$BMI)
out <- list(
  generated_by = "tests/reference/ancova/pingouin_ancova.R",
  versions = versions(),
  data = "pingouin_ancova.csv",
  data_sha256 = strsplit(system2("sha256sum", shQuote(path), stdout = TRUE), " ")[[1]][1],
  reference_arm = "D",
  cases = list(
    income = ancova_case(w, character(0), "D"),
    income_bmi = ancova_case(w, "BMI", "D")
  )
)
write_json17(out, file.path(here, "pingouin_ancova.json"))
