"""``LogEntry`` and ``LogLevel``: construction, levels, conversion, and bad input."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from strategies import EntrySpec, entry_specs

from log_analytics_engine import (
    InvalidFieldError,
    InvalidLevelError,
    InvalidTimestampError,
    LogEntry,
    LogLevel,
    MissingFieldError,
)

LEVEL_CASES = [
    ("trace", "TRACE", 0), ("Debug", "DEBUG", 10), ("INFO", "INFO", 20), ("warn", "WARN", 30),
    ("WARNING", "WARN", 30), ("Warning", "WARN", 30), ("error", "ERROR", 40),
    ("fatal", "FATAL", 50), ("CRITICAL", "FATAL", 50), ("critical", "FATAL", 50),
    (" info ", "INFO", 20), (LogLevel.WARNING, "WARN", 30), (LogLevel.CRITICAL, "FATAL", 50),
]


@pytest.mark.parametrize(("given_level", "stored", "score"), LEVEL_CASES)
def test_level_is_case_insensitive_stored_upper_with_aliases(
    given_level: Any, stored: str, score: int
) -> None:
    entry = LogEntry("2025-07-21T10:00:00Z", given_level, "m")
    assert (entry.level, entry.severity_score) == (stored, score)


def test_loglevel_aliases_are_the_canonical_members() -> None:
    assert LogLevel.WARNING is LogLevel.WARN
    assert LogLevel.CRITICAL is LogLevel.FATAL
    assert [lv.severity for lv in LogLevel] == [0, 10, 20, 30, 40, 50]


@pytest.mark.parametrize("level", ["verbose", "", "ERR0R", 40, None, ["ERROR"]])
def test_unknown_level_raises_a_value_error_naming_the_field(level: Any) -> None:
    with pytest.raises(InvalidLevelError) as info:
        LogEntry(0, level, "m")
    assert isinstance(info.value, ValueError)
    assert info.value.field == "level"


def test_original_timestamp_is_kept_and_instant_is_utc() -> None:
    entry = LogEntry("2025-07-21T12:00:00+02:00", "INFO", "m")
    assert entry.timestamp == "2025-07-21T12:00:00+02:00"
    assert entry.ts == 1753092000.0
    assert entry.datetime.isoformat() == "2025-07-21T10:00:00+00:00"


def test_unparseable_timestamp_raises_never_now() -> None:
    with pytest.raises(InvalidTimestampError) as info:
        LogEntry("not a time", "INFO", "m")
    assert isinstance(info.value, ValueError)
    assert (info.value.field, info.value.value) == ("timestamp", "not a time")


def test_missing_timestamp_raises_missing_field() -> None:
    with pytest.raises(MissingFieldError, match="timestamp"):
        LogEntry(None, "INFO", "m")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"message": 5}, "message"),
    ({"source": 5}, "source"),
    ({"tags": "prod"}, "tags"),
    ({"tags": ["ok", 3]}, "tags"),
    ({"metadata": ["a"]}, "metadata"),
    ({"user_id": 1.5}, "user_id"),
    ({"request_id": ["r"]}, "request_id"),
    ({"thread_id": {"t": 1}}, "thread_id"),
])
def test_wrong_field_types_raise_invalid_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidFieldError) as info:
        LogEntry(0, **kwargs)
    assert info.value.field == field


def test_integer_ids_become_strings() -> None:
    entry = LogEntry(0, thread_id=7, user_id=42)  # type: ignore[arg-type]
    assert (entry.thread_id, entry.user_id) == ("7", "42")


def test_defaults() -> None:
    entry = LogEntry(0)
    assert (entry.level, entry.message, entry.source, entry.tags, entry.metadata) == (
        "INFO", "", "", [], {})
    assert (entry.thread_id, entry.request_id, entry.user_id) == (None, None, None)


def test_tags_and_metadata_are_copied_from_the_caller() -> None:
    tags, md = ["a"], {"k": 1}
    entry = LogEntry(0, tags=tags, metadata=md)
    tags.append("b")
    md["k"] = 2
    assert (entry.tags, entry.metadata) == (["a"], {"k": 1})


def test_age_seconds_is_time_since_the_event() -> None:
    entry = LogEntry(time.time() - 3600)
    assert 3600 <= entry.age_seconds < 3600 + 600


def test_future_entries_have_negative_age() -> None:
    assert LogEntry(time.time() + 3600).age_seconds < 0


def test_get_prefers_a_set_attribute_then_metadata() -> None:
    entry = LogEntry(0, user_id="attr", metadata={"user_id": "meta", "region": "eu"})
    assert (entry.get("user_id"), entry.get("region"), entry.get("nope", 7)) == ("attr", "eu", 7)
    assert LogEntry(0, metadata={"user_id": "meta"}).get("user_id") == "meta"


# -- from_dict / to_dict --------------------------------------------------------------------
def test_from_dict_unknown_keys_go_to_metadata() -> None:
    entry = LogEntry.from_dict({"timestamp": 0, "message": "m", "region": "eu", "n": 3})
    assert entry.metadata == {"region": "eu", "n": 3}


def test_from_dict_merges_unknown_keys_with_metadata() -> None:
    entry = LogEntry.from_dict({"timestamp": 0, "region": "eu", "metadata": {"n": 3}})
    assert entry.metadata == {"region": "eu", "n": 3}


def test_from_dict_missing_level_is_info_and_missing_message_empty() -> None:
    entry = LogEntry.from_dict({"timestamp": "2025-07-21T10:00:00Z"})
    assert (entry.level, entry.message) == ("INFO", "")


def test_from_dict_accepts_at_timestamp() -> None:
    assert LogEntry.from_dict({"@timestamp": 1753099200}).ts == 1753099200.0


def test_from_dict_without_timestamp_raises_missing_field() -> None:
    with pytest.raises(MissingFieldError):
        LogEntry.from_dict({"message": "m"})


@pytest.mark.parametrize("data", [[1, 2], "text", 5, None])
def test_from_dict_rejects_non_objects(data: Any) -> None:
    with pytest.raises(InvalidFieldError):
        LogEntry.from_dict(data)


@pytest.mark.parametrize("data", [
    {"timestamp": 0, "level": 5},
    {"timestamp": 0, "message": ["m"]},
    {"timestamp": 0, "tags": "prod"},
    {"timestamp": 0, "metadata": "x"},
    {"timestamp": [0]},
    {"timestamp": True},
])
def test_from_dict_wrong_types_raise_value_errors(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LogEntry.from_dict(data)


@given(entry_specs)
def test_to_dict_from_dict_round_trips(spec: EntrySpec) -> None:
    entry = spec.build()
    again = LogEntry.from_dict(entry.to_dict())
    assert again.to_dict() == entry.to_dict()
    assert again.ts == entry.ts


@given(entry_specs)
def test_to_dict_is_json_ready(spec: EntrySpec) -> None:
    import json

    d = spec.build().to_dict()
    assert json.loads(json.dumps(d)) == d


@given(entry_specs)
def test_construction_records_instant_and_canonical_level(spec: EntrySpec) -> None:
    entry = spec.build()
    assert (entry.ts, entry.level) == (spec.instant, spec.canonical)


def test_matches_filter_uses_query_semantics() -> None:
    entry = LogEntry("2025-07-21T10:00:00Z", "warning", "Disk almost FULL", source="db",
                     tags=["prod"], metadata={"region": "eu"})
    assert entry.matches_filter({"level": "WARN", "keyword": "full disk", "tags": ["x", "prod"],
                                 "region": ["eu", "us"], "end_time": "2025-07-21T10:00:00Z"})
    assert not entry.matches_filter({"min_severity": "ERROR"})
    assert entry.matches_filter(None)


def test_summary_is_one_line_with_level_and_source() -> None:
    line = LogEntry("2025-07-21T10:00:00Z", "ERROR", "x" * 200, source="api").summary(40)
    assert line.startswith("2025-07-21T10:00:00Z ERROR [api] ")
    assert "\n" not in line
    assert line.endswith("…")
