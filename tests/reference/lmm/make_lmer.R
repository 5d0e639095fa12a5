# Reference values for retrostudy's fit_lmm: lme4 + lmerTest (Satterthwaite) + pbkrtest
# (Kenward-Roger) + emmeans on lme4's sleepstudy and statsmodels' bundled dietox.
#
# Run from this folder (after `python3 export_dietox.py` wrote dietox.csv):
#     Rscript make_lmer.R
# Writes sleepstudy.csv and one JSON per case (lmer_<case>.json).
#
# Every REML/ML optimum is found twice (nloptwrap and bobyqa, both with tight tolerances);
# the JSON records how far the two optimizers' answers are apart ("optimizer_agreement"),
# which bounds how precisely lme4 itself knows each number.

suppressPackageStartupMessages({
  library(lme4); library(lmerTest); library(pbkrtest); library(emmeans); library(jsonlite)
})
source("common.R")

VERSIONS <- versions(c("lme4", "lmerTest", "pbkrtest", "emmeans", "Matrix", "jsonlite"))

ctrl_nlopt <- lmerControl(optimizer = "nloptwrap", calc.derivs = FALSE,
                          optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14,
                                         ftol_rel = 1e-15, maxeval = 1e5))
ctrl_bobyqa <- lmerControl(optimizer = "bobyqa", calc.derivs = FALSE,
                           optCtrl = list(rhoend = 1e-12, maxfun = 1e5))

varcomp <- function(m) {
  vc <- as.data.frame(VarCorr(m))
  nm <- ifelse(is.na(vc$var1), "residual",
               ifelse(is.na(vc$var2), paste0("var(", vc$var1, ")"),
                      paste0("cov(", vc$var1, ",", vc$var2, ")")))
  list(name = nm, value = I(vc$vcov))
}

fixed_table <- function(m, ddf) {
  co <- summary(m, ddf = ddf)$coefficients
  list(term = rownames(co), estimate = I(unname(co[, "Estimate"])),
       std_error = I(unname(co[, "Std. Error"])), df = I(unname(co[, "df"])),
       statistic = I(unname(co[, "t value"])), p_value = I(unname(co[, "Pr(>|t|)"])))
}

fit_both <- function(formula, data, REML) {
  a <- lmer(formula, data = data, REML = REML, control = ctrl_nlopt)
  b <- lmer(formula, data = data, REML = REML, control = ctrl_bobyqa)
  agree <- list(
    minus2_loglik = rel_diff(-2 * as.numeric(logLik(a)), -2 * as.numeric(logLik(b))),
    fixed = rel_diff(fixef(a), fixef(b)),
    std_error = rel_diff(sqrt(diag(as.matrix(vcov(a)))), sqrt(diag(as.matrix(vcov(b))))),
    varcomp = rel_diff(as.data.frame(VarCorr(a))$vcov, as.data.frame(VarCorr(b))$vcov)
  )
  # keep the fit with the lower criterion
  best <- if (-2 * as.numeric(logLik(a)) <= -2 * as.numeric(logLik(b))) a else b
  list(fit = best, agreement = agree)
}

emm_tables <- function(m, spec, ddf) {
  emm <- emmeans(m, spec, lmer.df = ddf)
  s <- as.data.frame(summary(emm))
  con <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1, adjust = "none")))
  by <- setdiff(all.vars(spec), all.vars(spec[[2]][[2]]))
  list(
    emmeans = list(arm = as.character(s$arm), visit = as.character(s$visit),
                   estimate = I(s$emmean), std_error = I(s$SE), df = I(s$df)),
    contrasts = list(contrast = as.character(con$contrast), visit = as.character(con$visit),
                     estimate = I(con$estimate), std_error = I(con$SE), df = I(con$df),
                     p_value = I(con$p.value))
  )
}

