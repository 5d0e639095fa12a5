# Reference values for boundary (singular) LMM fits: lme4 on boundary.csv, a small simulated
# data set with no between-subject variation (40 subjects x 4 visits, y ~ N(0, 1); written by
# the Python snippet in README.md, rounded to 6 decimals so both sides read the same numbers).
# Both lmer fits end on the boundary ("boundary (singular) fit"): the random-intercept
# variance at 0, and (random intercept + slope in wk) a rank-one G (correlation -1).
#
#     Rscript make_boundary.R        (from this folder; writes lmer_boundary.json)
#
# Each fit is run with two optimizers (nloptwrap, bobyqa) with tight tolerances; the JSON
# records how far their -2 REML log-likelihoods are apart.

suppressPackageStartupMessages({ library(lme4); library(jsonlite) })
source("common.R")

VERSIONS <- versions(c("lme4", "Matrix", "jsonlite"))
d <- read.csv("boundary.csv", stringsAsFactors = FALSE)
d$vis <- factor(d$vis, levels = c("v0", "v1", "v2", "v3"))
d$trt <- factor(d$trt, levels = c("a", "b"))
contrasts(d$trt) <- contr.treatment(2, base = 2)  # reference arm "b", as retrostudy
ctrl <- list(
  nloptwrap = lmerControl(optimizer = "nloptwrap", calc.derivs = FALSE,
                          optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14, ftol_rel = 1e-15,
                                         maxeval = 1e5)),
  bobyqa = lmerControl(optimizer = "bobyqa", calc.derivs = FALSE, optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))

case <- function(formula) {
  fits <- lapply(ctrl, function(cc) suppressMessages(lmer(formula, data = d, REML = TRUE, control = cc)))
  m2 <- sapply(fits, function(m) -2 * as.numeric(logLik(m)))
  m <- fits[[which.min(m2)]]
  vc <- as.data.frame(VarCorr(m))
  list(formula = deparse(formula), minus2_reml = min(m2), optimizer_agreement = abs(diff(m2)),
       is_singular = isSingular(m), varcomp = I(vc$vcov),
       varcomp_names = vc$grp, fixef = I(unname(fixef(m))), fixef_names = names(fixef(m)),
       se = I(unname(sqrt(diag(as.matrix(vcov(m)))))))
}

out <- list(
  source = "lme4::lmer on tests/reference/lmm/boundary.csv (make_boundary.R)",
  versions = VERSIONS,
  cases = list(ri = case(y ~ trt * vis + (1 | sid)), rs = case(y ~ trt * vis + (1 + wk | sid))),
  near_miss = "the interior optimizer's stopping point (not converged, Hessian not PD): retrostudy must report a converged boundary fit with the same -2 REML log-likelihood, not a failure"
)
write_json17(out, "lmer_boundary.json")
