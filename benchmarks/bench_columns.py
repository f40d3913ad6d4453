"""Numeric metrics read from columns against the entries' path, in the same run.

``aggregate(group_by="level", metrics=[...])`` over all 1M entries, three ways:

* ``column``: the column of ``latency_ms`` already built (every query after the first);
* ``first_use``: the column cache emptied before each round (the first query of a field
  builds its column from the entries);
* ``entries``: the same query with the columns switched off (what aggregations did before:
  every metric from the group's entries); the results must be equal.

On the benchmark corpus (``latency_ms`` rounded to 2 decimals) and on a high-cardinality
corpus generated here (a unique 32-hex ``request_id`` per line, ``latency_ms`` a full-precision
float: nearly every value distinct).

Run: ``python -m pytest benchmarks/bench_columns.py --benchmark-only
--benchmark-columns=median,min,max,rounds``.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.events.sample import SampleCorpus
from log_analytics_engine.query import aggregate as aggregate_module

LINES = int(os.environ.get("LAE_BENCH_LINES", "1000000"))
P95 = ["p95:latency_ms"]
ALL = ["avg:latency_ms", "p50:latency_ms", "p95:latency_ms", "p99:latency_ms",
       "min:latency_ms", "max:latency_ms"]
METRICS = {"p95": P95, "avg": ["avg:latency_ms"], "six": ALL}


@pytest.fixture(scope="module")
def highcard_engine() -> LogAnalyticsEngine:
    """``LINES`` entries of the sample corpus with a unique 32-hex request id per line and a
    full-precision float latency."""
    rng = random.Random(7)
    entries = []
    for rec in itertools.islice(SampleCorpus(42).records(), LINES):
        meta = rec.setdefault("metadata", {})
        meta["request_id"] = f"{rng.getrandbits(128):032x}"
        meta["latency_ms"] = rng.lognormvariate(3.5, 1.0)
        entries.append(LogEntry.from_dict(rec))
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    return engine


@pytest.fixture(scope="module", params=["benchmark", "highcard"])
def corpus(request: Any) -> LogAnalyticsEngine:
    name = "loaded_engine" if request.param == "benchmark" else "highcard_engine"
    engine: LogAnalyticsEngine = request.getfixturevalue(name)
    return engine


@contextmanager
def entries_path() -> Iterator[None]:
    with mock.patch.object(aggregate_module, "columns_for", return_value={}):
        yield


def _run(engine: LogAnalyticsEngine, metrics: list[str]) -> dict[Any, Any]:
    return engine.aggregate(group_by="level", metrics=metrics)


@pytest.mark.parametrize("kind", sorted(METRICS))
def test_by_level_column(benchmark: Any, corpus: LogAnalyticsEngine, kind: str) -> None:
    metrics = METRICS[kind]
    _run(corpus, metrics)  # the column is built by the first query
    result = benchmark.pedantic(_run, args=(corpus, metrics), rounds=9, iterations=1)
    assert len(result) == 6


@pytest.mark.parametrize("kind", ["p95"])
def test_by_level_first_use(benchmark: Any, corpus: LogAnalyticsEngine, kind: str) -> None:
    metrics = METRICS[kind]
    result = benchmark.pedantic(_run, args=(corpus, metrics), rounds=5, iterations=1,
                                setup=corpus._ctx.columns.clear)
    assert len(result) == 6


@pytest.mark.parametrize("kind", sorted(METRICS))
def test_by_level_entries(benchmark: Any, corpus: LogAnalyticsEngine, kind: str) -> None:
    metrics = METRICS[kind]
    with entries_path():
        result = benchmark.pedantic(_run, args=(corpus, metrics), rounds=3, iterations=1)
    assert result == _run(corpus, metrics)  # the column path gives the same answer
