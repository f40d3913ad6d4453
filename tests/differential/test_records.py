"""The C record kernels (encode_records, decode_records, take_entries) against their Python
specification (``_native/records.py``): same bytes, offsets, kept positions and table changes;
same entries back (values and types); corrupt records raise, never crash."""

from __future__ import annotations

import contextlib
import struct
from array import array
from datetime import datetime, timezone
from typing import Any

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import LogEntry
from log_analytics_engine import _native as native
from log_analytics_engine._native import records as spec

C = native.speedups
pytestmark = pytest.mark.skipif(C is None, reason="the C accelerator is not built")

WORDS = ["db", "timeout", "é", "日本", "", "x" * 70, "\U0001f600", "a b"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.integers(-2**70, 2**70),
    st.floats(allow_nan=True), st.sampled_from([0.0, -0.0]),
    st.text(max_size=6), st.sampled_from(WORDS), st.just("\udcff"))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.sampled_from(["k", "n", "é"]), st.integers(0, 3)), inner,
                    max_size=3)), max_leaves=6)

timestamps = st.one_of(
    st.builds(lambda d, frac, suffix: d + frac + suffix,
              st.sampled_from(["2025-07-20T08:26:40", "0001-01-02T00:00:00",
                               "9999-12-30T23:59:59", "1969-12-31T23:59:59"]),
              st.sampled_from(["", ".0", ".065", ".23", ".123456", ".1234567", ".000100"]),
              st.sampled_from(["Z", "+00:00", "+02:00", ""])),
    st.floats(0, 4e9, allow_nan=False), st.integers(0, 4_000_000_000),
    st.just(datetime(2025, 7, 21, tzinfo=timezone.utc)))


def _entry(ts: Any, level: str, words: list[str], source: str, ids: list[Any],
           tags: list[str], metadata: dict[str, Any], raw: bool) -> LogEntry:
    e = LogEntry(ts, level, " ".join(words), source=source, tags=tags, metadata=metadata,
                 thread_id=ids[0], request_id=ids[1], user_id=ids[2])
    if raw:  # values set after construction are not normalised: the unfit cases
        e.metadata = dict(metadata)
        e.tags = list(tags)
    return e


entries = st.builds(
    _entry, timestamps, st.sampled_from(["INFO", "error", "WARNING", "trace"]),
    st.lists(st.sampled_from(WORDS), max_size=6), st.sampled_from(["api", "db", "", "é"]),
    st.lists(st.one_of(st.none(), st.sampled_from(["r1", "u7", "x" * 80])), min_size=3,
             max_size=3),
    st.lists(st.sampled_from(["a", "b", "\udcff"]), max_size=3),
    st.dictionaries(st.sampled_from(["k", "latency_ms", "user"]), values, max_size=4),
    st.booleans())


def _tables(limits: tuple[int, int, int]) -> list[list[Any]]:
    return spec.new_tables(limits)


def _same_tables(a: list[list[Any]], b: list[list[Any]]) -> None:
    for x, y in zip(a, b, strict=True):
        assert x[0] == y[0]
        assert x[1] == y[1]
        assert x[2] == y[2]
        assert x[3:5] == y[3:5]


def fields(e: LogEntry) -> tuple[Any, ...]:
    """Every field with its type; floats by their bits (NaN, -0.0)."""
    def norm(v: Any) -> Any:
        if type(v) is float:
            return ("f", struct.pack("<d", v))
        if type(v) is list:
            return ("l", [norm(x) for x in v])
        if type(v) is dict:
            return ("d", [(k, norm(x)) for k, x in v.items()])
        return (type(v).__name__, v)
    return tuple(norm(getattr(e, name)) for name in (
        "timestamp", "ts", "level", "message", "source", "thread_id", "request_id", "user_id",
        "tags", "metadata"))


@settings(max_examples=examples(1.0), deadline=None)
@given(batches=st.lists(st.lists(entries, max_size=12), min_size=1, max_size=4),
       limits=st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)))
def test_c_encodes_and_decodes_like_the_specification(
    batches: list[list[LogEntry]], limits: tuple[int, int, int]
) -> None:
    tc, tp = _tables(limits), _tables(limits)
    for batch in batches:
        got = C.encode_records(batch, tc)
        want = spec.encode_records(batch, tp)
        assert got[0] == want[0]
        assert got[1] == want[1]
        assert got[2] == want[2]
        _same_tables(tc, tp)
        data, offsets, kept_at = want
        keep = {p: batch[p] for p in kept_at} or None
        ts = array("d", [e.ts for e in batch])
        positions = array("I", range(len(batch)))
        a = C.decode_records(data, offsets, positions, ts, 0, tp, keep)
        b = spec.decode_records(data, offsets, positions, ts, 0, tp, keep)
        assert list(map(fields, a)) == list(map(fields, b)) == list(map(fields, batch))


@settings(max_examples=examples(1.0), deadline=None)
@given(batch=st.lists(entries, min_size=1, max_size=20), bits=st.integers(0, 3),
       picks=st.lists(st.integers(0, 10**6), max_size=30))
