"""Query nodes: the immutable tree a filter compiles to, and its execution.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap, FrozenBitMap

from ..index.columns import ColumnCache
from ..index.postings import IndexSet
from ..model.tokenize import tokenize, words
from .regex import Pattern

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
    "SourceTree",
    "TimeRange",
    "execute",
]

Bits = BitMap | FrozenBitMap
_INF = float("inf")


class QueryContext:
    """What a plan runs against: the store and its indexes (read under the engine lock),
    and the numeric columns aggregations build from the store on first use."""

    __slots__ = ("_columns", "indexes", "store")

    def __init__(self, store: Store, indexes: IndexSet) -> None:
        self.store = store
        self.indexes = indexes
        self._columns: ColumnCache | None = None

    @property
    def columns(self) -> ColumnCache:
        """The numeric columns of the store's metadata fields (created on first use)."""
        if self._columns is None:
            self._columns = ColumnCache(self.store)
        return self._columns

    def residual(self, cand: Bits | None, predicate: Callable[[LogEntry], bool]) -> BitMap:
        store = self.store
        ids = store.live if cand is None else cand
        hits = BitMap()
        for part, entries in store.scan(ids):
            hits.update([i for i, e in zip(part, entries, strict=True) if predicate(e)])
        return hits


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
class SourceTree(Node):
    """The source ``name`` and every source below it in a dotted hierarchy, as logger names
    are: ``SourceTree("shop")`` matches ``shop``, ``shop.api`` and ``shop.api.v2``, not
    ``shopping``. Filter key ``source_prefix``; query language ``source:shop.*``.

    Evaluated from the source index: the union of the postings of ``name`` and of the terms
    found by a binary search of the sorted source terms (:meth:`InvertedIndex.with_prefix`).
    Runtime complexity: O(log s + k) terms for s sources, plus the union of their postings.
    """

    name: str

    def match(self, entry: LogEntry) -> bool:
        source = entry.source
        return source == self.name or source.startswith(self.name + ".")

    def _postings(self, ctx: QueryContext) -> list[Bits]:
        index = ctx.indexes.source
        return [index.get(t) for t in (self.name, *index.with_prefix(self.name + "."))]

    def evaluate(self, ctx: QueryContext, cand: Bits | None) -> Bits:
        postings = [p for p in self._postings(ctx) if p]
        hits: Bits = BitMap.union(*postings) if len(postings) > 1 else (
            postings[0] if postings else BitMap())
        return hits if cand is None else cand & hits

    def cost(self, ctx: QueryContext) -> float:
        return float(sum(map(len, self._postings(ctx))))


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
