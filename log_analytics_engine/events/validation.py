"""Event records: a validation schema, type coercion and conversion to log entries.

An *event record* is a dict such as ``{"user_id": "u1", "feature": "search",
"timestamp": "2025-07-21T10:00:00Z", "action": "start"}``. :func:`validate_event` checks it
against an :class:`EventSchema` and turns it into a :class:`~log_analytics_engine.LogEntry`
(``user_id`` attribute, ``action`` and ``feature`` in metadata, message ``"start search"``,
level INFO). Invalid records are never fatal: :func:`validate_events` returns the valid entries
and an :class:`RejectedEvent` (position, kind, reason) for every rejected record, and
:func:`parse_event_lines` does the same for the lines of a JSONL file.

>>> entries, errors = validate_events([
...     {"user_id": "u1", "feature": "search", "timestamp": 0, "action": "start"},
...     {"user_id": "u1", "feature": "search", "timestamp": 9, "action": "stop"}])
>>> entries[0].message, errors[0].reason
('start search', "invalid action 'stop': expected one of 'end', 'start'")
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import orjson

from .._gc import gc_paused
from ..errors import InvalidEntryError, InvalidFieldError, InvalidTimestampError, MissingFieldError
from ..model.entry import LogEntry

__all__ = [
    "EventSchema",
    "ParsedEvents",
    "RejectedEvent",
    "coerce_bool",
    "coerce_number",
    "event_to_entry",
    "parse_event_lines",
    "validate_event",
    "validate_events",
]

log = logging.getLogger(__name__)

Coercion = Literal["number", "bool"]
_TRUE = frozenset(("true", "yes", "y", "on", "1", "t"))
_FALSE = frozenset(("false", "no", "n", "off", "0", "f"))


def coerce_number(value: Any) -> int | float | None:
    """A number from an int, a float or numeric text; anything else is ``None`` (missing).

    >>> coerce_number("34"), coerce_number("7.5"), coerce_number("abc"), coerce_number(None)
    (34, 7.5, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def coerce_bool(value: Any) -> bool | None:
    """A boolean from ``True``/``False``, ``1``/``0`` or text such as ``"True"``, ``"false"``,
    ``"yes"``, ``"no"``; anything else (and ``None``) is ``None``.

    >>> coerce_bool("True"), coerce_bool("no"), coerce_bool(1), coerce_bool("maybe")
    (True, False, True, None)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return True if value == 1 else False if value == 0 else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


_COERCERS = {"number": coerce_number, "bool": coerce_bool}


@dataclass(frozen=True)
class EventSchema:
    """What a valid event record looks like.

    * ``required``: fields that must be present and not ``None``;
    * ``non_empty``: fields that must be non-empty strings (``user_id``, ``feature``);
    * ``allowed``: allowed values per field (``action`` in ``start``/``end`` by default);
    * ``features``: an optional allow-list for the ``feature`` field;
    * ``coerce``: metadata fields to coerce, ``{"score": "number", "premium": "bool"}``;
      values that cannot be coerced become ``None``, never an error.

    The timestamp (``timestamp_field``) must be a valid time: ISO 8601, epoch seconds or
    milliseconds, or Apache/CLF time.
    """

    required: tuple[str, ...] = ("user_id", "feature", "timestamp", "action")
    non_empty: tuple[str, ...] = ("user_id", "feature")
    allowed: Mapping[str, frozenset[Any]] = field(
        default_factory=lambda: {"action": frozenset(("start", "end"))})
    features: frozenset[str] | None = None
    coerce: Mapping[str, Coercion] = field(default_factory=dict)
    timestamp_field: str = "timestamp"
    user_field: str = "user_id"
    feature_field: str = "feature"
    action_field: str = "action"

    @cached_property
    def validator(self) -> Callable[[Any], LogEntry]:
        """``record -> LogEntry`` for this schema (compiled once); see :func:`validate_event`."""
        return _compile_fast(self, _compile(self), owned=False)

    @cached_property
    def _owned_validator(self) -> Callable[[Any], LogEntry]:
        return _compile_fast(self, _compile(self, owned=True), owned=True)

    def __post_init__(self) -> None:
        for name, kind in self.coerce.items():
            if kind not in _COERCERS:
                raise InvalidFieldError("coerce", {name: kind}, "expected 'number' or 'bool'")
        if self.features is not None and not isinstance(self.features, frozenset):
            object.__setattr__(self, "features", frozenset(self.features))


DEFAULT_SCHEMA = EventSchema()


@dataclass(frozen=True, slots=True)
class RejectedEvent:
    """A rejected record: its 1-based ``line`` (or position), ``kind`` and ``reason``."""

    line: int
    kind: Literal["parse", "validation"]
    reason: str
    field: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"line", "kind", "reason"}`` as written to ``parsed_summary.json``."""
        return {"line": self.line, "kind": self.kind, "reason": self.reason}


EventError = RejectedEvent  # the old name of a record that was never an exception


def _choices(values: frozenset[Any]) -> str:
    return ", ".join(sorted(repr(v) for v in values))


def event_to_entry(record: Mapping[str, Any], schema: EventSchema = DEFAULT_SCHEMA) -> LogEntry:
    """The entry of an already valid record (no checks beyond :class:`LogEntry`'s own).

    Every field but the timestamp and the user goes to metadata (coerced as the schema
    says); the message is ``"<action> <feature>"``. Runtime complexity: O(fields).
    """
    metadata = dict(record)
    stamp = metadata.pop(schema.timestamp_field)
    user = metadata.pop(schema.user_field, None)
    for name, kind in schema.coerce.items():
        if name in metadata:
            metadata[name] = _COERCERS[kind](metadata[name])
    message = f"{metadata.get(schema.action_field)} {metadata.get(schema.feature_field)}"
    return LogEntry(stamp, "INFO", message, "", None, None, user, None, metadata)


def _compile(schema: EventSchema, owned: bool = False) -> Callable[[Any], LogEntry]:
    """A checker specialised for ``schema`` (the work done once, not per record).

    With ``owned`` the checker may reuse the record dict as the entry's metadata (for
    records it parsed itself); otherwise it copies it.
    """
    required = tuple(schema.required)
    non_empty = tuple(schema.non_empty)
    allowed = tuple(schema.allowed.items())
    features = schema.features
    coercers = tuple((name, _COERCERS[kind]) for name, kind in schema.coerce.items())
    feature_field, ts_field = schema.feature_field, schema.timestamp_field
    user_field, action_field = schema.user_field, schema.action_field

    def check(record: Any) -> LogEntry:
        if type(record) is not dict:
            if not isinstance(record, Mapping):
                raise InvalidFieldError("event", record, "expected a JSON object")
            record = dict(record)
        elif not owned:
            record = record.copy()
        get = record.get
        for name in required:
            if get(name) is None:
                raise MissingFieldError(name)
        for name in non_empty:
            value = get(name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise InvalidFieldError(name, value, "expected a non-empty string")
        for name, values in allowed:
            value = get(name)
            if value is not None and not (value in values if type(value) is str
                                          else _allowed(value, values)):
                raise InvalidFieldError(name, value, f"expected one of {_choices(values)}")
        if features is not None:
            value = get(feature_field)
            if value is not None and not _allowed(value, features):
                raise InvalidFieldError(feature_field, value,
                                        f"not an allowed feature ({_choices(features)})")
        stamp = record.pop(ts_field, None)
        if stamp is None:
            raise MissingFieldError(ts_field)
        user = record.pop(user_field, None)
        for name, coerce in coercers:
            if name in record:
                record[name] = coerce(record[name])
        try:
            return LogEntry(stamp, "INFO", f"{get(action_field)} {get(feature_field)}", "",
                            None, None, user, None, record)
        except InvalidTimestampError:
            raise InvalidTimestampError(stamp, ts_field) from None

    return check


def _compile_fast(
    schema: EventSchema, slow: Callable[[Any], LogEntry], owned: bool
) -> Callable[[Any], LogEntry]:
    """The checker as straight-line code generated once per schema (as ``namedtuple`` does).

    It accepts the common valid record (a dict whose checked values are strings) with a
    single combined test and hands everything else to ``slow``, the general checker, which
    raises the precise error. Field names enter the source only through ``repr``.
    """
    checked = list(dict.fromkeys((*schema.required, *schema.non_empty, *schema.allowed,
                                  schema.timestamp_field, schema.user_field,
                                  schema.action_field, schema.feature_field)))
    var = {name: f"v{i}" for i, name in enumerate(checked)}
    env: dict[str, Any] = {"slow": slow, "LogEntry": LogEntry, "dict": dict,
                           "InvalidTimestampError": InvalidTimestampError}
    tests = [f"{var[n]} is None" for n in schema.required]
    tests += [f"({var[n]} is not None and (type({var[n]}) is not str or not {var[n]} "
              f"or {var[n]}.isspace()))" for n in schema.non_empty]
    for i, (name, values) in enumerate(schema.allowed.items()):
        env[f"allowed{i}"] = values
        tests.append(f"({var[name]} is not None and (type({var[name]}) is not str "
                     f"or {var[name]} not in allowed{i}))")
    if schema.features is not None:
        env["features"] = schema.features
        v = var[schema.feature_field]
        tests.append(f"({v} is not None and (type({v}) is not str or {v} not in features))")
    tests.append(f"{var[schema.timestamp_field]} is None")
    lines = [
        "def check(record):",
        "    if type(record) is not dict:",
        "        return slow(record)",
        "    get = record.get",
        *(f"    {var[n]} = get({n!r})" for n in checked),
        f"    if {' or '.join(tests)}:",
        "        return slow(record)",
        "    metadata = record" if owned else "    metadata = dict(record)",
        f"    del metadata[{schema.timestamp_field!r}]",
        f"    metadata.pop({schema.user_field!r}, None)",
    ]
    for i, (name, kind) in enumerate(schema.coerce.items()):
        env[f"coerce{i}"] = _COERCERS[kind]
        lines += [f"    if {name!r} in metadata:",
                  f"        metadata[{name!r}] = coerce{i}(metadata[{name!r}])"]
    stamp, user = var[schema.timestamp_field], var[schema.user_field]
    lines += [
        "    try:",
        f"        return LogEntry({stamp}, 'INFO', "
        f"f'{{{var[schema.action_field]}}} {{{var[schema.feature_field]}}}', '', None, None, "
        f"{user}, None, metadata)",
        "    except InvalidTimestampError:",
        f"        raise InvalidTimestampError({stamp}, {schema.timestamp_field!r}) from None",
    ]
    exec("\n".join(lines), env)
    check: Callable[[Any], LogEntry] = env["check"]
    return check


def validate_event(record: Any, schema: EventSchema = DEFAULT_SCHEMA) -> LogEntry:
    """Check ``record`` against ``schema`` and return its entry.

    Raises :class:`~log_analytics_engine.errors.MissingFieldError`,
    :class:`~log_analytics_engine.errors.InvalidFieldError` or
    :class:`~log_analytics_engine.errors.InvalidTimestampError` (all ``ValueError``), each
    carrying the offending field and value. Runtime complexity: O(fields).
    """
    return schema.validator(record)


def _allowed(value: Any, values: frozenset[Any]) -> bool:
    if isinstance(value, bool) and not any(isinstance(v, bool) for v in values):
        return False
    try:
        return value in values
    except TypeError:  # unhashable (a list or a dict) is never an allowed value
        return False


def validate_events(
    records: Iterable[Any], schema: EventSchema | None = None
) -> tuple[list[LogEntry], list[RejectedEvent]]:
    """Validate every record: ``(entries, errors)``, errors numbered from 1 by position.

    Runtime complexity: O(m) for m records.
    """
    schema = schema or DEFAULT_SCHEMA
    entries: list[LogEntry] = []
    errors: list[RejectedEvent] = []
    check = schema.validator
    with gc_paused():
        for position, record in enumerate(records, 1):
            try:
                entries.append(check(record))
            except InvalidEntryError as exc:
                errors.append(RejectedEvent(position, "validation", exc.reason,
                                         getattr(exc, "field", None)))
    return entries, errors


@dataclass
class ParsedEvents:
    """The outcome of :func:`parse_event_lines`: counts, entries and errors."""

    entries: list[LogEntry] = field(default_factory=list)
    errors: list[RejectedEvent] = field(default_factory=list)
    total_lines: int = 0
    parse_errors: int = 0
    validation_errors: int = 0

    @property
    def valid(self) -> int:
        return len(self.entries)

    def stats(self) -> dict[str, int]:
        """``{"total_lines", "valid", "parse_errors", "validation_errors"}``."""
        return {"total_lines": self.total_lines, "valid": self.valid,
                "parse_errors": self.parse_errors, "validation_errors": self.validation_errors}


def parse_event_lines(
    lines: Iterable[bytes | str], schema: EventSchema | None = None
) -> ParsedEvents:
    """Parse and validate JSONL event lines; blank lines are skipped and not counted.

    Line numbers in errors are the 1-based physical line numbers. A line that is not JSON,
    or not a JSON object, is a ``parse`` error; a record that fails the schema is a
    ``validation`` error. Runtime complexity: O(m) for m lines.
    """
    schema = schema or DEFAULT_SCHEMA
    out = ParsedEvents()
    with gc_paused():
        _parse_lines(lines, schema._owned_validator, out)
    log.debug("parsed %d event lines: %d valid", out.total_lines, out.valid)
    return out


def _parse_lines(
    lines: Iterable[bytes | str], check: Callable[[Any], LogEntry], out: ParsedEvents
) -> None:
    loads = orjson.loads
    append = out.entries.append
    errors = out.errors
    blank = 0
    line_no = 0
    for line_no, raw in enumerate(lines, 1):
        try:
            record = loads(raw)
        except orjson.JSONDecodeError as exc:
            if not raw.strip():  # blank lines are neither counted nor errors
                blank += 1
                continue
            out.parse_errors += 1
            errors.append(RejectedEvent(
                line_no, "parse", f"malformed JSON: {exc.msg} (column {exc.colno})"))
            continue
        if type(record) is not dict:
            out.parse_errors += 1
            errors.append(RejectedEvent(
                line_no, "parse", f"expected a JSON object, got {type(record).__name__}"))
            continue
        try:
            append(check(record))
        except InvalidEntryError as exc:
            out.validation_errors += 1
            errors.append(RejectedEvent(line_no, "validation", exc.reason,
                                     getattr(exc, "field", None)))
    out.total_lines = line_no - blank
