#!/usr/bin/env python3
"""Compares BenchmarkDotNet results with the baselines kept in bench/baselines/ (stdlib only).

Reads every *-report-full*.json (BenchmarkDotNet's `--exporters json`) under RESULTS (default
BenchmarkDotNet.Artifacts/results) and, for each benchmark with a baseline in
bench/baselines/<Class>.json, prints time and allocation per operation, the baseline's, and the
ratios (new / baseline: below 1 is faster). It never fails on a duration: a shared machine moves
them by tens of percent, so a ratio is information for a person, not a verdict. It exits non-zero
only when there is nothing to compare.

--update writes the new results as the baselines (with the machine and date given by --note).
Usage: python3 compare.py [RESULTS] [--update --note "machine, load"]
"""
import argparse
import datetime
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINES = os.path.join(HERE, "..", "baselines")


def results(folder):
    out = {}
    for path in sorted(glob.glob(os.path.join(folder, "*-report-full*.json"))):
        with open(path) as f:
            doc = json.load(f)
        for b in doc.get("Benchmarks", []):
            cls = b.get("Type", "?")
            stats = b.get("Statistics") or {}
            memory = b.get("Memory") or {}
            out.setdefault(cls, {})[b.get("Method", "?")] = {
                "mean_ns": stats.get("Mean"),
                "error_ns": stats.get("StandardError"),
                "allocated_bytes": memory.get("BytesAllocatedPerOperation"),
                "job": b.get("Parameters") or "",
            }
    return out


def ratio(new, old):
    return f"{new / old:.2f}×" if new is not None and old else "–"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default="BenchmarkDotNet.Artifacts/results")
    ap.add_argument("--update", action="store_true", help="write these results as the baselines")
    ap.add_argument("--note", default="", help="with --update: the machine and its load")
    a = ap.parse_args()
    found = results(a.results)
    if not found:
        sys.exit(f"compare: no *-report-full*.json in {a.results} (run with --exporters json)")
    if a.update:
        os.makedirs(BASELINES, exist_ok=True)
        for cls, methods in found.items():
            path = os.path.join(BASELINES, f"{cls}.json")
            with open(path, "w") as f:
                json.dump({"date": datetime.date.today().isoformat(), "note": a.note, "benchmarks": methods}, f, indent=2, sort_keys=True)
                f.write("\n")
            print(f"compare: wrote {os.path.relpath(path)}")
        return
    print("| benchmark | time per op | baseline | ratio | allocated per op | baseline | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    compared = 0
    for cls, methods in sorted(found.items()):
        path = os.path.join(BASELINES, f"{cls}.json")
        base = {}
        if os.path.exists(path):
            with open(path) as f:
                base = json.load(f).get("benchmarks", {})
        for method, new in sorted(methods.items()):
            old = base.get(method, {})
            if old:
                compared += 1
            print(f"| {cls}.{method} | {new['mean_ns']:.1f} ns | "
                  + (f"{old['mean_ns']:.1f} ns" if old.get("mean_ns") else "no baseline")
                  + f" | {ratio(new['mean_ns'], old.get('mean_ns'))} | {new['allocated_bytes']} B | "
                  + (f"{old['allocated_bytes']} B" if old.get("allocated_bytes") is not None else "–")
                  + f" | {ratio(new['allocated_bytes'], old.get('allocated_bytes'))} |")
    if compared == 0:
        print("compare: no baseline matched (bench/baselines/*.json)", file=sys.stderr)
    else:
        print(f"\n{compared} compared with bench/baselines/ (ratio = new / baseline; time moves ±25 % on a shared machine).")


if __name__ == "__main__":
    main()
