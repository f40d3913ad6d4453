"""The archive's fast column paths equal their plain definitions on random entries: the
typed float copies (one C-level pass per field vs the per-item loop), the metadata column
(one orjson comprehension vs the codec), and the grouping of a batch by hour partition
(one ordering of the batch cut into hours vs ``hour_partition`` per entry)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("pyarrow")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import archive_specs

from log_analytics_engine.storage.archive_format import (
    _float_columns_loop,
    entries_table,
    float_columns,
    hour_partition,
    hour_tables,
    metadata_array,
    time_order,
)
from log_analytics_engine.storage.codec import dumps

pytestmark = pytest.mark.property

_SETTINGS = settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.lists(archive_specs, max_size=30))
def test_float_columns_equal_the_per_item_loop(specs: list[Any]) -> None:
    entries = [s.build() for s in specs]
    got = float_columns([e.metadata for e in entries])
    want = _float_columns_loop([e.metadata for e in entries])
    assert list(got) == list(want)
    for k in got:  # the same values, the same types (-0.0 and NaN by their repr)
        assert repr(got[k]) == repr(want[k])


@_SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "level", "x y", "_z"]),
                                st.one_of(st.floats(), st.integers(), st.none(),
                                          st.booleans(), st.text(max_size=2)),
                                max_size=6), max_size=30))
def test_float_columns_on_dense_numeric_metadata(mds: list[dict[str, Any]]) -> None:
    from log_analytics_engine import LogEntry

    entries = [LogEntry(i, metadata=md) for i, md in enumerate(mds)]
    want = _float_columns_loop([e.metadata for e in entries])
    assert repr(float_columns([e.metadata for e in entries])) == repr(want)


@_SETTINGS
@given(st.lists(archive_specs, max_size=30))
def test_metadata_column_is_the_codec_json(specs: list[Any]) -> None:
    mds = [s.build().metadata for s in specs]
    want = [dumps(md).decode() if md else None for md in mds]
    assert metadata_array(mds).to_pylist() == want


def test_metadata_column_falls_back_to_the_codec_for_what_orjson_refuses() -> None:
    mds: list[dict[str, Any]] = [{"n": 1}, {}, {"big": 2**70, (1, 2): "t"}]
    assert metadata_array(mds).to_pylist() == [
        dumps(mds[0]).decode(), None, dumps(mds[2]).decode()]


@_SETTINGS
@given(st.lists(st.one_of(st.floats(-1e10, 1e11, allow_nan=False),
                          st.integers(-10**9, 10**11).map(float),
                          st.integers(-5, 5).map(lambda h: h * 3600.0)), max_size=40),
       st.booleans())
def test_hour_tables_are_the_tables_of_each_hour(instants: list[float], text: bool) -> None:
    from log_analytics_engine import LogEntry
    from log_analytics_engine.model.timeparse import format_instant

    # timestamps as text take the C kernel when it is built; numbers the general path
    entries = [LogEntry(format_instant(t) if text else t) for t in instants]
    ids = list(range(100, 100 + len(entries)))
    want: dict[str, tuple[list[Any], list[int]]] = {}
    for e, i in zip(entries, ids, strict=True):
        part = want.setdefault(hour_partition(e.ts), ([], []))
        part[0].append(e)
        part[1].append(i)
    got = hour_tables(entries, ids)
    assert [h for h, _ in got] == sorted(want)
    for hour, table in got:
        assert table.equals(entries_table(*want[hour]))
    # a range of ids (a bulk import's) is gathered by numpy: the same tables
    ranged = hour_tables(entries, range(100, 100 + len(entries)))
    assert [h for h, _ in ranged] == [h for h, _ in got]
    assert all(a.equals(b) for (_, a), (_, b) in zip(ranged, got, strict=True))


@_SETTINGS
@given(st.lists(st.tuples(st.sampled_from([0.0, -0.0, 1.5, 3600.0, -7.25, 1e9]),
                          st.integers(0, 6)), max_size=30), st.booleans())
def test_time_order_is_the_stable_instant_id_order(rows: list[tuple[float, int]],
                                                    numbered: bool) -> None:
    instants = [t for t, _ in rows]
    ids = list(range(len(rows))) if numbered else [i for _, i in rows]
    want = sorted(range(len(rows)), key=lambda k: (instants[k], ids[k]))
    got = time_order(instants, ids)
    assert (got if got is not None else list(range(len(rows)))) == want


@_SETTINGS
@given(st.lists(archive_specs, max_size=30), st.integers(0, 30))
def test_term_index_holds_exactly_the_words_of_its_rows(specs: list[Any], cut: int) -> None:
    import pyarrow as pa

    from log_analytics_engine.model.tokenize import tokenize
    from log_analytics_engine.storage.archive_format import SegmentTerms, entries_table

    entries = [s.build() for s in specs]
    table = entries_table(entries, list(range(len(entries))))
    want = {w for e in entries for w in tokenize(e.message)}
    assert SegmentTerms.of_table(table).token == want  # the dictionary of one chunk
    # a table of several chunks (or a slice, whose dictionary is wider) hashes the words
    parts = pa.concat_tables([table.slice(0, cut), table.slice(cut)])
    assert SegmentTerms.of_table(parts).token == want
    sliced = table.slice(0, cut)
    held = {w for e in sorted(entries, key=lambda e: e.ts)[:cut] for w in tokenize(e.message)}
    assert SegmentTerms.of_table(sliced).token >= held
