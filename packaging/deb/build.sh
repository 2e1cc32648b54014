#!/usr/bin/env bash
# Builds the mailagent and mailagent-control-plane Debian packages with dpkg-deb (`make deb`).
# Both binaries are published with Native AOT (no .NET runtime on the host). When the control
# plane cannot be AOT-published, the error is printed and it is published self-contained
# single-file instead (still no .NET runtime needed), and the package says so.
#
#   packaging/deb/build.sh [OUTDIR]      (default artifacts/deb)
#
# Packages: mailagent (/usr/bin/mailagent) and mailagent-control-plane.
#
# Environment: SKIP_PUBLISH=1 reuses artifacts/deb/publish/* from an earlier run.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
out=${1:-$root/artifacts/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
publish=$out/publish
work=$out/work
version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props | head -1)
[ -n "$version" ] || { echo "build.sh: no <Version> in Directory.Build.props" >&2; exit 1; }
arch=$(dpkg --print-architecture)
[ "$arch" = amd64 ] || { echo "build.sh: only amd64 (linux-x64) is built, this machine is $arch" >&2; exit 1; }
maintainer="MailAgent maintainers <mailagent@example.org>"
# Debian package per program. Debian's archive already has an unrelated package called
# "mailagent" (a Perl mail filter, 1:3.1-106-1 in bookworm, with its own /usr/bin/mailagent), and
# perl-base Breaks mailagent (<< 1:3.1-81-2): a plain 0.1.0 would be refused by dpkg. The agent's
# package keeps the name operators install (apt install ./mailagent_*.deb) and carries epoch 2,
# so it sorts above that package's 1:… versions and clears the Breaks; installing it replaces
# the Perl filter, which is the only way two programs called /usr/bin/mailagent can meet.
declare -A package=([mailagent]=mailagent [mailagent-control-plane]=mailagent-control-plane)
declare -A epoch=([mailagent]=2: [mailagent-control-plane]=)
declare -A conflicts=([mailagent]= [mailagent-control-plane]=)
date_r=$(date -R -u -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")

for tool in dpkg-deb dpkg-shlibdeps gzip; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing (make deps)" >&2; exit 1; }
done

# ---------------------------------------------------------------- publish
publish_aot() { # project outdir
  dotnet publish "$1" -c Release -r linux-x64 -p:PublishAot=true -o "$2" -nologo -clp:NoSummary
}
if [ "${SKIP_PUBLISH:-0}" != 1 ]; then
  rm -rf "$publish"
  echo "== publishing mailagent (Native AOT, takes minutes) $(date +%T)"
  publish_aot agent/src/MailAgent "$publish/mailagent"
  echo "== publishing mailagent-control-plane (Native AOT; quiet for a few minutes, output in $out/control-plane-aot.log) $(date +%T)"
  if ! publish_aot control-plane/src/MailControlPlane "$publish/mailagent-control-plane" >"$out/control-plane-aot.log" 2>&1; then
    cat "$out/control-plane-aot.log"
    echo "== the control plane did not AOT-publish (above); publishing it self-contained single-file"
    rm -rf "$publish/mailagent-control-plane"
    dotnet publish control-plane/src/MailControlPlane -c Release -r linux-x64 --self-contained true \
      -p:PublishSingleFile=true -p:IncludeNativeLibrariesForSelfExtract=true -o "$publish/mailagent-control-plane" -nologo -clp:NoSummary
    echo single-file >"$publish/mailagent-control-plane.mode"
  else
    echo aot >"$publish/mailagent-control-plane.mode"
  fi
  echo aot >"$publish/mailagent.mode"
fi

# ---------------------------------------------------------------- helpers
# Files a package needs from the publish output: everything but debug symbols and PDBs.
payload() { find "$1" -maxdepth 1 -type f ! -name '*.dbg' ! -name '*.pdb' ! -name '*.xml' ! -name '*.staticwebassets.*.json' -printf '%f\n' | sort; }

manpage() { # binary name summary -> troff on stdout, from the program's own help pages
  local bin=$1 name=$2 summary=$3
  printf '.TH %s 1 "%s" "%s %s" "User Commands"\n' "$(tr a-z A-Z <<<"$name")" "$(date -u -d "$date_r" +%Y-%m-%d)" "$name" "$version"
  printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
  printf '.SH DESCRIPTION\nThe full page of each command is printed by \\fB%s help\\fR \\fICOMMAND\\fR; below are all of them.\n' "$name"
  local cmds
  cmds=$("$bin" help 2>&1 | sed -n 's/^  '"$name"' \([a-z][a-z-]*\).*/\1/p' | sort -u)
  printf '.SH OVERVIEW\n.nf\n'
  "$bin" help 2>&1 | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
  printf '.fi\n'
  for c in $cmds; do
    [ "$c" = help ] && continue
    printf '.SH COMMAND: %s\n.nf\n' "$(tr a-z A-Z <<<"$c")"
    "$bin" help "$c" 2>&1 | sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/'
    printf '.fi\n'
  done
}

build_package() { # name description-short description-long depends recommends suggests
  local name=$1 short=$2 long=$3 depends=$4 recommends=$5 suggests=$6
  local pkg=${package[$name]}
  local pub=$publish/$name dir=$work/$name
  rm -rf "$dir"
  mkdir -p "$dir/DEBIAN" "$dir/usr/bin" "$dir/usr/share/doc/$pkg" "$dir/usr/share/man/man1" "$dir/lib/systemd/system" \
           "$dir/etc/mailagent" "$dir/etc/logrotate.d"
  local files
  files=$(payload "$pub")
  if [ "$files" = "$name" ]; then
    install -m 0755 "$pub/$name" "$dir/usr/bin/$name"
  else
    # Native libraries next to the binary: keep them together under /usr/lib/NAME.
    mkdir -p "$dir/usr/lib/$name"
    for f in $files; do install -m 0644 "$pub/$f" "$dir/usr/lib/$name/$f"; done
    # Native libraries from NuGet (e.g. SQLite's libe_sqlite3.so) come with their symbols.
    find "$dir/usr/lib/$name" -name '*.so*' -type f -exec strip --strip-unneeded {} +
    chmod 0755 "$dir/usr/lib/$name/$name"
    ln -s "../lib/$name/$name" "$dir/usr/bin/$name"
  fi
  local exe=$pub/$name

  install -m 0644 "packaging/systemd/$name.service" "$dir/lib/systemd/system/$name.service"
  install -m 0644 "packaging/logrotate/$name" "$dir/etc/logrotate.d/$name"
  if [ -f "packaging/deb/$name.lintian-overrides" ]; then
    mkdir -p "$dir/usr/share/lintian/overrides"
    sed "s/@PACKAGE@/$pkg/g" "packaging/deb/$name.lintian-overrides" >"$dir/usr/share/lintian/overrides/$pkg"
    chmod 0644 "$dir/usr/share/lintian/overrides/$pkg"
  fi
  install -m 0644 README.md "$dir/usr/share/doc/$pkg/README.md"
  gzip -9n "$dir/usr/share/doc/$pkg/README.md"
  sed "s/@YEAR@/$(date -u -d "$date_r" +%Y)/" packaging/deb/copyright >"$dir/usr/share/doc/$pkg/copyright"
  chmod 0644 "$dir/usr/share/doc/$pkg/copyright"
  {
    printf '%s (%s) unstable; urgency=medium\n\n' "$pkg" "${epoch[$name]}$version"
    printf '  * Built from commit %s.\n\n' "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    printf ' -- %s  %s\n' "$maintainer" "$date_r"
  } | gzip -9n >"$dir/usr/share/doc/$pkg/changelog.gz"
  manpage "$exe" "$name" "$short" | gzip -9n >"$dir/usr/share/man/man1/$name.1.gz"

  # Debian's view of the libraries the binary links; libssl3 is dlopen()ed by .NET's crypto
  # (TLS for gRPC), so it is named explicitly.
  local shl tmp
  tmp=$(mktemp -d)
  mkdir -p "$tmp/debian"
  printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" >"$tmp/debian/control"
  local elves=()
  while IFS= read -r f; do
    if [ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then elves+=(-e"$f"); fi
  done < <(find "$dir/usr" -type f)
  shl=$(cd "$tmp" && dpkg-shlibdeps -O --ignore-missing-info "${elves[@]}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  rm -rf "$tmp"
  [ -n "$shl" ] || { echo "build.sh: dpkg-shlibdeps found no dependencies for $name" >&2; exit 1; }

  local mode
  mode=$(cat "$publish/$name.mode" 2>/dev/null || echo aot)
  local how="Native AOT"
  [ "$mode" = aot ] || how="self-contained single-file (.NET runtime bundled)"
  local size
  size=$(du -k -s --exclude=DEBIAN "$dir" | cut -f1)
  {
    echo "Package: $pkg"
    echo "Version: ${epoch[$name]}$version"
    echo "Architecture: $arch"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    echo "Depends: $shl, libssl3 | libssl3t64, adduser${depends:+, $depends}"
    [ -z "${conflicts[$name]}" ] || echo "Conflicts: ${conflicts[$name]}"
    [ -z "$recommends" ] || echo "Recommends: $recommends"
    [ -z "$suggests" ] || echo "Suggests: $suggests"
    echo "Section: mail"
    echo "Priority: optional"
    echo "Description: $short"
    sed 's/^/ /' <<<"$long"
    echo " ."
    echo " Built as $how; no .NET runtime is needed on the host."
  } >"$dir/DEBIAN/control"

  for s in postinst prerm postrm; do
    sed -e "s/@NAME@/$name/g" "packaging/deb/$name.$s" >"$dir/DEBIAN/$s"
    chmod 0755 "$dir/DEBIAN/$s"
  done
  echo "$how" >"$dir.how"
}

finish_package() { # name: metadata of the staged tree, then the archive
  local name=$1 dir=$work/$1
  (cd "$dir" && find etc -type f -printf '/%p\n' | sort) >"$dir/DEBIAN/conffiles"
  (cd "$dir" && find usr lib -type f -print0 | sort -z | xargs -0 md5sum) >"$dir/DEBIAN/md5sums"
  sed -i "s/^Installed-Size: .*/Installed-Size: $(du -k -s --exclude=DEBIAN "$dir" | cut -f1)/" "$dir/DEBIAN/control"
  chmod 0644 "$dir/DEBIAN/conffiles" "$dir/DEBIAN/md5sums" "$dir/DEBIAN/control"
  find "$dir" -type d -exec chmod 0755 {} +
  local deb=$out/${package[$name]}_${version}_${arch}.deb
  dpkg-deb --root-owner-group -Zxz --build "$dir" "$deb" >/dev/null
  echo "== built $deb ($(du -h "$deb" | cut -f1), $(cat "$dir.how"))"
}

# ---------------------------------------------------------------- packages
rm -rf "$work" "$out"/*.deb
mkdir -p "$work"

build_package mailagent "Postfix monitoring agent: log, queue and health metrics" \
"MailAgent follows the Postfix log and reports what really happens on a mail
host: Prometheus metrics at /metrics (deliveries, bounces, deferrals, rejects,
DKIM signing, queue depth and age), health checks at /health, and an optional
gRPC API for the MailAgent control plane." \
  "" "postfix" "prometheus, certbot"
d=$work/mailagent
install -m 0644 packaging/config/agent.json "$d/etc/mailagent/agent.json"
mkdir -p "$d/etc/letsencrypt/renewal-hooks/deploy" "$d/usr/share/mailagent/prometheus" "$d/usr/share/mailagent/grafana" "$d/usr/share/mailagent/systemd"
install -m 0755 packaging/certbot/mailagent "$d/etc/letsencrypt/renewal-hooks/deploy/mailagent"
install -m 0644 packaging/prometheus/mailagent.rules.yml "$d/usr/share/mailagent/prometheus/mailagent.rules.yml"
install -m 0644 packaging/grafana/mailagent.json "$d/usr/share/mailagent/grafana/mailagent.json"
install -m 0644 packaging/systemd/mailagent-write-access.conf "$d/usr/share/mailagent/systemd/mailagent-write-access.conf"
finish_package mailagent

build_package mailagent-control-plane "MailAgent control plane: provider health scores and routing" \
"The MailAgent control plane collects the agents' reports over gRPC, scores
each email provider, and writes the routing table the platform reads." \
  "" "" "postgresql"
install -m 0644 packaging/config/control-plane.json "$work/mailagent-control-plane/etc/mailagent/control-plane.json"
finish_package mailagent-control-plane

# ---------------------------------------------------------------- report
{
  for n in mailagent mailagent-control-plane; do
    deb=$(ls "$out/${package[$n]}"_*.deb)
    exe=$publish/$n/$n
    printf '%s (package %s): %s mode, binary %s bytes (%s), package %s bytes\n' "$n" "${package[$n]}" "$(cat "$publish/$n.mode")" \
      "$(stat -c %s "$exe")" "$(du -h "$exe" | cut -f1)" "$(stat -c %s "$deb")"
  done
} | tee "$out/sizes.txt"
