"""Retention: bounded entries, age and memory; evicted entries archived, handed off or counted."""

from __future__ import annotations

import gc
import os
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine.events.sample import generate_records, write_jsonl
from log_analytics_engine.index import chunks
from log_analytics_engine.index.postings import IndexSet
from log_analytics_engine.index.store import Store
from log_analytics_engine.model.tokenize import tokenize
from log_analytics_engine.storage.retention import Evictor, archive_path, estimate_entry_bytes

FILTERS: list[dict[str, Any]] = [
    {},
    {"level": "ERROR"},
    {"keyword": "timeout"},
    {"tags": ["prod"]},
    {"start_time": "2025-07-20T08:27:00Z", "end_time": "2025-07-20T08:27:30Z"},
]


def _records(n: int, seed: int = 3) -> list[dict[str, Any]]:
    return generate_records(n, seed)


def _assert_matches_scan(engine: LogAnalyticsEngine) -> None:
    entries = list(engine.all_logs)
    for f in FILTERS:
        expected = sorted((e for e in entries if e.matches_filter(f)), key=lambda e: e.ts)
        assert [e.ts for e in engine.query_logs(f)] == [e.ts for e in expected], f


def _ingest(engine: LogAnalyticsEngine, recs: list[dict[str, Any]], step: int = 100) -> None:
    for k in range(0, len(recs), step):
        engine.ingest_logs(recs[k:k + step])


def test_max_entries_keeps_the_newest_ingested(tmp_path: Path) -> None:
    recs = _records(1000)
    engine = LogAnalyticsEngine(retention=Retention(max_entries=300))
    _ingest(engine, recs, 70)
    kept = len(engine)
    assert 300 - 300 // 32 <= kept <= 300
    assert [e.message for e in engine.all_logs] == [r["message"] for r in recs[-kept:]]
    engine._check()


def test_eviction_goes_a_step_beyond_the_limit() -> None:
    """Passing max_entries evicts the excess plus 1/32 of the limit, in one step."""
    engine = LogAnalyticsEngine(retention=Retention(max_entries=320))
    engine.ingest_logs(_records(320))
    assert len(engine) == 320
    engine.ingest_logs(_records(1))
    assert len(engine) == 320 - 10
    assert engine.get_stats()["retention"]["evicted_total"] == 11


def test_indexes_agree_with_a_scan_after_every_eviction_step() -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=250), index_fields=["user_id"])
    recs = _records(1200)
    for k in range(0, len(recs), 90):
        engine.ingest_logs(recs[k:k + 90])
        engine._check()
        engine._store.time_index._check()
        _assert_matches_scan(engine)


def test_eviction_removes_terms_whose_postings_become_empty() -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=1))
    engine.ingest_log(LogEntry(0, message="unique_word_one"))
    engine.ingest_log(LogEntry(1, message="other"))
    assert engine.count_logs({"keyword": "unique_word_one"}) == 0
    assert "unique_word_one" not in set(engine._indexes.token.terms())


def test_max_age_evicts_entries_older_than_newest_minus_age() -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_age=timedelta(seconds=100)))
    engine.ingest_logs([LogEntry(t, message=str(t)) for t in range(0, 300, 10)])
    assert min(e.ts for e in engine.all_logs) >= 290 - 100
    # one step: everything older than the limit plus 1/32 of max_age
    expected = sum(1 for t in range(0, 300, 10) if t < 290 - 100 + 100 / 32)
    assert engine.get_stats()["retention"]["evicted_total"] == expected
    engine._check()


def test_max_age_evicts_in_ingestion_order_only() -> None:
    """A late entry is kept until every entry ingested before it has aged out."""
    engine = LogAnalyticsEngine(retention=Retention(max_age=50))
    engine.ingest_logs([LogEntry(100, message="a"), LogEntry(10, message="late"),
                        LogEntry(200, message="b")])
    assert [e.message for e in engine.all_logs] == ["b"]


