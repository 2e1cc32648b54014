#!/bin/bash
# run.sh - the queue inspector on a large deferred queue (bench/README.md, "Queue inspector").
#
# Starts a private Postfix instance (its own config, queue and log under a temporary root, ports on
# 127.0.0.1, no milter), parks messages in its deferred queue with smtp-source - most go to a next
# hop that refuses the connection, some to a transport listed in defer_transports - and at each
# queue size measures, pinned to one core:
#   postqueue -p | tail -1            the floor: what an operator runs to count the queue
#   postqueue -j > /dev/null          the listing the inspector reads
#   mailagent queue --format json     the inspector end to end (postqueue -j streamed into the summariser)
#   mailagent queue, fed by cat       the summariser alone, on the saved postqueue -j output
# Prints a markdown report and writes it to bench/results/queue-<date>.md.
#
# Usage: bash bench/queue/run.sh [CONFIGURATION]        (default Release; needs root and a built agent)
# Environment:
#   MAILAGENT=path        the agent binary (default agent/src/MailAgent/bin/$CONFIG/net10.0/mailagent)
#   QUEUE_SIZES="a b"     deferred queue sizes measured, increasing (default "10000 50000 100000")
#   RUNS=N                hyperfine runs per command (default 5, after one warm-up)
#   MEASURED_CPU=0 HELPER_CPU=1   the core of the measured command / of the injection
#   QUEUE_BENCH_TMP=/tmp  where the instance lives; /dev/shm (tmpfs) spares cleanup's fsync per message
#   KEEP=1                leave the instance running at the end, for a look (the script says how to remove it)
set -euo pipefail

CONFIG=${1:-Release}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
MAILAGENT=${MAILAGENT:-agent/src/MailAgent/bin/$CONFIG/net10.0/mailagent}
MAILAGENT=$(realpath "$MAILAGENT")
SIZES=${QUEUE_SIZES:-10000 50000 100000}
RUNS=${RUNS:-5}
MEASURED_CPU=${MEASURED_CPU:-0}
if [ "$(nproc)" -gt 1 ]; then HELPER_CPU=${HELPER_CPU:-1}; else HELPER_CPU=${HELPER_CPU:-0}; fi
DATE=$(date +%F)
OUT_MD=bench/results/queue-$DATE.md

