"""engine.prometheus_collector(): the same families as export_metrics_prometheus()."""

from __future__ import annotations

import sys

import pytest

from log_analytics_engine import AlertRule, LogAnalyticsEngine, LogEntry, MissingExtraError

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402


def busy_engine() -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(AlertRule("errs", conditions={"level": "ERROR"}, severity="HIGH"))
    engine.ingest_logs([
        LogEntry(0, "ERROR", "a", source='we"ird\\src', tags=["t1"]),
        LogEntry(1, "INFO", "b", source="api", tags=["t1", "t2"]),
    ])
    return engine


Family = tuple[str, str, str, list[tuple[str, list[tuple[str, str]], float]]]


def parsed(text: str) -> list[Family]:
    return sorted(
        (f.name, f.type, f.documentation,
         sorted((s.name, sorted(s.labels.items()), s.value) for s in f.samples))
        for f in text_string_to_metric_families(text))


def test_collector_yields_the_same_families_as_the_text_export() -> None:
    engine = busy_engine()
    registry = prometheus_client.CollectorRegistry()
    registry.register(engine.prometheus_collector())
    scraped = prometheus_client.generate_latest(registry).decode()
    assert parsed(scraped) == parsed(engine.export_metrics_prometheus())


def test_every_scrape_sees_current_values() -> None:
    engine = LogAnalyticsEngine()
    registry = prometheus_client.CollectorRegistry()
    registry.register(engine.prometheus_collector())
    before = registry.get_sample_value("log_analytics_ingested_entries_total")
    engine.ingest_log(LogEntry(0, "INFO", "x"))
    after = registry.get_sample_value("log_analytics_ingested_entries_total")
    assert (before, after) == (0.0, 1.0)


def test_labelled_samples_are_exposed() -> None:
    registry = prometheus_client.CollectorRegistry()
    registry.register(busy_engine().prometheus_collector())
    assert registry.get_sample_value(
        "log_analytics_alerts_total", {"rule": "errs", "severity": "HIGH"}) == 1.0


def test_two_engines_register_in_two_registries_without_interfering() -> None:
    a, b = prometheus_client.CollectorRegistry(), prometheus_client.CollectorRegistry()
    a.register(busy_engine().prometheus_collector())
    b.register(LogAnalyticsEngine().prometheus_collector())
    assert a.get_sample_value("log_analytics_entries") == 2.0
    assert b.get_sample_value("log_analytics_entries") == 0.0


def test_missing_prometheus_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    monkeypatch.setitem(sys.modules, "prometheus_client.core", None)
    with pytest.raises(MissingExtraError, match=r"log-analytics-engine\[prometheus\]"):
        LogAnalyticsEngine().prometheus_collector()
