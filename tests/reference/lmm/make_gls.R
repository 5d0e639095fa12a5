# Reference values for retrostudy's marginal models (fit_mmrm with a named covariance):
# nlme::gls on nlme's Orthodont with emmeans on top.
#
# Run from this folder:  Rscript make_gls.R
# Writes orthodont.csv and gls_orthodont_<structure>.json.
#
# Mean model: distance ~ Sex * visit, with age as a FACTOR (visit = "age8".."age14", Male the
# reference sex, age8 the reference visit): the canonical MMRM shape arm * visit, with
# baseline = "none" (every visit a response). Structures (SAS name = nlme spelling):
#   us   = corSymm(form = ~ k | Subject) + varIdent(form = ~ 1 | visit)
#   cs   = corCompSymm(form = ~ k | Subject)
#   csh  = corCompSymm(form = ~ k | Subject) + varIdent(form = ~ 1 | visit)
#   ar1  = corAR1(form = ~ k | Subject)
#   ar1h = corAR1(form = ~ k | Subject) + varIdent(form = ~ 1 | visit)
# with k = 1..4 the visit index. A second data set, "orthodont_drop", removes 8 fixed rows
# (dropout and one intermittent gap) to exercise missing-visit patterns.
#
# -2 log-likelihood: "minus2_loglik" is recomputed here by hand in the SAS PROC MIXED / lme4
# convention from the fitted V_i (REML: (n-p) log(2 pi) + sum log|V_i| + log|X'V^-1 X| + r'V^-1 r;
# ML: n log(2 pi) + sum log|V_i| + r'V^-1 r); "minus2_loglik_nlme" is -2 * logLik(gls), and
# "convention_check" (their difference) shows nlme 3.1 uses the same convention.
# Standard errors: "std_error" is nlme's sqrt(diag(vcov(gls))); "std_error_direct" is
# sqrt(diag((X'V^-1X)^-1)) from the fitted V_i. They agree under REML; under ML nlme scales
# vcov by N/(N-p) (its REML-type sigma), so SAS PROC MIXED's ML SEs are "std_error_direct".
#
# emmeans' Satterthwaite df for gls differentiates vcov(beta) numerically in nlme's
# unconstrained parameters and uses nlme's numerical apVar; for corSymm it says "using
# appx-satterthwaite". These df are approximate (compare them loosely).

suppressPackageStartupMessages({ library(nlme); library(emmeans); library(jsonlite) })
source("common.R")

VERSIONS <- versions(c("nlme", "emmeans", "jsonlite"))

orth <- as.data.frame(nlme::Orthodont)
orth <- data.frame(Subject = as.character(orth$Subject), Sex = as.character(orth$Sex),
                   age = orth$age, distance = orth$distance)
write.csv(orth, "orthodont.csv", row.names = FALSE)

prep <- function(d) {
  d <- d[order(d$Subject, d$age), ]
  d$arm <- factor(d$Sex, levels = c("Male", "Female"))
  d$visit <- factor(paste0("age", d$age), levels = paste0("age", c(8, 10, 12, 14)))
  d$k <- as.integer(d$visit)
  d
}
full <- prep(read.csv("orthodont.csv"))
dropped <- data.frame(Subject = c("M03", "M07", "M11", "F04", "F09", "F09", "M10", "F02"),
                      age = c(14, 14, 14, 14, 12, 14, 12, 10))
key <- paste(full$Subject, full$age)
drop <- prep(full[!key %in% paste(dropped$Subject, dropped$age), c("Subject", "Sex", "age", "distance")])

structures <- list(
  us = list(cor = function() corSymm(form = ~ k | Subject), het = TRUE),
  cs = list(cor = function() corCompSymm(form = ~ k | Subject), het = FALSE),
  csh = list(cor = function() corCompSymm(form = ~ k | Subject), het = TRUE),
  ar1 = list(cor = function() corAR1(form = ~ k | Subject), het = FALSE),
  ar1h = list(cor = function() corAR1(form = ~ k | Subject), het = TRUE)
)

fit_gls1 <- function(d, s, method, opt) {
  args <- list(model = distance ~ arm * visit, data = d, correlation = s$cor(), method = method,
               control = glsControl(tolerance = 1e-12, msTol = 1e-14, msMaxIter = 500, maxIter = 500,
                                    opt = opt, optimMethod = "BFGS", returnObject = TRUE))
  if (s$het) args$weights <- varIdent(form = ~ 1 | visit)
  do.call(gls, args)
}

# nlme's default optimizer (nlminb) can stop ~3e-8 above the optimum of -2 log L, which moves
# SEs by ~1e-5; fit with nlminb and with optim (BFGS) and keep the lower -2 log L.
fit_gls <- function(d, s, method) {
  a <- fit_gls1(d, s, method, "nlminb")
  b <- tryCatch(fit_gls1(d, s, method, "optim"), error = function(e) NULL)
  if (is.null(b)) {  # optim can step outside corAR1's range; nlminb alone then
    attr(a, "agreement") <- list(optimizers = "nlminb (optim failed)")
    return(a)
  }
  best <- if (-2 * logLik(b) <= -2 * logLik(a)) b else a
  attr(best, "agreement") <- list(
    optimizers = "nlminb, optim(BFGS)",
    minus2_loglik = abs(as.numeric(logLik(a) - logLik(b))) * 2,
    std_error = rel_diff(sqrt(diag(vcov(a))), sqrt(diag(vcov(b)))))
  best
}

