#!/usr/bin/env Rscript
# Reference cases for retrostudy's reference-based multiple imputation (issue 11, "Proof").
#
# Computes, with the R packages rbmi and mmrm (openpharma), the numbers that retrostudy's
# `rs.sensitivity` / `rs.tipping_point` must reproduce on rbmi's `antidepressant_data`, and writes
# them as JSON next to this script. What each file holds, the tolerances and what rbmi does in the
# edge cases: README.md in this folder.
#
# Usage, from the project root (the data file is not part of the project; it sits beside it):
#   Rscript tests/reference/rbmi/make_rbmi.R [--data=../shared/rbmi/antidepressant_data.csv]
#       [--out=tests/reference/rbmi] [--parts=a,b,c,d,e,f] [--quick]
# Parts: a condmean jackknife (every strategy, same_cov = FALSE under JR), b condmean bootstrap,
# c approximate Bayes, d delta adjustment / tipping point, e observed post-ICE data, f plain MMRM.
# --quick shrinks the Monte Carlo parts (for trying the script; never for committed files).
# Needs rbmi and mmrm installed (e.g. in a private library named by R_LIBS), plus dplyr, jsonlite,
# digest. The timing (part g) is bench_rbmi.R.

suppressPackageStartupMessages({
    library(rbmi)
    library(mmrm)
    library(dplyr)
    library(jsonlite)
})

# ---------------------------------------------------------------------------------------------
# Arguments
# ---------------------------------------------------------------------------------------------
args <- commandArgs(trailingOnly = TRUE)
get_arg <- function(name, default) {
    hit <- grep(paste0("^--", name, "="), args, value = TRUE)
    if (length(hit) == 0) default else sub(paste0("^--", name, "="), "", hit[[1]])
}
script_dir <- local({
    f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
    if (length(f) == 1) dirname(normalizePath(f)) else getwd()
})
DATA_PATH <- get_arg("data", file.path("..", "shared", "rbmi", "antidepressant_data.csv"))
OUT_DIR <- get_arg("out", script_dir)
PARTS <- strsplit(get_arg("parts", "a,b,c,d,e,f"), ",")[[1]]
QUICK <- "--quick" %in% args

stopifnot(file.exists(DATA_PATH))

# ---------------------------------------------------------------------------------------------
# Fixed settings
# ---------------------------------------------------------------------------------------------
SEED <- 20260311L                      # seed of every random part (set.seed before draws())
SPREAD_SEEDS <- 1:10                   # seeds for the Monte Carlo spread of b and c
B_MAIN <- if (QUICK) 50L else 1000L    # bootstrap samples of the main bootstrap run
B_SPREAD <- if (QUICK) 20L else 200L   # bootstrap samples per spread run
M_MAIN <- if (QUICK) 20L else 100L     # imputations of the approximate Bayes runs
N_BOOT_IDS <- 20L                      # bootstrap samples whose subject lists are stored
DELTA_GRID <- 0:10                     # tipping-point grid (added to imputed DRUG values)
REFERENCES <- c(DRUG = "PLACEBO", PLACEBO = "PLACEBO")
RBMI_STRATEGIES <- c("MAR", "JR", "CR", "CIR", "LMCF")

vars_imp <- set_vars(
    outcome = "CHANGE",
    visit = "VISIT",
    subjid = "PATIENT",
    group = "THERAPY",
    covariates = c("BASVAL*VISIT", "THERAPY*VISIT")
)
vars_ana <- set_vars(
    subjid = "PATIENT",
    outcome = "CHANGE",
    visit = "VISIT",
    group = "THERAPY",
    covariates = c("BASVAL")
)

# ---------------------------------------------------------------------------------------------
# The MMRM optimizer: rbmi's own (mmrm's default L-BFGS-B) or the exact REML optimum
# ---------------------------------------------------------------------------------------------
# rbmi calls mmrm::mmrm() without optimizer settings, so its fits stop where L-BFGS-B (factr 1e7)
# stops: |gradient| up to ~1e-2, -2 REML log-lik ~1e-5 above the optimum, estimates off by ~1e-5
# relative. An engine that finds the exact optimum cannot match those numbers to 1e-6, so every
# deterministic case is computed twice: "rbmi" (rbmi exactly as it is) and "rbmi_exact_optimum"
# (the same rbmi code with every MMRM fit run to the exact REML optimum: nlminb with mmrm's
# analytic (TMB) gradient and Hessian at its default tolerances, then Newton steps with step
# halving until max |gradient| < 1e-11; nlminb alone at rel.tol 1e-14 stops with "singular
# convergence" on some jackknife samples). The switch wraps mmrm::mmrm in mmrm's namespace;
# rbmi's code is not changed. Every fit's final max |gradient| is recorded.
newton_optimizer <- function(par, fn, gr, hessian = NULL, ...) {
    o <- stats::nlminb(par, fn, gr, hessian)
    th <- o$par
    for (k in seq_len(50)) {
        g <- as.vector(gr(th))
        if (max(abs(g)) < 1e-11) break
        step <- solve(hessian(th), g)
        f0 <- fn(th)
        t <- 1
        while (fn(th - t * step) > f0 + 1e-9 && t > 1e-6) t <- t / 2
        th <- th - t * step
    }
    g <- max(abs(gr(th)))
    list(
        par = th,
        objective = fn(th),
        convergence = if (g < 1e-6) 0L else 1L,
        message = sprintf("nlminb then Newton: max|grad| %.2e", g)
    )
}
attr(newton_optimizer, "use_hessian") <- TRUE

ORIG_MMRM <- mmrm::mmrm
OPT_STATE <- new.env()
OPT_STATE$mode <- "rbmi"
OPT_STATE$grad <- numeric(0)
OPT_STATE$optimizer <- character(0)

mmrm_switched <- function(...) {
    fit <- if (OPT_STATE$mode == "exact") {
        ORIG_MMRM(..., optimizer_fun = newton_optimizer)
    } else {
        ORIG_MMRM(...)
    }
    g <- tryCatch(max(abs(fit$tmb_object$gr(fit$theta_est))), error = function(e) NA_real_)
    OPT_STATE$grad <- c(OPT_STATE$grad, g)
    OPT_STATE$optimizer <- c(
        OPT_STATE$optimizer,
        if (identical(fit$optimizer, "custom_optimizer")) "nlminb+Newton" else fit$optimizer
    )
    fit
}
utils::assignInNamespace("mmrm", mmrm_switched, ns = "mmrm")

with_optimizer <- function(mode, expr) {
    old <- OPT_STATE$mode
    OPT_STATE$mode <- mode
    OPT_STATE$grad <- numeric(0)
    OPT_STATE$optimizer <- character(0)
    on.exit(OPT_STATE$mode <- old)
    value <- force(expr)
    list(
        value = value,
        fits = list(
            n_fits = length(OPT_STATE$grad),
            optimizers_used = as.list(table(OPT_STATE$optimizer)),
            max_abs_gradient_max = max(OPT_STATE$grad),
            max_abs_gradient_median = stats::median(OPT_STATE$grad)
        )
    )
}

