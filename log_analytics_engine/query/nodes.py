"""Filters, query plans and their execution.

A filter dict (``{"level": "ERROR", "keyword": "timeout"}``) compiles to an immutable tree of
:class:`Node` objects; the query language compiles to the same tree, and nodes compose with
``&``, ``|`` and ``~``. Each node has two meanings that must agree (property tests check it):

* :meth:`Node.match` tests one entry (used by ``LogEntry.matches_filter``, alert conditions
  and as the residual check);
* :meth:`Node.evaluate` turns a candidate set of ids into the subset that matches, using the
  posting lists of the indexes where it can.

``And`` evaluates its children cheapest first (smallest posting list first, residual checks
such as regexes last, on the few survivors).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap, FrozenBitMap

from ..errors import InvalidFilterError, InvalidLevelError, InvalidTimestampError
from ..index.postings import IndexSet
from ..model.entry import LEVELS, SEVERITY, normalize_level
from ..model.timeparse import parse_instant
from ..model.tokenize import tokenize, words
from .regex import Pattern, compile_regex

if TYPE_CHECKING:
    from ..index.store import Store
    from ..model.entry import LogEntry

__all__ = [
    "And",
    "Compare",
    "FieldEquals",
    "IndexTerm",
    "MatchAll",
    "Node",
    "Not",
    "Or",
    "Phrase",
    "QueryContext",
    "Regex",
    "TimeRange",
    "compile_filters",
    "execute",
]

Bits = BitMap | FrozenBitMap
_INF = float("inf")


class QueryContext:
    """What a plan runs against: the store and its indexes (read under the engine lock)."""

    __slots__ = ("indexes", "store")

    def __init__(self, store: Store, indexes: IndexSet) -> None:
        self.store = store
        self.indexes = indexes

    def residual(self, cand: Bits | None, predicate: Callable[[LogEntry], bool]) -> BitMap:
        store = self.store
        ids = store.live if cand is None else cand
        entries, base = store.entries, store.base
        return BitMap([i for i in ids if predicate(entries[i - base])])


class Node:
    """A query term. Subclasses are frozen dataclasses; compose them with ``& | ~``."""

    __slots__ = ()

    def match(self, entry: LogEntry) -> bool:
        """Whether ``entry`` satisfies this term."""
        raise NotImplementedError

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        """The ids of ``cand`` (all live ids when ``None``) that satisfy this term.

        The result may be an index's own posting list: callers never mutate it.
        """
        return ctx.residual(cand, self.match)

    def cost(self, ctx: QueryContext) -> float:
        """An estimate of how many ids :meth:`evaluate` produces (smaller runs first)."""
        return _INF

    def __and__(self, other: Node) -> Node:
        return And((self, other))

    def __or__(self, other: Node) -> Node:
        return Or((self, other))

    def __invert__(self) -> Node:
        return Not(self)


@dataclass(frozen=True, slots=True)
class MatchAll(Node):
    """Every entry."""

    def match(self, entry: LogEntry) -> bool:
        return True

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        return ctx.store.live if cand is None else cand

    def cost(self, ctx: QueryContext) -> float:
        return float(len(ctx.store))


def same_value(a: Any, b: Any) -> bool:
    """Equality for filters: like ``==`` but ``True`` is not ``1`` and ``False`` is not ``0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    try:
        return bool(a == b)
    except Exception:  # exotic values whose == raises never match
        return False


def _token_in(entry: LogEntry, term: str) -> bool:
    return term in tokenize(entry.message)


_MATCHERS: dict[str, Callable[[LogEntry, Any], bool]] = {
    "level": lambda e, t: e.level == t,
    "source": lambda e, t: e.source == t,
    "tag": lambda e, t: t in e.tags,
    "token": _token_in,
}


@dataclass(frozen=True, slots=True)
class IndexTerm(Node):
    """A term of one of the built-in indexes: ``level``, ``source``, ``tag`` or ``token``."""

    index: str
    term: Any

    def match(self, entry: LogEntry) -> bool:
        return _MATCHERS[self.index](entry, self.term)

    def _posting(self, ctx: QueryContext) -> Bits:
        index = getattr(ctx.indexes, self.index)
        return index.get(self.term)  # type: ignore[no-any-return]

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        posting = self._posting(ctx)
        return posting if cand is None else cand & posting

    def cost(self, ctx: QueryContext) -> float:
        return float(len(self._posting(ctx)))


