# Reference model matrices for retrostudy.design (tests/test_design.py).
# Run from this folder: Rscript make_design_reference.R  -> design_reference.json
# R's model.matrix with treatment contrasts is the independent implementation; factor
# levels are set explicitly so the reference level matches the test's `reference=`.
library(jsonlite)
d <- read.csv("design_input.csv", stringsAsFactors = FALSE)
d$arm <- factor(d$arm, levels = c("control", "retro", "forward"))   # reference: control
d$visit <- factor(d$visit, levels = c("baseline", "week3", "week6"))
d$sex <- factor(d$sex, levels = c("female", "male"))
formulas <- c(
  "~ arm * visit + age",
  "~ arm + baseline + sex",
  "~ arm * visit + baseline:visit",
  "~ 0 + visit + arm:visit",
  "~ arm:visit",
  "~ age * sex + arm"
)
out <- lapply(formulas, function(f) {
  X <- model.matrix(as.formula(f), data = d)
  list(formula = f, columns = colnames(X), matrix = unname(X))
})
meta <- list(R = R.version.string, script = "make_design_reference.R", data = "design_input.csv")
write_json(list(meta = meta, cases = out), "design_reference.json", digits = NA, auto_unbox = TRUE, pretty = FALSE)
