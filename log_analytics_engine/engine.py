"""The engine: a facade that wires the layers under one lock, a few lines per method.

Ingestion runs through :class:`~.ingest.driver.IngestDriver` (processors, tokenizing and
posting gathering before the lock) and :class:`~.writer.HotWriter` (storage, store, postings,
alerts and retention under it); queries compile in :mod:`.query`, take ids under
the lock and build entries from them; alerts, storage and metrics live in their own layers.
"""

from __future__ import annotations

import heapq
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from ._gc import gc_paused
from .alerts import AlertManager
from .alerts.api import AlertMethods
from .errors import UnknownFieldWarning
from .events.api import EventMethods
from .index.chunks import EntryChunks
from .index.postings import IndexSet
from .index.store import Store
from .index.views import EntriesView, LevelIndexView
from .ingest.driver import IngestDriver
from .ingest.files import IngestReport
from .ingest.limits import DEFAULT_LIMITS, InputLimits
from .ingest.processor_api import ProcessorMethods
from .ingest.processors import ProcessorChain
from .metrics.limits import DEFAULT_TOP_K
from .model.entry import LogEntry
from .model.tokenize import TokenCache
from .query.aggregate import aggregate_entries, prepare_aggregate
from .query.compile import Filters, compile
from .query.fields import unknown_fields, warn_unknown_fields
from .query.nodes import QueryContext
from .query.order import page_window
from .query.pages import Page, finish_page, start_page, take_page
from .query.residual import Deadline, ResidualPlan, deadline_of
from .stats import StatsMethods
from .storage.federated import FederatedMethods
from .storage.integrity import SalvageReport
from .storage.retention import Retention
from .writer import HotWriter

if TYPE_CHECKING:
    from .dashboard import DashboardServer

__all__ = ["LogAnalyticsEngine"]


