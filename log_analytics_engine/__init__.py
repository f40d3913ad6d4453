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
from .alerts import backtest as backtest_alerts
from .archive import Archive
from .engine import LogAnalyticsEngine
from .errors import (
    CapacityError,
    DuplicateProcessorError,
    InvalidAlertRuleError,
    InvalidEntryError,
    InvalidFieldError,
    InvalidFilterError,
    InvalidLevelError,
    InvalidTimestampError,
    LogAnalyticsError,
    MissingExtraError,
    MissingFieldError,
    ParseError,
    QuerySyntaxError,
    QueryTimeoutError,
    StorageCorruptError,
    StorageError,
    StorageFullError,
    StorageNotOursError,
    StoragePathError,
    StorageVersionError,
    UnknownFieldWarning,
)
from .events.sessions import IncompleteSession, Session, SessionsResult
from .events.validation import EventSchema, RejectedEvent
from .ingest.limits import InputLimits
from .integrations import LogAnalyticsHandler
from .model.entry import LogEntry, LogLevel
from .query.filters import compile_filters
from .query.language import parse_query
from .query.nodes import And, Node, Not, Or
from .query.pages import Page
from .storage.integrity import SalvageReport
from .storage.retention import Retention

try:
    __version__ = version("log-analytics-engine")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Alert",
    "AlertRule",
    "AlertSeverity",
    "And",
    "Archive",
    "CapacityError",
    "DuplicateProcessorError",
    "EventSchema",
    "IncompleteSession",
    "InputLimits",
    "InvalidAlertRuleError",
    "InvalidEntryError",
    "InvalidFieldError",
    "InvalidFilterError",
    "InvalidLevelError",
    "InvalidTimestampError",
    "LogAnalyticsEngine",
    "LogAnalyticsError",
    "LogAnalyticsHandler",
    "LogEntry",
    "LogLevel",
    "MissingExtraError",
    "MissingFieldError",
    "Node",
    "Not",
    "Or",
    "Page",
    "ParseError",
    "QuerySyntaxError",
    "QueryTimeoutError",
    "RejectedEvent",
    "Retention",
    "SalvageReport",
    "Session",
    "SessionsResult",
    "StorageCorruptError",
    "StorageError",
    "StorageFullError",
    "StorageNotOursError",
    "StoragePathError",
    "StorageVersionError",
    "UnknownFieldWarning",
    "__version__",
    "backtest_alerts",
    "compile_filters",
    "parse_query",
]


# Names moved out of the top level, importable from here as before.
_MOVED = {
    "EventError": ("log_analytics_engine.events.validation", "RejectedEvent"),
    "TelemetryResult": ("log_analytics_engine.events.kpis", "TelemetryResult"),
    "run_telemetry_pipeline": ("log_analytics_engine.events.kpis", "run_telemetry_pipeline"),
}


def __getattr__(name: str) -> object:
    """Old top-level names: ``EventError`` (now :class:`RejectedEvent`) and the game
    telemetry pipeline (now in :mod:`log_analytics_engine.events.kpis`)."""
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    import warnings

    module, attr = _MOVED[name]
    warnings.warn(f"log_analytics_engine.{name} is deprecated; use {module}.{attr}",
                  DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(module), attr)
