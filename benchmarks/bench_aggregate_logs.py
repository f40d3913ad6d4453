"""``aggregate_logs(logs, group_by=...)`` over a list of 1M entries against the scan a user
would write, ``Counter(e.source for e in logs)``, measured in the same run.

Both run over the same list, once in ingestion order and once shuffled (the entries scattered
in memory, as a list built by other code may be): ``aggregate_logs`` must be at least as fast
as the Counter scan whatever list it is given.

    python -m pytest benchmarks/bench_aggregate_logs.py --benchmark-only \
        --benchmark-columns=median,min,max,rounds --benchmark-group-by=param:order
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry


@pytest.fixture(scope="module", params=["ingest_order", "shuffled"])
def order(request: pytest.FixtureRequest, corpus_entries: list[LogEntry]) -> list[LogEntry]:
    if request.param == "ingest_order":
        return corpus_entries
    shuffled = list(corpus_entries)
    random.Random(7).shuffle(shuffled)
    return shuffled


def test_counter_scan_by_source(benchmark: Any, order: list[LogEntry]) -> None:
    """The baseline: ``Counter(e.source for e in logs)``."""
    got = benchmark(lambda: Counter(e.source for e in order))
    assert sum(got.values()) == len(order)


def test_aggregate_logs_by_source(benchmark: Any, order: list[LogEntry]) -> None:
    """``aggregate_logs(logs, group_by="source")`` over the same list."""
    got = benchmark(LogAnalyticsEngine.aggregate_logs, order, group_by="source")
    assert got["group_by"] == dict(Counter(e.source for e in order).most_common())


def test_aggregate_logs_original_example(benchmark: Any, order: list[LogEntry]) -> None:
    """The original API's example: by source, a level histogram and the top 5 tags."""
    got = benchmark(LogAnalyticsEngine.aggregate_logs, order, group_by="source",
                    histogram="level", top_n={"tags": 5})
    assert sum(got["histogram"].values()) == len(order)
