#!/usr/bin/env python3
"""Ingest rate of a daemon that follows a log file (stdlib only).

The daemon must already follow TARGET (and be caught up). This appends SOURCE to TARGET in
one go with `cat SOURCE >> TARGET`, scrapes /metrics every --interval seconds and stops when
the metric set has not changed for --quiet seconds, or as soon as the first spec reaches
--expect. The ingest time is the moment of the scrape that first showed the final values
minus the moment the append started, so it is late by at most one interval.

Prints one JSON object: seconds, cat_seconds, scrapes, start and final values per spec, and
with --pid the daemon's CPU time (user + system) up to that same scrape.
Exits 1 if nothing moved within --stall seconds or --timeout passed.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from promtext import Scraper, wait_ready

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/PID/stat."""
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="the daemon's /metrics URL")
    ap.add_argument("--source", required=True, help="the log to append")
    ap.add_argument("--target", required=True, help="the file the daemon follows")
    ap.add_argument("--metric", action="append", required=True, help="a metric spec; repeat for a set")
    ap.add_argument("--expect", type=float, help="stop when the first spec has grown by this much")
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--quiet", type=float, default=2.0, help="seconds without change that mean done")
    ap.add_argument("--stall", type=float, default=30.0, help="fail if nothing changed this long after the append")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--pid", type=int, help="the daemon's PID, to report its CPU time")
    a = ap.parse_args()

    scraper = Scraper(a.url)
    wait_ready(scraper)
    start = scraper.values(a.metric)
    missing = [s for s, v in zip(a.metric, start) if v is None]
    if missing:
        # Counters without labels exist from the start; a labelled one may appear only later.
        print(f"ingest: not exposed yet (treated as 0): {', '.join(missing)}", file=sys.stderr)
    start = [v or 0.0 for v in start]

    cpu0 = cpu_seconds(a.pid)
    with open(a.target, "ab") as out:
        t0 = time.monotonic()
        cat = subprocess.Popen(["cat", a.source], stdout=out)
    cat_done = None
    last, last_change, last_cpu, scrapes = start, None, None, 0
    while True:
        time.sleep(a.interval)
        if cat_done is None and cat.poll() is not None:
            if cat.returncode != 0:
                sys.exit(f"ingest: cat exited {cat.returncode}")
            cat_done = time.monotonic() - t0
        cur = [v or 0.0 for v in scraper.values(a.metric)]
        now = time.monotonic()
        cpu = cpu_seconds(a.pid)
        scrapes += 1
        if cur != last:
            last, last_change, last_cpu = cur, now, cpu
        if a.expect is not None and last[0] - start[0] >= a.expect:
            break
        if last_change is None:
            if now - t0 > a.stall:
                sys.exit(f"ingest: no metric changed within {a.stall:.0f} s of the append")
        elif cat_done is not None and now - last_change >= a.quiet:
            break
        if now - t0 > a.timeout:
            sys.exit(f"ingest: still changing after {a.timeout:.0f} s")
    if cat_done is None:
        cat.wait()
        cat_done = time.monotonic() - t0

    json.dump({
        "seconds": round(last_change - t0, 3),
        "cat_seconds": round(cat_done, 3),
        "cpu_seconds": None if a.pid is None else round(last_cpu - cpu0, 2),
        "scrapes": scrapes,
        "start": dict(zip(a.metric, start)),
        "final": dict(zip(a.metric, last)),
        "delta": {s: e - b for s, b, e in zip(a.metric, start, last)},
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
