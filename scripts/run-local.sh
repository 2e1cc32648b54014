#!/usr/bin/env bash
# `make run`: the whole system on this machine, with everything under .run/ (git-ignored):
# certificates from `mailagent pki init`, two agents (postfix-oregon, postfix-virginia) each
# following its own log fed from the bundled corpus, and the control plane writing an embedded
# SQLite routing table. Part-way, virginia's log turns to connection failures and 451 4.7.1
# refusals, then recovers. Ctrl-C (or SIGTERM) stops everything and leaves no process behind.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-Release}
agent="agent/src/MailAgent/bin/$config/net10.0/mailagent"
cp="control-plane/src/MailControlPlane/bin/$config/net10.0/mailagent-control-plane"
for f in "$agent" "$cp"; do [ -x "$f" ] || { echo "missing $f: run 'make build' (or 'make run', which builds)"; exit 1; }; done
run=$PWD/.run
base=${MAILAGENT_RUN_PORT_BASE:-9160}      # agents: base..base+3, control plane: base+10, base+11
bad_after=${MAILAGENT_RUN_BAD_AFTER:-45}   # seconds of live traffic before virginia goes bad
bad_for=${MAILAGENT_RUN_BAD_FOR:-60}       # seconds it stays bad
corpus=tests/data/real-postfix-3.7.log.gz

