#!/usr/bin/env bash
# `make run`: the agent on this machine, following a log that is fed the bundled corpus,
# with everything under .run/ (git-ignored). Ctrl-C stops it and leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-Release}
agent="agent/src/MailAgent/bin/$config/net10.0/mailagent"
run=.run
rm -rf "$run"; mkdir -p "$run/state"
log="$run/mail.log"; : > "$log"
port=${MAILAGENT_PORT:-9160}

"$agent" run "LogTailing:Path=$PWD/$log" "LogTailing:StateDirectory=$PWD/$run/state" LogTailing:StartAt=Beginning \
  "Http:Urls=http://127.0.0.1:$port" "AgentLog:FilePath=$PWD/$run/agent.log" > "$run/agent.out" 2>&1 &
pid=$!
feeder=""
cleanup() { [ -n "$feeder" ] && kill "$feeder" 2>/dev/null; kill "$pid" 2>/dev/null; wait 2>/dev/null; echo; echo "stopped; files are in $run/"; }
trap cleanup EXIT INT TERM

for _ in $(seq 100); do grep -q 'mailagent listening on' "$run/agent.out" && break; sleep 0.1; done
if ! grep -q 'mailagent listening on' "$run/agent.out"; then cat "$run/agent.out"; exit 1; fi

cat <<MSG
mailagent is running (pid $pid), following $log
  metrics:      http://127.0.0.1:$port/metrics
  agent log:    $run/agent.log
  checkpoint:   $run/state/log-checkpoint.json
Feeding the corpus log (tests/data/real-postfix-3.7.log.gz) into $log, 2,000 lines a second.
Try:  curl -s 127.0.0.1:$port/metrics | grep postfix_delivery_status_total
      $agent replay tests/data/real-postfix-3.7.log.gz --format summary
Ctrl-C stops everything.
MSG

( \
  zcat tests/data/real-postfix-3.7.log.gz | split -l 2000 --filter='cat >> '"$log"'; sleep 1' ) &
feeder=$!
while kill -0 "$pid" 2>/dev/null; do
  sleep 10
  sent=$(curl -s "127.0.0.1:$port/metrics" | awk '/^postfix_delivery_status_total\{service="smtp",status="sent"\}/ {print $2}')
  lines=$(curl -s "127.0.0.1:$port/metrics" | awk '/^mailagent_log_lines_total/ {s+=$2} END {print s+0}')
  echo "$(date +%T) lines read: $lines, smtp sent: ${sent:-0}"
done