# ---------------------------------------------------------------------------------------------
# Data: rbmi's quickstart preparation
# ---------------------------------------------------------------------------------------------
# THERAPY levels are PLACEBO, DRUG, so rbmi's "ref" (first level) is PLACEBO, "alt" is DRUG and
# trt = DRUG - PLACEBO (rbmi's quickstart keeps the package's level order DRUG, PLACEBO and so
# reports PLACEBO - DRUG; part a checks that the two orders give exactly opposite estimates).
read_antidepressant <- function(path, therapy_levels = c("PLACEBO", "DRUG")) {
    d <- utils::read.csv(
        path,
        colClasses = c(PATIENT = "character", VISIT = "character", THERAPY = "character")
    )
    d$PATIENT <- factor(d$PATIENT, levels = sort(unique(d$PATIENT)))
    d$VISIT <- factor(d$VISIT, levels = c("4", "5", "6", "7"))
    d$THERAPY <- factor(d$THERAPY, levels = therapy_levels)
    expand_locf(
        d,
        PATIENT = levels(d$PATIENT),
        VISIT = levels(d$VISIT),
        vars = c("BASVAL", "THERAPY"),
        group = c("PATIENT"),
        order = c("PATIENT", "VISIT")
    )
}

# ICE = first missing visit; patient 3618's intermittent missing visit 5 is not an ICE (MAR).
derive_ice <- function(dat, strategy) {
    ice <- dat %>%
        arrange(PATIENT, VISIT) %>%
        filter(is.na(CHANGE)) %>%
        group_by(PATIENT) %>%
        slice(1) %>%
        ungroup() %>%
        select(PATIENT, VISIT) %>%
        mutate(strategy = strategy)
    ice <- ice[ice$PATIENT != "3618", ]
    as.data.frame(ice)
}

dat <- read_antidepressant(DATA_PATH)

# ---------------------------------------------------------------------------------------------
# Metadata and output helpers
# ---------------------------------------------------------------------------------------------
pkg_info <- function(p) {
    d <- utils::packageDescription(p)
    list(
        version = as.character(utils::packageVersion(p)),
        commit = if (is.null(d$RemoteSha)) NA_character_ else d$RemoteSha,
        repository = if (is.null(d$RemoteRepo)) NA_character_ else
            paste0(d$RemoteUsername, "/", d$RemoteRepo)
    )
}

META <- list(
    generated_by = "tests/reference/rbmi/make_rbmi.R",
    generated_on = format(Sys.Date()),
    software = list(
        R = R.version.string,
        rbmi = pkg_info("rbmi"),
        mmrm = pkg_info("mmrm"),
        TMB = as.character(utils::packageVersion("TMB")),
        dplyr = as.character(utils::packageVersion("dplyr")),
        jsonlite = as.character(utils::packageVersion("jsonlite"))
    ),
    data = list(
        file = "../shared/rbmi/antidepressant_data.csv (rbmi's antidepressant_data; path relative to the project root)",
        sha256 = digest::digest(file = DATA_PATH, algo = "sha256"),
        n_rows_file = nrow(utils::read.csv(DATA_PATH)),
        n_subjects = nlevels(dat$PATIENT),
        preparation = paste(
            "PATIENT factor (sorted ids), VISIT factor levels 4,5,6,7, THERAPY factor levels PLACEBO,DRUG;",
            "expand_locf(dat, PATIENT = levels(dat$PATIENT), VISIT = levels(dat$VISIT),",
            "vars = c('BASVAL', 'THERAPY'), group = 'PATIENT', order = c('PATIENT', 'VISIT'))",
            "gives 172 x 4 = 688 rows, CHANGE NA where a visit is missing"
        ),
        ice = paste(
            "data_ice: per patient the first visit with CHANGE NA (monotone dropout),",
            "except patient 3618 (missing visit 5 only, observed at 6 and 7), who has no ICE;",
            "43 patients (DRUG 20, PLACEBO 23), strategy as named in each case"
        )
    ),
    vars_imputation = "set_vars(outcome = 'CHANGE', visit = 'VISIT', subjid = 'PATIENT', group = 'THERAPY', covariates = c('BASVAL*VISIT', 'THERAPY*VISIT'))",
    vars_analysis = "set_vars(subjid = 'PATIENT', outcome = 'CHANGE', visit = 'VISIT', group = 'THERAPY', covariates = c('BASVAL'))",
    references = "c(DRUG = 'PLACEBO', PLACEBO = 'PLACEBO')",
    contrast = "trt_<visit> = DRUG - PLACEBO (rbmi's alt - ref); lsm_ref_<visit> = PLACEBO, lsm_alt_<visit> = DRUG",
    seed = SEED,
    quick_run = QUICK
)

# pretty = FALSE for the bulky files (replicate estimates, bootstrap samples, imputations)
write_json_file <- function(x, name, pretty = TRUE) {
    path <- file.path(OUT_DIR, name)
    txt <- jsonlite::toJSON(
        x,
        digits = NA,
        auto_unbox = TRUE,
        pretty = pretty,
        na = "null",
        null = "null"
    )
    writeLines(txt, path)
    message("wrote ", path)
}

split_param <- function(p) {
    list(quantity = sub("_[^_]+$", "", p), visit = sub("^.*_", "", p))
}

# pool() as rows; df = NA (JSON null) where pool() uses the normal distribution
pool_rows <- function(poolObj, df = NULL) {
    x <- as.data.frame(poolObj)
    sp <- split_param(x$parameter)
    out <- data.frame(
        parameter = x$parameter,
        quantity = sp$quantity,
        visit = sp$visit,
        est = x$est,
        se = x$se,
        df = if (is.null(df)) NA_real_ else df[x$parameter],
        lci = x$lci,
        uci = x$uci,
        pval = x$pval,
        stringsAsFactors = FALSE,
        row.names = NULL
    )
    out
}

# per-replicate analysis results: matrix replicates x parameters
ana_matrix <- function(anaObj, comp = "est") {
    pars <- names(anaObj$results[[1]])
    m <- vapply(
        pars,
        function(p) vapply(anaObj$results, function(r) r[[p]][[comp]], numeric(1)),
        numeric(length(anaObj$results))
    )
    if (is.null(dim(m))) m <- matrix(m, nrow = 1, dimnames = list(NULL, pars))
    m
}

ana_rows <- function(anaObj, index) {
    r <- anaObj$results[[index]]
    sp <- split_param(names(r))
    data.frame(
        parameter = names(r),
        quantity = sp$quantity,
        visit = sp$visit,
        est = vapply(r, `[[`, numeric(1), "est"),
        se = vapply(r, `[[`, numeric(1), "se"),
        df = vapply(r, `[[`, numeric(1), "df"),
        stringsAsFactors = FALSE,
        row.names = NULL
    )
}

