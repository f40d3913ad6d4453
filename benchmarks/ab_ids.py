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

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from log_analytics_engine.events.sample import write_jsonl

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


def run(python: str, path: Path) -> dict[str, float]:
    # from the corpus' folder: not from a checkout, whose package would shadow the installed one
    done = subprocess.run([python, "-c", CHILD, str(path)], capture_output=True, text=True,
                          cwd=path.parent, check=False)
    if done.returncode:
        raise SystemExit(f"{python} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        write_jsonl(str(path), args.lines, seed=42)
        times: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
        for r in range(args.rounds):
            order = [("old", args.old), ("new", args.new)]
            for side, python in order if r % 2 == 0 else order[::-1]:
                for step, seconds in run(python, path).items():
                    times[side].setdefault(step, []).append(seconds)
    print(f"{'step':<24} {'old (median)':>14} {'new (median)':>14} {'new/old':>8}  (us)")
    for step, old in times["old"].items():
        a, b = statistics.median(old), statistics.median(times["new"][step])
        print(f"{step:<24} {a * 1e6:>14.1f} {b * 1e6:>14.1f} {b / a:>8.2f}")


if __name__ == "__main__":
    main()
