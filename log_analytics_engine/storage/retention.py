"""Retention: bounded memory by evicting the oldest entries, which never vanish silently.

A :class:`Retention` is configuration; the engine builds an :class:`Evictor` from it that keeps
the counters. After every ingest call (under the engine lock) the evictor removes the oldest
ids from the store, every index and the durable copy, in a step proportional to what the call
added. Each evicted entry is archived (``archive_dir``), handed to ``on_evict`` (after the lock
is released), or counted as dropped.
"""

from __future__ import annotations

import gzip
import importlib.util
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..errors import StoragePathError
from .archive_format import refuse_url
from .codec import dumps

if TYPE_CHECKING:
    from ..index.postings import IndexSet
    from ..index.store import Store
    from ..model.entry import LogEntry
    from .archive_writer import SegmentWriter
    from .sqlite import Storage

__all__ = ["Evictor", "Retention", "archive_path", "estimate_entry_bytes"]

log = logging.getLogger(__name__)

EvictCallback = Callable[[list["LogEntry"]], None]

#: Bytes per entry outside its record: instant, live and late bitmaps, level, source and tag
#: postings (calibrated with tracemalloc on the sample corpus: tests/unit/test_retention.py).
INDEX_OVERHEAD = 40
#: Estimated bytes per message word (its id in a posting list, amortised).
WORD_OVERHEAD = 4
#: When a limit is passed, eviction goes this fraction of the limit beyond it, so that the
#: per-step cost of cleaning every posting list is shared by many entries: with
#: ``max_entries=100_000`` a step removes about 3,100 entries, once per 3,100 ingested.
STEP = 1 / 32


@dataclass(frozen=True)
class Retention:
    """How many entries to keep, and what to do with the ones that go.

    Eviction removes the oldest ids (ingestion order) in steps: when a limit is passed, it
    removes what is over the limit plus 1/32 of the limit (:data:`STEP`), so between 97% and
    100% of ``max_entries`` stay (the same step applies to ``max_age``).

    ``max_entries``: keep at most this many. ``max_age``: seconds (or a ``timedelta``) of
    event time kept behind the newest entry. ``max_memory_bytes``: an approximate budget for
    entries and indexes (estimated from a sample of entries). ``on_evict(entries)``: called
    with each evicted step (oldest first) after the engine lock is released.
    ``archive_dir``: evicted entries are archived there. ``archive_format="parquet"`` (the
    default when the ``archive`` extra is installed) writes immutable Parquet segments that
    :class:`~log_analytics_engine.Archive` and ``include_archive=True`` query
    (``date=2025-07-21/hour=10/<name>.parquet``, docs/archive.md); ``"jsonl"`` (the default
    without the extra) appends gzip JSONL files, one per hour of event time
    (``2025-07-21T10.jsonl.gz``), readable back with ``ingest_logs_from_file`` and
    convertible with ``log-analytics archive``.

    >>> Retention(max_entries=100_000, max_age=3600).max_age
    3600.0
    """

    max_entries: int | None = None
    max_age: float | timedelta | None = None
    max_memory_bytes: int | None = None
    on_evict: EvictCallback | None = None
    archive_dir: str | os.PathLike[str] | None = None
    archive_format: str | None = None

    def __post_init__(self) -> None:
        fmt = self.archive_format
        if fmt is None:
            fmt = "parquet" if _has_pyarrow() else "jsonl"
            object.__setattr__(self, "archive_format", fmt)
        if fmt not in ARCHIVE_FORMATS:
            raise ValueError(f"archive_format must be one of {ARCHIVE_FORMATS}, got {fmt!r}")
        if self.max_entries is not None and self.max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {self.max_entries!r}")
        age = self.max_age
        if age is not None:
            seconds = age.total_seconds() if isinstance(age, timedelta) else float(age)
            if not seconds > 0:
                raise ValueError(f"max_age must be > 0 seconds, got {age!r}")
            object.__setattr__(self, "max_age", seconds)
        if self.max_memory_bytes is not None and self.max_memory_bytes < 1:
            raise ValueError(f"max_memory_bytes must be >= 1, got {self.max_memory_bytes!r}")
        if self.on_evict is not None and not callable(self.on_evict):
            raise TypeError("on_evict must be callable")


#: The formats of ``Retention(archive_format=...)``.
ARCHIVE_FORMATS = ("parquet", "jsonl")