design_names <- function(ld) {
    d0 <- ld$data
    d0[[ld$vars$outcome]] <- 0
    colnames(stats::model.matrix(ld$formula, d0))
}

sigma_list <- function(s) lapply(s, function(m) unname(lapply(seq_len(nrow(m)), function(i) m[i, ])))

# parameters of the first sample (the fit on the original data) + a refit for the REML log-lik
imputation_model <- function(drawObj, same_cov = TRUE, mode = "rbmi") {
    ld <- drawObj$data
    s1 <- drawObj$samples[[1]]
    beta_names <- design_names(ld)
    dd <- ld$get_data(ld$ids, mnar.rm = TRUE, na.rm = TRUE)
    model_df <- rbmi:::as_model_df(dat = dd, frm = ld$formula)
    mm_df <- rbmi:::as_mmrm_df(
        designmat = model_df[, -1, drop = FALSE],
        outcome = as.data.frame(model_df)[, 1],
        visit = dd[[ld$vars$visit]],
        subjid = dd[[ld$vars$subjid]],
        group = if (same_cov) NULL else dd[[ld$vars$group]]
    )
    frm <- rbmi:::as_mmrm_formula(mm_df, "us")
    # refit outside the recorded fits, with the optimizer of the samples
    saved <- list(mode = OPT_STATE$mode, grad = OPT_STATE$grad, optimizer = OPT_STATE$optimizer)
    OPT_STATE$mode <- mode
    refit <- mmrm::mmrm(formula = frm, data = mm_df, reml = TRUE, n_cores = 1, accept_singular = FALSE)
    OPT_STATE$mode <- saved$mode
    OPT_STATE$grad <- saved$grad
    OPT_STATE$optimizer <- saved$optimizer
    list(
        formula = paste(deparse(ld$formula, width.cutoff = 500), collapse = ""),
        covariance = if (same_cov) "us (one unstructured covariance)" else "us per THERAPY group",
        n_subjects = length(unique(dd[[ld$vars$subjid]])),
        n_obs = nrow(dd),
        visits = ld$visits,
        beta = data.frame(term = beta_names, estimate = s1$beta, stringsAsFactors = FALSE),
        sigma = sigma_list(s1$sigma),
        theta_mmrm = unname(refit$theta_est),
        minus2_reml_loglik = -2 * as.numeric(stats::logLik(refit)),
        refit_max_abs_beta_diff = max(abs(unname(stats::coef(refit)) - s1$beta)),
        max_abs_gradient = max(abs(refit$tmb_object$gr(refit$theta_est)))
    )
}

# conditional means imputed in the first (original-data) imputation
imputed_rows <- function(imputeObj, index = 1) {
    ld <- imputeObj$data
    imp <- imputeObj$imputations[[index]]
    rows <- lapply(imp, function(s) {
        if (length(s$values) == 0) return(NULL)
        data.frame(
            PATIENT = s$id,
            THERAPY = as.character(ld$group[[s$id]]),
            VISIT = ld$visits[ld$is_missing[[s$id]]],
            strategy = ifelse(ld$is_mar[[s$id]][ld$is_missing[[s$id]]], "MAR", ld$strategies[[s$id]]),
            imputed = as.vector(s$values),
            stringsAsFactors = FALSE
        )
    })
    out <- do.call(rbind, rows)
    out <- out[order(out$PATIENT, out$VISIT), ]
    rownames(out) <- NULL
    out
}

jackknife_left_out <- function(drawObj) {
    ids <- drawObj$data$ids
    vapply(
        drawObj$samples[-1],
        function(s) setdiff(ids, s$ids),
        character(1)
    )
}

ice_rows <- function(ice) {
    data.frame(
        PATIENT = as.character(ice$PATIENT),
        VISIT = as.character(ice$VISIT),
        strategy = ice$strategy,
        stringsAsFactors = FALSE
    )
}

# ---------------------------------------------------------------------------------------------
# One conditional-mean jackknife case (draws + impute + analyse + pool)
# ---------------------------------------------------------------------------------------------
run_jackknife <- function(data, ice, same_cov = TRUE) {
    drawObj <- draws(
        data = data,
        data_ice = ice,
        vars = vars_imp,
        method = method_condmean(type = "jackknife", same_cov = same_cov),
        quiet = TRUE
    )
    imputeObj <- impute(drawObj, references = REFERENCES)
    anaObj <- analyse(imputeObj, ancova, vars = vars_ana)
    poolObj <- pool(anaObj)
    list(draws = drawObj, impute = imputeObj, analysis = anaObj, pool = poolObj)
}

jackknife_summary <- function(res, same_cov = TRUE, fits = NULL, mode = "rbmi") {
    est <- ana_matrix(res$analysis, "est")
    list(
        pooled = pool_rows(res$pool),
        full_data_ancova = ana_rows(res$analysis, 1),
        imputation_model = imputation_model(res$draws, same_cov = same_cov, mode = mode),
        imputed_values = imputed_rows(res$impute, 1),
        mmrm_fits = fits,
        n_jackknife = nrow(est) - 1
    )
}

jackknife_replicates <- function(res) {
    est <- ana_matrix(res$analysis, "est")
    c(
        list(left_out = jackknife_left_out(res$draws)),
        lapply(as.data.frame(est[-1, , drop = FALSE]), identity)
    )
}

CALL_JACKKNIFE <- paste(
    "drawObj <- draws(data = dat, data_ice = dat_ice, vars = vars_imp,",
    "method = method_condmean(type = 'jackknife', same_cov = SAME_COV), quiet = TRUE);",
    "imputeObj <- impute(drawObj, references = c(DRUG = 'PLACEBO', PLACEBO = 'PLACEBO'));",
    "anaObj <- analyse(imputeObj, ancova, vars = vars_ana); pool(anaObj)"
)

