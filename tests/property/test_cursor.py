"""Cursor pagination: pages concatenate to the full query and stay exact while entries arrive."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import fingerprint

from log_analytics_engine import InvalidFilterError, LogAnalyticsEngine, LogEntry
from log_analytics_engine.query.pages import Page


def make_engine(n: int, seed: int, ties: bool = False) -> LogAnalyticsEngine:
    rng = random.Random(seed)
    engine = LogAnalyticsEngine()
    engine.ingest_logs(
        LogEntry(float(rng.randint(0, 20)) if ties else rng.uniform(0, 1000),
                 rng.choice(("INFO", "ERROR")), f"m{i}", source=rng.choice(("a", "b")))
        for i in range(n))
    return engine


def walk(engine: LogAnalyticsEngine, filters: object, size: int, desc: bool) -> list[LogEntry]:
    out: list[LogEntry] = []
    page = engine.query_page(filters, size, sort_desc=desc)  # type: ignore[arg-type]
    out += page.entries
    while page.has_more:
        page = engine.query_page(filters, size, page.next_cursor, desc)  # type: ignore[arg-type]
        assert page.entries
        out += page.entries
    return out


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 300), size=st.integers(1, 50), seed=st.integers(0, 10**6),
       desc=st.booleans(), ties=st.booleans(),
       filters=st.sampled_from([None, {"level": "ERROR"}, {"source": "a"}, "source:b m1"]))
def test_pages_concatenated_equal_the_full_query(
    n: int, size: int, seed: int, desc: bool, ties: bool, filters: object
) -> None:
    engine = make_engine(n, seed, ties)
    full = (engine.search(filters, sort_desc=desc) if isinstance(filters, str)
            else engine.query_logs(filters, sort_desc=desc))  # type: ignore[arg-type]
    assert walk(engine, filters, size, desc) == full


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.integers(3, 20), desc=st.booleans())
def test_walk_stays_exact_while_entries_arrive(seed: int, size: int, desc: bool) -> None:
    rng = random.Random(seed)
    engine = make_engine(100, seed, ties=True)
    seen: list[LogEntry] = []
    page = engine.query_page(None, size, sort_desc=desc)
    while True:
        seen += page.entries
        # new entries at random instants, some equal to the cursor's instant
        engine.ingest_logs(LogEntry(float(rng.randint(0, 20)), "INFO", "new",
                                    metadata={"n": len(seen) * 3 + k}) for k in range(3))
        if not page.has_more:
            break
        page = engine.query_page(None, size, page.next_cursor, desc)
    assert len(set(map(fingerprint, seen))) == len(seen), "an entry was returned twice"
    keys = [(e.ts, i) for i, e in enumerate(seen)]
    ordered = sorted(keys, key=lambda k: k[0], reverse=desc)
    assert [k[0] for k in keys] == [k[0] for k in ordered], "pages out of time order"
    originals = [e for e in engine.query_logs(sort_desc=desc) if e.message != "new"]
    assert [e for e in seen if e.message != "new"] == originals, "an original entry was skipped"


def test_entry_arriving_after_the_cursor_key_appears_on_the_next_page() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(1, "INFO", "a"), LogEntry(2, "INFO", "b")])
    page = engine.query_page(None, 2)
    assert not page.has_more
    engine.ingest_logs([LogEntry(2, "INFO", "same instant"), LogEntry(0, "INFO", "late")])
    nxt = engine.query_page(None, 2, page.next_cursor)
    assert [e.message for e in nxt.entries] == ["same instant"]


def test_empty_result_gives_no_cursor() -> None:
    page = LogAnalyticsEngine().query_page({"level": "ERROR"}, 10)
    assert page == Page([], None, False)


def test_cursor_is_opaque_url_safe_text() -> None:
    engine = make_engine(10, 1)
    cursor = engine.query_page(None, 3).next_cursor
    assert cursor is not None
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cursor_for_another_query_is_rejected() -> None:
    engine = make_engine(10, 1)
    cursor = engine.query_page({"source": "a"}, 3).next_cursor
    with pytest.raises(InvalidFilterError, match="different query"):
        engine.query_page({"source": "b"}, 3, cursor)


def test_cursor_for_the_other_direction_is_rejected() -> None:
    engine = make_engine(10, 1)
    cursor = engine.query_page(None, 3).next_cursor
    with pytest.raises(InvalidFilterError, match="sort order"):
        engine.query_page(None, 3, cursor, sort_desc=True)


@pytest.mark.parametrize("cursor", ["", "not a cursor!", "AAAA"])
def test_malformed_cursor_is_rejected(cursor: str) -> None:
    with pytest.raises(InvalidFilterError, match="cursor"):
        make_engine(5, 1).query_page(None, 2, cursor)


@pytest.mark.parametrize("size", [0, -1])
def test_page_size_must_be_positive(size: int) -> None:
    with pytest.raises(InvalidFilterError):
        LogAnalyticsEngine().query_page(None, size)
