"""A :class:`logging.Handler` that makes an application's own log records queryable.

>>> import logging
>>> from log_analytics_engine import LogAnalyticsEngine
>>> engine = LogAnalyticsEngine()
>>> app_log = logging.getLogger("doctest.app")
>>> app_log.addHandler(LogAnalyticsHandler(engine))
>>> app_log.warning("disk %s%% full", 91, extra={"host": "db-1"})
>>> [(e.level, e.message, e.source, e.metadata) for e in engine.query_logs()]
[('WARN', 'disk 91% full', 'doctest.app', {'host': 'db-1'})]

Record to entry: ``created`` -> timestamp, ``levelname`` -> level (``WARNING`` is ``WARN``,
``CRITICAL`` is ``FATAL``, custom levels by number), ``getMessage()`` -> message, logger name
-> source (so ``source:shop.*`` finds the loggers ``shop.api`` and ``shop.db``), ``threadName``
-> thread_id; ``extra=`` fields named like entry attributes (``user_id``, ``request_id``,
``thread_id``) set those attributes (as text); ``metadata`` holds every other ``extra=`` field
and, when ``exc_info`` is set, the formatted traceback under ``"exc_info"``.

Safety: records of the ``log_analytics_engine`` loggers and records logged while the same
thread is already inside :meth:`LogAnalyticsHandler.emit` are ignored (no loops); the handler
takes no lock of its own around ``emit`` (the engine is thread-safe), so it cannot deadlock with
the engine lock; every failure goes to :meth:`logging.Handler.handleError`.
"""

from __future__ import annotations

import logging
import queue
import threading
import traceback
from typing import Any

from log_analytics_engine.errors import InvalidLevelError
from log_analytics_engine.model.entry import LogEntry, normalize_level

from .types import Ingests

__all__ = ["LogAnalyticsHandler", "record_to_entry"]

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    (*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime", "taskName")
)
_OWN_LOGGER = "log_analytics_engine"
#: ``extra=`` keys that are entry attributes: they set the attribute, not a metadata key.
_ID_ATTRIBUTES = ("user_id", "request_id", "thread_id")
_STOP = object()


def _level_of(record: logging.LogRecord) -> str:
    try:
        return normalize_level(record.levelname)
    except InvalidLevelError:
        n = record.levelno
        return ("FATAL" if n >= 50 else "ERROR" if n >= 40 else "WARN" if n >= 30
                else "INFO" if n >= 20 else "DEBUG" if n >= 10 else "TRACE")


def record_to_entry(record: logging.LogRecord) -> LogEntry:
    """The :class:`LogEntry` of a log record (see the module docstring for the mapping)."""
    attrs = record.__dict__
    extra = attrs.keys() - _STANDARD_ATTRS  # set difference in C; usually empty or small
    # values are made JSON-like by the entry's own normalisation (model.values)
    metadata = {k: v for k, v in attrs.items() if k in extra} if extra else {}
    ids = {k: metadata.pop(k) for k in _ID_ATTRIBUTES if k in metadata} if metadata else {}
    if record.exc_info and record.exc_info[0] is not None:
        metadata["exc_info"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    elif record.exc_text:
        metadata["exc_info"] = record.exc_text
    entry = LogEntry(
        record.created,
        _level_of(record),
        record.getMessage(),
        source=record.name,
        thread_id=record.threadName,
        metadata=metadata,
    )
    for name, value in ids.items():
        if value is not None:
            setattr(entry, name, value if isinstance(value, str) else str(value))
    return entry


class LogAnalyticsHandler(logging.Handler):
    """Send log records to an engine, synchronously or through a bounded queue.

    ``non_blocking=True`` turns records into entries in the logging thread and puts them on a
    queue of ``queue_size`` entries that a background thread drains in batches of up to
    ``batch_size`` (as ``QueueHandler``/``QueueListener`` do); when the queue is full the
    entry is dropped and counted in :attr:`dropped`. :meth:`close` (also called by
    ``logging.shutdown`` at exit) ingests what is queued and stops the thread; :meth:`flush`
    waits until the queue is drained. Runtime: O(t + log n) per record for t message words.
    """

    def __init__(
        self,
        engine: Ingests,
        level: int | str = logging.NOTSET,
        *,
        non_blocking: bool = False,
        queue_size: int = 10_000,
        batch_size: int = 512,
    ) -> None:
        super().__init__(level)
        if queue_size < 1 or batch_size < 1:
            raise ValueError("queue_size and batch_size must be >= 1")
        self.engine = engine
        self.non_blocking = non_blocking
        self.batch_size = batch_size
        self.dropped = 0  #: entries dropped because the queue was full
        self.errors = 0  #: entries the background thread failed to ingest
        self._counter_lock = threading.Lock()
        self._local = threading.local()
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        if non_blocking:
            self._queue = queue.Queue(queue_size)
            self._thread = threading.Thread(
                target=self._drain, name="LogAnalyticsHandler", daemon=True)
            self._thread.start()

    # -- logging.Handler ------------------------------------------------------------------
    def handle(self, record: logging.LogRecord) -> Any:
        """Filter, then :meth:`emit` without taking the handler lock (the engine locks)."""
        if record.name == _OWN_LOGGER or record.name.startswith(_OWN_LOGGER + "."):
            return False
        rv = self.filter(record)
        if isinstance(rv, logging.LogRecord):  # Python 3.12+: a filter may replace it
            record = rv
        if rv:
            self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        """Ingest (or enqueue) one record; never raises, never re-enters on the same thread."""
        local = self._local
        if getattr(local, "active", False):
            return
        local.active = True
        try:
            entry = record_to_entry(record)
            if self._queue is None:
                self.engine.ingest_log(entry)
            elif self._thread is None:  # closed
                self._count_drop()
            else:
                try:
                    self._queue.put_nowait(entry)
                except queue.Full:
                    self._count_drop()
        except Exception:
            self.handleError(record)
        finally:
            local.active = False

    def flush(self) -> None:
        """Block until every queued entry has been ingested (non-blocking mode)."""
        q = self._queue
        if q is not None and self._thread is not None:
            q.join()

    def close(self) -> None:
        """Ingest what is queued, stop the background thread and close the handler."""
        thread, q = self._thread, self._queue
        if thread is not None and q is not None:
            self._thread = None
            q.put(_STOP)
            thread.join()
        super().close()

    # -- background thread ----------------------------------------------------------------
    def _count_drop(self) -> None:
        with self._counter_lock:
            self.dropped += 1

    def _drain(self) -> None:
        q = self._queue
        assert q is not None
        local = self._local
        local.active = True  # anything the engine logs from this thread is not fed back
        stop = False
        while not stop:
            batch = [q.get()]
            while len(batch) < self.batch_size:
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            entries = [e for e in batch if e is not _STOP]
            stop = len(entries) != len(batch)
            try:
                if entries:
                    self._ingest(entries)
            finally:
                for _ in batch:
                    q.task_done()

    def _ingest(self, entries: list[LogEntry]) -> None:
        """Ingest a batch; when it fails, each entry alone, so one bad entry costs only
        itself (counted in :attr:`errors`)."""
        try:
            self.engine.ingest_logs(entries)
            return
        except Exception:
            if len(entries) == 1:
                with self._counter_lock:
                    self.errors += 1
                return
        for entry in entries:
            try:
                self.engine.ingest_log(entry)
            except Exception:
                with self._counter_lock:
                    self.errors += 1

    def __repr__(self) -> str:
        mode = "non-blocking" if self.non_blocking else "blocking"
        return f"<{type(self).__name__} {logging.getLevelName(self.level)} {mode}>"
