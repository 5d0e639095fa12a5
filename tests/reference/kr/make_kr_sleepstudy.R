# Kenward-Roger reference values from pbkrtest on lme4's sleepstudy, for
# tests/models/test_kenward_roger.py (retrostudy.models.kenward_roger).
#
# Run from this folder:  Rscript make_kr_sleepstudy.R
# Writes kr_sleepstudy.csv (the data used, unbalanced) and kr_sleepstudy.json.
#
# The balanced sleepstudy makes the KR adjustment vanish (df = 17 exactly), so rows are
# removed by a fixed rule to make patterns of observed days differ between subjects:
# subject index i (1..18) loses day (i %% 10) when i is odd and days >= 7 when i %% 3 == 0.
# A between-subject factor grp (first 9 subjects "a", others "b") gives a multi-row F test.
#
# Cases (REML, lme4 with tight optimizer tolerances):
#   ri:  Reaction ~ Days + (1 | Subject)
#   rs:  Reaction ~ Days + (Days | Subject)
#   rsg: Reaction ~ Days * grp + (Days | Subject)
# Stored per case: the covariance parameters in pbkrtest's order (lower triangle of G
# column-wise, then the residual variance; V is LINEAR in them), beta, Phi = vcov(),
# Phi_A = vcovAdj(), W = attr(Phi_A, "W") (pbkrtest: 2 * inverse of tr(P V_i P V_j), the
# EXPECTED information), df of single rows via Lb_ddf, and KRmodcomp F tests for matrices L.

suppressPackageStartupMessages({ library(lme4); library(pbkrtest); library(jsonlite) })

num17 <- function(x) {
  if (is.matrix(x)) return(lapply(seq_len(nrow(x)), function(i) num17(I(unname(x[i, ])))))
  if (is.list(x)) return(lapply(x, num17))
  if (is.numeric(x)) {
    as_array <- inherits(x, "AsIs") || length(x) != 1
    s <- ifelse(is.finite(as.numeric(x)), sprintf("%.17g", as.numeric(x)), "null")
    return(structure(if (as_array) paste0("[", paste(s, collapse = ","), "]") else s, class = "json"))
  }
  x
}

d <- lme4::sleepstudy
subj <- as.integer(d$Subject)
drop <- (subj %% 2 == 1 & d$Days == (subj %% 10)) | (subj %% 3 == 0 & d$Days >= 7)
d <- d[!drop, ]
d$grp <- factor(ifelse(subj[!drop] <= 9, "a", "b"))
d$Subject <- factor(as.character(d$Subject))
write.csv(d, "kr_sleepstudy.csv", row.names = FALSE)

ctrl <- lmerControl(optimizer = "bobyqa", calc.derivs = FALSE,
                    optCtrl = list(rhobeg = 0.2, rhoend = 1e-12, maxfun = 1e5))

one_case <- function(formula, Ls, Fs) {
  fit <- lmer(formula, data = d, REML = TRUE, control = ctrl)
  vc <- VarCorr(fit)
  G <- vc[[1]]
  ggamma <- c(G[lower.tri(G, diag = TRUE)], sigma(fit)^2)
  Phi <- as.matrix(vcov(fit))
  PhiA <- vcovAdj(fit)
  W <- as.matrix(attr(PhiA, "W"))
  P <- lapply(attr(PhiA, "P"), as.matrix)
  df_rows <- lapply(Ls, function(L) {
    L <- matrix(L, nrow = 1)
    c(df = Lb_ddf(L, Phi, PhiA), se_adj = sqrt(drop(L %*% as.matrix(PhiA) %*% t(L))),
      se = sqrt(drop(L %*% Phi %*% t(L))))
  })
  ftests <- lapply(Fs, function(L) {
    kr <- KRmodcomp(fit, L)
    st <- kr$stats
    list(L = L, F_scaled = st$Fstat, ndf = st$ndf, ddf = st$ddf, F_scaling = st$F.scaling,
         F_unscaled = st$FstatU)
  })
  list(
    formula = deparse(formula),
    fixed_names = colnames(Phi),
    theta = ggamma,
    beta = unname(fixef(fit)),
    minus2_reml = -2 * as.numeric(logLik(fit)),
    Phi = unname(Phi),
    Phi_A = unname(as.matrix(PhiA)),
    W = unname(W),
    P = lapply(P, unname),
    single_rows = list(L = lapply(Ls, I), result = df_rows),
    ftests = ftests
  )
}

out <- list(
  source = "pbkrtest::vcovAdj / Lb_ddf / KRmodcomp on lme4::sleepstudy (rows removed, see script)",
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  pbkrtest = as.character(packageVersion("pbkrtest")),
                  Matrix = as.character(packageVersion("Matrix"))),
  information = "expected (pbkrtest W = 2 * solve(IE2), IE2_ij = tr(P V_i P V_j))",
  parameterization = "V = sum_j theta_j G_j with theta = (lower triangle of G column-wise, sigma^2): linear",
  n_obs = nrow(d), n_subjects = nlevels(d$Subject),
  ri = one_case(Reaction ~ Days + (1 | Subject), list(c(1, 0), c(0, 1), c(1, 5)),
                list(diag(2))),
  rs = one_case(Reaction ~ Days + (Days | Subject), list(c(1, 0), c(0, 1), c(1, 5)),
                list(diag(2))),
  rsg = one_case(Reaction ~ Days * grp + (Days | Subject),
                 list(c(0, 0, 1, 0), c(0, 0, 0, 1), c(0, 1, 0, 0.5)),
                 list(rbind(c(0, 0, 1, 0), c(0, 0, 0, 1)), diag(4)))
)
txt <- jsonlite::toJSON(num17(out), auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE)
writeLines(txt, "kr_sleepstudy.json")
cat("wrote kr_sleepstudy.json\n")
