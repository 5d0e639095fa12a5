# Reference values for retrostudy's responder analysis (retrostudy/inference/responders.py and
# proportions.py). Needs R with ratesci (github.com/PeteLaud/ratesci, pure R) and jsonlite.
# Run from anywhere: Rscript tests/reference/responders/responders.R
# Writes, next to this script:
#   ratesci_cases.json  2x2 tables (CAMIS example, Newcombe 1998's eight examples, 0 / all responders,
#                       trial-sized and large tables, other confidence levels): Miettinen-Nurminen RD
#                       and RR score intervals (ratesci::scoreci, skew = FALSE, bcf = TRUE), Newcombe's
#                       hybrid score interval (ratesci::moverci, type = "wilson"), the score test of
#                       equal rates, Wilson intervals per arm (stats::prop.test, correct = FALSE); near
#                       misses: Wald RD interval, Mee RD / Koopman RR intervals (bcf = FALSE).
#   trial_sim.json      the bundled synthetic trial (retrostudy/datasets/alghadir2019_sim.csv, sha256
#                       recorded): responders per arm computed here from the CSV with the default
#                       thresholds typed in below, both missing-data rules, every pair of arms: the
#                       intervals above, glm(responder ~ arm + baseline, binomial) odds ratios with
#                       confint.default (Wald), near miss glm without the baseline. glm iterates to a
#                       relative deviance change of 1e-14 (its default 1e-8 leaves the SE, computed
#                       from the weights of the previous iterate, off by up to 2e-4 in sparse tables).
suppressPackageStartupMessages({
  library(ratesci)
  library(jsonlite)
})
args <- grep("^--file=", commandArgs(FALSE), value = TRUE)
here <- if (length(args)) dirname(normalizePath(sub("^--file=", "", args[1]))) else getwd()

# numbers as %.17g (round-trip doubles); Inf / -Inf / NA as the strings "Inf", "-Inf", "NaN"
num <- function(x) {
  if (is.list(x)) return(lapply(x, num))
  if (is.numeric(x)) {
    s <- ifelse(is.na(x), "\"NaN\"", ifelse(is.infinite(x), ifelse(x > 0, "\"Inf\"", "\"-Inf\""), sprintf("%.17g", x)))
    out <- if (length(x) == 1 && !inherits(x, "AsIs")) s else paste0("[", paste(s, collapse = ","), "]")
    return(structure(out, class = "json"))
  }
  x
}
write_json17 <- function(x, path) {
  writeLines(toJSON(num(x), auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE), path)
}
versions <- list(R = R.version.string, ratesci = as.character(packageVersion("ratesci")),
                 jsonlite = as.character(packageVersion("jsonlite")))
PRECIS <- 10  # ratesci bisection to 5e-11 on its internal scale

two_by_two <- function(x1, n1, x2, n2, level = 0.95) {
  z <- qnorm(0.5 + level / 2)
  rd <- scoreci(x1, n1, x2, n2, contrast = "RD", level = level, skew = FALSE, bcf = TRUE, precis = PRECIS)
  rr <- scoreci(x1, n1, x2, n2, contrast = "RR", level = level, skew = FALSE, bcf = TRUE, precis = PRECIS)
  mee <- scoreci(x1, n1, x2, n2, contrast = "RD", level = level, skew = FALSE, bcf = FALSE, precis = PRECIS)
  koop <- scoreci(x1, n1, x2, n2, contrast = "RR", level = level, skew = FALSE, bcf = FALSE, precis = PRECIS)
  nc <- moverci(x1, n1, x2, n2, contrast = "RD", level = level, type = "wilson")
  w1 <- prop.test(x1, n1, correct = FALSE, conf.level = level)$conf.int
  w2 <- prop.test(x2, n2, correct = FALSE, conf.level = level)$conf.int
  p1 <- x1 / n1; p2 <- x2 / n2
  se <- sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
  list(x1 = x1, n1 = n1, x2 = x2, n2 = n2, level = level,
       rd = p1 - p2, rr = if (p2 > 0) p1 / p2 else if (p1 > 0) Inf else NA,
       mn_rd = I(unname(rd$estimates[1, c("Lower", "Upper")])),
       mn_rr = I(unname(rr$estimates[1, c("Lower", "Upper")])),
       newcombe_rd = I(unname(nc[1, c("Lower", "Upper")])),
       score_z = unname(rd$pval[1, "scorenull"]), score_p = unname(rd$pval[1, "pval2sided"]),
       wilson_1 = I(as.numeric(w1)), wilson_2 = I(as.numeric(w2)),
       near_miss = list(wald_rd = I(c(p1 - p2 - z * se, p1 - p2 + z * se)),
                        mee_rd = I(unname(mee$estimates[1, c("Lower", "Upper")])),
                        koopman_rr = I(unname(koop$estimates[1, c("Lower", "Upper")]))))
}

