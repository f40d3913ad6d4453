"""Timestamps to UTC instants (float epoch seconds).

One function, :func:`parse_instant`, is used for entries, filters, alert windows and buckets,
so every comparison in the engine is between UTC instants. Parsing uses the standard library
(``datetime.fromisoformat``, ``strptime``); a small regular expression covers the ISO 8601
forms that Python 3.10's ``fromisoformat`` does not accept.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import InvalidTimestampError

__all__ = [
    "MAX_INSTANT",
    "MIN_INSTANT",
    "check_instant",
    "fast_instant",
    "format_datetime",
    "format_instant",
    "parse_datetime_text",
    "parse_instant",
    "to_datetime",
]

UTC = timezone.utc
# Numbers at or above this are taken as epoch milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 1e11

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_CLF_RE = re.compile(r"^\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}(?:\s*[+-]\d{4})?$")
_CLF_OFFSET = re.compile(r"\s*([+-]\d{4})$")
_NUMERIC_RE = re.compile(r"^-?\d+(?:\.\d+)?$")

#: The first and last instants every layer can represent: 0001-01-01T00:00:00Z and
#: 9999-12-31T23:59:59.99Z (``datetime``'s range after the offset is applied; the last
#: hundredth of a second is left out because a float instant there rounds past the range).
MIN_INSTANT = -62135596800.0
MAX_INSTANT = 253402300799.99
_RANGE_REASON = "outside the years 1..9999 in UTC (after its offset)"


def check_instant(instant: float, value: Any, field: str = "timestamp") -> float:
    """``instant`` when it lies in ``[MIN_INSTANT, MAX_INSTANT]``, else
    :class:`~log_analytics_engine.errors.InvalidTimestampError` naming the range."""
    if MIN_INSTANT <= instant <= MAX_INSTANT:
        return instant
    raise InvalidTimestampError(value, field, reason=_RANGE_REASON)


def _from_datetime(dt: datetime) -> float:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _parse_iso_fallback(s: str) -> float | None:
    m = _ISO_RE.match(s)
    if m is None:
        return None
    year, month, day, hh, mm, ss, frac, tz = m.groups()
    try:
        dt = datetime(
            int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    seconds = int(dt.timestamp())
    if tz and tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) > 2
                                                     else 0))
    if not frac or len(frac) <= 6:
        # exact microseconds / 10**6, as datetime.timestamp() computes it
        return (seconds * 1_000_000 + int((frac or "0").ljust(6, "0"))) / 1_000_000
    return seconds + int(frac) / float(10 ** len(frac))


def parse_instant(value: Any, field: str = "timestamp") -> float:
    """Return the UTC instant of ``value`` as float epoch seconds; instants outside the years
    1..9999 in UTC are rejected (see :func:`_parse` for the formats).

    >>> parse_instant("2025-07-21T12:00:00Z")
    1753099200.0
    >>> parse_instant("21/Jul/2025:14:00:00 +0200")
    1753099200.0
    >>> parse_instant(1753099200000)
    1753099200.0
    """
    return check_instant(_parse(value, field), value, field)


def _parse(value: Any, field: str) -> float:
    """The instant of ``value`` before the range check.

    Accepts ISO 8601 (``Z``, an offset or none; naive means UTC; ``T`` or space; fractions),
    epoch seconds or milliseconds as numbers or digit strings, Apache/CLF
    ``21/Jul/2025:12:00:00 +0000`` and :class:`datetime` objects. Raises
    :class:`~log_analytics_engine.errors.InvalidTimestampError` (a ``ValueError``) otherwise.
    """
    if isinstance(value, str):
        s = value.strip()
        if _NUMERIC_RE.match(s):
            return _parse(float(s), field)
        try:
            return _from_datetime(datetime.fromisoformat(s))
        except ValueError:
            pass
        result = _parse_iso_fallback(s)
        if result is not None:
            return result
        if _CLF_RE.match(s):
            s = _CLF_OFFSET.sub(r" \1", s)  # "…:00+0000" and "…:00  +0000" -> "…:00 +0000"
            fmt = "%d/%b/%Y:%H:%M:%S %z" if ("+" in s or s.count("-") == 1) else "%d/%b/%Y:%H:%M:%S"
            try:
                return _from_datetime(datetime.strptime(s, fmt))
            except ValueError:
                pass
        if _NUMERIC_RE.match(s):
            return _parse(float(s), field)
        raise InvalidTimestampError(value, field)
    if isinstance(value, bool):
        raise InvalidTimestampError(value, field)
    if isinstance(value, (int, float)):
        v = float(value)
        if not math.isfinite(v):
            raise InvalidTimestampError(value, field)
        if abs(v) >= _MS_THRESHOLD:
            v /= 1000.0
        return v
    if isinstance(value, datetime):
        return _from_datetime(value)
    raise InvalidTimestampError(value, field)


_fromisoformat = datetime.fromisoformat


def fast_instant(value: Any) -> float:
    """:func:`parse_instant` with a fast path for the common ISO 8601 string (hot path)."""
    if type(value) is str and not value.isdigit():
        try:
            dt = _fromisoformat(value)
        except ValueError:
            return parse_instant(value)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        ts = dt.timestamp()
        if MIN_INSTANT <= ts <= MAX_INSTANT:
            return ts
        raise InvalidTimestampError(value, reason=_RANGE_REASON)
    return parse_instant(value)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_datetime(instant: float) -> datetime:
    """The timezone-aware UTC :class:`datetime` of an instant (exact to the microsecond).

    >>> to_datetime(1753099200.5).isoformat()
    '2025-07-21T12:00:00.500000+00:00'
    """
    return _EPOCH + timedelta(microseconds=round(instant * 1_000_000))


def _clamped(instant: float) -> datetime:
    return to_datetime(min(max(instant, MIN_INSTANT), MAX_INSTANT))


def format_instant(instant: float) -> str:
    """ISO 8601 text of an instant in UTC with a ``Z`` suffix.

    >>> format_instant(1753099200.0)
    '2025-07-21T12:00:00Z'
    """
    dt = _clamped(instant)  # a bucket start may fall before year 1: its label is year 1
    text = (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
            f"{dt.second:02d}")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def format_datetime(dt: datetime) -> str:
    """:func:`format_instant` of an aware :class:`datetime` (the one text form of a time
    everywhere: UTC with a ``Z`` suffix).

    >>> format_datetime(to_datetime(1753099200.25))
    '2025-07-21T12:00:00.25Z'
    """
    return format_instant(dt.timestamp())


def parse_datetime_text(text: str) -> datetime:
    """The aware :class:`datetime` of ISO text written by :func:`format_datetime` (``Z``) or
    ``datetime.isoformat`` (``+00:00``), on every Python version; ``ValueError`` otherwise."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)
