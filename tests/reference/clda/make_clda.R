# Reference values for the constrained longitudinal model (cLDA, fit_mmrm(baseline="constrained")):
# nlme::gls with an unstructured covariance (corSymm + varIdent by visit), REML, on the bundled
# synthetic replication data (pain_nrs at weeks 0, 2, 4, 6; monotone dropout). The cLDA mean has one
# baseline mean for all arms: the design is model.matrix(~ visit + arm:visit) without its
# arm x baseline columns (Liang & Zeger 2000; Lu 2010).
#
#     Rscript make_clda.R        (from this folder; writes clda_replication.json)
#
# Near miss stored beside it: the unconstrained model (arm effects at baseline too, baseline="none").

suppressPackageStartupMessages({ library(nlme); library(jsonlite) })
source("../lmm/common.R")

d <- read.csv("../../../retrostudy/datasets/retro_replication_sim.csv", stringsAsFactors = FALSE)
d <- d[d$outcome == "pain_nrs" & !is.na(d$value), ]
d$visit <- factor(d$visit, levels = c("baseline", "week2", "week4", "week6"))
d$arm <- factor(d$arm, levels = c("retro", "forward", "control"))
d$arm <- relevel(d$arm, ref = "control")
d <- d[order(d$subject_id, d$visit), ]
d$t <- as.integer(d$visit)

X <- model.matrix(~ visit + arm:visit, data = d)
keep <- !grepl("^visitbaseline:arm", colnames(X))
X <- X[, keep]
colnames(X) <- make.names(colnames(X))
dd <- data.frame(y = d$value, subject = d$subject_id, t = d$t, visit = d$visit, X[, -1])
form <- as.formula(paste("y ~", paste(colnames(X)[-1], collapse = " + ")))
fit <- gls(form, data = dd, correlation = corSymm(form = ~ t | subject), weights = varIdent(form = ~ 1 | visit),
           method = "REML", control = glsControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10,
                                                 msTol = 1e-12))
un <- gls(value ~ visit * arm, data = d, correlation = corSymm(form = ~ t | subject_id),
          weights = varIdent(form = ~ 1 | visit), method = "REML",
          control = glsControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-12))
out <- list(
  source = "nlme::gls (corSymm + varIdent, REML) on retrostudy/datasets/retro_replication_sim.csv, pain_nrs (make_clda.R)",
  versions = versions(c("nlme", "jsonlite")),
  columns = colnames(X),
  coef = I(unname(coef(fit))), se = I(unname(sqrt(diag(vcov(fit))))), minus2_reml = -2 * as.numeric(logLik(fit)),
  n_subjects = length(unique(d$subject_id)), n_obs = nrow(d),
  near_miss_unconstrained = list(coef = I(unname(coef(un))), names = names(coef(un)),
                                 minus2_reml = -2 * as.numeric(logLik(un)))
)
write_json17(out, "clda_replication.json")
cat("done\n")
