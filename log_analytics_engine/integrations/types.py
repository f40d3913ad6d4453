"""What the integrations need of an engine, as protocols (they never import the engine)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..model.entry import LogEntry

__all__ = ["Ingests"]


class Ingests(Protocol):
    """Anything that takes entries: :class:`~log_analytics_engine.LogAnalyticsEngine` does."""

    def ingest_log(self, entry: LogEntry) -> int:
        """Ingest one entry; return how many were stored."""
        ...

    def ingest_logs(self, entries: Iterable[LogEntry]) -> int:
        """Ingest a batch; return how many were stored."""
        ...