# =============================================================================================
# Part a: conditional mean imputation + jackknife, every strategy
# =============================================================================================
JACK <- list()        # kept for part d
if (any(c("a", "d") %in% PARTS)) {
    cases <- list()
    reps <- list()
    case_defs <- c(
        setNames(lapply(RBMI_STRATEGIES, function(s) list(strategy = s, same_cov = TRUE)), RBMI_STRATEGIES),
        list(JR_same_cov_false = list(strategy = "JR", same_cov = FALSE))
    )
    for (nm in names(case_defs)) {
        cd <- case_defs[[nm]]
        ice <- derive_ice(dat, cd$strategy)
        message("part a: ", nm)
        out <- list(strategy = cd$strategy, same_cov = cd$same_cov)
        for (mode in c("rbmi", "exact")) {
            key <- if (mode == "rbmi") "rbmi" else "rbmi_exact_optimum"
            r <- with_optimizer(mode, run_jackknife(dat, ice, same_cov = cd$same_cov))
            out[[key]] <- jackknife_summary(r$value, same_cov = cd$same_cov, fits = r$fits, mode = mode)
            reps[[nm]][[key]] <- jackknife_replicates(r$value)
            JACK[[nm]][[key]] <- r$value
        }
        cases[[nm]] <- out
    }

    # the quickstart's level order (DRUG first) gives exactly the opposite contrast
    dat_qs <- read_antidepressant(DATA_PATH, therapy_levels = c("DRUG", "PLACEBO"))
    r_qs <- with_optimizer("exact", run_jackknife(dat_qs, derive_ice(dat_qs, "MAR")))$value
    p_qs <- pool_rows(r_qs$pool)
    p_mar <- cases$MAR$rbmi_exact_optimum$pooled
    trt <- p_mar$quantity == "trt"
    level_order_check <- list(
        what = paste(
            "MAR, exact optimum, THERAPY levels DRUG,PLACEBO (rbmi's quickstart order):",
            "trt is PLACEBO - DRUG, lsm_ref is DRUG; compared with this file's order"
        ),
        max_abs_diff_trt_est_plus_flipped = max(abs(p_mar$est[trt] + p_qs$est[trt])),
        max_abs_diff_trt_se = max(abs(p_mar$se[trt] - p_qs$se[trt])),
        max_abs_diff_lsm_swapped = max(abs(
            p_mar$est[p_mar$quantity == "lsm_ref"] - p_qs$est[p_qs$quantity == "lsm_alt"]
        ))
    )

    # near misses built from the cases above
    v7 <- function(case, key = "rbmi_exact_optimum", q = "trt") {
        p <- cases[[case]][[key]]$pooled
        p[p$quantity == q & p$visit == "7", ]
    }
    N <- cases$JR$rbmi_exact_optimum$n_jackknife
    jr7 <- v7("JR")
    near <- list(
        JR_asked_CR_given = list(
            what = "J2R asked, CR computed: the CR case's visit-7 trt; a test asserts the JR result is NOT this",
            est = v7("CR")$est, se = v7("CR")$se,
            abs_diff_est_vs_JR = abs(v7("CR")$est - jr7$est)
        ),
        CR_asked_JR_given = list(
            what = "CR asked, J2R computed", est = jr7$est, se = jr7$se,
            abs_diff_est_vs_CR = abs(v7("CR")$est - jr7$est)
        ),
        JR_t_interval = list(
            what = paste(
                "JR visit-7 trt CI with a t quantile on the ANCOVA residual df (169) instead of rbmi's",
                "normal quantile"
            ),
            lci = jr7$est - stats::qt(0.975, 169) * jr7$se,
            uci = jr7$est + stats::qt(0.975, 169) * jr7$se,
            pval = 2 * stats::pt(-abs(jr7$est / jr7$se), 169)
        ),
        JR_jackknife_se_without_factor = list(
            what = paste(
                "JR visit-7 trt SE without the (N-1)/N factor: sqrt(sum((e_i - mean(e))^2)) instead of",
                "rbmi's sqrt((N-1)/N * sum((e_i - mean(e))^2)) (0.29 % too large)"
            ),
            se = sqrt(sum((reps$JR$rbmi_exact_optimum$trt_7 - mean(reps$JR$rbmi_exact_optimum$trt_7))^2))
        ),
        JR_same_cov_true_vs_false = list(
            what = "same_cov = FALSE (covariance per arm) asked, one common covariance computed: the JR case",
            est = jr7$est,
            abs_diff_est = abs(jr7$est - v7("JR_same_cov_false")$est)
        )
    )

    # how far rbmi's own optimizer is from the exact optimum, per case and quantity
    opt_gap <- lapply(cases, function(cs) {
        a <- cs$rbmi$pooled
        b <- cs$rbmi_exact_optimum$pooled
        list(
            max_abs_diff_est = max(abs(a$est - b$est)),
            max_rel_diff_est = max(abs(a$est - b$est) / abs(b$est)),
            max_abs_diff_se = max(abs(a$se - b$se)),
            max_rel_diff_se = max(abs(a$se - b$se) / b$se),
            max_abs_diff_pval = max(abs(a$pval - b$pval)),
            minus2_reml_loglik_diff = cs$rbmi$imputation_model$minus2_reml_loglik -
                cs$rbmi_exact_optimum$imputation_model$minus2_reml_loglik,
            max_abs_diff_beta = max(abs(cs$rbmi$imputation_model$beta$estimate -
                cs$rbmi_exact_optimum$imputation_model$beta$estimate)),
            max_abs_diff_sigma = max(abs(unlist(cs$rbmi$imputation_model$sigma) -
                unlist(cs$rbmi_exact_optimum$imputation_model$sigma)))
        )
    })

    if ("a" %in% PARTS) {
        write_json_file(
            list(
                meta = c(META, list(
                    part = "a: conditional mean imputation with jackknife SE",
                    call = CALL_JACKKNIFE,
                    pooling = paste(
                        "pool(anaObj): est = estimate on the original data (first analysis result);",
                        "se = sqrt((N-1)/N * sum((e_i - mean(e))^2)) over the N = 172 leave-one-subject-out",
                        "estimates e_i; CI est -/+ qnorm(0.975) * se; p = 2 * pnorm(-|est/se|); no df (normal)"
                    ),
                    keys = paste(
                        "rbmi: rbmi as installed (mmrm's default L-BFGS-B stops early);",
                        "rbmi_exact_optimum: the same rbmi code with every MMRM fit at the exact REML optimum",
                        "(nlminb then Newton on the analytic Hessian, max |gradient| < 1e-11). The Python engine should match",
                        "rbmi_exact_optimum to optimizer precision and rbmi within optimizer_gap."
                    )
                )),
                ice = ice_rows(derive_ice(dat, "JR")),
                cases = cases,
                optimizer_gap = opt_gap,
                level_order_check = level_order_check,
                near_misses = near
            ),
            "condmean_jackknife.json"
        )
        write_json_file(
            list(
                meta = c(META, list(
                    part = "a: the N = 172 leave-one-subject-out analysis estimates of every case",
                    what = paste(
                        "For each case and optimizer key: left_out[i] is the patient left out of replicate i",
                        "(rbmi's order), and <parameter>[i] the ANCOVA estimate of that replicate",
                        "(rbmi's analyse() results 2..173). The full-data estimate is in condmean_jackknife.json."
                    )
                )),
                cases = reps
            ),
            "condmean_jackknife_replicates.json",
            pretty = FALSE
        )
    }
}

# =============================================================================================
# Part b: conditional mean imputation + bootstrap
# =============================================================================================
run_bootstrap <- function(data, ice, n_samples, seed) {
    set.seed(seed)
    drawObj <- draws(
        data = data,
        data_ice = ice,
        vars = vars_imp,
        method = method_condmean(type = "bootstrap", n_samples = n_samples),
        quiet = TRUE
    )
    imputeObj <- impute(drawObj, references = REFERENCES)
    anaObj <- analyse(imputeObj, ancova, vars = vars_ana)
    list(
        draws = drawObj,
        analysis = anaObj,
        pool_normal = pool(anaObj, type = "normal"),
        pool_percentile = pool(anaObj, type = "percentile")
    )
}

