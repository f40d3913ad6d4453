"""Timestamps to UTC instants: every supported format, and clear errors for the rest."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from strategies import iso_z, timestamp_for, timestamps

from log_analytics_engine.errors import InvalidTimestampError
from log_analytics_engine.model.timeparse import (
    fast_instant,
    format_instant,
    parse_instant,
    to_datetime,
)

NOON = 1753099200.0  # 2025-07-21T12:00:00Z


@pytest.mark.parametrize("value", [
    "2025-07-21T12:00:00Z",
    "2025-07-21T12:00:00z",
    "2025-07-21T12:00:00+00:00",
    "2025-07-21T14:00:00+02:00",
    "2025-07-21T14:00:00+0200",
    "2025-07-21T07:00:00-05:00",
    "2025-07-21T12:00:00",
    "2025-07-21 12:00:00",
    "2025-07-21 12:00:00Z",
    "2025-07-21T12:00:00.000Z",
    "2025-07-21T12:00:00.000000+00:00",
    "21/Jul/2025:12:00:00 +0000",
    "21/Jul/2025:14:00:00 +0200",
    "21/Jul/2025:05:00:00 -0700",
    "1753099200",
    " 2025-07-21T12:00:00Z ",
    1753099200,
    1753099200.0,
    1753099200000,
    datetime(2025, 7, 21, 12, tzinfo=timezone.utc),
    datetime(2025, 7, 21, 14, tzinfo=timezone(timedelta(hours=2))),
    datetime(2025, 7, 21, 12),
])
def test_parse_instant_accepts_every_documented_format(value: Any) -> None:
    assert parse_instant(value) == NOON


def test_naive_iso_means_utc() -> None:
    assert parse_instant("2025-07-21T12:00:00") == parse_instant("2025-07-21T12:00:00Z")


def test_fractional_seconds_are_kept() -> None:
    assert parse_instant("2025-07-21T12:00:00.25Z") == NOON + 0.25
    assert parse_instant("2025-07-21 12:00:00,5") == NOON + 0.5


def test_nanosecond_fractions_keep_at_least_microseconds() -> None:
    assert parse_instant("2025-07-21T12:00:00.123456789Z") == pytest.approx(NOON + 0.123456,
                                                                            abs=1e-6)


def test_epoch_milliseconds_are_told_from_seconds() -> None:
    assert parse_instant(1753099200500) == NOON + 0.5
    assert parse_instant("1753099200500") == NOON + 0.5


@pytest.mark.parametrize("value", [
    "", "   ", "yesterday", "2025-13-01T00:00:00Z", "2025-02-30", "21/Foo/2025:12:00:00 +0000",
    "2025-07-21T25:00:00Z", float("nan"), float("inf"), True, None, [2025], {"t": 1}, 1e20,
])
def test_unparseable_timestamps_raise_a_value_error_naming_field_and_value(value: Any) -> None:
    with pytest.raises(InvalidTimestampError) as info:
        parse_instant(value)
    assert isinstance(info.value, ValueError)
    assert info.value.field == "timestamp"
    assert info.value.value == value or value != value  # NaN is not equal to itself
    assert "timestamp" in str(info.value)


def test_error_names_the_given_field() -> None:
    with pytest.raises(InvalidTimestampError, match="start_time"):
        parse_instant("never", "start_time")


@given(timestamps())
def test_every_generated_format_parses_to_its_instant(pair: tuple[Any, float]) -> None:
    raw, instant = pair
    assert parse_instant(raw) == instant


@given(timestamps())
def test_fast_instant_agrees_with_parse_instant(pair: tuple[Any, float]) -> None:
    raw, _ = pair
    assert fast_instant(raw) == parse_instant(raw)


@given(timestamps())
def test_format_instant_round_trips(pair: tuple[Any, float]) -> None:
    _, instant = pair
    assert parse_instant(format_instant(instant)) == instant


@given(timestamps())
def test_to_datetime_is_utc_and_exact(pair: tuple[Any, float]) -> None:
    _, instant = pair
    dt = to_datetime(instant)
    assert dt.tzinfo is not None
    assert dt.utcoffset() == timedelta(0)
    assert dt.timestamp() == instant


def test_offset_forms_of_one_instant_are_equal() -> None:
    from hypothesis import strategies as st

    @given(st.data())
    def check(data: st.DataObject) -> None:
        a, ia = data.draw(timestamp_for(NOON + 0.5))
        b, ib = data.draw(timestamp_for(NOON + 0.5))
        if ia == ib:
            assert parse_instant(a) == parse_instant(b)

    check()


def test_iso_z_helper_matches_format_instant() -> None:
    assert iso_z(NOON + 0.25) == "2025-07-21T12:00:00.250Z"
    assert format_instant(NOON + 0.25) == "2025-07-21T12:00:00.25Z"


@pytest.mark.parametrize("value", ["2025-07-21t12:00:00z", "2025-07-21t12:00z"])
def test_lower_case_t_separator_is_accepted(value: str) -> None:
    assert parse_instant(value) == NOON
