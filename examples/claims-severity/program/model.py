"""Feature encoding, the model file, and scoring with per-term explanations.

Model terms: every numeric feature standardized with the training mean and
standard deviation, and one indicator per non-base level of each categorical
feature (levels sorted; the first is the base). On the log scale

    log(prediction) = base + sum(term contributions) [+ log(exposure)]

where base is the log expected annual cost of a policy at the training means
in the base region, and a numeric term contributes coef * (x - mean), i.e.
coef_std * (x - mean) / sd. `coef` is per raw unit of the feature (per year,
per thousand, ...), the scale truth.json uses.
"""
import hashlib
import json
import math
import os

import dataset
import tweedie

FORMAT = "claims-severity/tweedie-glm/v1"
MODEL_FILE = "model.json"


class ModelError(ValueError):
    pass


def fit_encoding(table):
    numeric = []
    for name in dataset.NUMERIC:
        values = table.numeric[name]
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)
        if not var > 0.0:
            raise dataset.DataError("feature '%s' has the same value in every training row; the model cannot learn its effect" % name)
        numeric.append({"name": name, "kind": "numeric", "feature": name, "center": mean, "scale": math.sqrt(var)})
    categorical = {}
    indicators = []
    for name in dataset.CATEGORICAL:
        levels = sorted(set(table.categorical[name]))
        categorical[name] = {"levels": levels, "base": levels[0]}
        for level in levels[1:]:
            indicators.append({"name": "%s_%s" % (name, level), "kind": "indicator", "feature": name, "level": level})
    return numeric + indicators, categorical


def design_columns(terms, table):
    """Intercept first, then one standardized column per term."""
    n = len(table)
    columns = [[1.0] * n]
    for term in terms:
        if term["kind"] == "numeric":
            c, s = term["center"], term["scale"]
            columns.append([(v - c) / s for v in table.numeric[term["feature"]]])
        else:
            level = term["level"]
            columns.append([1.0 if v == level else 0.0 for v in table.categorical[term["feature"]]])
    return columns


def train(table, hp, log=None):
    terms, categorical = fit_encoding(table)
    columns = design_columns(terms, table)
    offset = [math.log(e) for e in table.exposure]
    names = ["intercept"] + [t["name"] for t in terms]
    result = tweedie.fit(columns, names, table.y, offset, table.weight,
                         hp["power"], hp["l2"], hp["max_iter"], hp["tol"], log)
    beta = result["beta"]
    intercept_raw = beta[0]
    out_terms = []
    for term, b in zip(terms, beta[1:]):
        t = dict(term)
        t["coef_std"] = b
        if term["kind"] == "numeric":
            t["coef"] = b / term["scale"]
            intercept_raw -= t["coef"] * term["center"]
        else:
            t["coef"] = b
        out_terms.append(t)
    model = Model({
        "format": FORMAT,
        "target": dataset.TARGET,
        "link": "log",
        "power": hp["power"],
        "base": beta[0],
        "intercept": intercept_raw,
        "terms": out_terms,
        "categorical": categorical,
        "fit": {"iterations": result["iterations"], "converged": result["converged"], "objective": result["objective"],
                "rows": len(table), "hyperparameters": hp},
    })
    mu = model.mean(table)
    # Pearson estimate of phi on the original scale; the IRLS does not need it.
    dof = max(1, len(table) - len(beta))
    model.data["dispersion"] = sum(
        w * (y - m) ** 2 / m ** hp["power"] for y, m, w in zip(table.y, mu, table.weight)) / dof
    model.data["model_id"] = model.fingerprint()
    return model


class Model:
    def __init__(self, data):
        self.data = data
        self.terms = data["terms"]
        self.categorical = data["categorical"]

    @property
    def model_id(self):
        return self.data.get("model_id") or self.fingerprint()

    def fingerprint(self):
        """Content id: the same coefficients give the same id, whenever trained."""
        core = {k: self.data[k] for k in ("format", "power", "base", "terms", "categorical")}
        digest = hashlib.sha256(json.dumps(core, sort_keys=True).encode("utf-8")).hexdigest()
        return "claims-severity-" + digest[:12]

    def coefficients(self):
        """Per-raw-unit coefficients keyed by term name, as in truth.json."""
        return {t["name"]: t["coef"] for t in self.terms}

    # ---- training-time scoring -------------------------------------------

    def mean(self, table):
        eta = [self.data["base"] + math.log(e) for e in table.exposure]
        for t in self.terms:
            if t["kind"] == "numeric":
                c, b = t["center"], t["coef"]
                eta = [a + b * (v - c) for a, v in zip(eta, table.numeric[t["feature"]])]
            else:
                level, b = t["level"], t["coef"]
                eta = [a + (b if v == level else 0.0) for a, v in zip(eta, table.categorical[t["feature"]])]
        return [math.exp(min(a, 700.0)) for a in eta]

    def metrics(self, table):
        mu = self.mean(table)
        p = self.data["power"]
        return {
            "deviance": tweedie.mean_deviance(table.y, mu, table.weight, p),
            "gini": tweedie.gini(table.y, mu, table.exposure),
            "mean_prediction": sum(mu) / len(mu),
            "mean_actual": sum(table.y) / len(table.y),
        }

    # ---- serving ------------------------------------------------------------

    def explain(self, row, index):
        """One request row -> {"prediction", "risk_terms"}; raises DataError naming the row and field."""
        where = "row %d" % index
        risk = {"base": self.data["base"]}
        for t in self.terms:
            f = t["feature"]
            if f not in row:
                raise dataset.DataError("%s: %s is missing; each row needs %s" % (where, f, ", ".join(dataset.FEATURES)))
        for name, spec in self.categorical.items():
            if name not in row:
                raise dataset.DataError("%s: %s is missing" % (where, name))
            value = dataset.category(row[name], name, where)
            if value not in spec["levels"]:
                raise dataset.DataError("%s: %s %r is not a level the model knows; use one of %s"
                                        % (where, name, value, ", ".join(spec["levels"])))
        for t in self.terms:
            if t["kind"] == "numeric":
                x = dataset.number(row[t["feature"]], t["feature"], where)
                risk[t["name"]] = t["coef"] * (x - t["center"])
            else:
                value = dataset.category(row[t["feature"]], t["feature"], where)
                risk[t["name"]] = t["coef"] if value == t["level"] else 0.0
        exposure = row.get(dataset.EXPOSURE)
        if exposure is not None and str(exposure).strip() != "":
            e = dataset.number(exposure, dataset.EXPOSURE, where)
            if e <= 0:
                raise dataset.DataError("%s: exposure must be positive, got %r" % (where, exposure))
            risk["log_exposure"] = math.log(e)
        log_prediction = sum(risk.values())
        return {"prediction": math.exp(min(log_prediction, 700.0)), "risk_terms": risk}

    # ---- files ----------------------------------------------------------------

    def save(self, model_dir):
        os.makedirs(model_dir, exist_ok=True)
        path = os.path.join(model_dir, MODEL_FILE)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, model_dir):
        path = os.path.join(model_dir, MODEL_FILE)
        if not os.path.exists(path):
            raise ModelError("no model at %s; train first (the model folder comes from SM_MODEL_DIR or /opt/ml/model)" % path)
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except ValueError as e:
                raise ModelError("%s is not valid JSON: %s" % (path, e)) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError("%s is not a %s model file" % (path, FORMAT))
        return cls(data)
