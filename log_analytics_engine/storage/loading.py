"""Reopening: the store and the indexes rebuilt from a storage file's chunks and snapshot.

:class:`~.sqlite.Storage` owns the connection and its lock; these functions run under that
lock and read through it. Chunks are read with one ``SELECT`` in id order, checked (dense ids,
checksums) and decoded through a fast path (the accelerator parses a chunk of the common shape
straight into entries); the postings snapshot written by a clean close covers the ids below
``meta.snapshot_upto``, so only later entries are indexed and tokenized.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap

from .. import _native as native
from ..errors import StorageCorruptError
from ..model.entry import LogEntry
from .format import LOAD_CHUNK, SNAPSHOT_INDEXES, _loads, _Op, _stamps, decode_rows
from .integrity import check_span, chunk_crc, snapshot_digest
from .records import load_chunks, load_records

if TYPE_CHECKING:
    from ..index.postings import IndexSet
    from ..index.store import Store

__all__ = ["load", "meta_int", "snapshot"]

log = logging.getLogger(__name__)

Tokenize = Callable[[list[str]], list[list[str]]]


def meta_int(db: sqlite3.Connection, path: str, key: str, default: Any = 0) -> Any:
    """An integer of ``meta`` (``default`` when absent)."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is None:
        return default
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise StorageCorruptError(path, f"meta {key!r} is not a number: {row[0]!r}") from None


#: What reopening adopted of the file's record chunks: the string table lengths (None when
#: the store's tables do not extend the file's) and the public id the chunks covered.
Adopted = tuple["list[int] | None", int]


def load(db: sqlite3.Connection, path: str, store: Store, indexes: IndexSet,
         tokenize: Tokenize) -> tuple[int, Adopted]:
    """Rebuild ``store`` and ``indexes`` (both empty) from the file; return the count and
    what was adopted of the record chunks (the caller holds the connection lock and
    translates ``sqlite3`` errors). Runtime complexity: O(n log n), near O(n)."""
    lo, hi, chunks = (db.execute(
        "SELECT min(first_id), max(last_id), count(*) FROM chunks").fetchone())
    below = meta_int(db, path, "evicted_below")
    next_id = meta_int(db, path, "next_id", None)
    check_span(path, lo if chunks else 0, hi if chunks else -1, below, next_id)
    if not chunks or hi < below:
        store.start_at(max(below, hi + 1 if chunks else 0))
        return 0, (None, 0)
    start = max(lo, below)  # the first live id
    store.start_at(start)
    off = store.epoch  # the store's ids are the stored ones minus off
    upto = _load_snapshot(db, path, indexes, start, hi, off)
    _check_dense(db, path, lo)
    # sealed chunks of records, written as they sealed: adopted as they are (a file of an
    # earlier version: its records snapshot, written by its last clean close)
    resume, matched = load_chunks(db, path, store, start)
    if matched is None and upto > start:
        resume = load_records(db, path, store, start, upto)
    _verify_below(db, path, resume)  # the JSON copy of adopted ids: damage found now
    if resume > start and (indexes.fields or upto < resume):
        # what the postings snapshot does not cover (after a crash), and chosen fields
        for part, entries in store.scan(range(start - off, resume - off), LOAD_CHUNK):
            _index(indexes, part[0], entries, upto - off, tokenize)
    strings = indexes.strings  # share sources and tags with the index terms
    loaded = resume - start
    pending: list[LogEntry] = []  # decoded, not yet indexed
    for first, last, raw_stamps, data, crc in db.execute(
            "SELECT first_id, last_id, stamps, data, crc FROM chunks WHERE last_id >= ? "
            "ORDER BY first_id", (resume,)):
        if crc is not None and chunk_crc(raw_stamps, data) != crc:
            raise StorageCorruptError(
                path, f"chunk {first}..{last}: checksum mismatch (edited or "
                "damaged; salvage=True rebuilds from the readable chunks)")
        try:
            pending.extend(decode_chunk(first, last, raw_stamps, data,
                                        max(0, resume - first), strings))
        except (ValueError, TypeError) as exc:
            raise StorageCorruptError(
                path, f"chunk {first}..{last} is unreadable: {exc}") from exc
        if len(pending) >= LOAD_CHUNK:  # appended a batch at a time: sealed as they come
            _index(indexes, start + loaded - off, pending, upto - off, tokenize)
            store.append(pending)
            loaded += len(pending)
            pending = []
    if pending:
        _index(indexes, start + loaded - off, pending, upto - off, tokenize)
        store.append(pending)
        loaded += len(pending)
    return int(loaded), (matched, resume)


def _check_dense(db: sqlite3.Connection, path: str, lo: int) -> None:
    """Raise :class:`StorageCorruptError` unless the chunks hold dense ids from ``lo``."""
    expected = lo
    for first, last in db.execute("SELECT first_id, last_id FROM chunks ORDER BY first_id"):
        if first != expected or last < first:
            raise StorageCorruptError(
                path, f"ids are not dense: chunk {first}..{last} after {expected} "
                "(salvage=True rebuilds from the readable chunks)")
        expected = last + 1


