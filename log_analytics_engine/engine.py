"""The engine: a thin facade that wires store, indexes, queries and alerts under one lock."""

from __future__ import annotations

import heapq
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson

from ._gc import gc_paused
from ._native import speedups
from .alerts import Alert, AlertDelivery, AlertManager, AlertRule, AlertSeverity
from .alerts.persistence import (
    load_rules,
    read_alerts,
    read_json,
    save_rules,
    write_alerts,
    write_json,
)
from .alerts.state import (
    alert_from_blob,
    alert_to_blob,
    load_rule_state,
    restore_rule_state,
    rule_state_blob,
)
from .errors import InvalidEntryError
from .events.sessions import DEFAULT_KEY, SessionsResult, build_sessions, snapshot
from .events.validation import EventError, EventSchema, validate_events
from .index.postings import IndexSet, Postings
from .index.store import EntriesView, Store
from .ingest import (
    DEFAULT_LIMITS,
    IngestReport,
    InputLimits,
    encoded_lines,
    open_lines,
    read_entries,
)
from .ingest.files import read_indexed
from .ingest.processors import Processor, ProcessorChain, When
from .metrics.exposition import MetricFamily, render_prometheus
from .metrics.limits import DEFAULT_TOP_K, top_k_with_other
from .model.entry import LEVELS, LogEntry, normalize_level
from .model.timeparse import format_instant
from .model.tokenize import TokenCache, tokenize
from .query.aggregate import aggregate_entries, aggregate_ids
from .query.language import parse_query
from .query.nodes import (
    Node,
    QueryContext,
    compile_filters,
    execute,
    page_window,
)
from .query.pages import Page, fetch_page
from .query.residual import Deadline, ResidualPlan, deadline_of
from .storage.integrity import SalvageReport
from .storage.opening import open_storage
from .storage.retention import Evictor, Retention
from .storage.sqlite import Storage, encode_entries

if TYPE_CHECKING:
    from .dashboard import DashboardServer

__all__ = ["LogAnalyticsEngine"]

log = logging.getLogger(__name__)

Filters = Mapping[str, Any] | Node | None


