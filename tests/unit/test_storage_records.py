"""Record chunks in the durable file: written as chunks seal, adopted by a reopen (after a
clean close or a crash) instead of parsing the JSON copy, and ignored with a fall back to the
JSON copy whenever they do not match it. Files of earlier versions (the records snapshot of
a clean close) are still read."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import run_sql

from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine.events.sample import generate_records
from log_analytics_engine.index import chunks
from log_analytics_engine.storage import loading, records


def _dump(engine: LogAnalyticsEngine) -> list[dict[str, Any]]:
    return [e.to_dict() | {"ts": e.ts} for e in engine.all_logs]


def _answers(engine: LogAnalyticsEngine) -> list[int]:
    """Indexed answers, to compare the indexes a reopen rebuilt with a fresh engine's."""
    return [engine.count_logs(f) for f in (
        {"level": "ERROR"}, {"keyword": "timeout"}, {"source": "db"}, {"tags": ["prod"]},
        {"keyword": "payment declined"})]


def _rows(path: Path, sql: str) -> list[Any]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _sealed(n: int, start: int = 0) -> int:
    """Ids from ``start`` held by sealed chunks after ``n`` entries."""
    bits = chunks.CHUNK_BITS
    return ((start + n) >> bits << bits) - start


@pytest.fixture
def adopted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many ids each reopen adopted from record chunks."""
    seen: list[int] = []
    real = records.load_chunks

    def spy(db: Any, path: str, store: Any, start: int) -> Any:
        resume, matched = real(db, path, store, start)
        seen.append(resume - start)
        return resume, matched

    monkeypatch.setattr(loading, "load_chunks", spy)
    return seen


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many entries each reopen parsed from the JSON copy."""
    seen: list[int] = []
    real = loading.decode_chunk

    def spy(*args: Any) -> Any:
        out = real(*args)
        seen.append(len(out))
        return out

    monkeypatch.setattr(loading, "decode_chunk", spy)
    return seen


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    path = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=path) as engine:
        engine.ingest_logs(generate_records(3000, 3))
        return path, _dump(engine)


def test_chunks_are_written_as_they_seal(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    engine = LogAnalyticsEngine(storage=path, durability="sync")
    engine.ingest_logs(generate_records(1000, 1))
    engine.ingest_logs(generate_records(500, 2))
    engine.flush()
    size = 1 << chunks.CHUNK_BITS
    firsts = [r[0] for r in _rows(path, "SELECT first_id FROM record_chunks ORDER BY 1")]
    assert firsts == list(range(0, _sealed(1500), size))  # no close needed
    engine.close()


def test_reopen_adopts_the_chunks_and_gives_the_same_entries(
    stored: tuple[Path, list[dict[str, Any]]], adopted: list[int], decoded: list[int]
) -> None:
    path, before = stored
    with LogAnalyticsEngine(storage=path) as engine:
        assert _dump(engine) == before
        assert _answers(engine) == _answers(_fresh(before))
        engine._check()
        engine.ingest_logs(generate_records(500, 4))  # appends after adopted chunks
        after = _dump(engine)
    assert adopted[0] == _sealed(3000)  # every sealed chunk
    assert sum(decoded) == 3000 - _sealed(3000)  # only the unsealed tail parsed
    with LogAnalyticsEngine(storage=path) as again:
        assert _dump(again) == after
        again._check()
    assert adopted[1] == _sealed(3500)


def _fresh(dumped: list[dict[str, Any]]) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry.from_dict({k: v for k, v in d.items() if k != "ts"})
                        for d in dumped])
    return engine


def test_a_reopen_after_a_crash_adopts_the_chunks_and_rebuilds_the_indexes(
    tmp_path: Path, adopted: list[int], decoded: list[int]
) -> None:
    path = tmp_path / "crash.db"
    with LogAnalyticsEngine(storage=path) as engine:  # a snapshot for the first 1000
        engine.ingest_logs(generate_records(1000, 7))
    engine = LogAnalyticsEngine(storage=path, durability="sync")
    engine.ingest_logs(generate_records(2000, 8))
    engine.flush()  # "sync" commits the chunks of a batch with the next write or flush
    before = _dump(engine)
    # abandoned without close(), as by a crash: no snapshot of the last 2000
    with LogAnalyticsEngine(storage=path) as reopened:
        assert _dump(reopened) == before
        assert _answers(reopened) == _answers(engine)
        reopened._check()
    assert adopted[-1] == _sealed(3000)
    assert sum(decoded) == 3000 - _sealed(3000)  # no JSON parsed but the unsealed tail


