#!/usr/bin/env bash
# CI check of the Debian packages, called by tests/run-tests.sh (as root, Debian 12).
#
#   check-packages.sh install   build both packages (make deb), print lintian's report (fails on
#                               errors), install them with dpkg -i, check what was installed, run
#                               the installed binaries, systemd-analyze verify and security, promtool
#   check-packages.sh purge     remove then purge both packages and check nothing is left
#
# The installed agent is then run against the private Postfix instance by the xunit test
# InstalledPackageTests (MAILAGENT_INSTALLED_BINARY=/usr/bin/mailagent). This machine may not run
# systemd as PID 1: the units are started under a systemd that is PID 1 of a throwaway namespace
# (systemd-namespace.sh, after the install; SKIP_SYSTEMD_NAMESPACE=1 leaves it out).
#
# One run at a time per host: install and purge change the host's packages, users and units. The
# script re-runs itself under flock(1) holding /run/lock/mailagent-packaging.lock exclusively, and
# waits for it up to MAILAGENT_PACKAGING_LOCK_WAIT seconds (default 3600). flock(1) keeps the lock
# in its own process (O_CLOEXEC), so daemons started meanwhile (build servers, Postfix) never hold
# it. A caller that spans install, its tests and purge (tests/run-tests.sh) runs under the same
# lock and exports MAILAGENT_PACKAGING_LOCKED=1; the script then does not lock again.
set -uo pipefail
lock=/run/lock/mailagent-packaging.lock
if [ "${MAILAGENT_PACKAGING_LOCKED:-0}" != 1 ]; then
  flock -n "$lock" true 2>/dev/null || echo "check-packages: waiting for $lock (another packaging run on this host)"
  MAILAGENT_PACKAGING_LOCKED=1 exec flock -E 75 -w "${MAILAGENT_PACKAGING_LOCK_WAIT:-3600}" "$lock" "$0" "$@"
