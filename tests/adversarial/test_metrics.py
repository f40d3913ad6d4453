"""/metrics size is not chosen by log content, and ERROR lines have a counter for rate()."""

from __future__ import annotations

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine.metrics.limits import OTHER, top_k_with_other


def _series(text: str, name: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith(name + "{")]


def test_metrics_size_is_bounded_with_100k_sources_and_tags() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, "INFO", "m", source=f"src-{i}", tags=[f"t{i}", "common"])
                        for i in range(100_000)])
    text = engine.export_metrics_prometheus()
    sources = _series(text, "log_analytics_entries_by_source")
    tags = _series(text, "log_analytics_entries_by_tag")
    assert len(sources) == 101  # the top 100 and one "other"
    assert len(tags) == 101
    assert f'source="{OTHER}"}} 99900' in text
    assert 'tag="common"} 100000' in text  # the largest tag is always kept
    assert len(text) < 64_000  # was 5.4 MB with one series per source


def test_top_k_is_configurable() -> None:
    engine = LogAnalyticsEngine(metrics_top_k=2)
    engine.ingest_logs([LogEntry(i, "INFO", source=s) for i, s in enumerate("aaabbc")])
    assert _series(engine.export_metrics_prometheus(), "log_analytics_entries_by_source") == [
        'log_analytics_entries_by_source{source="a"} 3',
        'log_analytics_entries_by_source{source="b"} 2',
        f'log_analytics_entries_by_source{{source="{OTHER}"}} 1',
    ]


def test_per_level_ingested_counter_does_not_drop_on_eviction() -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=10))
    for i in range(50):
        engine.ingest_log(LogEntry(i, "ERROR" if i % 5 == 0 else "INFO", "x"))
    text = engine.export_metrics_prometheus()
    assert 'log_analytics_ingested_entries_by_level_total{level="ERROR"} 10' in text
    assert 'log_analytics_ingested_entries_by_level_total{level="INFO"} 40' in text
    assert 'log_analytics_ingested_entries_by_level_total{level="FATAL"} 0' in text
    assert "# TYPE log_analytics_ingested_entries_by_level_total counter" in text
    assert 'log_analytics_entries_by_level{level="ERROR"} 2' in text  # the gauge dropped


def test_counter_skips_entries_reloaded_from_storage(tmp_path: pytest.TempPathFactory) -> None:
    path = f"{tmp_path}/x.db"
    with LogAnalyticsEngine(storage=path) as engine:
        engine.ingest_logs([LogEntry(i, "ERROR") for i in range(5)])
    with LogAnalyticsEngine(storage=path) as engine:
        engine.ingest_log(LogEntry(9, "ERROR"))
        text = engine.export_metrics_prometheus()
    assert 'log_analytics_ingested_entries_by_level_total{level="ERROR"} 1' in text
    assert 'log_analytics_ingested_entries_total 1' in text


def test_top_k_with_other() -> None:
    counts = {"a": 5, "b": 1, "c": 3, "d": 1, "e": 3}
    assert top_k_with_other(counts, 2) == [("a", 5), ("c", 3), (OTHER, 5)]
    assert top_k_with_other(counts, 10) == sorted(counts.items())
    assert top_k_with_other(counts, 0) == [(OTHER, 13)]
    with pytest.raises(ValueError, match="k must be"):
        top_k_with_other(counts, -1)
