"""Rule kinds: absence (flatline), spike and new_term, each firing and not firing."""

from __future__ import annotations

from pathlib import Path

from log_analytics_engine import AlertRule, LogAnalyticsEngine, LogEntry


def entry(ts: float, source: str = "other", level: str = "INFO") -> LogEntry:
    return LogEntry(ts, level, "msg", source)


def times(engine: LogAnalyticsEngine) -> list[float]:
    return [a.triggered_at.timestamp() for a in engine.get_alerts()]


def absence(threshold: int = 1, cooldown: float = 0, group_by: str | None = None,
            conditions: dict[str, object] | None = None) -> AlertRule:
    return AlertRule("quiet", conditions=conditions or {"source": "pay"}, kind="absence",
                     threshold=threshold, time_window=60, cooldown=cooldown,
                     group_by=group_by)


# -- absence -------------------------------------------------------------------------------
def test_absence_fires_when_matches_stop_for_a_window() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(absence())
    engine.ingest_logs([entry(0, "pay"), entry(30, "pay"), entry(50), entry(80), entry(95)])
    [alert] = engine.get_alerts()
    assert alert.triggered_at.timestamp() == 95  # first event time past 30 + 60
    assert alert.count == 0
    assert alert.metadata["kind"] == "absence"


def test_absence_does_not_fire_while_matches_keep_coming() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(absence())
    engine.ingest_logs([entry(t, "pay" if t % 40 == 0 else "other") for t in range(0, 400, 10)])
    assert engine.get_alerts() == []


def test_absence_waits_for_a_full_window_after_start() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(absence())
    engine.ingest_logs([entry(t) for t in range(0, 60, 5)])
    assert engine.get_alerts() == []
    engine.ingest_log(entry(60))
    assert times(engine) == [60]


def test_absence_fires_when_fewer_than_threshold_matches() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(absence(threshold=3))
    engine.ingest_logs([entry(0), entry(10, "pay"), entry(20, "pay"), entry(59), entry(61)])
    assert times(engine) == [61]
    assert engine.get_alerts()[0].count == 2


def test_absence_repeats_at_most_once_per_window_while_quiet() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(absence())
    engine.ingest_logs([entry(t) for t in range(0, 200, 10)])
    assert times(engine) == [60, 120, 180]


def test_absence_cooldown_longer_than_window_spaces_alerts() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(absence(cooldown=1000))
    engine.ingest_logs([entry(t) for t in range(0, 500, 10)])
    assert times(engine) == [60]


def test_absence_group_by_reports_the_group_that_went_quiet() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(absence(group_by="source", conditions={"level": "INFO"}))
    stream = [entry(t, "api") for t in range(0, 200, 10)] + [entry(5, "db")]
    engine.ingest_logs(sorted(stream, key=lambda e: e.ts))
    assert [(a.metadata["source"], a.triggered_at.timestamp())
            for a in engine.get_alerts()] == [("db", 70), ("db", 130), ("db", 190)]


# -- spike ---------------------------------------------------------------------------------
def spike(threshold: int = 3, ratio: float = 2.0) -> AlertRule:
    return AlertRule("spike", conditions={"level": "ERROR"}, kind="spike", threshold=threshold,
                     time_window=60, spike_ratio=ratio)


def test_spike_fires_when_count_is_ratio_times_previous_window() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(spike())
    engine.ingest_log(entry(0))
    engine.ingest_logs([entry(t, level="ERROR") for t in (70, 100, 135, 140, 145)])
    [alert, *_] = engine.get_alerts()
    assert alert.triggered_at.timestamp() == 140
    assert alert.count == 3
    assert alert.metadata["previous_count"] == 1


def test_spike_does_not_fire_on_a_steady_rate() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(spike())
    engine.ingest_logs([entry(t, level="ERROR") for t in range(0, 600, 10)])
    assert engine.get_alerts() == []


