# Reference values for retrostudy.report.multiplicity (Holm and Bonferroni p-values, Bonferroni critical t),
# computed with base R only. Run from this folder: Rscript p_adjust.R   (writes p_adjust.json)
# Near miss: Hochberg's step-up p-values (p.adjust "hochberg"), which a step-up/step-down mix-up gives.
library(jsonlite)
set.seed(20240531)
cases <- list(
  list(name = "six primary tests", p = c(0.231, 0.009, 0.146, 0.169, 0.026, 0.180)),
  list(name = "ties and ones", p = c(0.01, 0.01, 0.04, 1, 0.5, 0.02)),
  list(name = "random 12", p = round(runif(12)^3, 6)),
  list(name = "two", p = c(0.03, 0.04))
)
for (i in seq_along(cases)) {
  p <- cases[[i]]$p
  cases[[i]]$holm <- p.adjust(p, "holm")
  cases[[i]]$bonferroni <- p.adjust(p, "bonferroni")
  cases[[i]]$near_miss_hochberg <- p.adjust(p, "hochberg")
}
crit <- list()
for (m in c(1, 3, 6, 12)) for (df in c(12.5, 55, 117, 1e6)) for (conf in c(0.95, 0.9)) {
  crit[[length(crit) + 1]] <- list(m = m, df = df, conf = conf, q = qt(1 - (1 - conf) / (2 * m), df))
}
out <- list(source = "p_adjust.R (base R stats::p.adjust, stats::qt)", r_version = R.version.string,
            tolerance = list(rtol = 1e-12, reason = "closed-form step-down formula and the t quantile"),
            cases = cases, bonferroni_critical_t = crit)
write_json(out, "p_adjust.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
