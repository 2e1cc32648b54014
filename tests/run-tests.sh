#!/usr/bin/env bash
# Runs every test project and ends with one 'N passed, N failed' line that CI reads.
set -uo pipefail
cd "$(dirname "$0")/.."
config=${1:-Release}
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
dotnet test MailAgent.sln -c "$config" --no-build -nologo \
  --logger "trx;LogFilePrefix=run" --results-directory "$results" --logger "console;verbosity=normal" 2>&1 | tee "$results/console.txt"
rc=${PIPESTATUS[0]}
passed=0; failed=0; skipped=0
for f in "$results"/*.trx; do
  [ -f "$f" ] || continue
  line=$(grep -o '<Counters [^>]*>' "$f" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$line"); passed=$((passed + ${p:-0}))
  x=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$line"); failed=$((failed + ${x:-0}))
  n=$(sed -n 's/.* notExecuted="\([0-9]*\)".*/\1/p' <<<"$line"); skipped=$((skipped + ${n:-0}))
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$passed" -eq 0 ]; then echo "no test ran"; exit 1; fi
exit "$rc"