class LogAnalyticsEngine(AlertMethods, ProcessorMethods, EventMethods, StatsMethods,
                         FederatedMethods):
    """An in-process log store with indexes, queries, aggregations and alerts.

    >>> engine = LogAnalyticsEngine()
    >>> engine.ingest_log(LogEntry("2025-07-21T10:00:00Z", "ERROR", "db timeout", source="api"))
    1
    >>> [e.message for e in engine.query_logs({"level": "ERROR", "keyword": "timeout"})]
    ['db timeout']

    Every public method is thread-safe. Processors run before the engine lock is taken and
    notification hooks after it is released. ``storage="path.db"`` keeps a durable SQLite
    copy and rebuilds everything from it on open; ``durability`` is ``"sync"``, ``"batch"``
    (default: committed every ``batch_size`` entries or ``batch_interval`` seconds) or
    ``"none"``; ``retention=Retention(...)`` bounds the entries kept (docs/storage.md).
    ``limits=InputLimits(...)`` bounds input lines and decompressed files; ``metrics_top_k``
    caps the per-source and per-tag metric series (docs/limits.md). A damaged storage file
    raises ``StorageCorruptError``; ``salvage=True`` rebuilds it from its readable chunks and
    reports what was lost in ``salvage_report``. Call :meth:`close` (or use ``with``) when done.
    """

    def __init__(self, *, index_fields: Sequence[str] = (), max_alert_history: int = 10_000,
                 storage: str | os.PathLike[str] | None = None, durability: str | None = None,
                 batch_size: int = 10_000, batch_interval: float = 0.2,
                 retention: Retention | None = None, limits: InputLimits = DEFAULT_LIMITS,
                 metrics_top_k: int = DEFAULT_TOP_K, salvage: bool = False) -> None:
        if storage is None and durability is not None:
            raise ValueError("durability needs storage=...: an in-memory engine keeps nothing")
        self._lock = threading.RLock()
        self._store = Store()
        self._indexes = IndexSet(index_fields)
        self._ctx = QueryContext(self._store, self._indexes)
        self._processors = ProcessorChain()
        self._tokens = TokenCache()
        self._alerts = AlertManager(max_alert_history)
        self._writer = w = HotWriter(self._lock, self._store, self._indexes, self._alerts)
        store, alerts = self._store, self._alerts  # the driver's callbacks hold no engine
        indexes = self._indexes

        def records() -> EntryChunks | None:  # the commit reads no entry of a batch
            plain = w.storage is None and not alerts.rules and not indexes.fields
            return store.entries if plain else None

        self._driver = IngestDriver(self._indexes, self._processors, self._tokens,
                                    lambda: store.next_id, lambda: bool(alerts.rules), w.commit,
                                    limits, records)
        self._metrics_top_k = metrics_top_k
        if storage is not None:
            w.open_storage(storage, durability or "batch", batch_size, batch_interval,
                           self._tokens.tokenize_many, salvage)
        if retention is not None:
            w.retain(retention)
        if w.storage is not None:
            w.storage.start()

    _storage = property(lambda self: self._writer.storage, doc="The durable copy, if any.")
    _evictor = property(lambda self: self._writer.evictor, doc="Retention, if any.")

    # -- ingestion ------------------------------------------------------------------------
    def ingest_log(self, entry: LogEntry | Mapping[str, Any]) -> int:
        """Ingest one entry (or a dict for :meth:`LogEntry.from_dict`); return 1, or 0 if a
        processor dropped it. Runtime complexity: O(t + log n) for t message words."""
        return self.ingest_logs((entry,))

    def ingest_logs(self, entries: Iterable[LogEntry | Mapping[str, Any]]) -> int:
        """Ingest a batch under one lock acquisition; return how many were stored.

        Runtime complexity: O(m (t + log n)) for m entries. Dicts are converted with
        :meth:`LogEntry.from_dict`; anything else raises ``TypeError`` before any is stored.
        """
        with gc_paused():
            given = list(entries)
            batch = (cast("list[LogEntry]", given) if set(map(type, given)) <= _PLAIN
                     else [_coerce(e) for e in given])  # dicts, subclasses or wrong types
            return self._driver.ingest(batch)

    def ingest_logs_from_file(self, path: str | os.PathLike[str], file_type: str = "jsonl", *,
                              batch_size: int = 32768,
                              progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Ingest a JSONL or text file, plain or gzip; bad lines are rejected and reported.

        Returns ``{"file", "type", "count", "errors", "rejected", "duration_sec",
        "logs_per_sec"}``; ``rejected`` lists up to 100 ``{"line", "reason"}`` (1-based).
        ``progress(bytes_read)`` is called after each batch.
        """
        return self._reported(self._driver.ingest_file(path, file_type, batch_size, progress))

    def ingest_stream(self, lines: Iterable[str | bytes], file_type: str = "jsonl",
                      batch_size: int = 1024) -> dict[str, Any]:
        """Ingest lines from any iterable (a socket, a pipe, a generator) in batches."""
        return self._reported(self._driver.ingest_stream(lines, file_type, batch_size))

    def _reported(self, report: IngestReport) -> dict[str, Any]:
        self._writer.count_rejected(report.errors)
        return report.to_dict()

    # -- queries --------------------------------------------------------------------------
    def query_logs(self, filters: Filters = None, sort_by: str | None = None,
                   sort_desc: bool = False, page: int | None = None,
                   page_size: int | None = None, *,
                   timeout: float | Deadline | None = None,
                   include_archive: bool = False) -> list[LogEntry]:
        """Entries matching every filter, in time order (ties in ingestion order) by default.

        Runtime complexity: O(p + k log k) for posting lists of total size p and k hits, or
        O(page_size * n / k) for a first page of a large result in time order. A regex runs
        outside the lock; past ``timeout`` seconds it raises ``QueryTimeoutError``.
        ``include_archive=True``: hot entries and the retention's Parquet archive as one
        history (:mod:`.storage.federated`).
        """
        if include_archive:
            return self._federated().query_logs(filters, sort_by, sort_desc, page, page_size,
                                                timeout)
        offset, limit = page_window(page, page_size)
        plan = ResidualPlan(compile(filters), deadline_of(timeout))
        with self._lock:
            unknown = unknown_fields(plan.node, self._ctx)
            found = plan.entries(self._ctx, sort_by, sort_desc, offset, limit)
        warn_unknown_fields(unknown)
        return plan.finish_entries(found, offset, limit)

    def search(self, q: str, sort_by: str | None = None, sort_desc: bool = False,
               page: int | None = None, page_size: int | None = None, *,
               include_archive: bool = False) -> list[LogEntry]:
        """Entries matching a query string such as ``'level:ERROR "connection refused"'``
        (see :mod:`log_analytics_engine.query.language`); otherwise :meth:`query_logs`.

        >>> e = LogAnalyticsEngine()
        >>> _ = e.ingest_logs([LogEntry(0, "ERROR", "db timeout", "api"), LogEntry(1, "INFO")])
        >>> [x.message for x in e.search('level:ERROR source:api timeout')]
        ['db timeout']
        """
        return self.query_logs(q, sort_by, sort_desc, page, page_size,
                               include_archive=include_archive)

    def count_logs(self, filters: Filters = None, *, timeout: float | Deadline | None = None,
                   include_archive: bool = False) -> int:
        """How many entries match, without building them. O(1) for one indexed term."""
        if include_archive:
            return self._federated().count_logs(filters, timeout)
        plan = ResidualPlan(compile(filters), deadline_of(timeout))
        with self._lock:
            unknown = unknown_fields(plan.node, self._ctx)
            found = plan.count(self._ctx)
        warn_unknown_fields(unknown)
        return plan.finish_count(found)

    def unknown_fields(self, filters: Filters = None) -> list[UnknownFieldWarning]:
        """The warnings of :meth:`query_logs` for fields no entry has had, not issued."""
        node = compile(filters)
        with self._lock:
            return unknown_fields(node, self._ctx)

    def query_page(self, filters: Filters = None, page_size: int = 100,
                   cursor: str | None = None, sort_desc: bool = False) -> Page:
        """One page in time order and a cursor that fetches exactly the next one, even while
        entries arrive (see :mod:`log_analytics_engine.query.pages`).

        Runtime complexity: O(p + page_size * n / k) or O(p + k log k) for k remaining hits.

        >>> e = LogAnalyticsEngine()
        >>> _ = e.ingest_logs([LogEntry(0, "INFO", "first"), LogEntry(1, "INFO", "second")])
        >>> page = e.query_page("level:INFO", page_size=1)
        >>> [x.message for x in page.entries], page.has_more
        (['first'], True)
        >>> [x.message for x in e.query_page("level:INFO", 1, page.next_cursor).entries]
        ['second']
        """
        plan = ResidualPlan(compile(filters))
        after = start_page(cursor, page_size, sort_desc, plan.node)
        with self._lock:
            taken = take_page(self._ctx, plan, after, sort_desc, page_size)
        return finish_page(taken, plan, after, sort_desc, page_size)

    def aggregate(self, filters: Filters = None, group_by: str | Sequence[str] | None = None,
                  interval: str | float | None = None, metrics: Iterable[Any] | None = None,
                  *, timeout: float | Deadline | None = None,
                  include_archive: bool = False) -> dict[Any, Any]:
        """Grouped metrics of the matching entries (see :mod:`.query.aggregate`).

        ``metrics``: ``"count"`` (default), ``"sum|avg|min|max|p50|p95|p99:field"``,
        ``"distinct:field"``. Without ``group_by``/``interval`` the result is one dict of
        metrics; otherwise a dict keyed by group value (a tuple for several fields; the
        bucket's ISO start comes first when ``interval`` is given).

        >>> e = LogAnalyticsEngine()
        >>> _ = e.ingest_logs([LogEntry(0, "INFO", "a", "api"), LogEntry(1, "ERROR", "b", "api")])
        >>> e.aggregate(group_by="level")
        {'ERROR': {'count': 1}, 'INFO': {'count': 1}}
        """
        if include_archive:
            return self._federated().aggregate(filters, group_by, interval, metrics, timeout)
        plan = ResidualPlan(compile(filters), deadline_of(timeout))
        with self._lock:
            found, epoch = plan.candidates(self._ctx), self._store.epoch
            if plan.residual is None:
                done = prepare_aggregate(self._ctx, plan.finish_ids(found), group_by,
                                         interval, metrics)
        if plan.residual is not None:
            hits = plan.finish_ids(found)  # a regex outside the lock, on fixed candidates
            with self._lock:
                done = prepare_aggregate(self._ctx, self._store.still_live(hits, epoch),
                                         group_by, interval, metrics)
        return done()  # sums and percentiles outside the lock, on what was taken

    @staticmethod
    def aggregate_logs(logs: Iterable[LogEntry], group_by: str | None = None,
                       histogram: str | None = None,
                       top_n: int | tuple[str, int] | Mapping[str, int] | None = None
                       ) -> dict[str, Any]:
        """Counts over a given list of entries: ``group_by``, ``histogram``, ``top_{n}_{field}``."""
        return aggregate_entries(logs, group_by, histogram, top_n)

    def top_keywords(self, n: int = 10) -> list[tuple[str, int]]:
        """The ``n`` most frequent message words with their entry counts. O(w log n)."""
        with self._lock:
            counts = self._indexes.token.counts()
        return heapq.nlargest(n, counts.items(), key=lambda kv: (kv[1], kv[0]))

    @property
    def all_logs(self) -> EntriesView:
        """Every entry in ingestion order (a read-only live view, not a copy)."""
        return EntriesView(self._store, lock=self._lock)

    @property
    def level_index(self) -> Mapping[str, EntriesView]:
        """``level_index["ERROR"]``: entries of a level in ingestion order (live views)."""
        return LevelIndexView(self._store, self._indexes, self._lock)

    def __len__(self) -> int:
        return len(self._store)

    @property
    def salvage_report(self) -> SalvageReport | None:
        """What ``salvage=True`` recovered and lost from a damaged file (None: nothing)."""
        return self._writer.salvage_report

    # -- storage --------------------------------------------------------------------------
    def flush(self) -> None:
        """Commit every queued entry, eviction and the alert state to storage (no-op without
        storage). Raises :class:`~log_analytics_engine.errors.StorageError` on failure."""
        self._writer.flush()

    def close(self) -> None:
        """Flush and release the storage (its file and flusher thread) and the archive
        reader of ``include_archive``. Idempotent."""
        self._writer.close()
        self._close_federation()

    def __enter__(self) -> LogAnalyticsEngine:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- integrations (optional extras, imported on use) --------------------------------
    def prometheus_collector(self) -> Any:
        """A ``prometheus_client`` collector yielding :meth:`metric_families` on every scrape;
        register it in your own ``CollectorRegistry`` (needs the ``prometheus`` extra)."""
        from .integrations.prometheus import EngineCollector  # optional extra: import on use

        return EngineCollector(self)

    def to_pandas(self, filters: Filters = None) -> Any:
        """Matching entries as a ``pandas.DataFrame`` with typed columns (needs the ``pandas``
        extra; see :mod:`log_analytics_engine.integrations.pandas`). O(k * columns)."""
        from .integrations.pandas import entries_to_frame  # optional extra: import on use

        return entries_to_frame(self.query_logs(filters))

    def serve(self, host: str = "127.0.0.1", port: int = 8000,
              token: str | None = None) -> DashboardServer:
        """Serve the dashboard in a background thread; returns a handle (``.url``, ``.stop()``).
        Needs the ``dashboard`` extra (FastAPI and uvicorn)."""
        from .dashboard import serve  # optional extra: import on use

        return serve(self, host=host, port=port, token=token)

    def _check(self) -> None:
        """Assert every invariant of each component (tests call it after mutations)."""
        with self._lock:
            self._store._check()
            self._indexes._check(self._store)
            self._alerts._check()


_PLAIN = frozenset((LogEntry,))


def _coerce(value: LogEntry | Mapping[str, Any]) -> LogEntry:
    if isinstance(value, LogEntry):
        return value
    if isinstance(value, Mapping):
        return LogEntry.from_dict(value)
    raise TypeError(f"expected a LogEntry or a dict, got {type(value).__name__}")
