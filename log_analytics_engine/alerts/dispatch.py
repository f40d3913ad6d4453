"""Rule dispatch: which rules can match an entry, decided from its level, source, tags, words.

At rule-add time the compiled condition tree is introspected:

* ``levels``: the levels the rule can match at all (from ``level``/``min_severity`` filters
  at the top of the tree), so a rule for errors is never looked at for an INFO entry;
* ``keys``: index terms (``("source", "api")``, ``("tag", ...)``, ``("token", ...)``,
  ``("level", ...)``) such that every entry the rule matches has at least one of them;
* ``residual``: what is left to test with :meth:`Node.match` (the one filter
  implementation) once the tables have chosen the rule; ``None`` when they decide alone.

An entry is then checked only against the rules of its level keyed by one of its terms,
plus the rules whose conditions give no key (a bare regex, a numeric comparison).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..model.entry import LEVELS
from ..query.nodes import And, IndexTerm, MatchAll, Node, Not, Or, Phrase

__all__ = ["DispatchKeys", "DispatchTable", "LevelTable", "dispatch_keys"]

Key = tuple[str, str]
#: How broad one key of an index is (levels are few and common; sources and words narrow).
_BREADTH = {"source": 1.0, "token": 1.0, "tag": 2.0, "level": 3.0}
_DISPATCHED = frozenset(_BREADTH)
_ALL_LEVELS = frozenset(LEVELS)


@dataclass(frozen=True)
class DispatchKeys:
    """How a rule is dispatched (see the module docstring)."""

    levels: frozenset[str]
    keys: frozenset[Key] | None
    residual: Node | None


def _level_set(node: Node) -> frozenset[str] | None:
    """The levels ``node`` accepts when it tests nothing but the level, else ``None``."""
    if isinstance(node, IndexTerm) and node.index == "level" and isinstance(node.term, str):
        return frozenset((node.term,))
    if isinstance(node, Or) and node.children:
        out: set[str] = set()
        for child in node.children:
            sub = _level_set(child)
            if sub is None:
                return None
            out |= sub
        return frozenset(out)
    if isinstance(node, Not) and isinstance(node.child, MatchAll):
        return frozenset()
    return None


def _keys(node: Node) -> tuple[frozenset[Key] | None, bool]:
    """The key set of ``node`` and whether it is exact (a key present implies a match)."""
    if isinstance(node, IndexTerm) and node.index in _DISPATCHED and isinstance(node.term, str):
        return frozenset(((node.index, node.term),)), True
    if isinstance(node, Phrase) and node.words:
        word = max(node.words, key=len)
        return frozenset((("token", word),)), len(node.words) == 1
    if isinstance(node, Not) and isinstance(node.child, MatchAll):
        return frozenset(), True
    if isinstance(node, Or):
        out: set[Key] = set()
        exact = True
        for child in node.children:
            keys, child_exact = _keys(child)
            if keys is None:
                return None, False
            out |= keys
            exact = exact and child_exact
        return frozenset(out), exact
    if isinstance(node, And):
        best = _best_child(node.children)
        if best is None:
            return None, False
        return _keys(best)[0], False
    return None, False


def _score(keys: frozenset[Key]) -> float:
    return sum(_BREADTH[index] for index, _ in keys)


def _best_child(children: Sequence[Node]) -> Node | None:
    best: Node | None = None
    best_score = float("inf")
    for child in children:
        keys, _ = _keys(child)
        if keys is not None and _score(keys) < best_score:
            best, best_score = child, _score(keys)
    return best


def _join(nodes: Sequence[Node]) -> Node | None:
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def dispatch_keys(node: Node) -> DispatchKeys:
    """The levels, dispatch keys and residual test of a compiled condition tree.

    >>> from log_analytics_engine.query.filters import compile_filters
    >>> dk = dispatch_keys(compile_filters({"min_severity": "ERROR", "source": "db"}))
    >>> sorted(dk.levels), sorted(dk.keys), dk.residual
    (['ERROR', 'FATAL'], [('source', 'db')], None)
    """
    children: Sequence[Node] = node.children if isinstance(node, And) else (node,)
    levels = _ALL_LEVELS
    rest: list[Node] = []
    for child in children:
        sub = _level_set(child)
        if sub is None:
            rest.append(child)
        else:
            levels = levels & sub
    if not rest:
        return DispatchKeys(levels, None, None)
    rest = [c for c in rest if not isinstance(c, MatchAll)]
    best = _best_child(rest)
    if best is None:
        return DispatchKeys(levels, None, _join(rest))
    keys, exact = _keys(best)
    if exact:
        rest = [c for c in rest if c is not best]
    return DispatchKeys(levels, keys, _join(rest))


T = TypeVar("T")
Row = tuple[tuple[T, ...], dict[str, tuple[T, ...]] | None, dict[str, tuple[T, ...]] | None,
            tuple[frozenset[str], dict[str, tuple[T, ...]]] | None]


class LevelTable(Generic[T]):
    """The rules that can match entries of one level, by the entry's source, tags and words.

    ``always``: checked for every entry of the level; ``token_keys``: the words some rule
    is keyed by, intersected with an entry's words in one C-level set operation.
    """

    __slots__ = ("always", "source", "tag", "token", "token_keys")

    def __init__(self) -> None:
        self.always: tuple[T, ...] = ()
        self.source: dict[str, tuple[T, ...]] = {}
        self.tag: dict[str, tuple[T, ...]] = {}
        self.token: dict[str, tuple[T, ...]] = {}
        self.token_keys: frozenset[str] = frozenset()


class DispatchTable(Generic[T]):
    """``tables[level]``: a :class:`LevelTable` for each level. Built once per rule change,
    O(r k) for r rules of k keys; items keep their order (rule registration order).

    ``multi`` is true when a rule can be reached by two keys of one entry (several tags or
    words, or keys of two indexes): the evaluation loop then removes duplicates.
    """

    def __init__(self, items: Iterable[tuple[T, DispatchKeys]]) -> None:
        self.multi = False
        lists: dict[str, dict[str, dict[str, list[T]]]] = {
            lv: {"always": {"": []}, "source": {}, "tag": {}, "token": {}} for lv in LEVELS}
        for item, dk in items:
            keys = dk.keys
            if keys is not None:
                indexes = {ix for ix, _ in keys}
                if len(indexes) > 1 or (
                        len(keys) > 1 and any(ix in ("tag", "token") for ix, _ in keys)):
                    self.multi = True
            for lv in LEVELS:
                if lv not in dk.levels:
                    continue
                tab = lists[lv]
                if keys is None:
                    tab["always"][""].append(item)
                    continue
                for ix, term in sorted(keys):
                    if ix == "level":
                        if term == lv:
                            tab["always"][""].append(item)
                    else:
                        tab[ix].setdefault(term, []).append(item)
        self.tables: dict[str, LevelTable[T]] = {}
        for lv, tab in lists.items():
            lt: LevelTable[T] = LevelTable()
            lt.always = tuple(tab["always"][""])
            lt.source = {k: tuple(v) for k, v in tab["source"].items()}
            lt.tag = {k: tuple(v) for k, v in tab["tag"].items()}
            lt.token = {k: tuple(v) for k, v in tab["token"].items()}
            lt.token_keys = frozenset(lt.token)
            self.tables[lv] = lt
        #: ``rows[level]``: the table as a tuple ``(always, source, tag, (token_keys, token))``
        #: with ``None`` for empty parts, unpacked once per entry by the hot loop.
        self.rows: dict[str, Row[T]] = {
            lv: (lt.always, lt.source or None, lt.tag or None,
                 (lt.token_keys, lt.token) if lt.token else None)
            for lv, lt in self.tables.items()}
