#!/usr/bin/env bash
# The installed packages under a real systemd: systemd runs as PID 1 of a throwaway namespace
# (pid, mount, uts, ipc, net with loopback only) that starts only the units under test. Run as
# root after the .debs are installed (check-packages.sh install calls it). Inside it, a private
# Postfix and OpenDKIM laid out as Debian's packages lay them out, started by their own stock units
# (postfix@-.service, opendkim.service): /etc/postfix (main.cf, master.cf), /var/spool/postfix and
# /var/lib/postfix are bind mounts of copies, so the host's stay untouched; /var/log/mail.log is
# root:adm 0640 (Postfix's maillog_file); OpenDKIM listens on local:/run/opendkim/opendkim.sock,
# named only in Postfix's smtpd_milters. Proves:
#   - Type=notify readiness: mailagent.service is active once 'systemctl start' returns;
#   - with only the packaged settings, /health shows log, postfix, smtp and milter healthy and the
#     queue is listed: the hardened unit reads /var/log/mail.log via group adm, runs postqueue via
#     postdrop and reaches OpenDKIM's socket via opendkim, and finds both from postconf;
#   - watchdog restart: a test-only hook (MAILAGENT_TEST_STALL_FILE) stalls the tail loop, the agent
#     stops pinging, systemd kills and restarts it (NRestarts goes up), and it is active again;
#   - the daemon's ApplyConfig (gRPC, as the control plane calls it) is refused with a clear reason
#     without the write-access drop-in, and main.cf stays as it was; with the packaged drop-in it
#     changes main.cf and reloads Postfix (postconf, the reload in the log, the audit log, the
#     daemon's mailagent_config_applies_total{result="applied"}); 'mailagent apply-config' run by
#     the operator (root) is applied and counted by the daemon too; without the drop-in again the
#     agent starts as mailagent and is healthy;
#   - the control-plane unit starts and writes its log in its LogsDirectory.
# Clean-up, also on failure: SIGKILL the namespace's PID 1 (which ends the namespace) and rmdir the
# cgroups it made on the host's hierarchies, children first. docs/operations.md has the recipe.
set -uo pipefail
[ "$(id -u)" -eq 0 ] || { echo "systemd-namespace: must run as root" >&2; exit 2; }
for f in /usr/bin/mailagent /usr/bin/mailagent-control-plane /lib/systemd/system/mailagent.service \
         /usr/share/mailagent/systemd/mailagent-write-access.conf; do
  [ -e "$f" ] || { echo "systemd-namespace: $f missing: install the packages first" >&2; exit 2; }
done
for f in /usr/sbin/postfix /usr/sbin/opendkim /lib/systemd/system/postfix@.service /lib/systemd/system/opendkim.service /etc/opendkim.conf; do
  [ -e "$f" ] || { echo "systemd-namespace: $f missing: 'make deps' installs postfix and opendkim" >&2; exit 2; }
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
# timeout(1) sends TERM: exit through the EXIT trap, so the clean-up runs then too.
trap "exit 1" TERM INT

# The units under test and only those: the packaged units from /lib/systemd/system with drop-ins,
# Debian's postfix@.service and opendkim.service, a target with DefaultDependencies=no, and every
# unit they name that could start more masked.
cat >"$units/mailagent-test.target" <<'UNIT'
[Unit]
Description=MailAgent units under test
DefaultDependencies=no
UNIT
for u in network-online.target postgresql.service sysinit.target basic.target \
         systemd-journald.socket systemd-journald.service systemd-journald-dev-log.socket; do
  ln -s /dev/null "$units/$u"
done
for u in mailagent mailagent-control-plane postfix postfix@- opendkim; do
  mkdir -p "$units/$u.service.d"
  printf '[Unit]\nDefaultDependencies=no\n' >"$units/$u.service.d/test.conf"
