#!/usr/bin/env bash
# The installed packages under a real systemd: systemd runs as PID 1 of a throwaway namespace
# (pid, mount, uts, ipc, net with loopback only) that starts only the units under test. Run as
# root after the .debs are installed (check-packages.sh install calls it). Proves:
#   - Type=notify readiness: mailagent.service is active once 'systemctl start' returns;
#   - the hardened unit reads /var/log/mail.log (root:adm 0640) as user mailagent via group adm;
#   - watchdog restart: a test-only hook (MAILAGENT_TEST_STALL_FILE) stalls the tail loop, the agent
#     stops pinging, systemd kills and restarts it (NRestarts goes up), and it is active again;
#   - the control-plane unit starts and writes its log in its LogsDirectory.
# Clean-up, also on failure: SIGKILL the namespace's PID 1 (which ends the namespace) and rmdir the
# cgroups it made on the host's hierarchies, children first. docs/operations.md has the recipe.
set -uo pipefail
[ "$(id -u)" -eq 0 ] || { echo "systemd-namespace: must run as root" >&2; exit 2; }
for f in /usr/bin/mailagent /usr/bin/mailagent-control-plane /lib/systemd/system/mailagent.service; do
  [ -e "$f" ] || { echo "systemd-namespace: $f missing: install the packages first" >&2; exit 2; }