if ("b" %in% PARTS) {
    out <- list()
    bulk <- list()
    for (strategy in c("MAR", "JR")) {
        message("part b: ", strategy)
        ice <- derive_ice(dat, strategy)
        r <- run_bootstrap(dat, ice, B_MAIN, SEED)
        est <- ana_matrix(r$analysis, "est")
        ids <- lapply(r$draws$samples[2:(N_BOOT_IDS + 1)], function(s) s$ids)
        # spread of the bootstrap SE over seeds at a smaller B
        spread <- lapply(SPREAD_SEEDS, function(s) {
            rs <- run_bootstrap(dat, ice, B_SPREAD, s)
            p <- pool_rows(rs$pool_normal)
            data.frame(seed = s, parameter = p$parameter, se = p$se, lci = p$lci, uci = p$uci,
                pval = p$pval, stringsAsFactors = FALSE)
        })
        spread <- do.call(rbind, spread)
        sd_over_seeds <- tapply(spread$se, spread$parameter, stats::sd)
        mean_over_seeds <- tapply(spread$se, spread$parameter, mean)
        boot <- est[-1, , drop = FALSE]
        kurt <- apply(boot, 2, function(x) mean((x - mean(x))^4) / mean((x - mean(x))^2)^2)
        se_main <- apply(boot, 2, stats::sd)
        out[[strategy]] <- list(
            strategy = strategy,
            n_samples = B_MAIN,
            seed = SEED,
            pooled_normal = pool_rows(r$pool_normal),
            pooled_percentile = pool_rows(r$pool_percentile),
            full_data_estimate = ana_rows(r$analysis, 1),
            monte_carlo = list(
                analytic_mcse_of_se = as.list(se_main * sqrt((kurt - 1) / (4 * B_MAIN))),
                kurtosis_of_bootstrap_estimates = as.list(kurt),
                spread = list(
                    n_samples = B_SPREAD,
                    seeds = SPREAD_SEEDS,
                    se_mean = as.list(mean_over_seeds),
                    se_sd = as.list(sd_over_seeds),
                    se_sd_scaled_to_main_B = as.list(sd_over_seeds * sqrt(B_SPREAD / B_MAIN)),
                    runs = spread
                )
            )
        )
        bulk[[strategy]] <- list(
            bootstrap_estimates = lapply(as.data.frame(boot), identity),
            first_bootstrap_samples = list(
                ids = ids,
                estimates = lapply(as.data.frame(boot[seq_len(N_BOOT_IDS), , drop = FALSE]), identity)
            )
        )
    }
    write_json_file(
        list(
            meta = c(META, list(
                part = "b: the bootstrap estimates of the B = 1000 runs in condmean_bootstrap.json",
                what = paste(
                    "bootstrap_estimates: per parameter the B ANCOVA estimates (rbmi's analyse() results",
                    "2..B+1, in rbmi's order; pool() takes their sd or type-6 quantiles).",
                    "first_bootstrap_samples: ids[[k]] is the subject list of bootstrap sample k",
                    "(k = 1..", N_BOOT_IDS, "; drawn with replacement within THERAPY (rbmi's default",
                    "strata = group); each copy of a patient is a separate subject), estimates the",
                    "ANCOVA estimates of those samples: deterministic given the list."
                )
            )),
            cases = bulk
        ),
        "condmean_bootstrap_samples.json",
        pretty = FALSE
    )
    write_json_file(
        list(
            meta = c(META, list(
                part = "b: conditional mean imputation with bootstrap",
                call = paste(
                    "set.seed(SEED); drawObj <- draws(data = dat, data_ice = dat_ice, vars = vars_imp,",
                    "method = method_condmean(type = 'bootstrap', n_samples = B), quiet = TRUE);",
                    "imputeObj <- impute(drawObj, references = c(DRUG = 'PLACEBO', PLACEBO = 'PLACEBO'));",
                    "anaObj <- analyse(imputeObj, ancova, vars = vars_ana);",
                    "pool(anaObj, type = 'normal'); pool(anaObj, type = 'percentile')"
                ),
                pooling = paste(
                    "est = estimate on the original data (deterministic, equals part a's full-data estimate);",
                    "normal: se = sd(bootstrap estimates) (n - 1 divisor), CI est -/+ qnorm(0.975) se,",
                    "p = 2 pnorm(-|est/se|); percentile: CI = quantile(type = 6) at 0.025/0.975 of the",
                    "bootstrap estimates, p = 2 * min(q, 1 - q) where q solves quantile(est, q, type = 6) = 0, se NA"
                ),
                optimizer = "rbmi as installed (optimizer error ~1e-5 is far below the Monte Carlo error)"
            )),
            cases = out
        ),
        "condmean_bootstrap.json"
    )
}

# =============================================================================================
# Part c: approximate Bayesian multiple imputation
# =============================================================================================
run_approxbayes <- function(data, ice, n_samples, seed) {
    set.seed(seed)
    drawObj <- draws(
        data = data,
        data_ice = ice,
        vars = vars_imp,
        method = method_approxbayes(n_samples = n_samples),
        quiet = TRUE
    )
    imputeObj <- impute(drawObj, references = REFERENCES)
    anaObj <- analyse(imputeObj, ancova, vars = vars_ana)
    poolObj <- pool(anaObj)
    est <- ana_matrix(anaObj, "est")
    se <- ana_matrix(anaObj, "se")
    df <- ana_matrix(anaObj, "df")
    pars <- colnames(est)
    rr <- lapply(pars, function(p) rbmi:::rubin_rules(est[, p], se[, p], unique(df[, p])))
    names(rr) <- pars
    list(analysis = anaObj, pool = poolObj, est = est, se = se, df = df, rubin = rr)
}

rubin_original_df <- function(est, se) {
    M <- length(est)
    var_w <- mean(se^2)
    var_b <- stats::var(est)
    var_t <- var_w + (1 + 1 / M) * var_b
    lambda <- (1 + 1 / M) * var_b / var_t
    (M - 1) / lambda^2
}

