#!/usr/bin/env python3
"""Turns callgrind's per-function counts into the symbol order file the Native AOT build lays code out by.

  callgrind_annotate --threshold=100 OUT | python3 method-order.py SYMS > agent/src/MailAgent/aot-method-order.txt
  perf script -F ip,dso ... | python3 method-order.py SYMS --perf MAP OFFSET   (sampled addresses of the r-x segment
                                                                               mapped at MAP from file offset OFFSET)

SYMS is `nm -n mailagent.dbg` reduced to "ADDRESS NAME" rows of code symbols. Every function that ran
(a nonzero exclusive count) is named once, busiest first. Only managed methods can be placed by the
compiler (ilc --method-layout:Explicit --order); native runtime functions in the list are skipped by it,
so they are left out here. Valgrind maps a position-independent executable at 0x108000 and reports the
managed code without an object name ('[???]').
"""
import bisect
import re
import sys

addrs, names = [], []
for row in open(sys.argv[1]):
    a, n = row.split()
    addrs.append(int(a, 16))
    names.append(n)


def name(addr):
    i = bisect.bisect_right(addrs, addr) - 1
    return names[i] if i >= 0 else None


counts = {}


def count(fn, n):
    # Native runtime functions (C++ mangled, SystemNative_*, Rhp*) cannot be placed by ilc.
    if fn is not None and not fn.startswith(("_Z", "SystemNative_", "Rhp", "_")):
        counts[fn] = counts.get(fn, 0) + n


if len(sys.argv) > 3 and sys.argv[2] == "--perf":
    # perf script: one sampled address per line; MAP and OFFSET say where the r-x segment was mapped.
    delta = int(sys.argv[3], 16) - int(sys.argv[4], 16)
    for row in sys.stdin:
        count(name(int(row, 16) - delta), 1)
else:
    for row in sys.stdin:
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+\?\?\?:0x([0-9a-f]+) \[(.*)\]", row)
        if not m:
            continue
        n, addr, obj = int(m.group(1).replace(",", "")), int(m.group(2), 16), m.group(3)
        if obj == "???" or obj.endswith("/mailagent"):
            count(name(addr - 0x108000 if obj == "???" else addr), n)
for fn, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
    print(fn)
