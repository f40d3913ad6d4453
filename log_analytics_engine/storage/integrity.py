"""Integrity of the durable copy: checksums, the checks made on open, the schema 2 -> 3
migration and the salvage path.

On open every problem is a :class:`~log_analytics_engine.errors.StorageError` subclass naming
the file and what is wrong; nothing opens with silent loss:

* the chunks must cover the ids from the first live one (``meta.evicted_below``) to the last
  one written (``meta.next_id``) without a gap, and each chunk's CRC-32 must match;
* the postings snapshot must match the digest written with it; a snapshot that does not (or
  does not deserialize) is ignored and the indexes are rebuilt from the chunks (logged).

:func:`salvage` is the way out of a damaged file: it keeps a copy of it, reads every chunk that
is still readable and checksums right, writes them (ids renumbered densely) with the alert
history and rule state into a fresh file at the same path, and reports what was lost
(``docs/storage.md``, "Salvage").
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import StorageCorruptError

__all__ = ["SalvageReport", "check_span", "chunk_crc", "migrate_v2", "salvage",
           "snapshot_digest"]

log = logging.getLogger(__name__)


def chunk_crc(stamps: Any, data: Any) -> int:
    """The CRC-32 of a chunk's instants and data (-1, which no checksum equals, when either
    is not binary). O(size), ~1 GB/s."""
    if not isinstance(stamps, bytes) or not isinstance(data, bytes):
        return -1
    return zlib.crc32(data, zlib.crc32(stamps))


def snapshot_digest(rows: Iterable[tuple[str, str, bytes]], upto: int) -> str:
    """A digest of the snapshot rows ``(index, term, bitmap)`` (in any order) and its bound."""
    h = hashlib.blake2b(str(upto).encode(), digest_size=16)
    for name, term, blob in sorted(rows, key=lambda r: (r[0], r[1])):
        for part in (name.encode(), term.encode("utf-8", "surrogatepass"), bytes(blob)):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
    return h.hexdigest()


def check_span(path: str, lo: int, hi: int, below: int, next_id: int | None) -> None:
    """Raise :class:`StorageCorruptError` when the chunks ``lo..hi`` (``hi < lo``: none) do
    not cover the live ids the metadata promises: from ``below`` (or 0) to ``next_id - 1``."""
    if hi >= lo:
        if lo > below:
            raise StorageCorruptError(
                path, f"entries {below}..{lo - 1} are missing: the first chunk starts at {lo} "
                "(salvage=True rebuilds from the readable chunks)")
        if next_id is not None and hi + 1 != next_id:
            what = (f"entries {hi + 1}..{next_id - 1} are missing" if hi + 1 < next_id else
                    f"chunks reach id {hi}, past the {next_id} entries written")
            raise StorageCorruptError(
                path, f"{what} (chunk rows deleted or the file truncated; salvage=True "
                "rebuilds from the readable chunks)")
    elif next_id is not None and next_id > below:
        raise StorageCorruptError(
            path, f"entries {below}..{next_id - 1} are missing: no chunk is left "
            "(salvage=True rebuilds from the readable chunks)")


def migrate_v2(db: sqlite3.Connection, version: int) -> None:
    """Schema 2 -> 3 in one transaction: a CRC-32 per chunk and ``meta.next_id``. A crash
    during it leaves the version 2 file as it was."""
    db.create_function("lae_crc", 2, chunk_crc, deterministic=True)
    db.execute("BEGIN IMMEDIATE")
    try:
        columns = [r[1] for r in db.execute("PRAGMA table_info(chunks)")]
        if "crc" not in columns:
            db.execute("ALTER TABLE chunks ADD COLUMN crc INTEGER")
        db.execute("UPDATE chunks SET crc = lae_crc(stamps, data) WHERE crc IS NULL")
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_id', "
                   "(SELECT coalesce(max(last_id) + 1, 0) FROM chunks))")
        db.execute(f"PRAGMA user_version={version}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


@dataclass
class SalvageReport:
    """What :func:`salvage` kept and lost."""

    path: str
    damaged_copy: str
    entries_recovered: int = 0
    entries_lost: int = 0
    chunks_recovered: int = 0
    chunks_lost: int = 0
    lost_ranges: list[list[int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    alerts_recovered: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read_chunks(db: sqlite3.Connection, report: SalvageReport, limit: int,
                 step: int) -> Iterator[tuple[int, int, Any, Any, int | None]]:
    """Every chunk row that can still be read, in id order; a damaged stretch of the table
    is stepped over ``step`` ids at a time up to ``limit``."""
    after = -1
    while after < limit:
        try:
            row = db.execute("SELECT first_id, last_id, stamps, data, crc FROM chunks "
                             "WHERE first_id > ? ORDER BY first_id LIMIT 1", (after,)).fetchone()
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"rows after id {after} unreadable: {exc}")
            after += step
            continue
        if row is None:
            return
        yield row[0], row[1], row[2], row[3], row[4]
        after = row[0]


def _meta(db: sqlite3.Connection, key: str) -> Any:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def salvage(path: str | os.PathLike[str], decode: Any, write: Any) -> SalvageReport:
    """Rebuild the file at ``path`` from its readable chunks (see the module docstring).

    ``decode(first, last, stamps, data)`` returns a chunk's entries or raises;
    ``write(new_path, entries, history, state)`` writes a fresh file. The damaged file is kept
    as ``<path>.damaged-<unix time>`` (with its ``-wal``). O(size of the file)."""
    path = os.fspath(path)
    copy = f"{path}.damaged-{int(time.time())}"
    report = SalvageReport(path, copy)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            shutil.copy2(path + suffix, copy + suffix)
    db = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    entries: list[Any] = []
    try:
        below = int(_meta(db, "evicted_below") or 0)
        next_id = _meta(db, "next_id")
        limit = int(next_id) if next_id is not None else 1 << 40
        expected = below
        for first, last, stamps, data, crc in _read_chunks(db, report, limit, 4096):
            if last < below:
                continue
            problem = None
            if crc is not None and chunk_crc(stamps, data) != crc:
                problem = "checksum mismatch"
            else:
                try:
                    decoded = decode(first, last, stamps, data)
                except (ValueError, TypeError) as exc:
                    problem = f"unreadable: {exc}"
            if problem is not None:
                report.problems.append(f"chunk {first}..{last}: {problem}")
                continue
            if first > expected:
                report.lost_ranges.append([expected, first - 1])
            skip = max(0, below - first)
            entries.extend(decoded[skip:])
            report.chunks_recovered += 1
            expected = last + 1
        if next_id is not None and int(next_id) > expected:
            report.lost_ranges.append([expected, int(next_id) - 1])
        history: list[bytes] = []
        try:
            history = [bytes(r[0]) for r in db.execute(
                "SELECT data FROM alert_history ORDER BY seq")]
            report.alerts_recovered = True
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"alert history unreadable: {exc}")
        state = _meta(db, "alert_state")
    finally:
        db.close()
    report.entries_recovered = len(entries)
    report.entries_lost = sum(b - a + 1 for a, b in report.lost_ranges)
    report.chunks_lost = sum(1 for p in report.problems if p.startswith("chunk "))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    write(path, entries, history, bytes(state) if state is not None else None)
    log.warning("salvaged %s: %d entries recovered, %d lost (%s); damaged copy kept at %s",
                path, report.entries_recovered, report.entries_lost,
                "; ".join(report.problems) or "chunk rows missing", copy)
    return report
