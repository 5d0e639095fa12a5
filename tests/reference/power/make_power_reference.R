# Reference numbers for retrostudy.planning (rs.power_ttest, rs.power_ancova, rs.power_mmrm).
#
#   Rscript tests/reference/power/make_power_reference.R     (from the project root)
#
# Needs R with longpower (Lu, Luo & Chen 2008 power.mmrm / power.mmrm.ar1), Superpower
# (Shieh 2020 exact and Keppel approximate ANCOVA power), pwr, mvtnorm, nlme and jsonlite.
# Writes tests/reference/power/power_reference.json with every number at %.17g.
suppressPackageStartupMessages({
  library(longpower); library(Superpower); library(pwr); library(mvtnorm); library(nlme); library(jsonlite)
})
# Numbers as sprintf("%.17g") (round-trip exact doubles; jsonlite 1.8 prints at most 15 digits).
num17 <- function(x) {
  if (is.matrix(x)) return(lapply(seq_len(nrow(x)), function(i) num17(I(unname(x[i, ])))))
  if (is.list(x)) return(lapply(x, num17))
  if (is.numeric(x)) {
    as_array <- inherits(x, "AsIs") || length(x) != 1
    x <- as.numeric(x)
    s <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
    return(structure(if (as_array) paste0("[", paste(s, collapse = ","), "]") else s, class = "json"))
  }
  x
}
out <- list()
versions <- list(R = paste(R.version$major, R.version$minor, sep = "."))
for (p in c("longpower", "Superpower", "pwr", "mvtnorm", "nlme", "jsonlite"))
  versions[[p]] <- as.character(packageVersion(p))
out$versions <- versions
TOL <- 1e-12

# ---------------------------------------------------------------- Lu, Luo & Chen (2008) Table 1
# As longpower's own test reproduces it: N by the normal formula and by the one-step t correction
# (df = N_z - 2), 90 % power, two-sided 5 %, delta = 0.5, sigma = 1.
phi1 <- c(rep(1, 6), 2, 2)
phi2 <- c(1, 1, rep(2, 6))
lambda <- c(1, 2, sqrt(1/2), 1/2, 1, 2, 1, 2)
t1 <- list()
for (i in 1:8) {
  Na <- (phi1[i] + lambda[i] * phi2[i]) * (qnorm(0.05/2) + qnorm(1 - 0.90))^2 * (0.5^-2)
  z <- Na + Na / lambda[i]
  v <- z - 2
  Na <- (phi1[i] + lambda[i] * phi2[i]) * (qt(0.05/2, df = v) + qt(1 - 0.90, df = v))^2 * (0.5^-2)
  tt <- Na + Na / lambda[i]
  # the same z case through power.mmrm itself: phi = 1 is one fully observed visit, phi = 2 two
  # uncorrelated visits with retention (1, 0.5)
  R1 <- diag(2); r <- function(phi) if (phi == 1) c(1, 1) else c(1, 0.5)
  pm <- power.mmrm(Ra = R1, ra = r(phi1[i]), Rb = R1, rb = r(phi2[i]), sigmaa = 1, lambda = lambda[i],
                   delta = 0.5, power = 0.90, tol = TOL)
  t1[[i]] <- list(phi1 = phi1[i], phi2 = phi2[i], lambda = lambda[i], N_z = z, N_t = tt,
                  N_z_power_mmrm = pm$n1 + pm$n2)
}
out$llc_table1 <- t1

# ---------------------------------------------------------------- Lu, Luo & Chen (2008) Table 2
# phi1 of power.mmrm.ar1 for J = 2, 4 visits, final dropout aJ, p1J = rho^(J-1), linear retention.
t2 <- list()
for (J in c(2, 4)) for (aJ in (1:4)/10) for (p1J in c(0, c(1, 3, 5, 7, 9)/10)) {
  r <- seq(1, 1 - aJ, length = J)
  rho <- p1J^(1/(J - 1))
  res <- power.mmrm.ar1(rho = rho, ra = r, sigmaa = 1, lambda = 1, times = 1:J, delta = 1,
                        sig.level = 0.05, power = 0.80)
  t2[[length(t2) + 1]] <- list(J = J, aJ = aJ, p1J = p1J, rho = rho, retention = r, phi1 = res$phi1,
                               n1 = res$n1)
}
out$llc_table2 <- t2