@pytest.mark.parametrize("damage", [
    "UPDATE record_chunks SET data = substr(data, 1, 10) || x'00' || substr(data, 12)",
    "UPDATE record_chunks SET offsets = zeroblob(8)",
    "UPDATE record_strings SET items = 'junk'",
    "UPDATE record_strings SET first_code = first_code + 1",
    "UPDATE record_chunks SET need = '[999999,0,0]'",
    "DELETE FROM record_strings",
])
def test_unusable_chunks_fall_back_to_the_json_copy(
    stored: tuple[Path, list[dict[str, Any]]], damage: str, adopted: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, before = stored
    run_sql(path, damage)
    with caplog.at_level(logging.WARNING), LogAnalyticsEngine(storage=path) as engine:
        assert _dump(engine) == before
        engine._check()
    assert adopted == [0]
    # the reopen that read the JSON copy started the record tables over: usable again
    with LogAnalyticsEngine(storage=path) as engine:
        assert _dump(engine) == before
    assert adopted[1] == _sealed(3000)


@pytest.mark.parametrize("bits_or_gap", ["bits", "gap"])
def test_a_gap_or_another_chunk_size_ends_the_run(
    stored: tuple[Path, list[dict[str, Any]]], bits_or_gap: str, adopted: list[int]
) -> None:
    path, before = stored
    middle = (1 << chunks.CHUNK_BITS) * 10
    if bits_or_gap == "gap":
        run_sql(path, f"DELETE FROM record_chunks WHERE first_id = {middle}")
    else:
        run_sql(path, f"UPDATE record_chunks SET bits = 99 WHERE first_id = {middle}")
    with LogAnalyticsEngine(storage=path) as engine:
        assert _dump(engine) == before
        engine._check()
    assert adopted == [middle]


def test_a_chunk_holding_an_entry_kept_as_an_object_is_not_written(
    tmp_path: Path, adopted: list[int]
) -> None:
    path = tmp_path / "kept.db"
    size = 1 << chunks.CHUNK_BITS
    entries = [LogEntry(f"2025-07-20T08:00:{i % 60:02d}Z", "INFO", f"m {i}")
               for i in range(4 * size)]
    # a datetime timestamp: no record holds it, the chunk keeps the object
    entries[size + 1] = LogEntry(datetime(2025, 7, 20, 8, tzinfo=timezone.utc), "INFO", "dt")
    with LogAnalyticsEngine(storage=path) as engine:
        engine.ingest_logs(entries)
        before = [(e.ts, e.message) for e in engine.all_logs]
    firsts = [r[0] for r in _rows(path, "SELECT first_id FROM record_chunks ORDER BY 1")]
    assert firsts == [0, 2 * size, 3 * size]
    with LogAnalyticsEngine(storage=path) as engine:
        assert [(e.ts, e.message) for e in engine.all_logs] == before
        engine._check()
    assert adopted == [size]


def test_chunks_of_evicted_ids_are_deleted(tmp_path: Path, adopted: list[int]) -> None:
    path = tmp_path / "ret.db"
    with LogAnalyticsEngine(storage=path, retention=Retention(max_entries=1000)) as engine:
        engine.ingest_logs(generate_records(2500, 6))
        before = _dump(engine)
        first_live = engine.query_logs({}, page_size=1)[0].ts
    assert first_live
    size = 1 << chunks.CHUNK_BITS
    lowest = _rows(path, "SELECT min(first_id) FROM record_chunks")[0][0]
    below = _rows(path, "SELECT value FROM meta WHERE key = 'evicted_below'")[0][0]
    assert lowest + size > below  # nothing wholly evicted is left
    with LogAnalyticsEngine(storage=path, retention=Retention(max_entries=1000)) as engine:
        assert _dump(engine) == before
        engine._check()
    assert adopted[0] > 0


def test_a_file_of_an_earlier_version_is_still_adopted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its records snapshot (written by a clean close, no record chunks) is read."""
    path = tmp_path / "old.db"
    engine = LogAnalyticsEngine(storage=path, durability="sync")
    engine.ingest_logs(generate_records(3000, 9))
    before = _dump(engine)
    legacy = records.records_snapshot(engine._store)
    upto = engine._store.next_id
    engine.close()
    db = sqlite3.connect(path)
    with db:
        db.execute(records.RECORDS_TABLE)
        db.execute("DELETE FROM record_chunks")
        db.execute("DELETE FROM record_strings")
        records.write_records(db, legacy, upto)
    db.close()
    seen: list[int] = []
    real = records.load_records

    def spy(*args: Any) -> int:
        resume = real(*args)
        seen.append(resume - args[3])
        return resume

    monkeypatch.setattr(loading, "load_records", spy)
    with LogAnalyticsEngine(storage=path) as reopened:
        assert _dump(reopened) == before
        reopened._check()
    assert seen == [_sealed(3000)]
    assert len(_rows(path, "SELECT first_id FROM record_chunks")) == _sealed(3000) >> (
        chunks.CHUNK_BITS)  # and written again in the current layout


def test_an_edited_json_chunk_under_the_records_is_still_caught(
    stored: tuple[Path, list[dict[str, Any]]]
) -> None:
    from log_analytics_engine.errors import StorageCorruptError

    path, _ = stored
    run_sql(path, "UPDATE chunks SET data = replace(data, 'a', 'b') "
               "WHERE first_id = (SELECT min(first_id) FROM chunks)")
    with pytest.raises(StorageCorruptError, match="checksum"):
        LogAnalyticsEngine(storage=path)


def test_a_failure_to_queue_chunks_never_fails_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    adopted: list[int],
) -> None:
    path = tmp_path / "q.db"
    calls = {"n": 0}
    real = records.RecordLog.pending

    def flaky(self: records.RecordLog, store: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise MemoryError("no room")
        return real(self, store)

    monkeypatch.setattr(records.RecordLog, "pending", flaky)
    engine = LogAnalyticsEngine(storage=path)  # call 1: at open; call 2: the first batch
    with caplog.at_level(logging.WARNING):
        engine.ingest_logs(generate_records(300, 1))  # the batch stays in
    assert len(engine) == 300
    assert "starting them over" in caplog.text
    engine.ingest_logs(generate_records(300, 2))
    before = _dump(engine)
    engine.close()
    with LogAnalyticsEngine(storage=path) as again:
        assert _dump(again) == before
    assert adopted[-1] == _sealed(600)
