"""A structlog processor that tees every event into an engine (structlog is optional).

>>> from log_analytics_engine import LogAnalyticsEngine
>>> engine = LogAnalyticsEngine()
>>> tee = StructlogTee(engine)
>>> tee(None, "warning", {"event": "cache miss", "logger": "api", "key": "u1"})
{'event': 'cache miss', 'logger': 'api', 'key': 'u1'}
>>> [(e.level, e.message, e.source, e.metadata) for e in engine.query_logs()]
[('WARN', 'cache miss', 'api', {'key': 'u1'})]

Put it in ``structlog.configure(processors=[..., StructlogTee(engine), renderer])`` after the
processors that add ``timestamp``/``level`` and before the renderer. It returns the event dict
unchanged. Event to entry: ``event`` -> message, ``level`` (else the method name) -> level,
``timestamp`` (else now) -> timestamp, ``logger`` -> source, ``tags`` (a list of strings) ->
tags, ``exc_info`` -> the formatted traceback in ``metadata["exc_info"]``, every other key ->
metadata. It never raises: an event it cannot convert is counted in :attr:`StructlogTee.errors`.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import MutableMapping
from typing import Any

from log_analytics_engine.errors import InvalidEntryError
from log_analytics_engine.model.entry import LogEntry, normalize_level

from .types import Ingests

__all__ = ["StructlogTee", "event_to_entry"]

_TAKEN = frozenset(("event", "level", "timestamp", "logger", "tags", "exc_info"))


def _traceback(exc_info: Any) -> str | None:
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[0] is not None:
        return "".join(traceback.format_exception(*exc_info)).rstrip()
    return None


def event_to_entry(method_name: str, event_dict: MutableMapping[str, Any]) -> LogEntry:
    """The :class:`LogEntry` of a structlog event (mapping in the module docstring)."""
    level_name = event_dict.get("level") or method_name
    try:
        level = normalize_level(level_name)
    except InvalidEntryError:
        level = "ERROR" if str(level_name).lower() == "exception" else "INFO"
    stamp = event_dict.get("timestamp")
    metadata = {k: v for k, v in event_dict.items() if k not in _TAKEN}  # normalised by LogEntry
    if "exc_info" in event_dict:
        text = _traceback(event_dict["exc_info"])
        if text:
            metadata["exc_info"] = text
    tags = event_dict.get("tags")
    logger = event_dict.get("logger")
    return LogEntry(
        stamp if stamp is not None else time.time(),
        level,
        str(event_dict.get("event", "")),
        source=logger if isinstance(logger, str) else "",
        thread_id=threading.current_thread().name,
        tags=tags if isinstance(tags, list) and all(isinstance(t, str) for t in tags) else None,
        metadata=metadata,
    )


class StructlogTee:
    """A structlog processor: ingest each event into ``engine``, return it unchanged.

    Runtime: O(t + log n) per event for t message words.
    """

    def __init__(self, engine: Ingests) -> None:
        self.engine = engine
        self.errors = 0  #: events that could not be converted or ingested
        self._lock = threading.Lock()

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        try:
            self.engine.ingest_log(event_to_entry(method_name, event_dict))
        except Exception:
            with self._lock:
                self.errors += 1
        return event_dict