plain <- function(V) { V <- unclass(V); matrix(as.numeric(V), nrow(V)) }

# SAS/lme4-convention -2 log-likelihood from the fitted marginal covariance of each subject
minus2ll <- function(f, d, reml) {
  X <- model.matrix(~ arm * visit, d)
  r <- d$distance - drop(X %*% coef(f))
  tot <- 0; XtVX <- 0
  for (sid in unique(d$Subject)) {
    idx <- which(d$Subject == sid)
    V <- plain(getVarCov(f, individual = sid))
    Vi <- solve(V)
    tot <- tot + as.numeric(determinant(V)$modulus) + drop(t(r[idx]) %*% Vi %*% r[idx])
    XtVX <- XtVX + t(X[idx, , drop = FALSE]) %*% Vi %*% X[idx, , drop = FALSE]
  }
  n <- nrow(d); p <- ncol(X)
  out <- if (reml) tot + as.numeric(determinant(XtVX)$modulus) + (n - p) * log(2 * pi) else tot + n * log(2 * pi)
  attr(out, "XtVX") <- XtVX
  out
}

fit_summary <- function(f, d, reml) {
  X <- model.matrix(~ arm * visit, d)
  m2 <- minus2ll(f, d, reml)
  m2_nlme <- -2 * as.numeric(logLik(f))
  full_id <- names(which(table(d$Subject) == 4))[1]
  XtVX <- attr(m2, "XtVX")
  attr(m2, "XtVX") <- NULL
  list(
    minus2_loglik = m2,
    optimizer_agreement = attr(f, "agreement"),
    minus2_loglik_nlme = m2_nlme,
    convention_check = m2_nlme - m2,
    fixed = list(term = names(coef(f)), estimate = I(unname(coef(f))),
                 std_error = I(unname(sqrt(diag(vcov(f))))),
                 std_error_direct = I(sqrt(diag(solve(XtVX))))),
    vcov = unname(as.matrix(vcov(f))),
    covariance = plain(getVarCov(f, individual = full_id)),
    sigma = f$sigma
  )
}

emm_tables <- function(f, mode) {
  emm <- emmeans(f, ~ arm | visit, mode = mode)
  s <- as.data.frame(summary(emm))
  con <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1, adjust = "none")))
  list(
    emmeans = list(arm = as.character(s$arm), visit = as.character(s$visit), estimate = I(s$emmean),
                   std_error = I(s$SE), df = I(s$df)),
    contrasts = list(contrast = as.character(con$contrast), visit = as.character(con$visit),
                     estimate = I(con$estimate), std_error = I(con$SE), df = I(con$df),
                     p_value = I(con$p.value))
  )
}

for (dname in c("orthodont", "orthodont_drop")) {
  d <- if (dname == "orthodont") full else drop
  for (sname in names(structures)) {
    s <- structures[[sname]]
    fr <- fit_gls(d, s, "REML")
    fm <- fit_gls(d, s, "ML")
    out <- list(
      case = paste(dname, sname, sep = "_"),
      structure = sname,
      model = paste0("gls(distance ~ arm * visit, correlation = ", deparse(body(s$cor)),
                     if (s$het) ", weights = varIdent(form = ~ 1 | visit))" else ")"),
      data = paste("orthodont.csv (nlme::Orthodont written by this script); arm = Sex (Male first),",
                   "visit = 'age' + age (factor), week = age",
                   if (dname == "orthodont_drop") "; rows in 'dropped' removed" else ""),
      dropped = if (dname == "orthodont_drop") dropped else NULL,
      n_obs = nrow(d), n_subjects = length(unique(d$Subject)),
      versions = VERSIONS,
      reml = c(fit_summary(fr, d, TRUE),
               list(emmeans_satterthwaite = emm_tables(fr, "satterthwaite"),
                    emmeans_df_error = emm_tables(fr, "df.error"))),
      ml = fit_summary(fm, d, FALSE),
      near_miss = list(
        ml_std_error_nlme = "ml.fixed.std_error (nlme's N/(N-p)-scaled ML SEs; the model-based ML SE is std_error_direct)",
        residual_df = nrow(d) - length(coef(fr)),
        note = paste("ml.* are the near misses of reml.*; reml.emmeans_df_error (residual df) is the",
                     "near miss of the Satterthwaite df; the cs case is the near miss of the us case.")
      )
    )
    write_json17(out, paste0("gls_", dname, "_", sname, ".json"))
    cat(sprintf("%-22s %-5s -2REML %.10f (nlme %.6f, check %.1e)  -2ML %.10f\n", dname, sname,
                out$reml$minus2_loglik, out$reml$minus2_loglik_nlme, out$reml$convention_check,
                out$ml$minus2_loglik))
  }
}
