"""Behaviours decided where the issue was silent (see CHANGELOG and the closing notes)."""

from __future__ import annotations

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.ingest.text import parse_text_line
from log_analytics_engine.model.timeparse import parse_instant


@pytest.mark.parametrize(("line", "level", "message"), [
    ("2025-07-21T10:00:00Z Error handling request", "INFO", "Error handling request"),
    ("2025-07-21T10:00:00Z ERROR db down", "ERROR", "db down"),
    ("2025-07-21T10:00:00Z [warn] slow disk", "WARN", "slow disk"),
])
def test_text_level_is_upper_case_or_bracketed(line: str, level: str, message: str) -> None:
    entry = parse_text_line(line)
    assert (entry.level, entry.message) == (level, message)


@pytest.mark.parametrize(("line", "level"), [("ERROR: disk full", "ERROR"),
                                             ("WARN - slow thing", "WARN")])
def test_text_level_without_time_is_stamped_now(line: str, level: str) -> None:
    entry = parse_text_line(line, now=1_753_099_200.0)
    assert (entry.level, entry.ts) == (level, 1_753_099_200.0)


def test_clf_offset_without_a_space() -> None:
    assert parse_instant("21/Jul/2025:14:00:00+0200") == parse_instant("21/Jul/2025:12:00:00 +0000")


def test_numeric_user_id_filter_matches_text_attribute_and_numeric_metadata() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([{"timestamp": 0, "user_id": 42},
                        {"timestamp": 1, "metadata": {"user_id": 42}},
                        {"timestamp": 2, "user_id": "43"}])
    assert [e.ts for e in engine.query_logs({"user_id": 42})] == [0.0, 1.0]


@pytest.mark.parametrize("sort_by", ["level", "region"])
def test_descending_sort_is_the_exact_reverse_of_ascending(sort_by: str) -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs(LogEntry(t, "INFO" if t % 2 else "ERROR", "m",
                                metadata={"region": "eu" if t % 3 else "us"}) for t in range(12))
    up = engine.query_logs(sort_by=sort_by)
    down = engine.query_logs(sort_by=sort_by, sort_desc=True)
    assert down == up[::-1]


def test_tail_engine_stays_bounded_and_alerts_as_an_unbounded_one() -> None:
    from log_analytics_engine import AlertRule
    from log_analytics_engine.cli.common import make_engine as _engine

    def rule() -> AlertRule:
        return AlertRule(name="errors", conditions={"level": "ERROR"}, threshold=3,
                         time_window=60)

    bounded, unbounded = _engine(max_entries=1_000), _engine()
    for engine in (bounded, unbounded):
        engine.add_alert_rule(rule())
        for start in range(0, 20_000, 500):
            engine.ingest_logs(LogEntry(t, "ERROR" if t % 7 == 0 else "INFO", "m")
                               for t in range(start, start + 500))
    assert len(bounded) <= 1_000 < len(unbounded)
    assert [a.triggered_at for a in bounded.get_alerts()] == [
        a.triggered_at for a in unbounded.get_alerts()]
