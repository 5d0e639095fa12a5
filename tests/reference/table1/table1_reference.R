# Reference values for retrostudy.tables (Table 1 SMDs and summaries), computed with base R only.
# Run from this folder: Rscript table1_reference.R   (writes table1_reference.json)
# SMD definitions (Austin 2009; Yang & Dalton 2012, as tableone::ExtractSmd):
#   continuous  |m1 - m2| / sqrt((v1 + v2) / 2)
#   categorical sqrt(d' S^-1 d), d = p1 - p2 over levels 2..k, S = (S1 + S2) / 2 with Sj = diag(pj) - pj pj'
# Summaries per arm and over all arms ("Total", the Table 1 total column).
# Near miss: the n-weighted pooled SD of Cohen's d, sqrt(((n1-1) v1 + (n2-1) v2) / (n1 + n2 - 2)).
library(jsonlite)
d <- read.csv("subjects.csv", stringsAsFactors = FALSE, na.strings = c("", "NA"))
arms <- c("retro", "forward", "control")
pairs <- combn(arms, 2)
smd_cont <- function(x, y) { x <- x[!is.na(x)]; y <- y[!is.na(y)]; abs(mean(x) - mean(y)) / sqrt((var(x) + var(y)) / 2) }
cohen_pooled <- function(x, y) { x <- x[!is.na(x)]; y <- y[!is.na(y)]; n1 <- length(x); n2 <- length(y)
  abs(mean(x) - mean(y)) / sqrt(((n1 - 1) * var(x) + (n2 - 1) * var(y)) / (n1 + n2 - 2)) }
smd_cat <- function(x, y, levels) {
  x <- x[!is.na(x)]; y <- y[!is.na(y)]
  p1 <- sapply(levels, function(l) mean(x == l))[-1]; p2 <- sapply(levels, function(l) mean(y == l))[-1]
  S <- ((diag(p1, length(p1)) - p1 %*% t(p1)) + (diag(p2, length(p2)) - p2 %*% t(p2))) / 2
  dd <- p1 - p2
  sqrt(as.numeric(t(dd) %*% solve(S) %*% dd))
}
smd <- list(); near <- list()
for (j in seq_len(ncol(pairs))) {
  a <- pairs[1, j]; b <- pairs[2, j]
  for (v in c("age", "pain")) {
    smd[[length(smd) + 1]] <- list(variable = v, first = a, second = b, smd = smd_cont(d[d$arm == a, v], d[d$arm == b, v]))
    near[[length(near) + 1]] <- list(variable = v, first = a, second = b, smd = cohen_pooled(d[d$arm == a, v], d[d$arm == b, v]))
  }
  for (v in c("sex", "grade")) {
    lv <- sort(unique(d[[v]][!is.na(d[[v]])]))
    smd[[length(smd) + 1]] <- list(variable = v, first = a, second = b, smd = smd_cat(d[d$arm == a, v], d[d$arm == b, v], lv))
  }
}
summ <- list()
for (a in c(arms, "Total")) for (v in c("age", "pain")) {
  x <- if (a == "Total") d[[v]] else d[d$arm == a, v]; y <- x[!is.na(x)]
  q <- quantile(y, c(0.25, 0.5, 0.75), type = 7)
  summ[[length(summ) + 1]] <- list(variable = v, arm = a, n = length(y), missing = sum(is.na(x)), mean = mean(y),
                                   sd = sd(y), median = unname(q[2]), q1 = unname(q[1]), q3 = unname(q[3]))
}
out <- list(
  source = "table1_reference.R (base R only)", r_version = R.version.string,
  packages = list(jsonlite = as.character(packageVersion("jsonlite"))),
  tolerance = list(rtol = 1e-12, reason = "closed-form formulas; only floating-point rounding differs"),
  smd = smd, near_miss_cohen_pooled_sd = near, summaries = summ)
write_json(out, "table1_reference.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
