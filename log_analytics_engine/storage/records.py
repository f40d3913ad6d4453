"""The records snapshot: the store's sealed chunks of records, written by a clean close beside
the postings snapshot, so that reopening adopts them as they are instead of parsing the JSON
copy of every entry (:mod:`.loading`).

The JSON chunks stay the durable copy (every committed entry is there, crash or not); the
records snapshot is a speed-up valid for the ids below ``meta.records_upto`` when
``meta.records_for`` equals ``meta.snapshot_upto`` (a later close by a version that does not
write it leaves them unequal) and the chunk size matches. Each row is one sealed chunk
(``first_id``: the public id of its first position), with a CRC of its records and offsets;
``meta.records_tables`` holds the string tables their codes index. Anything that does not
match is ignored with a warning: the JSON copy is read instead. A chunk holding an entry kept
as an object (which has no record) ends the snapshot. Runtime complexity: O(chunks) to write
(under the engine lock, no entry built), O(n / chunk size) to read plus the instants.
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

__all__ = ["RECORDS_TABLE", "load_records", "records_snapshot", "write_records"]

log = logging.getLogger(__name__)

RECORDS_TABLE = (
    "CREATE TABLE IF NOT EXISTS records (first_id INTEGER PRIMARY KEY, data BLOB NOT NULL, "
    "offsets BLOB NOT NULL, crc INTEGER NOT NULL)")
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


def records_snapshot(store: Store) -> Records | None:
    """The sealed chunks of ``store`` up to the first holding an entry kept as an object, or
    None when there are none. Call under the engine lock. O(chunks)."""
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
        offsets = array("I")
        offsets.frombytes(raw)
        if _BIG_ENDIAN:  # pragma: no cover
            offsets.byteswap()
        adopted.append((data, offsets, None))
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
