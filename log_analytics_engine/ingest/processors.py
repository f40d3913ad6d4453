"""Named pre-ingest processors with per-processor metrics, an error log and traces.

A processor is a callable ``fn(entry) -> entry | None`` (``None`` drops the entry). The chain
runs before the engine lock is taken, from any number of threads at once:

* processors run in registration order; each one sees the entries of a batch in order;
* ``when`` (a filter dict with query semantics, a query :class:`~.query.Node`, or a predicate)
  limits which entries a processor runs on; it is compiled once, at registration;
* a processor that raises (or returns something that is not a ``LogEntry``) is counted as an
  error for that processor, the exception is kept in a bounded log, and the entry continues
  *unchanged* to the next processor;
* the names of the processors that ran on an entry form its *trace*; the last ``max_traces``
  traces are kept (``0`` turns tracing off).

Per-batch work is done on local counters and merged under the chain's own small lock once per
batch, so the hot loop takes no lock per entry. The time of a processor is measured around its
loop over a batch (``perf_counter`` twice per processor per batch, not per entry) and divided by
the number of entries it ran on; the ``when`` check is not part of it.

>>> chain = ProcessorChain()
>>> chain.add(lambda e: e, name="start")
'start'
>>> chain.add(lambda e: None, name="drop_debug", when={"level": "DEBUG"})
'drop_debug'
>>> from .entry import LogEntry
>>> [e.message for e in chain.run_batch([LogEntry(0, "DEBUG", "a"), LogEntry(0, "INFO", "b")])]
['b']
>>> chain.traces(10)
[['start', 'drop_debug'], ['start']]
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from ..errors import DuplicateProcessorError
from ..metrics.exposition import MetricFamily
from ..model.entry import LogEntry
from ..query.filters import compile_filters
from ..query.language import query_text
from ..query.nodes import Node

__all__ = [
    "DEFAULT_MAX_ERRORS",
    "DEFAULT_MAX_TRACES",
    "Predicate",
    "Processor",
    "ProcessorChain",
    "ProcessorFailure",
    "When",
]

log = logging.getLogger(__name__)

#: A processor takes an entry and returns it (possibly changed) or ``None`` to drop it.
Processor = Callable[[LogEntry], "LogEntry | None"]
#: A predicate decides whether a processor runs on an entry.
Predicate = Callable[[LogEntry], bool]
#: What ``when=`` accepts: a filter dict (query semantics), a query node, or a predicate.
When = Mapping[str, Any] | Node | Predicate | None

DEFAULT_MAX_TRACES = 1_000
DEFAULT_MAX_ERRORS = 100


@dataclass(frozen=True)
class ProcessorFailure:
    """One exception raised by a processor (kept in a bounded log)."""

    time: float
    processor: str
    entry: str
    error: str
    type: str

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "processor": self.processor, "entry": self.entry,
                "error": self.error, "type": self.type}


ProcessorError = ProcessorFailure  # the old name of a record that was never an exception


class _Proc:
    """A registered processor and its running totals (guarded by the chain lock)."""

    __slots__ = ("dropped", "errors", "fn", "name", "processed", "seconds", "when", "when_text")

    def __init__(self, name: str, fn: Processor, when: Predicate | None, when_text: str) -> None:
        self.name = name
        self.fn = fn
        self.when = when
        self.when_text = when_text
        self.processed = 0
        self.errors = 0
        self.dropped = 0
        self.seconds = 0.0


def _compile_when(when: When) -> tuple[Predicate | None, str]:
    """Do the work at configuration time: a filter dict becomes a compiled query node."""
    if when is None:
        return None, ""
    if isinstance(when, Node):
        return when.match, query_text(when)
    if isinstance(when, Mapping):
        node = compile_filters(when)
        return node.match, query_text(node)
    if callable(when):
        return when, getattr(when, "__name__", type(when).__name__)
    raise TypeError(f"when must be a filter dict, a query node or a predicate, got {when!r}")


def _default_name(fn: Any) -> str:
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) and name else type(fn).__name__


class _Batch:
    """Counters of one ``run_batch`` call, merged into the chain once at the end."""

    __slots__ = ("dropped", "errors", "failures", "processed", "seconds")

    def __init__(self, n: int, max_failures: int) -> None:
        self.processed = [0] * n
        self.errors = [0] * n
        self.dropped = [0] * n
        self.seconds = [0.0] * n
        self.failures: deque[ProcessorFailure] = deque(maxlen=max_failures)


class ProcessorChain:
    """Named processors run in registration order, with metrics, an error log and traces.

    Thread-safe: registration swaps an immutable tuple; each batch keeps local counters and
    merges them under the chain lock once. ``max_traces=0`` turns tracing off.
    """

    def __init__(self, max_traces: int = DEFAULT_MAX_TRACES,
                 max_errors: int = DEFAULT_MAX_ERRORS) -> None:
        self._lock = threading.Lock()
        self._procs: tuple[_Proc, ...] = ()
        self._traces: deque[list[str]] = deque(maxlen=_check_limit("max_traces", max_traces))
        self._failures: deque[ProcessorFailure] = deque(
            maxlen=_check_limit("max_errors", max_errors))
        self._dropped_total = 0
        self._errors_total = 0

    # -- configuration --------------------------------------------------------------------
    def add(self, fn: Processor, name: str | None = None, when: When = None) -> str:
        """Register ``fn``; return its unique name.

        A default name (the function's ``__name__``) that is taken gets a numeric suffix
        (``<lambda>``, ``<lambda>_2``...); an explicit name that is taken raises
        :class:`~.errors.DuplicateProcessorError`. O(p) for p processors.
        """
        if not callable(fn):
            raise TypeError(f"a processor must be callable, got {fn!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"a processor name must be a non-empty string, got {name!r}")
        predicate, when_text = _compile_when(when)
        with self._lock:
            taken = {p.name for p in self._procs}
            if name is not None:
                if name in taken:
                    raise DuplicateProcessorError(name)
                unique = name
            else:
                base = _default_name(fn)
                unique, k = base, 1
                while unique in taken:
                    k += 1
                    unique = f"{base}_{k}"
            self._procs = (*self._procs, _Proc(unique, fn, predicate, when_text))
        return unique

    @property
    def names(self) -> list[str]:
        """Processor names in running order."""
        return [p.name for p in self._procs]

    @property
    def max_traces(self) -> int:
        return self._traces.maxlen or 0

    def set_max_traces(self, limit: int) -> None:
        """Keep at most ``limit`` traces (``0`` turns tracing off); keeps the newest ones."""
        limit = _check_limit("max_traces", limit)
        with self._lock:
            self._traces = deque(self._traces, maxlen=limit)

    def __bool__(self) -> bool:
        return bool(self._procs)

    def __len__(self) -> int:
        return len(self._procs)

    # -- running --------------------------------------------------------------------------
    def run(self, entry: LogEntry) -> LogEntry | None:
        """Pass one entry through the chain; the entry, or ``None`` when a processor dropped it."""
        out = self.run_batch([entry])
        return out[0] if out else None

    def run_batch(self, entries: list[LogEntry]) -> list[LogEntry]:
        """Pass a batch through the chain; return the survivors in order.

        Runtime complexity: O(m * p) processor calls for m entries and p processors; only the
        last ``max_traces`` entries of a batch record a trace (older ones would be evicted).
        """
        survivors, record = self.process(entries)
        record()
        return survivors

    def process(self, entries: list[LogEntry]) -> tuple[list[LogEntry], Callable[[], None]]:
        """:meth:`run_batch` without counting: the survivors and a function that adds the
        batch's counters, errors and traces to the chain, to call once the batch is stored
        (a batch that fails to be stored leaves the counters as they were)."""
        procs = self._procs
        if not procs or not entries:
            return entries, _nothing
        stats = _Batch(len(procs), self._failures.maxlen or 0)
        keep = min(self._traces.maxlen or 0, len(entries))
        head = entries[: len(entries) - keep] if keep else entries
        tail = entries[len(entries) - keep:] if keep else []
        traces: list[list[str]] = [[] for _ in tail]
        all_traces = traces
        for i, proc in enumerate(procs):
            if head:
                head = _step(proc, i, head, stats)
            if tail:
                tail, traces = _step_traced(proc, i, tail, traces, stats)

        def record() -> None:
            with self._lock:
                for i, proc in enumerate(procs):
                    proc.processed += stats.processed[i]
                    proc.errors += stats.errors[i]
                    proc.dropped += stats.dropped[i]
                    proc.seconds += stats.seconds[i]
                self._errors_total += sum(stats.errors)
                self._dropped_total += sum(stats.dropped)
                self._failures.extend(stats.failures)
                if keep:
                    self._traces.extend(all_traces)

        return (head + tail if tail else head), record

    # -- reading --------------------------------------------------------------------------
    @property
    def dropped(self) -> int:
        """Entries dropped by any processor since start."""
        return self._dropped_total

    @property
    def errors(self) -> int:
        """Exceptions raised by any processor since start."""
        return self._errors_total

    def stats(self) -> dict[str, dict[str, Any]]:
        """``{name: {"processed", "errors", "avg_time_ms"}}`` in running order. O(p)."""
        with self._lock:
            return {p.name: {"processed": p.processed, "errors": p.errors,
                             "avg_time_ms": _avg_ms(p.seconds, p.processed)}
                    for p in self._procs}

    def details(self) -> list[dict[str, Any]]:
        """Every processor with all its counters (also ``dropped``, ``total_time_s``, ``when``)."""
        with self._lock:
            return [{"name": p.name, "processed": p.processed, "errors": p.errors,
                     "dropped": p.dropped, "avg_time_ms": _avg_ms(p.seconds, p.processed),
                     "total_time_s": p.seconds, "when": p.when_text}
                    for p in self._procs]

    def metric_families(self, prefix: str = "log_analytics_") -> list[MetricFamily]:
        """Per-processor families: entries processed and dropped (counters) and the time spent
        (a summary: ``_sum`` seconds over ``_count`` entries). Errors are the engine's
        ``processor_errors_total`` family."""
        processed = MetricFamily(prefix + "processor_processed_total", "counter",
                                 "Entries each pre-ingest processor ran on.")
        dropped = MetricFamily(prefix + "processor_dropped_total", "counter",
                               "Entries each pre-ingest processor dropped.")
        seconds = MetricFamily(prefix + "processor_seconds", "summary",
                               "Time spent in each pre-ingest processor.")
        with self._lock:
            rows = [(p.name, p.processed, p.dropped, p.seconds) for p in self._procs]
        for name, n, d, secs in rows:
            processed.add(n, processor=name)
            dropped.add(d, processor=name)
            seconds.add(secs, "_sum", processor=name)
            seconds.add(n, "_count", processor=name)
        return [processed, dropped, seconds]

    def error_counts(self) -> dict[str, int]:
        """``{name: errors}`` for every processor. O(p)."""
        with self._lock:
            return {p.name: p.errors for p in self._procs}

    def recent_errors(self, limit: int = 100) -> list[ProcessorFailure]:
        """The most recent processor exceptions, oldest first (bounded log)."""
        limit = _check_limit("limit", limit)
        with self._lock:
            items = list(self._failures)
        return items[-limit:] if limit else []

    def traces(self, limit: int = 100) -> list[list[str]]:
        """The ``limit`` most recent traces, oldest first. O(max_traces)."""
        limit = _check_limit("limit", limit)
        with self._lock:
            items = list(self._traces)
        return [list(t) for t in items[-limit:]] if limit else []


def _check_limit(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a whole number >= 0, got {value!r}")
    return value


def _avg_ms(seconds: float, n: int) -> float:
    return seconds * 1000.0 / n if n else 0.0


def _failure(proc: _Proc, entry: LogEntry, exc: Exception, stats: _Batch, i: int) -> None:
    stats.errors[i] += 1
    if stats.failures.maxlen:
        try:
            summary = entry.summary(120)
        except Exception:  # a processor may have left an odd object behind
            summary = repr(entry)[:120]
        stats.failures.append(ProcessorFailure(time.time(), proc.name, summary, str(exc),
                                             type(exc).__name__))
    if proc.errors + stats.errors[i] == 1:
        log.warning("processor %r failed (further failures are counted, not logged): %r",
                    proc.name, exc)


def _not_an_entry(result: Any) -> TypeError:
    return TypeError(f"a processor must return a LogEntry or None, got {type(result).__name__}")


def _select(proc: _Proc, i: int, entries: list[LogEntry], stats: _Batch) -> list[bool] | None:
    """Which entries ``proc`` runs on (``None``: all). A predicate that raises counts as an
    error of the processor, which then does not run on that entry."""
    when = proc.when
    if when is None:
        return None
    try:
        return [bool(when(e)) for e in entries]
    except Exception:
        pass
    mask = []
    for entry in entries:
        try:
            selected = bool(when(entry))
        except Exception as exc:
            _failure(proc, entry, exc, stats, i)
            selected = False
        mask.append(selected)
    return mask


def _step(proc: _Proc, i: int, entries: list[LogEntry], stats: _Batch) -> list[LogEntry]:
    """Run one processor over a list of entries; the survivors in order."""
    fn = proc.fn
    mask = _select(proc, i, entries, stats)
    out: list[LogEntry] = []
    append = out.append
    ran = dropped = 0
    started = time.perf_counter()
    selection: Iterable[bool] = repeat(True, len(entries)) if mask is None else mask
    for entry, selected in zip(entries, selection, strict=True):
        if not selected:
            append(entry)
            continue
        ran += 1
        result = _apply(proc, fn, entry, stats, i)
        if result is None:
            dropped += 1
        else:
            append(result)
    stats.seconds[i] += time.perf_counter() - started
    stats.processed[i] += ran
    stats.dropped[i] += dropped
    return out


def _apply(proc: _Proc, fn: Processor, entry: LogEntry, stats: _Batch,
           i: int) -> LogEntry | None:
    """One processor call: its entry, ``None`` to drop, or ``entry`` unchanged when it raised
    or returned something else (recorded as an error of processor ``i``)."""
    try:
        result = fn(entry)
    except Exception as exc:
        _failure(proc, entry, exc, stats, i)
        return entry
    if result is None or result is entry or isinstance(result, LogEntry):
        return result
    _failure(proc, entry, _not_an_entry(result), stats, i)
    return entry


def _step_traced(proc: _Proc, i: int, entries: list[LogEntry], traces: list[list[str]],
                 stats: _Batch) -> tuple[list[LogEntry], list[list[str]]]:
    """:func:`_step` that also appends the processor's name to the trace of each entry it ran on.

    ``traces`` are shared with the caller (the lists are appended to in place); a dropped
    entry's trace ends with the processor that dropped it.
    """
    fn, name = proc.fn, proc.name
    mask = _select(proc, i, entries, stats)
    out: list[LogEntry] = []
    out_traces: list[list[str]] = []
    ran = dropped = 0
    started = time.perf_counter()
    for k, (entry, trace) in enumerate(zip(entries, traces, strict=True)):
        if mask is not None and not mask[k]:
            out.append(entry)
            out_traces.append(trace)
            continue
        ran += 1
        trace.append(name)
        result = _apply(proc, fn, entry, stats, i)
        if result is None:
            dropped += 1
            continue
        out.append(result)
        out_traces.append(trace)
    stats.seconds[i] += time.perf_counter() - started
    stats.processed[i] += ran
    stats.dropped[i] += dropped
    return out, out_traces


def _nothing() -> None:
    """The counters of a batch no processor saw."""
