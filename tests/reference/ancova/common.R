# Helpers shared by the ANCOVA reference scripts (trial_sim.R, pingouin_ancova.R, unbalanced.R).
# Numbers are written with sprintf("%.17g") (round-trip exact doubles) because jsonlite 1.8
# prints at most 15 significant digits.
suppressPackageStartupMessages({
  library(emmeans)
  library(car)
  library(jsonlite)
  library(mvtnorm)
})
emm_options(msg.interaction = FALSE, msg.nesting = FALSE)

num17 <- function(x) {
  if (is.matrix(x)) return(lapply(seq_len(nrow(x)), function(i) num17(I(unname(x[i, ])))))
  if (is.data.frame(x)) return(lapply(as.list(x), function(col) if (is.numeric(col)) num17(I(col)) else col))
  if (is.list(x)) return(lapply(x, num17))
  if (is.numeric(x)) {
    as_array <- inherits(x, "AsIs") || length(x) != 1
    x <- as.numeric(x)
    s <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
    return(structure(if (as_array) paste0("[", paste(s, collapse = ","), "]") else s, class = "json"))
  }
  x
}

write_json17 <- function(x, path) {
  writeLines(jsonlite::toJSON(num17(x), auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE), path)
}

versions <- function() {
  out <- list(R = R.version.string)
  for (p in c("emmeans", "car", "mvtnorm", "jsonlite")) out[[p]] <- as.character(packageVersion(p))
  out
}

script_dir <- function() {
  arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  if (length(arg)) dirname(normalizePath(sub("^--file=", "", arg[1]))) else getwd()
}

# A summary.emmGrid as a list of columns with fixed names.
tab <- function(s, label) {
  s <- as.data.frame(s)
  est <- if ("emmean" %in% names(s)) "emmean" else if ("effect.size" %in% names(s)) "effect.size" else "estimate"
  out <- list(label = as.character(s[[label]]), estimate = I(s[[est]]), std_error = I(s$SE), df = I(s$df),
              conf_low = I(s$lower.CL), conf_high = I(s$upper.CL))
  if ("t.ratio" %in% names(s)) { out$statistic <- I(s$t.ratio); out$p_value <- I(s$p.value) }
  if ("visit" %in% names(s)) out$visit <- as.character(s$visit)
  out
}

# emmeans::joint_tests rounds F.ratio to 3 decimals; `statistic` is F recovered from its full-precision
# p-value, qf(p, df1, df2, lower.tail = FALSE) (relative error ~1e-12 for the p-values here).
# Precise multivariate-t reference for one family: P(max|T| >= |t_i|) and the 95 % critical value,
# with mvtnorm at 1e6 points (fixed seed per call so the root finder sees a smooth function).
pmvt_precise <- function(q, df, R) {
  set.seed(20190159)
  as.numeric(pmvt(rep(-q, nrow(R)), rep(q, nrow(R)), df = df, corr = R,
                  algorithm = GenzBretz(maxpts = 1e6, abseps = 1e-9, releps = 0)))
}
mvt_precise <- function(con, level = 0.95) {
  V <- vcov(con); R <- cov2cor(V); s <- as.data.frame(summary(con))
  df <- as.integer(s$df[1])
  p <- sapply(abs(s$t.ratio), function(q) 1 - pmvt_precise(q, df, R))
  crit <- uniroot(function(q) pmvt_precise(q, df, R) - level, c(1, 6), tol = 1e-10)$root
  list(p_adjusted = I(p), crit = crit)
}

# Everything we check for one ANCOVA: w has one row per subject with the response, baseline,
# arm (factor in declared order) and covariates; ref is the reference arm.
ancova_case <- function(w, covariates, ref, response = "post", weights = "equal") {
  arms <- levels(w$arm); refi <- match(ref, arms)
  contrasts(w$arm) <- contr.treatment(arms, base = refi)
  m <- lm(reformulate(c("arm", "baseline", covariates), response), data = w)
  out <- list(n = nobs(m), coef_names = names(coef(m)), coef = I(unname(coef(m))), vcov = unname(vcov(m)),
              sigma = sigma(m), df_resid = df.residual(m), loglik = as.numeric(logLik(m)), aic = AIC(m),
              bic = BIC(m), subjects = as.character(w$subject_id[as.integer(rownames(model.frame(m)))]))
  out$emmeans <- list()
  for (wt in weights) out$emmeans[[wt]] <- tab(summary(emmeans(m, ~arm, weights = wt), infer = TRUE), "arm")
  e <- emmeans(m, ~arm)
  out$contrasts <- list()
  for (meth in c("pairwise", "trt.vs.ctrl")) {
    for (adj in c("none", "holm", "bonferroni", "tukey", "mvt", "dunnettx")) {
      if (adj == "tukey" && meth != "pairwise") next
      con <- if (meth == "pairwise") contrast(e, "pairwise", adjust = adj) else contrast(e, "trt.vs.ctrl", ref = refi, adjust = adj)
      res <- tab(summary(con, infer = TRUE), "contrast")
      if (adj == "mvt") res$precise <- mvt_precise(con)
      out$contrasts[[paste(meth, adj, sep = "_")]] <- res
    }
  }
  jt <- joint_tests(m)
  out$joint_tests <- list(term = as.character(jt$`model term`), num_df = I(jt$df1), den_df = I(jt$df2),
                          statistic_rounded = I(jt$F.ratio), p_value = I(jt$p.value),
                          statistic = I(qf(jt$p.value, jt$df1, jt$df2, lower.tail = FALSE)))
  a3 <- car::Anova(m, type = 3)
  a3 <- a3[!(rownames(a3) %in% c("(Intercept)", "Residuals")), ]
  out$anova_type3 <- list(term = rownames(a3), num_df = I(a3$Df), den_df = df.residual(m),
                          statistic = I(a3$`F value`), p_value = I(a3$`Pr(>F)`))
  # effect sizes: residual SD and pooled within-arm baseline SD as standardizers
  bs <- sqrt(sum(tapply(w$baseline, w$arm, function(x) sum((x - mean(x))^2))) / (nrow(w) - nlevels(w$arm)))
  out$effect_sizes <- list(
    residual_sd = list(sigma = sigma(m), edf = df.residual(m),
                       pairwise = tab(eff_size(e, sigma = sigma(m), edf = df.residual(m)), "contrast"),
                       trt_vs_ref = tab(eff_size(e, sigma = sigma(m), edf = df.residual(m), method = "trt.vs.ctrl", ref = refi), "contrast")),
    baseline_sd = list(sigma = bs, edf = nrow(w) - nlevels(w$arm),
                       pairwise = tab(eff_size(e, sigma = bs, edf = nrow(w) - nlevels(w$arm)), "contrast")))
  # response = change from baseline: same contrasts, EMMs shifted by the mean baseline
  w$change <- w[[response]] - w$baseline
  mc <- lm(reformulate(c("arm", "baseline", covariates), "change"), data = w)
  ec <- emmeans(mc, ~arm)
  out$change <- list(emmeans = tab(summary(ec, infer = TRUE), "arm"),
                     pairwise_none = tab(summary(contrast(ec, "pairwise", adjust = "none"), infer = TRUE), "contrast"))
  # near miss: no baseline adjustment
  m0 <- lm(reformulate(c("arm", covariates), response), data = w)
  out$near_miss_no_baseline <- list(
    emmeans = tab(summary(emmeans(m0, ~arm), infer = TRUE), "arm"),
    pairwise_none = tab(summary(contrast(emmeans(m0, ~arm), "pairwise", adjust = "none"), infer = TRUE), "contrast"))
  out
}
