"""Ingestion speed: file ingestion with every index, against the raw parse of the same file.

Run: ``python -m pytest benchmarks/bench_ingest.py --benchmark-only``. Lines per second =
``LINES / median``; the ratios in BENCHMARKS.md divide medians of the same run. The file
ingestion runs right after its baseline (the raw parse). What a round builds is kept until
the next round's setup: freeing a million entries (about a second) is not part of ingesting
them, and timing it would hide the ingestion speed.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.model.entry import entry_from_json

ROUNDS = 3


def _timed(fn: Callable[[], int], cpu: list[float]) -> Callable[[], int]:
    """``fn`` that also records its process CPU time (less disturbed by other tenants of a
    shared machine than the wall time pytest-benchmark reports)."""

    def run() -> int:
        start = time.process_time()
        result = fn()
        cpu.append(time.process_time() - start)
        return result

    return run


def _keep(holder: list[Any]) -> Callable[[], None]:
    """A pedantic ``setup`` that drops what the previous round built, outside the timing."""

    def setup() -> None:
        holder.clear()

    return setup


def _record(benchmark: Any, lines: int, cpu: list[float]) -> None:
    benchmark.extra_info["lines_per_sec"] = round(lines / benchmark.stats.stats.median)
    benchmark.extra_info["lines_per_cpu_sec"] = round(lines / statistics.median(cpu))


def test_raw_parse_orjson(benchmark, corpus_path: Path) -> None:
    """Baseline: read and parse every line with orjson, no engine."""

    def parse() -> int:
        n = 0
        with open(corpus_path, "rb") as fh:
            for line in fh:
                orjson.loads(line)
                n += 1
        return n

    cpu: list[float] = []
    lines = benchmark.pedantic(_timed(parse, cpu), rounds=ROUNDS, iterations=1)
    _record(benchmark, lines, cpu)


def test_file_ingestion_all_indexes(benchmark, corpus_path: Path) -> None:
    """``ingest_logs_from_file``: parse, build entries, time index, every inverted index."""

    held: list[Any] = []

    def ingest() -> int:
        engine = LogAnalyticsEngine()
        held.append(engine)
        return int(engine.ingest_logs_from_file(corpus_path)["count"])

    cpu: list[float] = []
    lines = benchmark.pedantic(_timed(ingest, cpu), setup=_keep(held), rounds=ROUNDS,
                               iterations=1)
    _record(benchmark, lines, cpu)


def test_raw_parse_stdlib_json(benchmark, corpus_path: Path) -> None:
    """Baseline: the same with the standard library's json (why orjson is a dependency)."""

    def parse() -> int:
        n = 0
        with open(corpus_path, "rb") as fh:
            for line in fh:
                json.loads(line)
                n += 1
        return n

    assert benchmark.pedantic(parse, rounds=ROUNDS, iterations=1) > 0


def test_raw_parse_to_entries(benchmark, corpus_path: Path) -> None:
    """Baseline: parse and build LogEntry objects, no indexes."""

    held: list[Any] = []

    def parse() -> int:
        out = []
        held.append(out)
        with open(corpus_path, "rb") as fh:
            for line in fh:
                out.append(entry_from_json(orjson.loads(line)))
        return len(out)

    assert benchmark.pedantic(parse, setup=_keep(held), rounds=ROUNDS, iterations=1) > 0


def test_ingest_prebuilt_entries(benchmark, corpus_entries: list[LogEntry]) -> None:
    """``ingest_logs`` of prebuilt entries in batches of 10,000."""

    held: list[Any] = []

    def ingest() -> int:
        engine = LogAnalyticsEngine()
        held.append(engine)
        for i in range(0, len(corpus_entries), 10_000):
            engine.ingest_logs(corpus_entries[i : i + 10_000])
        return len(engine)

    cpu: list[float] = []
    count = benchmark.pedantic(_timed(ingest, cpu), setup=_keep(held), rounds=ROUNDS,
                               iterations=1)
    assert count == len(corpus_entries)
    _record(benchmark, count, cpu)


def test_file_ingestion_gc_not_paused(benchmark, corpus_path: Path, monkeypatch) -> None:
    """The same without pausing the cyclic GC (justifies ``_gc.gc_paused``)."""
    import contextlib

    import log_analytics_engine.engine as engine_module

    monkeypatch.setattr(engine_module, "gc_paused", contextlib.nullcontext)

    held: list[Any] = []

    def ingest() -> int:
        engine = LogAnalyticsEngine()
        held.append(engine)
        return int(engine.ingest_logs_from_file(corpus_path)["count"])

    assert benchmark.pedantic(ingest, setup=_keep(held), rounds=ROUNDS, iterations=1) > 0
