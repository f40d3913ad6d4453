"""Aggregations over numeric columns equal aggregations over the entries (the specification).

``engine.aggregate`` reads numeric metrics of metadata fields from the column cache; the
reference is the same call with the columns switched off, so every metric is computed from
the group's entries by ``query.numbers.entry_metrics`` (the code aggregations ran before the
columns). Values mix ints, floats, bools, text, ``None``, missing keys, NaN and infinities
(normalised to text), signed zeros and ints beyond 2**53; filters, group-bys, intervals,
batches, eviction and interleaved queries are random. Results must be equal exactly: the
same keys in the same order, the same types, the same float bits.
"""

from __future__ import annotations

import enum
import math
import random
import struct
from contextlib import contextmanager
from typing import Any
from unittest import mock

from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.query import aggregate as aggregate_module
from log_analytics_engine.storage.retention import Retention

BASE = 1_735_689_600.0


class Code(enum.IntEnum):
    A = 4


class Ms(float):
    pass


#: Values that make ties of different types (0, 0.0, -0.0; 1, 1.0), ints a float64 cannot
#: hold, and what does not count (bools, text, lists, NaN and infinities once normalised).
_CURATED = (0, 0.0, -0.0, 1, 1.0, -1, 2.5, 2**53, 2**53 + 1, -(2**53) - 1, 2**63, 2**64 - 1,
            10**30, 1e308, -1e308, 5e-324, math.nan, math.inf, True, False, None, "3", [1, 1])
_values = st.one_of(
    st.sampled_from(_CURATED),
    st.sampled_from(_CURATED),
    st.integers(-3, 9),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(Code.A),
    st.builds(Ms, st.floats(-5, 5)),
)
MISSING = object()


#: Few distinct values, so equal values of different types meet at the min and the max.
_ties = st.sampled_from((0, 0.0, -0.0, 1, 1.0, 2, 2.0, "2", None))


@st.composite
def entries(draw: st.DrawFn, values: st.SearchStrategy[Any] = _values) -> LogEntry:
    meta: dict[str, Any] = {}
    for key in ("x", "y"):
        v = draw(st.one_of(values, values, values, st.just(MISSING)))
        if v is not MISSING:
            meta[key] = v
    if draw(st.booleans()):
        meta["region"] = draw(st.sampled_from(("eu", "us")))
    return LogEntry(BASE + draw(st.integers(0, 3 * 3600)),
                    draw(st.sampled_from(("INFO", "ERROR", "WARN"))),
                    draw(st.sampled_from(("db timeout", "user login", "cache miss"))),
                    source=draw(st.sampled_from(("api", "db"))),
                    tags=draw(st.lists(st.sampled_from(("a", "b")), max_size=2)),
                    metadata=meta)


_KINDS = ("sum", "avg", "min", "max", "p50", "p90", "p95", "p99")
metric_lists = st.lists(
    st.one_of(st.just("count"), st.just("distinct:x"),
              st.builds(lambda k, f: f"{k}:{f}", st.sampled_from(_KINDS),
                        st.sampled_from(("x", "y", "x", "message")))),
    min_size=1, max_size=6)
group_bys = st.sampled_from((None, "level", "source", "tags", "region", "x", ["level", "region"],
                             ["tags", "source"]))
intervals = st.sampled_from((None, None, "1h", "10m"))
filters = st.sampled_from((None, {"level": "ERROR"}, {"source": "db"}, {"keyword": "timeout"},
                           {"start_time": BASE + 1800, "end_time": BASE + 7200},
                           {"min_severity": "WARN", "source": "api"}))


@contextmanager
def entries_path() -> Any:
    """Aggregations without columns: every metric from the group's entries."""
    with mock.patch.object(aggregate_module, "columns_for", return_value={}):
        yield


def _outcome(engine: LogAnalyticsEngine, *args: Any) -> Any:
    try:
        return ("ok", engine.aggregate(*args))
    except (OverflowError, ValueError) as exc:  # fsum's errors, kept on both paths
        return (type(exc), str(exc))


