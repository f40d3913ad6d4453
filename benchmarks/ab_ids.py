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
from ab_versions import main  # the interleaving driver

# Runs in the child, against whichever package its interpreter imports (original API only).
CHILD = r"""
import json, sys, time
import orjson
from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention
path = sys.argv[1]
out = {}
def timed(name, fn, repeat=1):
    start = time.process_time()
    for _ in range(repeat):
        result = fn()
    out[name] = (time.process_time() - start) / repeat
    return result
engine = LogAnalyticsEngine()
timed("ingest_file", lambda: engine.ingest_logs_from_file(path, "jsonl"))
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
timed("count_level", lambda: engine.count_logs({"level": "ERROR"}), 200)
timed("latest_50_error", lambda: engine.query_logs({"level": "ERROR"}, sort_by="timestamp",
      sort_desc=True, page_size=50), 200)
timed("keyword_and_level", lambda: engine.query_logs({"level": "WARNING", "keyword": "timeout"},
      page_size=100), 100)
timed("time_range_count", lambda: engine.count_logs({"start_time": "2025-07-20T10:00:00Z",
      "end_time": "2025-07-20T11:00:00Z"}), 100)
print(json.dumps(out))
"""


if __name__ == "__main__":
    main(CHILD, __doc__, 300_000)
