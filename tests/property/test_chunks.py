"""The chunked entry store and the time order against naive models.

``EntryChunks`` must read like the list of live entries whatever sequence of appends,
evictions (``drop_front``), undone appends (``drop_back``), rebases and snapshots
(``take_later``) it went through; ``TimeOrder`` must give the ids in (instant, id) order like a
sort, with the same positions and bisections.
"""

from __future__ import annotations

from array import array
from contextlib import nullcontext
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyroaring import BitMap
from strategies import fingerprint

from log_analytics_engine import LogEntry
from log_analytics_engine import _native as native
from log_analytics_engine.index import chunks as chunks_module
from log_analytics_engine.index.chunks import EntryChunks, Taken
from log_analytics_engine.index.store import BLOCK, Store
from log_analytics_engine.index.timeindex import TimeOrder

WORDS = ("db", "timeout", "é", "日本", "", "x" * 70)

entry = st.builds(
    lambda t, lv, words, src, tags, md, rid: LogEntry(
        float(t) / 4, lv, " ".join(words), source=src, tags=tags, metadata=md,
        request_id=rid),
    st.integers(0, 400), st.sampled_from(["INFO", "ERROR", "warn"]),
    st.lists(st.sampled_from(WORDS), max_size=5), st.sampled_from(["api", "db", ""]),
    st.lists(st.sampled_from(["a", "b", "\udcff"]), max_size=2),
    st.dictionaries(st.sampled_from(["k", "n", "f"]),
                    st.one_of(st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=False),
                              st.text(max_size=5), st.none(), st.booleans(),
                              st.lists(st.integers(0, 3), max_size=2)), max_size=3),
    st.one_of(st.none(), st.text(max_size=8)),
)

operations = st.lists(st.one_of(
    st.tuples(st.just("extend"), st.lists(entry, max_size=20)),
    st.tuples(st.just("evict"), st.integers(0, 30)),
    st.tuples(st.just("undo"), st.integers(0, 30)),
    st.tuples(st.just("rebase"), st.just(0)),
    st.tuples(st.just("snapshot"), st.integers(0, 2**16)),
), max_size=25)


def _python_or_c(python: bool) -> Any:
    return native.use_python() if python else nullcontext()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # EAGER: same each run
@given(ops=operations, bits=st.integers(1, 4), python=st.booleans())
def test_chunks_read_like_the_list_of_live_entries(
    ops: list[tuple[str, Any]], bits: int, python: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chunks_module, "EAGER", 3)  # snapshots from 4 ids on
    base = [0]
    ts: array[float] = array("d")
    store = EntryChunks(base, ts, bits=bits, limits=(4, 8, 4))
    model: list[LogEntry] = []  # the live entries
    snapshots: list[tuple[Any, list[LogEntry]]] = []
    with _python_or_c(python):
        for op, arg in ops:
            if op == "extend":
                store.extend(arg)
                ts.extend(e.ts for e in arg)
                model += arg
            elif op == "evict":
                cut = base[0] + min(arg, len(model))
                store.drop_front(cut)
                del ts[: cut - base[0]], model[: cut - base[0]]
                base[0] = cut
            elif op == "undo":
                first = base[0] + max(0, len(model) - arg)
                store.drop_back(first)
                del ts[first - base[0] :], model[first - base[0] :]
            elif op == "rebase":
                shift = base[0] & ~((1 << bits) - 1)
                if shift:
                    store.rebase(shift)
                    base[0] -= shift
            elif model:
                ids = [base[0] + (arg * k) % len(model) for k in range(1 + arg % 7)]
                snapshots.append((store.take_later(ids), [model[i - base[0]] for i in ids]))
            assert len(store) == len(model)
            store._check()
            assert list(map(fingerprint, store)) == list(map(fingerprint, model))
            if model:
                assert fingerprint(store[-1]) == fingerprint(model[-1])
                assert list(map(fingerprint, store[1:-1])) == list(
                    map(fingerprint, model[1:-1]))
        for taken, expected in snapshots:  # still what was live when it was taken
            assert list(map(fingerprint, taken)) == list(map(fingerprint, expected))
            if len(expected):
                assert fingerprint(taken[len(expected) - 1]) == fingerprint(expected[-1])


