"""Query latency on the loaded 1M-line corpus, against a linear scan in the same run.

Run: ``python -m pytest benchmarks/bench_query.py --benchmark-only``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.model.tokenize import tokenize


@pytest.fixture(scope="module", params=["session cache", "request user"])
def selective(request: Any, loaded_engine: LogAnalyticsEngine) -> dict[str, Any]:
    """Two keywords + a level + a one-hour range. On the 1M corpus "session cache" has about
    1,800 hits and "request user" (the two most frequent words) about 7,400."""
    newest = loaded_engine.query_logs(sort_desc=True, page_size=1)[0].ts
    return {"keyword": request.param, "level": "INFO",
            "start_time": newest - 5 * 3600, "end_time": newest - 4 * 3600}


@pytest.fixture(scope="module")
def entry_list(loaded_engine: LogAnalyticsEngine) -> list[Any]:
    """The entries as a plain Python list, built once: the scan baseline is a loop over
    objects already in memory (as a user holding a list would write it), not the engine
    building them from its records."""
    return list(loaded_engine.all_logs)


def _scan(entries: list[Any], f: dict[str, Any]) -> list[Any]:
    """What a user would hand-roll: a loop over every entry checking each condition."""
    words = tokenize(f["keyword"])
    lo, hi = f["start_time"], f["end_time"]
    return [e for e in entries
            if e.level == f["level"] and lo <= e.ts <= hi and words <= tokenize(e.message)]


def test_selective_query(benchmark, loaded_engine, selective) -> None:
    result = benchmark(loaded_engine.query_logs, selective)
    benchmark.extra_info["hits"] = len(result)
    assert len(result) > 1000


def test_selective_linear_scan(benchmark, loaded_engine, entry_list, selective) -> None:
    result = benchmark.pedantic(_scan, args=(entry_list, selective), rounds=3, iterations=1)
    assert sorted(result, key=_key) == sorted(loaded_engine.query_logs(selective), key=_key)


def _key(e: Any) -> tuple[Any, ...]:
    return (e.ts, e.message, e.source, repr(e.metadata))


def test_rare_word_query(benchmark, loaded_engine) -> None:
    index = loaded_engine._indexes.token
    rare = min((t for t, p in index.items() if len(p) >= 3), key=lambda t: len(index.get(t)))
    result = benchmark(loaded_engine.query_logs, {"keyword": rare})
    assert len(result) >= 3


def test_latest_50_errors(benchmark, loaded_engine) -> None:
    result = benchmark(loaded_engine.query_logs, {"level": "ERROR"}, sort_desc=True,
                       page_size=50)
    assert len(result) == 50
    assert all(a.ts >= b.ts for a, b in itertools.pairwise(result))


def test_count_one_level(benchmark, loaded_engine) -> None:
    assert benchmark(loaded_engine.count_logs, {"level": "WARN"}) > 0


def test_aggregate_count_by_source(benchmark, loaded_engine) -> None:
    result = benchmark(loaded_engine.aggregate, group_by="source")
    assert sum(m["count"] for m in result.values()) == len(loaded_engine)


def test_aggregate_errors_per_hour(benchmark, loaded_engine) -> None:
    result = benchmark.pedantic(loaded_engine.aggregate, args=({"level": "ERROR"},),
                                kwargs={"interval": "1h"}, rounds=5, iterations=1)
    assert result


def test_p95_latency_by_level(benchmark, loaded_engine) -> None:
    result = benchmark.pedantic(loaded_engine.aggregate,
                                kwargs={"group_by": "level", "metrics": ["p95:latency_ms"]},
                                rounds=3, iterations=1)
    assert len(result) == 6
