"""``query_logs`` and ``count_logs``: each filter key, ordering, pages and bad filters."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from log_analytics_engine import (
    InvalidFilterError,
    LogAnalyticsEngine,
    LogEntry,
    Not,
    compile_filters,
)


def messages(entries: list[LogEntry]) -> list[str]:
    return [e.message for e in entries]


# fixture order by time: 10:00:01 ERROR "db timeout", 10:00:01 info "user logout" (ingested
# later), 10:00:02 DEBUG, 10:00:03 WARN, 10:00:04 FATAL, 10:00:05 INFO "user login ok"
BY_TIME = ["db timeout after 30s", "user logout", "cache miss", "slow query on db",
           "Connection refused: db-01", "user login ok"]


def test_default_order_is_time_then_ingestion_order(loaded: LogAnalyticsEngine) -> None:
    assert messages(loaded.query_logs()) == BY_TIME


def test_sort_desc_reverses_time_order(loaded: LogAnalyticsEngine) -> None:
    assert messages(loaded.query_logs({}, sort_desc=True)) == BY_TIME[::-1]


def test_start_and_end_time_are_inclusive(loaded: LogAnalyticsEngine) -> None:
    got = loaded.query_logs({"start_time": "2025-07-21T10:00:02Z",
                             "end_time": "2025-07-21T10:00:04Z"})
    assert messages(got) == BY_TIME[2:5]


def test_start_time_alone(loaded: LogAnalyticsEngine) -> None:
    assert messages(loaded.query_logs({"start_time": "2025-07-21T10:00:04Z"})) == BY_TIME[4:]


def test_end_time_alone(loaded: LogAnalyticsEngine) -> None:
    assert messages(loaded.query_logs({"end_time": "2025-07-21T10:00:01Z"})) == BY_TIME[:2]


@pytest.mark.parametrize("bound", [
    "2025-07-21T12:00:03+02:00",
    datetime(2025, 7, 21, 10, 0, 3, tzinfo=timezone.utc),
    datetime(2025, 7, 21, 5, 0, 3, tzinfo=timezone(timedelta(hours=-5))),
    1753092003,
    1753092003000,
    "21/Jul/2025:10:00:03 +0000",
])
def test_time_bounds_accept_iso_datetime_and_epoch(loaded: LogAnalyticsEngine,
                                                   bound: Any) -> None:
    assert messages(loaded.query_logs({"start_time": bound})) == BY_TIME[3:]


def test_level_filter_accepts_one_or_a_list_in_any_case(loaded: LogAnalyticsEngine) -> None:
    assert loaded.count_logs({"level": "info"}) == 2
    assert loaded.count_logs({"level": ["Error", "CRITICAL"]}) == 2


def test_level_aliases_filter_as_canonical(loaded: LogAnalyticsEngine) -> None:
    assert messages(loaded.query_logs({"level": "WARNING"})) == ["slow query on db"]
    assert messages(loaded.query_logs({"level": "FATAL"})) == ["Connection refused: db-01"]


@pytest.mark.parametrize(("threshold", "count"), [
    ("WARN", 3), ("warning", 3), ("error", 2), ("CRITICAL", 1), (0, 6), (25, 3), (30, 3),
    (50, 1), (51, 0), (-1, 6),
])
def test_min_severity_accepts_number_or_level_name(loaded: LogAnalyticsEngine,
                                                   threshold: Any, count: int) -> None:
    assert loaded.count_logs({"min_severity": threshold}) == count


def test_source_filter_one_or_a_list(loaded: LogAnalyticsEngine) -> None:
    assert loaded.count_logs({"source": "api"}) == 3
    assert loaded.count_logs({"source": ["db", "auth"]}) == 3


def test_tags_filter_matches_any_of(loaded: LogAnalyticsEngine) -> None:
    assert loaded.count_logs({"tags": ["us", "canary"]}) == 2
    assert loaded.count_logs({"tags": "prod"}) == 3


def test_tags_all_filter_matches_all_of(loaded: LogAnalyticsEngine) -> None:
    assert messages(loaded.query_logs({"tags_all": ["prod", "eu"]})) == ["user login ok"]


def test_keyword_needs_every_word_as_a_whole_word(loaded: LogAnalyticsEngine) -> None:
    assert messages(loaded.query_logs({"keyword": "DB Timeout"})) == ["db timeout after 30s"]
    assert loaded.count_logs({"keyword": "time"}) == 0
    assert loaded.count_logs({"keyword": "db"}) == 3  # "db", "db", "db-01"


def test_keywords_match_any_of_the_words(loaded: LogAnalyticsEngine) -> None:
    assert loaded.count_logs({"keywords": ["cache", "refused"]}) == 2
    assert loaded.count_logs({"keywords": "cache refused"}) == 2


def test_regex_searches_the_message(loaded: LogAnalyticsEngine) -> None:
    assert messages(loaded.query_logs({"regex": r"db-\d+$"})) == ["Connection refused: db-01"]


def test_other_keys_match_metadata_by_equality(loaded: LogAnalyticsEngine) -> None:
    assert loaded.count_logs({"user_id": "u1"}) == 2
    assert loaded.count_logs({"latency_ms": 800}) == 1


def test_other_keys_match_membership_when_a_list_is_given(loaded: LogAnalyticsEngine) -> None:
    assert loaded.count_logs({"user_id": ["u2", "u3"]}) == 2


def test_a_name_resolves_to_the_attribute_when_set_else_metadata() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(0, user_id="attr", metadata={"user_id": "meta"}),
                        LogEntry(1, metadata={"user_id": "meta"})])
    assert engine.count_logs({"user_id": "attr"}) == 1
    assert engine.count_logs({"user_id": "meta"}) == 1


def test_true_does_not_equal_one_in_filters() -> None:
    engine = LogAnalyticsEngine(index_fields=["flag"])
    engine.ingest_logs([LogEntry(0, metadata={"flag": True}), LogEntry(1, metadata={"flag": 1}),
                        LogEntry(2, metadata={"flag": 1.0})])
    assert engine.count_logs({"flag": True}) == 1
    assert engine.count_logs({"flag": 1}) == 2


def test_filters_combine_with_and(loaded: LogAnalyticsEngine) -> None:
    got = loaded.query_logs({"source": "api", "min_severity": "WARN", "keyword": "db"})
    assert messages(got) == ["db timeout after 30s", "slow query on db"]


def test_none_values_of_named_filters_are_ignored(loaded: LogAnalyticsEngine) -> None:
    assert loaded.count_logs({"level": None, "source": None, "start_time": None}) == 6


def test_filter_on_a_missing_field_with_none_matches_entries_without_it(
    loaded: LogAnalyticsEngine,
) -> None:
    assert loaded.count_logs({"latency_ms": None}) == 2


def test_no_filters_returns_everything(loaded: LogAnalyticsEngine) -> None:
    assert loaded.count_logs() == loaded.count_logs({}) == len(loaded.query_logs(None)) == 6


def test_node_trees_compose_with_operators(loaded: LogAnalyticsEngine) -> None:
    api = compile_filters({"source": "api"})
    errors = compile_filters({"min_severity": "ERROR"})
    assert loaded.count_logs(api | errors) == 4
    assert loaded.count_logs(api & ~errors) == 2
    assert loaded.count_logs(Not(api)) == 3


def test_count_logs_equals_length_of_query(loaded: LogAnalyticsEngine) -> None:
    for filters in ({"level": "INFO"}, {"keyword": "user"}, {"tags": "eu", "source": "auth"}):
        assert loaded.count_logs(filters) == len(loaded.query_logs(filters))


# -- pages and sorting ----------------------------------------------------------------------
@pytest.mark.parametrize(("page", "size", "want"), [
    (0, 2, BY_TIME[0:2]), (1, 2, BY_TIME[2:4]), (2, 4, []), (1, 5, BY_TIME[5:]),
])
def test_pages_count_from_zero(loaded: LogAnalyticsEngine, page: int, size: int,
                               want: list[str]) -> None:
    assert messages(loaded.query_logs({}, page=page, page_size=size)) == want


def test_original_api_first_page_call_works(loaded: LogAnalyticsEngine) -> None:
    """The original API's documented call: page=0 is the first page, page=1 the next."""
    first = loaded.query_logs({}, sort_by="timestamp", sort_desc=True, page=0, page_size=3)
    second = loaded.query_logs({}, sort_by="timestamp", sort_desc=True, page=1, page_size=3)
    assert messages(first) == BY_TIME[::-1][:3]
    assert messages(second) == BY_TIME[::-1][3:6]


