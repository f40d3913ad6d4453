"""Benchmarks of the ecosystem layer: query-string compile and search, cursor pages, the
logging handler, pandas export.

Run: python -m pytest benchmarks/bench_ecosystem.py --benchmark-only -q
The engine is the shared ``loaded_engine`` fixture of ``benchmarks/conftest.py`` (the generated
corpus, ``LAE_BENCH_LINES`` lines, default 1,000,000).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogAnalyticsHandler, parse_query

QUERY = 'level:ERROR "request" -tag:debug latency_ms:>250 after:2025-07-20T09:00'


def test_parse_query(benchmark: Any) -> None:
    node = benchmark(parse_query, QUERY)
    assert node is not None


def test_search_query_string(benchmark: Any, loaded_engine: LogAnalyticsEngine) -> None:
    engine = loaded_engine
    hits = benchmark(engine.search, QUERY, None, True, None, 50)
    assert len(hits) <= 50


def test_query_logs_same_node(benchmark: Any, loaded_engine: LogAnalyticsEngine) -> None:
    engine = loaded_engine
    node = parse_query(QUERY)
    hits = benchmark(engine.query_logs, node, None, True, None, 50)
    assert len(hits) <= 50


def test_cursor_page_deep(benchmark: Any, loaded_engine: LogAnalyticsEngine) -> None:
    """One 100-entry page of all entries, positioned half-way through the result."""
    engine = loaded_engine
    n = len(engine)
    page = engine.query_page(None, n // 2)
    cursor = page.next_cursor
    got = benchmark(engine.query_page, None, 100, cursor)
    assert len(got.entries) == 100


def test_offset_page_deep(benchmark: Any, loaded_engine: LogAnalyticsEngine) -> None:
    """The same page by offset (``page=``), for comparison."""
    engine = loaded_engine
    n = len(engine)
    got = benchmark(engine.query_logs, None, None, False, n // 200, 100)
    assert len(got) == 100


@pytest.mark.parametrize("non_blocking", [False, True], ids=["blocking", "non_blocking"])
def test_handler_10k_records_app_thread(benchmark: Any, non_blocking: bool) -> None:
    """Time the application thread spends logging 10k records (ingestion of the queued
    records happens in the background and is not included for non_blocking)."""
    handlers: list[tuple[LogAnalyticsEngine, LogAnalyticsHandler]] = []

    def run() -> None:
        engine = LogAnalyticsEngine()
        handler = LogAnalyticsHandler(engine, non_blocking=non_blocking, queue_size=20_000)
        handlers.append((engine, handler))
        log = logging.getLogger(f"bench.{non_blocking}.{len(handlers)}")
        log.propagate = False
        log.setLevel(logging.INFO)
        log.addHandler(handler)
        for i in range(10_000):
            log.info("request %d served in %d ms", i, i % 300, extra={"user": i % 97})
        log.removeHandler(handler)

    benchmark.pedantic(run, rounds=3, iterations=1)
    for engine, handler in handlers:
        handler.close()
        assert len(engine) + handler.dropped == 10_000


def test_to_pandas_errors(benchmark: Any, loaded_engine: LogAnalyticsEngine) -> None:
    pytest.importorskip("pandas")
    engine = loaded_engine
    df = benchmark.pedantic(engine.to_pandas, args=({"level": "ERROR"},), rounds=3)
    assert len(df) == engine.count_logs({"level": "ERROR"})
