"""``log-analytics demo``: generate a sample corpus, ingest it and print a report."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ..engine import LogAnalyticsEngine
from ..events.sample import write_jsonl
from .common import UsageError, add_command, ingest_files

__all__ = ["cmd_demo", "register_demo"]


def register_demo(sub: Any) -> None:
    p = add_command(sub, "demo", "generate a sample corpus, ingest it and print a report",
                    "Generate a sample JSONL corpus, ingest it into an in-memory engine and "
                    "print counts, top sources, recent errors and query timings.\n\n"
                    "examples:\n  log-analytics demo --lines 200000")
    p.add_argument("--lines", type=int, default=100_000, help="corpus size (default 100000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.set_defaults(func=cmd_demo)


def _timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[Any, float]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return result, best * 1000.0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.lines < 1:
        raise UsageError("--lines must be at least 1")
    engine = LogAnalyticsEngine()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sample.jsonl")
        print(f"Generating {args.lines:,} sample log lines (seed {args.seed})...")
        size = write_jsonl(path, args.lines, args.seed, style="realistic")
        print(f"  {size / 1e6:.1f} MB written")
        (report,) = ingest_files(engine, [path])
    print(f"Ingested {report['count']:,} lines in {report['duration_sec']:.2f} s "
          f"({report['logs_per_sec']:,.0f} lines/s), {report['errors']} rejected\n")
    stats = engine.get_stats()
    print(f"Time span: {stats.get('oldest')} .. {stats.get('newest')}")
    print("Entries by level:")
    for level, n in stats["levels"].items():
        print(f"  {level:<6} {n:>10,}")
    print("Top sources:")
    top = sorted(stats["sources"].items(), key=lambda kv: -kv[1])[:5]
    for source, n in top:
        print(f"  {source:<24} {n:>10,}")
    print("Most recent errors:")
    for e in engine.query_logs({"min_severity": "ERROR"}, sort_desc=True, page_size=5):
        print(f"  {e.summary(90)}")
    print("Query timings (best of 5):")
    newest = engine.query_logs(sort_desc=True, page_size=1)[0].ts
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("count ERROR", lambda: engine.count_logs({"level": "ERROR"})),
        ("latest 50 ERROR", lambda: engine.query_logs({"level": "ERROR"}, sort_desc=True,
                                                      page_size=50)),
        ("ERROR + 'timeout' last hour", lambda: engine.query_logs(
            {"level": "ERROR", "keyword": "timeout", "start_time": newest - 3600})),
        ("count by source", lambda: engine.aggregate(group_by="source")),
        ("p95 latency by level", lambda: engine.aggregate(
            group_by="level", metrics=["count", "p95:latency_ms"])),
    ]
    for name, fn in cases:
        result, ms = _timed(fn)
        size = result if isinstance(result, int) else len(result)
        print(f"  {name:<32} {ms:>9.3f} ms  ({size:,} results)")
    return 0