def _verify_below(db: sqlite3.Connection, path: str, end: int) -> None:
    """Check the checksums of the chunks wholly below ``end`` (whose entries were adopted
    from records, not decoded): a damaged durable copy is reported when the file is opened,
    whichever way its entries are read. O(size of those chunks), ~1 GB/s."""
    for first, last, raw_stamps, data, crc in db.execute(
            "SELECT first_id, last_id, stamps, data, crc FROM chunks WHERE last_id < ?", (end,)):
        if crc is not None and chunk_crc(raw_stamps, data) != crc:
            raise StorageCorruptError(
                path, f"chunk {first}..{last}: checksum mismatch (edited or "
                "damaged; salvage=True rebuilds from the readable chunks)")


def decode_chunk(
    first: int, last: int, raw_stamps: bytes, data: bytes, skip: int,
    strings: dict[str, str],
) -> list[LogEntry]:
    """The entries of a stored chunk but its first ``skip``. The accelerator parses the
    common chunk straight into entries; any other goes through orjson and
    :func:`~.format.decode_rows`, which raise ``ValueError``/``TypeError`` for a damaged one."""
    stamps = _stamps(raw_stamps)
    if len(stamps) != last - first + 1:
        raise ValueError(f"chunk {first}..{last} holds {len(stamps)} instants")
    if not skip:
        decoded: list[LogEntry] | None = native.entries_from_chunk(bytes(data), stamps, strings)
        if decoded is not None:
            return decoded
    rows = _loads(data)
    if type(rows) is not list or len(rows) != last - first + 1:
        raise ValueError(f"chunk {first}..{last} holds {len(rows)} entries")
    return decode_rows(rows[skip:], stamps[skip:], strings)


def _index(indexes: IndexSet, first: int, batch: list[LogEntry], upto: int,
           tokenize: Tokenize) -> None:
    """Index a loaded batch (ids from ``first``) but what the snapshot covers."""
    covered = max(0, min(len(batch), upto - first))  # in the snapshot
    rest = batch[covered:]
    if indexes.fields:  # not in the snapshot: index the batch, words of the rest
        no_words: list[list[str]] = [[]] * covered  # one shared list, never mutated
        indexes.add_batch(first, batch, no_words + tokenize([e.message for e in rest]))
    elif rest:  # the C gatherer tokenizes as it indexes
        indexes.add_batch(first + covered, rest, None if native.tokenizing_gather
                          else tokenize([e.message for e in rest]))


def _load_snapshot(db: sqlite3.Connection, path: str, indexes: IndexSet, lo: int, hi: int,
                   off: int) -> int:
    """Load the postings snapshot; return the first id it does not cover. Its bitmaps hold
    ids relative to ``meta.snapshot_epoch``; the store's are relative to ``off``."""
    upto: int = meta_int(db, path, "snapshot_upto")
    delta = meta_int(db, path, "snapshot_epoch") - off
    if upto <= lo or upto > hi + 1:
        return lo  # nothing live is covered, or it does not match: index everything
    rows = db.execute("SELECT idx, term, ids FROM postings").fetchall()
    check = db.execute("SELECT value FROM meta WHERE key = 'snapshot_check'").fetchone()
    if check is not None and check[0] != snapshot_digest(rows, upto):
        log.warning("storage %r: the postings snapshot does not match its digest; "
                    "rebuilding the indexes from the chunks", path)
        return lo
    maps: dict[str, dict[str, BitMap]] = {name: {} for name in SNAPSHOT_INDEXES}
    try:
        for name, term, blob in rows:
            bm = BitMap.deserialize(blob)
            if delta:
                bm = bm.shift(delta)
            if lo - off:
                bm.remove_range(0, lo - off)
            if bm:
                maps[name][term] = bm
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("storage %r: the postings snapshot is unreadable (%s); rebuilding the "
                    "indexes from the chunks", path, exc)
        return lo
    covered = upto - lo
    for name in ("level", "source"):  # every covered id has one level and one source
        if sum(len(bm) for bm in maps[name].values()) != covered:
            log.warning("storage %r: the %s postings of the snapshot do not cover its %d "
                        "entries; rebuilding the indexes from the chunks", path, name, covered)
            return lo
    for name, terms in maps.items():  # the indexes are empty here: filled directly
        indexes.restore(name, terms)
    return upto


def snapshot(indexes: IndexSet, upto: int, epoch: int = 0) -> _Op:
    """A snapshot of the level, source, tag and word postings for ``Storage.close``, valid
    for the ids below ``upto`` (take it under the engine lock, ``upto`` = the next id); the
    bitmaps hold ids minus ``epoch`` (the store's internal ids).
    Runtime complexity: O(size of the postings)."""
    rows = [(name, term, bm.serialize()) for name in SNAPSHOT_INDEXES
            for term, bm in getattr(indexes, name).items()]
    # the record chunks are written as they seal; the records snapshot of earlier versions
    # is dropped (write_records with None)
    return ("snapshot", (upto, rows, epoch, None))