run_case <- function(name, formula, data, data_desc, emm = FALSE) {
  reml <- fit_both(formula, data, TRUE)
  ml <- fit_both(formula, data, FALSE)
  m <- reml$fit
  X <- getME(m, "X")
  kr_vcov <- as.matrix(pbkrtest::vcovAdj(m))
  out <- list(
    case = name,
    formula = deparse(formula),
    data = data_desc,
    n_obs = nrow(X), n_subjects = as.numeric(ngrps(m)[1]), n_fixed = ncol(X),
    versions = VERSIONS,
    reml = list(
      minus2_loglik = -2 * as.numeric(logLik(m)),
      fixed_satterthwaite = fixed_table(m, "Satterthwaite"),
      fixed_kenward_roger = fixed_table(m, "Kenward-Roger"),
      vcov = unname(as.matrix(vcov(m))),
      vcov_kenward_roger = unname(kr_vcov),
      varcomp = varcomp(m),
      optimizer_agreement = reml$agreement
    ),
    ml = list(
      minus2_loglik = -2 * as.numeric(logLik(ml$fit)),
      fixed_satterthwaite = fixed_table(ml$fit, "Satterthwaite"),
      varcomp = varcomp(ml$fit),
      optimizer_agreement = ml$agreement
    ),
    near_miss = list(
      residual_df = nrow(X) - ncol(X),
      note = paste("ml.* are the near misses of reml.* (ML where REML is asked);",
                   "residual_df (n_obs - n_fixed) is the near miss of every Satterthwaite/KR df;",
                   "reml.fixed_satterthwaite.std_error is the near miss of the KR-adjusted SE.")
    )
  )
  if (emm) {
    out$emmeans_satterthwaite <- emm_tables(m, ~ arm | visit, "satterthwaite")
    out$emmeans_kenward_roger <- emm_tables(m, ~ arm | visit, "kenward-roger")
  }
  write_json17(out, paste0("lmer_", name, ".json"))
  cat(sprintf("%-22s -2REML %.10f  -2ML %.10f  agree(vc) %.1e\n", name, out$reml$minus2_loglik,
              out$ml$minus2_loglik, reml$agreement$varcomp))
  invisible(out)
}

# ---- sleepstudy (lme4) -------------------------------------------------------------
sleep <- lme4::sleepstudy
sleep$Subject <- as.character(sleep$Subject)
write.csv(sleep[, c("Subject", "Days", "Reaction")], "sleepstudy.csv", row.names = FALSE)
sleep <- read.csv("sleepstudy.csv")  # fit exactly what the CSV holds
sleep_desc <- "sleepstudy.csv (lme4::sleepstudy, written by this script)"
run_case("sleepstudy_ri", Reaction ~ Days + (1 | Subject), sleep, sleep_desc)
run_case("sleepstudy_rs", Reaction ~ Days + (Days | Subject), sleep, sleep_desc)

# ---- dietox (statsmodels' bundled copy, exported by export_dietox.py) ------------------
diet <- read.csv("dietox.csv")
diet_desc <- "dietox.csv (statsmodels' bundled dietox, exported by export_dietox.py)"
run_case("dietox_ri", Weight ~ Time + (1 | Pig), diet, diet_desc)
run_case("dietox_rs", Weight ~ Time + (Time | Pig), diet, diet_desc)

# Canonical shape: arm = Evit (evit1..3), visit = Time as a factor (week1..week12), week = Time.
canon <- data.frame(subject = as.character(diet$Pig),
                    arm = factor(paste0("evit", diet$Evit), levels = c("evit1", "evit2", "evit3")),
                    visit = factor(paste0("week", diet$Time), levels = paste0("week", 1:12)),
                    week = diet$Time, value = diet$Weight)
canon_desc <- paste(diet_desc, "as a canonical table: subject_id = Pig, arm = 'evit' + Evit,",
                    "visit = 'week' + Time (factor, week1 first), week = Time, value = Weight")
# baseline = "none": every visit is a response
run_case("dietox_armvisit_ri", value ~ arm * visit + (1 | subject), canon, canon_desc, emm = TRUE)
run_case("dietox_armvisit_rs", value ~ arm * visit + (week | subject), canon, canon_desc, emm = TRUE)
# baseline = "covariate": week1 value as covariate, responses week2..week12
base <- canon[canon$visit == "week1", c("subject", "value")]
names(base)[2] <- "baseline"
post <- merge(canon[canon$visit != "week1", ], base, by = "subject", sort = FALSE)
post$visit <- droplevels(post$visit)
post <- post[order(as.numeric(post$subject), post$week), ]
run_case("dietox_armvisit_base_ri", value ~ arm * visit + baseline + (1 | subject), post,
         paste(canon_desc, "; baseline = the week1 value, responses week2..week12"), emm = TRUE)