def exact(a: Any, b: Any) -> bool:
    """Equal with the same types, float bits, and dict keys in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(exact(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(exact(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    return bool(a == b)


def check_same(engine: LogAnalyticsEngine, f: Any, group_by: Any, interval: Any,
               metrics: list[str], build: bool = True) -> None:
    if build:  # however few entries the filter selects, the columns exist and are read
        for field in ("x", "y", "message"):
            engine._ctx.columns.column(field)
    got = _outcome(engine, f, group_by, interval, metrics)
    with entries_path():
        want = _outcome(engine, f, group_by, interval, metrics)
    assert exact(got, want), (got, want)
    columns = engine._ctx.columns
    for field in ("x", "y", "message"):
        if field in columns:
            columns.column(field)._check(engine._store)


@settings(max_examples=examples(1.0))
@given(batch=st.lists(entries(), max_size=60), f=filters, group_by=group_bys,
       interval=intervals, metrics=metric_lists, build=st.booleans())
def test_column_metrics_equal_entry_metrics(
    batch: list[LogEntry], f: Any, group_by: Any, interval: Any, metrics: list[str],
    build: bool,
) -> None:
    """With the columns built beforehand, or left to the query (which builds them only
    when it selects enough entries)."""
    engine = LogAnalyticsEngine(index_fields=("region",))
    engine.ingest_logs(batch)
    check_same(engine, f, group_by, interval, metrics, build)


@settings(max_examples=examples(0.6))
@given(batches=st.lists(st.lists(entries(), min_size=1, max_size=25), min_size=1, max_size=5),
       limit=st.one_of(st.none(), st.integers(5, 40)), f=filters, group_by=group_bys,
       interval=intervals, metrics=metric_lists)
def test_columns_follow_appends_and_eviction(
    batches: list[list[LogEntry]], limit: int | None, f: Any, group_by: Any, interval: Any,
    metrics: list[str],
) -> None:
    """Aggregating between batches: the columns extend, and drop what retention evicted."""
    engine = LogAnalyticsEngine(
        retention=None if limit is None else Retention(max_entries=limit))
    for batch in batches:
        engine.ingest_logs(batch)
        check_same(engine, f, group_by, interval, metrics)
        engine._check()


@settings(max_examples=examples(1.0))
@given(batch=st.lists(entries(_ties), max_size=30), f=filters, group_by=group_bys,
       interval=intervals)
def test_min_and_max_keep_the_type_and_sign_of_the_entries(
    batch: list[LogEntry], f: Any, group_by: Any, interval: Any
) -> None:
    """Of equal values (0, 0.0, -0.0) ``min`` gives the first and ``max`` the last in id
    order, with its type, as the stable sort of the entries' path does."""
    engine = LogAnalyticsEngine()
    engine.ingest_logs(batch)
    check_same(engine, f, group_by, interval, ["min:x", "max:x", "max:y", "p50:x", "sum:y"])


@settings(max_examples=examples(0.2))
@given(batches=st.lists(st.integers(50, 400), min_size=4, max_size=12),
       first=st.sampled_from((0, 2**32 - 700)), group_by=group_bys, interval=intervals,
       metrics=metric_lists, seed=st.integers(0, 2**16))
def test_columns_follow_rebasing(
    batches: list[int], first: int, group_by: Any, interval: Any, metrics: list[str],
    seed: int,
) -> None:
    """Ids renumbered under a column (the store's epoch moves: a low internal id limit
    rebases every ~2,000 ids, public ids may start just below 2**32) make it start over."""
    rng = random.Random(seed)
    engine = LogAnalyticsEngine(retention=Retention(max_entries=300))
    if first:
        engine._writer.start_ids_at(first)
    engine._store.id_limit = 2048
    epochs = {engine._store.epoch}
    for size in batches:
        engine.ingest_logs([
            LogEntry(BASE + rng.randrange(3 * 3600), rng.choice(("INFO", "ERROR")), "m",
                     metadata={"x": rng.choice((rng.randrange(-5, 50), rng.random(), "a")),
                               "y": rng.random()})
            for _ in range(size)])
        epochs.add(engine._store.epoch)
        check_same(engine, None, group_by, interval, metrics)
        engine._check()
    if sum(batches) > 2048 + 1024:
        assert len(epochs) > 1
