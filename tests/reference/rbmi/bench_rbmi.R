#!/usr/bin/env Rscript
# Times rbmi (R) on rbmi's antidepressant_data, for tests/benchmarks/bench_mi.py to print beside
# retrostudy: conditional mean imputation under jump to reference (JR) with
#   1. jackknife SE   (1 + 172 MMRM fits), and
#   2. bootstrap SE   (1 + B MMRM fits, B = 1000 by default),
# each timed as the whole rbmi pipeline draws() + impute() + analyse() + pool() with system.time()
# on one core (rbmi's default ncores = 1). Prints one JSON object on stdout: seconds = elapsed
# wall-clock, draws_seconds = the MMRM-fitting part of it, cpu_seconds = user + system time of the
# whole pipeline (closer to the unloaded wall-clock time on a busy machine); the bootstrap is pooled
# with type = "normal" (bootstrap SE). Data preparation as in make_rbmi.R.
#
# Usage, from the project root, with rbmi and mmrm installed (e.g. in a library named by R_LIBS):
#   Rscript tests/reference/rbmi/bench_rbmi.R [--data=../shared/rbmi/antidepressant_data.csv]
#       [--bootstrap-samples=1000] [--seed=20260311]
# Exit status 0 with the JSON on stdout; messages and warnings go to stderr.

suppressPackageStartupMessages(suppressWarnings({
    library(rbmi)
    library(dplyr)
    library(jsonlite)
}))

args <- commandArgs(trailingOnly = TRUE)
get_arg <- function(name, default) {
    hit <- grep(paste0("^--", name, "="), args, value = TRUE)
    if (length(hit) == 0) default else sub(paste0("^--", name, "="), "", hit[[1]])
}
data_path <- get_arg("data", file.path("..", "shared", "rbmi", "antidepressant_data.csv"))
n_boot <- as.integer(get_arg("bootstrap-samples", "1000"))
seed <- as.integer(get_arg("seed", "20260311"))
if (!file.exists(data_path)) stop("data file not found: ", data_path)

d <- utils::read.csv(
    data_path,
    colClasses = c(PATIENT = "character", VISIT = "character", THERAPY = "character")
)
d$PATIENT <- factor(d$PATIENT, levels = sort(unique(d$PATIENT)))
d$VISIT <- factor(d$VISIT, levels = c("4", "5", "6", "7"))
d$THERAPY <- factor(d$THERAPY, levels = c("PLACEBO", "DRUG"))
dat <- expand_locf(
    d,
    PATIENT = levels(d$PATIENT),
    VISIT = levels(d$VISIT),
    vars = c("BASVAL", "THERAPY"),
    group = c("PATIENT"),
    order = c("PATIENT", "VISIT")
)
dat_ice <- dat %>%
    arrange(PATIENT, VISIT) %>%
    filter(is.na(CHANGE)) %>%
    group_by(PATIENT) %>%
    slice(1) %>%
    ungroup() %>%
    select(PATIENT, VISIT) %>%
    mutate(strategy = "JR")
dat_ice <- as.data.frame(dat_ice[dat_ice$PATIENT != "3618", ])

vars_imp <- set_vars(
    outcome = "CHANGE", visit = "VISIT", subjid = "PATIENT", group = "THERAPY",
    covariates = c("BASVAL*VISIT", "THERAPY*VISIT")
)
vars_ana <- set_vars(
    subjid = "PATIENT", outcome = "CHANGE", visit = "VISIT", group = "THERAPY",
    covariates = c("BASVAL")
)
refs <- c(DRUG = "PLACEBO", PLACEBO = "PLACEBO")

time_pipeline <- function(method, pool_type = "percentile") {
    draws_time <- NULL
    trt7 <- NULL
    total <- system.time({
        draws_time <- system.time(
            drawObj <- suppressWarnings(draws(dat, dat_ice, vars_imp, method, ncores = 1, quiet = TRUE))
        )
        imputeObj <- impute(drawObj, references = refs)
        anaObj <- analyse(imputeObj, ancova, vars = vars_ana)
        poolObj <- pool(anaObj, type = pool_type)
        trt7 <- poolObj$pars$trt_7
    })
    list(
        seconds = unname(total[["elapsed"]]),
        draws_seconds = unname(draws_time[["elapsed"]]),
        cpu_seconds = unname(total[["user.self"]] + total[["sys.self"]]),
        n_mmrm_fits = length(drawObj$samples),
        trt_7_est = trt7$est,
        trt_7_se = trt7$se
    )
}

# warm-up (package loading, TMB tape): one plain fit, not timed
invisible(suppressWarnings(draws(
    dat, dat_ice, vars_imp, method_condmean(type = "bootstrap", n_samples = 0), quiet = TRUE
)))

jack <- time_pipeline(method_condmean(type = "jackknife"))
set.seed(seed)
boot <- time_pipeline(method_condmean(type = "bootstrap", n_samples = n_boot), pool_type = "normal")

out <- list(
    tool = "rbmi",
    rbmi_version = as.character(utils::packageVersion("rbmi")),
    mmrm_version = as.character(utils::packageVersion("mmrm")),
    R_version = R.version.string,
    cores_detected = parallel::detectCores(),
    ncores_used = 1L,
    strategy = "JR",
    condmean_jackknife = jack,
    condmean_bootstrap = c(list(n_samples = n_boot, seed = seed), boot)
)
cat(jsonlite::toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "\n")