@pytest.mark.parametrize("page", [-1, -5, 1.5, True, "0"])
def test_a_negative_or_non_integer_page_is_an_error(loaded: LogAnalyticsEngine,
                                                    page: Any) -> None:
    with pytest.raises(InvalidFilterError, match="page"):
        loaded.query_logs({}, page=page, page_size=2)


def test_page_size_alone_is_the_first_page(loaded: LogAnalyticsEngine) -> None:
    assert messages(loaded.query_logs(page_size=3)) == BY_TIME[:3]


def test_latest_page_in_descending_order() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, "ERROR" if i % 3 == 0 else "INFO", str(i))
                        for i in range(3000)])
    got = engine.query_logs({"level": "ERROR"}, sort_desc=True, page_size=5)
    assert messages(got) == ["2997", "2994", "2991", "2988", "2985"]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_bad_page_numbers_raise(loaded: LogAnalyticsEngine, bad: Any) -> None:
    with pytest.raises(InvalidFilterError):
        loaded.query_logs(page=bad, page_size=2)
    with pytest.raises(InvalidFilterError):
        loaded.query_logs(page=1, page_size=bad)


def test_a_page_size_of_zero_raises(loaded: LogAnalyticsEngine) -> None:
    with pytest.raises(InvalidFilterError, match="page_size"):
        loaded.query_logs(page=0, page_size=0)


