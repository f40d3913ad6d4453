"""Resident memory per entry after ingesting the corpus (run as a script, not under pytest).

    python benchmarks/memory.py [LINES]

Prints the raw bytes per line of the file and the growth of resident memory (RSS) per
entry, indexes included, measured in a fresh process.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.events.sample import write_jsonl


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    path = os.path.join(tempfile.gettempdir(), f"lae-corpus-{lines}-seed42.jsonl")
    if not os.path.exists(path):
        write_jsonl(path, lines, seed=42)
    gc.collect()
    before = rss_bytes()
    engine = LogAnalyticsEngine()
    engine.ingest_logs_from_file(path)
    gc.collect()
    after = rss_bytes()
    n = len(engine)
    print(f"entries: {n:,}")
    print(f"raw bytes per line: {os.path.getsize(path) / n:.0f}")
    print(f"resident bytes per entry (indexes included): {(after - before) / n:.0f}")


if __name__ == "__main__":
    main()
