"""The one-off pause of a rebase of the internal ids, and Roaring 32 vs 64-bit bitmaps.

Run: ``python benchmarks/rebase_pause.py [lines]`` (default 1,000,000). Loads the sample
corpus through ``Retention(max_entries=lines)`` plus 5% more (so the oldest are evicted and a
rebase has something to shift), then times ``Store.rebase`` + ``IndexSet.rebase`` under the
lock as ingestion would run them (median of 3, each on a fresh engine: process CPU time).
Then compares ``pyroaring.BitMap`` with ``BitMap64`` on the operations the engine's hot paths
use (merge a batch's id array, intersect, count, iterate), which is why the ids stay 32-bit
inside with an epoch instead of 64-bit bitmaps.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from pyroaring import BitMap, BitMap64

from log_analytics_engine import LogAnalyticsEngine, Retention
from log_analytics_engine.events.sample import write_jsonl


def cpu(fn: Callable[[], object], repeat: int = 1) -> float:
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) / repeat


def pause(engine: LogAnalyticsEngine) -> float:
    """CPU seconds of one rebase of ``engine``'s ids, as the write path runs it."""
    store, indexes = engine._store, engine._indexes
    shift = store.base & ~1023
    start = time.process_time()
    with engine._lock:
        store.rebase(shift)
        indexes.rebase(shift)
    return time.process_time() - start


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        write_jsonl(str(path), lines + lines // 20, seed=42)
        pauses = []
        for _ in range(3):
            engine = LogAnalyticsEngine(retention=Retention(max_entries=lines))
            engine.ingest_logs_from_file(path)
            pauses.append(pause(engine))
        print(f"rebase of {len(engine):,} live entries ({len(engine._indexes.token)} words): "
              f"median {statistics.median(pauses) * 1e3:.0f} ms")
    n = lines
    batches = {BitMap: array("I", range(0, n, 3)), BitMap64: array("Q", range(0, n, 3))}
    a32, b32 = BitMap(range(0, n, 2)), BitMap(range(0, n, 3))
    a64, b64 = BitMap64(range(0, n, 2)), BitMap64(range(0, n, 3))
    print(f"to_array (what the C kernels read): BitMap {hasattr(BitMap, 'to_array')}, "
          f"BitMap64 {hasattr(BitMap64, 'to_array')}")
    for name, a, b, cls in (("BitMap", a32, b32, BitMap), ("BitMap64", a64, b64, BitMap64)):
        merge = cpu(lambda: cls(batches[cls]), 5)  # noqa: B023
        inter = cpu(lambda: a & b, 20)  # noqa: B023
        card = cpu(lambda: a.intersection_cardinality(b), 20)  # noqa: B023
        it = cpu(lambda: list(b), 3)  # noqa: B023
        print(f"{name:<9} from array {merge * 1e3:6.2f} ms  and {inter * 1e3:6.2f} ms  "
              f"count of and {card * 1e3:6.2f} ms  iterate {it * 1e3:6.2f} ms")


if __name__ == "__main__":
    main()
