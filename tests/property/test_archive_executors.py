"""Property tests: Archive on Spark equals Archive on DuckDB equals the in-memory engine.

Random entries (mixed timestamp formats, out-of-order arrival, ties, odd words, every
metadata type the strategies make) are ingested into an engine and written as segments (random
batches, so an hour holds several overlapping segments); random filters, aggregations and
sessions must give the same answers, in the same order, on all three. Backtests of random
rules on both executors must equal a live engine. Spark runs in local mode (the session-scoped
``spark`` fixture) with a small example budget.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import EntrySpec, filter_dicts, raw_filters, spec_lists

from log_analytics_engine import Archive, LogAnalyticsEngine, LogEntry

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from log_analytics_engine.storage.archive_writer import SegmentWriter

SPARK = settings(max_examples=examples(0.12), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large])
GROUPS = (None, "level", "source", "tags", "region", ("level", "source"))
INTERVALS = (None, "1m", 90)
METRICS = (None, ["count"], ["count", "p95:n", "sum:n", "avg:n", "min:n", "max:n", "p50:n"],
           ["p99:n", "count"])


@contextmanager
def archived(entries: list[LogEntry], cuts: list[int]) -> Iterator[str]:
    """A folder holding ``entries`` as segments cut at ``cuts`` (ids = arrival order)."""
    folder = tempfile.mkdtemp(prefix="archive-prop-")
    try:
        writer = SegmentWriter(folder)
        pos = 0
        for cut in [*sorted({min(c, len(entries)) for c in cuts}), len(entries)]:
            if cut > pos:
                writer.write(entries[pos:cut], list(range(pos, cut)))
                pos = cut
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def dicts(entries: list[LogEntry]) -> list[dict[str, Any]]:
    """Entries as comparable dicts. A timestamp given as a ``datetime`` is archived as its
    ISO text (the archive format's rule, as in the durable copy): compared by instant."""
    out = []
    for e in entries:
        d = e.to_dict()
        d["timestamp"] = e.ts
        out.append(d)
    return out


def engine_of(entries: list[LogEntry]) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    return engine


@SPARK
@given(specs=spec_lists(max_size=30), filters=filter_dicts(max_keys=3),
       cuts=st.lists(st.integers(0, 30), max_size=3), sort_desc=st.booleans(),
       page=st.sampled_from((None, (0, 5), (1, 3))))
def test_queries_and_counts_agree(spark: Any, specs: list[EntrySpec],
                                  filters: dict[str, Any], cuts: list[int], sort_desc: bool,
                                  page: tuple[int, int] | None) -> None:
    entries = [s.build() for s in specs]
    engine = engine_of(entries)
    f = raw_filters(filters)
    p, size = page if page is not None else (None, None)
    want = dicts(engine.query_logs(f, sort_desc=sort_desc, page=p, page_size=size))
    count = engine.count_logs(f)
    with archived(entries, cuts) as folder, Archive(folder) as duck, \
            Archive(folder, executor="spark", spark=spark) as sp:
        assert dicts(duck.query_logs(f, sort_desc=sort_desc, page=p, page_size=size)) == want
        assert dicts(sp.query_logs(f, sort_desc=sort_desc, page=p, page_size=size)) == want
        assert duck.count_logs(f) == sp.count_logs(f) == count


@SPARK
@given(specs=spec_lists(max_size=30), filters=filter_dicts(max_keys=2),
       group=st.sampled_from(GROUPS), interval=st.sampled_from(INTERVALS),
       metrics=st.sampled_from(METRICS), cuts=st.lists(st.integers(0, 30), max_size=3))
def test_aggregations_agree(spark: Any, specs: list[EntrySpec], filters: dict[str, Any],
                            group: Any, interval: Any, metrics: Any, cuts: list[int]) -> None:
    entries = [s.build() for s in specs]
    f = raw_filters(filters)
    want = engine_of(entries).aggregate(f, group_by=group, interval=interval, metrics=metrics)
    with archived(entries, cuts) as folder, Archive(folder) as duck, \
            Archive(folder, executor="spark", spark=spark) as sp:
        got_duck = duck.aggregate(f, group_by=group, interval=interval, metrics=metrics)
        got_spark = sp.aggregate(f, group_by=group, interval=interval, metrics=metrics)
    assert list(got_duck.items()) == list(want.items())
    assert list(got_spark.items()) == list(want.items())


@SPARK
@given(specs=spec_lists(max_size=30), cuts=st.lists(st.integers(0, 30), max_size=3),
       key=st.sampled_from(("user_id", ("user_id", "region"))))
def test_sessions_agree(spark: Any, specs: list[EntrySpec], cuts: list[int], key: Any) -> None:
    # The strategies' messages hold no "action" field: pair on a metadata flag instead.
    entries = [s.build() for s in specs]
    for i, e in enumerate(entries):
        e.metadata["action"] = "start" if i % 3 == 0 else "end" if i % 3 == 1 else "click"
    engine = engine_of(entries)
    want = engine.sessions(key=key)
    with archived(entries, cuts) as folder, Archive(folder) as duck, \
            Archive(folder, executor="spark", spark=spark) as sp:
        for got in (duck.sessions(key=key), sp.sessions(key=key)):
            assert got == want