done
deadline=${SYSTEMD_NS_DEADLINE:-60}   # seconds for any one wait
failures=0
fail() { echo "SYSTEMD FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "systemd ok: $*"; }

# Not under /tmp: the units' PrivateTmp=yes would hide it.
mkdir -p /srv
work=$(mktemp -d /srv/mailagent-systemd.XXXXXX)
chmod 0755 "$work"
units=$work/units
mkdir -p "$units"
cgroups_before=$work/cgroups.before
find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sort >"$cgroups_before"
pid1=""

cleanup() {
  if [ -n "$pid1" ] && kill -0 "$pid1" 2>/dev/null; then
    kill -KILL "$pid1" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid1" 2>/dev/null || break; sleep 0.1; done
  fi
  # The namespace ends with its last process: only then are its cgroups empty.
  [ -n "${unshare_pid:-}" ] && wait "$unshare_pid" 2>/dev/null
  # Every cgroup the namespace's systemd made (system.slice/…, init.scope, …), deepest first.
  find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sort | comm -13 "$cgroups_before" - | awk '{ print length, $0 }' \
    | sort -rn | cut -d' ' -f2- | while read -r d; do rmdir "$d" 2>/dev/null || echo "systemd-namespace: cannot rmdir $d"; done
  left=$(find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sort | comm -13 "$cgroups_before" - | wc -l)
  [ "$left" -eq 0 ] || echo "systemd-namespace: $left cgroup(s) left"
  grep -q ' /sys/fs/cgroup tmpfs ro' /proc/self/mounts && echo "systemd-namespace: the host's /sys/fs/cgroup is read-only after the run"
  rm -rf "$work"
}
trap cleanup EXIT

# The units under test and only those: the packaged units from /lib/systemd/system with drop-ins,
# a target with DefaultDependencies=no, and every unit they name that could start more masked.
cat >"$units/mailagent-test.target" <<'UNIT'
[Unit]
Description=MailAgent units under test
DefaultDependencies=no
UNIT
for u in network-online.target postfix.service postgresql.service opendkim.service sysinit.target basic.target \
         systemd-journald.socket systemd-journald.service systemd-journald-dev-log.socket; do
  ln -s /dev/null "$units/$u"
done
mkdir -p "$units/mailagent.service.d" "$units/mailagent-control-plane.service.d"
cat >"$units/mailagent.service.d/test.conf" <<'UNIT'
[Unit]
DefaultDependencies=no
[Service]
# Short periods so the watchdog test is quick; the stall hook is test-only (README: watchdog).
WatchdogSec=6s
RestartSec=1s
Environment=MAILAGENT_TEST_STALL_FILE=/var/lib/mailagent/stall
# The stall limit must exceed every loop's period (health 1 s, tail poll 2 s), or a healthy loop looks stalled.
Environment=MAILAGENT__Health__LoopStallTimeout=00:00:03 MAILAGENT__Health__Interval=00:00:01
StandardOutput=append:/var/log/mailagent-unit.out
StandardError=inherit
UNIT
# The control plane needs one agent and its certificates to pass check-config.
pki=$work/pki
mkdir -p "$pki" && chmod 0755 "$pki"
mailagent pki init --dir "$pki" >/dev/null || fail "mailagent pki init"
chmod 0644 "$pki"/*
cp_args="Agents:0:Name=local Agents:0:Address=https://127.0.0.1:9161 Agents:0:Region=local Agents:0:ProviderName=postfix-local Tls:CaFile=$pki/ca.crt Tls:CertificateFile=$pki/client.crt Tls:KeyFile=$pki/client.key Routing:SqlitePath=/var/lib/mailagent-control-plane/routing.db"
cat >"$units/mailagent-control-plane.service.d/test.conf" <<UNIT
[Unit]
DefaultDependencies=no
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/mailagent-control-plane check-config $cp_args
ExecStart=
ExecStart=/usr/bin/mailagent-control-plane run $cp_args
StandardOutput=append:/var/log/mailagent-control-plane-unit.out
StandardError=inherit
UNIT

# Inside the namespace: private /run, /var/log and state, a stock mail log, loopback up, then systemd.
cat >"$work/inner.sh" <<INNER
#!/bin/sh
set -e
mount --make-rprivate /
mount -t tmpfs tmpfs /run
# A private /sys/fs/cgroup with the host's hierarchies mounted again: systemd makes directories and
# symlinks there and remounts it read-only, which on the host's tmpfs would change the host's.
grep -E '^[^ ]+ /sys/fs/cgroup/[^ ]+ cgroup ' /proc/self/mounts >/run/cgroup-mounts
mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
while read -r _ dir _ opts _; do mkdir -p "\$dir"; mount -t cgroup -o "\$opts" cgroup "\$dir"; done </run/cgroup-mounts
mount -t tmpfs tmpfs /var/log
mkdir -p /var/lib/mailagent /var/lib/mailagent-control-plane
mount -t tmpfs tmpfs /var/lib/mailagent
mount -t tmpfs tmpfs /var/lib/mailagent-control-plane
printf 'Dec  6 04:00:00 mail postfix/master[100]: daemon started -- version 3.7.11, configuration /etc/postfix\n' >/var/log/mail.log
chown root:adm /var/log/mail.log
chmod 0640 /var/log/mail.log
ip link set lo up
mount --bind "$units" /etc/systemd/system
exec /lib/systemd/systemd --system --unit=mailagent-test.target --log-target=console --log-level=warning
INNER
chmod 0755 "$work/inner.sh"

started=$(date +%s)
unshare --pid --fork --mount --uts --ipc --net --mount-proc "$work/inner.sh" >"$work/systemd.out" 2>&1 &
unshare_pid=$!
for _ in $(seq $((deadline * 10))); do
  pid1=$(pgrep -P "$unshare_pid" -x systemd | head -1)
  [ -n "$pid1" ] && break
  sleep 0.1
done
[ -n "$pid1" ] || { cat "$work/systemd.out"; fail "systemd did not start as PID 1 of the namespace"; exit 1; }
in_ns() { nsenter -t "$pid1" -m -p -n -u -i "$@"; }
ctl() { in_ns systemctl "$@"; }
until_true() { # seconds command...: poll until the command succeeds
  local n=$1; shift
  for _ in $(seq $((n * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}
until_true "$deadline" test -S "/proc/$pid1/root/run/systemd/private" && until_true "$deadline" ctl show -p Version \
  || { cat "$work/systemd.out"; fail "systemd in the namespace did not come up"; exit 1; }
ok "systemd is PID 1 of the namespace (host pid $pid1): $(ctl list-units --all --no-legend --plain --type=service | wc -l) service unit(s) loaded"

# Type=notify readiness: start returns once READY=1 arrived.
if ctl start mailagent.service; then
  state=$(ctl is-active mailagent.service)
  [ "$state" = active ] && ok "Type=notify: mailagent.service active after start" || fail "mailagent.service is $state after start"
else
  fail "systemctl start mailagent"; ctl status --no-pager mailagent.service; in_ns cat /var/log/mailagent-unit.out
fi
main=$(ctl show -p MainPID --value mailagent.service)
echo "agent: MainPID $main, $(in_ns grep -E '^(Uid|Groups):' /proc/"$main"/status | tr '\t\n' '  ')"

# The log, read as mailagent via group adm: append lines and watch them counted.
in_ns sh -c 'for i in 1 2 3; do echo "Dec  6 04:00:0$i mail postfix/qmgr[101]: 4Xy$i: removed" >>/var/log/mail.log; done'
lines() { in_ns curl -sf http://127.0.0.1:9160/metrics | awk '/^mailagent_log_lines_total/ { s += $NF } END { print s + 0 }'; }
if until_true "$deadline" sh -c "[ \"\$(nsenter -t $pid1 -m -p -n curl -sf http://127.0.0.1:9160/metrics | awk '/^mailagent_log_lines_total/ { s += \$NF } END { print s + 0 }')\" -ge 3 ]"; then
  ok "the log (root:adm 0640) is read as mailagent: mailagent_log_lines_total $(lines)"
else
  fail "the agent did not count the appended log lines ($(lines)); /health: $(in_ns curl -s http://127.0.0.1:9160/health)"
fi
in_ns curl -s http://127.0.0.1:9160/health | grep -q 'permission denied' && fail "/health reports permission denied: $(in_ns curl -s http://127.0.0.1:9160/health)"

# Watchdog: stall the tail loop; systemd must kill the agent (WatchdogSec=6s) and restart it.
restarts=$(ctl show -p NRestarts --value mailagent.service)
stall_at=$(date +%s)
in_ns touch /var/lib/mailagent/stall
if until_true "$deadline" sh -c "[ \$(nsenter -t $pid1 -m -p systemctl show -p NRestarts --value mailagent.service) -gt $restarts ]"; then
  in_ns rm -f /var/lib/mailagent/stall
  if until_true "$deadline" sh -c "[ \$(nsenter -t $pid1 -m -p systemctl is-active mailagent.service) = active ]"; then
    ok "watchdog: stalled loop killed and restarted in $(( $(date +%s) - stall_at )) s (NRestarts $(ctl show -p NRestarts --value mailagent.service), MainPID $main -> $(ctl show -p MainPID --value mailagent.service))"
  else
    fail "mailagent.service not active again after the watchdog restart"
  fi
else
  in_ns rm -f /var/lib/mailagent/stall
  fail "no watchdog restart within ${deadline}s"; ctl status --no-pager mailagent.service
fi

# The control plane: starts, and writes its log inside its LogsDirectory.
if ctl start mailagent-control-plane.service && [ "$(ctl is-active mailagent-control-plane.service)" = active ]; then
  ok "mailagent-control-plane.service active after start"
else
  fail "mailagent-control-plane.service did not start"; ctl status --no-pager mailagent-control-plane.service; in_ns cat /var/log/mailagent-control-plane-unit.out
fi
# Serilog rolls daily: control-plane.log is written as control-planeYYYYMMDD.log.
if until_true "$deadline" in_ns sh -c 'for f in /var/log/mailagent-control-plane/control-plane*.log; do test -s "$f" && exit 0; done; exit 1'; then
  ok "control plane writes its log: $(in_ns sh -c 'ls -l /var/log/mailagent-control-plane/control-plane*.log' | awk '{ print $1, $3 ":" $4, $NF }')"
else
  fail "no control-plane log in /var/log/mailagent-control-plane: $(in_ns ls -la /var/log/mailagent-control-plane)"
fi

echo "systemd-namespace: $(( $(date +%s) - started )) s"
if [ "$failures" -gt 0 ]; then
  echo "--- agent unit output"; in_ns tail -40 /var/log/mailagent-unit.out
  echo "systemd-namespace: $failures failure(s)"; exit 1
fi
echo "systemd-namespace: OK"
