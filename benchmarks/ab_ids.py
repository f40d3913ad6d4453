"""A/B of the write path before and after 64-bit ids and all-or-nothing batches, interleaved.

Run: ``python benchmarks/ab_ids.py OLD_PYTHON NEW_PYTHON [--lines 300000] [--rounds 5]`` where
each ``*_PYTHON`` is an interpreter that imports one checkout (a virtual environment with it
installed, or a wrapper setting ``PYTHONPATH``). One corpus is written once; each round starts
a fresh process per side, alternating which goes first, that ingests the file with every
index, ingests the same entries prebuilt with ``ingest_logs`` (batches of 10,000), ingests them
through ``Retention(max_entries=lines // 4)`` (eviction every few batches), 50,000 of them one
``ingest_log`` call each, and runs a few queries. Printed: the median process CPU time of
each step per side and NEW / OLD.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ab_versions import child_script, main  # the interleaving driver and its child

# The write-path steps, between the file ingestion and the queries of every A/B child.
CHILD = child_script(r"""
with open(path, "rb") as f:
    records = [orjson.loads(line) for line in f]
def prebuilt():
    return [LogEntry.from_dict(r) for r in records]
def ingest(e, entries):
    for k in range(0, len(entries), 10_000):
        e.ingest_logs(entries[k:k + 10_000])
entries = prebuilt()
timed("ingest_logs_prebuilt", lambda: ingest(LogAnalyticsEngine(), entries))
entries = prebuilt()
timed("ingest_logs_retention", lambda: ingest(
    LogAnalyticsEngine(retention=Retention(max_entries=len(entries) // 4)), entries))
singles = prebuilt()[:50_000]
def one_by_one():
    e = LogAnalyticsEngine()
    for x in singles:
        e.ingest_log(x)
timed("ingest_log_50k_single", one_by_one)
""")


if __name__ == "__main__":
    main(CHILD, __doc__, 300_000)
