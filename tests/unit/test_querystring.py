"""The query language: same tree as filter dicts, same results as a naive scan, good errors."""

from __future__ import annotations

import functools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import fingerprint

from log_analytics_engine import InvalidFilterError, LogAnalyticsEngine, LogEntry
from log_analytics_engine.errors import QuerySyntaxError
from log_analytics_engine.model.timeparse import format_instant
from log_analytics_engine.query.filters import compile_filters
from log_analytics_engine.query.language import parse_query, query_text
from log_analytics_engine.query.nodes import And, Compare, MatchAll, Not, Or, Phrase, TimeRange

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SOURCES = ("api", "db", "web", "auth")
TAGS = ("prod", "debug", "eu", "retry")
WORDS = ("connection", "refused", "timeout", "user", "login", "failed", "disk", "full")
T0 = 1_753_092_000.0  # 2025-07-21T10:00:00Z


@functools.cache
def corpus() -> tuple[LogAnalyticsEngine, tuple[LogEntry, ...]]:
    """A small engine where every generated term matches something (built once)."""
    rng = random.Random(7)
    entries = []
    for _ in range(400):
        meta: dict[str, Any] = {"latency_ms": round(rng.uniform(0, 600), 1)}
        if rng.random() < 0.3:
            meta["status"] = rng.choice((200, 404, 500, "500"))
        entries.append(LogEntry(
            T0 + rng.uniform(-3600, 7200), rng.choice(LEVELS),
            " ".join(rng.choices(WORDS, k=rng.randint(2, 6))), source=rng.choice(SOURCES),
            tags=rng.sample(TAGS, rng.randint(0, 2)), metadata=meta))
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    return engine, tuple(entries)


def naive(node: Any) -> list[int]:
    """Python ids of matching entries in time order (ties in ingestion order)."""
    _, entries = corpus()
    hits = [(e.ts, i, e) for i, e in enumerate(entries) if node.match(e)]
    return [fingerprint(e) for _, _, e in sorted(hits, key=lambda h: (h[0], h[1]))]


# -- query strings built from random terms ------------------------------------------------
def _iso(offset: float) -> str:
    return format_instant(T0 + offset)


TERMS = st.one_of(
    st.sampled_from(LEVELS).map(lambda v: f"level:{v}"),
    st.sampled_from(LEVELS).map(lambda v: f"level:{v.lower()}"),
    st.sampled_from(SOURCES).map(lambda v: f"source:{v}"),
    st.sampled_from(TAGS).map(lambda v: f"tag:{v}"),
    st.sampled_from(WORDS),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(lambda w: '"' + " ".join(w) + '"'),
    st.tuples(st.sampled_from((">", ">=", "<", "<=")), st.integers(0, 600)).map(
        lambda t: f"latency_ms:{t[0]}{t[1]}"),
    st.sampled_from((200, 404, 500)).map(lambda v: f"status:{v}"),
    st.tuples(st.sampled_from(("after", "before")), st.integers(-3600, 7200)).map(
        lambda t: f"{t[0]}:{_iso(t[1])}"),
    st.lists(st.sampled_from(LEVELS), min_size=1, max_size=3).map(
        lambda v: "level:(" + " OR ".join(v) + ")"),
    st.tuples(st.sampled_from(SOURCES), st.sampled_from(SOURCES)).map(
        lambda t: f"source:({t[0]} OR -{t[1]})"),
)


def _expr(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from((" ", " AND ", " OR ")), children).map("".join),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"-({c})"),
        children.map(lambda c: f"NOT ({c})"),
    )