def test_spike_does_not_fire_before_the_previous_window_was_observed() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(spike())
    engine.ingest_logs([entry(t, level="ERROR") for t in range(0, 50, 5)])
    assert engine.get_alerts() == []


def test_spike_needs_the_threshold_even_when_previous_window_was_empty() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(spike(threshold=3))
    engine.ingest_logs([entry(0)] + [entry(t, level="ERROR") for t in (200, 210)])
    assert engine.get_alerts() == []
    engine.ingest_log(entry(220, level="ERROR"))
    assert times(engine) == [220]


# -- new_term ------------------------------------------------------------------------------
def new_term(**kw: object) -> AlertRule:
    return AlertRule("new", conditions={"level": "ERROR"}, kind="new_term", field="source",
                     **kw)  # type: ignore[arg-type]


def test_new_term_fires_the_first_time_each_value_is_seen() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(new_term())
    engine.ingest_logs([entry(t, s, "ERROR") for t, s in enumerate("abacb")])
    assert [a.metadata["source"] for a in engine.get_alerts()] == ["a", "b", "c"]


def test_new_term_ignores_non_matching_entries_and_missing_fields() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(AlertRule("new", conditions={"level": "ERROR"}, kind="new_term",
                                    field="region"))
    engine.ingest_logs([LogEntry(1, "INFO", "x", metadata={"region": "eu"}),
                        LogEntry(2, "ERROR", "x")])
    assert engine.get_alerts() == []


def test_new_term_is_per_group() -> None:
    engine = LogAnalyticsEngine()
    engine.add_alert_rule(AlertRule("new", kind="new_term", field="user_id",
                                    group_by="source"))
    engine.ingest_logs([LogEntry(1, "INFO", "x", "api", user_id="u1"),
                        LogEntry(2, "INFO", "x", "db", user_id="u1"),
                        LogEntry(3, "INFO", "x", "db", user_id="u1")])
    assert [a.metadata["source"] for a in engine.get_alerts()] == ["api", "db"]


def test_new_term_state_survives_a_restart(tmp_path: Path) -> None:
    first = LogAnalyticsEngine()
    first.add_alert_rule(new_term())
    first.ingest_logs([entry(1, "a", "ERROR"), entry(2, "b", "ERROR")])
    first.persist_alerts_to_file(tmp_path / "alerts.jsonl")

    second = LogAnalyticsEngine()
    second.add_alert_rule(new_term())
    report = second.load_alerts_from_file(tmp_path / "alerts.jsonl")
    assert report["state_restored"] == ["new"]
    second.ingest_logs([entry(3, "a", "ERROR"), entry(4, "c", "ERROR")])
    assert [a.metadata["source"] for a in second.get_alerts()] == ["a", "b", "c"]


def test_threshold_window_survives_a_restart(tmp_path: Path) -> None:
    rule = AlertRule("errs", conditions={"level": "ERROR"}, threshold=3, time_window=60)
    first = LogAnalyticsEngine()
    first.add_alert_rule(rule)
    first.ingest_logs([entry(10, level="ERROR"), entry(20, level="ERROR")])
    first.save_alert_state(tmp_path / "state.json")

    second = LogAnalyticsEngine()
    assert second.load_alert_state(tmp_path / "state.json") == []  # kept until the rule exists
    second.add_alert_rule(AlertRule.from_dict(rule.to_dict()))
    second.ingest_log(entry(30, level="ERROR"))
    [alert] = second.get_alerts()
    assert alert.count == 3
    assert [e.ts for e in alert.sample_logs] == [10, 20, 30]


def test_absence_state_survives_a_restart(tmp_path: Path) -> None:
    first = LogAnalyticsEngine()
    first.add_alert_rule(absence())
    first.ingest_logs([entry(0, "pay"), entry(30)])
    first.save_alert_state(tmp_path / "state.json")
    second = LogAnalyticsEngine()
    second.add_alert_rule(absence())
    second.load_alert_state(tmp_path / "state.json")
    second.ingest_logs([entry(59), entry(61)])
    assert times(second) == [61]
