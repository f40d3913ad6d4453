"""Threshold rules in event time: windows, late entries, cooldowns, groups, history, dispatch."""

from __future__ import annotations

import doctest
import importlib
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from log_analytics_engine import Alert, AlertRule, AlertSeverity, LogAnalyticsEngine, LogEntry
from log_analytics_engine.alerts import AlertManager
from log_analytics_engine.alerts.dispatch import dispatch_keys
from log_analytics_engine.events.sample import write_jsonl
from log_analytics_engine.query.filters import compile_filters
from log_analytics_engine.query.nodes import And, IndexTerm, Node

ROOT = Path(__file__).resolve().parents[2]


def err(ts: float, source: str = "api", msg: str = "db timeout") -> LogEntry:
    return LogEntry(ts, "ERROR", msg, source)


def engine_with(*rules: AlertRule, **config: float) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    if config:
        engine.configure_alerts(**config)  # type: ignore[arg-type]
    for rule in rules:
        engine.add_alert_rule(rule)
    return engine


def rule(threshold: int = 3, window: float = 60, cooldown: float = 0, **kw: object) -> AlertRule:
    kw.setdefault("conditions", {"level": "ERROR"})
    return AlertRule("r", threshold=threshold, time_window=window, cooldown=cooldown,
                     **kw)  # type: ignore[arg-type]


def fired_at(engine: LogAnalyticsEngine) -> list[float]:
    return [a.triggered_at.timestamp() for a in engine.get_alerts()]


# -- the contract --------------------------------------------------------------------------
def test_contract_example_fires_with_documented_alert_fields() -> None:
    engine = LogAnalyticsEngine()
    seen: list[Alert] = []
    engine.add_alert_rule(AlertRule(name="High Error Rate",
                                    description="3+ ERROR logs in 2 minutes",
                                    conditions={"level": "ERROR"}, severity=AlertSeverity.HIGH,
                                    threshold=3, time_window=120, cooldown=60))
    engine.add_alert_notification_hook(seen.append)
    engine.ingest_logs([err(1000), LogEntry(1010, "INFO", "ok"), err(1020), err(1050)])
    [alert] = engine.get_alerts()
    assert seen == [alert]
    assert alert.rule_name == "High Error Rate"
    assert "High Error Rate" in alert.message
    assert "3 matching" in alert.message
    assert alert.severity is AlertSeverity.HIGH
    assert alert.triggered_at == datetime.fromtimestamp(1050, timezone.utc)
    assert alert.triggered_at.tzinfo is not None
    assert alert.count == 3
    assert [e.ts for e in alert.sample_logs] == [1000, 1020, 1050]
    assert alert.metadata["window_start"] == "1970-01-01T00:15:30Z"
    assert alert.metadata["window_end"] == "1970-01-01T00:17:30Z"


def test_single_historical_error_fires_a_threshold_one_rule() -> None:
    engine = engine_with(rule(threshold=1))
    engine.ingest_log(LogEntry("2019-03-01T12:00:00Z", "ERROR", "old failure"))
    [alert] = engine.get_alerts()
    assert alert.triggered_at == datetime(2019, 3, 1, 12, tzinfo=timezone.utc)


def test_sample_logs_hold_at_most_five_recent_matches() -> None:
    engine = engine_with(rule(threshold=7, window=100))
    engine.ingest_logs([err(t) for t in range(7)])
    [alert] = engine.get_alerts()
    assert [e.ts for e in alert.sample_logs] == [2, 3, 4, 5, 6]


def test_below_threshold_does_not_fire() -> None:
    engine = engine_with(rule(threshold=3))
    engine.ingest_logs([err(100), err(110), LogEntry(120, "WARN", "x")])
    assert engine.get_alerts() == []


def test_matches_farther_apart_than_the_window_do_not_add_up() -> None:
    engine = engine_with(rule(threshold=2, window=60))
    engine.ingest_logs([err(100), err(160), err(220)])  # (e - 60, e] excludes e - 60
    assert engine.get_alerts() == []