if ("c" %in% PARTS) {
    out <- list()
    bulk <- list()
    for (strategy in c("MAR", "JR")) {
        message("part c: ", strategy)
        ice <- derive_ice(dat, strategy)
        r <- run_approxbayes(dat, ice, M_MAIN, SEED)
        pars <- colnames(r$est)
        br_df <- vapply(r$rubin, function(x) x$df, numeric(1))
        pooled <- pool_rows(r$pool, df = br_df)
        # check: rbmi's CI is est -/+ qt(0.975, df) * se with this df
        chk <- max(abs(pooled$uci - (pooled$est + stats::qt(0.975, pooled$df) * pooled$se)))
        stopifnot(chk < 1e-8)
        orig_df <- vapply(pars, function(p) rubin_original_df(r$est[, p], r$se[, p]), numeric(1))
        near_df <- unname(orig_df)   # Inf (JSON null) where var_b = 0: visit 4, nothing imputed
        near_rows <- data.frame(
            parameter = pars,
            df = near_df,
            lci = pooled$est - stats::qt(0.975, near_df) * pooled$se,
            uci = pooled$est + stats::qt(0.975, near_df) * pooled$se,
            pval = 2 * stats::pt(-abs(pooled$est / pooled$se), near_df),
            stringsAsFactors = FALSE,
            row.names = NULL
        )
        mc <- rbmi::mcse(r$pool, r$analysis)
        spread <- lapply(SPREAD_SEEDS, function(s) {
            rs <- run_approxbayes(dat, ice, M_MAIN, s)
            p <- pool_rows(rs$pool, df = vapply(rs$rubin, function(x) x$df, numeric(1)))
            data.frame(seed = s, parameter = p$parameter, est = p$est, se = p$se, df = p$df,
                lci = p$lci, uci = p$uci, pval = p$pval, stringsAsFactors = FALSE)
        })
        spread <- do.call(rbind, spread)
        out[[strategy]] <- list(
            strategy = strategy,
            n_samples = M_MAIN,
            seed = SEED,
            pooled = pooled,
            rubin_components = lapply(pars, function(p) {
                M <- nrow(r$est)
                var_w <- mean(r$se[, p]^2)
                var_b <- stats::var(r$est[, p])
                list(parameter = p, M = M, v_com = unique(r$df[, p]), var_w = var_w, var_b = var_b,
                    var_t = var_w + (1 + 1 / M) * var_b,
                    lambda = (1 + 1 / M) * var_b / (var_w + (1 + 1 / M) * var_b),
                    df_barnard_rubin = r$rubin[[p]]$df, df_rubin_1987 = unname(orig_df[p]))
            }),
            near_miss_rubin_1987_df = near_rows,
            mcse_rbmi = as.data.frame(mc),
            monte_carlo_spread = list(
                seeds = SPREAD_SEEDS,
                n_samples = M_MAIN,
                sd = lapply(split(spread, spread$parameter), function(x)
                    list(est = stats::sd(x$est), se = stats::sd(x$se), df = stats::sd(x$df),
                        lci = stats::sd(x$lci), uci = stats::sd(x$uci), pval = stats::sd(x$pval))),
                runs = spread
            )
        )
        bulk[[strategy]] <- list(
            est = lapply(as.data.frame(r$est), identity),
            se = lapply(as.data.frame(r$se), identity),
            df = lapply(as.data.frame(r$df), function(x) unique(x))
        )
    }
    write_json_file(
        list(
            meta = c(META, list(
                part = "c: per-imputation analysis results of the M-imputation runs in approxbayes.json",
                what = paste(
                    "est[[parameter]][m], se[[parameter]][m]: rbmi's analyse() result of imputation m",
                    "(ANCOVA estimate and model-based SE); df: the ANCOVA residual df (the same for every",
                    "imputation: v_com of Barnard-Rubin). pool() applied to these gives approxbayes.json's pooled rows."
                )
            )),
            cases = bulk
        ),
        "approxbayes_imputations.json",
        pretty = FALSE
    )
    write_json_file(
        list(
            meta = c(META, list(
                part = "c: approximate Bayesian multiple imputation (bootstrapped REML fits, random imputation)",
                call = paste(
                    "set.seed(SEED); drawObj <- draws(data = dat, data_ice = dat_ice, vars = vars_imp,",
                    "method = method_approxbayes(n_samples = M), quiet = TRUE);",
                    "imputeObj <- impute(drawObj, references = c(DRUG = 'PLACEBO', PLACEBO = 'PLACEBO'));",
                    "anaObj <- analyse(imputeObj, ancova, vars = vars_ana); pool(anaObj); mcse(poolObj, anaObj)"
                ),
                pooling = paste(
                    "Rubin's rules: est = mean(e_m); var_w = mean(se_m^2); var_b = var(e_m) (n - 1 divisor);",
                    "var_t = var_w + (1 + 1/M) var_b; lambda = (1 + 1/M) var_b / var_t;",
                    "Barnard-Rubin df = 1 / (1/v_old + 1/v_obs), v_old = (M - 1)/lambda^2,",
                    "v_obs = (v_com + 1)/(v_com + 3) v_com (1 - lambda), v_com = ANCOVA residual df (169);",
                    "CI est -/+ qt(0.975, df) sqrt(var_t); p = 2 pt(-|est|/sqrt(var_t), df).",
                    "At visit 4 nothing is imputed, so var_b = 0, lambda = 0 and df = v_obs; Rubin's 1987 df",
                    "(M - 1)/lambda^2 is then infinite, written as null"
                )
            )),
            cases = out
        ),
        "approxbayes.json"
    )
}

# =============================================================================================
# Part d: delta adjustment and tipping point (condmean jackknife, MAR and JR)
# =============================================================================================
delta_df_for <- function(imputeObj, d) {
    nv <- length(imputeObj$data$visits)
    tmpl <- delta_template(imputeObj, delta = rep(d, nv), dlag = c(1, rep(0, nv - 1)))
    tmpl$delta[tmpl$THERAPY != "DRUG"] <- 0
    tmpl[, c("PATIENT", "VISIT", "delta")]
}

analyse_delta <- function(res, d) {
    a <- analyse(res$impute, ancova, delta = delta_df_for(res$impute, d), vars = vars_ana)
    pool_rows(pool(a))
}

