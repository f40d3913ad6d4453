"""Parsing ``/api/logs`` query strings into filters (pure functions, no server)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("fastapi")

from log_analytics_engine.dashboard.params import (
    DEFAULT_PAGE_SIZE,
    FILTER_PARAMS,
    MAX_PAGE_SIZE,
    parse_log_query,
)
from log_analytics_engine.errors import InvalidFilterError

KNOWN = FILTER_PARAMS | {"q", "page", "page_size", "sort_by", "order", "token"}
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=12)


@given(name=names.filter(lambda n: n not in KNOWN and not n.startswith("field.")))
def test_any_unknown_parameter_is_refused_by_name(name: str) -> None:
    with pytest.raises(InvalidFilterError) as info:
        parse_log_query([(name, "x")])
    assert info.value.key == name


@given(size=st.integers(1, MAX_PAGE_SIZE))
def test_every_page_size_up_to_the_cap_is_accepted(size: int) -> None:
    assert parse_log_query([("page_size", str(size))]).page_size == size


@given(size=st.integers(MAX_PAGE_SIZE + 1, 10**12))
def test_every_page_size_above_the_cap_is_refused(size: int) -> None:
    with pytest.raises(InvalidFilterError):
        parse_log_query([("page_size", str(size))])


def test_defaults() -> None:
    query = parse_log_query([])
    assert (query.filters, query.q, query.page, query.page_size, query.descending) == (
        {}, None, 1, DEFAULT_PAGE_SIZE, True)


def test_repeated_list_parameter_collects_values() -> None:
    assert parse_log_query([("tag", "a"), ("tag", "b")]).filters == {"tag": ["a", "b"]}


def test_field_prefix_matches_a_metadata_field_as_text_or_number() -> None:
    assert parse_log_query([("field.status", "500")]).filters == {"status": ["500", 500]}


def test_field_prefix_keeps_text_values_as_text() -> None:
    assert parse_log_query([("field.region", "eu")]).filters == {"region": ["eu"]}


def test_epoch_time_parameter_becomes_a_number() -> None:
    assert parse_log_query([("start_time", "1753000000.5")]).filters == {
        "start_time": 1753000000.5}


def test_blank_q_is_no_query() -> None:
    assert parse_log_query([("q", "   ")]).q is None


def test_repeated_single_filter_is_refused() -> None:
    with pytest.raises(InvalidFilterError, match="more than once"):
        parse_log_query([("min_severity", "WARN"), ("min_severity", "ERROR")])
