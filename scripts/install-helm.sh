#!/usr/bin/env bash
# Installs Helm into .tools/bin (cached: a helm already there is kept) through
# the Go module proxy, for the Helm chart's tests (test/deploy/helm.test.ts),
# which skip with a reason when it is absent. Never fails its caller: on any
# failure it prints one line saying why and exits 0.
# The first install compiles Helm: about 6 minutes of CPU (31 minutes of wall
# time measured on a 2-core machine shared with other builds); later runs take
# a second.
#   CHAMP_HELM_VERSION   the Helm module version (v3.19.0)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=${CHAMP_HELM_VERSION:-v3.19.0}
bin="$root/.tools/bin"
started=$(date +%s)
finish() { echo "helm: $* ($(( $(date +%s) - started )) s)"; exit 0; }

if [ -x "$bin/helm" ] && [ "$(cat "$bin/helm.version" 2>/dev/null)" = "$version" ]; then
  finish "$version already in .tools/bin"
fi
command -v go >/dev/null 2>&1 || finish "not installed: no Go toolchain (go) on PATH; the Helm chart tests skip"
mkdir -p "$bin"
if GOBIN="$bin" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$version" >"$bin/helm-install.log" 2>&1; then
  echo "$version" >"$bin/helm.version"
  finish "$version installed in .tools/bin"
fi
finish "not installed: go install helm.sh/helm/v3/cmd/helm@$version failed (see .tools/bin/helm-install.log); the Helm chart tests skip"
