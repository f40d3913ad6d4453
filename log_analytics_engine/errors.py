"""Exception types of log_analytics_engine.

Every error derives from :class:`LogAnalyticsError`; errors about a wrong *value* also derive
from :class:`ValueError`, so ``except ValueError`` keeps working for callers who do not know
this library. Each carries the offending data as attributes (field, value, line number).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CapacityError",
    "DuplicateProcessorError",
    "InvalidAlertRuleError",
    "InvalidEntryError",
    "InvalidFieldError",
    "InvalidFilterError",
    "InvalidLevelError",
    "InvalidTimestampError",
    "LogAnalyticsError",
    "MissingExtraError",
    "MissingFieldError",
    "ParseError",
    "QuerySyntaxError",
    "QueryTimeoutError",
    "StorageCorruptError",
    "StorageError",
    "StorageFullError",
    "StorageNotOursError",
    "StoragePathError",
    "StorageVersionError",
    "UnknownFieldWarning",
]


class LogAnalyticsError(Exception):
    """Base class of every error raised by log_analytics_engine."""


class InvalidEntryError(LogAnalyticsError, ValueError):
    """A log entry (or one line of a file) cannot be turned into a :class:`LogEntry`.

    ``line`` is the 1-based line number when the entry came from a file, else ``None``.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(message if line is None else f"line {line}: {message}")
        self.reason = message


class InvalidFieldError(InvalidEntryError):
    """A field of an entry has a wrong type or value."""

    def __init__(self, field: str, value: Any, reason: str, *, line: int | None = None) -> None:
        self.field = field
        self.value = value
        super().__init__(f"invalid {field} {value!r}: {reason}", line=line)


class MissingFieldError(InvalidEntryError):
    """A required field of an entry is absent."""

    def __init__(self, field: str, *, line: int | None = None) -> None:
        self.field = field
        super().__init__(f"missing required field {field!r}", line=line)


class InvalidTimestampError(InvalidFieldError):
    """A timestamp that none of the supported formats can parse, or outside the years
    1..9999 in UTC (what every layer can represent)."""

    def __init__(self, value: Any, field: str = "timestamp", *, line: int | None = None,
                 reason: str = "expected ISO 8601, epoch seconds/milliseconds or Apache/CLF time",
                 ) -> None:
        super().__init__(field, value, reason, line=line)


class InvalidLevelError(InvalidFieldError):
    """A log level that is not one of TRACE, DEBUG, INFO, WARN(ING), ERROR, FATAL/CRITICAL."""

    def __init__(self, value: Any, field: str = "level") -> None:
        super().__init__(
            field, value, "expected one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"
        )


class ParseError(InvalidEntryError):
    """A line of a file that is not valid JSON, or not a JSON object."""


class InvalidFilterError(LogAnalyticsError, ValueError):
    """A query filter, sort key, page or aggregation argument with a wrong value."""

    def __init__(self, key: str, value: Any, reason: str) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        super().__init__(f"invalid filter {key}={value!r}: {reason}")


class CapacityError(LogAnalyticsError):
    """A batch cannot be taken because the live entries (plus the batch) would span more ids
    than the postings can address (2**32): retention keeps too much. Raised before anything of
    the batch is kept; ``live``, ``requested`` and ``limit`` say by how much."""

    def __init__(self, live: int, requested: int, limit: int) -> None:
        self.live = live
        self.requested = requested
        self.limit = limit
        super().__init__(f"{live} live entries plus a batch of {requested} would span more "
                         f"than {limit} ids; evict older entries (retention) first")


class StorageError(LogAnalyticsError):
    """A problem with the durable copy of the entries (``storage=``); ``path`` names the file."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"storage {path!r}: {reason}")


class StoragePathError(StorageError, ValueError):
    """The storage path cannot be created, opened or written (a wrong path value)."""


class StorageNotOursError(StorageError, ValueError):
    """The file exists but was not written by log_analytics_engine (another database, or not
    a database at all); it is left untouched."""


class StorageVersionError(StorageError, ValueError):
    """The file was written by a newer, incompatible version of the storage schema."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        self.found = found
        self.supported = supported
        super().__init__(
            path, f"schema version {found} is newer than the supported version {supported}"
        )


class StorageCorruptError(StorageError):
    """The file is the engine's but its content is inconsistent (for example a gap in ids)."""


class StorageFullError(StorageError):
    """The disk (or the database's size limit) is full: the entries of the failing call were
    not stored and not acknowledged."""


class QuerySyntaxError(InvalidFilterError):
    """A query string that does not parse: ``column`` (1-based) and what was ``expected``."""

    def __init__(self, query: str, column: int, expected: str, found: str) -> None:
        self.query = query
        self.column = column
        self.expected = expected
        self.found = found
        super().__init__("q", query, f"column {column}: expected {expected}, found {found}")
        self.args = (f"query syntax error at column {column}: expected {expected}, "
                     f"found {found}",)


class QueryTimeoutError(LogAnalyticsError, TimeoutError):
    """A query passed its deadline or was cancelled; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class MissingExtraError(LogAnalyticsError, ImportError):
    """An optional dependency is not installed; ``extra`` names the extra that installs it."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        self.feature = feature
        self.package = package
        self.extra = extra
        super().__init__(f"{feature} needs {package}: pip install 'log-analytics-engine[{extra}]'")


class DuplicateProcessorError(LogAnalyticsError, ValueError):
    """A processor registered under a name that another processor already has."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a processor named {name!r} is already registered")


class InvalidAlertRuleError(LogAnalyticsError, ValueError):
    """An alert rule definition with a wrong value (unknown kind, negative window, bad filter).

    ``rule`` is the rule's name when known, ``field`` the offending key, ``value`` its value and
    ``index`` the 0-based position of the rule in a rule file (else ``None``).
    """

    def __init__(
        self, field: str, value: Any, reason: str, *, rule: str | None = None,
        index: int | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        self.rule = rule
        self.index = index
        where = "" if index is None else f"rule {index + 1}: "
        who = "" if rule is None else f"rule {rule!r}: "
        super().__init__(f"{where}{who}invalid {field} {value!r}: {reason}")


class UnknownFieldWarning(UserWarning):
    """A filter names a field that no stored entry has had (a typo such as ``levle``): the
    query runs and matches nothing there. ``field`` is the name, ``suggestions`` the closest
    known names (entry attributes, filter keys, metadata keys seen).

    >>> str(UnknownFieldWarning("levle", ["level"]))
    "no entry has field 'levle'; did you mean 'level'?"
    """

    def __init__(self, field: str, suggestions: list[str] | tuple[str, ...] = ()) -> None:
        self.field = field
        self.suggestions = tuple(suggestions)
        hint = ""
        if self.suggestions:
            hint = "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(f"no entry has field {field!r}{hint}")
