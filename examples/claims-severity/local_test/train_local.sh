#!/usr/bin/env bash
# Trains as SageMaker would, with local_test/test_dir standing in for /opt/ml.
#   ./train_local.sh            run program/train as a process (SM_* variables)
#   ./train_local.sh IMAGE      run `docker run IMAGE train` with test_dir mounted at /opt/ml
# Data is generated into test_dir/input/data on first use (ROWS, SEED, DRIFT override).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
example="$(dirname "$here")"
root="$here/test_dir"

if [ ! -f "$root/input/data/train/train.csv" ] || [ -n "${DRIFT:-}" ]; then
  rm -rf "$root/input/data"
  python3 "$example/generate.py" --rows "${ROWS:-5000}" --seed "${SEED:-7}" --drift "${DRIFT:-0}" --out "$root/input/data"
fi
rm -rf "$root/model" "$root/output"
mkdir -p "$root/model" "$root/output/data"

if [ $# -ge 1 ]; then
  exec docker run --rm -v "$root:/opt/ml" "$1" train
fi
SM_INPUT_DIR="$root/input" \
SM_MODEL_DIR="$root/model" \
SM_OUTPUT_DIR="$root/output" \
SM_OUTPUT_DATA_DIR="$root/output/data" \
  exec "$example/program/train"