# ---------------------------------------------------------------- power.mmrm / power.mmrm.ar1 cases
cs <- function(rho, J) { R <- matrix(rho, J, J); diag(R) <- 1; R }
ar1 <- function(rho, times) rho^abs(outer(times, times, "-"))
mm <- list()
add <- function(name, fun, args, res, solved) {
  mm[[name]] <<- list(fun = fun, args = args, solved_for = solved, n1 = res$n1, n2 = res$n2,
                      n_total = res$n1 + res$n2, power = res$power, delta = res$delta)
}
Ra <- cs(0.25, 4); ra <- c(1, 0.9, 0.8, 0.7)
add("cs_n", "power.mmrm", list(corr = Ra, retention = ra, sd = 1, effect = 0.5, power = 0.8, allocation = 1),
    power.mmrm(Ra = Ra, ra = ra, sigmaa = 1, delta = 0.5, power = 0.80, tol = TOL), "n_total")
add("cs_power", "power.mmrm", list(corr = Ra, retention = ra, sd = 1, effect = 0.5, n_total = 174, allocation = 1),
    power.mmrm(N = 174, Ra = Ra, ra = ra, sigmaa = 1, delta = 0.5, tol = TOL), "power")
add("cs_effect", "power.mmrm", list(corr = Ra, retention = ra, sd = 1, power = 0.8, n_total = 174, allocation = 1),
    power.mmrm(N = 174, Ra = Ra, ra = ra, sigmaa = 1, power = 0.80, tol = TOL), "effect")
add("cs_n_lambda2", "power.mmrm", list(corr = Ra, retention = ra, sd = 1, effect = 0.5, power = 0.8, allocation = 2),
    power.mmrm(Ra = Ra, ra = ra, sigmaa = 1, delta = 0.5, power = 0.80, lambda = 2, tol = TOL), "n_total")
add("cs_power_lambda2", "power.mmrm", list(corr = Ra, retention = ra, sd = 1, effect = 0.5, n_total = 174, allocation = 2),
    power.mmrm(N = 174, Ra = Ra, ra = ra, sigmaa = 1, delta = 0.5, lambda = 2, tol = TOL), "power")
add("cs_effect_lambda2", "power.mmrm", list(corr = Ra, retention = ra, sd = 1, power = 0.8, n_total = 174, allocation = 2),
    power.mmrm(N = 174, Ra = Ra, ra = ra, sigmaa = 1, power = 0.80, lambda = 2, tol = TOL), "effect")
add("cs_n_one_sided", "power.mmrm", list(corr = Ra, retention = ra, sd = 2, effect = 0.8, power = 0.9, allocation = 1,
    alternative = "one-sided"),
    power.mmrm(Ra = Ra, ra = ra, sigmaa = 2, delta = 0.8, power = 0.90, alternative = "one.sided", tol = TOL), "n_total")
# dropout by arm: each arm its own retention (and here its own correlation)
Rb <- ar1(0.6, 1:4); rb <- c(1, 0.95, 0.9, 0.85)
add("by_arm_n", "power.mmrm", list(corr = Ra, retention = ra, corr2 = Rb, retention2 = rb, sd = 1.5, effect = 0.6,
    power = 0.85, allocation = 1.5),
    power.mmrm(Ra = Ra, ra = ra, Rb = Rb, rb = rb, sigmaa = 1.5, delta = 0.6, power = 0.85, lambda = 1.5, tol = TOL),
    "n_total")
