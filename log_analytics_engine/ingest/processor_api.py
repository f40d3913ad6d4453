"""The engine's processor methods: registration, counters and traces of the chain.

:class:`ProcessorMethods` is mixed into :class:`~log_analytics_engine.LogAnalyticsEngine`;
it needs the engine's ``_processors`` (a :class:`ProcessorChain`, thread-safe by itself).
"""

from __future__ import annotations

from typing import Any

from .processors import Processor, ProcessorChain, When

__all__ = ["ProcessorMethods"]


class ProcessorMethods:
    """Named pre-ingest processors of an engine, with their metrics and traces."""

    _processors: ProcessorChain

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

