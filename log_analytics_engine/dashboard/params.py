"""Turn the query string of ``GET /api/logs`` into a filter dict, pages and an order.

Pure functions (no HTTP objects), so the rules are tested without a server. Every problem
raises :class:`~log_analytics_engine.errors.InvalidFilterError` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidFilterError

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "FILTER_PARAMS",
    "MAX_PAGE_SIZE",
    "LogQuery",
    "parse_int",
    "parse_log_query",
]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

#: Filters that may repeat (``?level=ERROR&level=FATAL`` means either).
_LIST_PARAMS = frozenset(("level", "source", "tag", "tags", "tags_all", "keywords"))
#: Filters given once.
_SCALAR_PARAMS = frozenset(("min_severity", "keyword", "regex", "start_time", "end_time",
                            "thread_id", "request_id", "user_id"))
#: Everything ``/api/logs`` understands besides ``field.<name>`` equality filters.
FILTER_PARAMS = _LIST_PARAMS | _SCALAR_PARAMS
_CONTROL = frozenset(("q", "page", "page_size", "sort_by", "order", "token"))
_FIELD_PREFIX = "field."


@dataclass
class LogQuery:
    """A parsed ``/api/logs`` request."""

    filters: dict[str, Any] = field(default_factory=dict)
    q: str | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    sort_by: str | None = None
    descending: bool = True


def parse_int(key: str, value: str | None, default: int, lo: int, hi: int) -> int:
    """A whole number in ``[lo, hi]`` from a query parameter."""
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidFilterError(key, value, "expected a whole number") from None
    if number < lo:
        raise InvalidFilterError(key, value, f"must be at least {lo}")
    if number > hi:
        raise InvalidFilterError(key, value, f"must be at most {hi}")
    return number


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None  # NaN matches nothing; keep the string


def _scalar(key: str, text: str) -> Any:
    if key in ("start_time", "end_time"):
        number = _number(text)
        return text if number is None else number
    if key == "min_severity":
        number = _number(text)
        return text if number is None else number
    return text


def parse_log_query(items: Iterable[tuple[str, str]]) -> LogQuery:
    """Parse ``(name, value)`` pairs; unknown names and repeated single filters are errors.

    >>> parse_log_query([("level", "ERROR"), ("level", "FATAL"), ("field.status", "500")]).filters
    {'status': ['500', 500], 'level': ['ERROR', 'FATAL']}
    """
    query = LogQuery()
    lists: dict[str, list[str]] = {}
    seen: set[str] = set()
    control: dict[str, str] = {}
    for key, value in items:
        if key in _LIST_PARAMS:
            lists.setdefault(key, []).append(value)
            continue
        if key in seen:
            raise InvalidFilterError(key, value, "given more than once")
        seen.add(key)
        if key in _SCALAR_PARAMS:
            query.filters[key] = _scalar(key, value)
        elif key.startswith(_FIELD_PREFIX) and len(key) > len(_FIELD_PREFIX):
            name = key[len(_FIELD_PREFIX):]
            number = _number(value)
            query.filters[name] = [value] if number is None else [value, number]
        elif key in _CONTROL:
            control[key] = value
        else:
            known = ", ".join(sorted(FILTER_PARAMS | _CONTROL - {"token"}))
            raise InvalidFilterError(key, value, f"unknown filter; known: {known}, field.<name>")
    for key, values in lists.items():
        query.filters[key] = values if len(values) > 1 else values[0]
        if key == "keywords":
            query.filters[key] = " ".join(values)
    q = control.get("q", "").strip()
    query.q = q or None
    query.page = parse_int("page", control.get("page"), 1, 1, 10**9)
    query.page_size = parse_int("page_size", control.get("page_size"), DEFAULT_PAGE_SIZE, 1,
                                MAX_PAGE_SIZE)
    query.sort_by = control.get("sort_by") or None
    order = control.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidFilterError("order", order, "expected 'asc' or 'desc'")
    query.descending = order == "desc"
    return query
