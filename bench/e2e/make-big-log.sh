#!/bin/bash
# make-big-log.sh - build a large Postfix log (>= 2 million lines by default)
# by replicating the REAL corpus made by make-corpus.sh.
#
# Each copy k = 0..K-1 of the corpus is shifted forward in time by k * STEP
# seconds (default: the corpus' own span rounded up to the next 10 minutes, so
# copies do not overlap) and every Postfix queue ID of copy k>0 is replaced by
# a different, still 10-hex-digit ID (qid + k * 0x9E3779B mod 16^10), also
# inside message-id=<...QUEUEID@host> and "notification: QUEUEID".  The lines
# themselves are otherwise byte-for-byte what Postfix wrote.
#
# By default the opendkim syslog lines of the same run are merged in by time
# (converted from rsyslog's RFC 3339 stamp to the classic "Mmm dd hh:mm:ss"
# stamp), which is what a classic syslog mail.log with OpenDKIM looks like;
# MERGE_DKIM=0 leaves them out.
#
# Usage: bash make-big-log.sh [OUTPUT] [MIN_LINES]
#        default OUTPUT=/tmp/postfix-lab/big.log, MIN_LINES=2000000
#        SRC=... to replicate another corpus file (plain or .gz)
set -euo pipefail
LAB=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-/tmp/postfix-lab/big.log}
MIN_LINES=${2:-2000000}
SRC=${SRC:-$LAB/../../tests/data/real-postfix-3.7.log.gz}
DKIM=${DKIM:-$LAB/../../tests/data/opendkim-dovecot-mail.log.gz}
MERGE_DKIM=${MERGE_DKIM:-1}
mkdir -p "$(dirname "$OUT")"

python3 - "$SRC" "$DKIM" "$MERGE_DKIM" "$OUT" "$MIN_LINES" <<'EOF'
import datetime as dt, gzip, heapq, re, sys

src, dkim, merge, out, min_lines = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], int(sys.argv[5])
opn = lambda p: gzip.open(p, "rt", errors="surrogateescape") if p.endswith(".gz") else open(p, errors="surrogateescape")
YEAR = dt.date.today().year          # the corpus lines carry no year
MON = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
TRAD = re.compile(r"^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) (.*)$", re.S)
RFC = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[+-]\d\d:\d\d|Z) (.*)$", re.S)

def parse_trad(line):
    m = TRAD.match(line)
    if not m:
        return None, line
    mon, day, hh, mi, ss, rest = m.groups()
    return dt.datetime(YEAR, MON[mon], int(day), int(hh), int(mi), int(ss)), rest

def parse_rfc(line):
    m = RFC.match(line)
    if not m:
        return None, line
    y, mo, d, hh, mi, ss, rest = m.groups()
    return dt.datetime(YEAR, int(mo), int(d), int(hh), int(mi), int(ss)), rest

records = []                      # (time, rest-of-line) in file order
last = None
for line in opn(src):
    t, rest = parse_trad(line)
    t = t or last                 # (never happens with Postfix' own file)
    last = t
    records.append((t, rest))
if merge:
    dk = []
    for line in opn(dkim):
        if " opendkim[" not in line:
            continue              # dovecot and other syslog lines stay out
        t, rest = parse_rfc(line)
        if t:
            dk.append((t, rest))
    records = list(heapq.merge(records, dk, key=lambda r: r[0]))

qid_re = re.compile(r"(?<![0-9A-Za-z])([0-9A-F]{10})(?![0-9A-Za-z])")
known = set()
for _, rest in records:
    for m in re.finditer(r"\]: ([0-9A-F]{10}): ", rest):
        known.add(m.group(1))
span = (records[-1][0] - records[0][0]).total_seconds()
step = (int(span) // 600 + 1) * 600
copies = -(-min_lines // len(records))
M = 16 ** 10
print(f"source lines={len(records)} queue ids={len(known)} span={span:.0f}s step={step}s copies={copies}", file=sys.stderr)

with open(out, "w", errors="surrogateescape") as f:
    for k in range(copies):
        delta = dt.timedelta(seconds=k * step)
        add = k * 0x9E3779B
        cache = {}
        def sub(m):
            q = m.group(1)
            if q not in known:
                return q
            r = cache.get(q)
            if r is None:
                r = cache[q] = "%010X" % ((int(q, 16) + add) % M)
            return r
        for t, rest in records:
            ts = (t + delta)
            stamp = ts.strftime("%b ") + ("%2d" % ts.day) + ts.strftime(" %H:%M:%S")
            f.write(stamp + " " + (qid_re.sub(sub, rest) if k else rest))
print(f"wrote {out}: {copies * len(records)} lines", file=sys.stderr)
EOF
ls -l "$OUT"; wc -l "$OUT"
