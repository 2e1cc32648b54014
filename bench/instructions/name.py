"""Names the addresses in `callgrind_annotate --inclusive=yes` output from an nm symbol list.

Valgrind loads a position-independent executable at 0x108000 and, for the AOT binary's managed
code, reports absolute addresses without an object name ('[???]'); native parts of the binary come
as offsets. Prints a markdown table of the MailAgent functions: instructions per line, share.
Usage: callgrind_annotate ... | python3 name.py SYMS LINES PER_LINE_TOTAL TOP
"""
import bisect, re, sys

syms_path, lines, total, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
addrs, names = [], []
for row in open(syms_path):
    a, n = row.split()
    addrs.append(int(a, 16)); names.append(n)

def name(addr):
    i = bisect.bisect_right(addrs, addr) - 1
    return names[i] if i >= 0 else hex(addr)

seen, out = set(), []
for row in sys.stdin:
    m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+\?\?\?:0x([0-9a-f]+) \[(.*)\]", row)
    if not m:
        continue
    n, addr, obj = int(m.group(1).replace(",", "")), int(m.group(2), 16), m.group(3)
    fn = name(addr - 0x108000 if obj == "???" else addr)
    fn = re.sub(r"^mailagent_", "", fn)
    if not fn.startswith("MailAgent_") or fn in seen or "ReplayCommand" in fn or "Program" in fn or "CliContext" in fn:
        continue
    seen.add(fn)
    out.append(f"| `{fn}` | {n / lines:.0f} | {100 * n / total:.1f} % |")
print("| function (inclusive) | instructions per line | share of the per-line work |")
print("|---|---:|---:|")
print("\n".join(out[:top]))
