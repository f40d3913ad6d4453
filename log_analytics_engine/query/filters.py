"""Filter dicts: ``{"level": "ERROR", "keyword": "timeout"}`` compiled to a query tree.

Every key combines with AND; a list value is an OR of its items. Keys with a meaning of their
own are in :data:`FILTER_KEYS`; any other key matches an entry field or metadata key by
equality.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import InvalidFilterError, InvalidLevelError, InvalidTimestampError
from ..model import entry as _entry_module
from ..model.entry import LEVELS, SEVERITY, normalize_level
from ..model.timeparse import parse_instant
from ..model.tokenize import tokenize
from .nodes import (
    And,
    FieldEquals,
    IndexTerm,
    MatchAll,
    Node,
    Not,
    Or,
    Regex,
    SourceTree,
    TimeRange,
)
from .regex import compile_regex

__all__ = ["FILTER_KEYS", "compile_filters", "time_bounds"]

_INF = float("inf")


def _as_list(key: str, value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if not items:
            raise InvalidFilterError(key, value, "an empty list matches nothing; leave it out")
        return items
    return [value]


def _strings(key: str, value: Any) -> list[str]:
    items = _as_list(key, value)
    for item in items:
        if not isinstance(item, str):
            raise InvalidFilterError(key, value, "expected a string or a list of strings")
    return items


def _instant(key: str, value: Any) -> float:
    try:
        return parse_instant(value, key)
    except InvalidTimestampError as exc:
        raise InvalidFilterError(key, value, "not a time (ISO 8601, datetime or epoch)") from exc


def _level(key: str, value: Any) -> str:
    try:
        return normalize_level(value, key)
    except InvalidLevelError as exc:
        raise InvalidFilterError(key, value, "unknown level") from exc


def _one(nodes: list[Node], combine: type[And] | type[Or]) -> Node:
    return nodes[0] if len(nodes) == 1 else combine(tuple(nodes))


def _keyword(key: str, text: Any) -> Node:
    if not isinstance(text, str):
        raise InvalidFilterError(key, text, "expected a string")
    toks = sorted(tokenize(text))
    if not toks:
        raise InvalidFilterError(key, text, "contains no word")
    return _one([IndexTerm("token", t) for t in toks], And)


def _filter_node(key: str, value: Any) -> Node:
    if key in ("start_time", "end_time"):
        instant = _instant(key, value)
        return TimeRange(lo=instant) if key == "start_time" else TimeRange(hi=instant)
    if key == "level":
        return _one([IndexTerm("level", _level(key, v)) for v in _as_list(key, value)], Or)
    if key == "min_severity":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            threshold = float(value)
            if math.isnan(threshold):
                raise InvalidFilterError(key, value, "not a number")
        else:
            threshold = SEVERITY[_level(key, value)]
        levels = [lv for lv in LEVELS if SEVERITY[lv] >= threshold]
        if not levels:
            return Not(MatchAll())
        return _one([IndexTerm("level", lv) for lv in levels], Or)
    if key == "source":
        return _one([IndexTerm("source", v) for v in _strings(key, value)], Or)
    if key == "source_prefix":
        names = [v.removesuffix(".*").rstrip(".") for v in _strings(key, value)]
        if not all(names):
            raise InvalidFilterError(key, value, "expected a source name such as 'shop'")
        return _one([SourceTree(name) for name in names], Or)
    if key in ("tags", "tag"):
        return _one([IndexTerm("tag", v) for v in _strings(key, value)], Or)
    if key == "tags_all":
        return _one([IndexTerm("tag", v) for v in _strings(key, value)], And)
    if key == "keyword":
        return _keyword(key, value)
    if key == "keywords":
        items = value.split() if isinstance(value, str) else _as_list(key, value)
        return _one([_keyword(key, v) for v in items], Or)
    if key == "regex":
        return Regex(compile_regex(value, key))
    if key in ("message", "timestamp"):
        return _one([FieldEquals(key, v) for v in _as_list(key, value)], Or)
    values = _as_list(key, value)
    if key in _STRING_ATTRIBUTES:
        # these attributes hold text ({"user_id": 42} in a JSON line is stored as "42"), but
        # the same name may also be a metadata key holding the number: match both
        values += [str(v) for v in values
                   if isinstance(v, int) and not isinstance(v, bool) and str(v) not in values]
    return _one([FieldEquals(key, v) for v in values], Or)


_STRING_ATTRIBUTES = frozenset(("thread_id", "request_id", "user_id"))


#: Filter keys with a meaning of their own (other keys match fields by equality).
FILTER_KEYS = frozenset(
    ("start_time", "end_time", "level", "min_severity", "source", "source_prefix", "tags",
     "tag", "tags_all", "keyword", "keywords", "regex")
)


def compile_filters(filters: Mapping[str, Any] | Node | None) -> Node:
    """Compile a filter dict (all keys combine with AND) into a query tree.

    >>> compile_filters({"level": ["ERROR", "fatal"], "source": "api"})  # doctest: +ELLIPSIS
    And(children=(Or(children=(IndexTerm(index='level', term='ERROR'), ...
    """
    if type(filters) is not dict:  # a dict, by far the most common, skips the ABC checks
        if filters is None:
            return MatchAll()
        if isinstance(filters, Node):
            return filters
        if not isinstance(filters, Mapping):
            raise InvalidFilterError("filters", filters, "expected a dict of filters")
    nodes: list[Node] = []
    lo, hi = -_INF, _INF
    for key, value in filters.items():
        if not isinstance(key, str):
            raise InvalidFilterError(str(key), value, "filter names are strings")
        if value is None and key in FILTER_KEYS:
            continue
        node = _filter_node(key, value)
        if isinstance(node, TimeRange):
            lo, hi = max(lo, node.lo), min(hi, node.hi)
        else:
            nodes.append(node)
    if lo != -_INF or hi != _INF:
        nodes.append(TimeRange(lo, hi))
    if not nodes:
        return MatchAll()
    return _one(nodes, And)


def time_bounds(value: Any, key: str) -> float:
    """Parse a time bound given as ISO text, :class:`datetime` or epoch (for other modules)."""
    if isinstance(value, datetime):
        return parse_instant(value)
    return _instant(key, value)


# LogEntry.matches_filter has the semantics of queries; the model sits below this layer,
# so the compiler is handed down to it here rather than imported up from there.
_entry_module.set_filter_compiler(compile_filters)