QUERIES = st.recursive(TERMS, _expr, max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(QUERIES)
def test_search_equals_naive_scan_of_node_match(q: str) -> None:
    engine, _ = corpus()
    node = parse_query(q)
    assert [fingerprint(e) for e in engine.search(q)] == naive(node)


@settings(max_examples=100, deadline=None)
@given(
    level=st.none() | st.sampled_from(LEVELS),
    source=st.none() | st.sampled_from(SOURCES),
    tag=st.none() | st.sampled_from(TAGS),
    word=st.none() | st.sampled_from(WORDS),
    lo=st.none() | st.integers(-3600, 7200),
    hi=st.none() | st.integers(-3600, 7200),
)
def test_query_string_and_filter_dict_give_identical_results(
    level: str | None, source: str | None, tag: str | None, word: str | None,
    lo: int | None, hi: int | None,
) -> None:
    engine, _ = corpus()
    filters: dict[str, Any] = {}
    parts = []
    for key, value, text in (("level", level, f"level:{level}"),
                             ("source", source, f"source:{source}"),
                             ("tag", tag, f"tag:{tag}"), ("keyword", word, f"{word}"),
                             ("start_time", lo, f"after:{_iso(lo or 0)}"),
                             ("end_time", hi, f"before:{_iso(hi or 0)}")):
        if value is not None:
            filters[key] = _iso(value) if key.endswith("_time") else value
            parts.append(text)
    q = " ".join(parts)
    assert parse_query(q) == compile_filters(filters)
    assert engine.search(q) == engine.query_logs(filters)


@settings(max_examples=100, deadline=None)
@given(QUERIES)
def test_unclosed_parenthesis_error_names_the_column_at_the_end(q: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("(" + q)
    assert info.value.column == len(q) + 2
    assert "')'" in info.value.expected


@settings(max_examples=100, deadline=None)
@given(QUERIES)
def test_stray_closing_parenthesis_error_names_its_column(q: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(q + " )")
    assert info.value.column == len(q) + 2
    assert info.value.found == "')'"


# -- single terms compile exactly like their filter dicts --------------------------------
@pytest.mark.parametrize(("q", "filters"), [
    ("level:ERROR", {"level": "ERROR"}),
    ("level:warning", {"level": "WARN"}),
    ("source:api", {"source": "api"}),
    ('source:"my api"', {"source": "my api"}),
    ("tag:x", {"tag": "x"}),
    ("tags:x", {"tag": "x"}),
    ("timeout", {"keyword": "timeout"}),
    ("db-01", {"keyword": "db-01"}),
    ("min_severity:WARN", {"min_severity": "WARN"}),
    ("after:2025-07-21T10:00", {"start_time": "2025-07-21T10:00"}),
    ("before:2025-07-21T11:00", {"end_time": "2025-07-21T11:00"}),
    ("user_id:u1", {"user_id": "u1"}),
    ("status:500", {"status": [500, "500"]}),
    ('status:"500"', {"status": "500"}),
    ("level:ERROR source:api", {"level": "ERROR", "source": "api"}),
])
def test_field_term_compiles_like_filter_dict(q: str, filters: dict[str, Any]) -> None:
    assert parse_query(q) == compile_filters(filters)


def test_field_group_applies_the_field_to_every_word_inside() -> None:
    assert parse_query("level:(ERROR OR warning)") == Or(
        (compile_filters({"level": "ERROR"}), compile_filters({"level": "WARN"})))
    assert parse_query('source:("my api" -web)') == And(
        (compile_filters({"source": "my api"}), Not(compile_filters({"source": "web"}))))


def test_field_group_of_comparisons_is_a_range() -> None:
    assert parse_query("latency_ms:(>100 AND <=200)") == And(
        (Compare("latency_ms", ">", 100.0), Compare("latency_ms", "<=", 200.0)))


def test_unclosed_field_group_names_its_opening_column() -> None:
    with pytest.raises(QuerySyntaxError, match="column 13: expected '\\)' to close the '\\(' "
                       "at column 7"):
        parse_query("level:(ERROR")


def test_time_bounds_merge_into_one_inclusive_range() -> None:
    node = parse_query("after:2025-07-21T10:00 before:2025-07-21T11:00")
    assert node == TimeRange(T0, T0 + 3600)
    assert node.match(LogEntry(T0, "INFO"))
    assert node.match(LogEntry(T0 + 3600, "INFO"))


def test_quoted_phrase_is_a_phrase_node() -> None:
    assert parse_query('"Connection  refused"') == Phrase(("connection", "refused"))


def test_comparison_compiles_to_compare() -> None:
    assert parse_query("latency_ms:>=250.5") == Compare("latency_ms", ">=", 250.5)


def test_minus_and_not_both_negate() -> None:
    assert parse_query("-tag:debug") == parse_query("NOT tag:debug") == Not(
        compile_filters({"tag": "debug"}))


def test_and_binds_tighter_than_or() -> None:
    a, b, c = (compile_filters({"keyword": w}) for w in ("a", "b", "c"))
    assert parse_query("a OR b c") == Or((a, And((b, c))))
    assert parse_query("(a OR b) AND c") == And((Or((a, b)), c))


def test_lowercase_operators_are_words() -> None:
    words = tuple(compile_filters({"keyword": w}) for w in ("a", "or", "b"))
    assert parse_query("a or b") == And(words)


def test_empty_query_matches_everything() -> None:
    assert parse_query("   ") == MatchAll()


def test_search_passes_sort_and_pages_to_query_logs() -> None:
    engine, _ = corpus()
    got = engine.search("level:ERROR", sort_desc=True, page=2, page_size=5)
    assert got == engine.query_logs({"level": "ERROR"}, sort_desc=True, page=2, page_size=5)


# -- syntax errors ------------------------------------------------------------------------
@pytest.mark.parametrize(("q", "column", "expected"), [
    ("level:", 7, "a value after 'level:'"),
    ("a OR", 5, "a term"),
    ('x "abc', 3, "a closing '\"'"),
    ("latency_ms:>fast", 13, "a number"),
    ("level:LOUD", 7, "a level"),
    ("after:yesterday", 7, "a time"),
    ("a - b", 4, "a term right after '-'"),
    ("()", 2, "a term"),
    ("!!!", 1, "a word"),
])
def test_syntax_error_names_column_and_expectation(q: str, column: int, expected: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(q)
    assert info.value.column == column
    assert info.value.expected.startswith(expected)
    assert f"column {column}" in str(info.value)


def test_too_deep_nesting_is_a_syntax_error_not_a_recursion_error() -> None:
    with pytest.raises(QuerySyntaxError, match="nested") as info:
        parse_query("(" * 1000 + "a" + ")" * 1000)
    assert info.value.column == 65


def test_chain_of_negations_cancels_in_pairs() -> None:
    a = compile_filters({"keyword": "a"})
    assert parse_query("NOT " * 2000 + "a") == a
    assert parse_query("-NOT " * 1000 + "-a") == Not(a)


def test_syntax_error_is_an_invalid_filter_error_and_a_value_error() -> None:
    with pytest.raises(InvalidFilterError):
        parse_query("(")
    with pytest.raises(ValueError):
        LogAnalyticsEngine().search("level:")


QUERY_CHARS = st.sampled_from(list('ab:()"-\\ <>=.19OR ANDNOT\t@_xé'))


@settings(max_examples=300, deadline=None)
@given(st.text(QUERY_CHARS, max_size=30) | st.text(max_size=30))
def test_any_text_parses_or_raises_a_syntax_error_with_a_column_inside_it(q: str) -> None:
    column = None
    try:
        parse_query(q)
    except QuerySyntaxError as exc:
        column = exc.column
    assert column is None or 1 <= column <= len(q) + 1


_TERMS = ["level:ERROR", "source:api", "tag:debug", "timeout", '"connection refused"',
          "latency_ms:>250", "after:2025-07-21T10:00:00Z", "user_id:u7", "db.host:x-1"]


@st.composite
def query_strings(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 2 or draw(st.booleans()):
        return draw(st.sampled_from(_TERMS))
    left, right = draw(query_strings(depth + 1)), draw(query_strings(depth + 1))
    op = draw(st.sampled_from([" ", " OR ", " AND "]))
    text = f"({left}{op}{right})"
    return "-" + text if draw(st.booleans()) else text


@settings(max_examples=200)
@given(q=query_strings())
def test_query_text_reads_back_as_the_same_tree(q: str) -> None:
    """``query_text`` (the dashboard's readable form of a filter) is query language that
    compiles to the tree it was made from."""
    node = parse_query(q)
    assert parse_query(query_text(node)) == node


def test_query_text_of_a_filter_dict_is_readable() -> None:
    node = compile_filters({"level": ["WARN", "ERROR"], "source": "db"})
    assert query_text(node) == "(level:WARN OR level:ERROR) source:db"
    assert query_text(compile_filters({"keyword": "db timeout"})) == "db timeout"