pids=()
feeders=()
stopping=""
cleanup() {
  [ -n "$stopping" ] && return; stopping=1
  trap - INT TERM EXIT
  echo; echo "stopping..."
  # Children first by their own pids (feeders, agents, control plane), then wait for every one.
  for g in "${feeders[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for g in "${feeders[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped; logs and the routing table are in .run/"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$run"; mkdir -p "$run/pki"
"$agent" pki init --dir "$run/pki" --agent-name localhost --client-name control-plane > "$run/pki/init.out"

# The corpus was recorded against deliberately unreachable test destinations (a quarter of its
# deliveries are deferrals); its deferral lines are left out so that both servers start healthy.
zcat "$corpus" | grep -v 'status=deferred' > "$run/corpus-good.log"

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
wait_for "$run/postfix-oregon/agent.out" 'mailagent grpc listening on' "agent postfix-oregon"
wait_for "$run/postfix-virginia/agent.out" 'mailagent grpc listening on' "agent postfix-virginia"

db="$run/routing.db"
"$cp" run \
  Agents:0:Name=postfix-oregon "Agents:0:Address=https://localhost:$((base + 1))" Agents:0:Region=us-west-2 Agents:0:ProviderName=postfix-oregon \
  Agents:1:Name=postfix-virginia "Agents:1:Address=https://localhost:$((base + 3))" Agents:1:Region=us-east-1 Agents:1:ProviderName=postfix-virginia \
  "Tls:CaFile=$run/pki/ca.crt" "Tls:CertificateFile=$run/pki/client.crt" "Tls:KeyFile=$run/pki/client.key" \
  "Http:Urls=http://127.0.0.1:$((base + 10))" "Grpc:Listen=127.0.0.1:$((base + 11))" \
  "Grpc:CertificateFile=$run/pki/agent.crt" "Grpc:KeyFile=$run/pki/agent.key" Grpc:Clients=control-plane \
  "Routing:SqlitePath=$db" Scoring:DeliveryWindow=00:01:00 \
  "Log:FilePath=$run/control-plane.log" > "$run/control-plane.out" 2>&1 &
pids+=($!)
wait_for "$run/control-plane.out" 'mailagent-control-plane listening on' "the control plane"

query="SELECT id, provider_name, config FROM messaging_providers WHERE provider_type = 'email' AND is_active = 1 ORDER BY COALESCE(CAST(json_extract(config, '\$.health_score') AS INTEGER), 100) DESC, COALESCE(CAST(json_extract(config, '\$.email_rate_per_1000') AS REAL), 999) ASC, COALESCE(CAST(json_extract(config, '\$.priority') AS INTEGER), 999) ASC;"
routing_order() {
  local sql="SELECT group_concat(provider_name || ' (' || COALESCE(json_extract(config, '\$.health_score'), '-') || ')', ' > ') FROM (${query%;})"
  if command -v sqlite3 > /dev/null; then sqlite3 -readonly "$db" "$sql" 2>/dev/null || true
  else python3 -c 'import sqlite3,sys; c=sqlite3.connect("file:"+sys.argv[1]+"?mode=ro", uri=True); print(c.execute(sys.argv[2]).fetchone()[0])' "$db" "$sql" 2>/dev/null || true; fi
}

cat <<MSG

Everything runs (agents: oregon pid ${pids[0]}, virginia pid ${pids[1]}; control plane pid ${pids[2]}).
  status page:    http://127.0.0.1:$((base + 10))/   (routing order, score charts, agents; refreshes live)
  control plane:  http://127.0.0.1:$((base + 10))/health   http://127.0.0.1:$((base + 10))/metrics
                  gRPC API https://127.0.0.1:$((base + 11)) (mailagent.controlplane.v1, client certificate .run/pki/client.crt)
  oregon agent:   http://127.0.0.1:$base/metrics   /health     gRPC https://127.0.0.1:$((base + 1))
  virginia agent: http://127.0.0.1:$((base + 2))/metrics   /health     gRPC https://127.0.0.1:$((base + 3))
  routing table:  $db (SQLite, seeded with postfix-oregon, postfix-virginia and the paid elastic-email)
    read it:      sqlite3 -readonly $db "$query"
                  sqlite3 -readonly $db "SELECT checked_at, provider_id, status, error_message FROM messaging_provider_health_logs ORDER BY id"
  logs:           .run/control-plane.log, .run/postfix-*/agent.log
Note: there is no Postfix here, so the agents run only the checks that make sense for a replayed
log (Health:Checks=log;delivery) and no queue listing (Queue:Enabled=false), and the control plane's
SMTP probes stay off (Probing:Enabled). The replay puts hours of the corpus's deliveries into the
first seconds, so the delivery window is 1 min (Scoring:DeliveryWindow; default 15 min) for the
live lines to count; every other timing is the default: virginia is taken out on proven failures
and comes back on fresh evidence (successful deliveries after the outage), not on a timer.
Each agent replays the corpus ($corpus, deferrals left out), then follows live lines;
after ${bad_after} s of live traffic virginia gets ${bad_for} s of connection refusals and 451 4.7.1 deferrals, then recovers.
Ctrl-C stops everything.

MSG

echo good > "$run/postfix-virginia/phase"
# Each feeder in its own session, so that stopping it stops its split and sleep children too.
setsid bash scripts/run-local-feed.sh "$run" postfix-oregon mail-oregon & feeders+=($!)
setsid bash scripts/run-local-feed.sh "$run" postfix-virginia mail-virginia & feeders+=($!)

# The story for virginia, and the routing order each time it changes.
lines=$(wc -l < "$run/corpus-good.log")
echo "$(date +%T) replaying $lines corpus lines into each agent's log (20,000 lines a second)"
started=$(date +%s); replay_secs=$(( (lines + 19999) / 20000 + 1 ))
last=""; phase=good
while :; do
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "process $p ended; see .run/"; exit 1; }; done
  t=$(( $(date +%s) - started - replay_secs ))
  if [ $phase = good ] && [ $t -ge $bad_after ]; then
    phase=bad; echo bad > "$run/postfix-virginia/phase"; echo "$(date +%T) virginia: connection refusals and 451 4.7.1 deferrals start"
  elif [ $phase = bad ] && [ $t -ge $((bad_after + bad_for)) ]; then
    phase=recovered; echo good > "$run/postfix-virginia/phase"; echo "$(date +%T) virginia: deliveries succeed again"
  fi
  # Printed when the order of the providers changes (the scores are shown alongside).
  order=$(routing_order); names=$(sed 's/ ([0-9-]*)//g' <<< "$order")
  if [ -n "$order" ] && [ "$names" != "$last" ]; then
    echo "$(date +%T) routing order: $order"; last=$names
  fi
  sleep 1
done
