#!/usr/bin/env bash
# Serves the model in local_test/test_dir/model on 127.0.0.1:${PORT:-8080}.
#   ./serve_local.sh            run program/serve as a process
#   ./serve_local.sh IMAGE      run `docker run IMAGE serve` with test_dir mounted at /opt/ml
# Stop it with Ctrl-C (SIGINT) or SIGTERM.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
example="$(dirname "$here")"
root="$here/test_dir"
port="${PORT:-8080}"

if [ $# -ge 1 ]; then
  exec docker run --rm -v "$root:/opt/ml" -p "127.0.0.1:$port:8080" "$1" serve
fi
SM_MODEL_DIR="$root/model" \
SAGEMAKER_BIND_HOST=127.0.0.1 \
SAGEMAKER_BIND_TO_PORT="$port" \
  exec "$example/program/serve"
