#!/usr/bin/env bash
# Reads a jest log and its exit status; prints the CI count line "N passed, N failed"
# as the last line (and "N skipped" on the line before, when any were).
# A run that failed without a summary (jest crashed, a suite did not compile,
# the run was killed) counts as at least one failure, never as a pass.
#   scripts/ci-count.sh <jest log> <jest exit status>
set -uo pipefail
log=${1:?usage: ci-count.sh <jest log> <exit status>}
status=${2:?usage: ci-count.sh <jest log> <exit status>}

# Jest's summary: "Tests:       1 failed, 2 skipped, 40 passed, 43 total", coloured under FORCE_COLOR.
summary=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log" 2>/dev/null | grep -E '^Tests:' | tail -n 1)
count() { echo "$summary" | grep -oE "[0-9]+ $1" | grep -oE '[0-9]+' || true; }
passed=$(count passed)
failed=$(count failed)
skipped=$(count skipped)
passed=${passed:-0}
failed=${failed:-0}
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ -n "$skipped" ] && [ "$skipped" -ne 0 ]; then echo "$skipped skipped"; fi
echo "$passed passed, $failed failed"