fi
cd "$(dirname "$0")/../.."
out=${DEB_DIR:-$PWD/artifacts/deb}
# Debian packages and their programs (the agent's package carries epoch 2: packaging/deb/build.sh says why).
packages=(mailagent mailagent-control-plane)
declare -A program=([mailagent]=mailagent [mailagent-control-plane]=mailagent-control-plane)
failures=0
fail() { echo "PACKAGING FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "packaging ok: $*"; }
section() { echo; echo "==== $*"; }

installed() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^[ic]i'; }
present() { dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -qv '^un'; }

purge() {
  section "remove and purge"
  for p in "${packages[@]}"; do
    if present "$p"; then
      dpkg --remove "$p" || fail "dpkg --remove $p"
      # After remove: conffiles stay, the unit is masked by deb-systemd-helper, state stays.
      [ -e /usr/bin/"${program[$p]}" ] && fail "/usr/bin/${program[$p]} still there after remove"
      dpkg --purge "$p" || fail "dpkg --purge $p"
    fi
  done
  for path in /usr/bin/mailagent /usr/bin/mailagent-control-plane /etc/mailagent /var/lib/mailagent \
              /var/log/mailagent /var/lib/mailagent-control-plane /var/log/mailagent-control-plane \
              /lib/systemd/system/mailagent.service /lib/systemd/system/mailagent-control-plane.service \
              /etc/systemd/system/multi-user.target.wants/mailagent.service \
              /etc/systemd/system/multi-user.target.wants/mailagent-control-plane.service \
              /etc/systemd/system/mailagent.service /etc/systemd/system/mailagent-control-plane.service \
              /etc/logrotate.d/mailagent /etc/logrotate.d/mailagent-control-plane \
              /etc/letsencrypt/renewal-hooks/deploy/mailagent /usr/share/mailagent /usr/share/doc/mailagent /usr/share/doc/mailagent-control-plane \
              /var/lib/systemd/deb-systemd-helper-enabled/mailagent.service.dsh-also \
              /var/lib/systemd/deb-systemd-helper-masked/mailagent.service; do
    [ -e "$path" ] || [ -L "$path" ] && fail "left after purge: $path"
  done
  getent passwd mailagent >/dev/null && fail "user mailagent left after purge"
  getent passwd mailagent-cp >/dev/null && fail "user mailagent-cp left after purge"
  dpkg-statoverride --list | grep -q mailagent && fail "dpkg-statoverride entries left: $(dpkg-statoverride --list | grep mailagent)"
  for p in "${packages[@]}"; do present "$p" && fail "$p still known to dpkg: $(dpkg-query -W -f='${db:Status-Abbrev}' "$p")"; done
  [ "$failures" -eq 0 ] && ok "removed and purged, nothing left"
}

install_and_check() {
  section "build (make deb)"
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    make deb || { fail "make deb"; return; }
  fi
  local debs=()
  for p in "${packages[@]}"; do
    local f
    f=$(ls "$out/${p}"_*_amd64.deb 2>/dev/null | head -1)
    [ -n "$f" ] || { fail "no $p package in $out"; return; }
    debs+=("$f")
  done
  cat "$out/sizes.txt"

  section "lintian"
  lintian --info --display-level '>=warning' "${debs[@]}" 2>&1 | tee "$out/lintian.txt"
  if grep -q '^E: ' "$out/lintian.txt"; then fail "lintian reports errors (above)"; else ok "lintian: no errors ($(grep -c '^W: ' "$out/lintian.txt") warnings)"; fi

  section "dpkg -i"
  for p in "${packages[@]}"; do
    if present "$p"; then echo "$p was left installed by an earlier run: purging it first"; dpkg --purge "$p"; fi
  done
  dpkg -i "${debs[@]}" || { fail "dpkg -i"; return; }

  section "installed files"
  for f in /usr/bin/mailagent /usr/bin/mailagent-control-plane; do [ -x "$f" ] || fail "$f missing"; done
  for f in /etc/mailagent/agent.json /etc/mailagent/control-plane.json /etc/logrotate.d/mailagent \
           /etc/logrotate.d/mailagent-control-plane /usr/share/mailagent/prometheus/mailagent.rules.yml \
           /usr/share/mailagent/grafana/mailagent.json /usr/share/mailagent/systemd/mailagent-write-access.conf \
           /usr/share/man/man1/mailagent.1.gz /usr/share/doc/mailagent/copyright \
           /usr/share/doc/mailagent-control-plane/copyright; do
    [ -f "$f" ] || fail "$f missing"
  done
  [ -x /etc/letsencrypt/renewal-hooks/deploy/mailagent ] || fail "certbot deploy hook missing or not executable"
  dpkg-query -W -f='${Conffiles}\n' mailagent | grep -q '/etc/mailagent/agent.json' || fail "agent.json is not a conffile"
  dpkg-query -W -f='${Conffiles}\n' mailagent | grep -q '/etc/letsencrypt/renewal-hooks/deploy/mailagent' || fail "the deploy hook is not a conffile"
  [ "$(stat -c '%U:%G %a' /etc/mailagent/agent.json)" = "root:mailagent 640" ] || fail "agent.json is $(stat -c '%U:%G %a' /etc/mailagent/agent.json), want root:mailagent 640"
  [ "$(stat -c '%U:%G %a' /var/lib/mailagent)" = "mailagent:mailagent 750" ] || fail "/var/lib/mailagent is $(stat -c '%U:%G %a' /var/lib/mailagent)"
  [ "$(stat -c '%U:%G %a' /var/log/mailagent)" = "mailagent:mailagent 750" ] || fail "/var/log/mailagent is $(stat -c '%U:%G %a' /var/log/mailagent)"
  local groups
  groups=$(id -nG mailagent 2>/dev/null)
  for g in mailagent adm postdrop; do grep -qw "$g" <<<"$groups" || fail "user mailagent is not in group $g ($groups)"; done
  if getent group opendkim >/dev/null; then grep -qw opendkim <<<"$groups" || fail "user mailagent is not in group opendkim ($groups)"; fi
  [ "$(getent passwd mailagent | cut -d: -f7)" = /usr/sbin/nologin ] || fail "mailagent's shell is not nologin"
  for u in mailagent mailagent-control-plane; do
    [ -L /etc/systemd/system/multi-user.target.wants/$u.service ] || fail "$u.service is not enabled"
  done
  if [ -d /run/systemd/system ]; then
    systemctl is-active --quiet mailagent && fail "mailagent was started by the installation"
  else
    echo "(systemd is not PID 1 here: $(ps -p 1 -o comm=); the units are checked offline only)"
  fi
  if command -v logrotate >/dev/null; then
    logrotate -d /etc/logrotate.d/mailagent /etc/logrotate.d/mailagent-control-plane >"$out/logrotate.txt" 2>&1 \
      && ok "logrotate -d accepts both files" || { cat "$out/logrotate.txt"; fail "logrotate -d"; }
  fi
  sh -n /etc/letsencrypt/renewal-hooks/deploy/mailagent || fail "deploy hook: sh -n"
  [ "$failures" -eq 0 ] && ok "files, owners, user and groups, enablement"

  section "reinstall over a local edit (an upgrade keeps conffile edits)"
  echo '// local edit kept across upgrades' >>/etc/mailagent/agent.json
  dpkg -i "${debs[@]}" >/dev/null || fail "dpkg -i over the installed packages"
  grep -q 'local edit kept across upgrades' /etc/mailagent/agent.json && ok "the edit to agent.json survived" || fail "agent.json lost its local edit"
  [ "$(stat -c '%U:%G %a' /etc/mailagent/agent.json)" = "root:mailagent 640" ] || fail "agent.json is $(stat -c '%U:%G %a' /etc/mailagent/agent.json) after the reinstall"

  section "installed binaries"
  local v
  v=$(mailagent version) && echo "$v" && grep -q '^mailagent [0-9]' <<<"$v" || fail "mailagent version: $v"
  v=$(mailagent-control-plane version) && echo "$v" && grep -q '^mailagent-control-plane [0-9]' <<<"$v" || fail "mailagent-control-plane version: $v"
  # As the service user, the way systemd's ExecStartPre runs it: the packaged config must be readable and valid.
  runuser -u mailagent -- mailagent check-config || fail "mailagent check-config (as user mailagent) on the packaged /etc/mailagent/agent.json"
  # The packaged control-plane config lists no agents yet: check-config must refuse it and name the key.
  v=$(runuser -u mailagent-cp -- mailagent-control-plane check-config 2>&1); rc=$?
  echo "$v"
  { [ "$rc" -eq 1 ] && grep -q 'Agents is empty' <<<"$v"; } || fail "mailagent-control-plane check-config (as mailagent-cp) on the unconfigured package: want exit 1 naming Agents, got $rc"
  # With an agent and the certificates configured it passes.
  pki=$(mktemp -d) && chmod 0755 "$pki" && chown mailagent-cp "$pki"
  mailagent pki init --dir "$pki" >/dev/null && chmod 0644 "$pki"/*.key
  runuser -u mailagent-cp -- mailagent-control-plane check-config Agents:0:Name=oregon Agents:0:Address=https://127.0.0.1:9161 \
    Agents:0:Region=us-west-2 Agents:0:ProviderName=postfix-oregon "Tls:CaFile=$pki/ca.crt" "Tls:CertificateFile=$pki/client.crt" \
    "Tls:KeyFile=$pki/client.key" "Routing:SqlitePath=$pki/routing.db" || fail "mailagent-control-plane check-config (as mailagent-cp) with one agent"
  rm -rf "$pki"
  ldd /usr/bin/mailagent | grep -q 'libcoreclr\|libhostfxr' && fail "the agent links a .NET runtime library"
  echo "agent's shared libraries: $(ldd /usr/bin/mailagent | awk '{print $1}' | tr '\n' ' ')"

  section "systemd-analyze verify"
  for u in mailagent mailagent-control-plane; do
    if systemd-analyze verify /lib/systemd/system/$u.service; then ok "verify $u.service"; else fail "systemd-analyze verify $u.service"; fi
  done
  section "systemd-analyze security (target below 4.0)"
  for u in mailagent mailagent-control-plane; do
    local line
    systemd-analyze security --offline=true /lib/systemd/system/$u.service >"$out/security-$u.txt" 2>&1
    line=$(grep 'Overall exposure level' "$out/security-$u.txt")
    echo "SECURITY $u.service: ${line#*: }"
    local score=${line#*: }; score=${score%% *}
    awk -v s="$score" 'BEGIN { exit !(s != "" && s < 4.0) }' || fail "$u.service exposure $score is not below 4.0"
  done
  # The write-access drop-in (root, for apply-config and reloads) merged into the unit: a later
  # assignment wins, as with a drop-in. Its figure is printed, not held to the target.
  local tmp
  tmp=$(mktemp -d)
  { cat /lib/systemd/system/mailagent.service; grep -v '^\[Service\]' /usr/share/mailagent/systemd/mailagent-write-access.conf \
      | sed '1i [Service]'; } >"$tmp/mailagent-write.service"
  systemd-analyze verify "$tmp/mailagent-write.service" || fail "systemd-analyze verify with the write-access drop-in"
  echo "SECURITY mailagent.service + mailagent-write-access.conf: $(systemd-analyze security --offline=true "$tmp/mailagent-write.service" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: //p')"
  rm -rf "$tmp"

  section "promtool"
  promtool check rules /usr/share/mailagent/prometheus/mailagent.rules.yml || fail "promtool check rules"
  cmp -s /usr/share/mailagent/prometheus/mailagent.rules.yml packaging/prometheus/mailagent.rules.yml || fail "installed rules differ from packaging/prometheus"
  (cd packaging/prometheus && promtool test rules mailagent.rules.test.yml) || fail "promtool test rules"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["panels"], "no panels"' /usr/share/mailagent/grafana/mailagent.json \
    || fail "dashboard JSON does not load"

  section "the installed units under a real systemd (PID 1 of a throwaway namespace)"
  if [ "${SKIP_SYSTEMD_NAMESPACE:-0}" = 1 ]; then
    echo "(skipped: SKIP_SYSTEMD_NAMESPACE=1)"
  else
    timeout 400 bash packaging/test/systemd-namespace.sh || fail "systemd-namespace.sh (above)"
  fi
}

case "${1:-}" in
  install) install_and_check ;;
  purge) purge ;;
  *) echo "usage: $0 install|purge" >&2; exit 2 ;;
esac
echo
if [ "$failures" -gt 0 ]; then echo "packaging: $failures failure(s)"; exit 1; fi
echo "packaging: $1 OK"
