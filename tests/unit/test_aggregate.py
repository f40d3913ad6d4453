"""``aggregate`` (query-time grouped metrics) and ``aggregate_logs`` (counts over a list)."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry


def test_aggregate_without_group_by_returns_one_metrics_dict(loaded: LogAnalyticsEngine) -> None:
    assert loaded.aggregate() == {"count": 6}


def test_aggregate_group_by_level_counts_canonical_levels(loaded: LogAnalyticsEngine) -> None:
    got = loaded.aggregate(group_by="level")
    assert {k: v["count"] for k, v in got.items()} == {
        "INFO": 2, "ERROR": 1, "WARN": 1, "DEBUG": 1, "FATAL": 1}


def test_aggregate_applies_filters_before_grouping(loaded: LogAnalyticsEngine) -> None:
    got = loaded.aggregate({"source": "api"}, group_by="level")
    assert {k: v["count"] for k, v in got.items()} == {"ERROR": 1, "WARN": 1, "DEBUG": 1}


def test_aggregate_group_by_several_fields_keys_by_tuple(loaded: LogAnalyticsEngine) -> None:
    got = loaded.aggregate(group_by=["source", "level"])
    assert got[("auth", "INFO")] == {"count": 2}
    assert got[("api", "ERROR")] == {"count": 1}
    assert sum(v["count"] for v in got.values()) == 6


def test_aggregate_numeric_metrics_of_a_metadata_field(loaded: LogAnalyticsEngine) -> None:
    got = loaded.aggregate({"source": "api"}, metrics=[
        "count", "sum:latency_ms", "avg:latency_ms", "min:latency_ms", "max:latency_ms",
        "p50:latency_ms"])
    values = [3000, 800]  # the DEBUG api entry has no latency
    assert got == {"count": 3, "sum_latency_ms": sum(values),
                   "avg_latency_ms": statistics.mean(values), "min_latency_ms": min(values),
                   "max_latency_ms": max(values), "p50_latency_ms": statistics.median(values)}


def test_aggregate_p95_interpolates_linearly() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, metadata={"v": v}) for i, v in enumerate(range(1, 21))])
    # numpy's default: position (n - 1) * 0.95 = 18.05 between 19 and 20
    assert engine.aggregate(metrics=["p95:v"])["p95_v"] == pytest.approx(19.05)


def test_aggregate_distinct_counts_distinct_values(loaded: LogAnalyticsEngine) -> None:
    assert loaded.aggregate(metrics=["distinct:user_id"]) == {"distinct_user_id": 3}


def test_aggregate_metrics_ignore_non_numbers_and_bools() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(0, metadata={"v": 2}), LogEntry(1, metadata={"v": "9"}),
                        LogEntry(2, metadata={"v": True}), LogEntry(3)])
    assert engine.aggregate(metrics=["sum:v", "max:v"]) == {"sum_v": 2, "max_v": 2}


def test_aggregate_interval_buckets_by_event_time() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([
        LogEntry("2025-07-21T10:59:59Z"), LogEntry("2025-07-21T10:00:00Z"),
        LogEntry("2025-07-21T11:00:00+00:00"), LogEntry("2025-07-21T12:30:00+01:00"),
    ])
    got = engine.aggregate(interval="1h")
    assert {k: v["count"] for k, v in got.items()} == {
        "2025-07-21T10:00:00Z": 2, "2025-07-21T11:00:00Z": 2}


def test_aggregate_interval_with_group_by_puts_bucket_first() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry("2025-07-21T10:00:00Z", "ERROR"),
                        LogEntry("2025-07-21T10:00:30Z", "ERROR")])
    assert engine.aggregate(group_by="level", interval="1m") == {
        ("2025-07-21T10:00:00Z", "ERROR"): {"count": 2}}


@pytest.mark.parametrize("interval", ["1x", "0m", "-1h", "", "soon"])
def test_aggregate_rejects_a_bad_interval(loaded: LogAnalyticsEngine, interval: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        loaded.aggregate(interval=interval)


@pytest.mark.parametrize("metric", ["median:x", "sum", "p95", 42])
def test_aggregate_rejects_a_bad_metric(loaded: LogAnalyticsEngine, metric: object) -> None:
    with pytest.raises(ValueError, match="metric"):
        loaded.aggregate(metrics=[metric])


def test_aggregate_group_by_source_uses_the_source_attribute() -> None:
    """Grouping by source agrees with the ``source`` filter, with or without other metrics:
    an entry with no source is in the "" group even if its metadata has a "source" key."""
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(0, source="", metadata={"source": "x", "n": 1}),
                        LogEntry(1, source="api", metadata={"n": 2})])
    counts = engine.aggregate(group_by="source")
    with_sum = engine.aggregate(group_by="source", metrics=["count", "sum:n"])
    assert {k: v["count"] for k, v in with_sum.items()} == {k: v["count"]
                                                            for k, v in counts.items()}
    assert {k: engine.count_logs({"source": k}) for k in with_sum} == {"": 1, "api": 1}


def test_aggregate_group_by_tags_leaves_untagged_entries_out() -> None:
    """Tags count each element: an untagged entry belongs to no tag group, whichever
    metrics are asked for."""
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(0, tags=["a"], metadata={"n": 1}), LogEntry(1)])
    assert engine.aggregate(group_by="tags") == {"a": {"count": 1}}
    assert engine.aggregate(group_by="tags", metrics=["count", "sum:n"]) == {
        "a": {"count": 1, "sum_n": 1}}


def test_aggregate_counts_an_entry_once_per_distinct_tag() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(0, tags=["a", "a"], metadata={"n": 1})])
    assert engine.aggregate(group_by="tags") == {"a": {"count": 1}}
    assert engine.aggregate(group_by="tags", metrics=["count", "sum:n"]) == {
        "a": {"count": 1, "sum_n": 1}}


def test_aggregate_indexed_field_counts_equal_unindexed_counts(
    sample_entries: list[LogEntry],
) -> None:
    plain, indexed = LogAnalyticsEngine(), LogAnalyticsEngine(index_fields=["user_id"])
    plain.ingest_logs(sample_entries)
    indexed.ingest_logs(sample_entries)
    assert indexed.aggregate(group_by="user_id") == plain.aggregate(group_by="user_id")


# -- aggregate_logs -------------------------------------------------------------------------
def test_aggregate_logs_group_by_counts_most_common_first(
    sample_entries: list[LogEntry],
) -> None:
    got = LogAnalyticsEngine.aggregate_logs(sample_entries, group_by="source")
    assert list(got["group_by"].items()) == [("api", 3), ("auth", 2), ("db", 1)]


def test_aggregate_logs_top_n_lists_value_count_pairs(sample_entries: list[LogEntry]) -> None:
    got = LogAnalyticsEngine.aggregate_logs(sample_entries, top_n=("tags", 2))
    assert got == {"top_2_tags": [("prod", 3), ("eu", 2)]}


def test_aggregate_logs_top_n_int_uses_group_by_field(sample_entries: list[LogEntry]) -> None:
    got = LogAnalyticsEngine.aggregate_logs(sample_entries, group_by="level", top_n=1)
    assert got["top_1_level"] == [("INFO", 2)]


def test_aggregate_logs_counts_each_tag_of_an_entry(sample_entries: list[LogEntry]) -> None:
    got = LogAnalyticsEngine.aggregate_logs(sample_entries, group_by="tags")["group_by"]
    assert (got["prod"], got["eu"], got["us"], got["canary"]) == (3, 2, 1, 1)


def test_aggregate_logs_histogram_by_interval(sample_entries: list[LogEntry]) -> None:
    got = LogAnalyticsEngine.aggregate_logs(sample_entries, histogram="1h")
    assert got == {"histogram": {"2025-07-21T10:00:00Z": 6}}


def test_aggregate_logs_histogram_by_field(sample_entries: list[LogEntry]) -> None:
    got = LogAnalyticsEngine.aggregate_logs(sample_entries, histogram="source")
    assert got["histogram"] == {"api": 3, "auth": 2, "db": 1}


def test_aggregate_logs_rejects_a_bad_top_n(sample_entries: list[LogEntry]) -> None:
    with pytest.raises(ValueError, match="top_n"):
        LogAnalyticsEngine.aggregate_logs(sample_entries, top_n="three")  # type: ignore[arg-type]


def test_aggregate_several_fields_group_tags_and_source_like_one_field() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(0, "INFO", source="", tags=["a", "a"],
                                 metadata={"source": "x"}),
                        LogEntry(1, "INFO", source="api")])
    assert engine.aggregate(group_by=["source", "tags"]) == {("", "a"): {"count": 1}}


def test_aggregate_buckets_group_tags_and_source_like_one_field() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(0, source="", tags=["a", "a"], metadata={"source": "x"}),
                        LogEntry(1)])
    hour = "1970-01-01T00:00:00Z"
    assert engine.aggregate(group_by="tags", interval="1h") == {(hour, "a"): {"count": 1}}
    assert engine.aggregate(group_by="source", interval="1h", metrics=["count"]) == {
        (hour, ""): {"count": 2}}


@pytest.mark.parametrize("field", ["source", "level", "message", "tags", "user_id"])
@pytest.mark.parametrize("shape", [list, tuple, iter])
def test_aggregate_logs_counts_equal_a_scan_whatever_the_container(
    sample_entries: list[LogEntry], field: str, shape: Any,
) -> None:
    """The fast counting paths (C, attrgetter) agree with a plain per-entry count."""
    want: dict[Any, int] = {}
    for e in sample_entries:
        values = list(dict.fromkeys(e.tags)) if field == "tags" else [e.get(field)]
        for v in values:
            want[v] = want.get(v, 0) + 1
    got = LogAnalyticsEngine.aggregate_logs(shape(sample_entries), group_by=field)["group_by"]
    assert got == want
    assert list(got.values()) == sorted(want.values(), reverse=True)


def test_aggregate_groups_nested_and_unhashable_values_by_their_text() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([
        LogEntry(1, "INFO", "a", metadata={"x": [1, [2, 3]], "v": 1.0}),
        LogEntry(2, "INFO", "b", metadata={"x": {"k": [1]}, "v": 2.0}),
        LogEntry(3, "WARN", "c", metadata={"x": []}),
    ])
    assert engine.aggregate(group_by="x") == {
        1: {"count": 1}, "[2, 3]": {"count": 1}, "{'k': [1]}": {"count": 1}, None: {"count": 1}}
    by_two = engine.aggregate(group_by=["x", "level"], metrics=["sum:v"], interval="1h")
    assert by_two[("1970-01-01T00:00:00Z", "[2, 3]", "INFO")] == {"sum_v": 1.0}
    assert sum(1 for _ in by_two) == 4