# power.mmrm.ar1: Lu, Luo & Chen (2008) Table 5 settings as longpower's examples give them
ra5 <- c(100, 76, 63, 52)/100; rb5 <- c(100, 87, 81, 78)/100
for (k in list(list("ar1_t5_a", sqrt(1.25/1.75), 0.904), list("ar1_t5_b", 1.25/1.75, 0.910),
               list("ar1_t5_c", 1, 0.903), list("ar1_t5_d", 2, 0.904))) {
  res <- power.mmrm.ar1(rho = 0.6, ra = ra5, sigmaa = 1, rb = rb5, lambda = k[[2]], power = k[[3]], delta = 0.9,
                        tol = TOL)
  mm[[k[[1]]]] <- list(fun = "power.mmrm.ar1", args = list(rho = 0.6, times = 1:4, retention = ra5,
                       retention2 = rb5, sd = 1, effect = 0.9, power = k[[3]], allocation = k[[2]]),
                       solved_for = "n_total", n1 = res$n1, n2 = res$n2, n_total = res$n1 + res$n2,
                       power = res$power, delta = res$delta, phi1 = res$phi1, phi2 = res$phi2)
}
res <- power.mmrm.ar1(N = 87, rho = 0.6, ra = ra5, sigmaa = 1, rb = rb5, lambda = 1.25/1.75, power = 0.910, tol = TOL)
mm$ar1_t5_effect <- list(fun = "power.mmrm.ar1", args = list(rho = 0.6, times = 1:4, retention = ra5,
  retention2 = rb5, sd = 1, n_total = 87, power = 0.91, allocation = 1.25/1.75), solved_for = "effect",
  n1 = res$n1, n2 = res$n2, n_total = res$n1 + res$n2, power = res$power, delta = res$delta,
  phi1 = res$phi1, phi2 = res$phi2)
res <- power.mmrm.ar1(N = 80, rho = 0.6, ra = ra5, sigmaa = 1, rb = rb5, lambda = 1, delta = 0.9, tol = TOL)
mm$ar1_t5_power <- list(fun = "power.mmrm.ar1", args = list(rho = 0.6, times = 1:4, retention = ra5,
  retention2 = rb5, sd = 1, n_total = 80, effect = 0.9, allocation = 1), solved_for = "power",
  n1 = res$n1, n2 = res$n2, n_total = res$n1 + res$n2, power = res$power, delta = res$delta,
  phi1 = res$phi1, phi2 = res$phi2)
# unequal visit times for the AR(1) closed form
res <- power.mmrm.ar1(rho = 0.7, ra = c(1, 0.9, 0.85, 0.75), sigmaa = 3, times = c(0, 2, 6, 12), delta = 1.5,
                      power = 0.8, tol = TOL)
mm$ar1_times <- list(fun = "power.mmrm.ar1", args = list(rho = 0.7, times = c(0, 2, 6, 12),
  retention = c(1, 0.9, 0.85, 0.75), sd = 3, effect = 1.5, power = 0.8, allocation = 1), solved_for = "n_total",
  n1 = res$n1, n2 = res$n2, n_total = res$n1 + res$n2, power = res$power, delta = res$delta,
  phi1 = res$phi1, phi2 = res$phi2)
# parameters taken from a fitted model, as longpower's documentation does it (Orthodont, gls with
# unstructured correlation and variance by age)
Orthodont$t.index <- as.numeric(factor(Orthodont$age, levels = c(8, 10, 12, 14)))
fm <- gls(distance ~ Sex * I(age - 11), Orthodont, correlation = corSymm(form = ~ t.index | Subject),
          weights = varIdent(form = ~ 1 | age))
C <- corMatrix(fm$modelStruct$corStruct)[[1]]
sg <- unname(fm$sigma * coef(fm$modelStruct$varStruct, unconstrained = FALSE)["14"])
rr <- seq(1, 0.80, length = nrow(C))
add("orthodont_un_effect", "power.mmrm", list(corr = unname(C), retention = rr, sd = sg, n_total = 100,
    power = 0.8, allocation = 1), power.mmrm(N = 100, Ra = C, ra = rr, sigmaa = sg, power = 0.80, tol = TOL), "effect")
out$mmrm <- mm

# ---------------------------------------------------------------- two-sample t (exact noncentral t)
# R power.t.test with strict = TRUE counts both rejection tails, as statsmodels and pingouin do.
tt <- list()
tt$n_d05 <- list(args = list(effect = 0.5, sd = 1, power = 0.8), solved_for = "n1",
  n1 = power.t.test(delta = 0.5, sd = 1, power = 0.8, strict = TRUE, tol = TOL)$n,
  n1_z = 2 * (qnorm(0.975) + qnorm(0.8))^2 / 0.5^2)
tt$power_n20 <- list(args = list(effect = 3, sd = 5, n1 = 20), solved_for = "power",
  power = power.t.test(n = 20, delta = 3, sd = 5, strict = TRUE)$power)
