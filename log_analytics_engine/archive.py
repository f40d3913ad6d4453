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
an executor: ``"duckdb"`` (embedded, one machine, bigger than memory). Answers equal the
in-memory engine's over the same entries, in the same order (docs/archive.md). Segments are
immutable, so an ``Archive`` may be used from many threads; new segments are seen by the next
query. Needs the ``archive`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any

from .errors import InvalidFilterError
from .events.sessions import DEFAULT_KEY, SessionsResult, build_sessions
from .model.entry import LogEntry
from .query.compile import Filters, compile
from .query.order import page_window
from .storage.archive_reader import ArchiveReader

__all__ = ["EXECUTORS", "Archive"]

#: Executor name -> factory ``(directory, spark_session) -> executor``. The DuckDB executor is
#: built in; others register here.
EXECUTORS: dict[str, Callable[[str, Any], Any]] = {
    "duckdb": lambda directory, spark: ArchiveReader(directory),
}


class Archive:
    """Queries over the segments in ``directory`` (``log-analytics archive``, or an engine's
    ``Retention(archive_dir=...)``), on ``executor`` (``"duckdb"``)."""

    def __init__(self, directory: str | os.PathLike[str], executor: str = "duckdb",
                 spark: Any = None) -> None:
        if executor not in EXECUTORS:
            raise InvalidFilterError("executor", executor,
                                     f"expected one of {sorted(EXECUTORS)}")
        self.directory = os.fspath(directory)
        self.executor = executor
        self._run = EXECUTORS[executor](self.directory, spark)

    def query_logs(self, filters: Filters = None, sort_by: str | None = None,
                   sort_desc: bool = False, page: int | None = None,
                   page_size: int | None = None) -> list[LogEntry]:
        """Entries matching every filter, in time order (ties by id), pages from 0.

        Runtime complexity: a scan of the segments that pruning keeps (time partitions and
        term indexes), of the columns the predicate reads; O(k) to build k entries.
        """
        offset, limit = page_window(page, page_size)
        return list(self._run.entries(compile(filters), sort_by, sort_desc, offset, limit))

    def search(self, q: str, sort_by: str | None = None, sort_desc: bool = False,
               page: int | None = None, page_size: int | None = None) -> list[LogEntry]:
        """Entries matching a query string (``'level:ERROR "connection refused"'``)."""
        return self.query_logs(q, sort_by, sort_desc, page, page_size)

    def count_logs(self, filters: Filters = None) -> int:
        """How many entries match, without building them (one SQL ``count``)."""
        return int(self._run.count(compile(filters)))

    def aggregate(self, filters: Filters = None, group_by: str | Sequence[str] | None = None,
                  interval: str | float | None = None,
                  metrics: Iterable[Any] | None = None) -> dict[Any, Any]:
        """Grouped metrics, as :meth:`LogAnalyticsEngine.aggregate` (same shape, order and
        percentile definition)."""
        return dict(self._run.aggregate(compile(filters), group_by, interval, metrics))

    def sessions(self, filters: Filters = None, key: str | Sequence[str] = DEFAULT_KEY,
                 action_field: str = "action", start: Any = "start", end: Any = "end", *,
                 user_field: str = "user_id", feature_field: str = "feature") -> SessionsResult:
        """Start/end sessions of the matching entries, as :meth:`LogAnalyticsEngine.sessions`.
        O(k) memory for the k matching events."""
        events = self._run.entries(compile(filters))
        return build_sessions(events, [e.ts for e in events], key, action_field, start, end,
                              user_field=user_field, feature_field=feature_field)

    def to_pandas(self, filters: Filters = None) -> Any:
        """Matching entries as a ``pandas.DataFrame`` (the engine's typed columns)."""
        from .integrations.pandas import entries_to_frame  # optional extra: import on use

        return entries_to_frame(self.query_logs(filters))

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
