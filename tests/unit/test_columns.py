"""Numeric columns for aggregations (index/columns.py, query/numbers.py)."""

from __future__ import annotations

import math

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.index.columns import ColumnCache
from log_analytics_engine.index.postings import IndexSet
from log_analytics_engine.index.store import Store
from log_analytics_engine.query.aggregate import parse_metrics, prepare_aggregate
from log_analytics_engine.query.nodes import QueryContext
from log_analytics_engine.query.numbers import entry_metrics
from log_analytics_engine.storage.retention import Retention


def _engine(values: list[object], **kw: object) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine(**kw)  # type: ignore[arg-type]
    engine.ingest_logs([LogEntry(i, "INFO", "m", metadata={"x": v}) for i, v in enumerate(values)])
    return engine


def test_an_engine_that_never_aggregates_numbers_builds_no_column() -> None:
    engine = _engine([1, 2, 3])
    engine.aggregate(group_by="level")
    engine.aggregate(metrics=["count", "distinct:x"])
    assert engine._ctx._columns is None or len(engine._ctx.columns) == 0


def test_a_numeric_metric_builds_the_column_of_its_field_once() -> None:
    engine = _engine([1, 2.5, "a", None, True])
    assert engine.aggregate(metrics=["avg:x"]) == {"avg_x": 1.75}
    column = engine._ctx.columns.column("x")
    assert list(column.values)[:2] == [1.0, 2.5]
    assert all(math.isnan(v) for v in list(column.values)[2:])
    assert list(column.ints) == [0]
    assert engine._ctx.columns.column("x") is column


def test_min_of_equal_values_is_the_first_and_max_the_last_with_their_type() -> None:
    engine = _engine([0, 0.0, -0.0, 1.0, 1])
    got = engine.aggregate(metrics=["min:x", "max:x"])
    assert repr(got["min_x"]) == "0"
    assert repr(got["max_x"]) == "1"
    engine = _engine([-0.0, 0, 1, 1.0])
    got = engine.aggregate(metrics=["min:x", "max:x"])
    assert repr(got["min_x"]) == "-0.0"
    assert repr(got["max_x"]) == "1.0"


def test_ints_beyond_2_53_keep_their_exact_value() -> None:
    big = 2**53 + 1
    got = _engine([big, 1, 2**63]).aggregate(metrics=["min:x", "max:x", "p50:x", "sum:x"])
    assert got == {"min_x": 1, "max_x": 2**63, "p50_x": float(big),
                   "sum_x": math.fsum([1, big, 2**63])}
    assert type(got["max_x"]) is int


def test_values_a_column_cannot_hold_take_the_entries_path() -> None:
    class Ms(float):
        pass

    store = Store()
    entries = [LogEntry(i, metadata={"x": 1.0}) for i in range(4)]
    entries[2].metadata["x"] = Ms(0.5)  # a subclass kept as it is (set after normalising)
    store.append(entries)
    indexes = IndexSet()
    indexes.merge(indexes.gather(entries, None, 0), 0)
    ctx = QueryContext(store, indexes)
    metrics = ["min:x", "max:x", "p50:x", "count"]
    got = prepare_aggregate(ctx, store.live, None, None, metrics)()
    assert got == entry_metrics(entries, parse_metrics(metrics))
    assert type(got["min_x"]) is Ms
    assert list(ctx.columns.column("x").odd) == [2]


def test_sum_keeps_the_errors_of_fsum() -> None:
    with pytest.raises(OverflowError):
        _engine([1e308, 1e308]).aggregate(metrics=["sum:x"])


def test_percentiles_interpolate_linearly() -> None:
    got = _engine([4, 1, 3, 2]).aggregate(metrics=["p50:x", "p99:x", "min:x", "max:x"])
    assert got == {"p50_x": 2.5, "p99_x": 3.97, "min_x": 1, "max_x": 4}


def test_the_cache_keeps_at_most_max_fields_columns_least_recently_used_out() -> None:
    store = Store()
    store.append([LogEntry(0, metadata={"a": 1, "b": 2, "c": 3})])
    cache = ColumnCache(store, max_fields=2)
    cache.column("a")
    cache.column("b")
    cache.column("a")
    cache.column("c")
    assert "a" in cache
    assert "c" in cache
    assert "b" not in cache
    assert len(cache) == 2
    with pytest.raises(ValueError):
        ColumnCache(store, max_fields=0)


def test_a_column_drops_what_retention_evicted_and_reads_what_was_appended() -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=50))
    engine.ingest_logs([LogEntry(i, metadata={"x": i}) for i in range(40)])
    assert engine.aggregate(metrics=["max:x"]) == {"max_x": 39}
    engine.ingest_logs([LogEntry(i, metadata={"x": i}) for i in range(40, 120)])
    store = engine._store
    assert store.base > 0
    got = engine.aggregate(metrics=["min:x", "max:x", "count"])
    assert got == {"min_x": store.base, "max_x": 119, "count": len(engine)}
    column = engine._ctx.columns.column("x")
    assert column.first == store.base
    assert column.end == store.next_id
    column._check(store)


def test_a_column_that_ends_past_the_store_is_rebuilt() -> None:
    store = Store()
    store.append([LogEntry(i, metadata={"x": i}) for i in range(3)])
    cache = ColumnCache(store)
    first = cache.column("x")
    first.values.extend([7.0, 8.0])  # as if it had read entries since withdrawn
    again = cache.column("x")
    assert again is not first
    assert list(again.values) == [0.0, 1.0, 2.0]


def test_what_was_taken_under_the_lock_is_not_changed_by_later_ingestion() -> None:
    engine = _engine([5, 1, 3], retention=Retention(max_entries=3))
    with engine._lock:
        finish = prepare_aggregate(engine._ctx, engine._store.live, "level", None,
                                   ["p50:x", "max:x", "count"])
    engine.ingest_logs([LogEntry(9, "INFO", "m", metadata={"x": 100.5}) for _ in range(5)])
    assert engine.aggregate(metrics=["max:x"]) == {"max_x": 100.5}  # the column cut and grew
    assert engine._store.base == 5
    assert finish() == {"INFO": {"p50_x": 3.0, "max_x": 5, "count": 3}}


def test_scratch_buffers_are_reused_and_grow_to_the_largest_group() -> None:
    engine = _engine([float(i) for i in range(100)])
    pool = engine._ctx.columns.scratch
    assert engine.aggregate(group_by="level", metrics=["p50:x"]) == {"INFO": {"p50_x": 49.5}}
    buf = pool.take(10)
    assert len(buf) >= 100  # the one the query used, handed back
    pool.give(buf)
    assert engine.aggregate(metrics=["max:x", "sum:x"]) == {"max_x": 99.0, "sum_x": 4950.0}


def test_a_query_selecting_few_entries_reads_them_instead_of_building_a_column() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, "ERROR" if i < 3 else "INFO", "m", metadata={"x": i})
                        for i in range(100)])
    assert engine.aggregate({"level": "ERROR"}, metrics=["max:x"]) == {"max_x": 2}
    assert "x" not in engine._ctx.columns
    assert engine.aggregate({"level": "INFO"}, metrics=["max:x"]) == {"max_x": 99}
    assert "x" in engine._ctx.columns  # built once a query selected enough
    assert engine.aggregate({"level": "ERROR"}, metrics=["max:x", "p50:x"]) == {
        "max_x": 2, "p50_x": 1.0}
