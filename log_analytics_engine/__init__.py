"""log_analytics_engine: an embeddable, thread-safe, in-process log analytics engine.

>>> from log_analytics_engine import LogAnalyticsEngine, LogEntry
>>> engine = LogAnalyticsEngine()
>>> engine.ingest_log(LogEntry("2025-07-21T10:00:00Z", "ERROR", "payment failed", source="api"))
1
>>> engine.count_logs({"level": "ERROR", "source": "api"})
1
"""

from importlib.metadata import PackageNotFoundError, version

from .alerts import Alert, AlertRule, AlertSeverity
from .engine import LogAnalyticsEngine
from .entry import LogEntry, LogLevel
from .errors import (
    DuplicateProcessorError,
    InvalidEntryError,
    InvalidFieldError,
    InvalidFilterError,
    InvalidLevelError,
    InvalidTimestampError,
    LogAnalyticsError,
    MissingFieldError,
    ParseError,
    StorageCorruptError,
    StorageError,
    StorageFullError,
    StorageNotOursError,
    StoragePathError,
    StorageVersionError,
)
from .query import And, Node, Not, Or, compile_filters
from .retention import Retention

try:
    __version__ = version("log-analytics-engine")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Alert",
    "AlertRule",
    "AlertSeverity",
    "And",
    "DuplicateProcessorError",
    "InvalidEntryError",
    "InvalidFieldError",
    "InvalidFilterError",
    "InvalidLevelError",
    "InvalidTimestampError",
    "LogAnalyticsEngine",
    "LogAnalyticsError",
    "LogEntry",
    "LogLevel",
    "MissingFieldError",
    "Node",
    "Not",
    "Or",
    "ParseError",
    "Retention",
    "StorageCorruptError",
    "StorageError",
    "StorageFullError",
    "StorageNotOursError",
    "StoragePathError",
    "StorageVersionError",
    "__version__",
    "compile_filters",
]
