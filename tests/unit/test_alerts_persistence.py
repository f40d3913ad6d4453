"""Persistence: alerts as JSONL, rules as JSON (with clear errors), rule definitions."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from log_analytics_engine import (
    Alert,
    AlertRule,
    AlertSeverity,
    LogAnalyticsEngine,
    LogEntry,
)
from log_analytics_engine.alerts import load_rules, read_alerts, save_rules, write_alerts
from log_analytics_engine.errors import InvalidAlertRuleError


def fired_engine() -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(AlertRule("errors", conditions={"level": "ERROR"}, threshold=2,
                                    time_window=60, severity="CRITICAL", group_by="source"))
    engine.ingest_logs([
        LogEntry("2025-07-21T10:00:00.250Z", "ERROR", "db timeout", "api", thread_id="t1",
                 request_id="r1", user_id="u1", tags=["prod", "eu"],
                 metadata={"latency_ms": 12.5, "nested": {"a": [1, 2]}}),
        LogEntry(1753092005, "ERROR", "db timeout again", "api"),
    ])
    return engine


def test_jsonl_round_trip_is_lossless(tmp_path: Path) -> None:
    [alert] = fired_engine().get_alerts()
    path = tmp_path / "alerts.jsonl"
    assert write_alerts(path, [alert]) == 1
    [back], report = read_alerts(path)
    assert report["skipped"] == 0
    assert back.severity is AlertSeverity.CRITICAL
    assert back.triggered_at == alert.triggered_at
    assert back.triggered_at.tzinfo is not None
    assert back.metadata == alert.metadata
    assert (back.rule_name, back.message, back.count) == (
        alert.rule_name, alert.message, alert.count)
    assert [e.to_dict() for e in back.sample_logs] == [e.to_dict() for e in alert.sample_logs]
    assert [e.ts for e in back.sample_logs] == [e.ts for e in alert.sample_logs]
    assert back.to_dict() == alert.to_dict()


def test_file_has_one_json_alert_per_line(tmp_path: Path) -> None:
    engine = fired_engine()
    engine.ingest_logs([LogEntry(1753092010, "ERROR", "x", "api")])
    path = tmp_path / "alerts.jsonl"
    assert engine.persist_alerts_to_file(path) == 2
    lines = path.read_text().splitlines()
    assert [json.loads(ln)["rule_name"] for ln in lines] == ["errors", "errors"]


def test_corrupted_lines_are_skipped_and_reported(tmp_path: Path) -> None:
    engine = fired_engine()
    path = tmp_path / "alerts.jsonl"
    engine.persist_alerts_to_file(path, include_state=False)
    good = path.read_text()
    path.write_text('{"rule_name": "x"\n' + good + '\n["not", "an", "alert"]\n'
                    '{"rule_name": "r", "message": "m", "severity": "HUGE", '
                    '"triggered_at": "2025-01-01T00:00:00+00:00", "count": 1}\n')
    fresh = LogAnalyticsEngine()
    report = fresh.load_alerts_from_file(path)
    assert report["loaded"] == 1
    assert report["skipped"] == 3
    assert [e["line"] for e in report["errors"]] == [1, 4, 5]
    assert len(fresh.get_alerts()) == 1


def test_loading_into_the_same_engine_does_not_duplicate(tmp_path: Path) -> None:
    engine = fired_engine()
    path = tmp_path / "alerts.jsonl"
    engine.persist_alerts_to_file(path)
    report = engine.load_alerts_from_file(path)
    assert report["added"] == 0
    assert len(engine.get_alerts()) == 1


def test_loaded_alerts_come_before_newer_ones(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    fired_engine().persist_alerts_to_file(path)
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(AlertRule("later", threshold=1))
    engine.ingest_log(LogEntry(1753099999, "INFO", "x"))
    engine.load_alerts_from_file(path)
    assert [a.rule_name for a in engine.get_alerts()] == ["errors", "later"]


def test_alert_from_dict_rejects_a_naive_time() -> None:
    data = fired_engine().get_alerts()[0].to_dict()
    data["triggered_at"] = "2025-07-21T10:00:00"
    with pytest.raises(ValueError, match="time zone"):
        Alert.from_dict(data)


# -- rule definitions ------------------------------------------------------------------------
def full_rule() -> AlertRule:
    return AlertRule("spiky", "timeouts surge", {"keyword": "timeout", "source": ["a", "b"]},
                     AlertSeverity.HIGH, 4, 30.0, 15.0, False, kind="spike",
                     group_by="source", spike_ratio=2.5)


def test_rule_dict_round_trip() -> None:
    rule = full_rule()
    assert AlertRule.from_dict(rule.to_dict()) == rule


def test_rule_file_round_trip(tmp_path: Path) -> None:
    rules = [full_rule(), AlertRule("new", kind="new_term", field="user_id")]
    path = tmp_path / "rules.json"
    assert save_rules(path, rules) == 2
    assert load_rules(path) == rules


def test_engine_saves_and_loads_its_rules(tmp_path: Path) -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(full_rule())
    engine.save_alert_rules(tmp_path / "rules.json")
    other = LogAnalyticsEngine()
    assert other.load_alert_rules(tmp_path / "rules.json") == ["spiky"]


def test_rule_file_may_be_a_bare_list(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"name": "a", "conditions": {"level": "ERROR"}}]))
    assert [r.name for r in load_rules(path)] == ["a"]


def bad_rule_error(tmp_path: Path, rule: Any) -> InvalidAlertRuleError:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{"name": "ok"}, rule]}))
    engine = LogAnalyticsEngine()
    with pytest.raises(InvalidAlertRuleError) as info:
        engine.load_alert_rules(path)
    assert "log_analytics_alert_rules 0" in engine.export_metrics_prometheus()  # none added
    return info.value


def test_unknown_kind_is_a_clear_error(tmp_path: Path) -> None:
    exc = bad_rule_error(tmp_path, {"name": "x", "kind": "frequency"})
    assert (exc.field, exc.value, exc.index, exc.rule) == ("kind", "frequency", 1, "x")
    assert isinstance(exc, ValueError)
    assert "rule 2:" in str(exc)  # 1-based for people, index 0-based


def test_negative_window_is_a_clear_error(tmp_path: Path) -> None:
    exc = bad_rule_error(tmp_path, {"name": "x", "time_window": -5})
    assert (exc.field, exc.value) == ("time_window", -5)


def test_unknown_filter_type_is_a_clear_error(tmp_path: Path) -> None:
    exc = bad_rule_error(tmp_path, {"name": "x", "conditions": {"latency_ms": {"gt": 5}}})
    assert exc.field == "conditions"
    assert "unknown filter type" in str(exc)


def test_bad_filter_value_is_caught_by_compiling(tmp_path: Path) -> None:
    exc = bad_rule_error(tmp_path, {"name": "x", "conditions": {"level": "LOUD"}})
    assert exc.field == "conditions"
    assert "LOUD" in str(exc)


def test_unknown_rule_field_is_a_clear_error(tmp_path: Path) -> None:
    exc = bad_rule_error(tmp_path, {"name": "x", "treshold": 3})
    assert exc.field == "treshold"


def test_duplicate_rule_names_are_an_error(tmp_path: Path) -> None:
    exc = bad_rule_error(tmp_path, {"name": "ok"})
    assert exc.field == "name"


def test_rule_file_that_is_not_json_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text("{rules: oops")
    with pytest.raises(InvalidAlertRuleError, match="not valid JSON"):
        load_rules(path)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"threshold": 0}, "threshold"),
    ({"cooldown": -1}, "cooldown"),
    ({"time_window": 0}, "time_window"),
    ({"severity": "URGENT"}, "severity"),
    ({"kind": "new_term"}, "field"),
    ({"spike_ratio": 0}, "spike_ratio"),
    ({"conditions": "level=ERROR"}, "conditions"),
])
def test_rule_constructor_validates(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidAlertRuleError) as info:
        AlertRule("x", **kwargs)
    assert info.value.field == field


def test_alert_state_document_of_wrong_shape_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 99}')
    with pytest.raises(ValueError, match="version 1"):
        LogAnalyticsEngine().load_alert_state(path)


def test_alert_times_are_written_in_one_form_ending_in_z_and_read_back() -> None:
    """One text form of a time everywhere (UTC, ``Z``); files written with ``+00:00`` by
    earlier versions still load."""
    alert = Alert("errors", "3 matching", AlertSeverity.HIGH,
                  datetime(2025, 7, 21, 10, 0, 3, 250000, tzinfo=timezone.utc), 3)
    data = alert.to_dict()
    assert data["triggered_at"] == "2025-07-21T10:00:03.25Z"
    assert Alert.from_dict(data).triggered_at == alert.triggered_at
    data["triggered_at"] = "2025-07-21T10:00:03.250000+00:00"
    assert Alert.from_dict(data).triggered_at == alert.triggered_at


def test_entries_with_datetime_timestamps_serialise_with_z() -> None:
    entry = LogEntry(datetime(2025, 7, 21, 10, 0, tzinfo=timezone.utc), "INFO", "m")
    assert entry.to_dict()["timestamp"] == "2025-07-21T10:00:00Z"