def test_window_includes_matches_just_inside_it() -> None:
    engine = engine_with(rule(threshold=2, window=60))
    engine.ingest_logs([err(100), err(159.5)])
    assert fired_at(engine) == [159.5]


# -- late entries ----------------------------------------------------------------------------
def test_late_entry_completes_a_window_that_ends_after_it() -> None:
    engine = engine_with(rule(threshold=3, window=60))
    engine.ingest_logs([err(100), err(130)])
    engine.ingest_log(err(120))
    [alert] = engine.get_alerts()
    assert alert.triggered_at.timestamp() == 130
    assert alert.count == 3
    assert alert.metadata["late"] is True


def test_late_entry_outside_every_window_does_not_fire() -> None:
    engine = engine_with(rule(threshold=3, window=60))
    engine.ingest_logs([err(100), err(130)])
    engine.ingest_log(err(40))
    assert engine.get_alerts() == []


def test_late_entry_beyond_the_horizon_is_counted_not_fired() -> None:
    engine = engine_with(rule(threshold=1, window=60), late_horizon=100)
    engine.ingest_log(err(1000))
    engine.ingest_log(err(850))
    assert fired_at(engine) == [1000]
    assert 'log_analytics_alert_late_entries_total{rule="r"} 1' in (
        engine.export_metrics_prometheus())


def test_late_entry_within_the_horizon_fires() -> None:
    engine = engine_with(rule(threshold=1, window=60), late_horizon=200)
    engine.ingest_log(err(1000))
    engine.ingest_log(err(850))
    assert fired_at(engine) == [1000, 850]


# -- cooldown ----------------------------------------------------------------------------------
def test_cooldown_suppresses_alerts_closer_than_it_in_event_time() -> None:
    engine = engine_with(rule(threshold=1, cooldown=60))
    engine.ingest_logs([err(100), err(130), err(159)])
    assert fired_at(engine) == [100]


def test_cooldown_allows_an_alert_once_it_has_passed() -> None:
    engine = engine_with(rule(threshold=1, cooldown=60))
    engine.ingest_logs([err(100), err(130), err(160)])
    assert fired_at(engine) == [100, 160]


def test_cooldown_applies_to_a_late_alert_before_an_earlier_one() -> None:
    engine = engine_with(rule(threshold=1, cooldown=60))
    engine.ingest_log(err(1000))
    engine.ingest_log(err(950))  # 50 s before the alert at 1000: inside the cooldown
    engine.ingest_log(err(900))  # 100 s before it: outside
    assert fired_at(engine) == [1000, 900]


def test_cooldown_does_not_depend_on_wall_clock() -> None:
    engine = engine_with(rule(threshold=1, cooldown=3600))
    engine.ingest_log(err("2020-01-01T00:00:00Z"))
    engine.ingest_log(err("2020-01-01T02:00:00Z"))
    assert len(engine.get_alerts()) == 2


def test_should_trigger_keeps_its_meaning() -> None:
    r = rule(threshold=3, cooldown=60)
    assert not r.should_trigger(2, 100)
    assert r.should_trigger(3, 100)
    r.last_triggered = 100.0
    assert not r.should_trigger(5, 150)
    assert r.should_trigger(5, "1970-01-01T00:02:40Z")
    r.enabled = False
    assert not r.should_trigger(5, 1000)


# -- groups ------------------------------------------------------------------------------------
def test_group_by_keeps_separate_windows_per_value() -> None:
    engine = engine_with(rule(threshold=2, group_by="source"))
    engine.ingest_logs([err(100, "api"), err(101, "db"), err(102, "web")])
    assert engine.get_alerts() == []
    engine.ingest_log(err(103, "db"))
    [alert] = engine.get_alerts()
    assert alert.metadata["source"] == "db"
    assert [e.source for e in alert.sample_logs] == ["db", "db"]


def test_group_by_keeps_separate_cooldowns_per_value() -> None:
    engine = engine_with(rule(threshold=1, cooldown=600, group_by="source"))
    engine.ingest_logs([err(100, "api"), err(101, "db"), err(102, "api")])
    assert [a.metadata["source"] for a in engine.get_alerts()] == ["api", "db"]


