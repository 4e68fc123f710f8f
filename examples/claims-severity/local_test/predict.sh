#!/usr/bin/env bash
# Posts a payload to the local server's /invocations.
#   ./predict.sh                          payload.csv as text/csv
#   ./predict.sh payload.json             content type from the extension
#   ./predict.sh FILE CONTENT-TYPE [ACCEPT]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
payload="${1:-$here/payload.csv}"
case "$payload" in
  *.json) default_type=application/json ;;
  *) default_type=text/csv ;;
esac
content_type="${2:-$default_type}"
accept="${3:-application/json}"
curl --silent --show-error --fail-with-body \
  -H "Content-Type: $content_type" -H "Accept: $accept" \
  --data-binary "@$payload" "http://127.0.0.1:${PORT:-8080}/invocations"
echo