def test_sort_by_a_metadata_field_puts_missing_last(loaded: LogAnalyticsEngine) -> None:
    got = loaded.query_logs(sort_by="latency_ms")
    assert [e.metadata.get("latency_ms") for e in got] == [5, 12, 800, 3000, None, None]


def test_sort_by_a_field_descending(loaded: LogAnalyticsEngine) -> None:
    got = loaded.query_logs(sort_by="latency_ms", sort_desc=True)
    assert [e.metadata.get("latency_ms") for e in got][:4] == [3000, 800, 12, 5]


def test_sort_by_level_orders_by_severity(loaded: LogAnalyticsEngine) -> None:
    got = loaded.query_logs(sort_by="level", sort_desc=True)
    assert [e.level for e in got] == ["FATAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG"]


# -- bad filters ----------------------------------------------------------------------------
@pytest.mark.parametrize("filters", [
    {"start_time": "yesterday"},
    {"end_time": "2025-13-40"},
    {"start_time": True},
    {"level": "LOUD"},
    {"level": ["ERROR", "nope"]},
    {"min_severity": "LOUD"},
    {"min_severity": float("nan")},
    {"regex": "(unclosed"},
    {"regex": 5},
    {"keyword": ""},
    {"keyword": 5},
    {"keyword": "--"},
    {"source": 5},
    {"tags": [1]},
    {"tags": []},
])
def test_wrong_filter_values_raise_a_value_error_naming_the_key(
    loaded: LogAnalyticsEngine, filters: dict[str, Any]
) -> None:
    (key,) = filters
    with pytest.raises(InvalidFilterError) as info:
        loaded.query_logs(filters)
    assert isinstance(info.value, ValueError)
    assert info.value.key == key
    with pytest.raises(ValueError, match=key):
        loaded.count_logs(filters)


def test_filters_must_be_a_mapping(loaded: LogAnalyticsEngine) -> None:
    with pytest.raises(InvalidFilterError):
        loaded.query_logs(["level", "ERROR"])  # type: ignore[arg-type]


def test_results_are_the_stored_entries_not_copies(loaded: LogAnalyticsEngine) -> None:
    first = loaded.query_logs({"level": "ERROR"})[0]
    assert any(first is e for e in loaded.all_logs)
