# Writes tiny_adam.sas7bdat (a 4-record ADaM BDS data set) with haven::write_sas, and the same
# records as tiny_adam.csv plus the software versions in tiny_adam.json. pyreadstat cannot
# write sas7bdat, so this fixture lets the test suite read a real sas7bdat file without R.
# Run from this folder: Rscript make_tiny_sas7bdat.R
suppressMessages(library(haven))
suppressMessages(library(jsonlite))
d <- data.frame(
  USUBJID = c("R01", "R01", "C01", "C01"),
  TRT01P  = c("Retro walking", "Retro walking", "Usual care", "Usual care"),
  AVISIT  = c("Baseline", "Week 6", "Baseline", "Week 6"),
  AVISITN = c(0, 6, 0, 6),
  PARAMCD = "PAIN",
  AVAL    = c(7, 4, 6, NA),
  AGE     = c(55, 55, 60, 60)
)
write_sas(d, "tiny_adam.sas7bdat")
write.csv(d, "tiny_adam.csv", row.names = FALSE, na = "")
writeLines(toJSON(list(
  file = "tiny_adam.sas7bdat", records = nrow(d), missing_aval_record = 4,
  r_version = R.version.string, haven_version = as.character(packageVersion("haven"))
), auto_unbox = TRUE, pretty = TRUE), "tiny_adam.json")
