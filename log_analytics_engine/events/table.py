"""A short-lived, single-threaded indexed table of entries for the event jobs.

KPIs and the event pipeline query a batch of rows they built themselves; they use the engine's
own store, postings, query execution and aggregation (so answers mean the same), without the
engine's lock, storage, retention or alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..index.postings import IndexSet, Postings
from ..index.store import Store
from ..ingest.driver import IngestDriver
from ..ingest.processors import ProcessorChain
from ..model.entry import LogEntry
from ..model.tokenize import TokenCache
from ..query.aggregate import aggregate_ids
from ..query.compile import Filters, compile
from ..query.nodes import QueryContext, execute
from .sessions import SessionsResult, build_sessions, snapshot

__all__ = ["EventTable"]


class EventTable:
    """``entries`` indexed as the engine indexes them (plus ``index_fields``).

    >>> t = EventTable([LogEntry(0, "INFO", "a", "api"), LogEntry(1, "ERROR", "b", "api")])
    >>> t.aggregate(group_by="level")
    {'ERROR': {'count': 1}, 'INFO': {'count': 1}}
    """

    def __init__(self, entries: Iterable[LogEntry], index_fields: Sequence[str] = ()) -> None:
        self.store = Store()
        self.indexes = IndexSet(index_fields)
        self.ctx = QueryContext(self.store, self.indexes)
        store, indexes = self.store, self.indexes

        def commit(batch: Sequence[LogEntry], words: Any, postings: Postings) -> int:
            indexes.merge(postings, store.append(batch))
            return len(batch)

        IngestDriver(indexes, ProcessorChain(), TokenCache(), lambda: store.next_id,
                     lambda: False, commit).ingest(list(entries))

    def entries(self, filters: Filters = None) -> list[LogEntry]:
        """The matching entries in ingestion order. O(p + k)."""
        return [self.store.get(i) for i in execute(compile(filters), self.ctx)]

    def positions(self, filters: Filters = None) -> set[int]:
        """The positions (ingestion order, from 0) of the matching entries. O(p + k)."""
        return set(execute(compile(filters), self.ctx))

    def aggregate(self, filters: Filters = None, group_by: str | Sequence[str] | None = None,
                  metrics: Iterable[Any] | None = None) -> dict[Any, Any]:
        """As :meth:`LogAnalyticsEngine.aggregate`, without time buckets."""
        ids = execute(compile(filters), self.ctx)
        return aggregate_ids(self.ctx, ids, group_by, None, metrics)

    def sessions(self, filters: Filters = None) -> SessionsResult:
        """As :meth:`LogAnalyticsEngine.sessions` with the default pairing."""
        entries, stamps = snapshot(self.ctx, compile(filters))
        return build_sessions(entries, stamps)
