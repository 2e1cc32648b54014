#!/usr/bin/env bash
# Feeds one agent's log for scripts/run-local.sh: the corpus (deferrals left out) at 20,000 lines
# a second, then one live delivery line every 100 ms with the current time; while the file
# RUN/NAME/phase says "bad", the live lines are connection refusals and 451 4.7.1 deferrals.
set -euo pipefail
run=$1 name=$2 host=$3
log="$run/$name/mail.log" phase="$run/$name/phase"
sed "s/ mail-oregon / $host /" "$run/corpus-good.log" | split -l 20000 --filter='cat >> '"$log"'; sleep 1'
n=0
while :; do
  n=$((n + 1))
  now=$(LC_ALL=C date '+%b %e %H:%M:%S'); id=$(printf '%X' $((0xA00000 + n))); pid=$((4000 + n % 500))
  if [ "$(cat "$phase" 2>/dev/null)" = bad ]; then
    if [ $((n % 2)) -eq 0 ]; then
      echo "$now $host postfix/smtp[$pid]: $id: to=<user$n@example.net>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.net[203.0.113.25]:25: Connection refused)"
    else
      echo "$now $host postfix/smtp[$pid]: $id: to=<user$n@example.net>, relay=mx.example.net[203.0.113.25]:25, delay=0.6, delays=0.01/0/0.3/0.29, dsn=4.7.1, status=deferred (host mx.example.net[203.0.113.25] said: 451 4.7.1 Service unavailable - try again later (in reply to RCPT TO command))"
    fi
  else
    echo "$now $host postfix/smtp[$pid]: $id: to=<user$n@example.net>, relay=mx.example.net[203.0.113.25]:25, delay=0.4, delays=0.01/0/0.2/0.19, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as $id)"
  fi >> "$log"
  sleep 0.1
done
