"""The one JSON codec for entries and alerts: the durable copy, the archive, alert history and
state, alert files, the dashboard's answers and the CLI's JSON output all encode through here.

The policy is :mod:`log_analytics_engine.model.values` (lone surrogates -> U+FFFD, integers
outside 64 bits and non-finite floats -> text, non-string keys -> text, containers -> lists,
too-deep or cyclic containers cut): entries are normalised by that rule when they are built, so
encoding them never fails and decoding gives back equal entries. Any other value is encoded
with orjson as it is and, only when orjson refuses it, normalised by the same rule first:
:func:`dumps` never raises for content. Runtime complexity: O(size of the value).
"""

from __future__ import annotations

from array import array
from typing import Any

import orjson

from .. import _native as native
from ..model.entry import LogEntry
from ..model.values import normalize_entry, normalize_value

__all__ = ["OPTIONS", "default", "dumps", "encode_chunk", "entry_row", "loads"]

#: The orjson options of every encoding (keys that are numbers, ``None`` or booleans are
#: written as text, as JSON requires).
OPTIONS = orjson.OPT_NON_STR_KEYS
_dumps = orjson.dumps
loads = orjson.loads


def default(value: Any) -> Any:
    """orjson's fallback for types it cannot encode: the normalised value (never fails).

    >>> default({3, 1, 2})
    [1, 2, 3]
    """
    return normalize_value(value)


def dumps(value: Any, *, indent: bool = False, newline: bool = False) -> bytes:
    """``value`` as UTF-8 JSON; what orjson refuses (lone surrogates, huge integers, tuple
    keys, cycles, nesting over 255 levels) is normalised first. O(size).

    >>> dumps({"a": "\\udcff", "n": 2**64, (1, 2): 0})
    b'{"a":"\\xef\\xbf\\xbd","n":"18446744073709551616","(1, 2)":0}'
    """
    option = OPTIONS | (orjson.OPT_INDENT_2 if indent else 0) | (
        orjson.OPT_APPEND_NEWLINE if newline else 0)
    try:
        return _dumps(value, default=default, option=option)
    except TypeError:
        return _dumps(normalize_value(value), default=default, option=option)


def entry_row(e: LogEntry) -> list[Any]:
    """The stored field array of an entry: ``[timestamp, level, message, source, thread_id,
    request_id, user_id, tags, metadata]``."""
    return [e.timestamp, e.level, e.message, e.source, e.thread_id, e.request_id, e.user_id,
            e.tags, e.metadata]


def _encode(part: list[LogEntry]) -> tuple[array[float], bytes]:
    raw, data = native.encode_chunk(part, _dumps, default, OPTIONS)
    stamps = array("d")
    stamps.frombytes(raw)
    return stamps, data


def encode_chunk(part: list[LogEntry]) -> tuple[array[float], bytes]:
    """The instants and the JSON array of field arrays of ``part`` (in C when built).

    Entries built by this library are normal already; one whose fields were changed after
    it was built is normalised in place here (before it is stored anywhere), so memory and the
    durable copy still agree. O(size).
    """
    try:
        return _encode(part)
    except TypeError:
        for e in part:
            normalize_entry(e)
        return _encode(part)

