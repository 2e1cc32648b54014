#!/usr/bin/env bash
# Delivery events into PostgreSQL: sustained events/s and lag.
# A private PostgreSQL cluster on a Unix socket + 127.0.0.1, a real agent and a real control plane
# (this checkout's build output), the bundled corpus appended to the agent's log at RATE lines/s
# (0 = all at once). Every second it prints: lines written, events stored, events/s over the last
# second, and the lag = events the agent has produced (mailagent events over the lines written so
# far) minus events stored. Usage: bash bench/delivery-events/run.sh [CONFIGURATION] [RATE]
set -euo pipefail
CONFIG=${1:-Release}
RATE=${2:-0}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
W=$(mktemp -d /tmp/bench-events.XXXXXX)
AGENT="$ROOT/agent/src/MailAgent/bin/$CONFIG/net10.0/mailagent.dll"
CP="$ROOT/control-plane/src/MailControlPlane/bin/$CONFIG/net10.0/mailagent-control-plane.dll"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  [ -d "$W/pg" ] && "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PGPORT=$(port); AGPORT=$(port)
RUNAS=(); [ "$(id -u)" = 0 ] && { chown -R postgres "$W" 2>/dev/null || true; chmod 777 "$W"; RUNAS=(runuser -u postgres --); }
"${RUNAS[@]}" "$PGBIN/initdb" -D "$W/pg" -U bench --auth=trust >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$W/pg" -o "-p $PGPORT -k $W -c listen_addresses=127.0.0.1 -c fsync=on" -l "$W/pg.log" -w start >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U bench platform
CS="Host=127.0.0.1;Port=$PGPORT;Username=bench;Database=platform"
dotnet "$AGENT" pki init --dir "$W/pki" --agent-name localhost --client-name control-plane >/dev/null
zcat "$ROOT/tests/data/real-postfix-3.7.log.gz" > "$W/corpus.log"
: > "$W/mail.log"; mkdir -p "$W/state"
dotnet "$AGENT" run Http:Urls=http://127.0.0.1:0 AgentLog:FilePath= "LogTailing:Path=$W/mail.log" "LogTailing:StateDirectory=$W/state" \
  LogTailing:StartAt=Beginning "Grpc:Listen=127.0.0.1:$AGPORT" "Grpc:CaFile=$W/pki/ca.crt" "Grpc:CertificateFile=$W/pki/agent.crt" \
  "Grpc:KeyFile=$W/pki/agent.key" Grpc:ReadClients=control-plane Grpc:EventBufferSize=1000000 Events:RecipientHashKey=bench-key-0123456789abcdef \
  Health:Checks=log Queue:Enabled=false > "$W/agent.out" 2>&1 & pids+=($!)
dotnet "$CP" run Agents:0:Name=bench Agents:0:Address=https://localhost:$AGPORT Agents:0:Region=r Agents:0:ProviderName=postfix-bench \
  "Tls:CaFile=$W/pki/ca.crt" "Tls:CertificateFile=$W/pki/client.crt" "Tls:KeyFile=$W/pki/client.key" Http:Urls=http://127.0.0.1:0 Grpc:Listen= \
  "Routing:ConnectionString=$CS" Log:FilePath= > "$W/cp.out" 2>&1 & pids+=($!)
count() { "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U bench -d platform -Atc "SELECT count(*) FROM messaging_delivery_events" 2>/dev/null || echo 0; }
until [ "$(count)" != 0 ] || "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U bench -d platform -Atc "SELECT 1 FROM messaging_delivery_cursors LIMIT 1" >/dev/null 2>&1; do sleep 0.5; done
TOTAL=$(wc -l < "$W/corpus.log")
EXPECTED=$(dotnet "$AGENT" events --log "$W/corpus.log" | wc -l)
echo "corpus: $TOTAL lines, $EXPECTED events; rate ${RATE:-0} lines/s (0 = all at once)" >&2
if [ "$RATE" = 0 ]; then cat "$W/corpus.log" >> "$W/mail.log"; else
  ( split -l "$RATE" "$W/corpus.log" "$W/chunk."; for f in "$W"/chunk.*; do cat "$f" >> "$W/mail.log"; sleep 1; done ) & pids+=($!); fi
start=$(date +%s.%N); prev=0; prevt=$start; peak=0; maxlag=0; first=""
printf 'second lines_written stored events_per_s lag_events\n'
while :; do
  sleep 1
  now=$(date +%s.%N); n=$(count); lines=$(wc -l < "$W/mail.log")
  produced=$(( EXPECTED * lines / TOTAL )); lag=$(( produced > n ? produced - n : 0 ))
  rate=$(python3 -c "print(round(($n-$prev)/($now-$prevt)))"); prev=$n; prevt=$now
  [ $rate -gt $peak ] && peak=$rate; [ $lag -gt $maxlag ] && maxlag=$lag; [ -z "$first" ] && [ "$n" -gt 0 ] && first=$now
  printf '%s %s %s %s %s\n' "$(python3 -c "print(round($now-$start))")" "$lines" "$n" "$rate" "$lag"
  [ "$n" -ge "$EXPECTED" ] && break
done
elapsed=$(python3 -c "print(round($(date +%s.%N)-$start,1))")
echo "stored $EXPECTED events in ${elapsed} s: $(python3 -c "print(round($EXPECTED/$elapsed))") events/s average from the first line written, $(python3 -c "print(round($EXPECTED/($(date +%s.%N)-$first)))") events/s from the first row stored, peak ${peak}/s, largest lag ${maxlag} events"
