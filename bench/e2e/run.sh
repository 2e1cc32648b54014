#!/bin/bash
# run.sh - the end-to-end comparison behind `make bench` (bench/README.md says what and how).
#
# On one generated log of >= 2 million lines it measures, each measured process pinned to one
# core: grep -c (the floor), pflogsumm (batch), Debian's prometheus-postfix-exporter following
# a file, and mailagent in replay and daemon mode; then line-to-metric latency for both
# daemons. Prints a markdown report and writes it to bench/results/e2e-<date>.md.
#
# Usage: bash bench/e2e/run.sh [CONFIGURATION]          (default Release)
# Environment:
#   MAILAGENT=path      the agent binary (default agent/src/MailAgent/bin/$CONFIG/net10.0/mailagent)
#   BENCH_LINES=N       minimum log size (default 2000000); the log is cached in bench/work/
#   LATENCY_SAMPLES=N   lines appended one at a time per daemon (default 300)
#   IN_FLIGHT=N         messages added to the daemon's correlator at the end for "RSS with N more in flight" (default 10000)
#   IDLE_LATER=S        seconds fresh instances of both daemons idle before the second idle RSS sample (default 120; 0: none)
#   SKIP="a b"          leave out any of: grep pflogsumm exporter agent latency
#   MEASURED_CPU=0 HELPER_CPU=1   the core of the measured process / of cat and the scrapers
set -euo pipefail

CONFIG=${1:-Release}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
E2E=bench/e2e
MIN_LINES=${BENCH_LINES:-2000000}
BIG=bench/work/big-$MIN_LINES.log
MAILAGENT=${MAILAGENT:-agent/src/MailAgent/bin/$CONFIG/net10.0/mailagent}
LATENCY_SAMPLES=${LATENCY_SAMPLES:-300}
IN_FLIGHT=${IN_FLIGHT:-10000}
IDLE_LATER=${IDLE_LATER:-120}
SKIP=" ${SKIP:-} "
MEASURED_CPU=${MEASURED_CPU:-0}
if [ "$(nproc)" -gt 1 ]; then HELPER_CPU=${HELPER_CPU:-1}; else HELPER_CPU=${HELPER_CPU:-0}; fi
DATE=$(date +%F)
OUT_MD=bench/results/e2e-$DATE.md