tables <- list(
  camis = c(36, 154, 12, 77),
  camis_reversed = c(12, 77, 36, 154),
  newcombe_a = c(56, 70, 48, 80), newcombe_b = c(9, 10, 3, 10), newcombe_c = c(6, 7, 2, 7),
  newcombe_d = c(5, 56, 0, 29), newcombe_e = c(0, 10, 0, 20), newcombe_f = c(0, 10, 0, 10),
  newcombe_g = c(10, 10, 0, 20), newcombe_h = c(10, 10, 0, 10),
  all_responders_both = c(23, 23, 22, 22), all_responders_one = c(10, 10, 7, 10),
  none_one_arm = c(0, 23, 4, 22), trial_sized = c(12, 23, 7, 22), large = c(480, 1000, 350, 900)
)
cases <- list()
for (nm in names(tables)) { t <- tables[[nm]]; cases[[nm]] <- two_by_two(t[1], t[2], t[3], t[4]) }
cases[["camis_90"]] <- two_by_two(36, 154, 12, 77, level = 0.90)
cases[["trial_sized_99"]] <- two_by_two(12, 23, 7, 22, level = 0.99)
write_json17(list(generated_by = "tests/reference/responders/responders.R", versions = versions,
                  cases = cases), file.path(here, "ratesci_cases.json"))

# ---------------------------------------------------------------- the bundled synthetic trial
path <- normalizePath(file.path(here, "..", "..", "..", "retrostudy", "datasets", "alghadir2019_sim.csv"))
d <- read.csv(path, stringsAsFactors = FALSE, na.strings = c("", "NA"))
arms <- c("retro", "forward", "control")
subjects <- unique(d[, c("subject_id", "arm", "age", "sex")])
# Thresholds typed in from the sources (see retrostudy/inference/response_criteria.py):
# MCII (Tubach 2005): pain 19.9 % of the NRS 0-10 range = 1.99 points; WOMAC 9.1 % of 0-96 = 8.736;
# TUG: minimal detectable change 1.10 s (Alghadir 2015). OMERACT-OARSI high improvement (Pham 2004):
# >= 50 % and >= 20 % of the range (2 points on the NRS), both; its domain improvement: >= 20 % and
# >= 10 % of the range (9.6 points on the WOMAC 0-96), both. All outcomes here: lower is better.
criteria <- list(
  pain_mcii = list(outcome = "pain_nrs", absolute = 1.99, relative = NA),
  womac_mcii = list(outcome = "womac", absolute = 8.736, relative = NA),
  tug_mcii = list(outcome = "tug", absolute = 1.10, relative = NA),
  pain_oarsi_high = list(outcome = "pain_nrs", absolute = 2, relative = 0.5),
  womac_oarsi_moderate = list(outcome = "womac", absolute = 9.6, relative = 0.2)  # forward: 0 responders
)
responder_table <- function(cr, missing) {
  x <- d[d$outcome == cr$outcome, ]
  b <- x[x$visit == "baseline", c("subject_id", "value")]; names(b)[2] <- "baseline"
  p <- x[x$visit == "week6", c("subject_id", "value")]; names(p)[2] <- "post"
  w <- merge(merge(subjects, b, all.x = TRUE), p, all.x = TRUE)
  imp <- w$baseline - w$post                      # improvement: a decrease
  ok <- imp >= cr$absolute - 1e-9 * max(1, cr$absolute)
  if (!is.na(cr$relative)) ok <- ok & (imp / w$baseline >= cr$relative - 1e-9)
  w$responder <- as.numeric(!is.na(ok) & ok)
  if (missing == "complete-case") w <- w[!is.na(imp), ]
  w$arm <- factor(w$arm, levels = arms)
  w$sex <- factor(w$sex)
  w
}
pair_case <- function(w, a1, a2) {
  x1 <- sum(w$responder[w$arm == a1]); n1 <- sum(w$arm == a1)
  x2 <- sum(w$responder[w$arm == a2]); n2 <- sum(w$arm == a2)
  out <- two_by_two(x1, n1, x2, n2)
  glm_or <- function(formula) {
    ww <- w[!is.na(w$baseline), ]
    ww$arm <- relevel(ww$arm, ref = a2)          # the second arm is the reference: coefficient = log OR
    m <- glm(formula, family = binomial, data = ww, control = glm.control(epsilon = 1e-14, maxit = 100))
    term <- paste0("arm", a1)
    ci <- confint.default(m)[term, ]
    s <- summary(m)$coefficients[term, ]
    list(log_or = unname(s["Estimate"]), se = unname(s["Std. Error"]), z = unname(s["z value"]),
         p = unname(s["Pr(>|z|)"]), or = exp(unname(s["Estimate"])), conf = I(exp(unname(ci))),
         n = nrow(ww), converged = m$converged)
  }
  out$or_adjusted <- glm_or(responder ~ arm + baseline)
  out$or_adjusted_age_sex <- glm_or(responder ~ arm + baseline + age + sex)
  out$near_miss$or_unadjusted <- glm_or(responder ~ arm)
  out
}
trial <- list()
for (nm in names(criteria)) for (missing in c("non-responder", "complete-case")) {
  w <- responder_table(criteria[[nm]], missing)
  key <- paste(nm, missing, sep = ":")
  trial[[key]] <- list(outcome = criteria[[nm]]$outcome, missing = missing,
                       absolute = criteria[[nm]]$absolute, relative = criteria[[nm]]$relative,
                       responders = as.list(tapply(w$responder, w$arm, sum)),
                       n = as.list(table(w$arm)), pairs = list())
  for (pr in list(c("retro", "forward"), c("retro", "control"), c("forward", "control")))
    trial[[key]]$pairs[[paste(pr, collapse = " vs ")]] <- pair_case(w, pr[1], pr[2])
}
write_json17(list(generated_by = "tests/reference/responders/responders.R", versions = versions,
                  data = "retrostudy/datasets/alghadir2019_sim.csv",
                  data_sha256 = strsplit(system2("sha256sum", shQuote(path), stdout = TRUE), " ")[[1]][1],
                  cases = trial), file.path(here, "trial_sim.json"))
