#!/usr/bin/env bash
# bench/scoring: how fast the routing table follows a host, with the DEFAULT scorer timings, on real
# processes on 127.0.0.1: two agents (postfix-oregon, postfix-virginia) following logs fed like
# `make run` does (scripts/run-local-feed.sh), the control plane writing the embedded SQLite table with
# its SMTP probes on (each provider probed on its own loopback SMTP target, bench/scoring/smtp-target.py).
# Scenario for virginia, one after the other, each timed from its cause to the first table read showing
# the effect (the table is read every 0.2 s):
#   1. first bad line (connection refusals + 451 4.7.1)      -> routing order changed
#   2. same failure going on                                -> is_active = false (hard failure)
#   3. deliveries succeed again (recovery evidence)         -> is_active = true (back in rotation)
#   4. kill -9 of the agent AND its SMTP target stopped     -> health_score = 0
# Prints the figures; nothing is asserted. Usage: bash bench/scoring/run.sh [CONFIGURATION]
# Only scoring's Scoring:DeliveryWindow is shortened (1 min, as in `make run`: the replay puts hours of the
# corpus's deliveries into the first seconds); every other timing is the default.
set -euo pipefail
cd "$(dirname "$0")/../.."
config=${1:-Release}
agent=${MAILAGENT:-agent/src/MailAgent/bin/$config/net10.0/mailagent}
cp=${MAILAGENT_CONTROL_PLANE:-control-plane/src/MailControlPlane/bin/$config/net10.0/mailagent-control-plane}
for f in "$agent" "$cp"; do [ -x "$f" ] || { echo "missing $f: run 'make build'"; exit 1; }; done
run=$PWD/.run/bench-scoring
base=${MAILAGENT_BENCH_PORT_BASE:-9260}   # agents base..base+3, control plane base+10/11, SMTP targets base+20/21
limit=${MAILAGENT_BENCH_LIMIT:-900}        # give up waiting for one step after this many seconds
corpus=tests/data/real-postfix-3.7.log.gz

