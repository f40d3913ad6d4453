"""The hot-path shortcuts give exactly the answers of the plain implementations."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import json_records

from log_analytics_engine.errors import InvalidEntryError
from log_analytics_engine.index.store import Store
from log_analytics_engine.model.entry import LogEntry, entry_from_json
from log_analytics_engine.model.timeparse import fast_instant, parse_instant
from log_analytics_engine.model.tokenize import TokenCache, tokenize, tokenize_many, words

_REGEX = re.compile(r"\w+")
_TEXT = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 _-:./,\t\n") + list("éÉßİıΣς日本_٣²½Ⅻ\u00a0\u2003")),
    max_size=40,
)


@given(_TEXT)
def test_words_equal_the_regular_expression(text: str) -> None:
    assert words(text) == _REGEX.findall(text.casefold())


@given(st.lists(_TEXT, max_size=5))
def test_tokenize_many_equals_words_per_text(texts: list[str]) -> None:
    assert tokenize_many(texts) == [_REGEX.findall(t.casefold()) for t in texts]


@given(_TEXT)
def test_tokenize_is_the_set_of_words(text: str) -> None:
    assert tokenize(text) == frozenset(_REGEX.findall(text.casefold()))


_INSTANTS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)
)


@given(_INSTANTS, st.sampled_from(["Z", "+00:00", "+05:30", "-08:00", ""]),
       st.sampled_from(["T", " "]), st.sampled_from([0, 3, 6]))
def test_fast_instant_equals_parse_instant(
    dt: datetime, tz: str, sep: str, digits: int
) -> None:
    text = dt.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if digits:
        text += "." + f"{dt.microsecond:06d}"[:digits]
    text += tz
    assert fast_instant(text) == pytest.approx(parse_instant(text), abs=1e-6)


def test_fast_instant_reads_digit_strings_as_epoch_seconds() -> None:
    assert fast_instant("1753099200") == 1753099200.0
    assert fast_instant("20250721") == 20250721.0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_records())
def test_entry_from_json_equals_from_dict(record: dict[str, Any]) -> None:
    try:
        expected = LogEntry.from_dict(dict(record))
    except InvalidEntryError as exc:
        with pytest.raises(type(exc)):
            entry_from_json(dict(record))
        return
    got = entry_from_json(dict(record))
    assert got.to_dict() == expected.to_dict()
    assert got.ts == expected.ts


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.integers(0, 30), max_size=40), max_size=6))
def test_time_index_keeps_time_then_ingestion_order(batches: list[list[int]]) -> None:
    store = Store()
    expected: list[tuple[float, int]] = []
    for batch in batches:
        first = store.append([LogEntry(t, "INFO", "m") for t in batch])
        expected += [(float(t), first + k) for k, t in enumerate(batch)]
    store._check()
    assert list(store.time_index) == [i for _, i in sorted(expected)]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.sampled_from(["a b", "C-d", "é_f", "x", "", "a b c"]),
                         max_size=80), max_size=8))
def test_token_cache_equals_tokenize_many(batches: list[list[str]]) -> None:
    cache = TokenCache(max_size=8, min_hit_rate=0.5)
    for texts in batches:
        assert cache.tokenize_many(texts) == tokenize_many(texts)
        assert len(cache._cache) <= max(8, 64)


def test_token_cache_turns_off_for_unique_messages_and_back_on() -> None:
    cache = TokenCache(min_hit_rate=0.5)
    cache.tokenize_many([f"unique {i}" for i in range(100)])
    assert not cache._enabled
    repeated = ["same message"] * 100
    cache.tokenize_many(repeated)  # probe: the sample is remembered
    cache.tokenize_many(repeated)
    assert cache._enabled


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.lists(st.tuples(st.floats(-50, 3000), st.floats(0, 400)),
                                       min_size=1, max_size=6))
def test_time_range_over_zone_maps_equals_a_scan(seed: int, ranges: list[tuple[float, float]]
                                                 ) -> None:
    import random

    from pyroaring import BitMap

    rnd = random.Random(seed)
    store = Store()
    t = 0.0
    for _ in range(rnd.randint(1, 4)):  # batches spanning several 1,024-id blocks
        batch = []
        for _ in range(rnd.randint(1, 2500)):
            t += rnd.random()
            late = rnd.random() < 0.05
            batch.append(LogEntry(t - (rnd.uniform(0, 300) if late else 0), "INFO", "m"))
        store.append(batch)
    if rnd.random() < 0.5:
        store.evict_before(rnd.randint(0, store.next_id))
    store._check()
    candidates = BitMap(i for i in store.live if rnd.random() < 0.3)
    for lo, width in ranges:
        hi = lo + width
        naive = {i for i in store.live if lo <= store.instant(i) <= hi}
        assert set(store.ids_in_time_range(lo, hi, None)) == naive
        assert naive <= set(store.block_span(lo, hi)) <= set(store.live)
        assert set(candidates & store.ids_in_time_range(lo, hi, candidates)) == naive & set(
            candidates)
