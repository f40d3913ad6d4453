"""The write path under the engine lock: storage, store, postings, alerts, retention.

:class:`HotWriter` is what the ingest driver commits gathered batches to. It holds no
reference to the engine (so a dropped engine is freed by reference counting) and does
nothing slow or user-controlled under the lock: encoding happens before it, eviction delivery
and alert notifications after it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence

from ._gc import gc_paused
from .alerts import AlertManager
from .alerts import state as alert_state
from .index.postings import IndexSet, Postings
from .index.store import Store
from .model.entry import LogEntry
from .storage.integrity import SalvageReport
from .storage.opening import open_storage
from .storage.records import RecordLog
from .storage.retention import Evictor, Retention
from .storage.sqlite import Encoded, Storage, encode_entries

__all__ = ["HotWriter"]

log = logging.getLogger(__name__)


class HotWriter:
    """Commits batches to the hot tier (and its durable copy) and counts what it stored."""

    def __init__(self, lock: threading.RLock, store: Store, indexes: IndexSet,
                 alerts: AlertManager) -> None:
        self.lock = lock
        self.store = store
        self.indexes = indexes
        self.alerts = alerts
        self.storage: Storage | None = None
        self.record_log: RecordLog | None = None  # the storage's side of the sealed chunks
        self.evictor: Evictor | None = None
        self.salvage_report: SalvageReport | None = None
        self.ingested_total = 0
        self.rejected_total = 0

    def commit(self, batch: Sequence[LogEntry], words: list[list[str]] | None,
               postings: Postings) -> int:
        """Store and index a batch whose postings are gathered; returns its size.

        All or nothing: a failure before the batch is fully stored and indexed (the storage
        write, the append, the merge; :class:`CapacityError` before any of them) undoes what
        was done, so the engine and its storage are as they were. Alerts and retention run
        once the batch is in. O(m log n) under the lock.
        """
        storage, evictor, alerts = self.storage, self.evictor, self.alerts
        encoded = encode_entries(batch) if storage is not None else None
        evicted = False
        with self.lock:
            self._apply(batch, postings, encoded)
            self._sync_records()
            self.ingested_total += len(batch)
            fired = alerts.observe(batch, words) if alerts.rules else []
            if fired and storage is not None:
                alert_state.save_history(alerts, storage, fired)
            if evictor is not None:
                evicted = evictor.evict(self.store, self.indexes, storage, batch)
        if evicted and evictor is not None:
            evictor.deliver()
        if fired:
            alerts.notify(fired)
        return len(batch)

    def _apply(self, batch: Sequence[LogEntry], postings: Postings,
               encoded: Encoded | None) -> None:
        """Write, append and merge one batch, or undo all of it (under the lock): the store
        is truncated to its mark, the batch's ids leave its terms' postings and the storage
        withdraws its rows. Runtime complexity of the undo: O(m log n + t)."""
        store, indexes, storage = self.store, self.indexes, self.storage
        smark = store.mark(len(batch))
        if smark is None:  # past the internal id limit: rebase first
            shift = store.room_for(len(batch))  # CapacityError here changes nothing
            store.rebase(shift)
            indexes.rebase(shift)
            smark = store.mark(len(batch))
            assert smark is not None
        first, imark = smark[0], indexes.mark()
        written = False
        try:
            if storage is not None and encoded is not None:
                storage.write(store.epoch + first, encoded)
                written = True
            store.append(batch)
            indexes.merge(postings, first, count=False)
        except BaseException:
            indexes.withdraw(postings, first, imark)
            store.truncate(smark)
            if written and storage is not None:
                storage.withdraw(store.epoch + first)
            raise
        indexes.count(postings)

    def open_storage(self, path: str | os.PathLike[str], durability: str, batch_size: int,
                     batch_interval: float,
                     tokenize_many: Callable[[list[str]], list[list[str]]],
                     salvage: bool = False) -> None:
        """Open the durable copy (checked; rebuilt from its readable chunks with
        ``salvage``) and rebuild the store, indexes and alerts from it (the flusher starts
        with :meth:`Storage.start` once retention has run)."""
        with gc_paused():
            storage, self.salvage_report = open_storage(
                path, self.store, self.indexes, tokenize_many, salvage=salvage,
                durability=durability, batch_size=batch_size, batch_interval=batch_interval)
        try:
            alert_state.recover(self.alerts, storage)
        except BaseException:
            storage.close()
            raise
        self.storage = storage
        self.record_log = RecordLog(self.store, *storage.adopted)
        self._sync_records()

    def _sync_records(self) -> None:
        """Queue the chunks sealed since the last call (and the strings their tables
        admitted) for the storage (under the lock, after a batch is in). O(chunks sealed)."""
        log_ = self.record_log
        if self.storage is None or log_ is None:
            return
        try:
            self.storage.write_chunks(*log_.pending(self.store))
        except Exception as exc:  # a speed-up only: never fail a batch that is in
            log.warning("record chunks not queued for storage (%s); starting them over", exc)
            log_.next_first = -1

    def start_ids_at(self, first_id: int) -> None:
        """Hand out public ids from ``first_id`` (an empty engine only; a test hook to start
        just below 2**32). The storage records the ids below as evicted."""
        with self.lock:
            if len(self.store) or self.store.next_id + self.store.epoch > first_id:
                raise ValueError("ids can only move forward on an empty engine")
            self.store.start_at(first_id)
            if self.storage is not None:
                self.storage.delete_below(first_id)

    def retain(self, retention: Retention) -> None:
        """Bound the entries kept from now on, and apply the bound to what is stored (the
        stored entries also calibrate a memory budget)."""
        durable = self.storage is not None and self.storage.durability != "none"
        self.evictor = Evictor(retention, fsync=durable)
        if self.evictor.evict(self.store, self.indexes, self.storage, self.store.entries):
            self.evictor.deliver()

    def flush(self) -> None:
        """Commit queued entries, evictions and the alert state (no-op without storage)."""
        if self.storage is None:
            return
        with self.lock:
            alert_state.save_state(self.alerts, self.storage)
        self.storage.flush()

    def close(self) -> None:
        """Save the alert state and an index snapshot, then close the storage. Idempotent."""
        storage = self.storage
        if storage is None or storage.closed:
            return
        with self.lock:
            alert_state.save_state(self.alerts, storage)
            self._sync_records()
            taken = storage.snapshot(self.indexes, self.store.next_id, self.store.epoch)
        storage.close(taken)

    def count_rejected(self, n: int) -> None:
        """Count ``n`` input lines rejected as invalid."""
        with self.lock:
            self.rejected_total += n