pids=(); feeders=(); targets=(); stopping=""
cleanup() {
  [ -n "$stopping" ] && return; stopping=1
  trap - INT TERM EXIT
  for g in "${feeders[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for p in "${pids[@]}" "${targets[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}" "${targets[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for g in "${feeders[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$run"; mkdir -p "$run/pki"
"$agent" pki init --dir "$run/pki" --agent-name localhost --client-name control-plane > "$run/pki/init.out"
zcat "$corpus" | grep -v 'status=deferred' > "$run/corpus-good.log"

python3 bench/scoring/smtp-target.py $((base + 20)) & targets+=($!)
python3 bench/scoring/smtp-target.py $((base + 21)) & targets+=($!)

start_agent() { # name http-port grpc-port
  local name=$1 http=$2 grpc=$3 dir="$run/$1"
  mkdir -p "$dir/state"; : > "$dir/mail.log"
  "$agent" run "LogTailing:Path=$dir/mail.log" "LogTailing:StateDirectory=$dir/state" LogTailing:StartAt=Beginning \
    "Http:Urls=http://127.0.0.1:$http" "Grpc:Listen=127.0.0.1:$grpc" \
    "Grpc:CaFile=$run/pki/ca.crt" "Grpc:CertificateFile=$run/pki/agent.crt" "Grpc:KeyFile=$run/pki/agent.key" \
    Grpc:ReadClients=control-plane Grpc:WriteClients=control-plane \
    "Health:Checks=log;delivery" Queue:Enabled=false "AgentLog:FilePath=$dir/agent.log" > "$dir/agent.out" 2>&1 &
  pids+=($!)
}
wait_for() { # file pattern what
  for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "$3 did not start; its output:"; cat "$1"; exit 1
}
start_agent postfix-oregon $base $((base + 1))
start_agent postfix-virginia $((base + 2)) $((base + 3))
virginia_pid=${pids[1]}
wait_for "$run/postfix-oregon/agent.out" 'mailagent grpc listening on' "agent postfix-oregon"
wait_for "$run/postfix-virginia/agent.out" 'mailagent grpc listening on' "agent postfix-virginia"

db="$run/routing.db"
"$cp" run \
  Agents:0:Name=postfix-oregon "Agents:0:Address=https://localhost:$((base + 1))" Agents:0:Region=us-west-2 Agents:0:ProviderName=postfix-oregon \
  Agents:0:ProbeHost=127.0.0.1 Agents:0:ProbePort=$((base + 20)) \
  Agents:1:Name=postfix-virginia "Agents:1:Address=https://localhost:$((base + 3))" Agents:1:Region=us-east-1 Agents:1:ProviderName=postfix-virginia \
  Agents:1:ProbeHost=127.0.0.1 Agents:1:ProbePort=$((base + 21)) \
  Probing:Enabled=true Probing:RequireStartTls=false \
  "Tls:CaFile=$run/pki/ca.crt" "Tls:CertificateFile=$run/pki/client.crt" "Tls:KeyFile=$run/pki/client.key" \
  "Http:Urls=http://127.0.0.1:$((base + 10))" "Grpc:Listen=127.0.0.1:$((base + 11))" \
  "Grpc:CertificateFile=$run/pki/agent.crt" "Grpc:KeyFile=$run/pki/agent.key" Grpc:Clients=control-plane \
  "Routing:SqlitePath=$db" Scoring:DeliveryWindow=00:01:00 \
  "Log:FilePath=$run/control-plane.log" > "$run/control-plane.out" 2>&1 &
pids+=($!)
wait_for "$run/control-plane.out" 'mailagent-control-plane listening on' "the control plane"

sql() { python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); r=c.execute(sys.argv[2]).fetchone(); print("" if r is None or r[0] is None else r[0])' "$db" "$1" 2>/dev/null || true; }
order() { sql "SELECT group_concat(provider_name, ' > ') FROM (SELECT provider_name FROM messaging_providers WHERE provider_type = 'email' AND is_active = 1 ORDER BY COALESCE(CAST(json_extract(config, '\$.health_score') AS INTEGER), 100) DESC, COALESCE(CAST(json_extract(config, '\$.email_rate_per_1000') AS REAL), 999) ASC, COALESCE(CAST(json_extract(config, '\$.priority') AS INTEGER), 999) ASC)"; }
virginia() { sql "SELECT is_active || ' ' || COALESCE(json_extract(config, '\$.health_score'), '-') FROM messaging_providers WHERE provider_name = 'postfix-virginia'"; }
now_ms() { date +%s%3N; }
log() { echo "$(date +%T.%3N) $*" >&2; }
until_true() { # what test-command...: polls every 0.2 s; prints the seconds waited
  local what=$1 start; shift; start=$(now_ms)
  while ! "$@"; do
    for p in "${pids[@]}"; do [ "$p" = "$virginia_pid" ] && [ -n "${killed:-}" ] && continue; kill -0 "$p" 2>/dev/null || { log "process $p ended; see $run"; exit 1; }; done
    (( $(now_ms) - start > limit * 1000 )) && { log "gave up waiting: $what"; exit 1; }
    sleep 0.2
  done
  awk -v ms=$(( $(now_ms) - start )) 'BEGIN { printf "%.1f", ms / 1000 }'
}
both_first() { [[ "$(order)" == postfix-*" > "postfix-*" > "* ]]; }
order_changed() { [[ "$(order)" != "$steady" ]]; }
inactive() { [[ "$(virginia)" == 0\ * ]]; }
active() { [[ "$(virginia)" == 1\ * ]]; }
zero() { [[ "$(virginia)" == *\ 0 ]]; }

echo good > "$run/postfix-virginia/phase"; echo good > "$run/postfix-oregon/phase"
setsid bash scripts/run-local-feed.sh "$run" postfix-oregon mail-oregon & feeders+=($!)
setsid bash scripts/run-local-feed.sh "$run" postfix-virginia mail-virginia & feeders+=($!)
log "replaying the corpus into both agents' logs, waiting for both Postfix providers ahead of the paid one"
until_true "both providers at the top" both_first > /dev/null
sleep 10   # settle: the replay ends and live lines flow
steady=$(order); log "steady order: $steady (virginia: active/score $(virginia))"

echo bad > "$run/postfix-virginia/phase"; log "virginia: first bad line"
t1=$(until_true "order changed" order_changed); log "order changed after $t1 s: $(order)"
t2=$(until_true "virginia inactive" inactive); log "virginia is_active=false after further $t2 s"
echo good > "$run/postfix-virginia/phase"; log "virginia: deliveries succeed again"
t3=$(until_true "virginia back" active); log "virginia back in rotation after $t3 s: $(order)"
killed=1; kill -KILL "$virginia_pid"; kill -KILL "${targets[1]}"; log "virginia: agent killed (-9) and its SMTP target stopped"
t4=$(until_true "virginia score 0" zero); log "virginia score 0 after $t4 s"

t2total=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", a + b }')
cat <<REPORT

| step (default timings, $(date -u +%F)) | seconds | aim |
|---|---:|---:|
| first bad line -> routing order changed | $t1 | <= 5 |
| first bad line -> is_active = false (hard failure) | $t2total | <= 30 |
| deliveries succeed again -> back in rotation | $t3 | <= 60 |
| agent killed + SMTP target stopped -> score 0 | $t4 | <= 10 |
REPORT
