#!/usr/bin/env python3
"""Where a running process's RSS is: /proc/PID/smaps grouped by what each mapping is (stdlib only; root or same user).

  python3 bench/memory/smaps.py PID            a table (KiB): Rss, anonymous, file-backed, per group
  python3 bench/memory/smaps.py PID --json     the same as one JSON object (bench/memory/run.py uses attribute())

Groups:
  exe r--, exe r-x, exe rw- (file) / exe rw- (anon)   the executable's mappings by permission (headers and rodata,
      code, relocated data); anonymous pages of a file mapping are copy-on-write pages that were written;
  exe bss                 the anonymous mapping right after the executable's last mapping (.bss);
  lib NAME                other files (libc, libssl, ...), all their mappings;
  thread stacks           anonymous mappings that hold a thread's stack pointer (from /proc/PID/task/TID/syscall,
                          so threads blocked in a system call; the main thread's [stack] counts here too);
  [heap]                  glibc's brk heap (malloc);
  anon >= 64 MiB reserve  big anonymous reservations (the GC's region range, the runtime's executable allocator);
  anon other              the rest: malloc arenas, rehydrated data of Native AOT, GC bookkeeping, ...
Threads are listed by name (/proc/PID/task/TID/comm) with how many share it.
"""
import json
import os
import sys
from collections import Counter, OrderedDict

BIG = 64 * 1024 * 1024


def _mappings(pid):
    maps = []
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for row in f:
            head = row.split()
            if "-" in head[0] and not head[0].endswith(":"):
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                cur = {"lo": lo, "hi": hi, "perms": head[1], "path": " ".join(head[5:]) if len(head) > 5 else "",
                       "inode": int(head[4])}
                maps.append(cur)
            elif head[0].endswith(":") and len(head) >= 2 and head[1].isdigit():
                cur[head[0][:-1]] = int(head[1])
    return maps


def _stack_pointers(pid):
    sps = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                fields = f.read().split()
            if len(fields) >= 8:
                sps[int(tid)] = int(fields[-2], 16)
        except (OSError, ValueError):
            pass
    return sps


def threads(pid):
    names = Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                names[f.read().strip()] += 1
        except OSError:
            pass
    return dict(sorted(names.items(), key=lambda kv: (-kv[1], kv[0])))


def attribute(pid):
    maps = _mappings(pid)
    exe = os.path.realpath(f"/proc/{pid}/exe")
    sps = list(_stack_pointers(pid).values())
    groups = OrderedDict()

    def add(name, m):
        g = groups.setdefault(name, {"rss": 0, "anon": 0, "file": 0, "mappings": 0})
        rss, anon = m.get("Rss", 0), m.get("Anonymous", 0)
        g["rss"] += rss
        g["anon"] += anon
        g["file"] += rss - anon
        g["mappings"] += 1

    last_exe_end = None
    for m in maps:
        perms = m["perms"]
        if m["path"] == exe:
            kind = {"r-x": "exe r-x"}.get(perms[:3], "exe " + perms[:3])
            if perms.startswith("rw"):
                kind += " (file)" if m.get("Anonymous", 0) == 0 else " (cow)"
            add(kind, m)
            last_exe_end = m["hi"]
            continue
        if m["path"] and m["inode"] != 0:
            add("lib " + os.path.basename(m["path"]), m)
            continue
        if last_exe_end is not None and m["lo"] == last_exe_end and not m["path"]:
            add("exe bss", m)
            last_exe_end = None
            continue
        last_exe_end = None
        if m["path"] == "[stack]" or any(m["lo"] <= sp < m["hi"] for sp in sps):
            add("thread stacks", m)
        elif m["path"] == "[heap]":
            add("[heap]", m)
        elif m["path"].startswith("["):
            add(m["path"], m)
        elif m["hi"] - m["lo"] >= BIG:
            add("anon >= 64 MiB reserve", m)
        else:
            add("anon other", m)
    total = {"rss": sum(g["rss"] for g in groups.values()), "anon": sum(g["anon"] for g in groups.values())}
    total["file"] = total["rss"] - total["anon"]
    return {"total_kib": total, "groups_kib": groups, "threads": threads(pid)}


def main():
    pid = int(sys.argv[1])
    a = attribute(pid)
    if "--json" in sys.argv:
        json.dump(a, sys.stdout)
        print()
        return
    print(f"{'group':32} {'Rss':>8} {'anon':>8} {'file':>8} {'maps':>5}   (KiB)")
    for name, g in sorted(a["groups_kib"].items(), key=lambda kv: -kv[1]["rss"]):
        print(f"{name[:32]:32} {g['rss']:8} {g['anon']:8} {g['file']:8} {g['mappings']:5}")
    t = a["total_kib"]
    print(f"{'total':32} {t['rss']:8} {t['anon']:8} {t['file']:8}")
    print("threads:", ", ".join(f"{n} ×{c}" if c > 1 else n for n, c in a["threads"].items()),
          f"({sum(a['threads'].values())})")


if __name__ == "__main__":
    main()
