# What train and serve share: SageMaker's folders, the data schema, number
# parsing that names the row and field, and the model file.

TARGET <- "claim_cost"
NUMERIC <- c("driver_age", "vehicle_age", "vehicle_value", "annual_mileage")
CATEGORICAL <- "region"
# Headerless request rows carry exactly these columns in this order, optionally
# followed by exposure (the Python example's order).
FEATURES <- c(NUMERIC, CATEGORICAL)
EXPOSURE <- "exposure"
WEIGHT <- "weight"
FORMAT <- "claims-severity/tweedie-glm/v1"
MODEL_FILE <- "model.json"

# A condition of its own, so bad input is told apart from a bug in the program.
data_error <- function(fmt, ...) {
  stop(structure(class = c("data_error", "error", "condition"),
                 list(message = sprintf(fmt, ...), call = NULL)))
}

# Each location honours the SageMaker training toolkit's variable when it is
# set, else the /opt/ml default, as the Python example does.
sm_paths <- function() {
  get <- function(name, default) {
    value <- Sys.getenv(name, "")
    if (nzchar(value)) value else default
  }
  input <- get("SM_INPUT_DIR", "/opt/ml/input")
  config <- get("SM_INPUT_CONFIG_DIR", file.path(input, "config"))
  output <- get("SM_OUTPUT_DIR", "/opt/ml/output")
  list(
    input = input,
    config = config,
    data = file.path(input, "data"),
    model = get("SM_MODEL_DIR", "/opt/ml/model"),
    output = output,
    output_data = get("SM_OUTPUT_DATA_DIR", file.path(output, "data")),
    failure = file.path(output, "failure"),
    hyperparameters = file.path(config, "hyperparameters.json"),
    input_data_config = file.path(config, "inputdataconfig.json")
  )
}

# SM_CHANNEL_<NAME> when set, else <input>/data/<name>.
channel_dir <- function(paths, name) {
  value <- Sys.getenv(paste0("SM_CHANNEL_", toupper(name)), "")
  if (nzchar(value)) value else file.path(paths$data, name)
}

# Plain decimal numbers only: as.numeric alone would also take "0x1A", "Inf" and "NA".
DECIMAL <- "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"

# Character vector -> numbers; NA where the text is not a finite decimal number.
parse_numbers <- function(text) {
  text <- trimws(as.character(text))
  out <- rep(NA_real_, length(text))
  ok <- !is.na(text) & grepl(DECIMAL, text)
  out[ok] <- as.numeric(text[ok])
  out[!is.finite(out)] <- NA_real_
  out
}

# The numbers of one column, or a data_error naming the first bad one.
# `where` gives the place of the i-th value ("train.csv line 17", "row 2").
numbers_or_fail <- function(text, field, where) {
  values <- parse_numbers(text)
  bad <- which(is.na(values))
  if (length(bad) > 0) {
    i <- bad[1]
    raw <- trimws(as.character(text[i]))
    if (is.na(raw) || raw == "") data_error("%s: %s is missing", where(i), field)
    data_error("%s: %s must be a number, got '%s'", where(i), field, raw)
  }
  values
}

# CSV text lines -> a character matrix (header row first when there is one),
# blank lines dropped; `line` holds each row's line number for messages.
# Every row must have `width` fields unless `widths` allows others.
read_csv_lines <- function(lines, what, widths = NULL) {
  if (length(lines) > 0) lines[1] <- sub("^\ufeff", "", lines[1])
  keep <- which(nzchar(trimws(lines)))
  if (length(keep) == 0) return(list(cells = matrix(character(0), 0, 0), line = integer(0)))
  lines <- lines[keep]
  counts <- count.fields(textConnection(lines), sep = ",", quote = "\"", comment.char = "",
                         blank.lines.skip = FALSE)
  if (anyNA(counts)) data_error("%s line %d: an unterminated quote", what, keep[which(is.na(counts))[1]])
  allowed <- if (is.null(widths)) counts[1] else widths
  bad <- which(!(counts %in% allowed))
  if (length(bad) > 0) {
    i <- bad[1]
    if (is.null(widths)) data_error("%s line %d: %d fields, the header has %d", what, keep[i], counts[i], counts[1])
    data_error("row %d: %d fields; a headerless row holds %s[,%s]", i, counts[i],
               paste(FEATURES, collapse = ","), EXPOSURE)
  }
  frame <- read.csv(text = lines, header = FALSE, colClasses = "character", strip.white = TRUE,
                    fill = TRUE, col.names = paste0("V", seq_len(max(counts))), na.strings = character(0),
                    comment.char = "", blank.lines.skip = FALSE, check.names = FALSE)
  cells <- as.matrix(frame)
  cells[is.na(cells)] <- ""
  dimnames(cells) <- NULL
  list(cells = cells, line = keep, counts = counts)
}

