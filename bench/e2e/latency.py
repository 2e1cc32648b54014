#!/usr/bin/env python3
"""Line-to-metric latency of a daemon that follows a log file (stdlib only).

The daemon must follow FILE and be caught up. For each of --count samples this reads the
counter, appends one realistic Postfix `status=sent` delivery line (fresh queue ID, current
timestamp) with a single write() on a descriptor kept open in O_APPEND mode, as postlogd
does, then scrapes /metrics in a tight loop over one keep-alive connection until the counter
has grown. Latency = time the growing scrape's response arrived - time write() returned.
Samples are spaced --interval seconds apart. A daemon that handles the line before the first
scrape is answered scores one scrape round trip, so the idle round trip is reported too.

Prints one JSON object with p50/p95/p99/max/mean in ms, the sample count, the lost samples
(no change within --timeout) and the scrapes per sample.
"""
import argparse
import json
import math
import os
import random
import sys
import time

from promtext import Scraper, wait_ready

# A postfix/smtp delivery to the corpus' accept sink, as Postfix 3.7 writes it.
LINE = ("{stamp} {host} postfix/smtp[{pid}]: {qid}: to=<bench{n}@gmail.test>, "
        "relay=127.0.0.1[127.0.0.1]:2525, delay=0.12, delays=0.05/0.01/0.03/0.03, "
        "dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {remote})\n")


def bsd_stamp(t):
    lt = time.localtime(t)
    return time.strftime("%b ", lt) + "%2d" % lt.tm_mday + time.strftime(" %H:%M:%S", lt)


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def read_counter(scraper, spec):
    v = scraper.values([spec])[0]
    return 0.0 if v is None else v


def wait_caught_up(scraper, spec, quiet=1.0, deadline=120.0):
    """Wait until the counter has not moved for `quiet` seconds."""
    end = time.monotonic() + deadline
    last, since = read_counter(scraper, spec), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > end:
            sys.exit(f"latency: {spec} still moving after {deadline:.0f} s")
        time.sleep(0.1)
        cur = read_counter(scraper, spec)
        if cur != last:
            last, since = cur, time.monotonic()
    return last


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="the daemon's /metrics URL")
    ap.add_argument("--file", required=True, help="the log file the daemon follows")
    ap.add_argument("--metric", required=True, help='counter spec, e.g. postfix_delivery_status_total{status="sent"}')
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--interval", type=float, default=0.02, help="pause between samples, seconds")
    ap.add_argument("--timeout", type=float, default=5.0, help="give a sample up after this many seconds")
    ap.add_argument("--host", default="mail-oregon", help="syslog host name in the lines")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    scraper = Scraper(a.url)
    wait_ready(scraper)
    wait_caught_up(scraper, a.metric)
    rng = random.Random(a.seed)
    used = set()

    def fresh_qid():
        while True:
            q = "%010X" % rng.getrandbits(40)
            if q not in used:
                used.add(q)
                return q

    # What one scrape costs on its own: the floor under every sample below.
    rtt = []
    for _ in range(50):
        t0 = time.perf_counter()
        read_counter(scraper, a.metric)
        rtt.append((time.perf_counter() - t0) * 1000)
    rtt.sort()

    lat, lost, polls = [], 0, 0
    pid = rng.randint(10000, 60000)
    fd = os.open(a.file, os.O_WRONLY | os.O_APPEND)
    try:
        for n in range(a.count):
            before = read_counter(scraper, a.metric)
            line = LINE.format(stamp=bsd_stamp(time.time()), host=a.host, pid=pid, qid=fresh_qid(),
                               n=n, remote=fresh_qid()).encode()
            os.write(fd, line)
            t0 = time.perf_counter()
            while True:
                v = read_counter(scraper, a.metric)
                t1 = time.perf_counter()
                polls += 1
                if v > before:
                    lat.append(t1 - t0)
                    break
                if t1 - t0 > a.timeout:
                    lost += 1
                    break
            time.sleep(a.interval)
    finally:
        os.close(fd)
        scraper.close()

    s = sorted(x * 1000 for x in lat)
    r = lambda x: None if x is None else round(x, 2)
    json.dump({
        "samples": len(s), "lost": lost,
        "p50_ms": r(percentile(s, 50)), "p95_ms": r(percentile(s, 95)), "p99_ms": r(percentile(s, 99)),
        "max_ms": r(s[-1] if s else None), "mean_ms": r(sum(s) / len(s) if s else None),
        "scrapes_per_sample": round(polls / a.count, 1) if a.count else 0,
        "idle_scrape_p50_ms": r(percentile(rtt, 50)),
    }, sys.stdout)
    print()
    if not s:
        sys.exit(f"latency: no sample saw {a.metric} grow")


if __name__ == "__main__":
    main()