def _has_pyarrow() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("pyarrow", "duckdb", "numpy"))


def estimate_entry_bytes(entry: LogEntry) -> int:
    """Approximate bytes an entry object holds in memory (an entry not sealed into a chunk's
    records yet), its index share included. O(fields)."""
    size = sys.getsizeof
    n = size(entry) + size(entry.message) + size(entry.source) + size(entry.timestamp)
    n += size(entry.tags) + sum(size(t) for t in entry.tags)
    md = entry.metadata
    n += size(md) + sum(map(size, md.values()))  # keys: shared (orjson caches them)
    for v in (entry.thread_id, entry.request_id, entry.user_id):
        if v is not None:
            n += size(v)
    return n + INDEX_OVERHEAD + WORD_OVERHEAD * (entry.message.count(" ") + 1)


def archive_path(directory: str, instant: float) -> str:
    """The archive file of the hour (UTC, event time) holding ``instant``."""
    stamp = time.strftime("%Y-%m-%dT%H", time.gmtime(instant))
    return os.path.join(directory, f"{stamp}.jsonl.gz")


class Evictor:
    """The retention state of one engine: limits, counters and the delivery queue.

    Counters: ``evicted`` (all), ``archived``, ``handed_off`` (given to ``on_evict``
    without error), ``dropped`` (neither archived nor handed off), ``callback_errors``.
    """

    #: Entries sampled per ingest call to update the bytes-per-entry estimate.
    SAMPLES = 16

    def __init__(self, retention: Retention, fsync: bool = False) -> None:
        self.retention = retention
        self.fsync = fsync
        self.archive_dir: str | None = None
        #: The Parquet segment writer (``archive_format="parquet"``); its ``written`` names
        #: are this engine's own segments.
        self.segments: SegmentWriter | None = None
        if retention.archive_dir is not None:
            self.archive_dir = os.fspath(retention.archive_dir)
            refuse_url(self.archive_dir)  # before makedirs makes a local folder "s3a:"
            try:
                os.makedirs(self.archive_dir, exist_ok=True)
            except OSError as exc:
                raise StoragePathError(self.archive_dir, f"cannot create: {exc}") from exc
            if retention.archive_format == "parquet":
                from .archive_writer import SegmentWriter  # the archive extra: import on use

                self.segments = SegmentWriter(self.archive_dir, fsync=fsync)
        self.evicted = 0
        self.archived = 0
        self.handed_off = 0
        self.dropped = 0
        self.callback_errors = 0
        self.archive_errors = 0
        self.bytes_per_entry = 0.0
        self._object_bytes = 0.0  # mean estimate of an entry object (the unsealed tail)
        self._words = 0.0  # mean words per message
        self._queue: deque[list[LogEntry]] = deque()
        self._deliver_lock = threading.Lock()

    # -- under the engine lock ------------------------------------------------------------
    def first_live(self, store: Store, appended: Sequence[LogEntry] = ()) -> int:
        """The lowest id to keep after ``appended`` entered ``store``. O(k) for k to evict."""
        r = self.retention
        n = len(store)
        cut = store.base
        limit = r.max_entries
        if r.max_memory_bytes is not None:
            self._sample(appended)
            self._estimate(store)
            if self.bytes_per_entry > 0:
                by_memory = max(1, int(r.max_memory_bytes / self.bytes_per_entry))
                limit = by_memory if limit is None else min(limit, by_memory)
        if limit is not None and n > limit:
            cut += n - limit + int(limit * STEP)
        if r.max_age is not None and n:
            assert isinstance(r.max_age, float)
            oldest_kept = store.instant(store.time_index[-1]) - r.max_age
            ts, base, end = store.ts, store.base, store.next_id
            i = cut
            if i < end and ts[i - base] < oldest_kept:
                oldest_kept += r.max_age * STEP
                while i < end and ts[i - base] < oldest_kept:
                    i += 1
            cut = i
        return cut

    def _sample(self, appended: Sequence[LogEntry]) -> None:
        """Update the mean object size and word count from a sample of ``appended``."""
        if not appended:
            return
        step = max(1, len(appended) // self.SAMPLES)
        picked = appended[::step]
        words = sum(e.message.count(" ") + 1 for e in picked) / len(picked)
        size = (sum(map(estimate_entry_bytes, picked)) / len(picked) - INDEX_OVERHEAD
                - WORD_OVERHEAD * words)
        if self._object_bytes == 0:
            self._object_bytes, self._words = size, words
        else:  # exponential moving average: adapts to a change of traffic
            self._object_bytes += 0.05 * (size - self._object_bytes)
            self._words += 0.05 * (words - self._words)

    def _estimate(self, store: Store) -> None:
        """Bytes per live entry: the sealed records and string tables as measured, the
        unsealed tail as objects, plus each entry's share of the indexes. O(1) amortised."""
        n = len(store)
        if not n:
            return
        chunks = store.entries
        held = chunks.memory_bytes() + len(chunks.tail) * self._object_bytes
        self.bytes_per_entry = held / n + INDEX_OVERHEAD + WORD_OVERHEAD * self._words

    def evict(
        self, store: Store, indexes: IndexSet, storage: Storage | None,
        appended: Sequence[LogEntry] = (),
    ) -> bool:
        """Apply the limits; return whether evicted entries await :meth:`deliver`.

        Order: archive (fsynced when the storage is durable), then the store and every
        index, then the deletion of the durable rows is queued. Runtime complexity: O(k + t)
        for k evicted entries and t of their terms.
        """
        cut = self.first_live(store, appended)
        if cut <= store.base:
            return False
        archived = False
        count = cut - store.base
        # the evicted entries are built from their records only when something reads them
        removed: list[LogEntry] | None = None
        if self.archive_dir is not None:
            removed = store.entries[:count]
            try:
                self._archive(removed, store.epoch + store.base)
            except StoragePathError as exc:  # keep the entries; retried at the next call
                self.archive_errors += 1
                log.error("eviction postponed, archive failed: %s", exc)
                return False
            archived = True
        if removed is None and (self.retention.on_evict is not None
                                or indexes.reads_removed(count)):
            removed = store.entries[:count]
        store.evict_before(cut, entries=False)
        indexes.remove_below(cut, removed)
        if storage is not None:
            storage.delete_below(store.epoch + cut)
        self.evicted += count
        if archived:
            self.archived += count
        if self.retention.on_evict is not None:
            assert removed is not None
            self._queue.append(removed)
            return True
        if not archived:
            self.dropped += count
        return False

    def _archive(self, removed: Sequence[LogEntry], first_id: int) -> None:
        assert self.archive_dir is not None
        if self.segments is not None:
            self.segments.write(removed, range(first_id, first_id + len(removed)))
            return
        by_file: dict[str, list[bytes]] = {}
        for e in removed:
            path = archive_path(self.archive_dir, e.ts)
            line = dumps(e.to_dict(), newline=True)
            by_file.setdefault(path, []).append(line)
        for path, lines in by_file.items():
            member = gzip.compress(b"".join(lines), compresslevel=1)  # one complete member
            try:
                with open(path, "ab") as fh:
                    fh.write(member)
                    fh.flush()
                    if self.fsync:
                        os.fsync(fh.fileno())
            except OSError as exc:
                raise StoragePathError(path, f"cannot write archive: {exc}") from exc

    # -- after the engine lock ------------------------------------------------------------
    def deliver(self) -> None:
        """Hand queued evicted steps to ``on_evict`` in eviction order; failures are logged
        and counted (and the entries counted as dropped unless archived)."""
        callback = self.retention.on_evict
        if callback is None:
            return
        with self._deliver_lock:
            while self._queue:
                batch = self._queue.popleft()
                try:
                    callback(batch)
                except Exception:
                    self.callback_errors += 1
                    if self.archive_dir is None:
                        self.dropped += len(batch)
                    log.exception("on_evict callback %r failed", callback)
                else:
                    self.handed_off += len(batch)

    def stats(self) -> dict[str, Any]:
        """The counters, and the bytes-per-entry estimate when a memory budget is set."""
        out: dict[str, Any] = {
            "evicted_total": self.evicted,
            "archived_total": self.archived,
            "handed_off_total": self.handed_off,
            "dropped_total": self.dropped,
            "callback_errors_total": self.callback_errors,
            "archive_errors_total": self.archive_errors,
        }
        if self.retention.max_memory_bytes is not None:
            out["bytes_per_entry"] = round(self.bytes_per_entry, 1)
        return out
