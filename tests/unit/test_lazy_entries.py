"""Query results built lazily (``take_entries(..., lazy=True)``, the accelerator only).

A sealed entry taken for a caller is built with its instant and level; its other fields are
decoded from its record on the first read of any of them (``LogEntry.__getattr__``), by every
C kernel that reads an entry's slots, and before pickling or copying. These tests check that
such an entry is indistinguishable from one built whole: same values and types, equality,
hashing, pickling, re-ingestion, aggregation, storage; and that it stays readable after the
engine evicted or dropped its chunk.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import fingerprint

from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine import _native as native
from log_analytics_engine.index import chunks

pytestmark = pytest.mark.skipif(native.speedups is None, reason="the C accelerator builds lazily")


def is_lazy(entry: LogEntry) -> bool:
    try:
        object.__getattribute__(entry, "_record")
    except AttributeError:
        return False
    return True


def sample(n: int = 40) -> list[LogEntry]:
    return [LogEntry(f"2025-07-20T08:{i // 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
                     ("INFO", "ERROR")[i % 2], f"request {i} took {i * 3} ms caf\u00e9",
                     source=f"svc{i % 3}",
                     request_id=f"r{i}" if i % 4 else None, tags=["a", "b"][: i % 3],
                     metadata={"latency_ms": i * 0.5, "n": i, "ok": i % 2 == 0,
                               "nested": {"k": [i, None]}})
            for i in range(n)]


def engine_of(entries: list[LogEntry], **kwargs: Any) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine(**kwargs)
    engine.ingest_logs(entries)
    return engine


def lazy_results(engine: LogAnalyticsEngine) -> list[LogEntry]:
    results = engine.query_logs({}, page_size=None)
    assert sum(map(is_lazy, results)) >= len(results) - (1 << chunks.CHUNK_BITS)
    return results


def test_query_results_are_lazy_and_equal_to_the_entries_ingested() -> None:
    entries = sample()
    results = lazy_results(engine_of(entries))
    assert any(map(is_lazy, results))
    for got, want in zip(results, entries, strict=True):
        assert got == want
        assert hash(got) == hash(want)
        assert fingerprint(got) == fingerprint(want)
        assert not is_lazy(got)  # the first read decoded it and let the record go


@pytest.mark.parametrize("read", [
    lambda e: e.message, lambda e: e.metadata, lambda e: e.timestamp, lambda e: e.tags,
    lambda e: e.to_dict(), lambda e: repr(e), lambda e: e.get("latency_ms"),
    lambda e: pickle.loads(pickle.dumps(e)), copy.copy, copy.deepcopy,
])
def test_any_first_read_decodes_the_whole_entry(read: Any) -> None:
    entries = sample()
    for got, want in zip(lazy_results(engine_of(entries)), entries, strict=True):
        read(got)
        assert not is_lazy(got)
        assert fingerprint(got) == fingerprint(want)


def test_pickled_and_copied_lazy_entries_are_whole() -> None:
    entries = sample()
    results = lazy_results(engine_of(entries))
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        again = pickle.loads(pickle.dumps(results, protocol))
        assert [fingerprint(e) for e in again] == [fingerprint(e) for e in entries]
        assert not any(map(is_lazy, again))
    fresh = lazy_results(engine_of(entries))
    assert [fingerprint(copy.copy(e)) for e in fresh] == [fingerprint(e) for e in entries]


def test_the_instant_and_level_need_no_decoding() -> None:
    entries = sample()
    results = lazy_results(engine_of(entries))
    assert [(e.ts, e.level) for e in results] == [(e.ts, e.level) for e in entries]
    assert any(map(is_lazy, results))


def test_a_field_set_before_the_first_read_is_kept() -> None:
    entries = sample()
    results = lazy_results(engine_of(entries))
    target = next(e for e in results if is_lazy(e))
    target.message = "changed"
    assert target.source == entries[results.index(target)].source  # decodes the rest
    assert target.message == "changed"
    assert not is_lazy(target)


def test_an_unknown_attribute_is_an_attribute_error_on_lazy_and_whole_entries() -> None:
    results = lazy_results(engine_of(sample()))
    plain = LogEntry(0, "INFO", "m")
    for e in (results[0], plain):
        with pytest.raises(AttributeError) as info:
            _ = e.no_such_field  # type: ignore[attr-defined]
        assert info.value.name == "no_such_field"
        assert not hasattr(e, "another")
    assert not is_lazy(results[0])  # the failed read decoded it (harmless)


def test_lazy_entries_outlive_eviction_and_the_engine() -> None:
    entries = sample(200)
    engine = engine_of(entries[:100], retention=Retention(max_entries=50))
    results = engine.query_logs({}, page_size=None)
    first = results[0].ts  # read without decoding anything
    want = [fingerprint(e) for e in entries[:100] if e.ts >= first]
    assert len(want) == len(results) >= 40
    engine.ingest_logs(entries[100:])  # evicts every chunk the results came from
    assert engine.count_logs({}) <= 50
    assert fingerprint(engine.query_logs({}, page_size=None)[-1]) == fingerprint(entries[-1])
    del engine
    assert [fingerprint(e) for e in results] == want


def test_lazy_entries_ingested_elsewhere_are_read_whole() -> None:
    """Another engine's ingestion, storage, aggregation and export read the slots in C."""
    entries = sample()
    results = lazy_results(engine_of(entries))
    other = engine_of(results)
    assert [fingerprint(e) for e in other.all_logs] == [fingerprint(e) for e in entries]
    assert other.count_logs({"keyword": "took"}) == len(entries)
    for field in ("source", "message", "level"):
        fresh = lazy_results(engine_of(entries))
        assert LogAnalyticsEngine.aggregate_logs(fresh, group_by=field) == (
            LogAnalyticsEngine.aggregate_logs(entries, group_by=field))


