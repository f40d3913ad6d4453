"""Sealed chunks of records in the durable file, so that reopening adopts them as they are
instead of parsing the JSON copy of every entry (:mod:`.loading`).

**Record chunks, written as they seal** (``record_chunks`` and ``record_strings``). After each
batch is committed the writer hands the storage the chunks sealed since the last batch
(:class:`RecordLog`): one row per chunk (``first_id``: the public id of its first position,
its chunk bits, records, offsets, ``need``: the lengths of the three string tables when it
was sealed, and a CRC of the three), and the strings each table admitted since, as JSON
lists keyed by table and first code. The rows ride in the same queue as the JSON rows, so a
chunk is never committed before the entries it holds. Tables only grow while the file is
open; when the engine's tables do not extend the ones in the file (a reopen that read the
JSON copy), the writer starts the two tables over. Eviction deletes the chunks wholly below
the first live id. Reopening after a clean close or a crash adopts the contiguous chunks
from the first live id whose checksums and table lengths hold, and reads the rest from the
JSON copy; instants come from the JSON chunks' ``stamps``.

The JSON chunks stay the durable copy (every committed entry is there, crash or not): the
records are a speed-up, and anything that does not match is ignored with a warning. A chunk
holding an entry kept as an object (which has no record) is not written, which ends the
contiguous run there.

**The records snapshot of earlier versions** (``records``, ``meta.records_*``): written by a
clean close, valid for the ids below ``meta.records_upto`` when ``meta.records_for`` equals
``meta.snapshot_upto``. Still read from files that have no record chunks; no longer written.

Runtime complexity: O(chunks sealed) to queue (under the engine lock, no entry built),
O(n / chunk size) to read plus the instants.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import zlib
from array import array
from typing import TYPE_CHECKING, Any

import orjson

from .._native.records import Chunk

if TYPE_CHECKING:
    from ..index.store import Store

__all__ = ["RECORDS_TABLE", "RECORD_TABLES", "RecordLog", "load_chunks", "load_records",
           "records_snapshot", "write_records"]

log = logging.getLogger(__name__)

RECORDS_TABLE = (
    "CREATE TABLE IF NOT EXISTS records (first_id INTEGER PRIMARY KEY, data BLOB NOT NULL, "
    "offsets BLOB NOT NULL, crc INTEGER NOT NULL)")
RECORD_TABLES = (
    "CREATE TABLE IF NOT EXISTS record_chunks (first_id INTEGER PRIMARY KEY, "
    "bits INTEGER NOT NULL, data BLOB NOT NULL, offsets BLOB NOT NULL, need BLOB NOT NULL, "
    "crc INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS record_strings (tbl INTEGER NOT NULL, first_code INTEGER "
    "NOT NULL, items BLOB NOT NULL, PRIMARY KEY (tbl, first_code)) WITHOUT ROWID",
)
_PUT_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
_BIG_ENDIAN = sys.byteorder == "big"

#: ``(chunk bits, records_upto, tables blob, rows)`` with rows ``(first_id, data, offsets,
#: crc)``; public ids.
Records = tuple[int, int, bytes, list[tuple[int, bytes, bytes, int]]]


def _offsets_bytes(offsets: array[int]) -> bytes:
    if _BIG_ENDIAN:  # pragma: no cover - stored little-endian
        offsets = array("I", offsets)
        offsets.byteswap()
    return offsets.tobytes()


def _offsets_array(raw: bytes) -> array[int]:
    offsets = array("I")
    offsets.frombytes(raw)
    if _BIG_ENDIAN:  # pragma: no cover
        offsets.byteswap()
    return offsets


def records_snapshot(store: Store) -> Records | None:
    """The records snapshot an earlier version wrote at a clean close (kept to test that
    such files are still adopted): the sealed chunks of ``store`` up to the first holding an
    entry kept as an object, or None when there are none. Call under the engine lock.
    O(chunks)."""
    chunks = store.entries
    rows = []
    for j, (data, offsets, kept) in enumerate(chunks.chunks):
        if kept:
            break
        first = store.epoch + ((chunks.first_chunk + j) << chunks.bits)
        raw = _offsets_bytes(offsets)
        rows.append((first, data, raw, zlib.crc32(raw, zlib.crc32(data))))
    if not rows:
        return None
    upto = rows[-1][0] + (1 << chunks.bits)
    tables = orjson.dumps([list(items) for items in chunks.items])
    return chunks.bits, upto, tables, rows


def write_records(db: sqlite3.Connection, records: Records | None, snapshot_upto: int) -> None:
    """Replace the records snapshot (inside the caller's transaction)."""
    db.execute(RECORDS_TABLE)
    db.execute("DELETE FROM records")
    if records is None:
        db.execute(_PUT_META, ("records_for", -1))
        return
    bits, upto, tables, rows = records
    db.executemany("INSERT INTO records (first_id, data, offsets, crc) VALUES (?, ?, ?, ?)",
                   rows)
    db.execute(_PUT_META, ("records_bits", bits))
    db.execute(_PUT_META, ("records_upto", upto))
    db.execute(_PUT_META, ("records_tables", tables))
    db.execute(_PUT_META, ("records_for", snapshot_upto))


def _meta(db: sqlite3.Connection, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def load_records(db: sqlite3.Connection, path: str, store: Store, start: int,
                 snapshot_upto: int) -> int:
    """Adopt the records snapshot's chunks for the live ids from ``start`` (public) into the
    empty ``store``; return the first public id they do not cover (``start`` when none is
    usable). Instants come from the JSON chunks' ``stamps``."""
    try:
        return _load(db, path, store, start, snapshot_upto)
    except (ValueError, TypeError, orjson.JSONDecodeError, sqlite3.Error) as exc:
        log.warning("storage %r: the records snapshot is unusable (%s); reading the entries "
                    "from their JSON copy", path, exc)
        return start


def _load(db: sqlite3.Connection, path: str, store: Store, start: int,
          snapshot_upto: int) -> int:
    if db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'records'").fetchone()[0] == 0:
        return start
    chunks = store.entries
    bits = chunks.bits
    if _meta(db, "records_for") != snapshot_upto or _meta(db, "records_bits") != bits:
        return start
    upto = _meta(db, "records_upto")
    if type(upto) is not int or upto <= start or upto > snapshot_upto:
        return start
    size = 1 << bits
    first_chunk = start & ~(size - 1)  # the chunk holding the first live id
    rows = db.execute("SELECT first_id, data, offsets, crc FROM records WHERE first_id >= ? "
                      "AND first_id < ? ORDER BY first_id", (first_chunk, upto)).fetchall()
    if not rows or rows[0][0] != first_chunk:
        return start
    adopted: list[Chunk] = []
    expected = first_chunk
    for first, data, raw, crc in rows:
        if first != expected or type(data) is not bytes or type(raw) is not bytes:
            raise ValueError(f"records chunk {first} is not where expected ({expected})")
        if zlib.crc32(raw, zlib.crc32(data)) != crc:
            raise ValueError(f"records chunk {first}: checksum mismatch")
        adopted.append((data, _offsets_array(raw), None))
        expected += size
    end = expected  # the first public id the adopted chunks do not hold
    tables = orjson.loads(_meta(db, "records_tables"))
    stamps = _instants(db, start, end)
    store.adopt(adopted, tables, stamps)
    return end


def _instants(db: sqlite3.Connection, start: int, end: int) -> array[float]:
    """The instants of the public ids ``[start, end)`` from the JSON chunks' ``stamps``."""
    out = array("d")
    expected = None
    for first, last, raw in db.execute(
            "SELECT first_id, last_id, stamps FROM chunks WHERE last_id >= ? AND first_id < ? "
            "ORDER BY first_id", (start, end)):
        if expected is not None and first != expected:
            raise ValueError(f"ids are not dense at chunk {first}")
        expected = last + 1
        stamps = array("d")
        stamps.frombytes(raw)
        if _BIG_ENDIAN:  # pragma: no cover
            stamps.byteswap()
        if len(stamps) != last - first + 1:
            raise ValueError(f"chunk {first}..{last} holds {len(stamps)} instants")
        lo, hi = max(start, first), min(end, last + 1)
        out.extend(stamps[lo - first : hi - first])
    if len(out) != end - start:
        raise ValueError(f"{len(out)} instants for ids {start}..{end - 1}")
    return out


# -- record chunks written as they seal ----------------------------------------------------

#: ``(rows, strings)``: rows ``(first_id, bits, data, offsets, need, crc)`` and strings
#: ``(table, first_code, JSON list)``.
ChunkRows = tuple[list[tuple[int, int, bytes, bytes, bytes, int]], list[tuple[int, int, bytes]]]


def _chunk_crc(data: bytes, offsets: bytes, need: bytes) -> int:
    return zlib.crc32(need, zlib.crc32(offsets, zlib.crc32(data)))


class RecordLog:
    """What the storage has been given of the store's sealed chunks and string tables (the
    writer's side of ``record_chunks``; call its methods under the engine lock)."""

    __slots__ = ("counts", "next_first", "tables")

    def __init__(self, store: Store, matched: list[int] | None, covered: int) -> None:
        """``matched``: the table lengths the file holds when the store's tables extend
        them (read from it), else None (the file's record tables are started over);
        ``covered``: the public id up to which the file's chunks were adopted."""
        chunks = store.entries
        self.tables = chunks.tables
        self.counts = list(matched) if matched is not None else [0, 0, 0]
        # -1: start the file's tables over; else the first public id of the next chunk
        self.next_first = -1 if matched is None else covered >> chunks.bits << chunks.bits

    def pending(self, store: Store) -> tuple[bool, ChunkRows | None]:
        """``(reset, rows)``: whether the file's record tables must be started over first,
        and the chunks sealed and strings admitted since the last call (None when none).
        O(chunks sealed since)."""
        chunks = store.entries
        reset = self.next_first < 0 or chunks.tables is not self.tables
        if reset:
            self.tables, self.counts, self.next_first = chunks.tables, [0, 0, 0], 0
        bits, epoch = chunks.bits, store.epoch
        j0 = max(0, ((self.next_first - epoch) >> bits) - chunks.first_chunk)
        rows = []
        need = orjson.dumps([len(items) for items in chunks.items])
        for j in range(j0, len(chunks.chunks)):
            data, offsets, kept = chunks.chunks[j]
            if kept:
                continue
            raw = _offsets_bytes(offsets)
            rows.append((epoch + ((chunks.first_chunk + j) << bits), bits, data, raw, need,
                         _chunk_crc(data, raw, need)))
        self.next_first = max(self.next_first,
                              epoch + ((chunks.first_chunk + len(chunks.chunks)) << bits))
        strings = []
        if rows or reset:
            for k, items in enumerate(chunks.items):
                if len(items) > self.counts[k]:
                    strings.append((k, self.counts[k], orjson.dumps(items[self.counts[k]:])))
                    self.counts[k] = len(items)
        if not rows and not strings:
            return reset, None
        return reset, (rows, strings)


def write_chunks(db: sqlite3.Connection, reset: bool, rows: ChunkRows | None) -> None:
    """Store record chunks and strings (inside the caller's transaction); ``reset`` first
    empties both tables."""
    if reset:
        db.execute("DELETE FROM record_chunks")
        db.execute("DELETE FROM record_strings")
    if rows is not None:
        chunk_rows, strings = rows
        db.executemany("INSERT OR REPLACE INTO record_strings (tbl, first_code, items) "
                       "VALUES (?, ?, ?)", strings)
        db.executemany("INSERT OR REPLACE INTO record_chunks (first_id, bits, data, offsets, "
                       "need, crc) VALUES (?, ?, ?, ?, ?, ?)", chunk_rows)


def load_chunks(db: sqlite3.Connection, path: str, store: Store,
                start: int) -> tuple[int, list[int] | None]:
    """Adopt the record chunks from the chunk holding ``start`` (the first live public id)
    into the empty ``store``, with the file's string tables. Returns the first public id
    they do not cover (``start`` when none) and the table lengths adopted (None when the
    file has no record tables or they are unusable: the store is left empty)."""
    try:
        return _load_chunks(db, path, store, start)
    except (ValueError, TypeError, orjson.JSONDecodeError, sqlite3.Error) as exc:
        log.warning("storage %r: the record chunks are unusable (%s); reading the entries "
                    "from their JSON copy", path, exc)
        return start, None


def _strings(db: sqlite3.Connection) -> list[list[str]] | None:
    tables: list[list[str]] = [[], [], []]
    rows = db.execute("SELECT tbl, first_code, items FROM record_strings "
                      "ORDER BY tbl, first_code").fetchall()
    if not rows:
        return None
    for tbl, first, blob in rows:
        if tbl not in (0, 1, 2) or first != len(tables[tbl]):
            raise ValueError(f"string table {tbl} is not contiguous at code {first}")
        items = orjson.loads(blob)
        if type(items) is not list:
            raise ValueError(f"string table {tbl} holds a non-list at code {first}")
        tables[tbl].extend(items)
    return tables


def _load_chunks(db: sqlite3.Connection, path: str, store: Store,
                 start: int) -> tuple[int, list[int] | None]:
    tables = _strings(db)
    if tables is None:
        return start, None
    lengths = [len(t) for t in tables]
    bits = store.entries.bits
    size = 1 << bits
    first_chunk = start & ~(size - 1)
    adopted: list[Chunk] = []
    expected = first_chunk
    for first, row_bits, data, raw, need, crc in db.execute(
            "SELECT first_id, bits, data, offsets, need, crc FROM record_chunks "
            "WHERE first_id >= ? ORDER BY first_id", (first_chunk,)):
        if first != expected or row_bits != bits:
            break  # a gap (a chunk with an entry kept as an object): JSON from here
        if type(data) is not bytes or type(raw) is not bytes or type(need) is not bytes:
            raise ValueError(f"record chunk {first} holds a non-blob")
        if _chunk_crc(data, raw, need) != crc:
            raise ValueError(f"record chunk {first}: checksum mismatch")
        counts = orjson.loads(need)
        if type(counts) is not list or len(counts) != 3 or any(
                type(c) is not int or c > n for c, n in zip(counts, lengths, strict=True)):
            raise ValueError(f"record chunk {first} needs strings the tables lack")
        adopted.append((data, _offsets_array(raw), None))
        expected += size
    end = expected if adopted else start
    stamps = _instants(db, start, end) if adopted else array("d")
    store.adopt(adopted, tables, stamps)
    return end, lengths

