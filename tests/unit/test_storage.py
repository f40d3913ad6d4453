"""Durable storage: reopening, durability modes, alert persistence and clear errors."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from log_analytics_engine import (
    AlertRule,
    LogAnalyticsEngine,
    LogEntry,
    StorageError,
    StorageFullError,
    StorageNotOursError,
    StoragePathError,
    StorageVersionError,
)
from log_analytics_engine.events.sample import generate_records
from log_analytics_engine.storage.sqlite import SCHEMA_VERSION

FILTERS: list[dict[str, Any]] = [
    {},
    {"level": "ERROR"},
    {"source": "svc-api", "keyword": "timeout"},
    {"tags": ["prod"]},
    {"min_severity": "WARN", "keyword": "error"},
]


def _records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    return generate_records(n, seed)


def _dump(engine: LogAnalyticsEngine) -> list[dict[str, Any]]:
    return [e.to_dict() | {"ts": e.ts} for e in engine.all_logs]


def _rows_on_disk(db: sqlite3.Connection) -> int:
    """Live entries in a storage file: chunks minus the evicted ids they still hold."""
    row = db.execute("SELECT value FROM meta WHERE key = 'evicted_below'").fetchone()
    below = int(row[0]) if row else 0
    return int(db.execute(
        "SELECT coalesce(sum(last_id - max(first_id, ?) + 1), 0) FROM chunks "
        "WHERE last_id >= ?", (below, below)).fetchone()[0])


def _assert_indexes_match_scan(engine: LogAnalyticsEngine) -> None:
    entries = list(engine.all_logs)
    for f in FILTERS:
        expected = sorted((e for e in entries if e.matches_filter(f)), key=lambda e: e.ts)
        got = engine.query_logs(f)
        assert [e.ts for e in got] == [e.ts for e in expected], f
        assert engine.count_logs(f) == len(expected)


def test_reopen_restores_every_entry_in_id_order(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_logs(_records(3000))
        before = _dump(engine)
    with LogAnalyticsEngine(storage=db) as reopened:
        assert _dump(reopened) == before
        reopened._check()


def test_reopened_indexes_answer_like_a_naive_scan(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db, index_fields=["user_id"]) as engine:
        engine.ingest_logs(_records(2000))
    with LogAnalyticsEngine(storage=db, index_fields=["user_id"]) as reopened:
        _assert_indexes_match_scan(reopened)
        some_user = reopened.all_logs[5].get("user_id")
        assert reopened.count_logs({"user_id": some_user}) == sum(
            1 for e in reopened.all_logs if e.get("user_id") == some_user)


def test_ids_continue_after_reopen(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    recs = _records(200)
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_logs(recs[:100])
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_logs(recs[100:])
        assert engine._store.next_id == 200
    with LogAnalyticsEngine(storage=db) as engine:
        assert [e.message for e in engine.all_logs] == [r["message"] for r in recs]


def test_entry_fields_survive_the_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    entry = LogEntry("2025-07-21T10:00:00.250+02:00", "warning", "disk ünïcode 99%", "db",
                     thread_id="t1", request_id="r1", user_id="u1", tags=["a", "b"],
                     metadata={"n": 1, "nested": {"x": [1, 2.5, None]}, "flag": True})
    with LogAnalyticsEngine(storage=db, durability="sync") as engine:
        engine.ingest_log(entry)
    with LogAnalyticsEngine(storage=db) as engine:
        (back,) = list(engine.all_logs)
    assert back.to_dict() == entry.to_dict()
    assert back.ts == entry.ts


def test_unserialisable_metadata_is_stored_as_text(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_log(LogEntry(0, metadata={"obj": complex(1, 2)}))
    with LogAnalyticsEngine(storage=db) as engine:
        assert engine.all_logs[0].metadata == {"obj": "(1+2j)"}


@pytest.mark.parametrize("durability", ["sync", "batch", "none"])
def test_every_durability_mode_keeps_entries_after_close(tmp_path: Path, durability: str) -> None:
    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db, durability=durability, batch_size=50) as engine:
        for rec in _records(120):
            engine.ingest_log(rec)
    with LogAnalyticsEngine(storage=db) as engine:
        assert len(engine) == 120


def test_sync_mode_commits_before_ingest_returns(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    engine = LogAnalyticsEngine(storage=db, durability="sync")
    engine.ingest_logs(_records(10))
    with sqlite3.connect(db) as other:  # a second reader sees the committed rows
        assert _rows_on_disk(other) == 10
    engine.close()


def test_flush_commits_batch_mode_rows(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    engine = LogAnalyticsEngine(storage=db, durability="batch", batch_size=10_000,
                                batch_interval=60)
    engine.ingest_logs(_records(10))
    assert engine.get_stats()["storage"]["pending"] == 10
    engine.flush()
    assert engine.get_stats()["storage"]["pending"] == 0
    with sqlite3.connect(db) as other:
        assert _rows_on_disk(other) == 10
    engine.close()


def test_background_flusher_commits_without_flush(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    engine = LogAnalyticsEngine(storage=db, durability="batch", batch_size=5,
                                batch_interval=0.01)
    engine.ingest_logs(_records(20))
    storage = engine._storage
    assert storage is not None
    storage._wake.set()
    for _ in range(500):  # wait for the thread, not for a duration
        if storage.pending == 0:
            break
        storage._stop.wait(0.01)
    assert storage.pending == 0
    engine.close()


def test_close_is_idempotent_and_ingest_after_close_fails(tmp_path: Path) -> None:
    engine = LogAnalyticsEngine(storage=tmp_path / "logs.db")
    engine.close()
    engine.close()
    with pytest.raises(StorageError, match="closed"):
        engine.ingest_logs(_records(1))


def test_durability_without_storage_is_refused() -> None:
    with pytest.raises(ValueError, match="durability needs storage"):
        LogAnalyticsEngine(durability="sync")


def test_unknown_durability_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability must be one of"):
        LogAnalyticsEngine(storage=tmp_path / "x.db", durability="sometimes")


def test_in_memory_engine_close_and_flush_are_no_ops() -> None:
    with LogAnalyticsEngine() as engine:
        engine.ingest_logs(_records(3))
        engine.flush()
    assert len(engine) == 3


# -- errors -------------------------------------------------------------------------------
def test_path_under_a_regular_file_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoragePathError) as info:
        LogAnalyticsEngine(storage=blocker / "sub" / "logs.db")
    assert isinstance(info.value, ValueError)
    assert info.value.path.endswith("logs.db")


def test_directory_as_storage_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoragePathError, match="is a directory"):
        LogAnalyticsEngine(storage=tmp_path)


def test_missing_parent_directories_are_created(tmp_path: Path) -> None:
    with LogAnalyticsEngine(storage=tmp_path / "a" / "b" / "logs.db") as engine:
        engine.ingest_logs(_records(1))
    assert (tmp_path / "a" / "b" / "logs.db").exists()


def test_text_file_is_not_ours_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    before = path.read_bytes()
    with pytest.raises(StorageNotOursError) as info:
        LogAnalyticsEngine(storage=path)
    assert isinstance(info.value, ValueError)
    assert path.read_bytes() == before


def test_foreign_sqlite_database_is_not_ours(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(StorageNotOursError, match="application_id"):
        LogAnalyticsEngine(storage=path)
    with sqlite3.connect(path) as db:  # untouched
        assert db.execute("SELECT name FROM sqlite_master").fetchall() == [("customers",)]


def test_future_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    LogAnalyticsEngine(storage=path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StorageVersionError) as info:
        LogAnalyticsEngine(storage=path)
    assert info.value.found == SCHEMA_VERSION + 1
    assert isinstance(info.value, ValueError)


def _fill_until_full(engine: LogAnalyticsEngine, recs: list[dict[str, Any]]) -> int:
    """Ingest batches of 50 until the storage refuses one; return how many were accepted."""
    accepted = 0
    for k in range(0, len(recs), 50):
        try:
            accepted += engine.ingest_logs(recs[k:k + 50])
        except StorageFullError:
            return accepted
    raise AssertionError("the disk never filled up")


def _limit_pages(engine: LogAnalyticsEngine, extra_pages: int) -> None:
    storage = engine._storage
    assert storage is not None
    used = storage._db.execute("PRAGMA page_count").fetchone()[0]
    storage._db.execute(f"PRAGMA max_page_count={used + extra_pages}")


def _ingest_and_flush_until_error(engine: LogAnalyticsEngine, recs: list[dict[str, Any]]) -> None:
    for k in range(0, len(recs), 50):
        engine.ingest_logs(recs[k:k + 50])
        engine.flush()


def test_full_disk_in_sync_mode_fails_the_call_and_keeps_nothing_of_it(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    recs = _records(5000)
    engine = LogAnalyticsEngine(storage=db, durability="sync")
    _limit_pages(engine, 40)
    accepted = _fill_until_full(engine, recs)
    assert len(engine) == accepted
    engine._check()
    with sqlite3.connect(db) as other:
        assert _rows_on_disk(other) == accepted
    engine.close()
    with LogAnalyticsEngine(storage=db) as reopened:
        assert [e.message for e in reopened.all_logs] == [r["message"] for r in recs[:accepted]]


def test_full_disk_in_batch_mode_fails_the_next_call(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    recs = _records(5000)
    engine = LogAnalyticsEngine(storage=db, durability="batch", batch_size=100,
                                batch_interval=60)
    _limit_pages(engine, 40)
    with pytest.raises(StorageFullError):
        _ingest_and_flush_until_error(engine, recs)
    in_memory = len(engine)
    with pytest.raises(StorageFullError):  # still failing: refused, not acknowledged
        engine.ingest_logs(recs[-10:])
    assert len(engine) == in_memory
    assert engine.get_stats()["storage"]["flush_errors_total"] >= 1
    engine._check()


def test_full_disk_error_carries_the_path(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    engine = LogAnalyticsEngine(storage=db, durability="sync")
    _limit_pages(engine, 2)
    recs = _records(3000)
    with pytest.raises(StorageFullError) as info:
        _ingest_and_flush_until_error(engine, recs)
    assert info.value.path == os.fspath(db)
    assert "full" in str(info.value)


# -- alerts -------------------------------------------------------------------------------
def test_alert_history_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    rule = AlertRule("errors", conditions={"level": "ERROR"}, threshold=2, time_window=60)
    with LogAnalyticsEngine(storage=db) as engine:
        engine.add_alert_rule(rule)
        engine.ingest_logs([LogEntry(t, "ERROR", f"boom {t}") for t in (0, 1, 2)])
        fired = [(a.rule_name, a.count, a.triggered_at) for a in engine.get_alerts()]
    assert fired
    with LogAnalyticsEngine(storage=db) as engine:
        assert [(a.rule_name, a.count, a.triggered_at) for a in engine.get_alerts()] == fired


def test_alert_rule_window_and_cooldown_survive_reopen(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"

    def rule() -> AlertRule:
        return AlertRule("errors", conditions={"level": "ERROR"}, threshold=3,
                         time_window=60, cooldown=1000)

    with LogAnalyticsEngine(storage=db) as engine:
        engine.add_alert_rule(rule())
        engine.ingest_logs([LogEntry(t, "ERROR", "boom") for t in (0, 1)])
    with LogAnalyticsEngine(storage=db) as engine:
        engine.add_alert_rule(rule())
        engine.ingest_log(LogEntry(2, "ERROR", "boom"))  # third in the window: fires
        assert [a.count for a in engine.get_alerts()] == [3]
        engine.ingest_logs([LogEntry(t, "ERROR", "boom") for t in (3, 4, 5)])
    with LogAnalyticsEngine(storage=db) as engine:
        engine.add_alert_rule(rule())
        engine.ingest_log(LogEntry(6, "ERROR", "boom"))  # cooldown restored: silent
        assert len(engine.get_alerts()) == 1


# -- property -----------------------------------------------------------------------------
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=8),
       reopen_after=st.integers(0, 7))
def test_reopen_equals_the_engine_that_wrote_it(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], reopen_after: int
) -> None:
    db = tmp_path_factory.mktemp("prop") / "logs.db"
    recs = _records(sum(sizes), seed=len(sizes))
    reference = LogAnalyticsEngine()
    engine = LogAnalyticsEngine(storage=db, durability="batch", batch_size=25)
    pos = 0
    for i, n in enumerate(sizes):
        engine.ingest_logs(recs[pos:pos + n])
        reference.ingest_logs(recs[pos:pos + n])
        pos += n
        if i == reopen_after:
            engine.close()
            engine = LogAnalyticsEngine(storage=db, durability="batch", batch_size=25)
    engine.close()
    with LogAnalyticsEngine(storage=db) as reopened:
        assert _dump(reopened) == _dump(reference)
        reopened._check()
        _assert_indexes_match_scan(reopened)


# -- word index snapshot ------------------------------------------------------------------
def _snapshot_upto(db: Path) -> int:
    with sqlite3.connect(db) as other:
        row = other.execute("SELECT value FROM meta WHERE key = 'snapshot_upto'").fetchone()
    return int(row[0]) if row else 0


def test_close_writes_a_word_snapshot_that_reopen_uses(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_logs(_records(500))
    assert _snapshot_upto(db) == 500
    with LogAnalyticsEngine(storage=db) as reopened:
        reopened._check()
        _assert_indexes_match_scan(reopened)


def test_entries_after_the_snapshot_are_tokenized_on_reopen(tmp_path: Path) -> None:
    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_logs(_records(300))
    engine = LogAnalyticsEngine(storage=db, durability="sync")
    engine.ingest_log(LogEntry(0, message="zebra after snapshot"))
    # the engine is abandoned without close(), as by a crash
    assert _snapshot_upto(db) == 300  # no close: the old snapshot stays
    with LogAnalyticsEngine(storage=db) as reopened:
        assert reopened.count_logs({"keyword": "zebra"}) == 1
        reopened._check()
        _assert_indexes_match_scan(reopened)


def test_snapshot_stays_true_after_later_evictions(tmp_path: Path) -> None:
    from log_analytics_engine import Retention

    db = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=db) as engine:
        engine.ingest_logs(_records(400))
    engine = LogAnalyticsEngine(storage=db, durability="sync",
                                retention=Retention(max_entries=250))
    engine.ingest_logs(_records(50, seed=99))
    assert engine._storage is not None
    engine._storage.flush()  # abandoned without close: snapshot still covers ids < 400
    with LogAnalyticsEngine(storage=db) as reopened:
        assert reopened._store.base == 450 - len(reopened) > 200
        reopened._check()
        _assert_indexes_match_scan(reopened)


def test_sync_mode_commits_evictions_without_another_call(tmp_path: Path) -> None:
    from log_analytics_engine import Retention

    db = tmp_path / "logs.db"
    engine = LogAnalyticsEngine(storage=db, durability="sync", batch_interval=0.01,
                                retention=Retention(max_entries=10))
    engine.ingest_logs(_records(25))
    on_disk = -1
    for _ in range(1000):  # wait for the flusher thread (a condition, not a duration)
        with sqlite3.connect(db) as other:
            on_disk = _rows_on_disk(other)
        if on_disk == len(engine):
            break
        threading.Event().wait(0.01)
    assert on_disk == len(engine) == 10
    engine.close()


class _StoredAlerts:
    """The two alert reads of a Storage, returning a given state blob."""

    def __init__(self, state: bytes) -> None:
        self.state = state

    def load_alert_history(self, limit: int) -> list[bytes]:
        return []

    def load_alert_state(self) -> bytes:
        return self.state


@pytest.mark.parametrize("blob", [b'{"version": 99}', b"not json"])
def test_unreadable_rule_state_is_ignored_with_a_warning(
    blob: bytes, caplog: pytest.LogCaptureFixture,
) -> None:
    from log_analytics_engine.alerts import AlertManager
    from log_analytics_engine.alerts.state import recover

    manager = AlertManager()
    recover(manager, _StoredAlerts(blob))  # type: ignore[arg-type]
    assert manager.state_to_dict()["rules"] == {}
    assert "not restored" in caplog.text


def test_batch_mode_never_queues_more_than_max_pending(tmp_path: Path) -> None:
    engine = LogAnalyticsEngine(storage=tmp_path / "logs.db", durability="batch",
                                batch_size=10, batch_interval=60)
    storage = engine._storage
    assert storage is not None
    assert storage.max_pending == 40
    recs = _records(400)
    seen = []
    for k in range(0, len(recs), 7):
        engine.ingest_logs(recs[k:k + 7])
        seen.append(storage.pending)
    assert max(seen) <= 40
    assert storage.committed_total + storage.pending == 400
    engine.close()


def test_a_version_1_file_is_migrated_to_chunks(tmp_path: Path) -> None:
    """Files written before chunks (schema 1: a row per entry) open with every entry."""
    from log_analytics_engine.storage.sqlite import APPLICATION_ID, encode_entries

    db = tmp_path / "v1.db"
    recs = _records(30)
    entries = [LogEntry.from_dict(r) for r in recs]
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE entries (id INTEGER PRIMARY KEY, ts REAL NOT NULL, "
                     "data BLOB NOT NULL)")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        conn.execute("CREATE TABLE alert_history (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                     "data BLOB NOT NULL)")
        conn.execute("CREATE TABLE postings (idx TEXT NOT NULL, term TEXT NOT NULL, "
                     "ids BLOB NOT NULL, PRIMARY KEY (idx, term)) WITHOUT ROWID")
        rows = []
        for i, e in enumerate(entries):
            (_, _, data), = encode_entries([e])
            rows.append((i + 5, e.ts, data[1:-1]))  # ids 5.. (0-4 were evicted)
        conn.executemany("INSERT INTO entries (id, ts, data) VALUES (?, ?, ?)", rows)
        conn.execute("INSERT INTO meta VALUES ('evicted_below', 5)")
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute("PRAGMA user_version=1")
    with LogAnalyticsEngine(storage=db) as engine:
        assert [e.message for e in engine.all_logs] == [r["message"] for r in recs]
        assert engine._store.base == 5
        _assert_indexes_match_scan(engine)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert _rows_on_disk(conn) == 30


def test_reopen_after_an_eviction_inside_a_chunk(tmp_path: Path) -> None:
    from log_analytics_engine import Retention

    db = tmp_path / "logs.db"
    recs = _records(100)
    with LogAnalyticsEngine(storage=db, retention=Retention(max_entries=40)) as engine:
        engine.ingest_logs(recs)  # one chunk of 100, of which the oldest are evicted
        kept = len(engine)
        assert 0 < kept <= 40
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 1
        assert _rows_on_disk(conn) == kept
    with LogAnalyticsEngine(storage=db) as engine:
        assert [e.message for e in engine.all_logs] == [r["message"] for r in recs[-kept:]]
        assert engine._store.base == 100 - kept
        engine._check()
        _assert_indexes_match_scan(engine)
