"""A filter on a field no stored entry has had warns (a typo), with the closest names."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention, UnknownFieldWarning
from log_analytics_engine.query.fields import field_names
from log_analytics_engine.query.language import parse_query


@pytest.fixture
def engine() -> LogAnalyticsEngine:
    eng = LogAnalyticsEngine()
    meta = {"region": "eu", "latency_ms": 5}
    eng.ingest_logs([LogEntry(i, "ERROR", "db timeout", "api", metadata=meta)
                     for i in range(5)])
    return eng


def test_a_typo_in_a_filter_key_warns_with_the_closest_name(engine: LogAnalyticsEngine) -> None:
    with pytest.warns(UnknownFieldWarning) as caught:
        assert engine.query_logs({"levle": "ERROR"}) == []
    assert str(caught[0].message) == "no entry has field 'levle'; did you mean 'level'?"
    assert caught[0].message.field == "levle"  # type: ignore[union-attr]
    assert caught[0].filename == __file__  # points at the caller's line


def test_an_unknown_field_in_the_query_language_warns(engine: LogAnalyticsEngine) -> None:
    with pytest.warns(UnknownFieldWarning, match=r"^no entry has field 'nosuchfield'$"):
        assert engine.search("nosuchfield:1") == []
    with pytest.warns(UnknownFieldWarning, match="did you mean 'region'"):
        assert engine.count_logs(parse_query("regoin:eu")) == 0


def test_known_names_do_not_warn(engine: LogAnalyticsEngine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert engine.count_logs({"region": "eu", "level": "ERROR"}) == 5
        assert engine.count_logs({"user_id": "u1", "keyword": "db"}) == 0
        assert engine.search("latency_ms:>3 OR region:eu") != []


def test_a_key_first_seen_after_a_query_is_known_at_the_next(engine: LogAnalyticsEngine) -> None:
    with pytest.warns(UnknownFieldWarning):
        engine.count_logs({"zone": "a"})
    engine.ingest_log(LogEntry(9, "INFO", "x", metadata={"zone": "a"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert engine.count_logs({"zone": "a"}) == 1


def test_a_warning_turned_into_an_error_leaves_the_engine_usable(
    engine: LogAnalyticsEngine,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownFieldWarning)
        with pytest.raises(UnknownFieldWarning):
            engine.query_logs({"levle": "ERROR"})
    assert engine.count_logs({"level": "ERROR"}) == 5  # the lock was released


def test_unknown_fields_reports_without_warning(engine: LogAnalyticsEngine) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = engine.unknown_fields({"levle": "x", "region": "eu", "sorce": "api"})
    assert [w.field for w in found] == ["levle", "sorce"]
    assert found[1].suggestions[0] == "source"


def test_field_names_walks_the_whole_tree() -> None:
    node = parse_query("a:1 (b:x OR -c:>3) d:y")
    assert list(field_names(node)) == ["a", "a", "b", "c", "d"]


@settings(max_examples=50, deadline=None)
@given(batches=st.lists(st.lists(st.dictionaries(st.sampled_from("abcdef"), st.integers(),
                                                 max_size=3), max_size=8), max_size=5),
       keep=st.integers(0, 20))
def test_metadata_keys_are_every_key_seen(batches: list[list[dict[str, int]]], keep: int) -> None:
    """Collected lazily between batches, the keys hold every key of a live entry and only
    keys some ingested entry had (an entry evicted before a call may go unseen)."""
    engine = LogAnalyticsEngine(retention=Retention(max_entries=max(keep, 1)))
    seen: set[str] = set()
    for batch in batches:
        engine.ingest_logs([LogEntry(0, metadata=m) for m in batch])
        for m in batch:
            seen |= set(m)
        live = {k for e in engine.all_logs for k in e.metadata}
        keys = engine._store.metadata_keys()
        assert live <= keys <= seen
