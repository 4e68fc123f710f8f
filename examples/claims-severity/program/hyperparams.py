"""Hyperparameters: SageMaker hands every value over as a string."""
import json
import math
import os


class HyperparameterError(ValueError):
    pass


def _number(name, raw, need):
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise HyperparameterError("hyperparameter '%s' must be %s, got %r" % (name, need, raw)) from None
    if math.isnan(value) or math.isinf(value):
        raise HyperparameterError("hyperparameter '%s' must be %s, got %r" % (name, need, raw))
    return value


def _float(check, need):
    def convert(name, raw):
        value = _number(name, raw, need)
        if not check(value):
            raise HyperparameterError("hyperparameter '%s' must be %s, got %r" % (name, need, raw))
        return value
    return convert


def _int(check, need):
    def convert(name, raw):
        value = _number(name, raw, need)
        if value != int(value) or not check(int(value)):
            raise HyperparameterError("hyperparameter '%s' must be %s, got %r" % (name, need, raw))
        return int(value)
    return convert


# name -> (converter, default, description for the README and --help)
SPEC = {
    "power": (_float(lambda v: 1.0 < v < 2.0, "a number strictly between 1 and 2 (Tweedie power; 1 = Poisson, 2 = gamma)"),
              1.5, "Tweedie variance power p, Var(Y) = phi * mu^p"),
    "max_iter": (_int(lambda v: 1 <= v <= 1000, "an integer from 1 to 1000"), 50, "maximum IRLS iterations"),
    "tol": (_float(lambda v: 0.0 < v < 1.0, "a number between 0 and 1, exclusive"), 1e-8,
            "convergence: relative change of the penalized objective between iterations"),
    "l2": (_float(lambda v: 0.0 <= v <= 100.0, "a number from 0 to 100"), 1e-4,
           "ridge penalty on standardized coefficients (intercept not penalized)"),
}

# SageMaker's own SDK and tuning jobs add keys of their own; those are not typos.
_FOREIGN_PREFIXES = ("sagemaker_", "_")


def parse(raw):
    """Converts a hyperparameters.json mapping into typed values with defaults filled in."""
    if not isinstance(raw, dict):
        raise HyperparameterError("hyperparameters.json must hold a JSON object of name -> string, got %s" % type(raw).__name__)
    out = {name: default for name, (_, default, _) in SPEC.items()}
    problems = []
    for name, value in raw.items():
        if name.startswith(_FOREIGN_PREFIXES):
            continue
        if name not in SPEC:
            problems.append("unknown hyperparameter '%s'; known hyperparameters: %s" % (name, ", ".join(SPEC)))
            continue
        if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
            problems.append("hyperparameter '%s' must be a string holding a number, got %r" % (name, value))
            continue
        text = value.strip() if isinstance(value, str) else value
        try:
            out[name] = SPEC[name][0](name, text)
        except HyperparameterError as e:
            problems.append(str(e))
    if problems:
        # All of them at once: a training run per typo is an expensive way to find them.
        raise HyperparameterError("; ".join(problems))
    return out


def load(path):
    """Reads hyperparameters.json; a missing file means all defaults."""
    if not os.path.exists(path):
        return parse({})
    with open(path, encoding="utf-8") as f:
        try:
            raw = json.load(f)
        except ValueError as e:
            raise HyperparameterError("%s is not valid JSON: %s" % (path, e)) from None
    return parse(raw)
