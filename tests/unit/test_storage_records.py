"""The records snapshot: reopening adopts the sealed chunks written by a clean close, and falls
back to the JSON copy whenever they do not match it."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import run_sql

from log_analytics_engine import LogAnalyticsEngine, Retention
from log_analytics_engine.events.sample import generate_records
from log_analytics_engine.index import chunks
from log_analytics_engine.storage import loading, records


def _dump(engine: LogAnalyticsEngine) -> list[dict[str, Any]]:
    return [e.to_dict() | {"ts": e.ts} for e in engine.all_logs]


def _meta(path: Path, key: str) -> Any:
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]
    finally:
        db.close()


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    path = tmp_path / "logs.db"
    with LogAnalyticsEngine(storage=path) as engine:
        engine.ingest_logs(generate_records(3000, 3))
        return path, _dump(engine)


def _adopted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many ids each reopen adopted from records."""
    seen: list[int] = []
    real = records.load_records

    def spy(*args: Any) -> int:
        resume = real(*args)
        seen.append(resume - args[3])
        return resume

    monkeypatch.setattr(loading, "load_records", spy)
    return seen


def test_reopen_adopts_the_records_and_gives_the_same_entries(
    stored: tuple[Path, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, before = stored
    adopted = _adopted(monkeypatch)
    with LogAnalyticsEngine(storage=path) as engine:
        assert _dump(engine) == before
        assert engine.count_logs({"level": "ERROR"}) == sum(
            r["level"] == "ERROR" for r in before)
        engine._check()
        engine.ingest_logs(generate_records(500, 4))  # appends after adopted chunks
        after = _dump(engine)
        engine._check()
    bits = chunks.CHUNK_BITS
    assert adopted[0] == (3000 >> bits) << bits  # every sealed chunk, none decoded
    with LogAnalyticsEngine(storage=path) as again:
        assert _dump(again) == after
        again._check()


@pytest.mark.parametrize("damage", [
    "UPDATE records SET data = substr(data, 1, 10) || x'00' || substr(data, 12)",
    "UPDATE meta SET value = 'junk' WHERE key = 'records_tables'",
    "UPDATE records SET data = zeroblob(length(data))",
    "UPDATE records SET offsets = zeroblob(8)",
    "UPDATE meta SET value = 99 WHERE key = 'records_bits'",
    "DELETE FROM records WHERE first_id = (SELECT min(first_id) FROM records)",
    "UPDATE meta SET value = value + 1 WHERE key = 'records_for'",
    "DROP TABLE records",
])
def test_unusable_records_fall_back_to_the_json_copy(
    stored: tuple[Path, list[dict[str, Any]]], damage: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, before = stored
    run_sql(path, damage)
    adopted = _adopted(monkeypatch)
    with caplog.at_level(logging.WARNING), LogAnalyticsEngine(storage=path) as engine:
        assert _dump(engine) == before
        engine._check()
    assert adopted == [0]


def test_a_close_without_records_leaves_none_to_adopt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "few.db"
    with LogAnalyticsEngine(storage=path) as engine:  # too few to seal a chunk
        engine.ingest_logs(generate_records((1 << chunks.CHUNK_BITS) - 1, 5))
        before = _dump(engine)
    assert _meta(path, "records_for") == -1
    adopted = _adopted(monkeypatch)
    with LogAnalyticsEngine(storage=path) as engine:
        assert _dump(engine) == before
    assert adopted == [0]


def test_records_of_evicted_ids_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "ret.db"
    with LogAnalyticsEngine(storage=path, retention=Retention(max_entries=1000)) as engine:
        engine.ingest_logs(generate_records(2500, 6))
        before = _dump(engine)
    with LogAnalyticsEngine(storage=path, retention=Retention(max_entries=1000)) as engine:
        assert _dump(engine) == before
        engine._check()


def test_an_edited_json_chunk_under_the_records_is_still_caught(
    stored: tuple[Path, list[dict[str, Any]]]
) -> None:
    from log_analytics_engine.errors import StorageCorruptError

    path, _ = stored
    run_sql(path, "UPDATE chunks SET data = replace(data, 'a', 'b') "
               "WHERE first_id = (SELECT min(first_id) FROM chunks)")
    with pytest.raises(StorageCorruptError, match="checksum"):
        LogAnalyticsEngine(storage=path)