if ("d" %in% PARTS) {
    out <- list()
    for (strategy in c("MAR", "JR")) {
        cs <- list(strategy = strategy)
        for (key in c("rbmi", "rbmi_exact_optimum")) {
            message("part d: ", strategy, " ", key)
            res <- JACK[[strategy]][[key]]
            tmpl <- delta_df_for(res$impute, 1)
            rows <- lapply(DELTA_GRID, function(d) cbind(delta = d, analyse_delta(res, d)))
            rows <- do.call(rbind, rows)
            p7 <- rows[rows$quantity == "trt" & rows$visit == "7", ]
            i <- which(p7$pval >= 0.05)[1]
            tip <- list(first_grid_delta = NA_real_, interpolated_delta = NA_real_, root_delta = NA_real_)
            if (!is.na(i)) {
                tip$first_grid_delta <- p7$delta[i]
                if (i > 1) {
                    d0 <- p7$delta[i - 1]; d1 <- p7$delta[i]
                    q0 <- p7$pval[i - 1]; q1 <- p7$pval[i]
                    tip$interpolated_delta <- d0 + (0.05 - q0) / (q1 - q0) * (d1 - d0)
                    f <- function(d) {
                        p <- analyse_delta(res, d)
                        p$pval[p$quantity == "trt" & p$visit == "7"] - 0.05
                    }
                    tip$root_delta <- stats::uniroot(f, c(d0, d1), tol = 1e-10)$root
                }
            }
            cs[[key]] <- list(
                rows = rows,
                tipping_point_visit7 = tip,
                delta_template_rows_nonzero_at_delta_1 = tmpl[tmpl$delta != 0, ]
            )
        }
        out[[strategy]] <- cs
    }
    write_json_file(
        list(
            meta = c(META, list(
                part = "d: delta adjustment and tipping point, conditional mean + jackknife",
                call = paste(
                    "(drawObj, imputeObj from part a, same strategy and optimizer key)",
                    "dt <- delta_template(imputeObj, delta = rep(d, 4), dlag = c(1, 0, 0, 0));",
                    "dt$delta[dt$THERAPY != 'DRUG'] <- 0;",
                    "pool(analyse(imputeObj, ancova, delta = dt[, c('PATIENT', 'VISIT', 'delta')], vars = vars_ana))"
                ),
                delta = paste(
                    "d is added to every imputed (missing) DRUG value at and after the patient's ICE",
                    "(delta_template: is_post_ice & is_missing; missing_only = TRUE), at every visit,",
                    "constant (not cumulative). Patient 3618 (no ICE) and PLACEBO get 0. For MAR the ICE",
                    "rows carry strategy 'MAR' so that is_post_ice is defined. The jackknife replicates",
                    "get the same delta on their own imputed values."
                ),
                grid = DELTA_GRID,
                tipping = paste(
                    "first_grid_delta: first grid delta with visit-7 trt p >= 0.05;",
                    "interpolated_delta: linear interpolation of p between it and the grid point before;",
                    "root_delta: uniroot of p(delta) - 0.05 on that interval (tol 1e-10)"
                )
            )),
            cases = out
        ),
        "tipping_point.json"
    )
}

# =============================================================================================
# Part e: observed post-ICE data (JR, condmean jackknife)
# =============================================================================================
if ("e" %in% PARTS) {
    message("part e")
    ice_all <- derive_ice(dat, "JR")
    ice_vis <- as.integer(as.character(ice_all$VISIT))
    grp <- vapply(as.character(ice_all$PATIENT), function(p) as.character(dat$THERAPY[dat$PATIENT == p][1]), "")
    # per arm: the 4 dropouts with the smallest ids among those whose ICE is visit 6 or 7
    pick_drop <- unlist(lapply(c("DRUG", "PLACEBO"), function(g) {
        cand <- sort(as.character(ice_all$PATIENT[grp == g & ice_vis >= 6]))
        head(cand, 4)
    }))
    # per arm: the completer (all 4 visits observed) with the smallest id
    n_obs <- tapply(!is.na(dat$CHANGE), dat$PATIENT, sum)
    completers <- names(n_obs)[n_obs == 4]
    th <- tapply(as.character(dat$THERAPY), dat$PATIENT, `[`, 1)
    pick_comp <- unlist(lapply(c("DRUG", "PLACEBO"), function(g) head(sort(completers[th[completers] == g]), 1)))
    ice_e <- ice_all
    moved <- ice_e$PATIENT %in% pick_drop
    ice_e$VISIT <- as.character(ice_e$VISIT)
    ice_e$VISIT[moved] <- as.character(as.integer(ice_e$VISIT[moved]) - 1L)
    ice_e <- rbind(ice_e, data.frame(PATIENT = pick_comp, VISIT = "7", strategy = "JR"))
    ice_e$PATIENT <- factor(as.character(ice_e$PATIENT), levels = levels(dat$PATIENT))
    ice_e$VISIT <- factor(ice_e$VISIT, levels = levels(dat$VISIT))
    ice_e <- ice_e[order(ice_e$PATIENT), ]
    rownames(ice_e) <- NULL
    chosen <- c(pick_drop, pick_comp)
    post_ice_obs <- do.call(rbind, lapply(chosen, function(p) {
        v <- as.character(ice_e$VISIT[ice_e$PATIENT == p])
        x <- dat[dat$PATIENT == p & as.integer(as.character(dat$VISIT)) >= as.integer(v) & !is.na(dat$CHANGE), ]
        data.frame(PATIENT = p, THERAPY = as.character(x$THERAPY), VISIT = as.character(x$VISIT),
            CHANGE = x$CHANGE, stringsAsFactors = FALSE)
    }))

    e_out <- list()
    for (mode in c("rbmi", "exact")) {
        key <- if (mode == "rbmi") "rbmi" else "rbmi_exact_optimum"
        r <- with_optimizer(mode, {
            # what rbmi does
            res <- run_jackknife(dat, ice_e)
            # near miss 1: the post-ICE observations kept in the imputation model. rbmi refuses
            # impute(update_strategy =) from MAR to JR for patients with post-ICE data, so the
            # ICE strategies are switched on the draws object's longdata after draws() ran with MAR.
            ice_mar <- ice_e; ice_mar$strategy <- "MAR"
            d_nm <- draws(dat, ice_mar, vars_imp, method_condmean(type = "jackknife"), quiet = TRUE)
            im_nm <- imputation_model(d_nm, mode = mode)   # before the switch: the model as fitted
            refused <- tryCatch(
                { impute(d_nm, references = REFERENCES, update_strategy = ice_e); "no error" },
                error = function(e) conditionMessage(e)
            )
            d_nm$data$set_strategies(ice_e)
            i_nm <- impute(d_nm, references = REFERENCES)
            p_nm <- pool(analyse(i_nm, ancova, vars = vars_ana))
            # near miss 2: the post-ICE observations discarded (set to NA) and imputed under JR
            dat_na <- dat
            for (k in seq_len(nrow(post_ice_obs))) {
                sel <- dat_na$PATIENT == post_ice_obs$PATIENT[k] & dat_na$VISIT == post_ice_obs$VISIT[k]
                dat_na$CHANGE[sel] <- NA
            }
            res_na <- run_jackknife(dat_na, ice_e)
            list(res = res, i_nm = i_nm, p_nm = p_nm, im_nm = im_nm, refused = refused, res_na = res_na)
        })
        v <- r$value
        e_out[[key]] <- list(
            result = jackknife_summary(v$res, fits = r$fits, mode = mode),
            imputed_values_chosen = imputed_rows(v$res$impute, 1)[imputed_rows(v$res$impute, 1)$PATIENT %in% chosen, ],
            near_miss_post_ice_in_model = list(
                what = paste(
                    "JR imputation from an MMRM fitted WITH the observed post-ICE values",
                    "(draws() with strategy MAR, then drawObj$data$set_strategies(JR ICE table), impute, analyse, pool)"
                ),
                rbmi_refuses_update_strategy = v$refused,
                pooled = pool_rows(v$p_nm),
                imputation_model = v$im_nm,
                imputed_values_chosen = imputed_rows(v$i_nm, 1)[imputed_rows(v$i_nm, 1)$PATIENT %in% chosen, ]
            ),
            near_miss_post_ice_discarded = list(
                what = "the observed post-ICE values set to NA, so JR imputes them (rbmi keeps them)",
                pooled = pool_rows(v$res_na$pool)
            )
        )
    }
    write_json_file(
        list(
            meta = c(META, list(
                part = "e: observed post-ICE data under JR, conditional mean + jackknife",
                construction = paste(
                    "The quickstart ICE table (JR) with 10 patients changed: per arm the 4 dropouts with",
                    "the smallest ids among those whose first missing visit is 6 or 7 get their ICE one visit",
                    "earlier (so their last observed value is post-ICE), and per arm the completer with the",
                    "smallest id gets an ICE at visit 7 (observed visit 7 is post-ICE, nothing to impute)."
                ),
                call = CALL_JACKKNIFE,
                what_rbmi_does = paste(
                    "draws(): longdata$get_data(ids, mnar.rm = TRUE, na.rm = TRUE) drops every row at or after",
                    "the ICE of a patient with a non-MAR strategy (is_mar = FALSE), observed or not, before the",
                    "MMRM is fitted; impute(): only NA outcomes are imputed, and the conditional mean of a",
                    "patient's missing visits conditions on ALL the patient's observed values, post-ICE ones",
                    "included (get_conditional_parameters uses values[!is.na]); analyse(): observed post-ICE",
                    "values enter the ANCOVA unchanged. Docs: vignette 'advanced', section 'Handling of",
                    "observed post-ICE data in rbmi under reference-based imputation'; vignette 'stat_specs'."
                )
            )),
            chosen_patients = chosen,
            ice = ice_rows(ice_e),
            post_ice_observed = post_ice_obs,
            cases = e_out
        ),
        "post_ice.json"
    )
}