say() { printf '== %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "run.sh: $1 is missing (make deps)" >&2; exit 1; }; }
for tool in postfix postqueue smtp-source hyperfine python3 taskset; do need "$tool"; done
[ -x /usr/bin/time ] || { echo "run.sh: /usr/bin/time is missing (make deps)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (postfix start, queue ownership)" >&2; exit 1; }
[ -x "$MAILAGENT" ] || { echo "run.sh: no agent at $MAILAGENT: make build first" >&2; exit 1; }

mkdir -p bench/results
PF=$(mktemp -d "${QUEUE_BENCH_TMP:-/tmp}/mailagent-qbench.XXXXXX")
chmod 755 "$PF"
ETC=$PF/etc Q=$PF/queue RUN=$PF/run
mkdir -p "$ETC" "$Q" "$PF/log" "$RUN"
HOLDER_PID=
cleanup() {
  if [ -n "${KEEP:-}" ]; then say "KEEP set: left $PF running (postfix -c $ETC stop; kill $HOLDER_PID; rm -rf $PF)"; return; fi
  postfix -c "$ETC" stop >/dev/null 2>&1 || true
  [ -n "$HOLDER_PID" ] && kill "$HOLDER_PID" 2>/dev/null || true
  # Any daemon of this instance that ignored the stop (they carry MAIL_CONFIG=$ETC).
  local pid
  for pid in $(grep -l "MAIL_CONFIG=$ETC" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$PF"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port that refuses connections: bound (so no one else takes it) but never listening.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1], flush=True)
time.sleep(86400)' > "$RUN/refusing" &
HOLDER_PID=$!
for _ in $(seq 50); do [ -s "$RUN/refusing" ] && break; sleep 0.1; done
REFUSING=$(cat "$RUN/refusing")
SMTPD=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# 30 destination domains with skewed volumes; d26..d30 go to a transport Postfix defers without trying.
DOMAINS=() WEIGHTS=()
for i in $(seq -w 1 30); do DOMAINS+=("d$i.test"); WEIGHTS+=($(( 3000 / (10#$i) + 20 ))); done
{
  echo "# every domain: a next hop that refuses, or the deferred slowlane transport"
  for d in "${DOMAINS[@]}"; do
    n=${d#d}; n=${n%.test}
    if (( 10#$n > 25 )); then echo "$d slowlane:"; else echo "$d smtp:[127.0.0.1]:$REFUSING"; fi
  done
} > "$ETC/transport"

cat > "$ETC/main.cf" <<EOF
# Private instance of bench/queue/run.sh: nothing leaves loopback, nothing is retried for an hour.
compatibility_level = 3.6
queue_directory = $Q
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF/log/postfix.log
maillog_file_prefixes = $PF/log
myhostname = bench.example.test
mydomain = example.test
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:no local delivery
relay_transport = error:no relay
default_transport = error:no external delivery
transport_maps = texthash:$ETC/transport
defer_transports = slowlane
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
smtp_bind_address = 127.0.0.1
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 3600s
EOF
cat > "$ETC/master.cf" <<EOF
127.0.0.1:$SMTPD inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
slowlane  unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
say "starting Postfix in $PF (smtpd 127.0.0.1:$SMTPD, refusing next hop :$REFUSING)"
postfix -c "$ETC" start >/dev/null 2>&1 || { tail -20 "$PF/log/postfix.log" >&2; exit 1; }
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$SMTPD") 2>/dev/null && break; sleep 0.1; done

count() { find "$@" -type f 2>/dev/null | wc -l; }
total_weight=0; for w in "${WEIGHTS[@]}"; do total_weight=$((total_weight + w)); done

inject() {  # N: adds N messages, spread over the domains by weight
  local n=$1 i sent=0 m pids=()
  for i in "${!DOMAINS[@]}"; do
    if (( i == ${#DOMAINS[@]} - 1 )); then m=$((n - sent)); else m=$(( n * WEIGHTS[i] / total_weight )); fi
    sent=$((sent + m))
    (( m > 0 )) || continue
    taskset -c "$HELPER_CPU" smtp-source -s 2 -l 2048 -m "$m" -M client.example.test -f sender@example.test \
      -t "user@${DOMAINS[i]}" "127.0.0.1:$SMTPD" &
    pids+=($!)
    # A few injectors at a time: smtpd and cleanup are the bottleneck, not the client.
    if (( ${#pids[@]} >= 3 )); then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
  done
  for i in "${pids[@]}"; do wait "$i"; done
}

wait_parked() {  # N: until N messages are in deferred and nothing is in maildrop, incoming or active
  local want=$1 deferred busy t0=$SECONDS
  while :; do
    deferred=$(count "$Q/deferred")
    busy=$(count "$Q/maildrop" "$Q/incoming" "$Q/active")
    (( deferred >= want && busy == 0 )) && return 0
    (( SECONDS - t0 > 900 )) && { echo "run.sh: queue not settled: deferred $deferred, busy $busy" >&2; return 1; }
    sleep 1
  done
}

REPORT=$RUN/report.md
ROWS=$RUN/rows.tsv
: > "$ROWS"
COMMON=(--format json "Postfix:ConfigDirectory=$ETC" Queue:Timeout=00:05:00 Queue:Interval=00:10:00)
SETTINGS=("${COMMON[@]}" Postfix:PostqueuePath=/usr/sbin/postqueue)
hf() {  # NAME CMD: hyperfine median seconds of CMD on the measured core
  say "timing $1: $2"
  hyperfine --style none --warmup 1 --runs "$RUNS" --export-json "$RUN/hf.json" \
    "taskset -c $MEASURED_CPU bash -c '$2'" >/dev/null 2>"$RUN/hf.err" || { cat "$RUN/hf.err" >&2; return 1; }
  python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.3f" % r["median"])' "$RUN/hf.json"
}
peak() {  # CMD...: peak RSS (KiB) and wall seconds of one run; stdout to $RUN/out.json
  /usr/bin/time -f '%M %e' -o "$RUN/time.out" taskset -c "$MEASURED_CPU" "$@" > "$RUN/out.json"
  tail -n1 "$RUN/time.out"
}
jq_py() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$RUN/out.json" "$1"; }

have=0
for size in $SIZES; do
  t0=$SECONDS
  say "injecting $((size - have)) messages (queue to $size)"
  inject $((size - have))
  wait_parked "$size"
  have=$(count "$Q/deferred")
  inject_secs=$((SECONDS - t0))
  say "deferred queue holds $have messages after ${inject_secs}s; measuring"
  sync

  floor_p=$(hf p "postqueue -c $ETC -p | tail -1")
  floor_j=$(hf j "postqueue -c $ETC -j > /dev/null")
  postqueue -c "$ETC" -j > "$RUN/postqueue-j.jsonl"
  printf '#!/bin/sh\nexec cat %s\n' "$RUN/postqueue-j.jsonl" > "$RUN/cat-postqueue"; chmod +x "$RUN/cat-postqueue"
  json_bytes=$(stat -c %s "$RUN/postqueue-j.jsonl")

  agent=$(hf agent "$MAILAGENT queue ${SETTINGS[*]} > /dev/null")
  read -r agent_kb agent_wall < <(peak "$MAILAGENT" queue "${SETTINGS[@]}")
  agent_inner=$(jq_py 'd["duration_seconds"]')
  agent_msgs=$(jq_py 'd["queues"]["deferred"]["messages"]')
  agent_malformed=$(jq_py 'd["malformed_lines"]')
  reasons=$(jq_py '", ".join("%s %d" % (k, v) for k, v in d["deferred_by_reason"].items() if v)')
  top=$(jq_py '", ".join("%s %d" % (x["domain"], x["recipients"]) for x in d["deferred_top_domains"][:3]) + ", … other %d" % d["deferred_other_domains_recipients"]')

  cat_settings=("${COMMON[@]}" "Postfix:PostqueuePath=$RUN/cat-postqueue")
  summ=$(hf summ "$MAILAGENT queue ${cat_settings[*]} > /dev/null")
  read -r summ_kb _ < <(peak "$MAILAGENT" queue "${cat_settings[@]}")
  summ_inner=$(jq_py 'd["duration_seconds"]')

  # The managed heap capped at 8 MiB, a quarter of the postqueue -j output at 100,000 messages: a
  # summary that buffered the output or grew with the queue could not finish.
  capped=no
  if DOTNET_GCHeapHardLimit=0x800000 "$MAILAGENT" queue "${SETTINGS[@]}" > "$RUN/capped.json" 2>/dev/null \
     && [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["queues"]["deferred"]["messages"])' "$RUN/capped.json")" = "$have" ]; then
    capped=yes
  fi

  [ "$agent_msgs" = "$have" ] || say "WARNING: the inspector counted $agent_msgs deferred messages, the queue holds $have"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$have" "$inject_secs" "$floor_p" "$floor_j" "$agent" \
    "$agent_inner" "$agent_kb" "$summ" "$summ_inner" "$summ_kb" "$json_bytes" "$capped" "$agent_msgs" "$agent_malformed" "$reasons" "$top" >> "$ROWS"
done

{
  echo "## Queue inspector, $DATE"
  echo
  echo "\`bash bench/queue/run.sh $CONFIG\` on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "Postfix $(postconf -d -h mail_version), $("$MAILAGENT" version). Measured commands pinned to core $MEASURED_CPU;"
  echo "median of $RUNS hyperfine runs after a warm-up (process start included). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| deferred messages | \`postqueue -p \\| tail -1\` | \`postqueue -j >/dev/null\` | \`mailagent queue\` | its own duration_seconds | ratio to the floor | peak RSS | summariser alone (cat-fed) | its duration_seconds | its peak RSS | \`postqueue -j\` output | done with an 8 MiB GC heap cap |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"
  while IFS=$'\t' read -r n inj fp fj ag agi akb su sui skb jb cap _ _ _ _; do
    ratio=$(awk -v a="$ag" -v b="$fp" 'BEGIN { printf "%.2f", a / b }')
    printf '| %s | %s s | %s s | %s s | %s s | %s× | %s MiB | %s s | %s s | %s MiB | %s MiB | %s |\n' "$n" "$fp" "$fj" "$ag" "$agi" "$ratio" \
      "$(awk -v k="$akb" 'BEGIN { printf "%.1f", k / 1024 }')" "$su" "$sui" "$(awk -v k="$skb" 'BEGIN { printf "%.1f", k / 1024 }')" \
      "$(awk -v b="$jb" 'BEGIN { printf "%.1f", b / 1048576 }')" "$cap"
  done < "$ROWS"
  echo
  while IFS=$'\t' read -r n inj _ _ _ _ _ _ _ _ _ _ msgs bad reasons top; do
    echo "- $n messages (queue built in ${inj} s): the inspector counted $msgs deferred, $bad malformed lines; by reason: $reasons; top domains: $top."
  done < "$ROWS"
  if [ "$(wc -l < "$ROWS")" -ge 2 ]; then
    first=$(head -1 "$ROWS" | cut -f1,7,10) last=$(tail -1 "$ROWS" | cut -f1,7,10)
    read -r n1 a1 s1 <<< "$first"; read -r n2 a2 s2 <<< "$last"
    echo "- Memory flatness: peak RSS of \`mailagent queue\` $(awk -v a="$a1" 'BEGIN{printf "%.1f", a/1024}') MiB at $n1 messages," \
      "$(awk -v a="$a2" 'BEGIN{printf "%.1f", a/1024}') MiB at $n2 ($(awk -v a="$a1" -v b="$a2" 'BEGIN{printf "%+.1f", (b-a)/1024}') MiB for $((n2 / n1))× the queue);" \
      "summariser alone $(awk -v a="$s1" 'BEGIN{printf "%.1f", a/1024}') → $(awk -v a="$s2" 'BEGIN{printf "%.1f", a/1024}') MiB."
  fi
} > "$REPORT"
cp "$REPORT" "$OUT_MD"
cat "$REPORT"
say "report written to $OUT_MD"