def test_group_by_metadata_field_and_missing_value() -> None:
    engine = engine_with(rule(threshold=1, group_by="region"))
    engine.ingest_logs([LogEntry(1, "ERROR", "x", metadata={"region": "eu"}), err(2)])
    assert [a.metadata["region"] for a in engine.get_alerts()] == ["eu", None]


def test_group_by_unhashable_value_is_grouped() -> None:
    engine = engine_with(rule(threshold=2, group_by="tags"))
    engine.ingest_logs([LogEntry(t, "ERROR", "x", tags=["a", "b"]) for t in (1, 2)])
    assert engine.get_alerts()[0].metadata["tags"] == ["a", "b"]


# -- rules and history -------------------------------------------------------------------------
def test_disabled_rule_does_not_fire() -> None:
    r = rule(threshold=1, enabled=False)
    engine = engine_with(r)
    engine.ingest_log(err(1))
    r.enabled = True
    engine.ingest_log(err(2))
    assert fired_at(engine) == [2]


def test_removed_rule_stops_firing() -> None:
    engine = engine_with(rule(threshold=1))
    engine.ingest_log(err(1))
    engine.remove_alert_rule("r")
    engine.ingest_log(err(2))
    assert fired_at(engine) == [1]


def test_get_alerts_filters_by_since_rule_and_severity() -> None:
    engine = engine_with(
        AlertRule("errors", conditions={"level": "ERROR"}, severity="high"),
        AlertRule("warns", conditions={"level": "WARN"}, severity=AlertSeverity.LOW))
    engine.ingest_logs([err(100), LogEntry(200, "WARN", "w"), err(300)])
    assert [a.rule_name for a in engine.get_alerts(since=150)] == ["warns", "errors"]
    since = datetime.fromtimestamp(250, timezone.utc)
    assert fired_at(engine)[2:] == [a.triggered_at.timestamp()
                                   for a in engine.get_alerts(since=since)]
    assert len(engine.get_alerts(rule_name="errors")) == 2
    assert [a.rule_name for a in engine.get_alerts(severity="LOW")] == ["warns"]
    assert engine.get_alerts(severity=AlertSeverity.CRITICAL) == []


def test_history_is_bounded_and_keeps_the_newest() -> None:
    engine = LogAnalyticsEngine(max_alert_history=3)
    engine.add_alert_rule(rule(threshold=1))
    engine.ingest_logs([err(t) for t in range(10)])
    assert fired_at(engine) == [7, 8, 9]
    engine.configure_alerts(max_history=2)
    assert fired_at(engine) == [8, 9]


def test_bad_history_bound_is_rejected() -> None:
    with pytest.raises(ValueError, match="max_alert_history"):
        AlertManager(max_history=0)


def test_prometheus_counts_alerts_per_rule_and_severity() -> None:
    engine = engine_with(AlertRule("a", conditions={"level": "ERROR"}, severity="HIGH"),
                         AlertRule("b", conditions={"level": "WARN"}))
    engine.ingest_logs([err(1), err(2)])
    text = engine.export_metrics_prometheus()
    assert 'log_analytics_alerts_total{rule="a",severity="HIGH"} 2' in text
    assert 'log_analytics_alerts_total{rule="b",severity="MEDIUM"} 0' in text
    assert engine.get_stats()["alerts_total"] == 2


