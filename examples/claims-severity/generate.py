#!/usr/bin/env python3
"""Synthetic motor insurance policies with compound Poisson-gamma (Tweedie) claim costs.

    python3 generate.py --rows 5000 --seed 7 --out DIR [--drift 0.3]

writes DIR/train/train.csv, DIR/validation/validation.csv and DIR/truth.json.
The same seed and options always give byte-identical files.

Columns (header row included), target first:
    claim_cost,driver_age,vehicle_age,vehicle_value,annual_mileage,region,exposure

truth.json holds the true log-linear coefficients per raw unit (per year of
driver age, per thousand of vehicle value, per thousand km, region indicators
against the base region "central"), named exactly as the model's terms.
"""
import argparse
import json
import math
import os
import random
import sys

REGIONS = ("central", "east", "north", "west")
COLUMNS = ("claim_cost", "driver_age", "vehicle_age", "vehicle_value", "annual_mileage", "region", "exposure")


def true_coefficients(drift):
    """The true model at a given drift (0 = reference world, 1 = fully drifted)."""
    return {
        # Claims inflation moves the level; drift also bends three relativities,
        # so a retrain on drifted data must produce a visibly different model.
        "intercept": 6.5 + 0.15 * drift,
        "coefficients": {
            "driver_age": -0.015 + 0.010 * drift,
            "vehicle_age": -0.030,
            "vehicle_value": 0.012,
            "annual_mileage": 0.035 + 0.020 * drift,
            "region_east": 0.15,
            "region_north": -0.20,
            "region_west": 0.30 - 0.25 * drift,
        },
    }


def poisson(rng, lam):
    # Knuth's method is exact and fast for the small rates used here; large
    # rates are split into chunks so exp(-lam) never underflows.
    n = 0
    while lam > 30.0:
        n += poisson(rng, 30.0)
        lam -= 30.0
    limit = math.exp(-lam)
    p = rng.random()
    while p > limit:
        n += 1
        p *= rng.random()
    return n


def tweedie(rng, mu, power, phi):
    """One compound Poisson-gamma draw with mean mu and variance phi * mu**power."""
    lam = mu ** (2.0 - power) / (phi * (2.0 - power))
    n = poisson(rng, lam)
    if n == 0:
        return 0.0
    shape = (2.0 - power) / (power - 1.0)
    scale = phi * (power - 1.0) * mu ** (power - 1.0)
    # A sum of n gammas sharing a scale is one gamma with n times the shape.
    return rng.gammavariate(n * shape, scale)


def policy(rng, drift):
    driver_age = 18 + int(round(62 * rng.betavariate(2.0, 2.5)))
    vehicle_age = min(20, int(rng.expovariate(1.0 / 6.0)))
    # Older cars are worth less: a mild, realistic correlation between predictors.
    value = math.exp(rng.gauss(math.log(30.0), 0.45)) * (0.93 ** vehicle_age) * (1.0 + 0.3 * drift)
    mileage = max(1.0, rng.gauss(13.0 + 4.0 * drift, 5.0))
    weights = (0.35, 0.25, 0.20 - 0.05 * drift, 0.20 + 0.05 * drift)
    region = rng.choices(REGIONS, weights=weights)[0]
    exposure = 1.0 if rng.random() < 0.75 else round(rng.uniform(0.1, 1.0), 3)
    return {
        "driver_age": driver_age,
        "vehicle_age": vehicle_age,
        "vehicle_value": round(value, 1),
        "annual_mileage": round(mileage, 1),
        "region": region,
        "exposure": exposure,
    }


def linear_predictor(row, truth):
    eta = truth["intercept"]
    coefs = truth["coefficients"]
    for name in ("driver_age", "vehicle_age", "vehicle_value", "annual_mileage"):
        eta += coefs[name] * row[name]
    if row["region"] != "central":
        eta += coefs["region_" + row["region"]]
    return eta


def generate(rows, seed, drift=0.0, power=1.5, phi=50.0, validation_fraction=0.2):
    """Returns (train_rows, validation_rows, truth) as lists of dicts."""
    rng = random.Random(seed)
    truth = true_coefficients(drift)
    out = []
    for _ in range(rows):
        row = policy(rng, drift)
        mu = row["exposure"] * math.exp(linear_predictor(row, truth))
        row["claim_cost"] = round(tweedie(rng, mu, power, phi), 2)
        out.append(row)
    n_validation = int(round(rows * validation_fraction))
    train, validation = out[: rows - n_validation], out[rows - n_validation:]
    truth.update({
        "seed": seed,
        "rows": rows,
        "train_rows": len(train),
        "validation_rows": len(validation),
        "drift": drift,
        "power": power,
        "dispersion": phi,
        "base_region": REGIONS[0],
        "units": {
            "driver_age": "years",
            "vehicle_age": "years",
            "vehicle_value": "thousands",
            "annual_mileage": "thousand km per year",
            "exposure": "policy years (offset log(exposure))",
        },
    })
    return train, validation, truth


def fmt(value):
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_csv(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(COLUMNS) + "\n")
        for row in rows:
            f.write(",".join(fmt(row[c]) for c in COLUMNS) + "\n")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000, help="total rows, train + validation (default 5000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--drift", type=float, default=0.0, help="0.0 (reference) to 1.0 (fully drifted)")
    parser.add_argument("--validation-fraction", type=float, default=0.2, help="share of rows for validation (default 0.2)")
    parser.add_argument("--power", type=float, default=1.5, help="true Tweedie power, in (1, 2) (default 1.5)")
    parser.add_argument("--dispersion", type=float, default=50.0, help="true Tweedie dispersion phi (default 50)")
    args = parser.parse_args(argv)
    if args.rows < 10:
        parser.error("--rows must be at least 10, got %d" % args.rows)
    if not 0.0 <= args.drift <= 1.0:
        parser.error("--drift must be between 0.0 and 1.0, got %r" % args.drift)
    if not 0.0 <= args.validation_fraction < 1.0:
        parser.error("--validation-fraction must be in [0, 1), got %r" % args.validation_fraction)
    if not 1.0 < args.power < 2.0:
        parser.error("--power must be strictly between 1 and 2, got %r" % args.power)
    if not args.dispersion > 0.0:
        parser.error("--dispersion must be positive, got %r" % args.dispersion)

    train, validation, truth = generate(
        args.rows, args.seed, args.drift, args.power, args.dispersion, args.validation_fraction)
    write_csv(os.path.join(args.out, "train", "train.csv"), train)
    if validation:
        write_csv(os.path.join(args.out, "validation", "validation.csv"), validation)
    with open(os.path.join(args.out, "truth.json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=2, sort_keys=True)
        f.write("\n")
    print("wrote %d train and %d validation rows to %s (seed %d, drift %g)"
          % (len(train), len(validation), args.out, args.seed, args.drift))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
