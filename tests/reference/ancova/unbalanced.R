# Reference values for an unbalanced design with a categorical covariate (unbalanced.csv, written
# by make_unbalanced.py): arms 34/27/21, site A/B/C distributed differently by arm, so EMMs with
# equal and proportional weights differ. Cases:
#   ancova       week-6 pain ~ arm + baseline + site + age (complete cases; reference control),
#                EMMs with equal and proportional weights (each is the other's near miss);
#   long_ols     value ~ arm * visit + age on the long table (an OLS fit with an arm x visit grid,
#                used to check that emmeans/contrasts/joint tests accept a hand-built ModelFit).
# Run: Rscript tests/reference/ancova/unbalanced.R   (writes unbalanced.json)
args <- grep("^--file=", commandArgs(FALSE), value = TRUE)
here <- if (length(args)) dirname(normalizePath(sub("^--file=", "", args[1]))) else getwd()
source(file.path(here, "common.R"))
path <- file.path(here, "unbalanced.csv")
d <- read.csv(path, stringsAsFactors = FALSE, na.strings = c("", "NA"))
arms <- c("retro", "forward", "control")
b <- d[d$visit == "baseline", c("subject_id", "arm", "value", "site", "age")]
p <- d[d$visit == "week6", c("subject_id", "value")]
names(b)[3] <- "baseline"; names(p)[2] <- "post"
w <- merge(b, p, by = "subject_id", sort = FALSE)
w <- w[complete.cases(w), ]
w <- w[order(w$subject_id), ]
w$arm <- factor(w$arm, levels = arms); w$site <- factor(w$site); rownames(w) <- NULL
anc <- ancova_case(w, c("site", "age"), "control", weights = c("equal", "proportional"))
# proportional-weight contrasts (equal to the equal-weight ones: no arm x site interaction)
m <- lm(post ~ arm + baseline + site + age, data = w)
# long OLS with an arm x visit grid
L <- d[!is.na(d$value), ]
L$arm <- factor(L$arm, levels = arms); L$visit <- factor(L$visit, levels = c("baseline", "week6"))
contrasts(L$arm) <- contr.treatment(arms, base = 3)
ml <- lm(value ~ arm * visit + age, data = L)
el <- emmeans(ml, ~ arm | visit)
long <- list(n = nobs(ml), coef_names = names(coef(ml)), coef = I(unname(coef(ml))), vcov = unname(vcov(ml)),
             df_resid = df.residual(ml), emmeans = tab(summary(el, infer = TRUE), "arm"), contrasts = list())
for (adj in c("none", "holm", "mvt")) {
  con <- contrast(el, "pairwise", adjust = adj)
  res <- tab(summary(con, infer = TRUE), "contrast")
  if (adj == "mvt") res$precise <- lapply(split(seq_len(nrow(as.data.frame(con))), as.data.frame(con)$visit),
                                          function(i) mvt_precise(con[i]))
  long$contrasts[[adj]] <- res
}
jt <- joint_tests(ml)
long$joint_tests <- list(term = as.character(jt$`model term`), num_df = I(jt$df1), den_df = I(jt$df2),
                         statistic_rounded = I(jt$F.ratio), p_value = I(jt$p.value),
                         statistic = I(qf(jt$p.value, jt$df1, jt$df2, lower.tail = FALSE)))
out <- list(
  generated_by = "tests/reference/ancova/unbalanced.R",
  versions = versions(),
  data = "unbalanced.csv",
  data_sha256 = strsplit(system2("sha256sum", shQuote(path), stdout = TRUE), " ")[[1]][1],
  reference_arm = "control",
  site_counts = as.list(table(w$site)),
  cases = list(ancova = anc, long_ols = long)
)
write_json17(out, file.path(here, "unbalanced.json"))
