"""``Archive``: the engine's read API over a folder of Parquet segments.

>>> import tempfile
>>> from log_analytics_engine import LogEntry
>>> from log_analytics_engine.storage.archive_writer import SegmentWriter
>>> folder = tempfile.mkdtemp()
>>> _ = SegmentWriter(folder).write([LogEntry(0, "ERROR", "db timeout", "api")], [0])
>>> with Archive(folder) as archive:
...     [e.message for e in archive.query_logs({"level": "ERROR", "keyword": "timeout"})]
['db timeout']

The same query definitions as :class:`~log_analytics_engine.LogAnalyticsEngine` (filter dicts,
query strings, nodes) compile to SQL once (:mod:`log_analytics_engine.query.sql`) and run on
an executor: ``"duckdb"`` (embedded, one machine, bigger than memory) or ``"spark"`` (the same
plans in Spark SQL, local or on a cluster: :mod:`.storage.archive_spark`). Answers equal the
in-memory engine's over the same entries, in the same order (docs/archive.md). Segments are
immutable, so an ``Archive`` may be used from many threads; new segments are seen by the next
query. Needs the ``archive`` extra.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Protocol

from .alerts import Alert, AlertRule, backtest
from .errors import InvalidFilterError
from .events.archive_sessions import archive_sessions
from .events.kpis import kpis_of, session_filter
from .events.sessions import DEFAULT_KEY, SessionsResult, build_sessions
from .model.entry import LogEntry
from .query.compile import Filters, compile
from .query.nodes import And, Node, Or
from .query.order import page_window
from .query.residual import Deadline, deadline_of
from .storage.archive_format import refuse_url
from .storage.archive_reader import ArchiveReader

__all__ = ["EXECUTORS", "Archive", "Executor"]


class Executor(Protocol):
    """What an executor provides (``storage.archive_reader.ArchiveReader`` is the DuckDB one).
    Nodes come compiled; results have the shapes and order of the engine's methods."""

    def entries(self, node: Node, sort_by: str | None = None, descending: bool = False,
                offset: int = 0, limit: int | None = None,
                only: Callable[[str], bool] | None = None) -> list[LogEntry]: ...

    def count(self, node: Node) -> int: ...

    def aggregate(self, node: Node, group_by: str | Sequence[str] | None = None,
                  interval: str | float | None = None,
                  metrics: Any = None) -> dict[Any, Any]: ...

    def segments(self) -> list[str]: ...

    def within(self, deadline: Deadline) -> contextlib.AbstractContextManager[None]: ...

    def close(self) -> None: ...


#: Executor name -> factory ``(directory, spark_session) -> Executor``. The DuckDB executor is
#: built in; others register here.
def _spark(directory: str, spark: Any) -> Executor:
    from .storage.archive_spark import SparkArchiveReader  # the spark extra: import on use

    return SparkArchiveReader(directory, spark)


EXECUTORS: dict[str, Callable[[str, Any], Executor]] = {
    "duckdb": lambda directory, spark: ArchiveReader(directory),
    "spark": _spark,
}
#: Rule kinds whose alerts depend on the matching entries alone (a backtest of only these
#: reads only the entries some rule matches; ``spike`` and ``absence`` need every entry's
#: event time: when observation starts, and the clock that makes a group go quiet).
_MATCH_ONLY_KINDS = frozenset(("threshold", "new_term"))


def _under(prefix: str) -> Callable[[str], bool]:
    """A segment filter: the segments whose name starts with ``prefix``."""
    return lambda name: name.startswith(prefix)