# ---- the model file ---------------------------------------------------------

load_model <- function(model_dir) {
  path <- file.path(model_dir, MODEL_FILE)
  if (!file.exists(path)) {
    data_error("no model at %s; train first (the model folder comes from SM_MODEL_DIR or /opt/ml/model)", path)
  }
  model <- tryCatch(jsonlite::fromJSON(path, simplifyVector = FALSE),
                    error = function(e) data_error("%s is not valid JSON: %s", path, conditionMessage(e)))
  if (!is.list(model) || !identical(model$format, FORMAT)) data_error("%s is not a %s model file", path, FORMAT)
  model
}

# Request rows (a list of named lists, as JSON gives them) -> one column per
# field the model needs, each a character vector, missing fields "".
columns_of <- function(rows, fields) {
  out <- list()
  for (f in fields) {
    out[[f]] <- vapply(rows, function(r) {
      v <- r[[f]]
      if (is.null(v)) "" else if (is.list(v) || length(v) != 1) "<a list>" else if (is.na(v)) "" else as.character(v)
    }, character(1))
  }
  out
}

# Scores request rows, given column by column (character vectors named as the
# fields, "" where a row has no value): the prediction and its risk terms on the log scale,
#   log(prediction) = base + sum(coef * (x - center)) + region indicator [+ log(exposure)]
# Returns list(prediction, terms = matrix (rows x term names), log_exposure (NA where not given)).
explain <- function(model, cols) {
  n <- length(cols[[FEATURES[1]]])
  where <- function(i) sprintf("row %d", i)
  names_ <- c("base", vapply(model$terms, function(t) t$name, character(1)))
  terms <- matrix(0, nrow = n, ncol = length(names_), dimnames = list(NULL, names_))
  terms[, "base"] <- model$base
  for (f in FEATURES) {
    missing <- which(cols[[f]] == "")
    if (length(missing) > 0) {
      data_error("%s: %s is missing; each row needs %s", where(missing[1]), f, paste(FEATURES, collapse = ", "))
    }
  }
  for (name in names(model$categorical)) {
    levels <- unlist(model$categorical[[name]]$levels)
    value <- trimws(cols[[name]])
    unknown <- which(!(value %in% levels))
    if (length(unknown) > 0) {
      i <- unknown[1]
      data_error("%s: %s '%s' is not a level the model knows; use one of %s",
                 where(i), name, value[i], paste(levels, collapse = ", "))
    }
  }
  for (t in model$terms) {
    if (identical(t$kind, "numeric")) {
      x <- numbers_or_fail(cols[[t$feature]], t$feature, where)
      terms[, t$name] <- t$coef * (x - t$center)
    } else {
      terms[, t$name] <- ifelse(trimws(cols[[t$feature]]) == t$level, t$coef, 0)
    }
  }
  given <- cols[[EXPOSURE]] != ""
  log_exposure <- rep(NA_real_, n)
  if (any(given)) {
    e <- numbers_or_fail(cols[[EXPOSURE]][given], EXPOSURE, function(i) where(which(given)[i]))
    if (any(e <= 0)) {
      i <- which(given)[which(e <= 0)[1]]
      data_error("%s: exposure must be positive, got '%s'", where(i), cols[[EXPOSURE]][i])
    }
    log_exposure[given] <- log(e)
  }
  eta <- rowSums(terms) + ifelse(given, log_exposure, 0)
  list(prediction = exp(pmin(eta, 700)), terms = terms, log_exposure = log_exposure)
}