def test_on_evict_receives_every_evicted_entry_once_in_order() -> None:
    got: list[LogEntry] = []
    engine = LogAnalyticsEngine(retention=Retention(max_entries=100, on_evict=got.extend))
    recs = _records(1000)
    _ingest(engine, recs, 33)
    assert [e.message for e in got] + [e.message for e in engine.all_logs] == [
        r["message"] for r in recs]
    stats = engine.get_stats()["retention"]
    assert stats["handed_off_total"] == stats["evicted_total"] == 1000 - len(engine)
    assert stats["dropped_total"] == 0


def test_failing_on_evict_counts_entries_as_dropped() -> None:
    def boom(entries: list[LogEntry]) -> None:
        raise RuntimeError("sink down")

    engine = LogAnalyticsEngine(retention=Retention(max_entries=10, on_evict=boom))
    engine.ingest_logs(_records(25))
    stats = engine.get_stats()["retention"]
    assert stats["dropped_total"] == 15
    assert stats["callback_errors_total"] == 1
    assert len(engine) == 10


def test_without_archive_or_callback_evicted_entries_are_counted_dropped() -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=10))
    engine.ingest_logs(_records(40))
    assert engine.get_stats()["retention"]["dropped_total"] == 30


def test_archive_is_readable_back_with_ingest_logs_from_file(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    recs = _records(3000)
    engine = LogAnalyticsEngine(retention=Retention(max_entries=500, archive_dir=archive,
                                                    archive_format="jsonl"))
    _ingest(engine, recs, 250)
    back = LogAnalyticsEngine()
    for name in sorted(os.listdir(archive)):
        report = back.ingest_logs_from_file(archive / name)
        assert report["errors"] == 0
    gone = len(recs) - len(engine)
    archived = sorted((e.ts, e.message) for e in back.all_logs)
    assert archived == sorted((r.ts, r.message) for r in map(LogEntry.from_dict, recs[:gone]))
    assert engine.get_stats()["retention"]["archived_total"] == gone
    assert engine.get_stats()["retention"]["dropped_total"] == 0


def test_archive_files_are_split_by_hour_of_event_time(tmp_path: Path) -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=1, archive_dir=tmp_path,
                                                    archive_format="jsonl"))
    engine.ingest_logs([LogEntry("2025-07-21T10:59:59Z"), LogEntry("2025-07-21T11:00:00Z"),
                        LogEntry("2025-07-21T12:00:00Z")])
    assert sorted(os.listdir(tmp_path)) == ["2025-07-21T10.jsonl.gz", "2025-07-21T11.jsonl.gz"]
    assert archive_path(str(tmp_path), 0.0).endswith("1970-01-01T00.jsonl.gz")


def test_eviction_removes_the_durable_copy(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    recs = _records(800)
    with LogAnalyticsEngine(storage=db, retention=Retention(max_entries=200)) as engine:
        _ingest(engine, recs, 100)
    with LogAnalyticsEngine(storage=db) as reopened:
        kept = len(reopened)
        assert 190 < kept <= 200
        assert [e.message for e in reopened.all_logs] == [r["message"] for r in recs[-kept:]]
        assert reopened._store.base == 800 - kept
        reopened._check()
        reopened.ingest_logs(recs[:5])
        assert reopened._store.next_id == 805


def test_retention_applies_when_a_larger_store_is_reopened(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_logs(_records(500))
    got: list[LogEntry] = []
    with LogAnalyticsEngine(storage=db, retention=Retention(max_entries=100,
                                                            on_evict=got.extend)) as engine:
        assert len(engine) == 100 - 100 // 32
        assert len(got) == 500 - len(engine)
        engine._check()


def test_evicting_everything_then_reopening_keeps_ids_moving_forward(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db, retention=Retention(max_age=1)) as engine:
        engine.ingest_logs([LogEntry(t) for t in (0, 10, 20)])
    with LogAnalyticsEngine(storage=db) as engine:
        assert len(engine) == 1
        engine.ingest_log(LogEntry(30))
        assert engine._store.next_id == 4
        engine._check()


def test_prometheus_exposes_the_retention_counters() -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=5))
    engine.ingest_logs(_records(12))
    text = engine.export_metrics_prometheus()
    assert "log_analytics_evicted_entries_total 7" in text
    assert "log_analytics_evicted_dropped_entries_total 7" in text
    assert "log_analytics_archived_entries_total 0" in text