# -- replay and dispatch -----------------------------------------------------------------------
def test_replaying_a_file_yields_the_alerts_of_live_ingestion(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    write_jsonl(str(path), 3000, seed=7)
    rules = [AlertRule("errors", conditions={"level": "ERROR"}, threshold=5, time_window=30,
                       cooldown=20),
             AlertRule("by-source", conditions={"min_severity": "WARN"}, threshold=3,
                       time_window=20, group_by="source"),
             AlertRule("spike", conditions={"keyword": "timeout"}, kind="spike",
                       threshold=3, time_window=10)]
    replay = engine_with(*rules)
    replay.ingest_logs_from_file(path, batch_size=500)
    live = engine_with(*[AlertRule.from_dict(r.to_dict()) for r in rules])
    for line in path.read_bytes().splitlines():
        live.ingest_log(LogEntry.from_dict(__import__("orjson").loads(line)))
    assert replay.get_alerts()
    assert [a.to_dict() for a in replay.get_alerts()] == [a.to_dict()
                                                           for a in live.get_alerts()]


class _Counting(Node):
    """A condition that matches everything and counts how often it is asked."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls: list[str] = []

    def match(self, entry: LogEntry) -> bool:
        self.calls.append(entry.level)
        return True


def test_rule_is_only_checked_against_entries_it_can_match() -> None:
    counting = _Counting()
    engine = engine_with(AlertRule("r", conditions=And((IndexTerm("level", "ERROR"), counting)),
                                   threshold=1))  # type: ignore[arg-type]
    engine.ingest_logs([LogEntry(1, "INFO", "a"), err(2), LogEntry(3, "WARN", "b")])
    assert counting.calls == ["ERROR"]
    assert len(engine.get_alerts()) == 1


ALL = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}


@pytest.mark.parametrize(("conditions", "levels", "keys", "residual"), [
    ({"level": "ERROR"}, {"ERROR"}, None, None),
    ({"min_severity": "ERROR"}, {"ERROR", "FATAL"}, None, None),
    ({"source": "api", "level": "ERROR"}, {"ERROR"}, {("source", "api")}, None),
    ({"keyword": "disk full"}, ALL, {("token", "disk")}, "IndexTerm"),
    ({"tags": ["a", "b"]}, ALL, {("tag", "a"), ("tag", "b")}, None),
    ({"regex": "x"}, ALL, None, "Regex"),
    ({"level": "WARN", "regex": "x", "source": "db"}, {"WARN"}, {("source", "db")}, "Regex"),
    ({}, ALL, None, None),
])
def test_dispatch_keys_of_condition_shapes(conditions: dict[str, object], levels: set[str],
                                           keys: set[tuple[str, str]] | None,
                                           residual: str | None) -> None:
    dk = dispatch_keys(compile_filters(conditions))
    assert set(dk.levels) == levels
    assert (None if dk.keys is None else set(dk.keys)) == keys
    assert (None if dk.residual is None else type(dk.residual).__name__) == residual


# -- documentation stays true ----------------------------------------------------------------
@pytest.mark.parametrize("module", ["log_analytics_engine.alerts",
                                    "log_analytics_engine.alerts.model",
                                    "log_analytics_engine.alerts.dispatch"])
def test_doctests_of_alert_modules_pass(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_alert_rules_example_runs() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "alert_rules.py")],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "High Error Rate" in done.stdout


def test_manager_tokenises_messages_when_the_engine_gives_no_words() -> None:
    manager = AlertManager()
    manager.add_rule(AlertRule("kw", conditions={"keyword": "timeout"}, threshold=1))
    fired = manager.observe([LogEntry(1, "INFO", "db Timeout"), LogEntry(2, "INFO", "fine")])
    assert [a.count for a in fired] == [1]


def test_negative_late_horizon_is_rejected() -> None:
    with pytest.raises(ValueError, match="late_horizon"):
        LogAnalyticsEngine().configure_alerts(late_horizon=-1)


def test_state_invariants_hold_after_a_corpus_with_late_entries(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    write_jsonl(str(path), 5000, seed=11)
    engine = engine_with(
        AlertRule("e", conditions={"min_severity": "WARN"}, threshold=3, time_window=20,
                  cooldown=30, group_by="source"),
        AlertRule("s", conditions={"keyword": "request"}, kind="spike", threshold=5,
                  time_window=10),
        AlertRule("q", conditions={"level": "FATAL"}, kind="absence", time_window=30),
        late_horizon=120)
    engine.ingest_logs_from_file(path, batch_size=700)
    engine._alerts._check()
    assert engine.get_alerts(rule_name="e")
