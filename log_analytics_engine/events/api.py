"""The engine's event methods: validated event ingestion and start/end sessions.

:class:`EventMethods` is mixed into :class:`~log_analytics_engine.LogAnalyticsEngine`; it
needs the engine's ``_lock``, ``_ctx`` (the query context) and ``ingest_logs``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from .._gc import gc_paused
from ..model.entry import LogEntry
from ..query.compile import Filters, compile
from ..query.nodes import QueryContext
from ..query.residual import ResidualPlan
from .sessions import DEFAULT_KEY, SessionsResult, build_sessions, snapshot
from .validation import EventSchema, RejectedEvent, validate_events

__all__ = ["EventMethods"]


class EventMethods:
    """Event records validated into entries, and sessions paired from entries."""

    _lock: threading.RLock
    _ctx: QueryContext

    def ingest_logs(self, entries: Iterable[LogEntry]) -> int:  # provided by the engine
        raise NotImplementedError

    def ingest_events(self, records: Iterable[Any],
                      schema: EventSchema | None = None) -> tuple[int, list[RejectedEvent]]:
        """Validate event records against ``schema`` and ingest the valid ones; returns
        ``(ingested, errors)`` (1-based positions). O(m (t + log n)) for m records."""
        entries, errors = validate_events(records, schema)
        return self.ingest_logs(entries), errors

    def sessions(self, filters: Filters = None, key: str | Sequence[str] = DEFAULT_KEY,
                 action_field: str = "action", start: Any = "start", end: Any = "end", *,
                 user_field: str = "user_id", feature_field: str = "feature") -> SessionsResult:
        """Pair start/end events of the matching entries per ``key`` into sessions, in
        event-time order (see :mod:`log_analytics_engine.events.sessions`).
        Runtime complexity: O(p + k log k) for posting lists of size p and k events."""
        plan = ResidualPlan(compile(filters))
        with self._lock:
            entries, stamps = snapshot(self._ctx, plan.indexed)
        if plan.residual is not None:  # a regex runs outside the lock
            kept = plan.keep(entries)
            entries, stamps = [entries[k] for k in kept], [stamps[k] for k in kept]
        with gc_paused():
            return build_sessions(entries, stamps, key, action_field, start, end,
                                  user_field=user_field, feature_field=feature_field)
