"""Corrupt storage never opens silently or with a raw error: every problem is a
``StorageError`` subclass naming the file; a bad snapshot is rebuilt from the chunks; and
``salvage=True`` rebuilds a damaged file from its readable chunks, saying what was lost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import run_sql

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.errors import StorageCorruptError, StorageError
from log_analytics_engine.storage.sqlite import CHUNK, SCHEMA_VERSION

N = 5 * CHUNK - 100  # five chunks, the last one partly full
ERRORS = N // 10


def _make(path: Path) -> list[str]:
    with LogAnalyticsEngine(storage=path, durability="sync") as engine:
        engine.ingest_logs([LogEntry(i, "ERROR" if i % 10 == 0 else "INFO", f"message {i}",
                                     source=f"s{i % 3}") for i in range(N)])
        return [e.message for e in engine.query_logs()]


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "logs.db"
    return path, _make(path)


def test_garbage_mid_file_is_a_storage_error_and_salvage_recovers(
        stored: tuple[Path, list[str]]) -> None:
    path, messages = stored
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 8192] = b"\xde\xad\xbe\xef" * 2048
    path.write_bytes(bytes(raw))
    with pytest.raises(StorageCorruptError) as info:
        LogAnalyticsEngine(storage=path)
    assert info.value.path == str(path)
    assert "salvage=True" in info.value.reason
    with LogAnalyticsEngine(storage=path, salvage=True) as engine:
        report = engine.salvage_report
        assert report is not None
        assert report.entries_recovered == len(engine) > 0
        assert report.entries_recovered + report.entries_lost == N
        assert report.entries_lost > 0
        assert Path(report.damaged_copy).exists()
        kept = [e.message for e in engine.query_logs()]
        assert set(kept) <= set(messages)
        engine._check()
    with LogAnalyticsEngine(storage=path) as again:  # the rebuilt file opens cleanly
        assert len(again) == report.entries_recovered
        assert again.salvage_report is None


def test_truncated_file_is_called_damaged_not_foreign(stored: tuple[Path, list[str]]) -> None:
    path, _ = stored
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(StorageCorruptError) as info:
        LogAnalyticsEngine(storage=path)
    assert "not a log_analytics_engine database" not in str(info.value)


def test_bad_snapshot_bitmap_is_rebuilt_from_the_chunks(stored: tuple[Path, list[str]]) -> None:
    path, _ = stored
    run_sql(path, "UPDATE postings SET ids = x'00010203' WHERE idx = 'level' AND term = 'ERROR'")
    with LogAnalyticsEngine(storage=path) as engine:
        assert engine.count_logs({"level": "ERROR"}) == ERRORS
        engine._check()


def test_deleted_snapshot_postings_are_rebuilt(stored: tuple[Path, list[str]]) -> None:
    """Was: count_logs(level=ERROR) answered 0 instead of the real count."""
    path, _ = stored
    run_sql(path, "DELETE FROM postings WHERE idx = 'level'")
    with LogAnalyticsEngine(storage=path) as engine:
        assert engine.count_logs({"level": "ERROR"}) == ERRORS
        assert engine.count_logs({"level": "INFO"}) == N - ERRORS
        engine._check()


def test_snapshot_edited_to_stay_consistent_is_caught_by_its_digest(
        stored: tuple[Path, list[str]]) -> None:
    path, _ = stored
    run_sql(path, "UPDATE postings SET term = 'elsewhere' WHERE idx = 'source' AND term = 's1'")
    with LogAnalyticsEngine(storage=path) as engine:
        assert engine.count_logs({"source": "elsewhere"}) == 0
        assert engine.count_logs({"source": "s1"}) == len(range(1, N, 3))


@pytest.mark.parametrize("which", ["last", "first", "middle"])
def test_deleted_chunk_row_is_never_loss_in_silence(stored: tuple[Path, list[str]],
                                                    which: str) -> None:
    path, _ = stored
    first = {"last": 4 * CHUNK, "first": 0, "middle": 2 * CHUNK}[which]
    run_sql(path, f"DELETE FROM chunks WHERE first_id = {first}")
    with pytest.raises(StorageCorruptError, match=r"missing|not dense"):
        LogAnalyticsEngine(storage=path)
    with LogAnalyticsEngine(storage=path, salvage=True) as engine:
        report = engine.salvage_report
        assert report is not None
        lost = CHUNK if which != "last" else N - 4 * CHUNK
        assert report.entries_lost == lost
        assert len(engine) == N - lost
        assert report.lost_ranges == [[first, first + lost - 1]]


def test_edited_chunk_fails_its_checksum(stored: tuple[Path, list[str]]) -> None:
    path, _ = stored
    run_sql(path, "UPDATE chunks SET data = replace(data, 'message 5', 'massage 5') "
               f"WHERE first_id = {CHUNK}")
    with pytest.raises(StorageCorruptError, match="checksum mismatch"):
        LogAnalyticsEngine(storage=path)


def test_every_problem_is_a_storage_error(stored: tuple[Path, list[str]]) -> None:
    path, _ = stored
    run_sql(path, "UPDATE meta SET value = 'x' WHERE key = 'next_id'")
    with pytest.raises(StorageError, match="next_id"):
        LogAnalyticsEngine(storage=path)


def test_schema_2_file_is_migrated_with_checksums(tmp_path: Path) -> None:
    """A version 2 file (no crc column, no next_id) opens, becomes version 3, keeps its
    entries and gets a checksum per chunk."""
    path = tmp_path / "v2.db"
    messages = _make(path)
    run_sql(path, "ALTER TABLE chunks DROP COLUMN crc", "DELETE FROM meta WHERE key = 'next_id'",
         "PRAGMA user_version=2")
    with LogAnalyticsEngine(storage=path) as engine:
        assert [e.message for e in engine.query_logs()] == messages
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert db.execute("SELECT count(*) FROM chunks WHERE crc IS NULL").fetchone()[0] == 0
    assert db.execute("SELECT value FROM meta WHERE key = 'next_id'").fetchone()[0] == N
    db.close()
    run_sql(path, f"DELETE FROM chunks WHERE first_id = {4 * CHUNK}")
    with pytest.raises(StorageCorruptError, match="missing"):
        LogAnalyticsEngine(storage=path)


def test_salvage_after_a_late_bad_chunk_forgets_the_batches_loaded_before_it(
        stored: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading appends batch by batch; a bad chunk found after some batches were appended
    must leave salvage an empty store to rebuild, not the half-loaded one."""
    from log_analytics_engine.storage import loading

    monkeypatch.setattr(loading, "LOAD_CHUNK", 1)  # every chunk is appended as it is read
    path, messages = stored
    run_sql(path, "UPDATE chunks SET crc = crc + 1 WHERE first_id = "
               "(SELECT max(first_id) FROM chunks)")
    with pytest.raises(StorageCorruptError):
        LogAnalyticsEngine(storage=path)
    with LogAnalyticsEngine(storage=path, salvage=True) as engine:
        report = engine.salvage_report
        assert report is not None
        assert len(engine) == report.entries_recovered < N
        assert [e.message for e in engine.query_logs()] == messages[: len(engine)]
        engine._check()