class _LevelIndexView(Mapping[str, EntriesView]):
    """``engine.level_index[level]``: entries of a level in ingestion order (live, no copy)."""

    def __init__(self, engine: LogAnalyticsEngine) -> None:
        self._engine = engine

    def __getitem__(self, level: str) -> EntriesView:
        try:
            canonical = normalize_level(level)
        except ValueError:
            raise KeyError(level) from None
        e = self._engine
        with e._lock:
            posting = e._indexes.level.get(canonical)
            if not posting:  # give the level its own posting list so the view stays live
                e._indexes.level.add_batch({canonical: []})
                posting = e._indexes.level.get(canonical)
        return EntriesView(e._store, posting)

    def __iter__(self) -> Any:
        return iter([lv for lv in LEVELS if self._engine._indexes.level.count(lv)])

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LogAnalyticsEngine:
    """An in-process log store with indexes, queries, aggregations and alerts.

    >>> engine = LogAnalyticsEngine()
    >>> engine.ingest_log(LogEntry("2025-07-21T10:00:00Z", "ERROR", "db timeout", source="api"))
    1
    >>> [e.message for e in engine.query_logs({"level": "ERROR", "keyword": "timeout"})]
    ['db timeout']

    Every public method is thread-safe. Processors run before the engine lock is taken and
    notification hooks after it is released.

    ``storage="path.db"`` keeps a durable SQLite copy and rebuilds everything from it on open;
    ``durability`` is ``"sync"``, ``"batch"`` (default: committed every ``batch_size`` entries
    or ``batch_interval`` seconds) or ``"none"``; ``retention=Retention(...)`` bounds the
    entries kept (docs/storage.md). Call :meth:`close` (or use ``with``) when done.
    ``limits=InputLimits(...)`` bounds lines and decompressed files; ``metrics_top_k`` caps
    the per-source and per-tag metric series (docs/limits.md). A damaged storage file raises
    ``StorageCorruptError``; ``salvage=True`` rebuilds it from its readable chunks instead
    and puts what was lost in :attr:`salvage_report` (docs/storage.md).
    """

    def __init__(
        self,
        *,
        index_fields: Sequence[str] = (),
        max_alert_history: int = 10_000,
        storage: str | os.PathLike[str] | None = None,
        durability: str | None = None,
        batch_size: int = 10_000,
        batch_interval: float = 0.2,
        retention: Retention | None = None,
        limits: InputLimits = DEFAULT_LIMITS,
        metrics_top_k: int = DEFAULT_TOP_K,
        salvage: bool = False,
    ) -> None:
        self._limits = limits
        self._metrics_top_k = metrics_top_k
        self._lock = threading.RLock()
        self._store = Store()
        self._indexes = IndexSet(index_fields)
        self._ctx = QueryContext(self._store, self._indexes)
        self._processors = ProcessorChain()
        self._tokens = TokenCache()
        self._alerts = AlertManager(max_alert_history)
        self._ingested_total = 0
        self._rejected_total = 0
        self._created = time.time()
        self._storage: Storage | None = None
        self._evictor: Evictor | None = None
        self._saved_rule_state: dict[str, Any] = {}
        #: What ``salvage=True`` recovered and lost from a damaged file (``None``: nothing).
        self.salvage_report: SalvageReport | None = None
        self._open_storage(storage, durability, batch_size, batch_interval, retention, salvage)

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
            return self._ingest_batch(
                [e if isinstance(e, LogEntry) else self._coerce(e) for e in entries])

    def _ingest_batch(self, batch: list[LogEntry]) -> int:
        if self._processors:
            batch = self._processors.run_batch(batch)
        if not batch:
            return 0
        # Postings are gathered outside the lock, numbered from the id the batch will most
        # likely get; merge() shifts them if another writer appended first.
        # Words are needed here only by word-keyed alert rules, or without the C gatherer
        # (which tokenizes as it indexes).
        words = (self._tokens.tokenize_many([e.message for e in batch])
                 if speedups is None or self._alerts.rules else None)
        postings = self._indexes.gather(batch, words, self._store.next_id)
        return self._commit(batch, words, postings)

    def _commit(self, batch: list[LogEntry], words: list[list[str]] | None,
                postings: Postings) -> int:
        """Store and index a batch whose postings are gathered (the part under the lock)."""
        storage, evictor = self._storage, self._evictor
        encoded = encode_entries(batch) if storage is not None else None
        evicted = False
        with self._lock:
            if storage is not None and encoded is not None:  # raises before anything is kept
                storage.write(self._store.next_id, encoded)
            first = self._store.append(batch)
            self._indexes.merge(postings, first)
            self._ingested_total += len(batch)
            alerts = self._alerts.observe(batch, words) if self._alerts.rules else []
            if alerts and storage is not None:
                self._persist_alerts(alerts)
            if evictor is not None:
                evicted = evictor.evict(self._store, self._indexes, storage, batch)
        if evicted and evictor is not None:
            evictor.deliver()
        if alerts:
            self._alerts.notify(alerts)
        return len(batch)

    def _next_id(self) -> int:
        return self._store.next_id

    @staticmethod
    def _coerce(value: Any) -> LogEntry:
        if isinstance(value, Mapping):
            return LogEntry.from_dict(value)
        raise TypeError(f"expected a LogEntry or a dict, got {type(value).__name__}")

    def ingest_logs_from_file(
        self,
        path: str | os.PathLike[str],
        file_type: str = "jsonl",
        *,
        batch_size: int = 32768,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Ingest a JSONL or text file, plain or gzip; bad lines are rejected and reported.

        Returns ``{"file", "type", "count", "errors", "rejected", "duration_sec",
        "logs_per_sec"}``; ``rejected`` lists up to 100 ``{"line", "reason"}`` (1-based).
        ``progress(bytes_read)`` is called after each batch.
        """
        if file_type not in ("jsonl", "text"):
            raise ValueError(f"unknown file_type {file_type!r}; expected 'jsonl' or 'text'")
        report = IngestReport(str(path), file_type)
        started = time.perf_counter()
        with open_lines(path, self._limits) as lines, gc_paused():
            if file_type == "jsonl" and speedups is not None and not self._processors:
                for batch, postings in read_indexed(lines, self._indexes, self._next_id,
                                                    report, batch_size, progress, self._limits):
                    words = (self._tokens.tokenize_many([e.message for e in batch])
                             if self._alerts.rules else None)
                    report.count += self._commit(batch, words, postings)
            else:
                for batch in read_entries(lines, file_type, report, batch_size, progress,
                                          self._limits):
                    report.count += self._ingest_batch(batch)
        report.duration_sec = time.perf_counter() - started
        with self._lock:
            self._rejected_total += report.errors
        return report.to_dict()

    def ingest_stream(self, lines: Iterable[str | bytes], file_type: str = "jsonl",
                      batch_size: int = 1024) -> dict[str, Any]:
        """Ingest lines from any iterable (a socket, a pipe, a generator) in batches."""
        report = IngestReport("<stream>", file_type)
        started = time.perf_counter()
        with gc_paused():
            for batch in read_entries(encoded_lines(lines), file_type, report, batch_size,
                                      limits=self._limits):
                report.count += self._ingest_batch(batch)
        report.duration_sec = time.perf_counter() - started
        with self._lock:
            self._rejected_total += report.errors
        return report.to_dict()

    # -- queries --------------------------------------------------------------------------
    def query_logs(
        self,
        filters: Filters = None,
        sort_by: str | None = None,
        sort_desc: bool = False,
        page: int | None = None,
        page_size: int | None = None,
        *,
        timeout: float | Deadline | None = None,
    ) -> list[LogEntry]:
        """Entries matching every filter, in time order (ties in ingestion order) by default.

        Runtime complexity: O(p + k log k) for posting lists of total size p and k hits, or
        O(page_size * n / k) for a first page of a large result in time order. A regex runs
        outside the engine lock; past ``timeout`` seconds (or a
        ``Deadline`` that can also be cancelled) it raises ``QueryTimeoutError``.
        """
        offset, limit = page_window(page, page_size)
        plan = ResidualPlan(compile_filters(filters), deadline_of(timeout))
        with self._lock:
            found = plan.entries(self._ctx, sort_by, sort_desc, offset, limit)
        return plan.finish_entries(found, offset, limit)

    def count_logs(self, filters: Filters = None, *,
                   timeout: float | Deadline | None = None) -> int:
        """How many entries match, without building them. O(1) for one indexed term."""
        plan = ResidualPlan(compile_filters(filters), deadline_of(timeout))
        with self._lock:
            found = plan.count(self._ctx)
        return plan.finish_count(found)

    def aggregate(
        self,
        filters: Filters = None,
        group_by: str | Sequence[str] | None = None,
        interval: str | float | None = None,
        metrics: Iterable[Any] | None = None,
        *,
        timeout: float | Deadline | None = None,
    ) -> dict[Any, Any]:
        """Grouped metrics of the matching entries.

        ``metrics``: ``"count"`` (default), ``"sum|avg|min|max|p50|p95|p99:field"``,
        ``"distinct:field"``. Without ``group_by``/``interval`` the result is one dict of
        metrics; otherwise a dict keyed by group value (a tuple for several fields;
        the bucket's ISO start comes first when ``interval`` is given).

        >>> e = LogAnalyticsEngine()
        >>> _ = e.ingest_logs([LogEntry(0, "INFO", "a", "api"), LogEntry(1, "ERROR", "b", "api")])
        >>> e.aggregate(group_by="level")
        {'ERROR': {'count': 1}, 'INFO': {'count': 1}}
        """
        plan = ResidualPlan(compile_filters(filters), deadline_of(timeout))
        if plan.residual is not None:  # the regex outside the lock, on fixed candidates
            with self._lock:
                found = plan.candidates(self._ctx)
            hits = plan.finish_ids(found)
            with self._lock:
                return aggregate_ids(self._ctx, hits & self._store.live, group_by, interval,
                                     metrics)
        with self._lock:
            ids = execute(plan.indexed, self._ctx)
            return aggregate_ids(self._ctx, ids, group_by, interval, metrics)

    @staticmethod
    def aggregate_logs(
        logs: Iterable[LogEntry],
        group_by: str | None = None,
        histogram: str | None = None,
        top_n: int | tuple[str, int] | Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        """Counts over a given list of entries: ``group_by``, ``histogram``, ``top_{n}_{field}``."""
        return aggregate_entries(logs, group_by, histogram, top_n)

    @property
    def all_logs(self) -> EntriesView:
        """Every entry in ingestion order (a read-only live view, not a copy)."""
        return EntriesView(self._store)

    @property
    def level_index(self) -> Mapping[str, EntriesView]:
        """``level_index["ERROR"]``: entries of a level in ingestion order (live views)."""
        return _LevelIndexView(self)

    def __len__(self) -> int:
        return len(self._store)

    # -- alerts ---------------------------------------------------------------------------
    # Rules, windows and history live in alerts/ (AlertManager); these methods only delegate.
    def add_alert_rule(self, rule: AlertRule) -> None:
        """Evaluate ``rule`` on every entry ingested from now on (replaces a rule of that name).

        Conditions compile once, here; the rule is dispatched by level, source, tag or word.
        """
        with self._lock:
            self._alerts.add_rule(rule)
            if rule.name in self._saved_rule_state:
                restore_rule_state(self._alerts, rule, self._saved_rule_state)

    def remove_alert_rule(self, name: str) -> None:
        """Forget the rule ``name`` and its window state (no error when absent)."""
        with self._lock:
            self._alerts.remove_rule(name)

    def add_alert_notification_hook(self, hook: Callable[[Alert], None]) -> None:
        """Call ``hook(alert)`` for every alert, after the engine lock is released, in
        registration order; a hook that raises is logged and counted."""
        with self._lock:
            self._alerts.hooks.append(hook)

    def get_alerts(self, since: Any = None, rule_name: str | None = None,
                   severity: AlertSeverity | str | None = None) -> list[Alert]:
        """Alerts fired so far, oldest first (bounded history), filtered by
        ``triggered_at >= since`` (datetime, ISO text or epoch), rule and severity. O(h)."""
        with self._lock:
            return self._alerts.alerts(since, rule_name, severity)

    def configure_alerts(self, *, max_history: int | None = None,
                         late_horizon: float | None = None) -> None:
        """Set the alert history bound and the late horizon (seconds of event time that a
        late entry may lag behind its rule's newest match and still fire; default 600)."""
        with self._lock:
            self._alerts.configure(max_history, late_horizon)

    def start_alert_delivery(self, max_queue: int = 1000,
                             overflow: str = "drop") -> AlertDelivery:
        """Run notification hooks on a background thread fed by a bounded queue; returns the
        handle whose ``stop()`` delivers what is queued and joins. When the queue is full,
        ``"drop"`` drops (and counts) the notification, ``"block"`` makes ingestion wait."""
        with self._lock:
            return self._alerts.start_delivery(max_queue, overflow)

    def persist_alerts_to_file(self, path: str | os.PathLike[str], *,
                               include_state: bool = True) -> int:
        """Write the alert history as JSONL (one alert per line); with ``include_state`` the
        rules' remembered state goes to ``<path>.state.json``. Returns the alerts written."""
        with self._lock:
            alerts = list(self._alerts.history)
            state = self._alerts.state_to_dict() if include_state else None
        if state is not None:
            write_json(f"{os.fspath(path)}.state.json", state)
        return write_alerts(path, alerts)

    def load_alerts_from_file(self, path: str | os.PathLike[str], *,
                              include_state: bool = True) -> dict[str, Any]:
        """Load alerts written by :meth:`persist_alerts_to_file` into the history (alerts
        already there are skipped) and, with ``include_state``, ``<path>.state.json`` if it
        exists. Corrupted lines are skipped and reported: returns ``{"file", "loaded",
        "skipped", "errors": [{"line", "reason"}], "added"}``."""
        alerts, report = read_alerts(path)
        state_path = f"{os.fspath(path)}.state.json"
        state = read_json(state_path) if include_state and os.path.exists(state_path) else None
        with self._lock:
            report["added"] = self._alerts.merge_history(alerts)
            if state is not None:
                report["state_restored"] = self._alerts.load_state(state)
        return report

    def save_alert_rules(self, path: str | os.PathLike[str]) -> int:
        """Write every alert rule to a JSON file (``AlertRule.to_dict``); returns how many."""
        with self._lock:
            rules = list(self._alerts.rules.values())
        return save_rules(path, rules)

    def load_alert_rules(self, path: str | os.PathLike[str]) -> list[str]:
        """Add the rules of a JSON file (all or none: a bad rule raises
        ``InvalidAlertRuleError``, a ``ValueError``); returns their names."""
        rules = load_rules(path)
        with self._lock:
            for rule in rules:
                self._alerts.add_rule(rule)
        return [r.name for r in rules]

    def save_alert_state(self, path: str | os.PathLike[str]) -> None:
        """Write the rules' windows, cooldowns and seen terms to a JSON file."""
        with self._lock:
            state = self._alerts.state_to_dict()
        write_json(path, state)

    def load_alert_state(self, path: str | os.PathLike[str]) -> list[str]:
        """Restore state written by :meth:`save_alert_state`; state of rules not added yet is
        applied when they are. Returns the names of the rules restored now."""
        state = read_json(path)
        with self._lock:
            return self._alerts.load_state(state)

    # -- statistics and export ------------------------------------------------------------
    def get_stats(self) -> dict[str, Any]:
        """Counts by level, source and tag, the number of distinct keywords, the time span."""
        with self._lock:
            store = self._store
            stats: dict[str, Any] = {
                "total_logs": len(store),
                "levels": {lv: n for lv in LEVELS if (n := self._indexes.level.count(lv))},
                "sources": self._indexes.source.counts(),
                "keywords": len(self._indexes.token),
                "tags": self._indexes.tag.counts(),
                "ingested_total": self._ingested_total,
                "rejected_total": self._rejected_total,
                "dropped_total": self._processors.dropped,
                "alerts_total": sum(self._alerts.fired_total.values()),
                "retention": self._evictor.stats() if self._evictor else {},
            }
            if self._storage is not None:
                stats["storage"] = self._storage.stats()
            if len(store):
                ti = store.time_index
                stats["oldest"] = format_instant(store.instant(ti[0]))
                stats["newest"] = format_instant(store.instant(ti[-1]))
            return stats

    def metric_families(self) -> list[MetricFamily]:
        """A snapshot of the engine's metrics as families (taken under the lock)."""
        proc_errors = self._processors.error_counts()
        proc_families = self._processors.metric_families()
        with self._lock:
            ingested = self._ingested_total
            rejected = self._rejected_total
            dropped = self._processors.dropped
            levels = {lv: self._indexes.level.count(lv) for lv in LEVELS}
            by_level = dict(self._indexes.ingested_by_level)
            sources = self._indexes.source.counts()
            tags = self._indexes.tag.counts()
            keywords = len(self._indexes.token)
            alert_families = self._alerts.metric_families("log_analytics_")
            durable = self._durability_families()
        p = "log_analytics_"
        fams = [
            MetricFamily(p + "ingested_entries_total", "counter", "Entries stored since start.")
            .add(ingested),
            MetricFamily(p + "rejected_entries_total", "counter",
                         "File or stream lines rejected as invalid.").add(rejected),
            MetricFamily(p + "dropped_entries_total", "counter",
                         "Entries dropped by pre-ingest processors.").add(dropped),
            MetricFamily(p + "processor_errors_total", "counter",
                         "Exceptions raised by pre-ingest processors."),
            MetricFamily(p + "entries", "gauge", "Entries currently stored."),
            MetricFamily(p + "entries_by_level", "gauge", "Stored entries per level."),
            MetricFamily(p + "entries_by_source", "gauge",
                         "Stored entries per source (the top metrics_top_k; the rest summed "
                         "as source=\"__other__\")."),
            MetricFamily(p + "entries_by_tag", "gauge",
                         "Stored entries per tag (the top metrics_top_k; the rest summed as "
                         "tag=\"__other__\")."),
            MetricFamily(p + "distinct_keywords", "gauge", "Distinct words in messages.")
            .add(keywords),
            *alert_families,
        ]
        fams[4].add(sum(levels.values()))
        for lv, n in levels.items():
            fams[5].add(n, level=lv)
        for src, n in top_k_with_other(sources, self._metrics_top_k):
            fams[6].add(n, source=src)
        for tag, n in top_k_with_other(tags, self._metrics_top_k):
            fams[7].add(n, tag=tag)
        fams.append(MetricFamily(p + "ingested_entries_by_level_total", "counter",
                                 "Entries stored since start, per level."))
        for lv in LEVELS:
            fams[-1].add(by_level.get(lv, 0), level=lv)
        for name, n in proc_errors.items():
            fams[3].add(n, processor=name)
        return fams + proc_families + durable

    def export_metrics_prometheus(self) -> str:
        """The engine's metrics in Prometheus text format 0.0.4."""
        return render_prometheus(self.metric_families())

    def export_metrics_json(self) -> str:
        """:meth:`get_stats` as a JSON document."""
        return orjson.dumps(self.get_stats(), option=orjson.OPT_NON_STR_KEYS).decode()

    # -- storage and retention ------------------------------------------------------------
    def _open_storage(
        self, path: str | os.PathLike[str] | None, durability: str | None, batch_size: int,
        batch_interval: float, retention: Retention | None, salvage: bool = False,
    ) -> None:
        """Open the durable copy, rebuild store and indexes from it, apply retention."""
        if path is None and durability is not None:
            raise ValueError("durability needs storage=...: an in-memory engine keeps nothing")
        if path is not None:
            with gc_paused():
                storage, self.salvage_report = open_storage(
                    path, self._store, self._indexes, self._tokens.tokenize_many,
                    salvage=salvage, durability=durability or "batch", batch_size=batch_size,
                    batch_interval=batch_interval)
            try:
                self._alerts.history.extend(
                    alert_from_blob(b) for b in storage.load_alert_history(
                        self._alerts.history.maxlen or 10_000))
                blob = storage.load_alert_state()
                if blob:
                    self._saved_rule_state = load_rule_state(self._alerts, blob)
            except BaseException:
                storage.close()
                raise
            self._storage = storage
        if retention is not None:
            durable = self._storage is not None and self._storage.durability != "none"
            self._evictor = Evictor(retention, fsync=durable)
            store = self._store  # the reopened entries also calibrate a memory budget
            if self._evictor.evict(store, self._indexes, self._storage, store.entries):
                self._evictor.deliver()
        if self._storage is not None:
            self._storage.start()

    def _persist_alerts(self, alerts: Sequence[Alert]) -> None:
        assert self._storage is not None
        self._storage.append_alert_history(
            [alert_to_blob(a) for a in alerts], self._alerts.history.maxlen or 10_000)

    def flush(self) -> None:
        """Commit every queued entry, eviction and the alert state to storage (no-op without
        storage). Raises :class:`~log_analytics_engine.errors.StorageError` on failure."""
        if self._storage is None:
            return
        with self._lock:
            if self._alerts.rules:
                self._storage.save_alert_state(rule_state_blob(self._alerts))
        self._storage.flush()

    def close(self) -> None:
        """Flush and release the storage (its file and flusher thread). Idempotent."""
        storage = self._storage
        if storage is None:
            return
        if storage.closed:
            return
        with self._lock:
            if self._alerts.rules:
                storage.save_alert_state(rule_state_blob(self._alerts))
            snapshot = storage.snapshot(self._indexes, self._store.next_id)
        storage.close(snapshot)

    def __enter__(self) -> LogAnalyticsEngine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _durability_families(self) -> list[MetricFamily]:
        p = "log_analytics_"
        r = self._evictor.stats() if self._evictor else {}
        fams = [
            MetricFamily(p + "evicted_entries_total", "counter",
                         "Entries evicted by retention.").add(r.get("evicted_total", 0)),
            MetricFamily(p + "archived_entries_total", "counter",
                         "Evicted entries written to the archive.")
            .add(r.get("archived_total", 0)),
            MetricFamily(p + "evicted_handed_off_entries_total", "counter",
                         "Evicted entries handed to the on_evict callback.")
            .add(r.get("handed_off_total", 0)),
            MetricFamily(p + "evicted_dropped_entries_total", "counter",
                         "Evicted entries neither archived nor handed off.")
            .add(r.get("dropped_total", 0)),
        ]
        if self._storage is not None:
            st = self._storage.stats()
            fams += [
                MetricFamily(p + "storage_committed_entries_total", "counter",
                             "Entries committed to durable storage.")
                .add(st["committed_total"]),
                MetricFamily(p + "storage_pending_entries", "gauge",
                             "Entries acknowledged and not yet committed.").add(st["pending"]),
                MetricFamily(p + "storage_flush_errors_total", "counter",
                             "Background commits that failed.").add(st["flush_errors_total"]),
            ]
        return fams

    # -- sessions and events (issue 4) ----------------------------------------------------
    def ingest_events(
        self, records: Iterable[Any], schema: EventSchema | None = None
    ) -> tuple[int, list[EventError]]:
        """Validate event records against ``schema`` and ingest the valid ones.

        Returns ``(ingested, errors)``; each :class:`EventError` names the 1-based position
        and the reason. Runtime complexity: O(m (t + log n)) for m records.
        """
        entries, errors = validate_events(records, schema)
        return self.ingest_logs(entries), errors

    def sessions(
        self,
        filters: Filters | str = None,
        key: str | Sequence[str] = DEFAULT_KEY,
        action_field: str = "action",
        start: Any = "start",
        end: Any = "end",
        *,
        user_field: str = "user_id",
        feature_field: str = "feature",
    ) -> SessionsResult:
        """Pair start/end events of the matching entries per ``key`` into sessions.

        ``filters`` is a filter dict, a query ``Node`` or a query string. Events are taken
        in event-time order (ties in ingestion order); see
        :mod:`log_analytics_engine.events.sessions`. Runtime complexity: O(p + k log k) for posting
        lists of total size p and k matching events (O(n) when all match).
        """
        node = parse_query(filters) if isinstance(filters, str) else compile_filters(filters)
        plan = ResidualPlan(node)
        with self._lock:
            entries, stamps = snapshot(self._ctx, plan.indexed)
        if plan.residual is not None:  # a regex runs outside the lock
            kept = plan.keep(entries)
            entries, stamps = [entries[k] for k in kept], [stamps[k] for k in kept]
        with gc_paused():
            return build_sessions(entries, stamps, key, action_field, start, end,
                                  user_field=user_field, feature_field=feature_field)

    # -- ecosystem: query language, cursor pages, integrations ----------------------------
    def search(
        self,
        q: str,
        sort_by: str | None = None,
        sort_desc: bool = False,
        page: int | None = None,
        page_size: int | None = None,
    ) -> list[LogEntry]:
        """Entries matching a query string such as ``'level:ERROR "connection refused"'``
        (see :mod:`log_analytics_engine.query.language`); otherwise exactly :meth:`query_logs`.

        Runtime complexity: O(len(q)) to compile, then as :meth:`query_logs`.

        >>> e = LogAnalyticsEngine()
        >>> _ = e.ingest_logs([LogEntry(0, "ERROR", "db timeout", "api"), LogEntry(1, "INFO")])
        >>> [x.message for x in e.search('level:ERROR source:api timeout')]
        ['db timeout']
        """
        return self.query_logs(parse_query(q), sort_by, sort_desc, page, page_size)

    def query_page(
        self,
        filters: Filters | str = None,
        page_size: int = 100,
        cursor: str | None = None,
        sort_desc: bool = False,
    ) -> Page:
        """One page in time order and a cursor that fetches exactly the next one, even while
        entries arrive (see :mod:`log_analytics_engine.query.pages`). ``filters`` may be a
        dict, a Node or a query string.

        Runtime complexity: O(p + page_size * n / k) or O(p + k log k) for k remaining hits.

        >>> e = LogAnalyticsEngine()
        >>> _ = e.ingest_logs([LogEntry(0, "INFO", "first"), LogEntry(1, "INFO", "second")])
        >>> page = e.query_page("level:INFO", page_size=1)
        >>> [x.message for x in page.entries], page.has_more
        (['first'], True)
        >>> [x.message for x in e.query_page("level:INFO", 1, page.next_cursor).entries]
        ['second']
        """
        node = parse_query(filters) if isinstance(filters, str) else compile_filters(filters)
        return fetch_page(self._ctx, self._lock, node, page_size, cursor, sort_desc)

    def top_keywords(self, n: int = 10) -> list[tuple[str, int]]:
        """The ``n`` most frequent message words with their entry counts. O(w log n) for w words."""
        with self._lock:
            counts = self._indexes.token.counts()
        return heapq.nlargest(n, counts.items(), key=lambda kv: (kv[1], kv[0]))

    def prometheus_collector(self) -> Any:
        """A ``prometheus_client`` collector yielding :meth:`metric_families` on every scrape;
        register it in your own ``CollectorRegistry`` (needs the ``prometheus`` extra)."""
        from .integrations.prometheus import EngineCollector

        return EngineCollector(self)

    def to_pandas(self, filters: Filters | str = None) -> Any:
        """Matching entries as a ``pandas.DataFrame`` with typed columns (needs the ``pandas``
        extra; see :mod:`log_analytics_engine.integrations.pandas`). O(k * columns)."""
        from .integrations.pandas import entries_to_frame

        if isinstance(filters, str):
            return entries_to_frame(self.search(filters))
        return entries_to_frame(self.query_logs(filters))

    # -- processors and dashboard (issue 5) ----------------------------------------------
    def add_pre_ingest_hook(self, fn: Processor, name: str | None = None,
                            when: When = None) -> str:
        """Register a named processor ``fn(entry) -> entry | None`` run before indexing.

        ``when`` (a filter dict with query semantics, a query node or a predicate) limits the
        entries it runs on. Returns the unique name: a repeated default name gets a numeric
        suffix, a repeated explicit ``name`` raises :class:`DuplicateProcessorError`.
        """
        return self._processors.add(fn, name, when)

    def processor_stats(self) -> dict[str, dict[str, Any]]:
        """``{name: {"processed": n, "errors": n, "avg_time_ms": float}}`` per processor."""
        return self._processors.stats()

    def processor_errors(self) -> dict[str, int]:
        """``{name: error_count}`` per processor."""
        return self._processors.error_counts()

    def processor_details(self) -> list[dict[str, Any]]:
        """Every processor with all counters (adds ``dropped``, ``total_time_s``, ``when``)."""
        return self._processors.details()

    def recent_processor_errors(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last processor exceptions (time, processor, entry, error, type), oldest first."""
        return [e.to_dict() for e in self._processors.recent_errors(limit)]

    def get_traces(self, limit: int = 100) -> list[list[str]]:
        """The ``limit`` most recent traces (names of the processors that ran on an entry)."""
        return self._processors.traces(limit)

    def set_trace_limit(self, limit: int) -> None:
        """Keep at most ``limit`` traces (default 1,000); ``0`` turns tracing off."""
        self._processors.set_max_traces(limit)

    def serve(self, host: str = "127.0.0.1", port: int = 8000,
              token: str | None = None) -> DashboardServer:
        """Serve the dashboard in a background thread; returns a handle (``.url``, ``.stop()``).

        Needs the ``dashboard`` extra (FastAPI and uvicorn).
        """
        from .dashboard import serve

        return serve(self, host=host, port=port, token=token)

    # -- invariants -----------------------------------------------------------------------
    def _check(self) -> None:
        """Assert every invariant of store and indexes (tests call it after mutations)."""
        with self._lock:
            store, idx = self._store, self._indexes
            store._check()
            live = store.live
            total_levels = 0
            for index in idx.all_indexes():
                for _term, posting in index.items():
                    assert posting.issubset(live), "posting points at a dead entry"
            for lv, posting in idx.level.items():
                total_levels += len(posting)
                assert all(store.get(i).level == lv for i in posting)
            assert total_levels == len(store)
            assert sum(len(p) for _, p in idx.source.items()) == len(store)
            for entry_id in live:
                entry = store.get(entry_id)
                for t in entry.tags:
                    assert entry_id in idx.tag.get(t)
                for w in tokenize(entry.message):
                    assert entry_id in idx.token.get(w)


def _reject_reason(exc: InvalidEntryError) -> str:
    return exc.reason
