"""The durable copy of the entries: SQLite (standard library ``sqlite3``) in WAL mode.

The engine keeps serving every read from memory; this module only keeps a crash-safe copy and
rebuilds the store and indexes from it when the engine is opened again. Schema version 3:

* ``chunks(first_id INTEGER PRIMARY KEY, last_id INTEGER, stamps BLOB, data BLOB, crc
  INTEGER)``: the
  entries with ids ``first_id..last_id`` (dense engine ids, at most :data:`CHUNK` per row):
  ``stamps`` their instants (little-endian float64), ``data`` one orjson array holding an
  array of fields per entry. Rows of a chunk are written, committed and read together, which
  keeps SQLite's per-row work (and the sqlite3 module's GIL hand-offs per row, which starve a
  background writer while the ingesting thread runs) out of the ingest path. Entries below
  ``meta.evicted_below`` are evicted: whole chunks are deleted, a chunk that straddles the
  bound is filtered on load. ``crc`` is the CRC-32 of ``stamps`` and ``data``, checked on
  load. Version 1 files (a row per entry) and version 2 files (no ``crc``, no ``next_id``)
  are migrated on open;
* ``meta(key TEXT PRIMARY KEY, value BLOB)``: ``evicted_below``, ``next_id`` (the id after
  the last entry written: the chunks must reach it), ``snapshot_upto``,
  ``snapshot_epoch`` (what the snapshot's bitmaps hold is the id minus it) and
  ``snapshot_check`` (the digest of the postings snapshot) and the alert-rule state blob.
  Ids are the engine's public ids: SQLite integers (64-bit), never reused;
* ``alert_history(seq INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB)``: fired alerts;
* ``postings(idx TEXT, term TEXT, ids BLOB)``: a snapshot of the level, source, tag and
  message-word indexes (serialized roaring bitmaps) written by :meth:`Storage.close` and
  covering the ids below ``meta.snapshot_upto``, so reopening indexes (and tokenizes) only the
  entries written after it. Ids below ``snapshot_upto`` are committed and never reused, so the
  snapshot stays true for them; evicted ids are removed from it on load.

``PRAGMA application_id`` marks the file as the engine's and ``PRAGMA user_version`` holds the
schema version, so a foreign file or one written by a future version is refused untouched.

Durability (see ``docs/storage.md`` for the exact promises after a crash):

* ``"sync"``: the rows of an ingest call are committed (and fsynced: ``synchronous=FULL``)
  before the call returns; a failure raises and nothing of that call is kept in memory.
* ``"batch"``: rows are queued under the engine lock and committed by a background flusher
  every ``batch_size`` rows or ``batch_interval`` seconds; at most ``max_pending`` rows are ever
  queued (the writer waits for the flusher before queueing more).
* ``"none"``: as ``"batch"`` but without fsync (``synchronous=OFF``): survives a process crash
  once committed, promises nothing on power loss.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import (
    StorageCorruptError,
    StorageError,
    StorageNotOursError,
    StoragePathError,
    StorageVersionError,
)
from ..model.tokenize import tokenize_many
from . import loading
from .format import (
    _INSERT_CRC,
    _PUT_META,
    _SCHEMA,
    APPLICATION_ID,
    CHUNK,
    DURABILITIES,
    SCHEMA_VERSION,
    Encoded,
    _migrate_v1,
    _Op,
    _ours_by_header,
    _translate,
    decode_rows,
    encode_entries,
)
from .integrity import chunk_crc, migrate_v2, snapshot_digest
from .records import RECORD_TABLES, ChunkRows, write_chunks, write_records

if TYPE_CHECKING:
    from ..index.postings import IndexSet
    from ..index.store import Store

__all__ = [
    "APPLICATION_ID",
    "CHUNK",
    "DURABILITIES",
    "SCHEMA_VERSION",
    "Encoded",
    "Storage",
    "decode_rows",
    "encode_entries",
]

log = logging.getLogger(__name__)


class Storage:
    """A SQLite file holding every live entry, the alert history and the alert-rule state.

    Thread-safe: writes are queued under a short lock and executed in order under the
    connection lock (by the flusher thread, :meth:`flush`, or the ingesting thread in
    ``"sync"`` mode).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        durability: str = "batch",
        batch_size: int = 10_000,
        batch_interval: float = 0.2,
        max_pending: int | None = None,
    ) -> None:
        if durability not in DURABILITIES:
            raise ValueError(f"durability must be one of {DURABILITIES}, got {durability!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if batch_interval <= 0:
            raise ValueError(f"batch_interval must be > 0, got {batch_interval!r}")
        self.path = os.fspath(path)
        self.durability = durability
        self.batch_size = batch_size
        self.batch_interval = batch_interval
        self.max_pending = max_pending if max_pending is not None else 4 * batch_size
        self.committed_total = 0
        self.commits_total = 0
        self.flush_errors_total = 0
        self._ops: list[_Op] = []
        self._pending_rows = 0
        self._error: StorageError | None = None
        self._pending_lock = threading.Lock()
        self._committed = threading.Condition(self._pending_lock)
        self._db_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: What :meth:`load` adopted of the record chunks (see :data:`.loading.Adopted`).
        self.adopted: loading.Adopted = (None, 0)
        self._db = self._open()

    # -- opening --------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        path = self.path
        parent = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError as exc:
            raise StoragePathError(path, f"cannot create directory {parent!r}: {exc}") from exc
        if os.path.isdir(path):
            raise StoragePathError(path, "is a directory")
        if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
            raise StoragePathError(path, "not readable and writable")
        if not os.access(parent, os.W_OK):
            raise StoragePathError(path, f"directory {parent!r} is not writable")
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoragePathError(path, f"cannot open: {exc}") from exc
        try:
            self._prepare(db)
        except BaseException:
            db.close()
            raise
        return db

    def _prepare(self, db: sqlite3.Connection) -> None:
        path = self.path
        try:
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            if _ours_by_header(path):
                raise StorageCorruptError(
                    path, f"a log_analytics_engine database, but damaged (truncated?): {exc}; "
                    "salvage=True rebuilds it from the readable chunks") from exc
            raise StorageNotOursError(path, f"not a log_analytics_engine database: {exc}") from exc
        if app_id != APPLICATION_ID and (app_id != 0 or tables):
            raise StorageNotOursError(
                path, f"not a log_analytics_engine database (application_id {app_id:#x})")
        if version > SCHEMA_VERSION:
            raise StorageVersionError(path, version, SCHEMA_VERSION)
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoragePathError(path, f"cannot switch to WAL mode (got {mode!r})")
            sync = "OFF" if self.durability == "none" else "FULL"
            db.execute(f"PRAGMA synchronous={sync}")
            if app_id == 0:
                db.execute("BEGIN IMMEDIATE")
                for stmt in _SCHEMA:
                    db.execute(stmt)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                db.execute(_PUT_META, ("next_id", 0))
                db.execute("COMMIT")
            else:
                if version == 1:
                    _migrate_v1(db)
                if version <= 2:
                    migrate_v2(db, SCHEMA_VERSION)
            for stmt in RECORD_TABLES:  # record chunks (a file of an earlier version: added)
                db.execute(stmt)
        except sqlite3.Error as exc:
            raise _translate(path, exc) from exc

    def start(self) -> None:
        """Start the background flusher; idempotent. In ``"sync"`` mode it only commits what
        rides along (evictions, alert history and state) within ``batch_interval``."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"log-analytics-flusher:{self.path}", daemon=True)
        self._thread.start()

    # -- loading --------------------------------------------------------------------------
    def load(
        self, store: Store, indexes: IndexSet,
        tokenize: Callable[[list[str]], list[list[str]]] = tokenize_many,
    ) -> int:
        """Rebuild ``store`` and ``indexes`` (both empty) from the file; return the count.

        ``tokenize`` turns messages into words (the engine passes its token cache).

        One ``SELECT`` in id order, rows decoded with orjson through a fast path, indexed in
        chunks of :data:`LOAD_CHUNK`. Runtime complexity: O(n log n), near O(n).
        """
        with self._db_lock:
            try:
                count, self.adopted = loading.load(self._db, self.path, store, indexes,
                                                   tokenize)
            except sqlite3.Error as exc:
                raise _translate(self.path, exc) from exc
        return count

    @staticmethod
    def snapshot(indexes: IndexSet, upto: int, epoch: int = 0) -> _Op:
        """See :func:`.loading.snapshot`."""
        return loading.snapshot(indexes, upto, epoch)

    def _meta_int(self, key: str, default: Any = 0) -> Any:
        """An integer of ``meta`` (``default`` when absent)."""
        return loading.meta_int(self._db, self.path, key, default)

    # -- writing --------------------------------------------------------------------------
    def write(self, first_id: int, encoded: Encoded) -> None:
        """Store the rows of one ingest call (ids ``first_id, first_id + 1, ...``).

        Called under the engine lock *before* the entries enter the in-memory store: when it
        raises (:class:`StorageFullError`, ...), nothing of the call is kept or acknowledged.
        ``"sync"``: commits before returning. Otherwise queues the rows; when they would take
        the queue past ``max_pending`` it first waits for the flusher (or commits itself when
        there is none), and when a background commit failed it commits itself, raising if
        that fails too. So at most ``max(max_pending, rows of one call)`` are ever queued.
        """
        self._check_open()
        n = sum(chunk[0] for chunk in encoded)
        op: _Op = ("rows", (first_id, n, encoded))
        if self.durability == "sync":
            with self._db_lock:
                with self._pending_lock:
                    ops, self._ops = self._ops, []  # evictions, alerts: no rows
                try:
                    self._execute([*ops, op])
                except StorageError:
                    with self._pending_lock:
                        self._ops[:0] = ops
                    raise
                self.committed_total += n
            return
        if self._error is None and self._pending_rows + n > self.max_pending:
            self._wait_for_flusher(n)
        if self._error is not None or self._pending_rows + n > self.max_pending:
            self.flush()  # raises when the disk is still full: the call fails
        with self._pending_lock:
            self._ops.append(op)
            self._pending_rows += n
            wake = self._pending_rows >= self.batch_size
        if wake:
            self._wake.set()

    def withdraw(self, first_id: int) -> None:
        """Take back the rows of a batch that failed after :meth:`write` (ids from
        ``first_id`` on): dropped from the queue, or deleted in one transaction if already
        committed (waiting for a commit in flight), so neither memory nor a reopen keeps
        them. Called under the engine lock. Runtime complexity: O(rows of the batch)."""
        with self._db_lock:
            with self._pending_lock:
                kept: list[_Op] = []
                for op in self._ops:
                    if op[0] == "rows" and op[1][0] >= first_id:
                        self._pending_rows -= op[1][1]
                    else:
                        kept.append(op)
                self._ops = kept
            db = self._db
            try:
                n = db.execute("SELECT sum(last_id - first_id + 1) FROM chunks "
                               "WHERE first_id >= ?", (first_id,)).fetchone()[0]
                if n:
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        db.execute("DELETE FROM chunks WHERE first_id >= ?", (first_id,))
                        db.execute("DELETE FROM record_chunks WHERE first_id + (1 << bits) "
                                   "> ?", (first_id,))
                        db.execute(_PUT_META, ("next_id", first_id))
                        db.execute("COMMIT")
                    except BaseException:
                        if db.in_transaction:
                            db.execute("ROLLBACK")
                        raise
                    self.committed_total -= n
            except sqlite3.Error as exc:
                raise _translate(self.path, exc) from exc

    def _wait_for_flusher(self, n: int) -> None:
        """Backpressure: wait until the flusher has committed enough for ``n`` more rows to
        fit in ``max_pending`` (the writer keeps its CPU, the flusher does the I/O)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        with self._committed:
            while (self._pending_rows and self._pending_rows + n > self.max_pending
                   and self._error is None and not self._stop.is_set()):
                self._wake.set()
                self._committed.wait(self.batch_interval)

    def write_chunks(self, reset: bool, rows: ChunkRows | None) -> None:
        """Queue sealed record chunks and the strings their tables admitted (after the
        rows of the entries they hold); ``reset`` first starts the record tables over.
        See :mod:`.records`."""
        if reset or rows is not None:
            self._queue(("records", (reset, rows)))

    def delete_below(self, first_live: int) -> None:
        """Queue the removal of every row with an id below ``first_live`` (eviction)."""
        self._queue(("delete", first_live))

    def save_alert_state(self, blob: bytes) -> None:
        """Queue an opaque alert-rule state blob (replaces the previous one)."""
        self._queue(("meta", ("alert_state", blob)))

    def load_alert_state(self) -> bytes | None:
        """The last alert-rule state blob (queued or committed), or ``None``."""
        with self._pending_lock:
            for kind, arg in reversed(self._ops):
                if kind == "meta" and arg[0] == "alert_state":
                    return bytes(arg[1])
        with self._db_lock:
            row = self._db.execute(
                "SELECT value FROM meta WHERE key = 'alert_state'").fetchone()
        return bytes(row[0]) if row else None

    def append_alert_history(self, blobs: Sequence[bytes], keep: int = 10_000) -> None:
        """Queue fired alerts (opaque blobs); only the newest ``keep`` are kept on disk."""
        if blobs:
            self._queue(("history", (list(blobs), keep)))

    def load_alert_history(self, limit: int = 10_000) -> list[bytes]:
        """The newest ``limit`` committed alert blobs, oldest first."""
        with self._db_lock:
            rows = self._db.execute(
                "SELECT data FROM alert_history ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [bytes(r[0]) for r in reversed(rows)]

    def _queue(self, op: _Op) -> None:
        self._check_open()
        with self._pending_lock:
            self._ops.append(op)

    # -- committing -----------------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Rows acknowledged and not yet committed, in flight included (what a crash now
        could lose)."""
        return self._pending_rows

    def flush(self) -> None:
        """Commit everything queued, in order. Raises :class:`StorageError` on failure (the
        queue is kept and retried by the next flush). A no-op once closed."""
        if self._closed:
            return
        with self._db_lock:
            with self._pending_lock:
                ops, self._ops = self._ops, []
            if not ops:
                return
            rows = sum(arg[1] for kind, arg in ops if kind == "rows")
            try:
                self._execute(ops)
            except StorageError as exc:
                with self._pending_lock:
                    self._ops[:0] = ops
                    self._error = exc
                    self.flush_errors_total += 1
                    self._committed.notify_all()
                raise
            with self._pending_lock:  # counted until committed: bounds the loss window
                self._pending_rows -= rows
                self._error = None
                self._committed.notify_all()
            self.committed_total += rows

    def _execute(self, ops: list[_Op]) -> None:
        """Run ``ops`` in one transaction (caller holds the connection lock)."""
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                for kind, arg in ops:
                    if kind == "rows":
                        first, _, chunks = arg
                        for n, stamps, data in chunks:
                            db.execute(_INSERT_CRC, (first, first + n - 1, stamps, data,
                                                     chunk_crc(stamps, data)))
                            first += n
                        db.execute(_PUT_META, ("next_id", first))
                    elif kind == "delete":  # a straddling chunk is filtered on load
                        db.execute("DELETE FROM chunks WHERE last_id < ?", (arg,))
                        db.execute("DELETE FROM record_chunks WHERE first_id + (1 << bits) "
                                   "<= ?", (arg,))
                        db.execute(_PUT_META, ("evicted_below", arg))
                    elif kind == "records":
                        write_chunks(db, *arg)
                    elif kind == "meta":
                        db.execute(_PUT_META, arg)
                    elif kind == "snapshot":
                        upto, rows, epoch, records = arg
                        write_records(db, records, upto)
                        db.execute("DELETE FROM postings")
                        db.executemany("INSERT INTO postings (idx, term, ids) VALUES (?, ?, ?)",
                                       rows)
                        db.execute(_PUT_META, ("snapshot_upto", upto))
                        db.execute(_PUT_META, ("snapshot_epoch", epoch))
                        db.execute(_PUT_META, ("snapshot_check", snapshot_digest(rows, upto)))
                    else:  # history
                        blobs, keep = arg
                        db.executemany("INSERT INTO alert_history (data) VALUES (?)",
                                       [(b,) for b in blobs])
                        db.execute("DELETE FROM alert_history WHERE seq <= "
                                   "(SELECT max(seq) FROM alert_history) - ?", (keep,))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _translate(self.path, exc) from exc
        self.commits_total += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.batch_interval)
            self._wake.clear()
            try:
                self.flush()
            except StorageError as exc:  # surfaced by the next write or flush
                log.warning("background commit to %s failed: %s", self.path, exc.reason)
            except Exception:  # pragma: no cover - never let the flusher die silently
                log.exception("background commit to %s failed", self.path)

    # -- closing --------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(self.path, "storage is closed")

    def close(self, snapshot: _Op | None = None) -> None:
        """Stop the flusher, commit what is queued, then the optional index ``snapshot`` (a
        speed-up only: its failure is logged), checkpoint and close. Idempotent. Raises
        :class:`StorageError` when queued entries cannot be committed (the file is closed
        all the same)."""
        if self._closed:
            return
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.flush()
            if snapshot is not None:
                with self._db_lock:
                    try:
                        self._execute([snapshot])
                    except StorageError as exc:
                        log.warning("index snapshot not written: %s", exc.reason)
        finally:
            self._closed = True
            with self._db_lock:
                try:
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:  # pragma: no cover - best effort
                    log.warning("checkpoint of %s failed", self.path)
                self._db.close()

    def stats(self) -> dict[str, Any]:
        """Path, mode, rows queued and committed, commits, failed background commits."""
        return {
            "path": self.path,
            "durability": self.durability,
            "pending": self._pending_rows,
            "committed_total": self.committed_total,
            "commits_total": self.commits_total,
            "flush_errors_total": self.flush_errors_total,
        }
