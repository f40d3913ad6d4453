"""Pre-ingest processors: callables that enrich an entry or drop it (return ``None``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .entry import LogEntry

__all__ = ["Processor", "ProcessorChain"]

log = logging.getLogger(__name__)

#: A processor takes an entry and returns it (possibly changed) or ``None`` to drop it.
Processor = Callable[[LogEntry], "LogEntry | None"]


class ProcessorChain:
    """Processors run in registration order, before the engine lock is taken."""

    def __init__(self) -> None:
        self.processors: list[Processor] = []
        self.dropped = 0
        self.errors = 0

    def add(self, fn: Processor) -> None:
        if not callable(fn):
            raise TypeError(f"a processor must be callable, got {fn!r}")
        self.processors.append(fn)

    def __bool__(self) -> bool:
        return bool(self.processors)

    def run(self, entry: LogEntry) -> LogEntry | None:
        """Pass ``entry`` through every processor. A processor that raises is logged and
        skipped: the entry continues unchanged, so a broken enrichment never loses a log."""
        for fn in self.processors:
            try:
                result = fn(entry)
            except Exception:
                self.errors += 1
                log.exception("pre-ingest processor %r failed", fn)
                continue
            if result is None:
                self.dropped += 1
                return None
            entry = result
        return entry