done
# The agent's unit as packaged, with no setting of the agent's changed: only its output kept.
cat >>"$units/mailagent.service.d/test.conf" <<'UNIT'
[Service]
StandardOutput=append:/var/log/mailagent-unit.out
StandardError=inherit
UNIT
# Added for the watchdog test only. Short periods so it is quick; the stall hook is test-only (README: watchdog).
cat >"$work/watchdog.conf" <<'UNIT'
[Service]
WatchdogSec=6s
RestartSec=1s
Environment=MAILAGENT_TEST_STALL_FILE=/var/lib/mailagent/stall
# The stall limit must exceed every loop's period (health 1 s, tail poll 2 s), or a healthy loop looks stalled.
Environment=MAILAGENT__Health__LoopStallTimeout=00:00:03 MAILAGENT__Health__Interval=00:00:01
UNIT

# Postfix as Debian's postinst leaves it (main.cf.debian plus the answers to its questions), with
# Postfix writing the log itself, and the stock OpenDKIM socket as its milter.
postfix_etc=$work/postfix-etc postfix_spool=$work/postfix-spool postfix_lib=$work/postfix-lib
cp -a /etc/postfix "$postfix_etc"
cp -a /var/spool/postfix "$postfix_spool"
cp -a /var/lib/postfix "$postfix_lib"
rm -f "$postfix_spool"/pid/*.pid
{ grep -v '^#' /usr/share/postfix/main.cf.debian | grep -v '^$'
  cat <<'MAINCF'
smtpd_tls_cert_file = /etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file = /etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level = may
smtp_tls_CApath = /etc/ssl/certs
smtp_tls_security_level = may
smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = mail.example.test
mydestination = $myhostname, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all
maillog_file = /var/log/mail.log
smtpd_milters = local:/run/opendkim/opendkim.sock
MAINCF
} >"$postfix_etc/main.cf"
chmod 0644 "$postfix_etc/main.cf"

# The control plane needs one agent and its certificates to pass check-config.
pki=$work/pki
mkdir -p "$pki" && chmod 0755 "$pki"
mailagent pki init --dir "$pki" >/dev/null || fail "mailagent pki init"
chmod 0644 "$pki"/*
cp_args="Agents:0:Name=local Agents:0:Address=https://127.0.0.1:9161 Agents:0:Region=local Agents:0:ProviderName=postfix-local Tls:CaFile=$pki/ca.crt Tls:CertificateFile=$pki/client.crt Tls:KeyFile=$pki/client.key Routing:SqlitePath=/var/lib/mailagent-control-plane/routing.db"
cat >>"$units/mailagent-control-plane.service.d/test.conf" <<UNIT
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/mailagent-control-plane check-config $cp_args
ExecStart=
ExecStart=/usr/bin/mailagent-control-plane run $cp_args
StandardOutput=append:/var/log/mailagent-control-plane-unit.out
StandardError=inherit
UNIT
# The agent's gRPC API, for the ApplyConfig test (the control plane's client certificate may write).
cat >"$work/grpc.conf" <<UNIT
[Service]
Environment=MAILAGENT__Grpc__Listen=127.0.0.1:9161 MAILAGENT__Grpc__CaFile=$pki/ca.crt
Environment=MAILAGENT__Grpc__CertificateFile=$pki/agent.crt MAILAGENT__Grpc__KeyFile=$pki/agent.key
Environment=MAILAGENT__Grpc__ReadClients=control-plane MAILAGENT__Grpc__WriteClients=control-plane
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
: >/var/log/mail.log
chown root:adm /var/log/mail.log
chmod 0640 /var/log/mail.log
# Postfix's directories: copies of the host's, so postfix@-.service and apply-config change only these.
mount --bind "$postfix_etc" /etc/postfix
mount --bind "$postfix_spool" /var/spool/postfix
mount --bind "$postfix_lib" /var/lib/postfix
# As /usr/lib/tmpfiles.d/opendkim.conf makes it at boot.
mkdir -m 0750 /run/opendkim
chown opendkim:opendkim /run/opendkim
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

health() { in_ns curl -s http://127.0.0.1:9160/health; }
check_of() { # /health JSON, check name: that check's status and reason
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); c=[c for c in d["checks"] if c["name"]==sys.argv[2]]; print(c[0]["status"] + ": " + c[0]["reason"] if c else "absent")' "$1" "$2" 2>/dev/null
}
metric() { # name [label text]: the sum of that series' samples on the agent's /metrics
  in_ns curl -sf http://127.0.0.1:9160/metrics | awk -v n="$1" -v l="${2:-}" '($1 == n || index($1, n "{") == 1) && index($1, l) { s += $NF } END { print s + 0 }'
}
stock_checks_healthy() { # log, postfix, smtp and milter healthy, and the queue listed
  local h; h=$(health) || return 1
  for c in log postfix smtp milter; do case $(check_of "$h" "$c") in healthy:*) ;; *) return 1 ;; esac; done
  [ "$(metric mailagent_queue_scrape_success)" = 1 ]
}
show_checks() { local h; h=$(health); for c in log postfix smtp milter delivery disk config; do echo "  $c: $(check_of "$h" "$c")"; done; }
drop_in() { # add|remove NAME [FILE]: a drop-in of mailagent.service, then daemon-reload and restart
  if [ "$1" = add ]; then cp "$3" "$units/mailagent.service.d/$2"; else rm -f "$units/mailagent.service.d/$2"; fi
  ctl daemon-reload && ctl restart mailagent.service
}
grpc_apply() { # NAME VALUE KEY: the daemon's ApplyConfig over gRPC, as the control plane calls it; prints RESULT reason
  python3 - "$1" "$2" "$3" >"$work/apply.req" <<'PY'
import sys
def varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])
def field(number, data): return varint(number << 3 | 2) + varint(len(data)) + data
name, value, key = (a.encode() for a in sys.argv[1:4])
# ApplyConfigRequest: set (map<string,string>) = 1, idempotency_key = 4; one gRPC frame.
message = field(1, field(1, name) + field(2, value)) + field(4, key)
sys.stdout.buffer.write(b"\0" + len(message).to_bytes(4, "big") + message)
PY
  in_ns curl -sS --http2 --max-time 120 --cacert "$pki/ca.crt" --cert "$pki/client.crt" --key "$pki/client.key" \
    -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @"$work/apply.req" \
    -o "$work/apply.resp" -D "$work/apply.headers" https://127.0.0.1:9161/mailagent.v1.AgentService/ApplyConfig || return 1
  python3 - "$work/apply.resp" "$work/apply.headers" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
headers = dict(l.split(":", 1) for l in open(sys.argv[2]).read().splitlines() if ":" in l)
headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
if len(data) < 5:
    print("GRPC_ERROR grpc-status %s: %s" % (headers.get("grpc-status", "?"), headers.get("grpc-message", "")))
    sys.exit()
body, i, result, reason, messages = data[5:5 + int.from_bytes(data[1:5], "big")], 0, 0, "", []
def varint(i):
    n = shift = 0
    while True:
        b = body[i]; i += 1; n |= (b & 0x7F) << shift; shift += 7
        if b < 0x80:
            return n, i
# ApplyConfigResponse: result = 1 (enum), reason = 2, messages = 5.
while i < len(body):
    key, i = varint(i)
    if key & 7 == 0:
        value, i = varint(i)
        if key >> 3 == 1:
            result = value
    elif key & 7 == 2:
        length, i = varint(i)
        text = body[i:i + length].decode("utf-8", "replace"); i += length
        if key >> 3 == 2:
            reason = text
        elif key >> 3 == 5:
            messages.append(text)
    else:
        break
names = {1: "APPLIED", 2: "UNCHANGED", 3: "REJECTED", 4: "ROLLED_BACK", 5: "DRY_RUN"}
print(names.get(result, "UNSPECIFIED"), reason, ("[" + " | ".join(messages) + "]") if messages else "")
PY
}

# Debian's Postfix and OpenDKIM, started by their own units.
if ctl start opendkim.service postfix@-.service; then
  ok "opendkim.service and postfix@-.service active: $(in_ns postfix status 2>&1 | tail -1); $(in_ns stat -c '%n %U:%G %a' /run/opendkim/opendkim.sock)"
else
  fail "opendkim.service or postfix@-.service did not start"
  ctl status --no-pager opendkim.service postfix@-.service; in_ns tail -20 /var/log/mail.log
fi
echo "Postfix: smtpd_milters = $(in_ns postconf -h smtpd_milters), maillog_file = $(in_ns postconf -h maillog_file) ($(in_ns stat -c '%U:%G %a' /var/log/mail.log))"

# Type=notify readiness: start returns once READY=1 arrived. The agent's settings are the package's.
if ctl start mailagent.service; then
  state=$(ctl is-active mailagent.service)
  [ "$state" = active ] && ok "Type=notify: mailagent.service active after start" || fail "mailagent.service is $state after start"
else
  fail "systemctl start mailagent"; ctl status --no-pager mailagent.service; in_ns cat /var/log/mailagent-unit.out
fi
main=$(ctl show -p MainPID --value mailagent.service)
echo "agent: MainPID $main, $(in_ns grep -E '^(Uid|Groups):' /proc/"$main"/status | tr '\t\n' '  ')"

# A stock host needs no settings: the log from maillog_file, the milter from smtpd_milters.
if until_true "$deadline" stock_checks_healthy; then
  ok "with only the packaged settings: log, postfix, smtp, milter healthy, queue listed (mailagent_queue_scrape_success 1)"
else
  fail "with only the packaged settings, not every check is healthy (or the queue is not listed: mailagent_queue_scrape_success $(metric mailagent_queue_scrape_success))"
fi
show_checks

# The log, read as mailagent via group adm: append lines and watch them counted.
lines_before=$(metric mailagent_log_lines_total)
in_ns sh -c 'for i in 1 2 3; do echo "Dec  6 04:00:0$i mail postfix/qmgr[101]: 4Xy$i: removed" >>/var/log/mail.log; done'
lines_counted() { [ "$(metric mailagent_log_lines_total)" -ge $((lines_before + 3)) ]; }
if until_true "$deadline" lines_counted; then
  ok "the log (root:adm 0640) is read as mailagent: mailagent_log_lines_total $lines_before -> $(metric mailagent_log_lines_total)"
else
  fail "the agent did not count the appended log lines ($(metric mailagent_log_lines_total)); /health: $(health)"
fi
health | grep -q 'permission denied' && fail "/health reports permission denied: $(health)"

# Watchdog: stall the tail loop; systemd must kill the agent (WatchdogSec=6s) and restart it.
drop_in add watchdog.conf "$work/watchdog.conf" || fail "restart with the watchdog drop-in"
main=$(ctl show -p MainPID --value mailagent.service)
restarts=$(ctl show -p NRestarts --value mailagent.service)
stall_at=$(date +%s)
in_ns touch /var/lib/mailagent/stall
restarted() { [ "$(ctl show -p NRestarts --value mailagent.service)" -gt "$restarts" ]; }
active_again() { [ "$(ctl is-active mailagent.service)" = active ]; }
if until_true "$deadline" restarted; then
  in_ns rm -f /var/lib/mailagent/stall
  if until_true "$deadline" active_again; then
    ok "watchdog: stalled loop killed and restarted in $(( $(date +%s) - stall_at )) s (NRestarts $(ctl show -p NRestarts --value mailagent.service), MainPID $main -> $(ctl show -p MainPID --value mailagent.service))"
  else
    fail "mailagent.service not active again after the watchdog restart"
  fi
else
  in_ns rm -f /var/lib/mailagent/stall
  fail "no watchdog restart within ${deadline}s"; ctl status --no-pager mailagent.service
fi
drop_in remove watchdog.conf || fail "restart without the watchdog drop-in"

# ApplyConfig through the daemon: refused by the sandbox without the write-access drop-in.
grpc_up() { in_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/9161'; }
drop_in add grpc.conf "$work/grpc.conf" && until_true "$deadline" grpc_up || fail "the agent's gRPC API is not up: $(in_ns tail -5 /var/log/mailagent-unit.out)"
param=smtp_destination_rate_delay
value_before=$(in_ns postconf -h $param) sum_before=$(in_ns sha256sum /etc/postfix/main.cf | cut -c1-64)
reply=$(grpc_apply $param 7s without-drop-in) || fail "ApplyConfig call failed"
echo "ApplyConfig $param=7s without the drop-in: $reply"
case $reply in
  APPLIED*) fail "the daemon changed main.cf without the write-access drop-in" ;;
  REJECTED*write-access\ drop-in*) ok "without the write-access drop-in ApplyConfig is refused, naming the fix: ${reply%%\[*}" ;;
  *) fail "unexpected ApplyConfig reply without the drop-in: $reply" ;;
esac
[ "$(in_ns postconf -h $param)" = "$value_before" ] && [ "$(in_ns sha256sum /etc/postfix/main.cf | cut -c1-64)" = "$sum_before" ] \
  && ok "main.cf unchanged ($param = $value_before)" || fail "main.cf changed without the drop-in: $param = $(in_ns postconf -h $param)"

# With the packaged write-access drop-in: applied, Postfix reloaded, audited and counted.
drop_in add mailagent-write-access.conf /usr/share/mailagent/systemd/mailagent-write-access.conf && until_true "$deadline" grpc_up \
  || fail "restart with the write-access drop-in: $(ctl status --no-pager mailagent.service | tail -5)"
main=$(ctl show -p MainPID --value mailagent.service)
echo "agent with the write-access drop-in: MainPID $main, $(in_ns grep -E '^(Uid|CapBnd):' /proc/"$main"/status | tr '\t\n' '  ')"
applied_before=$(metric mailagent_config_applies_total 'result="applied"')
reloads_before=$(in_ns grep -c 'postfix/master.*reload' /var/log/mail.log)
reply=$(grpc_apply $param 7s with-drop-in) || fail "ApplyConfig call failed"
echo "ApplyConfig $param=7s with the drop-in: $reply"
case $reply in APPLIED*) ok "with the write-access drop-in ApplyConfig is applied: ${reply%%\[*}" ;; *) fail "ApplyConfig with the drop-in: $reply" ;; esac
[ "$(in_ns postconf -h $param)" = 7s ] && ok "postconf -h $param: 7s" || fail "postconf -h $param: $(in_ns postconf -h $param)"
reloads=$(in_ns grep -c 'postfix/master.*reload' /var/log/mail.log)
[ "$reloads" -gt "$reloads_before" ] && ok "Postfix reloaded: $(in_ns grep 'postfix/master.*reload' /var/log/mail.log | tail -1)" \
  || fail "no reload line in the mail log ($reloads_before -> $reloads)"
in_ns tail -1 /var/log/mailagent/config-audit.log | grep -q '"applied"' && ok "audit log: $(in_ns tail -1 /var/log/mailagent/config-audit.log | cut -c1-200)" \
  || fail "the audit log has no applied line: $(in_ns tail -2 /var/log/mailagent/config-audit.log)"
applied_counted() { [ "$(metric mailagent_config_applies_total 'result="applied"')" -gt "$1" ]; }
until_true "$deadline" applied_counted "$applied_before" \
  && ok "mailagent_config_applies_total{result=\"applied\"} $applied_before -> $(metric mailagent_config_applies_total 'result="applied"')" \
  || fail "mailagent_config_applies_total{result=\"applied\"} stayed $applied_before"

# The operator's 'mailagent apply-config' (root): applied, and the daemon counts it from the audit log.
applied_before=$(metric mailagent_config_applies_total 'result="applied"')
if out=$(in_ns sh -c 'printf "smtp_destination_concurrency_limit = 7\n" | mailagent apply-config -' 2>&1); then
  ok "mailagent apply-config as root: $(echo "$out" | head -1); postconf: $(in_ns postconf smtp_destination_concurrency_limit)"
else
  fail "mailagent apply-config as root: $out"
fi
until_true "$deadline" applied_counted "$applied_before" \
  && ok "the daemon counted the CLI's apply: mailagent_config_applies_total{result=\"applied\"} $applied_before -> $(metric mailagent_config_applies_total 'result="applied"')" \
  || fail "the daemon did not count the CLI's apply (stays $applied_before)"

# Without the drop-ins again: the agent runs as mailagent and is healthy (files root made are its own again).
drop_in remove mailagent-write-access.conf && drop_in remove grpc.conf || fail "restart without the drop-ins"
main=$(ctl show -p MainPID --value mailagent.service)
if [ "$(in_ns awk '/^Uid:/ { print $2 }' /proc/"$main"/status)" = "$(id -u mailagent)" ] && until_true "$deadline" stock_checks_healthy; then
  ok "without the drop-in again: mailagent.service runs as mailagent and is healthy"
else
  fail "without the drop-in again: not running as mailagent or not healthy"; show_checks
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
