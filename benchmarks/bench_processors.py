"""Processor overhead: ingestion of prebuilt entries with and without four traced processors.

Run: ``python -m pytest benchmarks/bench_processors.py --benchmark-only -q``
The corpus comes from ``benchmarks/conftest.py`` (``LAE_BENCH_LINES``, default 1,000,000;
``LAE_BENCH_LINES=100000`` for a quick run); ``LAE_BENCH_ROUNDS`` sets the rounds (7).

``test_overhead_ratio`` measures both configurations in the same run, interleaved round by
round (alternating which goes first) so machine load hits both alike, and reports
``median(plain) / median(processors)`` as ``ratio_median`` (the share of the speed kept; the
goal is >= 0.70).
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

from log_analytics_engine import LogAnalyticsEngine, LogEntry

ROUNDS = int(os.environ.get("LAE_BENCH_ROUNDS", "7"))
GOAL = 0.70


def start(e: LogEntry) -> LogEntry:
    return e


def warn(e: LogEntry) -> LogEntry:
    return e


def error(e: LogEntry) -> LogEntry:
    return e


def general(e: LogEntry) -> LogEntry:
    return e


def plain_engine() -> LogAnalyticsEngine:
    return LogAnalyticsEngine()


def processor_engine(traces: bool = True) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    for fn in (start, warn, error, general):
        engine.add_pre_ingest_hook(fn)
    if not traces:
        engine.set_trace_limit(0)
    return engine


def timed_ingest(engine: LogAnalyticsEngine, entries: list[LogEntry]) -> float:
    started = time.perf_counter()
    engine.ingest_logs(entries)
    return time.perf_counter() - started


def test_ingest_without_processors(benchmark: Any, corpus_entries: list[LogEntry]) -> None:
    benchmark.pedantic(lambda eng: eng.ingest_logs(corpus_entries),
                       setup=lambda: ((plain_engine(),), {}), rounds=ROUNDS)


def test_ingest_four_processors_traced(benchmark: Any,
                                       corpus_entries: list[LogEntry]) -> None:
    benchmark.pedantic(lambda eng: eng.ingest_logs(corpus_entries),
                       setup=lambda: ((processor_engine(),), {}), rounds=ROUNDS)


def test_ingest_four_processors_untraced(benchmark: Any,
                                         corpus_entries: list[LogEntry]) -> None:
    benchmark.pedantic(lambda eng: eng.ingest_logs(corpus_entries),
                       setup=lambda: ((processor_engine(traces=False),), {}), rounds=ROUNDS)


def test_ingest_file_batches_four_processors_traced(benchmark: Any, corpus_path: Path) -> None:
    """File ingestion (8192-line batches: each batch records up to 1,000 traces)."""
    benchmark.pedantic(lambda eng: eng.ingest_logs_from_file(corpus_path),
                       setup=lambda: ((processor_engine(),), {}), rounds=3)


def test_overhead_ratio(benchmark: Any, corpus_entries: list[LogEntry]) -> None:
    """Plain and traced-processor ingestion interleaved; the ratio of the medians."""
    plain: list[float] = []
    procs: list[float] = []

    def pair() -> None:
        # Alternate which configuration goes first, so neither always inherits the other's
        # freed memory or a warm cache.
        if len(plain) % 2 == 0:
            plain.append(timed_ingest(plain_engine(), corpus_entries))
            procs.append(timed_ingest(processor_engine(), corpus_entries))
        else:
            procs.append(timed_ingest(processor_engine(), corpus_entries))
            plain.append(timed_ingest(plain_engine(), corpus_entries))

    benchmark.pedantic(pair, rounds=ROUNDS)
    ratio = statistics.median(plain) / statistics.median(procs)
    benchmark.extra_info.update(
        lines=len(corpus_entries), rounds=ROUNDS,
        plain_median_s=statistics.median(plain), processors_median_s=statistics.median(procs),
        plain_lines_per_s=len(corpus_entries) / statistics.median(plain),
        processors_lines_per_s=len(corpus_entries) / statistics.median(procs),
        ratio_median=ratio)
    print(f"\nplain {len(corpus_entries) / statistics.median(plain):,.0f} lines/s, four traced "
          f"processors {len(corpus_entries) / statistics.median(procs):,.0f} lines/s: "
          f"ratio of medians {ratio:.3f} (goal >= {GOAL})")
    assert ratio >= GOAL, f"processors keep only {ratio:.0%} of the ingestion speed"
