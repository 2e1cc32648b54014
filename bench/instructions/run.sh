#!/bin/bash
# instructions/run.sh - CPU work per log line of `mailagent replay`, counted by valgrind's callgrind.
#
# Wall-clock rates on a shared machine move by +-25 %; instruction counts move by well under 1 %,
# so this is how a change to the per-line path is proven (bench/README.md, "Where the time goes").
# It replays FILE once and an empty file once, both under callgrind, and reports
#   (instructions(FILE) - instructions(empty)) / lines
# i.e. the per-line cost without start-up, plus the inclusive share of the main per-line functions.
#
# Usage: bash bench/instructions/run.sh [FILE] [MAILAGENT]
#   FILE       a Postfix log (default: the bundled corpus, tests/data/real-postfix-3.7.log.gz, unpacked)
#   MAILAGENT  the binary (default artifacts/aot/mailagent, `make publish`; a Native AOT binary has the
#              symbols callgrind needs to name functions)
#   PROBE_SOURCE (default 127.0.0.2) is passed as --probe-source, as the daemon does with its default.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MAILAGENT=${2:-${MAILAGENT:-$ROOT/artifacts/aot/mailagent}}
PROBE_SOURCE=${PROBE_SOURCE:-127.0.0.2}
command -v valgrind >/dev/null || { echo "valgrind is missing (make deps)" >&2; exit 2; }
[ -x "$MAILAGENT" ] || { echo "no agent binary at $MAILAGENT (make publish)" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailagent-instr.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# valgrind 3.19 gives up on the DWARF 5 of a mailagent.dbg it finds beside the binary (through the
# .gnu_debuglink section): it runs a copy that has no .dbg beside it; the symbols are read with nm below.
mkdir -p "$WORK/bin"
cp "$MAILAGENT" "$WORK/bin/mailagent"
DBG=${MAILAGENT%/*}/mailagent.dbg
[ -f "${MAILAGENT}.dbg" ] && DBG=${MAILAGENT}.dbg
FILE=${1:-}
if [ -z "$FILE" ]; then
  FILE=$WORK/corpus.log
  zcat "$ROOT/tests/data/real-postfix-3.7.log.gz" > "$FILE"
fi
: > "$WORK/empty.log"
LINES=$(wc -l < "$FILE")

count() { # FILE OUT -> total instructions
  valgrind --tool=callgrind --callgrind-out-file="$2" --dump-instr=no --collect-jumps=no \
    "$WORK/bin/mailagent" replay "$1" --format json --probe-source "$PROBE_SOURCE" > "$2.json" 2> "$2.err"
  sed -n 's/^summary: //p' "$2"
}
echo "callgrind: empty file ..." >&2
EMPTY=$(count "$WORK/empty.log" "$WORK/empty.cg")
echo "callgrind: $LINES lines ..." >&2
FULL=$(count "$FILE" "$WORK/full.cg")
PER=$(( (FULL - EMPTY) / LINES ))
echo "| file | lines | instructions (file) | instructions (empty file) | per line |"
echo "|---|---:|---:|---:|---:|"
printf '| %s | %d | %d | %d | **%d** |\n' "$(basename "$FILE")" "$LINES" "$FULL" "$EMPTY" "$PER"
echo
echo "Inclusive instructions per line of the functions on the per-line path (callgrind_annotate --inclusive=yes;"
echo "Valgrind 3.19 cannot read the DWARF 5 of mailagent.dbg, so addresses are named from its symbol table with nm):"
echo
if [ -f "$DBG" ]; then
  nm -n "$DBG" 2>/dev/null | awk '$2 ~ /^[tT]$/ {print $1, $3}' > "$WORK/syms"
  callgrind_annotate --inclusive=yes --threshold=99.9 "$WORK/full.cg" 2>/dev/null \
    | python3 "$(dirname "$0")/name.py" "$WORK/syms" "$LINES" "$((FULL - EMPTY))" "${TOP:-40}"
else
  echo "(no $DBG: function names unavailable)"
fi
[ -n "${KEEP:-}" ] && cp "$WORK/full.cg" "$KEEP" && echo "callgrind output kept in $KEEP" >&2 || true
