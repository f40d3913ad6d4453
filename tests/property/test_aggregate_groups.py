"""Grouping by any metadata value the engine accepts: never an error, and each entry counted
once per group key it yields (each element of a list, every other value once)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from log_analytics_engine import LogAnalyticsEngine, LogEntry

scalars = st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False) \
    | st.text(max_size=3)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=2), inner, max_size=2), max_leaves=6)


def _keys(value: Any) -> list[Any]:
    items = (value or [None]) if isinstance(value, list) else [value]
    return [repr(v) if isinstance(v, (list, dict)) else v for v in items]


@given(st.lists(st.one_of(st.just(None), values), max_size=25),
       st.sampled_from([None, "1h"]), st.booleans())
def test_group_by_any_metadata_value_counts_like_a_scan(
    xs: list[Any], interval: str | None, with_level: bool,
) -> None:
    entries = [LogEntry(float(i * 600), "INFO" if i % 2 else "ERROR", "m",
                        metadata={} if x is None else {"x": x}) for i, x in enumerate(xs)]
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    group_by = ["x", "level"] if with_level else "x"
    result = engine.aggregate(group_by=group_by, interval=interval)
    expected: Counter[Any] = Counter()
    for e in engine.query_logs({}):
        for k in _keys(e.metadata.get("x")):
            expected[k] += 1
    got: Counter[Any] = Counter()
    for key, metrics in result.items():
        parts = key if isinstance(key, tuple) else (key,)
        if interval is not None:
            parts = parts[1:]
        got[parts[0]] += metrics["count"]
    assert got == expected
