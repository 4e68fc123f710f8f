#!/usr/bin/env bash
# Trains as SageMaker would, with local_test/test_dir standing in for /opt/ml.
#   ./train_local.sh IMAGE      run `docker run IMAGE train` with test_dir mounted at /opt/ml
#   ./train_local.sh            run program/train with this machine's Rscript (SM_* variables)
# Data is generated into test_dir/input/data on first use by the Python example's
# generate.py (ROWS, SEED, DRIFT override), so both examples train on the same rows.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
example="$(dirname "$here")"
root="$here/test_dir"

if [ ! -f "$root/input/data/train/train.csv" ] || [ -n "${DRIFT:-}" ]; then
  rm -rf "$root/input/data"
  python3 "$example/../claims-severity/generate.py" --rows "${ROWS:-5000}" --seed "${SEED:-7}" --drift "${DRIFT:-0}" --out "$root/input/data"
fi
rm -rf "$root/model" "$root/output"
mkdir -p "$root/model" "$root/output/data"

if [ $# -ge 1 ]; then
  exec docker run --rm --init -v "$root:/opt/ml" "$1" train
fi
command -v Rscript >/dev/null || {
  echo "no Rscript on this machine: build the image and give it, e.g. ./train_local.sh \$(docker build -q ..)" >&2
  exit 2
}
SM_INPUT_DIR="$root/input" \
SM_MODEL_DIR="$root/model" \
SM_OUTPUT_DIR="$root/output" \
SM_OUTPUT_DATA_DIR="$root/output/data" \
  exec "$example/program/train"
