"""Notification hooks: order, failures, the engine lock, background delivery and its queue."""

from __future__ import annotations

import logging
import threading

import pytest

from log_analytics_engine import Alert, AlertRule, LogAnalyticsEngine, LogEntry


def errors_engine() -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(AlertRule("errors", conditions={"level": "ERROR"}, threshold=1))
    return engine


def err(ts: float) -> LogEntry:
    return LogEntry(ts, "ERROR", "boom")


def test_hooks_run_in_registration_order_for_each_alert() -> None:
    engine = errors_engine()
    calls: list[tuple[str, float]] = []
    engine.add_alert_notification_hook(lambda a: calls.append(("first", a.count)))
    engine.add_alert_notification_hook(lambda a: calls.append(("second", a.count)))
    engine.ingest_log(err(1))
    assert calls == [("first", 1), ("second", 1)]


def test_failing_hook_is_logged_and_counted_and_others_still_run(
        caplog: pytest.LogCaptureFixture) -> None:
    engine = errors_engine()
    got: list[Alert] = []

    def broken(alert: Alert) -> None:
        raise RuntimeError("webhook down")

    engine.add_alert_notification_hook(broken)
    engine.add_alert_notification_hook(got.append)
    with caplog.at_level(logging.ERROR, logger="log_analytics_engine.alerts.delivery"):
        assert engine.ingest_logs([err(1), err(2)]) == 2
    assert len(got) == 2
    assert "webhook down" in caplog.text
    assert "log_analytics_alert_hook_errors_total 2" in engine.export_metrics_prometheus()
    assert len(engine) == 2


def test_hooks_run_after_the_engine_lock_is_released() -> None:
    engine = errors_engine()
    held: list[bool] = []
    engine.add_alert_notification_hook(
        lambda a: held.append(engine._lock._is_owned()))  # type: ignore[attr-defined]
    engine.ingest_log(err(1))
    assert held == [False]


def test_hook_may_query_the_engine() -> None:
    engine = errors_engine()
    counts: list[int] = []
    engine.add_alert_notification_hook(lambda a: counts.append(engine.count_logs()))
    engine.ingest_logs([err(1), err(2)])
    assert counts == [2, 2]


def test_background_delivery_does_not_wait_for_a_slow_hook() -> None:
    engine = errors_engine()
    release = threading.Event()
    delivered: list[float] = []

    def slow(alert: Alert) -> None:
        release.wait(10)
        delivered.append(alert.triggered_at.timestamp())

    engine.add_alert_notification_hook(slow)
    handle = engine.start_alert_delivery(max_queue=10)
    engine.ingest_logs([err(1), err(2)])  # would block for 10 s if delivered in-line
    assert delivered == []
    release.set()
    handle.stop()
    assert delivered == [1, 2]
    assert not handle.running


def test_full_delivery_queue_drops_and_counts_notifications() -> None:
    engine = errors_engine()
    entered = threading.Event()
    release = threading.Event()
    delivered: list[float] = []

    def slow(alert: Alert) -> None:
        entered.set()
        release.wait(10)
        delivered.append(alert.triggered_at.timestamp())

    engine.add_alert_notification_hook(slow)
    handle = engine.start_alert_delivery(max_queue=1)
    engine.ingest_log(err(1))
    assert entered.wait(10)  # the thread holds alert 1; the queue is empty
    engine.ingest_logs([err(2), err(3)])  # 2 is queued, 3 finds the queue full
    release.set()
    handle.stop()
    assert delivered == [1, 2]
    assert len(engine.get_alerts()) == 3  # dropped notifications stay in the history
    text = engine.export_metrics_prometheus()
    assert "log_analytics_alert_notifications_dropped_total 1" in text


def test_blocking_delivery_delivers_everything_in_order() -> None:
    engine = errors_engine()
    delivered: list[float] = []
    engine.add_alert_notification_hook(lambda a: delivered.append(a.triggered_at.timestamp()))
    handle = engine.start_alert_delivery(max_queue=1, overflow="block")
    engine.ingest_logs([err(t) for t in range(20)])
    handle.stop()
    assert delivered == [float(t) for t in range(20)]


def test_delivery_rejects_bad_settings() -> None:
    engine = errors_engine()
    with pytest.raises(ValueError, match="overflow"):
        engine.start_alert_delivery(overflow="spill")
    with pytest.raises(ValueError, match="queue size"):
        engine.start_alert_delivery(max_queue=0)


def test_after_stop_hooks_run_in_line_again() -> None:
    engine = errors_engine()
    delivered: list[float] = []
    engine.add_alert_notification_hook(lambda a: delivered.append(a.triggered_at.timestamp()))
    engine.start_alert_delivery().stop()
    engine.ingest_log(err(5))
    assert delivered == [5]
