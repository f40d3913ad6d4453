"""Resident memory of an engine with retention while millions of entries stream through.

Streams ``--entries`` (default 5,000,000) generated entries, in calls of 1,000, through
``LogAnalyticsEngine(retention=Retention(max_entries=100_000, on_evict=...))`` and prints the
resident set size every ``--every`` entries, with the ingest speed (ingest calls only) and
the slowest call of 1,000 entries in that interval. Along the way it checks that queries stay
correct: the entry count, indexed counts and a first page equal a naive scan of the live
entries, ids stay dense, and ``engine._check()`` holds at a few points.

Run: ``python benchmarks/memory_retention.py`` (about 5 minutes on a quiet 2-core machine);
``--entries 1000000`` for a shorter run.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from typing import Any

from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine.events.sample import SampleCorpus
from log_analytics_engine.model.timeparse import parse_instant

FILTERS: list[dict[str, Any]] = [
    {"level": "ERROR"},
    {"keyword": "timeout"},
    {"tags": ["prod"], "min_severity": "WARN"},
]


def rss_mib() -> float:
    """Resident set size of this process in MiB (psutil when installed, else /proc)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - Linux fallback
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    return float(psutil.Process().memory_info().rss) / 2**20


def entry_stream(pool_size: int = 100_000) -> itertools.chain[LogEntry]:
    """An endless stream of fresh entries: a pool of corpus records replayed with the event
    time shifted forward on each pass, every string copied (no sharing between passes)."""
    pool = list(itertools.islice(SampleCorpus(seed=1).records(), pool_size))
    stamps = [parse_instant(r["timestamp"]) for r in pool]
    span = stamps[-1] - stamps[0] + 1.0

    def one_pass(k: int) -> list[LogEntry]:
        shift = k * span
        return [
            LogEntry(ts + shift, r["level"], r["message"].encode().decode(),
                     r["source"].encode().decode(),
                     tags=[t.encode().decode() for t in r["tags"]],
                     metadata=dict(r["metadata"]))
            for ts, r in zip(stamps, pool, strict=True)
        ]

    return itertools.chain.from_iterable(map(one_pass, itertools.count()))


def check_queries(engine: LogAnalyticsEngine) -> None:
    """Indexed answers equal a naive scan of the live entries."""
    live = list(engine.all_logs)
    for f in FILTERS:
        expected = [e for e in live if e.matches_filter(f)]
        assert engine.count_logs(f) == len(expected), f
        first = sorted(expected, key=lambda e: e.ts)[:50]
        got = engine.query_logs(f, page=0, page_size=50)  # pages count from 0
        assert [e.ts for e in got] == [e.ts for e in first], f


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=5_000_000)
    parser.add_argument("--max-entries", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=250_000)
    args = parser.parse_args(argv)

    evicted = [0]

    def on_evict(entries: list[LogEntry]) -> None:
        evicted[0] += len(entries)

    engine = LogAnalyticsEngine(
        retention=Retention(max_entries=args.max_entries, on_evict=on_evict))
    stream = entry_stream()
    print(f"rss at start: {rss_mib():.0f} MiB", flush=True)
    print(f"{'entries':>10} {'rss MiB':>8} {'live':>8} {'evicted':>9} {'entries/s':>10}"
          f" {'worst ms':>8}")
    done = 0
    curve: list[tuple[int, float]] = []
    started = time.perf_counter()
    ingest_time = worst = 0.0
    clock = time.perf_counter
    while done < args.entries:
        batch = list(itertools.islice(stream, min(1000, args.entries - done)))
        t0 = clock()
        engine.ingest_logs(batch)
        took = clock() - t0
        ingest_time += took
        worst = max(worst, took)
        done += len(batch)
        if done % args.every == 0 or done == args.entries:
            rss = rss_mib()
            curve.append((done, rss))
            print(f"{done:>10} {rss:>8.0f} {len(engine):>8} {evicted[0]:>9} "
                  f"{args.every / ingest_time:>10.0f} {worst * 1000:>8.1f}", flush=True)
            ingest_time = worst = 0.0
            floor = min(done, args.max_entries * 31 // 32)
            assert floor <= len(engine) <= min(done, args.max_entries)
            assert evicted[0] == done - len(engine)
            assert engine._store.next_id == done
            check_queries(engine)
            if done % (4 * args.every) == 0:
                engine._check()
    engine._check()
    check_queries(engine)
    warm = [rss for n, rss in curve if n >= min(1_000_000, args.entries // 2)]
    print(f"total {time.perf_counter() - started:.0f} s; after warm-up: min {min(warm):.0f} MiB,"
          f" max {max(warm):.0f} MiB, final {curve[-1][1]:.0f} MiB"
          f" (growth {100 * (max(warm) - min(warm)) / min(warm):.1f}%)")
    stats = engine.get_stats()["retention"]
    print("retention:", stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
