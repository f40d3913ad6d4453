"""The file format of the durable copy: schema constants, the chunk encoding of entries, the
version 1 migration and the translation of SQLite errors (see :mod:`.sqlite` for the tables).
"""

from __future__ import annotations

import sqlite3
import sys
from array import array
from collections.abc import Sequence
from typing import Any

import orjson

from .. import _native as native
from ..errors import (
    StorageCorruptError,
    StorageError,
    StorageFullError,
    StoragePathError,
)
from ..model.entry import LogEntry
from .codec import encode_chunk

__all__ = [
    "APPLICATION_ID",
    "CHUNK",
    "DURABILITIES",
    "LOAD_CHUNK",
    "SCHEMA_VERSION",
    "SNAPSHOT_INDEXES",
    "Encoded",
    "decode_rows",
    "encode_entries",
]

#: ``PRAGMA application_id`` of the engine's files ("LAE1").
APPLICATION_ID = 0x4C414531
#: The schema version this code writes and reads (``PRAGMA user_version``).
SCHEMA_VERSION = 3
DURABILITIES = ("sync", "batch", "none")
#: Entries per ``chunks`` row (an ingest call of more is split).
CHUNK = 4096
#: Entries indexed per ``add_batch`` when the engine is reopened.
LOAD_CHUNK = 65_536

_CHUNKS_TABLE = (
    "CREATE TABLE IF NOT EXISTS chunks (first_id INTEGER PRIMARY KEY, "
    "last_id INTEGER NOT NULL, stamps BLOB NOT NULL, data BLOB NOT NULL, crc INTEGER)")
_SCHEMA = (
    _CHUNKS_TABLE,
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS alert_history (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
    "data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS postings (idx TEXT NOT NULL, term TEXT NOT NULL, "
    "ids BLOB NOT NULL, PRIMARY KEY (idx, term)) WITHOUT ROWID",
)
#: The indexes kept in the snapshot (their terms are always strings).
SNAPSHOT_INDEXES = ("level", "source", "tag", "token")
_INSERT = "INSERT INTO chunks (first_id, last_id, stamps, data) VALUES (?, ?, ?, ?)"
_INSERT_CRC = ("INSERT INTO chunks (first_id, last_id, stamps, data, crc) "
               "VALUES (?, ?, ?, ?, ?)")
_PUT_META = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"

#: The chunks of a batch, encoded before the engine lock is taken: ``(count, stamps, data)``.
Encoded = list[tuple[int, bytes, bytes]]
_Op = tuple[str, Any]
_BIG_ENDIAN = sys.byteorder == "big"

_loads = orjson.loads


def encode_entries(entries: Sequence[LogEntry]) -> Encoded:
    """The chunks of ``entries``: ``(count, stamps, data)`` per :data:`CHUNK` entries, where
    ``data`` is one JSON array of ``[timestamp, level, message, source, thread_id,
    request_id, user_id, tags, metadata]`` per entry (:func:`.codec.encode_chunk`: in C when
    the accelerator is built, one ``orjson.dumps`` call per chunk either way). O(size)."""
    out: Encoded = []
    for start in range(0, len(entries), CHUNK):
        part = list(entries[start:start + CHUNK])
        stamps, data = encode_chunk(part)
        if _BIG_ENDIAN:  # pragma: no cover - the file format is little-endian
            stamps.byteswap()
        out.append((len(part), stamps.tobytes(), data))
    return out


def decode_rows(
    rows: list[Any], stamps: list[float], strings: dict[str, str] | None = None
) -> list[LogEntry]:
    """Entries from the field arrays of a chunk and their instants, without re-validating
    or re-parsing timestamps.

    ``strings``: canonical strings; levels, sources and tags are shared through it, not
    copied (as the indexes share them for ingested entries)."""
    if len(rows) != len(stamps):
        raise ValueError(f"{len(rows)} entries but {len(stamps)} instants")
    return native.entries_from_rows(rows, stamps, strings if strings is not None else {})


def _stamps(raw: bytes) -> list[float]:
    stamps = array("d")
    stamps.frombytes(raw)
    if _BIG_ENDIAN:  # pragma: no cover
        stamps.byteswap()
    return stamps.tolist()


def _migrate_v1(db: sqlite3.Connection) -> None:
    """Rewrite a version 1 file (one ``entries`` row per entry) as chunks, in one
    transaction: a crash during it leaves the version 1 file as it was."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(_CHUNKS_TABLE)
        cur = db.execute("SELECT id, ts, data FROM entries ORDER BY id")
        while rows := cur.fetchmany(CHUNK):
            start = 0
            for k in range(1, len(rows) + 1):  # split where ids are not consecutive
                if k == len(rows) or rows[k][0] != rows[k - 1][0] + 1:
                    part = rows[start:k]
                    stamps = array("d", [r[1] for r in part])
                    if _BIG_ENDIAN:  # pragma: no cover
                        stamps.byteswap()
                    data = b"[" + b",".join(bytes(r[2]) for r in part) + b"]"
                    db.execute(_INSERT, (part[0][0], part[-1][0], stamps.tobytes(), data))
                    start = k
        db.execute("DROP TABLE entries")
        db.execute("DELETE FROM meta WHERE key = 'snapshot_upto'")  # re-index once
        db.execute("PRAGMA user_version=2")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _ours_by_header(path: str) -> bool:
    """Whether the file's SQLite header carries the engine's application id."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError:
        return False
    return (len(head) == 100 and head[:16] == b"SQLite format 3\x00"
            and int.from_bytes(head[68:72], "big") == APPLICATION_ID)


_DAMAGED = ("malformed", "not a database", "corrupt", "database disk image")


def _translate(path: str, exc: sqlite3.Error) -> StorageError:
    text = str(exc)
    code = getattr(exc, "sqlite_errorcode", None)
    if any(word in text for word in _DAMAGED):
        return StorageCorruptError(path, f"the file is damaged: {text} (salvage=True "
                                         "rebuilds it from the readable chunks)")
    if code == getattr(sqlite3, "SQLITE_FULL", 13) or "full" in text:
        return StorageFullError(path, f"disk or database full: {text}")
    if "readonly" in text or "unable to open" in text or "disk I/O" in text:
        return StoragePathError(path, f"cannot write: {text}")
    if isinstance(exc, sqlite3.IntegrityError):
        return StorageCorruptError(path, f"inconsistent content: {text}")
    return StorageError(path, text)