def test_a_snapshot_outlives_eviction_of_its_chunks() -> None:
    store = Store()
    entries = [LogEntry(float(i), "INFO", f"m{i}") for i in range(5 * BLOCK)]
    store.append(entries)
    taken = store.take_later(BitMap(range(0, 5 * BLOCK, 2)))
    assert isinstance(taken, Taken)
    store.evict_before(5 * BLOCK - 1)
    store.append([LogEntry(0.5, "ERROR", "late")])
    assert [e.message for e in taken] == [f"m{i}" for i in range(0, 5 * BLOCK, 2)]


def test_sealing_frees_the_objects_and_keeps_equal_entries() -> None:
    store = Store()
    entries = [LogEntry(float(i), "INFO", f"m {i}", metadata={"i": i}) for i in range(BLOCK + 3)]
    store.append(entries)
    assert store.entries.sealed() >= 1
    assert len(store.entries.tail) < BLOCK
    got = store.materialize(range(BLOCK + 3))
    assert got == entries
    assert all(a is not b for a, b in zip(got[:BLOCK], entries, strict=False))


def test_an_entry_the_records_cannot_hold_is_kept_as_it_is() -> None:
    odd = LogEntry(datetime(2025, 7, 21, tzinfo=timezone.utc), "INFO", "m")
    huge = LogEntry(1.0, "INFO", "m", metadata={"k": 2**70})  # normalised to text
    plain = LogEntry(2, "INFO", "m", metadata={"k": [1, {"a": None}]})
    store = EntryChunks([0], array("d", [odd.ts, 1.0, 2.0, 3.0]), bits=2)
    store.extend([odd, huge, plain, LogEntry(3.0)])
    assert store.sealed() == 1
    got = store.take([0, 1, 2, 3])
    assert got[0] is odd  # a datetime timestamp: kept as the object
    assert got[1] is not huge
    assert list(map(fingerprint, got[1:3])) == [fingerprint(huge), fingerprint(plain)]
    assert type(got[2].timestamp) is int


# -- the time order --------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(stamps=st.lists(st.integers(0, 30), max_size=80),
       cuts=st.lists(st.integers(0, 90), max_size=4), lo=st.integers(-1, 31),
       span=st.integers(0, 31), undo=st.integers(0, 20))
def test_time_order_equals_a_sort(
    stamps: list[int], cuts: list[int], lo: int, span: int, undo: int
) -> None:
    base = [0]
    ts: array[float] = array("d")
    order = TimeOrder(ts, base)
    half = len(stamps) // 2
    for part, first in ((stamps[:half], 0), (stamps[half:], half)):
        ts.extend(float(s) for s in part)
        order.extend_ordered(first, [float(s) for s in part])
    first_undone = max(0, len(stamps) - undo)
    order.drop_from(first_undone)
    del ts[first_undone:]
    for cut in sorted(cuts):
        cut = min(max(cut, base[0]), len(ts) + base[0])
        order.drop_front(cut)
        del ts[: cut - base[0]]
        base[0] = cut
    order._check()
    live = range(base[0], base[0] + len(ts))
    expected = sorted(live, key=lambda i: (ts[i - base[0]], i))
    assert list(order) == expected
    assert list(reversed(order)) == expected[::-1]
    assert len(order) == len(expected)
    if expected:
        assert order[0] == expected[0]
        assert order[-1] == expected[-1]
    hi = lo + span
    inside = [i for i in expected if lo <= ts[i - base[0]] <= hi]
    assert list(order.irange_key(lo, hi)) == inside
    assert list(order.irange_key(lo, hi, reverse=True)) == inside[::-1]
    assert order.bisect_key_left(lo) == sum(ts[i - base[0]] < lo for i in live)
    assert order.bisect_key_right(hi) == sum(ts[i - base[0]] <= hi for i in live)