def test_c_takes_entries_like_the_specification(
    batch: list[LogEntry], bits: int, picks: list[int]
) -> None:
    size = 1 << bits
    tables = _tables(spec.LIMITS)
    chunks = []
    sealed = len(batch) // size * size
    for start in range(0, sealed, size):
        data, offsets, kept = spec.encode_records(batch[start:start + size], tables)
        chunks.append((data, offsets, {p: batch[start + p] for p in kept} or None))
    tail = batch[sealed:]
    ts = array("d", [e.ts for e in batch])
    ids = array("I", [p % len(batch) for p in picks])
    args = (chunks, 0, bits, ts, 0, tables, tail, sealed)
    a = C.take_entries(ids, *args)
    b = spec.take_entries(ids, *args)
    lazy = C.take_entries(ids, *args, True)  # fields decoded on first read
    assert list(map(fields, a)) == list(map(fields, b)) == list(map(fields, lazy)) == [
        fields(batch[i]) for i in ids]
    for bad in (len(batch), len(batch) + size):
        with pytest.raises(IndexError):
            C.take_entries(array("I", [bad]), *args)


def _column(got: Any) -> tuple[Any, ...]:
    values, ints, odd = got
    return struct.pack(f"<{len(values)}d", *values), list(ints), list(odd)


@settings(max_examples=examples(1.0), deadline=None)
@given(batch=st.lists(entries, min_size=1, max_size=16),
       field=st.sampled_from(["k", "latency_ms", "user", "absent"]), data=st.data())
def test_a_numeric_column_read_from_records_equals_one_read_from_entries(
    batch: list[LogEntry], field: str, data: st.DataObject
) -> None:
    """numeric_records (C and Python) reads a chunk's records as numeric_column reads the
    entries they hold: the same float64 bits, the same int and odd ids; None only when a
    kept entry is not a plain LogEntry."""
    tables = _tables(data.draw(st.sampled_from([(0, 0, 0), (4, 4, 0), spec.LIMITS])))
    records, offsets, kept_at = spec.encode_records(batch, tables)
    keep = {p: batch[p] for p in kept_at} or None
    start = data.draw(st.integers(0, len(batch)))
    stop = data.draw(st.integers(start, len(batch)))
    first = data.draw(st.integers(0, 2**31))
    want = native.python.numeric_column(batch[start:stop], field, first)
    a = C.numeric_records(records, offsets, start, stop, tables, field, keep, first)
    b = native.python.numeric_records(records, offsets, start, stop, tables, field, keep, first)
    assert a is not None
    assert b is not None
    assert _column(a) == _column(b) == _column(want)
    with pytest.raises(IndexError):
        C.numeric_records(records, offsets, 0, len(batch) + 1, tables, field, keep, first)


@settings(max_examples=examples(1.0), deadline=None)
@given(batch=st.lists(entries, min_size=1, max_size=8), data=st.data())
def test_corrupt_records_raise_and_never_crash(batch: list[LogEntry],
                                               data: st.DataObject) -> None:
    tables = _tables(spec.LIMITS)
    records, offsets, _ = spec.encode_records(batch, tables)
    raw = bytearray(records)
    for _ in range(data.draw(st.integers(1, 4))):
        if raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    damaged = bytes(raw[:cut])
    ts = array("d", [e.ts for e in batch])
    positions = array("I", [p for p in range(len(batch)) if offsets[p] < len(damaged)])
    for field in ("k", "latency_ms"):  # the column reader stays in bounds too
        with contextlib.suppress(ValueError, IndexError):
            C.numeric_records(damaged, offsets[: len(positions) + 1], 0, len(positions),
                              tables, field, None, 0)
    chunk_list = [(damaged, offsets, None)]
    with contextlib.suppress(ValueError, IndexError):  # built lazily: refused on first read
        for e in C.take_entries(positions, chunk_list, 0, 30, ts, 0, tables, [], 2**31, True):
            with contextlib.suppress(ValueError):
                fields(e)
    try:
        got = C.decode_records(damaged, offsets, positions, ts, 0, tables, None)
    except (ValueError, IndexError):  # a corrupt record: refused
        return
    assert len(got) == len(positions)  # or read as some entries, within bounds
    assert all(type(e) is LogEntry for e in got)


def test_the_records_of_a_literal_timestamp_and_epoch_forms() -> None:
    batch = [LogEntry("2025-07-21 10:00:00", "INFO", "m"), LogEntry(1.5, "INFO", "m"),
             LogEntry(1753000000, "INFO", "m"), LogEntry("2025-07-20T08:26:40.065Z")]
    tables = _tables(spec.LIMITS)
    data, offsets, kept = C.encode_records(batch, tables)
    assert kept == []
    back = C.decode_records(data, offsets, array("I", range(4)), array("d", [
        e.ts for e in batch]), 0, tables, None)
    assert list(map(fields, back)) == list(map(fields, batch))
    assert back[1].timestamp is back[1].ts  # the instant itself, as the specification
