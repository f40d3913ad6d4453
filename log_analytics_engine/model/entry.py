"""Log entries and levels.

A :class:`LogEntry` is created once, enriched by processors, then indexed and never mutated.
Its timestamp is parsed to a UTC instant (:attr:`LogEntry.ts`, float epoch seconds) at
construction; the original value is kept in :attr:`LogEntry.timestamp` for display.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

from ..errors import InvalidFieldError, InvalidLevelError, MissingFieldError
from .timeparse import MAX_INSTANT, MIN_INSTANT, format_instant, to_datetime
from .timeparse import fast_instant as _instant
from .values import normalize_entry

__all__ = [
    "ATTRIBUTES",
    "LEVELS",
    "SEVERITY",
    "LogEntry",
    "LogLevel",
    "assemble",
    "entry_from_json",
    "normalize_level",
]


class LogLevel(str, Enum):
    """Log levels, lowest to highest severity. ``WARNING`` and ``CRITICAL`` are aliases."""

    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    FATAL = "FATAL"
    WARNING = "WARN"
    CRITICAL = "FATAL"

    @property
    def severity(self) -> int:
        """The severity score: TRACE 0, DEBUG 10, INFO 20, WARN 30, ERROR 40, FATAL 50."""
        return SEVERITY[self.value]

    def __str__(self) -> str:
        return self.value


#: Canonical level names in order of severity.
LEVELS: tuple[str, ...] = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
#: Severity score per canonical level.
SEVERITY: dict[str, int] = {name: 10 * i for i, name in enumerate(LEVELS)}

_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}
# Every spelling seen so far -> canonical name; grows only with valid spellings (bounded by
# the number of case variants of eight words).
_LEVEL_CACHE: dict[str, str] = {name: name for name in LEVELS}
_LEVEL_CACHE.update(_ALIASES)


def normalize_level(value: Any, field: str = "level") -> str:
    """The canonical upper-case name of a level given in any case, or as :class:`LogLevel`.

    >>> normalize_level("warning"), normalize_level(LogLevel.CRITICAL), normalize_level("Info")
    ('WARN', 'FATAL', 'INFO')
    """
    if isinstance(value, str):
        cached = _LEVEL_CACHE.get(value)
        if cached is not None:
            return cached
        upper = value.strip().upper()
        canonical = _LEVEL_CACHE.get(_ALIASES.get(upper, upper))  # the one object per name
        if canonical is not None:
            _LEVEL_CACHE[value] = canonical
            return canonical
    raise InvalidLevelError(value, field)


def _check_optional_str(field: str, value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidFieldError(field, value, "expected a string")


_EMPTY_TAGS: tuple[str, ...] = ()


class LogEntry:
    """One log record.

    >>> e = LogEntry("2025-07-21T10:00:00Z", "warning", "disk almost full", source="db")
    >>> e.level, e.severity_score, e.datetime.isoformat()
    ('WARN', 30, '2025-07-21T10:00:00+00:00')

    ``tags`` is a list of strings and ``metadata`` a dict; both belong to the entry and must
    not be changed once the entry has been ingested (the indexes were built from them).
    """

    __slots__ = (
        "_record",
        "level",
        "message",
        "metadata",
        "request_id",
        "source",
        "tags",
        "thread_id",
        "timestamp",
        "ts",
        "user_id",
    )

    timestamp: Any
    ts: float
    level: str
    message: str
    source: str
    thread_id: str | None
    request_id: str | None
    user_id: str | None
    tags: list[str]
    metadata: dict[str, Any]

    def __init__(
        self,
        timestamp: Any,
        level: str | LogLevel = "INFO",
        message: str = "",
        source: str = "",
        thread_id: str | int | None = None,
        request_id: str | None = None,
        user_id: str | None = None,
        tags: list[str] | tuple[str, ...] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if timestamp is None:
            raise MissingFieldError("timestamp")
        self.ts = _instant(timestamp)
        self.timestamp = timestamp
        level_name = _LEVEL_CACHE.get(level) if type(level) is str else None
        self.level = level_name if level_name is not None else normalize_level(level)
        if type(message) is not str and not isinstance(message, str):
            raise InvalidFieldError("message", message, "expected a string")
        self.message = message
        if type(source) is not str:
            if source is None:
                source = ""
            elif not isinstance(source, str):
                raise InvalidFieldError("source", source, "expected a string")
        self.source = source
        self.thread_id = thread_id if thread_id is None or type(thread_id) is str else (
            _check_optional_str("thread_id", thread_id))
        self.request_id = request_id if request_id is None or type(request_id) is str else (
            _check_optional_str("request_id", request_id))
        self.user_id = user_id if user_id is None or type(user_id) is str else (
            _check_optional_str("user_id", user_id))
        if not tags:
            if tags is not None and not isinstance(tags, (list, tuple)):
                raise InvalidFieldError("tags", tags, "expected a list of strings")
            self.tags = []
        elif isinstance(tags, (list, tuple)) and all(type(t) is str or isinstance(t, str)
                                                     for t in tags):
            self.tags = list(tags)
        else:
            raise InvalidFieldError("tags", tags, "expected a list of strings")
        if metadata is None:
            self.metadata = {}
        elif type(metadata) is dict or isinstance(metadata, Mapping):
            self.metadata = dict(metadata)
        else:
            raise InvalidFieldError("metadata", metadata, "expected an object")
        normalize_entry(self)

    # -- entries built lazily -------------------------------------------------------------
    if not TYPE_CHECKING:  # kept from type checkers: they would accept any attribute name

        def __getattr__(self, name: str) -> Any:
            """Reached only when an attribute is not set. With the accelerator, query results
            are built with just their instant and level; the first read of another field
            decodes the rest from the stored record (one C call, about 1 us), after which
            reads are plain slot reads."""
            if _read_lazy is not None:
                return _read_lazy(self, name)  # AttributeError when the entry is not lazy
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}",
                                 name=name, obj=self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickling and copying see every field (a lazily built entry decodes them first)."""
        if _fill_lazy is not None:
            _fill_lazy(self)
        return super().__reduce_ex__(protocol)

    # -- derived values -------------------------------------------------------------------
    @property
    def datetime(self) -> datetime:
        """The timestamp as a timezone-aware UTC :class:`datetime`."""
        return to_datetime(self.ts)

    @property
    def severity_score(self) -> int:
        """TRACE 0, DEBUG 10, INFO 20, WARN 30, ERROR 40, FATAL 50."""
        return SEVERITY[self.level]

    @property
    def age_seconds(self) -> float:
        """Seconds between the entry's timestamp and now (negative for future entries)."""
        return time.time() - self.ts

    def get(self, field: str, default: Any = None) -> Any:
        """The value of ``field``: the entry attribute when set, else the metadata key.

        This is how filters, group-bys and sort keys resolve a name.

        >>> LogEntry(0, metadata={"user_id": "u1", "region": "eu"}).get("region")
        'eu'
        """
        if field in _ATTRIBUTES:
            value = getattr(self, field)
            if value is not None and (value != "" or field != "source"):
                return value
            if field in _CORE_ATTRIBUTES:
                return value
        return self.metadata.get(field, default)

    # -- equality -------------------------------------------------------------------------
    def _fields(self) -> tuple[Any, ...]:
        return (self.ts, self.timestamp, self.level, self.message, self.source,
                self.thread_id, self.request_id, self.user_id, self.tags, self.metadata)

    def __eq__(self, other: object) -> bool:
        """Entries are equal when every field is (the engine builds stored entries on demand,
        so two reads of one entry are equal objects, not the same one). O(fields)."""
        if self is other:
            return True
        if type(other) is not LogEntry:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        """A hash of the fields that do not change after ingestion (instant, level, message,
        source), consistent with ``==``. O(len(message))."""
        return hash((self.ts, self.level, self.message, self.source))

    # -- conversion -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` turns back into an equal entry."""
        return {
            "timestamp": self.timestamp if isinstance(self.timestamp, (str, int, float))
            else format_instant(self.ts),
            "level": self.level,
            "message": self.message,
            "source": self.source,
            "thread_id": self.thread_id,
            "request_id": self.request_id,
            "user_id": self.user_id,
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LogEntry:
        """Build an entry from a dict such as one JSON log line.

        Unknown keys go to ``metadata``; a missing level is INFO, a missing message ``""``.
        ``@timestamp`` is accepted when ``timestamp`` is absent.

        >>> LogEntry.from_dict({"timestamp": 0, "msg_id": 7}).metadata
        {'msg_id': 7}
        """
        if not isinstance(data, Mapping):
            raise InvalidFieldError("entry", data, "expected a JSON object")
        timestamp = data.get("timestamp")
        if timestamp is None:
            timestamp = data.get("@timestamp")
            if timestamp is None:
                raise MissingFieldError("timestamp")
        metadata = data.get("metadata")
        extra = None
        if not data.keys() <= _KNOWN_KEYS:
            extra = {k: v for k, v in data.items() if k not in _KNOWN_KEYS}
        if extra:
            if metadata is None:
                metadata = extra
            elif isinstance(metadata, Mapping):
                metadata = {**extra, **metadata}
        return cls(
            timestamp,
            data.get("level") or "INFO",
            data.get("message", ""),
            data.get("source") or "",
            data.get("thread_id"),
            data.get("request_id"),
            data.get("user_id"),
            data.get("tags"),
            metadata,
        )

    def matches_filter(self, filters: Mapping[str, Any] | None) -> bool:
        """Whether this entry passes ``filters``, with exactly the semantics of queries.

        >>> LogEntry(0, "ERROR", "disk full").matches_filter({"min_severity": "WARN"})
        True
        """
        if _filter_compiler is None:
            raise RuntimeError("the query layer is not loaded: import log_analytics_engine")
        return bool(_filter_compiler(filters).match(self))

    def summary(self, width: int = 80) -> str:
        """One line for humans: time, level, source and the start of the message."""
        msg = self.message if len(self.message) <= width else self.message[: width - 1] + "…"
        src = f" [{self.source}]" if self.source else ""
        return f"{self._shown_time()} {self.level}{src} {msg}"

    def _shown_time(self) -> Any:
        """The timestamp as given when it is text, else (epoch numbers from a logging handler,
        datetimes) as ISO text ending in ``Z``."""
        return self.timestamp if isinstance(self.timestamp, str) else format_instant(self.ts)

    def __repr__(self) -> str:
        return (
            f"LogEntry(timestamp={self._shown_time()!r}, level={self.level!r}, "
            f"message={self.message!r}, source={self.source!r})"
        )


_KNOWN_KEYS = frozenset(
    ("timestamp", "level", "message", "source", "thread_id", "request_id", "user_id", "tags",
     "metadata")
)
ATTRIBUTES = _ATTRIBUTES = frozenset(
    ("timestamp", "level", "message", "source", "thread_id", "request_id", "user_id", "tags")
)
# Attributes that always win over a metadata key of the same name.
_CORE_ATTRIBUTES = frozenset(("timestamp", "level", "message", "tags"))


_new = object.__new__
_fromisoformat = datetime.fromisoformat
_from_dict = LogEntry.from_dict


def entry_from_json(data: dict[str, Any]) -> LogEntry:
    """:meth:`LogEntry.from_dict` for a dict the caller owns (a freshly parsed JSON line).

    The common shape (known keys, string fields, a list of tags, a metadata object) is built
    without copying ``tags`` and ``metadata``; anything else goes through ``from_dict``,
    which raises the precise error. Same result as ``from_dict`` in every case.
    """
    if not data.keys() <= _KNOWN_KEYS:
        return _from_dict(data)
    get = data.get
    raw = get("timestamp")
    level = get("level") or "INFO"
    message = get("message", "")
    source = get("source") or ""
    tags = get("tags")
    metadata = get("metadata")
    thread_id = get("thread_id")
    request_id = get("request_id")
    user_id = get("user_id")
    canonical = _LEVEL_CACHE.get(level) if type(level) is str else None
    if (
        canonical is None
        or type(raw) is not str
        or type(message) is not str
        or type(source) is not str
        or (tags is not None and type(tags) is not list)
        or (metadata is not None and type(metadata) is not dict)
        or (thread_id is not None and type(thread_id) is not str)
        or (request_id is not None and type(request_id) is not str)
        or (user_id is not None and type(user_id) is not str)
    ):
        return _from_dict(data)
    if tags:
        for t in tags:
            if type(t) is not str:
                return _from_dict(data)
    try:
        dt = _fromisoformat(raw)
    except ValueError:
        ts = _instant(raw)
    else:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        ts = dt.timestamp() if not raw.isdigit() else _instant(raw)
        if not MIN_INSTANT <= ts <= MAX_INSTANT:
            ts = _instant(raw)  # raises
    entry = assemble(ts, raw, canonical, message, source, thread_id, request_id, user_id,
                     tags, metadata)
    normalize_entry(entry)
    return entry


def assemble(ts: float, timestamp: Any, level: str, message: str, source: str,
             thread_id: str | None, request_id: str | None, user_id: str | None,
             tags: list[str] | None, metadata: dict[str, Any] | None) -> LogEntry:
    """A :class:`LogEntry` of fields already checked (a canonical level, the instant of the
    timestamp): no validation, O(1). For readers of trusted copies (the archive) and the fast
    JSON path, which checks the types itself."""
    entry = _new(LogEntry)
    entry.ts = ts
    entry.timestamp = timestamp
    entry.level = level
    entry.message = message
    entry.source = source
    entry.thread_id = thread_id
    entry.request_id = request_id
    entry.user_id = user_id
    entry.tags = tags if tags is not None else []
    entry.metadata = metadata if metadata is not None else {}
    return entry


# Entries built lazily (the accelerator's query results) are read through these two
# functions, which the accelerator installs (set_lazy_readers): the model never imports it.
# Without the accelerator no entry is lazy.
_read_lazy: Callable[[LogEntry, str], Any] | None = None
_fill_lazy: Callable[[LogEntry], None] | None = None


def set_lazy_readers(read: Callable[[LogEntry, str], Any],
                     fill: Callable[[LogEntry], None]) -> None:
    """Install the functions that read a lazy entry's attribute (decoding its record first)
    and that decode all of it (pickling, copying)."""
    global _read_lazy, _fill_lazy
    _read_lazy, _fill_lazy = read, fill


# ``matches_filter`` has the semantics of queries, but the query layer sits above the model:
# it hands its compiler down through this hook when it is imported (query/filters.py), so the
# model never imports upward. Importing the package loads the query layer.
_filter_compiler: Callable[[Any], Any] | None = None


def set_filter_compiler(compiler: Callable[[Any], Any]) -> None:
    """Install the function :meth:`LogEntry.matches_filter` compiles filters with."""
    global _filter_compiler
    _filter_compiler = compiler
