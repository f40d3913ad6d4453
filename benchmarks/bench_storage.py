"""Durable storage and retention benchmarks.

Run: ``python -m pytest benchmarks/bench_storage.py --benchmark-only -q`` (the corpus of
``LAE_BENCH_LINES`` lines, default 1,000,000, is generated once into ``$LAE_BENCH_DIR``).

* ``test_ingest_file[memory]`` vs ``test_ingest_file[batch]``: the same file ingested by an
  in-memory engine and by one with ``storage=`` in ``"batch"`` mode, flushed (every entry
  committed) inside the timing; the target is batch >= 0.5x the in-memory speed.
* ``test_reopen[snapshot]`` / ``test_reopen[no-snapshot]``: opening a store of the whole
  corpus, indexes rebuilt; after ``close()`` (postings snapshot) and after a crash (every
  message tokenized again). Target: 300,000 entries/s.
* ``test_steady_ingest[...]``: the corpus streamed in calls of 1,000 entries with and without
  ``Retention(max_entries=100_000)``; ``extra_info`` holds the worst and median call latency.
"""

from __future__ import annotations

import shutil
import sqlite3
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine.ingest import IngestReport, open_lines, read_entries


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


@pytest.fixture(scope="session")
def corpus_lines(corpus_path: Path) -> int:
    return _count_lines(corpus_path)


@pytest.fixture(scope="session")
def stored_db(corpus_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A storage file holding the whole corpus, closed cleanly (with the postings snapshot)."""
    db = tmp_path_factory.mktemp("stored") / "logs.db"
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_logs_from_file(corpus_path)
    return db


@pytest.fixture(scope="session")
def crashed_db(stored_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same file as after a crash: no postings snapshot, so every entry is indexed again."""
    db = tmp_path_factory.mktemp("crashed") / "logs.db"
    shutil.copyfile(stored_db, db)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'snapshot_upto'")
    return db


@pytest.mark.parametrize("mode", ["memory", "batch"])
def test_ingest_file(benchmark: Any, corpus_path: Path, corpus_lines: int,
                     tmp_path: Path, mode: str) -> None:
    engines: list[LogAnalyticsEngine] = []
    cpu_times: list[float] = []
    counter = iter(range(1_000_000))

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        engines.clear()
        if mode == "memory":
            engines.append(LogAnalyticsEngine())
        else:
            engines.append(LogAnalyticsEngine(storage=tmp_path / f"run{next(counter)}.db",
                                              durability="batch"))
        return (), {}

    def run() -> None:
        engine = engines[0]
        cpu = time.process_time()
        engine.ingest_logs_from_file(corpus_path)
        engine.flush()
        cpu_times.append(time.process_time() - cpu)

    def teardown() -> None:
        engines[0].close()

    benchmark.pedantic(run, setup=setup, teardown=teardown, rounds=3)
    _speed(benchmark, corpus_lines, cpu_times)


def _speed(benchmark: Any, entries: int, cpu_times: list[float]) -> None:
    """Entries per second from the median wall time, and from the median process CPU time
    (all threads; less disturbed by other processes on a shared machine)."""
    benchmark.extra_info["entries"] = entries
    benchmark.extra_info["entries_per_sec"] = round(entries / benchmark.stats.stats.median)
    benchmark.extra_info["entries_per_cpu_sec"] = round(entries / statistics.median(cpu_times))


@pytest.mark.parametrize("variant", ["snapshot", "no-snapshot"])
def test_reopen(benchmark: Any, stored_db: Path, crashed_db: Path, corpus_lines: int,
                variant: str) -> None:
    db = stored_db if variant == "snapshot" else crashed_db
    opened: list[LogAnalyticsEngine] = []
    cpu_times: list[float] = []

    def run() -> None:
        cpu = time.process_time()
        opened.append(LogAnalyticsEngine(storage=db))
        cpu_times.append(time.process_time() - cpu)

    def teardown() -> None:
        engine = opened.pop()
        assert len(engine) == corpus_lines
        assert engine._storage is not None
        engine._storage.close()  # no new snapshot: keep the variant's file as it is

    benchmark.pedantic(run, teardown=teardown, rounds=3)
    _speed(benchmark, corpus_lines, cpu_times)


def _batches(path: Path, size: int) -> Iterator[list[LogEntry]]:
    with open_lines(path) as lines:
        yield from read_entries(lines, "jsonl", IngestReport(str(path), "jsonl"), size)


@pytest.mark.parametrize("retention", ["none", "max_entries=100k"])
def test_steady_ingest(benchmark: Any, corpus_path: Path, retention: str) -> None:
    latencies: list[float] = []

    def run() -> None:
        latencies.clear()
        policy = Retention(max_entries=100_000) if retention != "none" else None
        engine = LogAnalyticsEngine(retention=policy)
        clock = time.perf_counter
        for batch in _batches(corpus_path, 1000):
            start = clock()
            engine.ingest_logs(batch)
            latencies.append(clock() - start)

    benchmark.pedantic(run, rounds=1)
    ordered = sorted(latencies)
    benchmark.extra_info["calls"] = len(latencies)
    benchmark.extra_info["worst_call_ms"] = round(ordered[-1] * 1000, 2)
    benchmark.extra_info["p99_call_ms"] = round(ordered[int(len(ordered) * 0.99)] * 1000, 2)
    benchmark.extra_info["median_call_ms"] = round(statistics.median(ordered) * 1000, 3)
