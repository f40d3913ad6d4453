"""The archive's exactness contract: ``Archive`` on DuckDB and ``include_archive=True`` (with a
random split point between hot and archived) return what the in-memory engine returns over
every entry, in the same order: queries (pages, both directions, other sort keys), counts,
aggregations (groups, time buckets, numeric metrics with the engine's percentile) and
sessions. Entries have odd Unicode, late arrivals, ties, empty fields and every metadata type.
"""

from __future__ import annotations

import tempfile
from typing import Any

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")


from archive_helpers import write_cut
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import archive_specs, filter_dicts, raw_filters, trees

from log_analytics_engine import Archive, LogAnalyticsEngine, LogEntry, Retention

pytestmark = pytest.mark.property

GROUPS = (None, "level", "source", "tags", "user_id", "region", "n", "action",
          ("level", "source"))
INTERVALS = (None, "1m", "1h", 90)
METRICS = (None, ["count"], ["count", "p95:n", "sum:n", "min:n", "max:n", "avg:n"],
           ["p50:lat", "p99:lat", "count"], ["distinct:region"], ["sum:lat", "avg:lat"])
SORTS = (
    {},
    {"sort_desc": True},
    {"page": 1, "page_size": 3},
    {"sort_desc": True, "page": 0, "page_size": 5},
    {"sort_by": "level"},
    {"sort_by": "n", "sort_desc": True},
    {"sort_by": "user_id", "page": 1, "page_size": 2},
)

queries = st.one_of(
    st.none(),
    filter_dicts().map(raw_filters),
    trees.map(lambda t: t.node),
    st.sampled_from(("level:ERROR timeout", '"db timeout"', "n:>1 OR -source:api",
                     "source:api* AND NOT tag:prod", "user_id:u1", "lat:>=50")),
)


def shown(entries: list[LogEntry]) -> list[tuple[float, dict[str, Any]]]:
    return [(e.ts, e.to_dict()) for e in entries]


def _same(engine: LogAnalyticsEngine, other: Any, query: Any, sort: dict[str, Any],
          agg: dict[str, Any], **flag: Any) -> None:
    assert shown(other.query_logs(query, **sort, **flag)) == shown(
        engine.query_logs(query, **sort))
    assert other.count_logs(query, **flag) == engine.count_logs(query)
    assert other.aggregate(query, **agg, **flag) == engine.aggregate(query, **agg)


aggregations = st.fixed_dictionaries({
    "group_by": st.sampled_from(GROUPS), "interval": st.sampled_from(INTERVALS),
    "metrics": st.sampled_from(METRICS)})


@settings(max_examples=examples(0.5))
@given(st.lists(archive_specs, max_size=40), st.lists(st.integers(0, 40), max_size=3),
       queries, st.sampled_from(SORTS), aggregations)
def test_archive_on_duckdb_equals_the_engine(specs, cuts, query, sort, agg) -> None:
    entries = [s.build() for s in specs]
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    with tempfile.TemporaryDirectory() as folder:
        write_cut(entries, cuts, folder)
        with Archive(folder) as archive:
            _same(engine, archive, query, sort, agg)
            assert archive.sessions(query).to_dict() == engine.sessions(query).to_dict()
            if isinstance(query, str):
                assert shown(archive.search(query)) == shown(engine.search(query))


@settings(max_examples=examples(0.5))
@given(st.lists(archive_specs, min_size=1, max_size=40), st.integers(1, 40),
       st.integers(1, 8), queries, st.sampled_from(SORTS), aggregations)
def test_include_archive_at_a_random_split_equals_the_engine(specs, keep, batch, query, sort,
                                                             agg) -> None:
    entries = [s.build() for s in specs]
    everything = LogAnalyticsEngine()
    everything.ingest_logs(entries)
    with tempfile.TemporaryDirectory() as folder:
        split = LogAnalyticsEngine(retention=Retention(
            max_entries=keep, archive_dir=folder, archive_format="parquet"))
        for i in range(0, len(entries), batch):
            split.ingest_logs(entries[i:i + batch])
        _same(everything, split, query, sort, agg, include_archive=True)
        if isinstance(query, str):
            assert shown(split.search(query, include_archive=True)) == shown(
                everything.search(query))
        split._check()