tt$effect_n50 <- list(args = list(n1 = 50, sd = 2, power = 0.9), solved_for = "effect",
  effect = power.t.test(n = 50, sd = 2, power = 0.9, strict = TRUE, tol = TOL)$delta)
tt$n_one_sided <- list(args = list(effect = 0.4, sd = 1, power = 0.9, alternative = "one-sided"), solved_for = "n1",
  n1 = power.t.test(delta = 0.4, sd = 1, power = 0.9, alternative = "one.sided", strict = TRUE, tol = TOL)$n)
# unequal allocation: pwr.t2n.test (n1 experimental, n2 = n1 / allocation)
p2 <- function(n1, alloc, d) pwr.t2n.test(n1 = n1, n2 = n1 / alloc, d = d)$power
tt$power_unequal <- list(args = list(effect = 0.5, sd = 1, n1 = 40, allocation = 0.5), solved_for = "power",
  power = p2(40, 0.5, 0.5))
tt$n_unequal <- list(args = list(effect = 0.5, sd = 1, power = 0.8, allocation = 2), solved_for = "n1",
  n1 = uniroot(function(n) p2(n, 2, 0.5) - 0.8, c(5, 1000), tol = TOL)$root)
out$ttest <- tt

# ---------------------------------------------------------------- ANCOVA on one baseline covariate
# Superpower (Caldwell): type "exact" is Shieh (2020), exact for a normal covariate; type "approx" is
# the noncentral F with error variance sd^2 (1 - rho^2) and df N - groups - covariates (Keppel,
# PASS). The t-test on the same design (no design factor) is the near miss.
# Superpower integrates Shieh's formula by Simpson's rule between the 1e-5 and 1 - 1e-5 quantiles of
# t, losing up to 2e-5 of the probability; "power_exact_full" integrates the same formula over the
# whole line with R's integrate() (relative tolerance 1e-12).
shieh_full <- function(n1, n2, rho, d, s, alpha = 0.05) {
  N <- n1 + n2; df <- N - 3
  ncp2 <- d^2 / (s^2 * (1 - rho^2) * (1 / n1 + 1 / n2))
  fcrit <- qf(1 - alpha, 1, df)
  integrate(function(t) dt(t, N - 2) * pf(fcrit, 1, df, ncp2 / (1 + t^2 / (N - 2)), lower.tail = FALSE),
            -Inf, Inf, rel.tol = 1e-12, abs.tol = 0)$value
}
an <- list()
for (k in list(list(20, 20, 0.5, 0.5, 1), list(10, 10, 0.7, 1, 1.2), list(50, 50, 0.3, 0.4, 1),
               list(15, 30, 0.6, 2.5, 3), list(8, 8, 0.8, 1.5, 1))) {
  n1 <- k[[1]]; n2 <- k[[2]]; rho <- k[[3]]; d <- k[[4]]; s <- k[[5]]
  ex <- Superpower:::pwr_ancova_shieh(mu = c(0, d), n = c(n1, n2), n_cov = 1, r2 = rho^2, sd = s, alpha_level = 0.05)
  ap <- Superpower:::pwr_ancova_keppel(mu = c(0, d), n = c(n1, n2), n_cov = 1, r2 = rho^2, sd = s, alpha_level = 0.05)
  tt0 <- pwr.t2n.test(n1 = n1, n2 = n2, d = d / s)$power
  an[[sprintf("n%d_%d_rho%g", n1, n2, rho)]] <- list(args = list(n1 = n1, allocation = n1 / n2, rho = rho,
    effect = d, sd = s), power_exact = ex, power_exact_full = shieh_full(n1, n2, rho, d, s), power_t = ap,
    power_ttest_near_miss = tt0)
}
shieh_n <- function(rho, d, s, pw) uniroot(function(n) Superpower:::pwr_ancova_shieh(mu = c(0, d), n = c(n, n),
  n_cov = 1, r2 = rho^2, sd = s, alpha_level = 0.05) - pw, c(4, 5000), tol = TOL)$root
