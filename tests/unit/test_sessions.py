"""engine.sessions(): start/end pairing per key and session metrics."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import InvalidFilterError, LogAnalyticsEngine, LogEntry
from log_analytics_engine.events.sessions import (
    NO_END,
    NO_START,
    RESTARTED,
    field_column,
    format_duration,
)
from log_analytics_engine.model.timeparse import format_instant

T0 = 1_753_092_000.0  # 2025-07-21T10:00:00Z


def ev(offset: float, action: str, user: str = "u1", feature: str = "search",
       **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "feature": feature, "timestamp": format_instant(T0 + offset),
            "action": action, **extra}


def engine_with(*records: dict[str, Any]) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    count, errors = engine.ingest_events(records)
    assert errors == []
    assert count == len(records)
    return engine


def test_start_then_end_is_one_complete_session() -> None:
    result = engine_with(ev(0, "start"), ev(3930, "end")).sessions()
    (s,) = result.complete
    assert (s.key, s.start, s.end, s.duration) == (("u1", "search"), T0, T0 + 3930, 3930)
    assert result.incomplete == []


def test_out_of_order_input_pairs_in_event_time() -> None:
    result = engine_with(ev(60, "end"), ev(0, "start")).sessions()
    assert [s.duration for s in result.complete] == [60]
    assert result.incomplete == []


def test_start_followed_by_start_leaves_first_incomplete() -> None:
    result = engine_with(ev(0, "start"), ev(10, "start"), ev(25, "end")).sessions()
    assert [(s.start, s.end) for s in result.complete] == [(T0 + 10, T0 + 25)]
    (inc,) = result.incomplete
    assert (inc.at, inc.action, inc.reason) == (T0, "start", RESTARTED)


def test_end_without_open_start_is_incomplete() -> None:
    result = engine_with(ev(0, "end"), ev(5, "start"), ev(9, "end"), ev(12, "end")).sessions()
    assert [s.duration for s in result.complete] == [4]
    assert [(i.at - T0, i.reason) for i in result.incomplete] == [(0, NO_START), (12, NO_START)]


def test_start_never_ended_is_incomplete() -> None:
    result = engine_with(ev(0, "start")).sessions()
    assert result.complete == []
    assert [(i.action, i.reason) for i in result.incomplete] == [("start", NO_END)]


def test_keys_pair_independently() -> None:
    result = engine_with(ev(0, "start", "u1"), ev(1, "start", "u2"), ev(2, "end", "u1"),
                         ev(5, "end", "u2"), ev(6, "start", "u1", "cart"),
                         ev(7, "end", "u1", "cart")).sessions()
    got = sorted((s.key, s.duration) for s in result.complete)
    assert got == [(("u1", "cart"), 1), (("u1", "search"), 2), (("u2", "search"), 4)]


def test_equal_timestamps_pair_in_ingestion_order() -> None:
    result = engine_with(ev(0, "start"), ev(0, "end"), ev(0, "start"), ev(0, "end")).sessions()
    assert [s.duration for s in result.complete] == [0, 0]
    assert result.incomplete == []


def test_incomplete_sessions_are_excluded_from_durations() -> None:
    result = engine_with(ev(0, "start"), ev(100, "start"), ev(160, "end"),
                         ev(500, "end")).sessions()
    assert result.by_feature["search"]["sessions"] == 1
    assert result.by_feature["search"]["total_duration_s"] == 60
    assert result.to_dict()["sessions"] == {"complete": 1, "incomplete": 2}


def test_by_feature_metrics() -> None:
    result = engine_with(
        ev(0, "start", "u1"), ev(100, "end", "u1"),
        ev(200, "start", "u1"), ev(500, "end", "u1"),
        ev(0, "start", "u2"), ev(50, "end", "u2"),
        ev(0, "start", "u2", "cart"), ev(10, "end", "u2", "cart"),
    ).sessions()
    assert result.by_feature == {
        "cart": {"sessions": 1, "total_duration_s": 10, "avg_duration_s": 10,
                 "min_duration_s": 10, "max_duration_s": 10, "unique_users": 1},
        "search": {"sessions": 3, "total_duration_s": 450, "avg_duration_s": 150,
                   "min_duration_s": 50, "max_duration_s": 300, "unique_users": 2},
    }


def test_by_user_metrics() -> None:
    result = engine_with(
        ev(0, "start", "u1"), ev(100, "end", "u1"),
        ev(200, "start", "u1"), ev(500, "end", "u1"),
        ev(0, "start", "u1", "cart"), ev(20, "end", "u1", "cart"),
        ev(0, "start", "u2"), ev(50, "end", "u2"),
    ).sessions()
    assert result.by_user["u1"] == {"sessions": 3, "total_duration_s": 420,
                                    "avg_duration_s": 140, "features": ["cart", "search"],
                                    "sessions_by_feature": {"cart": 1, "search": 2}}
    assert result.by_user["u2"]["sessions_by_feature"] == {"search": 1}


def test_by_hour_groups_by_hour_of_start() -> None:
    result = engine_with(ev(3590, "start"), ev(3700, "end"), ev(3700, "start", "u2"),
                         ev(3760, "end", "u2"), ev(0, "start", "u3"),
                         ev(30, "end", "u3")).sessions()
    assert result.by_hour == {
        "2025-07-21T10:00:00Z": {"sessions": 2, "total_duration_s": 140,
                                 "avg_duration_s": 70},
        "2025-07-21T11:00:00Z": {"sessions": 1, "total_duration_s": 60,
                                 "avg_duration_s": 60},
    }


def test_filters_select_the_events_first() -> None:
    engine = engine_with(ev(0, "start"), ev(10, "end"), ev(20, "start"), ev(35, "end"))
    result = engine.sessions({"start_time": T0 + 5})
    assert [s.duration for s in result.complete] == [15]
    assert [i.reason for i in result.incomplete] == [NO_START]


def test_filter_on_a_metadata_field() -> None:
    engine = engine_with(ev(0, "start"), ev(10, "end"), ev(0, "start", feature="cart"),
                         ev(30, "end", feature="cart"))
    assert list(engine.sessions({"feature": "cart"}).by_feature) == ["cart"]


def test_filter_as_a_query_string() -> None:
    engine = engine_with(ev(0, "start"), ev(10, "end"), ev(0, "start", feature="cart"),
                         ev(30, "end", feature="cart"))
    assert list(engine.sessions("feature:cart").by_feature) == ["cart"]


def test_custom_key_action_field_and_values() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([
        LogEntry(T0, metadata={"player": "p1", "kind": "login"}),
        LogEntry(T0 + 5, metadata={"player": "p2", "kind": "login"}),
        LogEntry(T0 + 30, metadata={"player": "p1", "kind": "logout"}),
    ])
    result = engine.sessions(key="player", action_field="kind", start="login", end="logout",
                             user_field="player")
    assert [(s.key, s.duration) for s in result.complete] == [(("p1",), 30)]
    assert result.by_user["p1"]["sessions"] == 1
    assert result.by_feature == {None: {"sessions": 1, "total_duration_s": 30,
                                        "avg_duration_s": 30, "min_duration_s": 30,
                                        "max_duration_s": 30, "unique_users": 1}}


def test_other_actions_and_missing_key_values_are_skipped() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([
        LogEntry(T0, user_id="u1", metadata={"feature": "f", "action": "start"}),
        LogEntry(T0 + 1, user_id="u1", metadata={"feature": "f", "action": "pause"}),
        LogEntry(T0 + 2, metadata={"feature": "f", "action": "end"}),
        LogEntry(T0 + 3, user_id="u1", metadata={"feature": "f", "action": "end"}),
    ])
    result = engine.sessions()
    assert [s.duration for s in result.complete] == [3]
    assert result.skipped == 2


def test_user_id_in_metadata_is_used_when_attribute_is_missing() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([
        LogEntry(T0, metadata={"user_id": "m1", "feature": "f", "action": "start"}),
        LogEntry(T0 + 4, metadata={"user_id": "m1", "feature": "f", "action": "end"}),
    ])
    assert [s.key for s in engine.sessions().complete] == [("m1", "f")]


def test_unhashable_key_values_are_compared_by_repr() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([
        LogEntry(T0, metadata={"user_id": ["a"], "feature": "f", "action": "start"}),
        LogEntry(T0 + 2, metadata={"user_id": ["a"], "feature": "f", "action": "end"}),
    ])
    assert [s.key for s in engine.sessions().complete] == [("['a']", "f")]


def test_unhashable_metric_values_from_start_events_are_compared_by_repr() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([
        LogEntry(T0, metadata={"sid": "a", "feature": ["x"], "action": "start"}),
        LogEntry(T0 + 2, metadata={"sid": "a", "feature": ["x"], "action": "end"}),
    ])
    assert list(engine.sessions(key="sid").by_feature) == ["['x']"]


def test_sessions_after_the_oldest_entries_were_evicted() -> None:
    engine = engine_with(ev(0, "start"), ev(10, "end"), ev(20, "start"), ev(35, "end"),
                         ev(40, "start", "u2"))
    with engine._lock:  # what retention does: drop ids below 2 from store and indexes
        engine._store.evict_before(2)
        engine._indexes.remove_below(2)
    engine._check()
    assert [s.duration for s in engine.sessions().complete] == [15]
    assert [s.key for s in engine.sessions({"start_time": T0 + 30}).incomplete] == [
        ("u1", "search"), ("u2", "search")]


def test_same_start_and_end_value_is_rejected() -> None:
    with pytest.raises(InvalidFilterError):
        LogAnalyticsEngine().sessions(start="x", end="x")


def test_empty_key_is_rejected() -> None:
    with pytest.raises(InvalidFilterError):
        LogAnalyticsEngine().sessions(key=())


def test_empty_engine_has_no_sessions() -> None:
    result = LogAnalyticsEngine().sessions()
    assert result.to_dict() == {"sessions": {"complete": 0, "incomplete": 0},
                                "by_feature": {}, "by_user": {}, "by_hour": {}}


def test_session_to_dict_uses_iso_times() -> None:
    (s,) = engine_with(ev(0, "start"), ev(90, "end")).sessions().complete
    assert s.to_dict() == {"key": ["u1", "search"], "start": "2025-07-21T10:00:00Z",
                           "end": "2025-07-21T10:01:30Z", "duration_s": 90}


@pytest.mark.parametrize(("seconds", "text"), [
    (3930, "1h 5m 30s"), (0, "0s"), (59.6, "1m 0s"), (61, "1m 1s"), (7200, "2h 0m 0s"),
    (90061, "25h 1m 1s"), (-61, "-1m 1s"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# -- properties ----------------------------------------------------------------------------
_values = st.one_of(st.none(), st.text(max_size=3), st.integers(-3, 3), st.booleans())


@given(st.lists(st.tuples(_values, st.dictionaries(st.sampled_from(["user_id", "source", "x"]),
                                                   _values, max_size=3)), max_size=8),
       st.sampled_from(["user_id", "source", "x", "level", "message", "request_id"]))
def test_field_column_agrees_with_entry_get(rows: list[Any], name: str) -> None:
    entries = []
    for user, meta in rows:
        user_id = user if isinstance(user, str) or user is None else None
        entries.append(LogEntry(0, user_id=user_id, metadata=meta))
    assert field_column(entries, name) == [e.get(name) for e in entries]


def _reference(events: list[tuple[float, str, str]]) -> tuple[list[Any], int]:
    """A naive pairing: for each key, walk its events sorted by (time, position)."""
    complete: list[tuple[str, float, float]] = []
    incomplete = 0
    for key in {k for _, k, _ in events}:
        mine = sorted((t, i, a) for i, (t, k, a) in enumerate(events) if k == key)
        open_start = None
        for t, _, action in mine:
            if action == "start":
                if open_start is not None:
                    incomplete += 1
                open_start = t
            elif open_start is None:
                incomplete += 1
            else:
                complete.append((key, open_start, t))
                open_start = None
        incomplete += open_start is not None
    return sorted(complete), incomplete


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.sampled_from(["a", "b", "c"]),
                          st.sampled_from(["start", "end"])), max_size=40))
def test_pairing_matches_a_naive_per_key_walk(events: list[tuple[int, str, str]]) -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(T0 + t, user_id=k, metadata={"feature": "f", "action": a})
                        for t, k, a in events])
    result = engine.sessions()
    engine._check()
    got = sorted((s.key[0], s.start - T0, s.end - T0) for s in result.complete)
    want, incomplete = _reference([(float(t), k, a) for t, k, a in events])
    assert got == want
    assert len(result.incomplete) == incomplete
    total = sum(e - s for _, s, e in want)
    assert sum(m["total_duration_s"] for m in result.by_user.values()) == total