# =============================================================================================
# Part f: plain MMRM (UN, REML, Kenward-Roger) with mmrm
# =============================================================================================
if ("f" %in% PARTS) {
    message("part f")
    raw <- utils::read.csv(DATA_PATH, colClasses = c(PATIENT = "character", VISIT = "character"))
    raw$PATIENT <- factor(raw$PATIENT)
    raw$VISIT <- factor(raw$VISIT, levels = c("4", "5", "6", "7"))
    raw$THERAPY <- factor(raw$THERAPY, levels = c("PLACEBO", "DRUG"))
    frm <- CHANGE ~ BASVAL * VISIT + THERAPY * VISIT + us(VISIT | PATIENT)
    diff7 <- function(fit) {
        b <- stats::coef(fit)
        L <- setNames(numeric(length(b)), names(b))
        stopifnot(all(c("THERAPYDRUG", "VISIT7:THERAPYDRUG") %in% names(b)))
        L[c("THERAPYDRUG", "VISIT7:THERAPYDRUG")] <- 1
        t <- mmrm::df_1d(fit, L)
        list(contrast = "DRUG - PLACEBO at visit 7 (THERAPYDRUG + VISIT7:THERAPYDRUG)",
            estimate = t$est, se = t$se, df = t$df, t = t$t_stat, p = t$p_val)
    }
    f_out <- list()
    for (mode in c("rbmi", "exact")) {
        key <- if (mode == "rbmi") "mmrm_default_optimizer" else "exact_optimum"
        r <- with_optimizer(mode, {
            kr <- mmrm::mmrm(frm, data = raw, reml = TRUE, method = "Kenward-Roger")
            sat <- mmrm::mmrm(frm, data = raw, reml = TRUE, method = "Satterthwaite")
            krl <- mmrm::mmrm(frm, data = raw, reml = TRUE, method = "Kenward-Roger", vcov = "Kenward-Roger-Linear")
            res <- mmrm::mmrm(frm, data = raw, reml = TRUE, method = "Residual")
            ml <- mmrm::mmrm(frm, data = raw, reml = FALSE, method = "Satterthwaite")
            list(kr = kr, sat = sat, krl = krl, res = res, ml = ml)
        })
        v <- r$value
        f_out[[key]] <- list(
            minus2_reml_loglik = -2 * as.numeric(stats::logLik(v$kr)),
            max_abs_gradient = max(abs(v$kr$tmb_object$gr(v$kr$theta_est))),
            kenward_roger = diff7(v$kr),
            kenward_roger_linear = diff7(v$krl),
            beta = data.frame(term = names(stats::coef(v$kr)), estimate = unname(stats::coef(v$kr))),
            sigma = unname(lapply(seq_len(4), function(i) unname(mmrm::component(v$kr, "varcor")[i, ]))),
            near_misses = list(
                satterthwaite = diff7(v$sat),
                residual_df = diff7(v$res),
                ml = c(diff7(v$ml), list(minus2_loglik = -2 * as.numeric(stats::logLik(v$ml))))
            )
        )
    }
    sas <- list(
        source = "../shared/rbmi/five_macros_results.json, mmrm_kr (SAS PROC MIXED DDFM=KR, transcribed from rbmi's misc/antidepressant_analysis/results_SAS.pdf)",
        minus2_reml_loglik = 3494.20285008,
        estimate = -2.8018, se = 1.1163, df = 150, t = -2.51, p = 0.0131
    )
    ex <- f_out$exact_optimum
    f_out$vs_sas <- list(
        what = paste(
            "exact_optimum minus SAS. SAS prints its numbers rounded (estimate and SE to 4 decimals,",
            "df to an integer). For TYPE=UN SAS's DDFM=KR equals mmrm's 'Kenward-Roger-Linear'",
            "(no second-derivative term: UN is linear in its parameters); mmrm's 'Kenward-Roger'",
            "(log-Cholesky parametrization, second derivatives kept) gives a smaller SE"
        ),
        minus2_reml_loglik_diff = ex$minus2_reml_loglik - sas$minus2_reml_loglik,
        estimate_diff = ex$kenward_roger_linear$estimate - sas$estimate,
        se_diff_kenward_roger_linear = ex$kenward_roger_linear$se - sas$se,
        se_diff_kenward_roger = ex$kenward_roger$se - sas$se,
        df_diff = ex$kenward_roger_linear$df - sas$df,
        p_diff_kenward_roger_linear = ex$kenward_roger_linear$p - sas$p
    )
    write_json_file(
        list(
            meta = c(META, list(
                part = "f: plain MMRM on the observed data (608 rows), mmrm",
                call = paste(
                    "mmrm(CHANGE ~ BASVAL * VISIT + THERAPY * VISIT + us(VISIT | PATIENT), data = raw,",
                    "reml = TRUE, method = 'Kenward-Roger') (vcov Kenward-Roger); visit-7 difference",
                    "df_1d(fit, L) with L = THERAPYDRUG + VISIT7:THERAPYDRUG"
                )
            )),
            sas = sas,
            cases = f_out
        ),
        "mmrm_plain.json"
    )
}

message("done")
