#!/usr/bin/env python3
"""RSS of the agent daemon at idle, after a million lines, and with 10,000 messages in flight (stdlib only).

Starts `mailagent run` with an empty --config, following an empty file from its end (as bench/e2e does),
on 127.0.0.1 port 0. Then:
  idle      VmRSS 2 s after it first answers /metrics, before it has read a line;
  idle 90 s VmRSS 90 s after that first answer (IDLE_LATER seconds; 0 leaves it out): what idle loops
            (health checks, queue listing, scrapes) add before the first garbage collection;
  1M lines  the first 1,000,000 lines of LOG appended, VmRSS once mailagent_log_lines_total shows them
            (and 2 s later, after a scrape), VmHWM;
  in flight 10,000 messages appended that enter the queue and never leave it (smtpd client=, qmgr from=),
            VmRSS once mailagent_correlation_messages has grown by 10,000.
Every value is printed with RssAnon / RssFile, the managed heap does not show separately.
LATENCY_SAMPLES=N (as `make bench` does after its ingest, 300 there) then runs bench/e2e/latency.py, N line-to-metric
samples with a tight scrape loop each, and adds VmRSS and VmHWM after it ("after_latency").
SMAPS=1 adds, at each stage, where the RSS is (bench/memory/smaps.py: the executable's mappings, thread stacks,
heap, the GC's reservation, the rest) and the threads by name.
KNOBS (environment, space-separated NAME=VALUE) are added to the daemon's environment, e.g.
KNOBS="DOTNET_GCHeapHardLimit=0x1000000". One JSON object on stdout.
Usage: python3 bench/memory/run.py MAILAGENT LOG [LABEL]
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from promtext import Scraper, wait_ready  # noqa: E402
from inflight import lines as in_flight_lines  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smaps  # noqa: E402

IN_FLIGHT = int(os.environ.get("IN_FLIGHT", "10000"))
LINES = int(os.environ.get("MEMORY_LINES", "1000000"))
IDLE_LATER = float(os.environ.get("IDLE_LATER", "90"))


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for row in f:
            k, _, v = row.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                out[k] = int(v.split()[0])
    if os.environ.get("SMAPS"):
        out["smaps"] = smaps.attribute(pid)
    return out


def wait_for(scraper, spec, target, timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = scraper.values([spec])[0] or 0
        if v >= target:
            return v
        time.sleep(0.2)
    sys.exit(f"memory: {spec} did not reach {target}")


def main():
    mailagent, log = sys.argv[1], sys.argv[2]
    label = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("KNOBS", "defaults") or "defaults"
    work = tempfile.mkdtemp(prefix="mailagent-mem.")
    target = os.path.join(work, "mail.log")
    open(target, "w").close()
    config = os.path.join(work, "empty.json")
    with open(config, "w") as f:
        f.write("{}\n")
    env = dict(os.environ)
    env.update({
        "MAILAGENT__LogTailing__Path": target,
        "MAILAGENT__LogTailing__StateDirectory": os.path.join(work, "state"),
        "MAILAGENT__LogTailing__StartAt": "End",
        "MAILAGENT__Http__Urls": "http://127.0.0.1:0",
    })
    for knob in os.environ.get("KNOBS", "").split():
        k, _, v = knob.partition("=")
        env[k] = v
    out = open(os.path.join(work, "agent.out"), "w+")
    proc = subprocess.Popen([mailagent, "run", "--config", config], env=env, stdout=out, stderr=subprocess.STDOUT)
    result = {"label": label}
    try:
        url = None
        end = time.monotonic() + 60
        while url is None and time.monotonic() < end:
            out.seek(0)
            m = re.search(r"mailagent listening on (http://127\.0\.0\.1:\d+)", out.read())
            if m:
                url = m.group(1) + "/metrics"
            elif proc.poll() is not None:
                out.seek(0)
                sys.exit("memory: the agent exited:\n" + out.read())
            else:
                time.sleep(0.1)
        if url is None:
            sys.exit("memory: no 'listening on' line")
        scraper = Scraper(url)
        wait_ready(scraper)
        first = time.monotonic()
        time.sleep(2)
        result["idle"] = status(proc.pid)
        if IDLE_LATER > 0:
            time.sleep(max(0.0, first + IDLE_LATER - time.monotonic()))
            scraper.values(["mailagent_log_lines_total"])
            result["idle_later"] = status(proc.pid)

        with open(log, "rb") as src, open(target, "ab") as dst:
            for i, row in enumerate(src):
                if i >= LINES:
                    break
                dst.write(row)
        wait_for(scraper, "mailagent_log_lines_total", LINES)
        result["after_lines"] = status(proc.pid)
        time.sleep(2)
        scraper.values(["mailagent_log_lines_total"])
        result["after_lines_settled"] = status(proc.pid)

        base = scraper.values(["mailagent_correlation_messages"])[0] or 0
        with open(target, "a") as dst:
            dst.writelines(in_flight_lines(IN_FLIGHT))
        wait_for(scraper, "mailagent_log_lines_total", LINES + 2 * IN_FLIGHT)
        result["correlator_messages"] = scraper.values(["mailagent_correlation_messages"])[0]
        result["correlator_before"] = base
        time.sleep(1)
        result["in_flight"] = status(proc.pid)
        samples = int(os.environ.get("LATENCY_SAMPLES", "0"))
        if samples > 0:
            latency = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e", "latency.py")
            subprocess.run([sys.executable, latency, "--url", url, "--file", target, "--count", str(samples),
                            "--metric", 'postfix_delivery_status_total{service="smtp",status="sent"}'],
                           check=True, stdout=subprocess.DEVNULL)
            result["after_latency"] = status(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(["rm", "-rf", work])
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
