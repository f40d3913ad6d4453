"""Lines written straight into records (``ingest_records`` and :class:`RecordBatch`).

A file read by an engine without storage, alert rules or field indexes goes into records with
no entry object per line; the store adopts the complete chunks as they are. These tests check
that it holds the same entries as the entry path, that complete chunks are never encoded
again, and that a batch numbered or encoded for another state of the store still lands right.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from strategies import fingerprint

from log_analytics_engine import AlertRule, LogAnalyticsEngine, LogEntry
from log_analytics_engine import _native as native
from log_analytics_engine.index import chunks as chunks_module
from log_analytics_engine.index.chunks import RecordBatch
from log_analytics_engine.index.store import Store

pytestmark = pytest.mark.skipif(not native.record_reads, reason="the C accelerator writes records")


def lines(n: int, start: int = 0) -> list[bytes]:
    """Lines of the common shape, with an odd one now and then (escaped text, a nested value,
    a long int: the entry path) and a bad one."""
    out = []
    for i in range(start, start + n):
        record: dict[str, Any] = {
            "timestamp": f"2025-07-20T08:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
            "level": ("INFO", "ERROR", "warn")[i % 3], "message": f"req {i % 7} done in {i} ms",
            "source": f"svc{i % 4}", "tags": [f"t{i % 5}"] * (i % 3),
            "metadata": {"latency_ms": i * 0.5, "user": f"u{i % 13}", "ok": i % 2 == 0}}
        if i % 17 == 0:
            record["message"] = "caf\u00e9 \"quoted\""
        if i % 19 == 0:
            record["metadata"]["nested"] = {"a": [1, 2]}
        if i % 23 == 0:
            record["metadata"]["big"] = 10**20
        out.append(json.dumps(record, ensure_ascii=i % 2 == 0).encode())
        if i % 29 == 0:
            out.append(b'{"timestamp": broken')
    return out


def entries_of(engine: LogAnalyticsEngine) -> list[Any]:
    return [fingerprint(e) for e in engine.all_logs]


def ingest(path: Path, records: bool, batch_size: int = 8192,
           before: list[LogEntry] = ()) -> tuple[LogAnalyticsEngine, dict[str, Any]]:
    engine = LogAnalyticsEngine() if records else LogAnalyticsEngine(index_fields=["user"])
    engine.ingest_logs(list(before))
    report = engine.ingest_logs_from_file(path, batch_size=batch_size)
    engine._check()
    return engine, report


@pytest.mark.parametrize("batch_size", [1, 3, 40, 8192])
@pytest.mark.parametrize("head", [0, 3])
def test_a_file_read_into_records_holds_what_the_entry_path_holds(
    tmp_path: Path, batch_size: int, head: int
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n".join(lines(300)) + b"\n")
    before = [LogEntry(1.0 + i, "INFO", f"first {i}") for i in range(head)]
    fast, fast_report = ingest(path, True, batch_size, before)
    slow, slow_report = ingest(path, False, batch_size, before)
    assert fast._driver._records() is not None
    assert slow._driver._records() is None
    assert entries_of(fast) == entries_of(slow)
    for key in ("count", "errors", "rejected"):
        assert fast_report[key] == slow_report[key]
    assert fast_report["errors"] == 11  # the broken lines, with their line numbers
    for query in ({"level": "ERROR"}, {"keyword": "done"}, {"source": "svc2"}, {"tag": "t1"},
                  {"keyword": "caf\u00e9"}):
        assert [fingerprint(e) for e in fast.query_logs(query, page_size=None)] == [
            fingerprint(e) for e in slow.query_logs(query, page_size=None)]


def test_complete_chunks_are_adopted_without_encoding_an_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n".join(lines(500)) + b"\n")
    encoded: list[int] = []
    encode = native.encode_records

    def counting(entries: list[LogEntry], tables: Any) -> Any:
        encoded.append(len(entries))
        return encode(entries, tables)

    monkeypatch.setattr(native, "encode_records", counting)
    engine, report = ingest(path, True, batch_size=8192)
    size = 1 << chunks_module.CHUNK_BITS
    assert report["count"] == 500
    assert engine._store.entries.sealed() == 500 // size
    assert encoded == []  # every sealed chunk came from the kernel as records
    assert len(engine._store.entries.tail) == 500 % size


def _batch(store: Store, raw: list[bytes], first: int, tables: Any = None) -> RecordBatch:
    entries = store.entries
    tables = entries.tables if tables is None else tables
    chunks, stamps, count, _, rest = native.ingest_records(
        [b"\n".join(raw)], first, {}, {}, {}, {}, {}, tables, entries.bits, True)
    assert count == len(raw)
    assert rest == b""
    return RecordBatch(chunks, stamps, first, tables, entries.bits)


def _parsed(raw: list[bytes]) -> list[Any]:
    return [fingerprint(e) for e in native.python.entries_from_lines(raw)[0] if e is not None]


def test_a_batch_numbered_before_another_writer_appended_lands_after_it() -> None:
    """The batch was numbered from id 0 at read time; another entry took id 0 first: the
    batch's entries are built and appended after it."""
    store = Store()
    raw = [line for line in lines(40) if b"broken" not in line]
    batch = _batch(store, raw, 0)
    other = LogEntry(5.0, "INFO", "another writer")
    store.append([other])
    store.append(batch)
    store.entries._check()
    assert [fingerprint(e) for e in store.entries] == [fingerprint(other), *_parsed(raw)]


def test_a_batch_encoded_against_other_tables_is_rebuilt() -> None:
    """Codes index the tables the batch was written against (a store reset since): the
    entries are built from those and encoded again against the store's."""
    store = Store()
    raw = [line for line in lines(40) if b"broken" not in line]
    batch = _batch(store, raw, 0, tables=_fresh_tables())
    store.append(batch)
    store.entries._check()
    assert [fingerprint(e) for e in store.entries] == _parsed(raw)


def _fresh_tables() -> Any:
    from log_analytics_engine._native.records import new_tables

    tables = new_tables()
    native.encode_records([LogEntry(1.0, "INFO", "req 1 done"), LogEntry(1.0, "INFO", "req 1")],
                          tables)  # codes the store's tables do not have
    return tables


def test_a_record_batch_reads_as_the_sequence_of_its_entries() -> None:
    store = Store()
    raw = [line for line in lines(30) if b"broken" not in line]
    batch = _batch(store, raw, 5)
    want = _parsed(raw)
    assert len(batch) == len(want)
    assert [fingerprint(e) for e in batch] == want
    assert [fingerprint(e) for e in batch.as_list()] == want
    assert fingerprint(batch[0]) == want[0]
    assert fingerprint(batch[-1]) == want[-1]
    assert [fingerprint(e) for e in batch[3:20:4]] == want[3:20:4]
    with pytest.raises(IndexError):
        batch[len(want)]


def test_the_driver_keeps_the_entry_path_when_something_reads_the_batch(
    tmp_path: Path
) -> None:
    """Storage, alert rules and field indexes read every entry of a batch: those engines
    parse into entries as before."""
    with LogAnalyticsEngine(storage=tmp_path / "s.db") as stored:
        assert stored._driver._records() is None
    ruled = LogAnalyticsEngine()
    assert ruled._driver._records() is not None
    ruled.add_alert_rule(AlertRule("errors", conditions={"level": "ERROR"}, threshold=1,
                                   time_window=60))
    assert ruled._driver._records() is None
