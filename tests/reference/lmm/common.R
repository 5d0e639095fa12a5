# Helpers shared by make_lmer.R and make_gls.R: full-precision JSON and version records.
# jsonlite 1.8 prints at most 15 significant digits, so numbers are formatted here with
# sprintf("%.17g") (round-trip exact for doubles) and passed through as verbatim JSON.

num17 <- function(x) {
  if (is.matrix(x)) {
    return(lapply(seq_len(nrow(x)), function(i) num17(I(unname(x[i, ])))))
  }
  if (is.list(x)) return(lapply(x, num17))
  if (is.numeric(x) || is.logical(x) && all(is.na(x))) {
    as_array <- inherits(x, "AsIs") || length(x) != 1
    x <- as.numeric(x)
    s <- ifelse(is.finite(x), sprintf("%.17g", x), "null")
    return(structure(if (as_array) paste0("[", paste(s, collapse = ","), "]") else s, class = "json"))
  }
  x
}

write_json17 <- function(x, path) {
  txt <- jsonlite::toJSON(num17(x), auto_unbox = TRUE, json_verbatim = TRUE, pretty = TRUE)
  writeLines(txt, path)
}

versions <- function(pkgs) {
  out <- list(R = R.version.string)
  for (p in pkgs) out[[p]] <- as.character(packageVersion(p))
  out
}

rel_diff <- function(a, b) max(abs(a - b) / pmax(abs(b), 1e-300))