@dataclass(frozen=True, slots=True)
class FieldEquals(Node):
    """``entry.get(field) == value``: an attribute when set, else the metadata key.

    Uses the field's index when the engine was built with ``index_fields`` naming it.
    """

    field: str
    value: Any

    def match(self, entry: LogEntry) -> bool:
        return same_value(entry.get(self.field), self.value)

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        index = ctx.indexes.fields.get(self.field)
        if index is None:
            return ctx.residual(cand, self.match)
        posting = index.get(self.value)
        odd = ctx.indexes.unindexed[self.field]
        # dict lookup treats 1, 1.0 and True as one key; match() decides exactly.
        hits = posting if cand is None else cand & posting
        if odd:
            odd_hits = odd if cand is None else cand & odd
            hits = hits | ctx.residual(odd_hits, self.match)
        if isinstance(self.value, (bool, int, float)):
            hits = ctx.residual(hits, self.match)
        return hits

    def cost(self, ctx: QueryContext) -> float:
        index = ctx.indexes.fields.get(self.field)
        if index is None:
            return _INF
        return float(index.count(self.value) + len(ctx.indexes.unindexed[self.field]))


@dataclass(frozen=True, slots=True)
class TimeRange(Node):
    """Entries with ``lo <= instant <= hi`` (UTC epoch seconds; both bounds inclusive)."""

    lo: float = -_INF
    hi: float = _INF

    def match(self, entry: LogEntry) -> bool:
        return self.lo <= entry.ts <= self.hi

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        hits = ctx.store.ids_in_time_range(self.lo, self.hi, cand)
        return hits if cand is None else cand & hits

    def cost(self, ctx: QueryContext) -> float:
        ti = ctx.store.time_index
        return float(ti.bisect_key_right(self.hi) - ti.bisect_key_left(self.lo))


@dataclass(frozen=True, slots=True, eq=False)
class Regex(Node):
    """A search of a compiled pattern (RE2 or ``re``, see :mod:`.regex`) in the message.

    Always a residual check: the engine runs it outside its lock (:mod:`.residual`). Two
    nodes are equal when their patterns have the same text and engine."""

    pattern: Pattern

    def match(self, entry: LogEntry) -> bool:
        return self.pattern.search(entry.message) is not None

    def _key(self) -> tuple[type, str, int]:
        return type(self.pattern), self.pattern.pattern, getattr(self.pattern, "flags", 0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regex) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True, slots=True)
class Phrase(Node):
    """The words appear in the message consecutively and in order (case-insensitive)."""

    words: tuple[str, ...]

    def match(self, entry: LogEntry) -> bool:
        have = words(entry.message)
        n = len(self.words)
        want = list(self.words)
        return any(have[i : i + n] == want for i in range(len(have) - n + 1))

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        narrowed = And(tuple(IndexTerm("token", w) for w in set(self.words))).evaluate(ctx, cand)
        if len(self.words) == 1:
            return narrowed
        return ctx.residual(narrowed, self.match)

    def cost(self, ctx: QueryContext) -> float:
        return min((float(len(ctx.indexes.token.get(w))) for w in self.words), default=_INF)


_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """A numeric comparison of a field (``latency_ms > 250``); non-numbers never match."""

    field: str
    op: str
    value: float

    def match(self, entry: LogEntry) -> bool:
        got = entry.get(self.field)
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return False
        return _OPS[self.op](got, self.value)


@dataclass(frozen=True, slots=True)
class And(Node):
    """All children match; evaluated cheapest first."""

    children: tuple[Node, ...]

    def match(self, entry: LogEntry) -> bool:
        return all(c.match(entry) for c in self.children)

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        # Bitmap terms first (each is a C-speed intersection whatever its size), then time
        # ranges (cheaper on fewer candidates), then per-entry checks; by size within each.
        ordered = sorted(self.children, key=lambda c: (_rank(c, ctx), c.cost(ctx)))
        for child in ordered:
            if isinstance(child, TimeRange):
                # Narrow first to the id span of the blocks that can overlap the range (one
                # run of ids, a superset): later intersections then stay small, and the exact
                # range check still runs as a child below.
                span = ctx.store.block_span(child.lo, child.hi)
                cand = span if cand is None else cand & span
                break
        for child in ordered:
            cand = child.evaluate(ctx, cand)
            if not cand:
                return BitMap()
        return ctx.store.live if cand is None else cand

    def cost(self, ctx: QueryContext) -> float:
        return min((c.cost(ctx) for c in self.children), default=float(len(ctx.store)))


@dataclass(frozen=True, slots=True)
class Or(Node):
    """Any child matches."""

    children: tuple[Node, ...]

    def match(self, entry: LogEntry) -> bool:
        return any(c.match(entry) for c in self.children)

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        parts = [c.evaluate(ctx, cand) for c in self.children]
        if not parts:
            return BitMap()
        if len(parts) == 1:
            return parts[0]
        return BitMap.union(*parts)

    def cost(self, ctx: QueryContext) -> float:
        return sum(c.cost(ctx) for c in self.children)


@dataclass(frozen=True, slots=True)
class Not(Node):
    """The child does not match."""

    child: Node

    def match(self, entry: LogEntry) -> bool:
        return not self.child.match(entry)

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        base = ctx.store.live if cand is None else cand
        return base - self.child.evaluate(ctx, cand)

    def cost(self, ctx: QueryContext) -> float:
        return float(len(ctx.store))