def test_lazy_entries_stored_and_reopened_are_whole(tmp_path: Any) -> None:
    entries = sample()
    results = lazy_results(engine_of(entries))
    db = str(tmp_path / "s.db")
    stored = LogAnalyticsEngine(storage=db)
    stored.ingest_logs(results)
    stored.close()
    again = LogAnalyticsEngine(storage=db)
    assert [fingerprint(e) for e in again.all_logs] == [fingerprint(e) for e in entries]
    again.close()


def test_a_corrupt_record_raises_on_first_read_and_never_crashes() -> None:
    engine = engine_of(sample(32))
    store = engine._store
    data, offsets, kept = store.entries.chunks[0]
    # each record keeps its level byte; the rest is varint continuation bytes without end
    damaged = bytearray(b"\xff" * len(data))
    for p in range(len(offsets) - 1):
        damaged[offsets[p]] = data[offsets[p]]
    store.entries.chunks[0] = (bytes(damaged), offsets, kept)
    results = engine.query_logs({}, page_size=None)
    lazy = [e for e in results if is_lazy(e)]
    assert len(lazy) >= 1 << chunks.CHUNK_BITS
    for e in lazy[: 1 << chunks.CHUNK_BITS]:
        with pytest.raises(ValueError, match="corrupt"):
            _ = e.message
        assert is_lazy(e)  # nothing half-filled: the record stays for the next read
        with pytest.raises(ValueError, match="corrupt"):
            pickle.dumps(e)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["INFO", "WARN", "ERROR"]),
                          st.text(max_size=12), st.sampled_from(["a", "é", ""])),
                min_size=1, max_size=60),
       st.sampled_from([{}, {"level": "ERROR"}, {"keyword": "a"}, {"source": "é"}]))
def test_lazy_results_equal_a_scan(rows: list[tuple[int, str, str, str]],
                                   filters: dict[str, Any]) -> None:
    entries = [LogEntry(float(t), level, text, source=src) for t, level, text, src in rows]
    engine = engine_of(entries)
    got = engine.query_logs(filters, page_size=None)
    want = sorted((e for e in entries if e.matches_filter(filters)), key=lambda e: e.ts)
    assert sorted(map(fingerprint, got)) == sorted(map(fingerprint, want))
