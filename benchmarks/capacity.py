"""Where the engine stands on the columnar-store targets, in fresh processes (a plain script).

    python benchmarks/capacity.py [LINES] [--rounds 3]

For the benchmark corpus (the sample generator, seed 42) and the high-cardinality corpus
(``archive_corpus.py``: a unique 32-hex ``request_id`` per line, tens of thousands of user
ids, float ``latency_ms``, ~2% late lines), each in its own process per round: resident
memory per entry after file ingestion with every index (RSS growth / entries), file ingestion
lines/s against a raw ``orjson.loads`` loop over the same file, ``ingest_logs`` of prebuilt
entries per second, materialising every ERROR entry as ``LogEntry`` objects (and then
reading a field of each, which decodes the rest of a lazily built entry), p95 of
``latency_ms`` by level, and reopening a stored copy (entries/s). Medians of the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from log_analytics_engine.events.sample import write_jsonl

sys.path.insert(0, os.path.dirname(__file__))
from archive_corpus import write_corpus

CHILD = r"""
import gc, json, os, sys, tempfile, time
import orjson
from log_analytics_engine import LogAnalyticsEngine, LogEntry
path = sys.argv[1]
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
out = {}
t = time.perf_counter()
with open(path, "rb") as fh:
    for line in fh:
        orjson.loads(line)
out["orjson_loop_s"] = time.perf_counter() - t
gc.collect()
before = rss()
engine = LogAnalyticsEngine()
t = time.perf_counter()
engine.ingest_logs_from_file(path)
out["file_ingest_s"] = time.perf_counter() - t
gc.collect()
n = len(engine)
out["entries"] = n
out["bytes_per_entry"] = (rss() - before) / n
t = time.perf_counter()
errors = engine.query_logs({"level": "ERROR"}, page_size=None)
out["materialise_errors_s"] = time.perf_counter() - t
out["errors"] = len(errors)
t = time.perf_counter()
for e in errors:  # the first read of a field decodes the rest of a lazily built entry
    e.metadata
out["read_errors_s"] = time.perf_counter() - t
engine.aggregate(group_by="level", metrics=["p95:latency_ms"])
t = time.perf_counter()
engine.aggregate(group_by="level", metrics=["p95:latency_ms"])
out["p95_by_level_s"] = time.perf_counter() - t
entries = engine.query_logs({}, page_size=None)
for e in entries:  # prebuilt: whole objects, as a caller's own would be
    e.metadata
del engine, errors
gc.collect()
fresh = LogAnalyticsEngine()
t = time.perf_counter()
fresh.ingest_logs(entries)
out["ingest_prebuilt_s"] = time.perf_counter() - t
del fresh
with tempfile.TemporaryDirectory() as tmp:
    db = os.path.join(tmp, "s.db")
    stored = LogAnalyticsEngine(storage=db)
    stored.ingest_logs(entries)
    stored.close()
    del stored, entries
    gc.collect()
    t = time.perf_counter()
    again = LogAnalyticsEngine(storage=db)
    out["reopen_s"] = time.perf_counter() - t
    out["reopened"] = len(again)
    again.close()
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lines", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = tempfile.gettempdir()
    corpora = {
        "benchmark": os.path.join(tmp, f"lae-corpus-{args.lines}-seed42.jsonl"),
        "high-cardinality": os.path.join(tmp, f"lae-hicard-{args.lines}-seed42.jsonl"),
    }
    if not os.path.exists(corpora["benchmark"]):
        write_jsonl(corpora["benchmark"], args.lines, seed=42)
    if not os.path.exists(corpora["high-cardinality"]):
        write_corpus(corpora["high-cardinality"], args.lines)
    for name, path in corpora.items():
        runs = []
        for _ in range(args.rounds):
            done = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True,
                                  text=True, cwd=tmp, check=False)
            if done.returncode:
                raise SystemExit(done.stderr)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        n = med["entries"]
        print(f"== {name} corpus: {int(n):,} entries, {os.path.getsize(path) / n:.0f} B/line, "
              f"medians of {args.rounds}")
        print(f"resident memory per entry      {med['bytes_per_entry']:>10.0f} B")
        print(f"file ingestion                 {n / med['file_ingest_s']:>10,.0f} lines/s "
              f"({med['orjson_loop_s'] / med['file_ingest_s']:.2f}x an orjson.loads loop, "
              f"{n / med['orjson_loop_s']:,.0f} lines/s)")
        print(f"ingest_logs of prebuilt        {n / med['ingest_prebuilt_s']:>10,.0f} entries/s")
        print(f"materialise {int(med['errors']):,} ERROR entries  "
              f"{med['materialise_errors_s'] * 1e3:>8.1f} ms "
              f"(then reading a field of each: {med['read_errors_s'] * 1e3:.1f} ms more)")
        print(f"p95 latency_ms by level        {med['p95_by_level_s'] * 1e3:>10.1f} ms")
        print(f"reopen from storage            {med['reopened'] / med['reopen_s']:>10,.0f} "
              "entries/s")


if __name__ == "__main__":
    main()
