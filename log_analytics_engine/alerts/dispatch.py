"""Rule dispatch: which rules can match an entry, decided from its level, source, tags, words.

At rule-add time the compiled condition tree is introspected for a *key set*: index terms
(``("level", "ERROR")``, ``("source", "api")``, ``("tag", ...)``, ``("token", ...)``) such
that every entry the rule matches has at least one of them. An entry is then checked only
against the rules keyed by one of its terms, plus the few rules whose conditions give no key
(a bare regex, a numeric comparison, a negation). When the tree *is* its key set (``level``,
``source``, ``tags`` or ``keyword`` alone) the dispatch decides the match by itself; otherwise
the rest of the tree is tested with :meth:`Node.match` (the one filter implementation).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..entry import LEVELS
from ..query import And, IndexTerm, MatchAll, Node, Not, Or, Phrase

__all__ = ["DispatchKeys", "DispatchTable", "dispatch_keys"]

Key = tuple[str, str]
#: How broad one key of an index is (levels are few and common; sources and words narrow).
_BREADTH = {"source": 1.0, "token": 1.0, "tag": 2.0, "level": 3.0}
_DISPATCHED = frozenset(_BREADTH)


@dataclass(frozen=True)
class DispatchKeys:
    """``keys``: a matching entry has one of them (``None``: no such set, check every entry).

    ``residual``: what is left to test with :meth:`Node.match` once a key matched
    (``None``: nothing, the key decides).
    """

    keys: frozenset[Key] | None
    residual: Node | None


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
        best, _ = _best_child(node.children)
        if best is None:
            return None, False
        return _keys(best)[0], False
    return None, False


def _score(keys: frozenset[Key]) -> float:
    return sum(_BREADTH[index] for index, _ in keys)


def _best_child(children: Sequence[Node]) -> tuple[Node | None, float]:
    best: Node | None = None
    best_score = float("inf")
    for child in children:
        keys, _ = _keys(child)
        if keys is not None and _score(keys) < best_score:
            best, best_score = child, _score(keys)
    return best, best_score


def dispatch_keys(node: Node) -> DispatchKeys:
    """The dispatch keys of a compiled condition tree and the residual test.

    >>> from log_analytics_engine.query import compile_filters
    >>> dk = dispatch_keys(compile_filters({"level": "ERROR", "regex": "disk"}))
    >>> sorted(dk.keys), type(dk.residual).__name__
    ([('level', 'ERROR')], 'Regex')
    """
    if isinstance(node, And):
        best, _ = _best_child(node.children)
        if best is None:
            return DispatchKeys(None, node)
        keys, exact = _keys(best)
        if not exact:
            return DispatchKeys(keys, node)
        rest = tuple(c for c in node.children if c is not best)
        return DispatchKeys(keys, rest[0] if len(rest) == 1 else And(rest))
    keys, exact = _keys(node)
    if keys is None:
        return DispatchKeys(None, None if isinstance(node, MatchAll) else node)
    return DispatchKeys(keys, None if exact else node)


T = TypeVar("T")


class DispatchTable(dict[str, dict[str, tuple[T, ...]]]):
    """``table[index][term]``: the rules keyed by a term, plus ``always`` for unkeyed rules.

    ``by_level`` maps every level to its rules *and* the unkeyed ones, so the hot loop does
    one lookup for the common case. ``multi`` is true when a rule can be reached by two keys
    of one entry (several tags or words, or keys of two indexes): the loop then removes
    duplicates. Built once per rule change: O(r k) for r rules of k keys.
    """

    def __init__(self, items: Iterable[tuple[T, DispatchKeys]]) -> None:
        super().__init__()
        lists: dict[str, dict[str, list[T]]] = {ix: {} for ix in _BREADTH}
        always: list[T] = []
        self.multi = False
        for item, dk in items:
            if dk.keys is None:
                always.append(item)
                continue
            indexes = {ix for ix, _ in dk.keys}
            if len(indexes) > 1 or (
                    len(dk.keys) > 1 and any(ix in ("tag", "token") for ix, _ in dk.keys)):
                self.multi = True
            for ix, term in dk.keys:
                lists[ix].setdefault(term, []).append(item)
        for ix, terms in lists.items():
            self[ix] = {term: tuple(items_) for term, items_ in terms.items()}
        self.always: tuple[T, ...] = tuple(always)
        self.by_level: dict[str, tuple[T, ...]] = {
            lv: self.always + self["level"].get(lv, ()) for lv in LEVELS}