@pytest.mark.parametrize("kwargs", [{"max_entries": 0}, {"max_age": 0},
                                    {"max_age": timedelta(seconds=-1)},
                                    {"max_memory_bytes": 0}])
def test_invalid_limits_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Retention(**kwargs)


def test_memory_budget_bounds_the_entry_count() -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_memory_bytes=500_000))
    recs = _records(6000)
    _ingest(engine, recs, 200)
    per_entry = engine.get_stats()["retention"]["bytes_per_entry"]
    assert 0 < len(engine) <= 500_000 / per_entry + 1
    assert engine.get_stats()["retention"]["evicted_total"] == 6000 - len(engine)


@pytest.mark.parametrize("bits", [3, 10])
def test_memory_estimate_is_within_thirty_percent_of_tracemalloc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bits: int
) -> None:
    monkeypatch.setattr(chunks, "CHUNK_BITS", bits)
    path = tmp_path / "c.jsonl"
    write_jsonl(str(path), 20_000, seed=5)
    gc.collect()
    tracemalloc.start()
    try:
        engine = LogAnalyticsEngine(retention=Retention(max_memory_bytes=10**12))
        before = tracemalloc.get_traced_memory()[0]
        engine.ingest_logs_from_file(path)
        engine._tokens._cache.clear()  # a bounded per-engine cache, not per-entry memory
        gc.collect()
        measured = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimated = engine.get_stats()["retention"]["bytes_per_entry"] * len(engine)
    assert measured * 0.7 <= estimated <= measured * 1.3


def test_an_entry_object_estimate_counts_its_strings() -> None:
    small = LogEntry(0.0, message="a")
    big = LogEntry(0.0, message="a" * 1000, metadata={"k": "v" * 500})
    assert estimate_entry_bytes(big) - estimate_entry_bytes(small) >= 1500


# -- the store's eviction, against a naive model ------------------------------------------
@settings(max_examples=60, deadline=None)
@given(stamps=st.lists(st.integers(0, 50), min_size=1, max_size=300),
       cuts=st.lists(st.integers(0, 320), max_size=6))
def test_store_eviction_keeps_time_order_with_late_arrivals(
    stamps: list[int], cuts: list[int]
) -> None:
    store = Store()
    indexes = IndexSet()
    entries = [LogEntry(float(t), message=f"w{t % 7}") for t in stamps]
    half = len(entries) // 2
    for part in (entries[:half], entries[half:]):
        first = store.append(part)
        indexes.add_batch(first, part, [tokenize(e.message) for e in part])
    for cut in sorted(cuts):
        removed = store.evict_before(cut)
        indexes.remove_below(max(cut, store.base), removed)
        store._check()
        store.time_index._check()
        live = list(range(store.base, store.next_id))
        expected = sorted(live, key=lambda i: (stamps[i], i))
        assert list(store.time_index) == expected
        assert list(store.time_index.irange_key(10, 20)) == [
            i for i in expected if 10 <= stamps[i] <= 20]
        for w in range(7):
            assert sorted(indexes.token.get(f"w{w}")) == [
                i for i in live if stamps[i] % 7 == w]


def test_evictor_without_limits_never_evicts() -> None:
    store = Store()
    store.append([LogEntry(t) for t in range(10)])
    evictor = Evictor(Retention())
    assert evictor.first_live(store) == 0


def test_memory_budget_applies_when_a_store_is_reopened(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_logs(_records(3000))
    with LogAnalyticsEngine(storage=db,
                            retention=Retention(max_memory_bytes=300_000)) as engine:
        per_entry = engine.get_stats()["retention"]["bytes_per_entry"]
        assert 0 < len(engine) <= 300_000 / per_entry < 3000
        engine._check()


def test_flush_after_close_is_a_no_op(tmp_path: Path) -> None:
    engine = LogAnalyticsEngine(storage=tmp_path / "logs.db")
    engine.close()
    engine.flush()
    assert engine.get_stats()["storage"]["pending"] == 0
