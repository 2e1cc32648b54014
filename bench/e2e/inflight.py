#!/usr/bin/env python3
"""Prints N messages that enter the queue and never leave it (smtpd client=, qmgr from=): 2 x N lines.

Appended to a log the agent follows, they fill its correlator by N messages, for the "RSS with the
correlator full" figure (bench/e2e/run.sh, bench/memory/run.py). Queue IDs start at F000000000,
above the corpus' (and the big log's remapped) IDs, and the stamps at Nov 28 10:00:00, 100 messages a second.
Usage: python3 inflight.py [N]
"""
import sys


def lines(n):
    for i in range(n):
        qid = "%010X" % (0xF000000000 + i)
        stamp = "Nov 28 10:%02d:%02d" % ((i // 100) // 60 % 60, (i // 100) % 60)
        yield f"{stamp} mail postfix/smtpd[100]: {qid}: client=unknown[192.0.2.{i % 250 + 1}]\n"
        yield f"{stamp} mail postfix/qmgr[200]: {qid}: from=<sender{i}@example.org>, size=2048, nrcpt=1 (queue active)\n"


if __name__ == "__main__":
    sys.stdout.writelines(lines(int(sys.argv[1]) if len(sys.argv) > 1 else 10000))
