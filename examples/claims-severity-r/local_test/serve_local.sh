#!/usr/bin/env bash
# Serves the model in local_test/test_dir/model on 127.0.0.1:${PORT:-8080}.
#   ./serve_local.sh IMAGE      run `docker run IMAGE serve` with test_dir mounted at /opt/ml
#   ./serve_local.sh            run program/serve with this machine's Rscript
# Ask it with the Python example's ../../claims-severity/local_test/predict.sh (the same payloads).
# Stop it with Ctrl-C (SIGINT) or SIGTERM.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
example="$(dirname "$here")"
root="$here/test_dir"
port="${PORT:-8080}"

if [ $# -ge 1 ]; then
  exec docker run --rm --init -v "$root:/opt/ml" -p "127.0.0.1:$port:8080" "$1" serve
fi
command -v Rscript >/dev/null || {
  echo "no Rscript on this machine: build the image and give it, e.g. ./serve_local.sh \$(docker build -q ..)" >&2
  exit 2
}
SM_MODEL_DIR="$root/model" \
SAGEMAKER_BIND_HOST=127.0.0.1 \
SAGEMAKER_BIND_TO_PORT="$port" \
  exec "$example/program/serve"
