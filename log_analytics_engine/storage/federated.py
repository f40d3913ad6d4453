"""One answer over the hot entries and the engine's own Parquet archive (``include_archive``).

Under the engine lock, one snapshot: the hot part of the query (ids, or entry references) and
the number of segments this engine's retention has written so far. Outside the lock, the
archive folder is listed and every segment is read except those this engine wrote *after*
the snapshot (their entries were still hot in it). Retention archives a step before it drops
it from memory, under the same lock, so every entry is in exactly one of the two parts: an
entry evicted while a query runs is neither lost nor doubled. Segments written by other
processes into the same folder are part of the archive. Only an O(1) copy happens under the
lock beyond what the hot query itself does; regexes, SQL and merging run outside it.

Results merge in the engine's order: time, then ingestion order (an archived entry comes
before a hot one at the same instant, as its id is lower).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidFilterError
from ..query.aggregate import aggregate_ids, key_order, parse_metrics
from ..query.compile import Filters, compile
from ..query.order import TIME_KEYS, order_entry_list, page_window
from ..query.residual import Deadline, ResidualPlan, deadline_of

if TYPE_CHECKING:
    from ..model.entry import LogEntry
    from ..query.nodes import QueryContext
    from .archive_reader import ArchiveReader
    from .retention import Evictor

__all__ = ["FederatedMethods", "FederatedQueries"]


class FederatedQueries:
    """Queries over hot entries (``ctx`` under ``lock``) plus the segments of ``evictor``'s
    archive folder."""

    def __init__(self, lock: threading.RLock, ctx: QueryContext, evictor: Evictor) -> None:
        writer = evictor.segments
        if writer is None:
            raise InvalidFilterError(
                "include_archive", True, "the engine keeps no Parquet archive: use "
                "Retention(archive_dir=..., archive_format='parquet')")
        from .archive_reader import ArchiveReader  # the archive extra: import on use

        self._lock = lock
        self._ctx = ctx
        self._written = writer.written
        self.reader: ArchiveReader = ArchiveReader(writer.directory)

    def _only(self, own: int) -> Callable[[str], bool]:
        """Accepts every segment but this engine's written after the snapshot of ``own``."""
        later: set[str] | None = None

        def only(name: str) -> bool:
            nonlocal later
            if later is None:  # first called after the folder was listed
                later = set(self._written[own:])
            return name not in later

        return only

    def query_logs(self, filters: Filters, sort_by: str | None, sort_desc: bool,
                   page: int | None, page_size: int | None,
                   timeout: float | Deadline | None) -> list[LogEntry]:
        offset, limit = page_window(page, page_size)
        plan = ResidualPlan(compile(filters), deadline_of(timeout))
        in_time = sort_by is None or sort_by in TIME_KEYS
        wanted = None if limit is None or not in_time else offset + limit
        desc = sort_desc and in_time
        with self._lock:
            own = len(self._written)
            found = plan.entries(self._ctx, None, desc, 0, wanted)
        hot = plan.finish_entries(found, 0, wanted)
        with self.reader.within(plan.deadline):
            cold = self.reader.entries(plan.node, None, desc, 0, wanted, self._only(own))
        merged = list(heapq.merge(
            ((e.ts, 0, e) for e in cold), ((e.ts, 1, e) for e in hot),
            key=lambda t: (t[0], t[1]), reverse=desc))
        entries = [t[2] for t in merged]
        if not in_time:
            entries = order_entry_list(entries, sort_by, sort_desc)
        return entries[offset:] if limit is None else entries[offset:offset + limit]

    def count_logs(self, filters: Filters, timeout: float | Deadline | None) -> int:
        plan = ResidualPlan(compile(filters), deadline_of(timeout))
        with self._lock:
            own = len(self._written)
            found = plan.count(self._ctx)
        hot = plan.finish_count(found)
        with self.reader.within(plan.deadline):
            return hot + self.reader.count(plan.node, self._only(own))

    def aggregate(self, filters: Filters, group_by: str | Sequence[str] | None,
                  interval: str | float | None, metrics: Iterable[Any] | None,
                  timeout: float | Deadline | None) -> dict[Any, Any]:
        from .archive_reader import ScratchTable

        plan = ResidualPlan(compile(filters), deadline_of(timeout))
        parsed = parse_metrics(metrics)
        counting = all(kind == "count" for kind, _ in parsed)
        warm: dict[Any, Any] | None = None
        with self._lock:
            own = len(self._written)
            found = plan.candidates(self._ctx)
            if not isinstance(found, tuple):
                if counting:  # the engine's own counting, from the postings
                    warm = aggregate_ids(self._ctx, found, group_by, interval, metrics)
                else:
                    hot = self._ctx.store.materialize(found)
        if isinstance(found, tuple):
            candidates = found[1]
            hot = [candidates[k] for k in plan.keep(candidates)]
        only = self._only(own)
        if counting:
            with self.reader.within(plan.deadline):
                cold = self.reader.aggregate(plan.node, group_by, interval, metrics, only)
            if warm is None:
                warm = ScratchTable(hot).aggregate(group_by, interval, metrics)
            if group_by is None and interval is None:
                return {name: cold.get(name, 0) + warm.get(name, 0) for name in warm}
            return _add_counts(cold, warm)
        with self.reader.within(plan.deadline):
            every = self.reader.by_id(plan.node, only) + hot
        return ScratchTable(every).aggregate(group_by, interval, metrics)


def _add_counts(a: dict[Any, Any], b: dict[Any, Any]) -> dict[Any, Any]:
    merged: dict[Any, dict[str, int]] = {}
    for part in (a, b):
        for key, counts in part.items():
            slot = merged.setdefault(key, dict.fromkeys(counts, 0))
            for name, n in counts.items():
                slot[name] += n
    ordered = sorted(merged, key=lambda k: key_order(k if isinstance(k, tuple) else (k,)))
    return {k: merged[k] for k in ordered}


class FederatedMethods:
    """The engine's ``include_archive=True`` path (needs ``_lock``, ``_ctx``, ``_writer``)."""

    _lock: threading.RLock
    _ctx: QueryContext
    _writer: Any
    _federation: FederatedQueries | None = None

    def _federated(self) -> FederatedQueries:
        if self._federation is None:
            evictor = self._writer.evictor
            if evictor is None:
                raise InvalidFilterError(
                    "include_archive", True,
                    "the engine has no retention archive: use Retention(archive_dir=...)")
            self._federation = FederatedQueries(self._lock, self._ctx, evictor)
        return self._federation

    def _close_federation(self) -> None:
        """Close the archive reader ``include_archive`` opened (its DuckDB connection)."""
        federation, self._federation = self._federation, None
        if federation is not None:
            federation.reader.close()
