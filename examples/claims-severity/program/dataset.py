"""The data schema, training CSV input and request row parsing."""
import csv
import io
import math
import os

TARGET = "claim_cost"
NUMERIC = ("driver_age", "vehicle_age", "vehicle_value", "annual_mileage")
CATEGORICAL = ("region",)
# Headerless request rows carry exactly these columns in this order (the training
# columns without the target), optionally followed by exposure.
FEATURES = NUMERIC + CATEGORICAL
EXPOSURE = "exposure"
WEIGHT = "weight"


class DataError(ValueError):
    """Bad input data; the message says where and what to fix."""


def number(raw, field, where):
    if isinstance(raw, bool):
        raise DataError("%s: %s must be a number, got %r" % (where, field, raw))
    if isinstance(raw, (int, float)):
        value = float(raw)
    else:
        text = "" if raw is None else str(raw).strip()
        if text == "":
            raise DataError("%s: %s is missing" % (where, field))
        try:
            value = float(text)
        except ValueError:
            raise DataError("%s: %s must be a number, got %r" % (where, field, text)) from None
    if math.isnan(value) or math.isinf(value):
        raise DataError("%s: %s must be a finite number, got %r" % (where, field, raw))
    return value


def category(raw, field, where):
    text = "" if raw is None else str(raw).strip()
    if text == "":
        raise DataError("%s: %s is missing" % (where, field))
    return text


class Table:
    """Training rows held column by column, the layout the IRLS loops want."""

    def __init__(self):
        self.y = []
        self.numeric = {name: [] for name in NUMERIC}
        self.categorical = {name: [] for name in CATEGORICAL}
        self.exposure = []
        self.weight = []
        self.files = []

    def __len__(self):
        return len(self.y)


def channel_files(directory, channel):
    """Every .csv file under the channel folder (recursively, as S3 prefixes unpack), sorted."""
    if not os.path.isdir(directory):
        raise DataError("channel '%s': folder %s does not exist" % (channel, directory))
    found, others = [], []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(root, name)
            (found if name.lower().endswith(".csv") else others).append(path)
    if not found:
        hint = (" (found only: %s)" % ", ".join(os.path.relpath(p, directory) for p in others[:5])) if others else ""
        raise DataError("channel '%s': no .csv files in %s%s; put CSV files with a header row there" % (channel, directory, hint))
    return found


def read_channel(directory, channel):
    table = Table()
    for path in channel_files(directory, channel):
        _read_file(path, table)
    if len(table) == 0:
        raise DataError("channel '%s': the CSV files in %s hold no data rows" % (channel, directory))
    return table


def _read_file(path, table):
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = None
        for line_no, row in enumerate(reader, start=1):
            if not row or all(not cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                required = (TARGET,) + FEATURES
                missing = [c for c in required if c not in header]
                if missing:
                    raise DataError(
                        "%s: header row lacks column(s) %s; training CSV files need a header naming %s "
                        "(optional: %s, %s)" % (path, ", ".join(missing), ", ".join(required), EXPOSURE, WEIGHT))
                index = {name: header.index(name) for name in header}
                continue
            if len(row) != len(header):
                raise DataError("%s line %d: %d fields, the header has %d" % (path, line_no, len(row), len(header)))
            where = "%s line %d" % (path, line_no)
            y = number(row[index[TARGET]], TARGET, where)
            if y < 0:
                raise DataError("%s: %s must not be negative, got %r" % (where, TARGET, row[index[TARGET]]))
            table.y.append(y)
            for name in NUMERIC:
                table.numeric[name].append(number(row[index[name]], name, where))
            for name in CATEGORICAL:
                table.categorical[name].append(category(row[index[name]], name, where))
            table.exposure.append(_positive(row, index, EXPOSURE, where))
            table.weight.append(_positive(row, index, WEIGHT, where))
    if header is None:
        raise DataError("%s is empty; training CSV files need a header row" % path)
    table.files.append(path)


def _positive(row, index, name, where):
    if name not in index:
        return 1.0
    value = number(row[index[name]], name, where)
    if value <= 0:
        raise DataError("%s: %s must be positive, got %r" % (where, name, row[index[name]]))
    return value


# ---- request bodies --------------------------------------------------------

def rows_from_csv(text):
    """Request CSV -> list of {column: raw value}.

    With a header (first row names the columns; any order; claim_cost and other
    extra columns are ignored) or without one (columns in FEATURES order, then
    optionally exposure). A first row whose first cell is a column name is a header.
    """
    records = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not records:
        raise DataError("the CSV body holds no rows")
    first = [c.strip() for c in records[0]]
    known = set(FEATURES) | {TARGET, EXPOSURE, WEIGHT}
    if first[0] in known:
        header = first
        missing = [c for c in FEATURES if c not in header]
        if missing:
            raise DataError("CSV header lacks column(s) %s; expected %s" % (", ".join(missing), ",".join(FEATURES)))
        rows = []
        for i, rec in enumerate(records[1:], start=1):
            if len(rec) != len(header):
                raise DataError("row %d: %d fields, the header has %d" % (i, len(rec), len(header)))
            rows.append(dict(zip(header, rec)))
        if not rows:
            raise DataError("the CSV body has a header but no rows")
        return rows
    rows = []
    for i, rec in enumerate(records, start=1):
        if len(rec) == len(FEATURES):
            rows.append(dict(zip(FEATURES, rec)))
        elif len(rec) == len(FEATURES) + 1:
            rows.append(dict(zip(FEATURES + (EXPOSURE,), rec)))
        else:
            raise DataError("row %d: %d fields; a headerless row holds %s[,%s]"
                            % (i, len(rec), ",".join(FEATURES), EXPOSURE))
    return rows


def rows_from_json(obj):
    """{"instances": [{...}, ...]} or [{...}, ...] -> list of {column: value}."""
    if isinstance(obj, dict) and "instances" in obj:
        obj = obj["instances"]
    elif isinstance(obj, dict):
        raise DataError('the JSON body must be {"instances": [{feature: value, ...}, ...]} or a list of such objects')
    if not isinstance(obj, list):
        raise DataError('"instances" must be a list of objects')
    if not obj:
        raise DataError("no instances to score")
    for i, item in enumerate(obj, start=1):
        if not isinstance(item, dict):
            raise DataError("row %d: each instance must be an object of feature -> value, got %s" % (i, type(item).__name__))
    return obj