mkdir -p bench/work bench/results
RUN=$(mktemp -d "$ROOT/bench/work/run.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '== %s\n' "$*" >&2; }
skipped() { [[ "$SKIP" == *" $1 "* ]]; }
need() { command -v "$1" >/dev/null || { echo "run.sh: $1 is missing (make deps)" >&2; exit 1; }; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
helper() { taskset -c "$HELPER_CPU" python3 "$@"; }
json_get() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$@"; }

# Rows of the report, tab-separated: tool mode lines seconds cpu_seconds peak_kb idle_kb note full_kb idle_later_kb
# (full_kb: VmRSS with IN_FLIGHT more messages in the correlator, daemons only).
ROWS=$RUN/rows.tsv LAT=$RUN/latency.tsv NOTES=$RUN/notes.txt
: > "$ROWS"; : > "$LAT"; : > "$NOTES"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" "${9:-}" "${10:-}" >> "$ROWS"; }
note() { printf -- '- %s\n' "$*" >> "$NOTES"; say "$*"; }

wait_port() {  # PID PORT: until something accepts on 127.0.0.1:PORT
  local i
  for i in $(seq 300); do
    kill -0 "$1" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

timed() {  # CMD...: run on the measured core; sets T_SECS (wall), T_CPU (user+sys), T_RSS (KiB)
  local t0 rc=0 u s
  t0=$(now_ns)
  /usr/bin/time -f '%U %S %M' -o "$RUN/time.out" taskset -c "$MEASURED_CPU" "$@" || rc=$?
  T_SECS=$(secs_since "$t0")
  read -r u s T_RSS < <(tail -n1 "$RUN/time.out")
  T_CPU=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
  return $rc
}

stop() {  # PID: SIGTERM, then SIGKILL after 10 s; forgets the PID
  local i p keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
  kill "$1" 2>/dev/null || return 0
  for i in $(seq 100); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

for t in python3 taskset /usr/bin/time; do need "$t"; done
# Other work on the machine skews every number below; say so in the report.
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- the log -------------------------------------------------------------------------------
if [ ! -s "$BIG" ]; then
  say "generating $BIG (>= $MIN_LINES lines, once; about 40 s)"
  bash "$E2E/make-big-log.sh" "$BIG.tmp" "$MIN_LINES" >&2
  mv "$BIG.tmp" "$BIG"
fi
LINES=$(wc -l < "$BIG")
BYTES=$(stat -c %s "$BIG")
cat "$BIG" > /dev/null   # into the page cache, so no tool pays for the first read
# postfix/smtpd connects: what the exporter's connects counter should reach. It does not
# parse postfix/submission/smtpd, so those are left out on purpose.
SMTPD_CONNECTS=$(grep -c 'postfix/smtpd\[[0-9]*\]: connect from' "$BIG")
say "log: $BIG, $LINES lines, $BYTES bytes"

# --- 1. floor: grep -c ---------------------------------------------------------------------
if ! skipped grep; then
  need hyperfine
  say "grep -c status= (hyperfine, 5 runs)"
  # --output=pipe: GNU grep stops at the first match when its stdout is /dev/null.
  hyperfine -N --output=pipe --warmup 1 --runs 5 --export-json "$RUN/grep.json" \
    "taskset -c $MEASURED_CPU grep -c status= $BIG" >&2
  GREP_S=$(json_get "$RUN/grep.json" 'd["results"][0]["median"]')
  GREP_CPU=$(json_get "$RUN/grep.json" 'round(d["results"][0]["user"] + d["results"][0]["system"], 3)')
  timed grep -c status= "$BIG" > "$RUN/grep.count"
  note "grep -c status= counted $(cat "$RUN/grep.count") lines"
  row grep "floor: grep -c status=" "$LINES" "$GREP_S" "$GREP_CPU" "$T_RSS" "" "median of 5"
fi

# --- 2. pflogsumm --------------------------------------------------------------------------
if ! skipped pflogsumm; then
  need pflogsumm
  say "pflogsumm (one run)"
  timed pflogsumm "$BIG" > "$RUN/pflogsumm.txt"
  row pflogsumm "batch report" "$LINES" "$T_SECS" "$T_CPU" "$T_RSS" "" ""
fi

# --- the daemons ---------------------------------------------------------------------------
# Each daemon follows an empty file; the whole log is appended at once and /metrics is scraped
# every 200 ms until the chosen counters rest for 2 s. Then, idle and caught up, it gets
# single lines for the latency measurement. Peak RSS is VmHWM read just before stopping it.
latency() {  # TOOL URL FILE SPEC
  skipped latency && return 0
  say "$1: latency, $LATENCY_SAMPLES single lines"
  helper "$E2E/latency.py" --url "$2" --file "$3" --metric "$4" --count "$LATENCY_SAMPLES" > "$RUN/lat-$1.json" || return 1
  cat "$RUN/lat-$1.json" >&2
  printf '%s\t%s\t%s\n' "$1" "$4" "$(cat "$RUN/lat-$1.json")" >> "$LAT"
}

# --- 3. prometheus-postfix-exporter --------------------------------------------------------
EXPORTER_METRICS=(postfix_smtpd_connects_total postfix_cleanup_messages_processed_total
  postfix_qmgr_messages_inserted_receipients_count postfix_smtp_delivery_delay_seconds_count
  postfix_unsupported_log_entries_total)
start_exporter() {  # FILE PORT LOG -> pid in EXPORTER_PID
  taskset -c "$MEASURED_CPU" prometheus-postfix-exporter --postfix.logfile_path="$1" \
    --web.listen-address="127.0.0.1:$2" --postfix.showq_path="$RUN/no-such-showq" > "$3" 2>&1 &
  EXPORTER_PID=$!
  PIDS+=("$EXPORTER_PID")
  wait_port "$EXPORTER_PID" "$2" || { cat "$3" >&2; echo "run.sh: the exporter did not start" >&2; exit 1; }
}
# The second idle sample: what each daemon's RSS is after IDLE_LATER s of doing nothing (what ps shows on a quiet
# host), from a fresh instance of each started side by side on the helper core, so that the ingest below still
# measures a daemon started a second before (an agent that idled for minutes first ingests measurably slower).
if [ "$IDLE_LATER" -gt 0 ]; then
  say "idle RSS after $IDLE_LATER s: a fresh exporter and agent side by side"
  idle_pids=()
  if ! skipped exporter; then
    : > "$RUN/idle-exporter.log"
    port=$(free_port)
    taskset -c "$HELPER_CPU" prometheus-postfix-exporter --postfix.logfile_path="$RUN/idle-exporter.log" \
      --web.listen-address="127.0.0.1:$port" --postfix.showq_path="$RUN/no-such-showq" > "$RUN/idle-exporter.out" 2>&1 &
    idle_exporter=$!; PIDS+=("$idle_exporter"); idle_pids+=("$idle_exporter")
  fi
  if ! skipped agent && [ -x "$MAILAGENT" ]; then
    : > "$RUN/idle-agent.log"
    mkdir -p "$RUN/idle-agent-state"
    MAILAGENT__LogTailing__Path="$RUN/idle-agent.log" MAILAGENT__LogTailing__StateDirectory="$RUN/idle-agent-state" \
    MAILAGENT__LogTailing__StartAt=End MAILAGENT__Http__Urls=http://127.0.0.1:0 \
      taskset -c "$HELPER_CPU" "$MAILAGENT" run > "$RUN/idle-agent.out" 2>&1 &
    idle_agent=$!; PIDS+=("$idle_agent"); idle_pids+=("$idle_agent")
  fi
  sleep "$IDLE_LATER"
  [ -z "${idle_exporter:-}" ] || proc_kb "$idle_exporter" VmRSS > "$RUN/idle-later-exporter"
  [ -z "${idle_agent:-}" ] || proc_kb "$idle_agent" VmRSS > "$RUN/idle-later-agent"
  for p in "${idle_pids[@]}"; do stop "$p"; done
fi

if ! skipped exporter; then
  need prometheus-postfix-exporter
  # Where does it start reading? Give it a file that already holds 20,000 lines.
  head -n 20000 "$BIG" > "$RUN/probe.log"
  port=$(free_port)
  start_exporter "$RUN/probe.log" "$port" "$RUN/probe.out"
  sleep 2
  probe=$(helper -c 'import sys; sys.path.insert(0, sys.argv[1]); from promtext import *; print(int(Scraper(sys.argv[2]).values(["postfix_smtpd_connects_total"])[0]))' \
    "$E2E" "http://127.0.0.1:$port/metrics")
  stop "$EXPORTER_PID"
  if [ "$probe" = 0 ]; then where="at the end (existing lines are skipped)"; else where="at the start ($probe connects from existing lines)"; fi
  note "prometheus-postfix-exporter starts reading an existing file $where"

  say "prometheus-postfix-exporter: ingest"
  : > "$RUN/exporter.log"
  port=$(free_port)
  start_exporter "$RUN/exporter.log" "$port" "$RUN/exporter.out"
  sleep 1
  idle=$(proc_kb "$EXPORTER_PID" VmRSS)
  url="http://127.0.0.1:$port/metrics"
  args=(); for m in "${EXPORTER_METRICS[@]}"; do args+=(--metric "$m"); done
  helper "$E2E/ingest.py" --url "$url" --source "$BIG" --target "$RUN/exporter.log" --pid "$EXPORTER_PID" \
    "${args[@]}" > "$RUN/ingest-exporter.json"
  cat "$RUN/ingest-exporter.json" >&2
  secs=$(json_get "$RUN/ingest-exporter.json" 'd["seconds"]')
  cpu=$(json_get "$RUN/ingest-exporter.json" 'd["cpu_seconds"]')
  connects=$(json_get "$RUN/ingest-exporter.json" 'int(d["delta"]["postfix_smtpd_connects_total"])')
  unsupported=$(json_get "$RUN/ingest-exporter.json" 'int(d["delta"]["postfix_unsupported_log_entries_total"])')
  if [ "$connects" = "$SMTPD_CONNECTS" ]; then verdict="all ingested"; else verdict="MISMATCH: not everything was ingested"; fi
  note "exporter postfix_smtpd_connects_total = $connects; the log has $SMTPD_CONNECTS postfix/smtpd 'connect from' lines: $verdict"
  note "exporter postfix_unsupported_log_entries_total = $unsupported of $LINES lines"
  latency exporter "$url" "$RUN/exporter.log" postfix_smtp_delivery_delay_seconds_count
  peak=$(proc_kb "$EXPORTER_PID" VmHWM)
  stop "$EXPORTER_PID"
  rm -f "$RUN/exporter.log"
  row prometheus-postfix-exporter "daemon, follows file" "$LINES" "$secs" "$cpu" "$peak" "$idle" "" "" "$(cat "$RUN/idle-later-exporter" 2>/dev/null)"
fi

# --- 4. mailagent --------------------------------------------------------------------------
# The agent is under construction, so its failures are reported in the table rather than
# stopping the run: the peers' numbers stay useful either way.
agent_failed() {  # MODE WHY
  note "mailagent $1 FAILED: $2"
  row mailagent "$1" "" "" "" "" "" "failed: $2"
}

agent_replay() {
  local lines rc=0
  say "mailagent replay"
  timed "$MAILAGENT" replay "$BIG" --format json > "$RUN/replay.json" 2> "$RUN/replay.err" || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 20 "$RUN/replay.err" >&2
    agent_failed replay "exit code $rc"
    return
  fi
  if ! lines=$(json_get "$RUN/replay.json" 'int(d["lines"])' 2>/dev/null); then
    head -c 500 "$RUN/replay.json" >&2
    agent_failed replay "stdout is not one JSON object with a lines field"
    return
  fi
  note "mailagent replay: lines=$lines (wc -l: $LINES), unparsed_lines=$(json_get "$RUN/replay.json" 'd.get("unparsed_lines")'), delivered=$(json_get "$RUN/replay.json" 'd.get("delivered")')"
  row mailagent replay "$lines" "$T_SECS" "$T_CPU" "$T_RSS" "" ""
}

agent_daemon() {
  local port= idle url secs cpu counted peak mode="daemon, follows file"
  say "mailagent daemon: ingest"
  : > "$RUN/agent.log"
  mkdir -p "$RUN/agent-state"
  MAILAGENT__LogTailing__Path="$RUN/agent.log" \
  MAILAGENT__LogTailing__StateDirectory="$RUN/agent-state" \
  MAILAGENT__LogTailing__StartAt=End \
  MAILAGENT__Http__Urls=http://127.0.0.1:0 \
    taskset -c "$MEASURED_CPU" "$MAILAGENT" run > "$RUN/agent.out" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
  for _ in $(seq 300); do
    port=$(grep -o -m1 'mailagent listening on http://127\.0\.0\.1:[0-9]*' "$RUN/agent.out" | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && break
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    tail -n 20 "$RUN/agent.out" >&2
    if kill -0 "$AGENT_PID" 2>/dev/null; then
      stop "$AGENT_PID"
      agent_failed "$mode" "no 'mailagent listening on http://127.0.0.1:PORT' line within 30 s"
    else
      local rc=0
      wait "$AGENT_PID" || rc=$?
      stop "$AGENT_PID"
      agent_failed "$mode" "exited with code $rc before logging 'mailagent listening on http://127.0.0.1:PORT'"
    fi
    return
  fi
  sleep 1
  idle=$(proc_kb "$AGENT_PID" VmRSS)
  url="http://127.0.0.1:$port/metrics"
  if ! helper "$E2E/ingest.py" --url "$url" --source "$BIG" --target "$RUN/agent.log" --pid "$AGENT_PID" \
      --metric mailagent_log_lines_total --expect "$LINES" > "$RUN/ingest-agent.json"; then
    stop "$AGENT_PID"
    agent_failed "$mode" "ingest measurement failed (mailagent_log_lines_total never moved?)"
    return
  fi
  cat "$RUN/ingest-agent.json" >&2
  secs=$(json_get "$RUN/ingest-agent.json" 'd["seconds"]')
  cpu=$(json_get "$RUN/ingest-agent.json" 'd["cpu_seconds"]')
  counted=$(json_get "$RUN/ingest-agent.json" 'int(d["delta"]["mailagent_log_lines_total"])')
  note "mailagent daemon: mailagent_log_lines_total grew by $counted (wc -l: $LINES)"
  latency mailagent "$url" "$RUN/agent.log" 'postfix_delivery_status_total{service="smtp",status="sent"}' \
    || note "mailagent latency FAILED: the sent counter did not grow"
  # The correlator full: IN_FLIGHT messages that enter the queue and never leave it, on top of what the log left open.
  local base full="" total
  base=$(helper -c 'import sys; sys.path.insert(0, sys.argv[1]); from promtext import Scraper; print(int(Scraper(sys.argv[2]).values(["mailagent_log_lines_total"])[0]))' "$E2E" "$url")
  python3 "$E2E/inflight.py" "$IN_FLIGHT" >> "$RUN/agent.log"
  for _ in $(seq 600); do
    total=$(helper -c 'import sys; sys.path.insert(0, sys.argv[1]); from promtext import Scraper; print(int(Scraper(sys.argv[2]).values(["mailagent_log_lines_total"])[0]))' "$E2E" "$url")
    if [ "$total" -ge $((base + 2 * IN_FLIGHT)) ]; then
      sleep 1
      full=$(proc_kb "$AGENT_PID" VmRSS)
      note "mailagent daemon: $IN_FLIGHT messages in flight appended; correlator follows $(helper -c 'import sys; sys.path.insert(0, sys.argv[1]); from promtext import Scraper; print(int(Scraper(sys.argv[2]).values(["mailagent_correlation_messages"])[0]))' "$E2E" "$url") messages, VmRSS $((full / 1024)) MiB"
      break
    fi
    sleep 0.1
  done
  [ -n "$full" ] || note "mailagent daemon: the $IN_FLIGHT in-flight messages were not read within 60 s"
  peak=$(proc_kb "$AGENT_PID" VmHWM)
  stop "$AGENT_PID"
  rm -f "$RUN/agent.log"
  row mailagent "$mode" "$counted" "$secs" "$cpu" "$peak" "$idle" "" "$full" "$(cat "$RUN/idle-later-agent" 2>/dev/null)"
}

if skipped agent; then
  :
elif [ ! -x "$MAILAGENT" ]; then
  note "mailagent skipped: no binary at $MAILAGENT (make build, or set MAILAGENT=path)"
  row mailagent replay "" "" "" "" "" "skipped: binary missing"
  row mailagent "daemon, follows file" "" "" "" "" "" "skipped: binary missing"
else
  agent_replay
  agent_daemon
fi

# --- 6. report -----------------------------------------------------------------------------
export DATE BIG LINES BYTES CONFIG MEASURED_CPU HELPER_CPU IN_FLIGHT IDLE_LATER
export R_CPU_MODEL R_NPROC R_MEM R_KERNEL R_VERSIONS R_LOAD
R_LOAD="load average ${LOAD_START// /\/} at the start, $(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /) at the end"
R_CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
R_NPROC=$(nproc)
R_MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
R_KERNEL=$(uname -r)
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
R_VERSIONS="prometheus-postfix-exporter $(ver prometheus-postfix-exporter), pflogsumm $(ver pflogsumm), $(grep --version | head -n1)"
if [ -x "$MAILAGENT" ]; then R_VERSIONS+=", mailagent $MAILAGENT ($CONFIG)"; fi
python3 - "$ROWS" "$LAT" "$NOTES" "$OUT_MD" <<'EOF'
import json, os, sys
rows_f, lat_f, notes_f, out = sys.argv[1:5]
E = os.environ
rows = [l.rstrip("\n").split("\t") for l in open(rows_f) if l.strip()]
lat = [l.rstrip("\n").split("\t") for l in open(lat_f) if l.strip()]
notes = open(notes_f).read().rstrip()

def rate(r):
    return int(r[2]) / float(r[3]) if r[2] and r[3] else None

ref = next((rate(r) for r in rows if r[0] == "prometheus-postfix-exporter"), None)
floor = next((rate(r) for r in rows if r[0] == "grep"), None)
mib = lambda kb: f"{int(kb) / 1024:.1f}" if kb else "–"
md = [
    f"# End-to-end benchmark, {E['DATE']}",
    "",
    f"Log: `{E['BIG']}`, {int(E['LINES']):,} lines, {int(E['BYTES']) / 2**20:.0f} MiB "
    "(bench/e2e/make-big-log.sh, from the corpus in tests/data).",
    f"The measured process runs under `taskset -c {E['MEASURED_CPU']}`; cat and the scrapers under "
    f"`taskset -c {E['HELPER_CPU']}`. Command: `bash bench/e2e/run.sh {E['CONFIG']}`.",
    "CPU s is the measured process' user + system time (for a daemon, up to the scrape that showed "
    "its final counters); lines/CPU-s depends less on other load than lines/s does.",
    "",
    "| tool | mode | lines | seconds | lines/s | ratio vs exporter | share of the grep floor | peak RSS MiB | idle RSS MiB "
    f"| idle RSS after {int(E['IDLE_LATER'])} s MiB | RSS with {int(E['IN_FLIGHT']):,} more in flight MiB | CPU s | lines/CPU-s |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for r in rows:
    tool, mode, lines, secs, cpu, peak, idle, note, full, later = (r + [""] * 10)[:10]
    lr = rate(r)
    lc = int(lines) / float(cpu) if lines and cpu and float(cpu) > 0 else None
    md.append("| " + " | ".join([
        tool, mode + (f" ({note})" if note else ""),
        f"{int(lines):,}" if lines else "–",
        f"{float(secs):.2f}" if secs else "–",
        f"{lr:,.0f}" if lr else "–",
        f"{lr / ref:.2f}" if lr and ref else "–",
        f"{lr / floor:.2f}" if lr and floor else "–",
        mib(peak), mib(idle), mib(later), mib(full),
        f"{float(cpu):.2f}" if cpu else "–",
        f"{lc:,.0f}" if lc else "–"]) + " |")
if lat:
    md += ["", "Line-to-metric latency: one `status=sent` line appended at a time, the counter polled "
               "over one keep-alive HTTP connection until it grows:", "",
           "| tool | counter | samples | lost | p50 ms | p95 ms | p99 ms | max ms | idle scrape p50 ms |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for tool, spec, js in lat:
        d = json.loads(js)
        f = lambda k: "–" if d.get(k) is None else f"{d[k]:.2f}"
        md.append(f"| {tool} | `{spec}` | {d['samples']} | {d['lost']} | {f('p50_ms')} | {f('p95_ms')} "
                  f"| {f('p99_ms')} | {f('max_ms')} | {f('idle_scrape_p50_ms')} |")
md += ["", "Checks:", "", notes or "- none", "",
       f"Machine: {E['R_NPROC']} cores, {E['R_CPU_MODEL']}, {E['R_MEM']} RAM, Linux {E['R_KERNEL']}; "
       f"{E['R_LOAD']} (1/5/15 min; a start value above ~0.5 means other work was competing for the cores).",
       f"Versions: {E['R_VERSIONS']}."]
text = "\n".join(md) + "\n"
open(out, "w").write(text)
sys.stdout.write(text)
EOF
say "written to $OUT_MD"