def _rank(node: Node, ctx: QueryContext) -> int:
    if isinstance(node, (IndexTerm, Phrase)):
        return 0
    if isinstance(node, FieldEquals):
        return 0 if node.field in ctx.indexes.fields else 3
    if isinstance(node, TimeRange):
        return 1
    if isinstance(node, (And, Or)):
        return max((_rank(c, ctx) for c in node.children), default=0)
    if isinstance(node, Not):
        return _rank(node.child, ctx)
    return 3


def execute(node: Node, ctx: QueryContext) -> Bits:
    """The ids of every live entry that ``node`` matches (do not mutate the result)."""
    return node.evaluate(ctx, None)


# -- compiling filter dicts ---------------------------------------------------------------
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
    ("start_time", "end_time", "level", "min_severity", "source", "tags", "tag", "tags_all",
     "keyword", "keywords", "regex")
)


def compile_filters(filters: Mapping[str, Any] | Node | None) -> Node:
    """Compile a filter dict (all keys combine with AND) into a query tree.

    >>> compile_filters({"level": ["ERROR", "fatal"], "source": "api"})  # doctest: +ELLIPSIS
    And(children=(Or(children=(IndexTerm(index='level', term='ERROR'), ...
    """
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


# -- ordering and pages -------------------------------------------------------------------
def _sort_value(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, str(value))


TIME_KEYS = frozenset(("timestamp", "time", "ts", "@timestamp"))


def _walk_pays(k: int, n: int, limit: int | None) -> bool:
    """Whether the first ``limit`` of ``k`` hits among ``n`` entries are found faster by
    walking the time index (about ``limit * n / k`` steps) than by ordering all ``k``."""
    return limit is not None and k > 0 and limit * n / k < k / 4


def order_entries(
    ctx: QueryContext, ids: Bits, sort_by: str | None, descending: bool, offset: int,
    limit: int | None,
) -> list[LogEntry]:
    """The entries of ``ids`` in result order, ``limit`` of them from position ``offset``
    (see :func:`order_ids`)."""
    store = ctx.store
    wanted = None if limit is None else offset + limit
    if (sort_by is None or sort_by in TIME_KEYS) and not _walk_pays(len(ids), len(store), wanted):
        return store.sorted_entries(ids, descending, offset, limit)
    ordered = order_ids(ctx, ids, sort_by, descending, wanted)
    return store.materialize(ordered[offset:] if offset else ordered)


def order_ids(
    ctx: QueryContext, ids: Bits, sort_by: str | None, descending: bool, limit: int | None
) -> list[int]:
    """``ids`` in result order; only the first ``limit`` when given.

    Time order walks the time index when few results are wanted from a large set
    (O(limit * n / k) steps), else sorts the ids by instant (O(k log k)).
    """
    store = ctx.store
    if sort_by is None or sort_by in TIME_KEYS:
        if limit is not None and _walk_pays(len(ids), len(store), limit):
            out: list[int] = []
            for i in store.walk_time(descending):
                if i in ids:
                    out.append(i)
                    if len(out) >= limit:
                        break
            return out
        ordered = store.sorted_ids(ids, descending)
        return ordered if limit is None else ordered[:limit]
    ordered = store.sorted_ids(ids)
    get = store.get
    if sort_by in ("level", "severity", "severity_score"):
        ordered.sort(key=lambda i: SEVERITY[get(i).level])
        if descending:  # the exact reverse of the ascending order, ties included
            ordered.reverse()
        return ordered if limit is None else ordered[:limit]
    present: list[tuple[int, tuple[int, Any]]] = []
    missing: list[tuple[int, tuple[int, Any]]] = []
    for i in ordered:
        value = get(i).get(sort_by)
        (missing if value is None else present).append((i, _sort_value(value)))
    present.sort(key=lambda p: p[1])
    if descending:  # the exact reverse of the ascending order, ties included
        present.reverse()
        missing.reverse()
    result = [i for i, _ in present] + [i for i, _ in missing]
    return result if limit is None else result[:limit]


def page_window(page: int | None, page_size: int | None) -> tuple[int, int | None]:
    """``(offset, limit)`` of a 1-based page; validates both numbers."""
    for key, value in (("page", page), ("page_size", page_size)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise InvalidFilterError(key, value, "expected a whole number >= 1")
    if page is None and page_size is None:
        return 0, None
    size = page_size if page_size is not None else 100
    return ((page or 1) - 1) * size, size


def flatten_or(nodes: Iterable[Node]) -> Sequence[Node]:
    """Helper for planners: the children of nested ``Or`` nodes, flattened."""
    out: list[Node] = []
    for n in nodes:
        if isinstance(n, Or):
            out.extend(flatten_or(n.children))
        else:
            out.append(n)
    return out
