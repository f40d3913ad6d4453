"""Hierarchical sources: ``source:shop.*`` / ``{"source_prefix": "shop"}`` reach ``shop`` and
every logger below it, from the source index, exactly as a scan with ``match`` would."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import InvalidFilterError, LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine.index.postings import InvertedIndex
from log_analytics_engine.query.filters import compile_filters
from log_analytics_engine.query.language import parse_query
from log_analytics_engine.query.nodes import SourceTree, execute

_PARTS = st.sampled_from(["shop", "api", "db", "shopping", "a", "a.b", ""])
_SOURCES = st.lists(_PARTS, min_size=1, max_size=3).map(".".join)


def test_a_prefix_reaches_the_logger_and_its_children_not_a_longer_name() -> None:
    engine = LogAnalyticsEngine()
    names = ["shop", "shop.api", "shop.api.v2", "shopping", "auth", "shop.db", ""]
    engine.ingest_logs([LogEntry(i, "INFO", "m", s) for i, s in enumerate(names)])
    want = ["shop", "shop.api", "shop.api.v2", "shop.db"]
    assert [e.source for e in engine.search("source:shop.*")] == want
    assert [e.source for e in engine.query_logs({"source_prefix": "shop"})] == want
    assert [e.source for e in engine.query_logs({"source_prefix": "shop.*"})] == want
    assert [e.source for e in engine.search("source:shop.api.*")] == ["shop.api", "shop.api.v2"]
    assert [e.source for e in engine.search("source:shop")] == ["shop"]  # exact, as before


@pytest.mark.parametrize("bad", ["", ".", ".*", 3])
def test_an_empty_or_non_text_prefix_is_an_error(bad: object) -> None:
    with pytest.raises(InvalidFilterError, match="source_prefix"):
        compile_filters({"source_prefix": bad})


@settings(max_examples=150, deadline=None)
@given(sources=st.lists(_SOURCES, max_size=40),
       name=_SOURCES.map(lambda s: s.rstrip(".")).filter(bool),
       keep=st.integers(1, 40), cand=st.booleans())
def test_index_answer_equals_match_scan(sources: list[str], name: str, keep: int,
                                        cand: bool) -> None:
    """evaluate (sorted source terms) == match (one entry at a time), after evictions too."""
    engine = LogAnalyticsEngine(retention=Retention(max_entries=keep))
    half = len(sources) // 2
    engine.ingest_logs([LogEntry(i, "INFO" if i % 2 else "ERROR", "m", s)
                        for i, s in enumerate(sources[:half])])
    engine.query_logs({"source_prefix": name})  # builds the sorted terms before more arrive
    engine.ingest_logs([LogEntry(i, "INFO" if i % 2 else "ERROR", "m", s)
                        for i, s in enumerate(sources[half:], half)])
    node = SourceTree(name)
    if cand:
        node = node & compile_filters({"level": "ERROR"})
    with engine._lock:
        got = sorted(execute(node, engine._ctx))
        store = engine._store
        want = [store.base + k for k, e in enumerate(store.entries) if node.match(e)]
    assert got == want
    assert node == parse_query(f"source:{name}.*" + (" level:ERROR" if cand else ""))
    engine._check()


def test_with_prefix_sees_terms_added_and_dropped_after_it_was_built() -> None:
    idx = InvertedIndex()
    idx.add_batch({"shop.api": [0]})
    assert idx.with_prefix("shop.") == ["shop.api"]
    idx.add_batch({"shop.db": [1], "shop.api": [2]})
    assert idx.with_prefix("shop.") == ["shop.api", "shop.db"]
    idx.remove_below(2)
    assert idx.with_prefix("shop.") == ["shop.api"]
