#!/bin/bash
# bench/memory/idle-order.sh - records which managed methods an idle agent runs, and writes them as the
# symbol order file the Native AOT build places first (agent/src/MailAgent/aot-method-order.txt).
#
# Why: an idle daemon's resident code is every 4 KiB page holding a method its loops run (tail poll,
# health checks, queue listing, scrapes, the GC's stack walks). Scattered in the default layout, a few
# thousand such methods keep ~8 MiB of code resident; placed side by side they fit in a few hundred pages
# (bench/README.md, "Memory").
#
# How: the AOT agent runs under callgrind, by default with an empty log and whatever Postfix the host has
# (none on a bench machine, as in `make bench`'s idle sample); after WARM seconds (start-up, the first slow
# health checks, the start-up page release) the counts are zeroed, and after SPAN more seconds they are
# dumped. Every method that ran in that span is listed, busiest first. When SCRAPE=1 (default), /metrics
# and /health are fetched every 15 s during the span, as Prometheus and the control plane do. Then the
# native binary runs again under perf (below). The list in the repository merges two captures: this
# machine without Postfix, and (APPEND=1) the installed package's user following a stock Postfix's log.
#
# Usage: bash bench/memory/idle-order.sh [OUT]   (needs valgrind and a published binary: make publish)
#   MAILAGENT=path   the AOT binary (default artifacts/aot/mailagent, with mailagent.dbg beside it)
#   WARM=s SPAN=s    default 100 and 240 (callgrind)
#   PERF_SPAN=s      default 300: the native binary sampled by perf (0: skip)
#   RUN_AS=user      run the agent as this user (setpriv), e.g. mailagent on a host with the package installed
#   LOG=path         the log to follow (default: an empty file; e.g. /var/log/mail.log of a running Postfix)
#   APPEND=1         keep the methods OUT already names, in their order, and add only the new ones after them
#                    (to merge a capture on a host whose Postfix runs into one taken without Postfix)
# Re-run it when the idle loops change; methods it names that no longer exist are skipped by the compiler,
# and methods it does not name are laid out as before, so a stale file costs memory, never correctness.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MAILAGENT=${MAILAGENT:-$ROOT/artifacts/aot/mailagent}
DBG=${MAILAGENT}.dbg
[ -f "$DBG" ] || DBG=${MAILAGENT%/*}/mailagent.dbg
OUT=${1:-$ROOT/agent/src/MailAgent/aot-method-order.txt}
WARM=${WARM:-100}
SPAN=${SPAN:-240}
SCRAPE=${SCRAPE:-1}
PERF_SPAN=${PERF_SPAN:-300}
RUN_AS=${RUN_AS:-}
LOG=${LOG:-}
APPEND=${APPEND:-0}
command -v valgrind >/dev/null || { echo "valgrind is missing (make deps)" >&2; exit 2; }
[ -x "$MAILAGENT" ] && [ -f "$DBG" ] || { echo "no agent binary with symbols at $MAILAGENT (make publish)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailagent-order.XXXXXX")
PID=
cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# valgrind 3.19 cannot read the DWARF 5 of a mailagent.dbg beside the binary: run a copy without it.
mkdir -p "$WORK/bin" "$WORK/state"
cp "$MAILAGENT" "$WORK/bin/mailagent"
: > "$WORK/mail.log"
as=()
if [ -n "$RUN_AS" ]; then
  as=(setpriv --reuid "$RUN_AS" --regid "$RUN_AS" --init-groups)
  chmod 755 "$WORK" "$WORK/bin"; chown "$RUN_AS" "$WORK/state" "$WORK/mail.log"; chmod 777 "$WORK"
fi
agent() { # OUT command...
  local out=$1; shift
  MAILAGENT__LogTailing__Path="${LOG:-$WORK/mail.log}" MAILAGENT__LogTailing__StateDirectory="$WORK/state" \
  MAILAGENT__LogTailing__StartAt=End MAILAGENT__Http__Urls=http://127.0.0.1:0 \
    "${as[@]}" "$@" > "$out" 2>&1 &
  PID=$!
}
listening() { sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$1" | head -1; }
idle_for() { # SECONDS URL: what Prometheus and the control plane do meanwhile (SCRAPE=1)
  local end=$((SECONDS + $1))
  while [ $SECONDS -lt $end ]; do
    [ "$SCRAPE" != 1 ] || { curl -sf "$2/metrics" > /dev/null || true; curl -sf "$2/health" > /dev/null || true; }
    sleep 15
  done
}
agent "$WORK/agent.out" valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" --dump-instr=no --collect-jumps=no \
  "$WORK/bin/mailagent" run
echo "idle-order: agent $PID under callgrind; counting from ${WARM} s for ${SPAN} s" >&2
sleep "$WARM"
url=$(listening "$WORK/agent.out")
[ -n "$url" ] || { echo "the agent did not start:" >&2; tail -20 "$WORK/agent.out" >&2; exit 1; }
"${as[@]}" callgrind_control -z "$PID" > /dev/null
idle_for "$SPAN" "$url"
"${as[@]}" callgrind_control -d "$PID" > /dev/null
sleep 2
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
dump=$(ls "$WORK"/cg.out.* | head -1)
nm -n "$DBG" | awk '$2 ~ /^[tT]$/ {print $1, $3}' > "$WORK/syms"
callgrind_annotate --threshold=100 "$dump" 2>/dev/null | python3 "$(dirname "$0")/method-order.py" "$WORK/syms" > "$WORK/callgrind.txt"

# Callgrind serialises the threads, so the thread pool, timers and GC run differently than natively:
# the native binary is also sampled with perf for PERF_SPAN s after WARM, and what only perf saw is
# appended (the start-up release has run by then, as in the callgrind span).
: > "$WORK/perf.txt"
if [ "$PERF_SPAN" -gt 0 ] && command -v perf >/dev/null; then
  rm -rf "$WORK/state"; mkdir -p "$WORK/state"; [ -z "$RUN_AS" ] || chown "$RUN_AS" "$WORK/state"
  agent "$WORK/agent-native.out" "$WORK/bin/mailagent" run
  sleep "$WARM"
  url=$(listening "$WORK/agent-native.out")
  perf record -F 20000 -e cpu-clock -p "$PID" -o "$WORK/perf.data" -- sleep "$PERF_SPAN" > /dev/null 2>&1 &
  rec=$!
  idle_for "$PERF_SPAN" "$url"
  wait "$rec" || true
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  base=$(perf script -i "$WORK/perf.data" --show-mmap-events 2>/dev/null | grep PERF_RECORD_MMAP | grep 'r-xp .*/bin/mailagent$' \
    | head -1 | sed 's/.*\[\(0x[0-9a-f]*\)(0x[0-9a-f]*) @ \(0x[0-9a-f]*\) .*/\1 \2/')
  perf script -i "$WORK/perf.data" -F ip,dso 2>/dev/null | awk '/\/bin\/mailagent\)$/ {print $1}' \
    | python3 "$(dirname "$0")/method-order.py" "$WORK/syms" --perf $base > "$WORK/perf.txt"
fi
: > "$WORK/before.txt"
[ "$APPEND" != 1 ] || [ ! -f "$OUT" ] || grep -v '^#' "$OUT" > "$WORK/before.txt"
where="${LOG:-an empty log}${RUN_AS:+, as $RUN_AS}"
{
  if [ -s "$WORK/before.txt" ]; then
    grep '^#' "$OUT"
    echo "# Appended: the methods a capture following $where ran that the list above does not name ($(date -u +%Y-%m-%d))."
  else
    echo "# Managed methods an idle agent ran, busiest first (callgrind, ${SPAN} s), then those only perf sampled"
    echo "# (${PERF_SPAN} s), following $where: written by bench/memory/idle-order.sh on $(date -u +%Y-%m-%d)."
    echo "# The AOT build places them first (MailAgent.csproj); lines starting with # name no method."
  fi
  cat "$WORK/before.txt" "$WORK/callgrind.txt" "$WORK/perf.txt" | awk '!seen[$0]++'
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "idle-order: $(grep -vc '^#' "$OUT") methods -> $OUT" >&2