keppel_n <- function(rho, d, s, pw) uniroot(function(n) Superpower:::pwr_ancova_keppel(mu = c(0, d), n = c(n, n),
  n_cov = 1, r2 = rho^2, sd = s, alpha_level = 0.05) - pw, c(4, 5000), tol = TOL)$root
for (k in list(list(0.5, 0.5, 1, 0.8), list(0.7, 1.0, 1.5, 0.9), list(0.3, 0.25, 1, 0.8))) {
  rho <- k[[1]]; d <- k[[2]]; s <- k[[3]]; pw <- k[[4]]
  an[[sprintf("n_rho%g_d%g", rho, d)]] <- list(args = list(rho = rho, effect = d, sd = s, power = pw),
    n1_exact = shieh_n(rho, d, s, pw),
    n1_exact_full = uniroot(function(n) shieh_full(n, n, rho, d, s) - pw, c(4, 5000), tol = TOL)$root, n1_t = keppel_n(rho, d, s, pw),
    n1_z_borm = (1 - rho^2) * 2 * (qnorm(0.975) + qnorm(pw))^2 * s^2 / d^2,
    n1_ttest_near_miss = power.t.test(delta = d, sd = s, power = pw, strict = TRUE, tol = TOL)$n)
}
out$ancova <- an

# ---------------------------------------------------------------- many-to-one critical values (Dunnett)
# Two-sided 5 % critical value of max |Z_i| (df = Inf) or max |T_i| for two comparisons with a
# shared control: correlation a / (1 + a) for allocation a = n_experimental / n_control.
set.seed(20190415)
du <- list()
for (k in list(list(1, Inf), list(1, 60), list(2, Inf), list(0.5, 30))) {
  a <- k[[1]]; df <- k[[2]]; rho <- a / (1 + a)
  S <- matrix(c(1, rho, rho, 1), 2)
  crit <- if (is.infinite(df)) qmvnorm(0.95, tail = "both.tails", corr = S, algorithm = Miwa(steps = 4096),
                                       ptol = 1e-10)$quantile
          else qmvt(0.95, tail = "both.tails", df = df, corr = S,
                    algorithm = GenzBretz(maxpts = 5e6, abseps = 1e-9), ptol = 1e-10)$quantile
  du[[length(du) + 1]] <- list(allocation = a, df = if (is.infinite(df)) "Inf" else df, corr = rho, crit = crit)
}
out$dunnett <- du

# ---------------------------------------------------------------- three arms: two comparisons with control
# Bonferroni: longpower / power.t.test at alpha / 2. Dunnett: the same at the per-comparison level that
# has the Dunnett critical value c (alpha' = 2 (1 - pnorm(c))), so the sizes come from longpower itself.
c_d <- du[[1]]$crit
three <- list()
for (adj in c("bonferroni", "dunnett")) {
  lev <- if (adj == "bonferroni") 0.025 else 2 * pnorm(-c_d)
  pm <- power.mmrm(Ra = Ra, ra = ra, sigmaa = 1, delta = 0.5, power = 0.80, sig.level = lev, tol = TOL)
  three[[paste0("mmrm_", adj)]] <- list(args = list(corr = Ra, retention = ra, sd = 1, effect = 0.5, power = 0.8,
    arms = 3, adjust = adj), n1 = pm$n1, n2 = pm$n2, n_total = 2 * pm$n1 + pm$n2, level = lev)
  # N = 180 in three arms is 60 per arm, i.e. power.mmrm's two-arm N = 120
  pp <- power.mmrm(N = 120, Ra = Ra, ra = ra, sigmaa = 1, delta = 0.5, sig.level = lev, tol = TOL)
  three[[paste0("mmrm_power_", adj)]] <- list(args = list(corr = Ra, retention = ra, sd = 1, effect = 0.5,
    n_total = 180, arms = 3, adjust = adj), power = pp$power, level = lev)
}
three$ttest_bonferroni <- list(args = list(effect = 0.5, sd = 1, power = 0.8, arms = 3, adjust = "bonferroni"),
  n1 = power.t.test(delta = 0.5, sd = 1, power = 0.8, sig.level = 0.025, strict = TRUE, tol = TOL)$n)
out$three_arms <- three

writeLines(toJSON(num17(out), auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE),
           "tests/reference/power/power_reference.json")
cat("wrote tests/reference/power/power_reference.json\n")