class Archive:
    """Queries over the segments in ``directory`` (``log-analytics archive``, or an engine's
    ``Retention(archive_dir=...)``), on ``executor``: ``"duckdb"`` or ``"spark"`` (on the
    session ``spark``, or the active or a default one; needs the ``spark`` extra)."""

    def __init__(self, directory: str | os.PathLike[str], executor: str = "duckdb",
                 spark: Any = None) -> None:
        if executor not in EXECUTORS:
            raise InvalidFilterError("executor", executor,
                                     f"expected one of {sorted(EXECUTORS)}")
        self.directory = os.fspath(directory)
        refuse_url(self.directory)  # os.listdir would find nothing: empty answers
        self.executor = executor
        self._run: Executor = EXECUTORS[executor](self.directory, spark)

    def query_logs(self, filters: Filters = None, sort_by: str | None = None,
                   sort_desc: bool = False, page: int | None = None,
                   page_size: int | None = None, *,
                   timeout: float | None = None) -> list[LogEntry]:
        """Entries matching every filter, in time order (ties by id), pages from 0.

        Runtime complexity: a scan of the segments that pruning keeps (time partitions and
        term indexes), of the columns the predicate reads; O(k) to build k entries. Past
        ``timeout`` seconds the executor's work is cancelled and
        :class:`~log_analytics_engine.QueryTimeoutError` raised (as on every read method).
        """
        offset, limit = page_window(page, page_size)
        node = compile(filters)
        with self._within(timeout):
            return list(self._run.entries(node, sort_by, sort_desc, offset, limit))

    def search(self, q: str, sort_by: str | None = None, sort_desc: bool = False,
               page: int | None = None, page_size: int | None = None, *,
               timeout: float | None = None) -> list[LogEntry]:
        """Entries matching a query string (``'level:ERROR "connection refused"'``)."""
        return self.query_logs(q, sort_by, sort_desc, page, page_size, timeout=timeout)

    def count_logs(self, filters: Filters = None, *, timeout: float | None = None) -> int:
        """How many entries match, without building them (one SQL ``count``)."""
        node = compile(filters)
        with self._within(timeout):
            return int(self._run.count(node))

    def aggregate(self, filters: Filters = None, group_by: str | Sequence[str] | None = None,
                  interval: str | float | None = None,
                  metrics: Iterable[Any] | None = None, *,
                  timeout: float | None = None) -> dict[Any, Any]:
        """Grouped metrics, as :meth:`LogAnalyticsEngine.aggregate` (same shape, order and
        percentile definition)."""
        node = compile(filters)
        with self._within(timeout):
            return dict(self._run.aggregate(node, group_by, interval, metrics))

    def _within(self, timeout: float | None) -> contextlib.AbstractContextManager[None]:
        """The executor's bound on this thread's queries (none when ``timeout`` is None)."""
        if timeout is None:
            return contextlib.nullcontext()
        return self._run.within(deadline_of(timeout))

    def sessions(self, filters: Filters = None, key: str | Sequence[str] = DEFAULT_KEY,
                 action_field: str = "action", start: Any = "start", end: Any = "end", *,
                 user_field: str = "user_id", feature_field: str = "feature") -> SessionsResult:
        """Start/end sessions of the matching entries, as :meth:`LogAnalyticsEngine.sessions`.
        O(k) memory for the k matching events."""
        node = compile(filters)
        if isinstance(self._run, ArchiveReader):  # DuckDB or Spark: pairs by window functions
            return archive_sessions(self._run, node, key, action_field, start, end,
                                    user_field=user_field, feature_field=feature_field)
        events = self._run.entries(node)
        return build_sessions(events, [e.ts for e in events], key, action_field, start, end,
                              user_field=user_field, feature_field=feature_field)

    def kpis(self, filters: Filters = None, group_by: str = "game",
             min_minutes: float | None = None,
             allowed_regions: Iterable[str] | None = None) -> dict[Any, dict[str, Any]]:
        """Game-telemetry KPIs of archived session entries (each with ``minutes_played``,
        ``crashed`` and the ``group_by`` field in its metadata, as
        :func:`~log_analytics_engine.events.kpis.clean_sessions` leaves a row):
        ``{group: {"sessions", "total_minutes", "avg_minutes", "crash_rate"}}``, groups
        sorted, as :func:`~log_analytics_engine.events.kpis.compute_kpis` computes them.
        ``min_minutes`` and ``allowed_regions`` select sessions as the telemetry pipeline
        does. Two grouped aggregations run on the executor (in SQL when the group values are
        text and the filters compile exactly, as the threshold and regions do)."""
        if not isinstance(group_by, str) or not group_by:
            raise InvalidFilterError("group_by", group_by, "expected a field name")
        node = compile(filters) & session_filter(min_minutes, allowed_regions)
        return kpis_of(lambda n, metrics: self._run.aggregate(n, group_by, None, metrics),
                       node)

    def to_pandas(self, filters: Filters = None) -> Any:
        """Matching entries as a ``pandas.DataFrame`` (the engine's typed columns)."""
        from .integrations.pandas import entries_to_frame  # optional extra: import on use

        return entries_to_frame(self.query_logs(filters))

    def backtest(self, rules: Iterable[AlertRule], start: Any = None,
                 end: Any = None) -> list[Alert]:
        """The alerts ``rules`` would have fired over the archived entries with
        ``start <= instant <= end`` (datetime, ISO text or epoch; ``None``: unbounded).

        Equal to a fresh engine with those rules ingesting the same entries in (instant, id)
        order (:func:`~log_analytics_engine.alerts.backtest`: same kinds, groups, windows,
        cooldowns and event times). Entries stream one hour partition at a time, so memory is
        one partition plus the rules' window state; with only ``threshold`` and ``new_term``
        rules only the entries some rule matches are read (pushed down to the executor).
        """
        rules = list(rules)
        filters: dict[str, Any] = {}
        if start is not None:
            filters["start_time"] = start
        if end is not None:
            filters["end_time"] = end
        node = compile(filters)
        if rules and all(r.kind in _MATCH_ONLY_KINDS for r in rules):
            node = And((node, Or(tuple(r.node for r in rules))))
        return backtest(rules, self._in_time_order(node))

    def _in_time_order(self, node: Node) -> Iterator[LogEntry]:
        """Matching entries in (instant, id) order, one hour partition at a time (partitions
        hold disjoint hours, and their names sort in time order)."""
        hours = sorted({name.rsplit("/", 1)[0] for name in self._run.segments()})
        for hour in hours:
            yield from self._run.entries(node, only=_under(hour + "/"))

    def segments(self) -> list[str]:
        """The complete segments now in the folder (``date=.../hour=.../name.parquet``)."""
        return list(self._run.segments())

    def close(self) -> None:
        """Release the executor (the DuckDB connection)."""
        self._run.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
