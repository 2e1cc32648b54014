#!/usr/bin/env bash
# Runs every test project and ends with one 'N passed, N failed' line that CI reads.
set -uo pipefail
# Install to purge under the host's packaging lock (packaging/test/check-packages.sh explains).
if [ "${2:-}" != unit ] && [ "${SKIP_PACKAGING:-0}" != 1 ] && [ "${MAILAGENT_PACKAGING_LOCKED:-0}" != 1 ]; then
  lock=/run/lock/mailagent-packaging.lock
  flock -n "$lock" true 2>/dev/null || echo "run-tests: waiting for $lock (another packaging run on this host)"
  MAILAGENT_PACKAGING_LOCKED=1 exec flock -E 75 "$lock" bash "$0" "$@"
fi
cd "$(dirname "$0")/.."
config=${1:-Release}
# 'unit': only the tests not tagged [Trait("Category","Integration")]: no servers, no root, no packaging.
filter=()
if [ "${2:-}" = unit ]; then filter=(--filter "Category!=Integration"); SKIP_PACKAGING=1; fi
results=$(mktemp -d)
# The Debian packages: built, checked and installed before the tests (InstalledPackageTests runs
# the installed agent against the private Postfix instance), always purged afterwards.
packaging_rc=0
if [ "${SKIP_PACKAGING:-0}" != 1 ]; then
  trap 'bash packaging/test/check-packages.sh purge || packaging_rc=1; rm -rf "$results"' EXIT
  bash packaging/test/check-packages.sh install 2>&1 | tee "$results/packaging.txt"
  packaging_rc=${PIPESTATUS[0]}
  [ "$packaging_rc" -eq 0 ] && export MAILAGENT_INSTALLED_BINARY=/usr/bin/mailagent
else
  trap 'rm -rf "$results"' EXIT
fi
dotnet test MailAgent.sln -c "$config" --no-build -nologo "${filter[@]}" \
  --logger "trx;LogFilePrefix=run" --results-directory "$results" --logger "console;verbosity=normal" 2>&1 | tee "$results/console.txt"
rc=${PIPESTATUS[0]}
passed=0; failed=0; skipped=0
for f in "$results"/*.trx; do
  [ -f "$f" ] || continue
  line=$(grep -o '<Counters [^>]*>' "$f" | head -1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$line"); passed=$((passed + ${p:-0}))
  x=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$line"); failed=$((failed + ${x:-0}))
  # A skipped xunit test is in total but not in executed (and not in notExecuted).
  t=$(sed -n 's/.* total="\([0-9]*\)".*/\1/p' <<<"$line"); e=$(sed -n 's/.* executed="\([0-9]*\)".*/\1/p' <<<"$line")
  skipped=$((skipped + ${t:-0} - ${e:-0}))
done
if [ "${SKIP_PACKAGING:-0}" != 1 ]; then
  bash packaging/test/check-packages.sh purge || packaging_rc=1
  trap 'rm -rf "$results"' EXIT
  if [ "$packaging_rc" -ne 0 ]; then echo "packaging checks failed (see the PACKAGING FAIL lines above)"; rc=1; fi
fi
# The failed tests' names and the first lines of their messages again, next to the summary, so the tail of a CI log
# says which ones failed and why.
if [ "$failed" -gt 0 ]; then
  echo "failed tests:"
  python3 - "$results"/*.trx <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
for path in sys.argv[1:]:
    for result in ET.parse(path).getroot().iterfind(".//t:UnitTestResult[@outcome='Failed']", ns):
        print("  " + result.get("testName", "?"))
        message = result.findtext("t:Output/t:ErrorInfo/t:Message", default="", namespaces=ns)
        for line in [l for l in message.splitlines() if l.strip()][:4]:
            print("      " + line[:200])
PY
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$passed" -eq 0 ]; then echo "no test ran"; exit 1; fi
exit "$rc"
