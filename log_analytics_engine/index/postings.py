"""Inverted indexes: term -> posting list of entry ids (compressed bitmaps).

Posting lists are :class:`pyroaring.BitMap` objects: about two bytes per id for the dense
lists of levels and sources, and intersections, unions and counts run in C
(``benchmarks/bench_query.py`` measures the difference against Python sets).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap, FrozenBitMap

from .. import _native as native
from ..model.tokenize import tokenize

if TYPE_CHECKING:
    from .store import Store

__all__ = ["EMPTY", "IndexSet", "InvertedIndex", "Postings", "gather_base"]

#: Ids a posting can hold: ``[0, 2**32)`` (the store's internal ids, see ``Store.epoch``).
_SPAN = 1 << 32


def gather_base(guess: int, n: int) -> int:
    """The first id to number a batch of up to ``n`` entries from before the lock: the
    ``guess`` (the store's next id) when the batch fits below 2**32 there, else 0 (the store
    will rebase first, and :meth:`IndexSet.merge` shifts the ids to where the batch lands)."""
    return guess if guess >= 0 and guess + n <= _SPAN else 0

#: The ids of one term in one batch: a list, or an ``array('I')`` from the C gatherer.
Ids = Sequence[int]

#: The empty posting list (shared, immutable).
EMPTY: FrozenBitMap = FrozenBitMap()


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class InvertedIndex:
    """A map from terms to the ids of the entries that carry them.

    >>> idx = InvertedIndex()
    >>> idx.add_batch({"api": [0, 2], "db": [1]})
    >>> sorted(idx.get("api")), len(idx.get("missing"))
    ([0, 2], 0)
    """

    __slots__ = ("_postings", "_sorted")

    def __init__(self) -> None:
        self._postings: dict[Hashable, BitMap] = {}
        self._sorted: list[str] | None = None  # the str terms in order, built when asked

    def add_batch(self, batch: Mapping[Any, Ids], offset: int = 0) -> None:
        """Add ids (plus ``offset``) per term: lists, or ``array('I')`` which pyroaring reads
        without a Python int per id. Runtime complexity: O(total ids), in C."""
        postings = self._postings
        for term, ids in batch.items():
            bm = postings.get(term)
            if offset:
                shifted = BitMap(ids).shift(offset)
                if bm is None:
                    postings[term] = shifted
                else:
                    bm |= shifted
            elif bm is None:
                postings[term] = BitMap(ids)
            else:
                bm.update(ids)
            if bm is None:
                self._sorted = None  # a new term

    def get(self, term: Any) -> BitMap | FrozenBitMap:
        """The posting list of ``term`` (do not mutate it). Runtime complexity: O(1)."""
        try:
            return self._postings.get(term, EMPTY)
        except TypeError:  # unhashable term: nothing can be indexed under it
            return EMPTY

    def count(self, term: Any) -> int:
        """How many entries carry ``term``. Runtime complexity: O(1)."""
        return len(self.get(term))

    def terms(self) -> Iterator[Hashable]:
        """The terms that have at least one live id."""
        return (t for t, bm in self._postings.items() if bm)

    def items(self) -> Iterator[tuple[Hashable, BitMap]]:
        """``(term, posting)`` pairs with at least one live id."""
        return ((t, bm) for t, bm in self._postings.items() if bm)

    def counts(self) -> dict[Any, int]:
        """Number of ids per term (terms with none are left out)."""
        return {t: len(bm) for t, bm in self._postings.items() if bm}

    def __len__(self) -> int:
        return sum(1 for bm in self._postings.values() if bm)

    def remove_below(
        self, first_live: int, terms: Iterable[Any] | None = None, *, keep_empty: bool = False
    ) -> None:
        """Drop every id below ``first_live`` (eviction of the oldest entries).

        ``terms``: the terms of the evicted entries when known, so only their postings are
        touched. ``keep_empty``: keep emptied postings (live views may hold them).
        Runtime complexity: O(t) for t terms (all terms when ``terms`` is None).
        """
        postings = self._postings
        if terms is None:
            candidates: Iterable[Any] = list(postings)
        else:
            candidates = terms
        for term in candidates:
            bm = postings.get(term)
            if bm is not None and bm and bm.min() < first_live:
                bm.remove_range(0, first_live)
                if not bm and not keep_empty:
                    del postings[term]
                    self._sorted = None

    def rebase(self, shift: int) -> None:
        """Move every id down by ``shift`` in place (the bitmaps keep their identity: live
        views hold them). Runtime complexity: O(size of the postings)."""
        for bm in self._postings.values():
            if bm:
                bm.overwrite(bm.shift(-shift))

    def withdraw(self, first_id: int, terms: Iterable[Any], keep: Iterable[Any] = ()) -> None:
        """Undo a failed batch: drop the ids from ``first_id`` on from the postings of
        ``terms``, and the postings it created (emptied and not in ``keep``).
        Runtime complexity: O(t) for the t terms of the batch."""
        postings = self._postings
        kept = set(keep)
        for term in terms:
            bm = postings.get(term)
            if bm is None:
                continue
            bm.remove_range(first_id, _SPAN)
            if not bm and term not in kept:
                del postings[term]
                self._sorted = None

    def with_prefix(self, prefix: str) -> list[str]:
        """The str terms that start with ``prefix``, in order.

        The sorted terms are built when first asked after a term was added or dropped
        (O(t log t) for t terms: rare for sources, which are few and stable), then each call
        is a binary search: O(log t + k) for k terms found.

        >>> idx = InvertedIndex()
        >>> idx.add_batch({"shop.api": [0], "shop.db": [1], "shopping": [2], "auth": [3]})
        >>> idx.with_prefix("shop.")
        ['shop.api', 'shop.db']
        """
        terms = self._sorted
        if terms is None:
            terms = self._sorted = sorted(t for t in self._postings if type(t) is str)
        out = []
        for k in range(bisect_left(terms, prefix), len(terms)):
            if not terms[k].startswith(prefix):
                break
            out.append(terms[k])
        return out


@dataclass(slots=True)
class Postings:
    """The postings of one batch, gathered outside the engine lock from ``first_id`` on."""

    first_id: int
    levels: Mapping[str, Ids]
    sources: Mapping[str, Ids]
    tags: Mapping[str, Ids]
    words: Mapping[str, Ids]
    fields: dict[str, tuple[dict[Any, list[int]], list[int]]]


class IndexSet:
    """All inverted indexes of one store: level, source, tags, message words, chosen fields.

    ``fields`` names metadata (or attribute) fields whose values get an index; entries whose
    value for such a field cannot be a dict key (lists, dicts) are kept in ``unindexed[field]``
    and checked one by one at query time, so an indexed answer always equals a scan.
    """

    __slots__ = ("fields", "ingested_by_level", "level", "source", "strings", "tag", "token",
                 "unindexed")

    def __init__(self, fields: Sequence[str] = ()) -> None:
        self.level = InvertedIndex()
        self.source = InvertedIndex()
        self.tag = InvertedIndex()
        self.token = InvertedIndex()
        self.fields: dict[str, InvertedIndex] = {f: InvertedIndex() for f in fields}
        self.unindexed: dict[str, BitMap] = {f: BitMap() for f in fields}
        #: One shared object per distinct level, source and tag string (entries point at it).
        self.strings: dict[str, str] = {}
        #: Entries merged per level since this index set was made (a counter: never drops on
        #: eviction; entries reloaded from storage are not counted).
        self.ingested_by_level: dict[str, int] = {}

    def clear(self) -> None:
        """Forget every posting and counter (a store about to be loaded again)."""
        self.__init__(tuple(self.fields))  # type: ignore[misc]

    def restore(self, name: str, terms: Mapping[str, BitMap]) -> None:
        """Fill the empty index ``name`` (level, source, tag or token) with ready posting
        lists (a stored snapshot); level, source and tag terms become the shared strings.
        Runtime complexity: O(terms)."""
        index: InvertedIndex = getattr(self, name)
        assert not index._postings, "restore needs an empty index"
        canon = self.strings.setdefault
        for term, bm in terms.items():
            index._postings[canon(term, term) if name != "token" else term] = bm

    def gather(
        self, entries: Sequence[Any], tokens: Sequence[Iterable[str]] | None,
        first_id: int = 0,
    ) -> Postings:
        """Collect the postings of a batch without the lock, numbering from ``first_id``.

        ``first_id`` is a guess of the id the batch will get (the store's next id when read
        without the lock); :meth:`merge` shifts the ids if another writer got there first.
        ``tokens[k]`` are the message words of ``entries[k]`` (duplicates are fine); None
        means tokenize here. Sources and tags repeat across entries: every entry is pointed
        at one shared string (about 130 bytes saved per entry on the benchmark corpus).
        Runtime complexity: O(total terms of the batch), in C when the accelerator is built.
        """
        levels: dict[str, Ids] = {}
        sources: dict[str, Ids] = {}
        tags: dict[str, Ids] = {}
        words: dict[str, Ids] = {}
        batch = entries if type(entries) is list else list(entries)
        token_lists: Any = tokens if tokens is None or type(tokens) is list else list(tokens)
        if first_id + len(batch) > _SPAN:  # see gather_base
            first_id = 0
        native.gather(batch, first_id, self.strings, levels, sources, tags, words, token_lists)
        return Postings(first_id, levels, sources, tags, words,
                        self._gather_fields(batch, first_id))

    def postings(
        self, first_id: int, entries: Sequence[Any], levels: Mapping[str, Ids],
        sources: Mapping[str, Ids], tags: Mapping[str, Ids], words: Mapping[str, Ids],
    ) -> Postings:
        """The postings of a batch whose terms were gathered elsewhere (the C reader's
        ``ingest_blocks``), completed with the ``fields`` postings."""
        return Postings(first_id, levels, sources, tags, words,
                        self._gather_fields(entries, first_id))

    def _gather_fields(
        self, entries: Sequence[Any], first_id: int
    ) -> dict[str, tuple[dict[Any, list[int]], list[int]]]:
        fields: dict[str, tuple[dict[Any, list[int]], list[int]]] = {}
        for name in self.fields:
            values: defaultdict[Any, list[int]] = defaultdict(list)
            odd: list[int] = []
            for i, entry in enumerate(entries, first_id):
                value = entry.get(name)
                if _hashable(value):
                    values[value].append(i)
                else:
                    odd.append(i)
            fields[name] = (values, odd)
        return fields

    def merge(self, postings: Postings, first_id: int, count: bool = True) -> None:
        """Add gathered postings for a batch whose real first id is ``first_id`` (under the
        lock) and, with ``count``, count them (else :meth:`count` does once the batch is
        in). Runtime complexity: O(terms of the batch); id lists are merged in C."""
        self._merge(postings, first_id)
        if count:
            self.count(postings)

    def count(self, postings: Postings) -> None:
        """Add a merged batch to :attr:`ingested_by_level`. O(levels of the batch)."""
        counted = self.ingested_by_level
        for level, ids in postings.levels.items():
            counted[level] = counted.get(level, 0) + len(ids)

    def _merge(self, postings: Postings, first_id: int) -> None:
        offset = first_id - postings.first_id
        self.level.add_batch(postings.levels, offset)
        self.source.add_batch(postings.sources, offset)
        self.tag.add_batch(postings.tags, offset)
        self.token.add_batch(postings.words, offset)
        for name, (values, odd) in postings.fields.items():
            self.fields[name].add_batch(values, offset)
            if odd:
                self.unindexed[name].update(BitMap(odd).shift(offset) if offset else odd)

    def mark(self) -> int:
        """What :meth:`withdraw` needs to undo the next merge: how many level terms there
        are (terms a merge creates come after them; empty level postings that live views
        hold come before). O(1)."""
        return len(self.level._postings)

    def withdraw(self, postings: Postings, first_id: int, mark: int) -> None:
        """Undo the merge (complete or not) of a failed batch whose ids start at
        ``first_id``: its ids leave the postings of its terms and the postings it created
        go (the level counters count a batch only once it is in: :meth:`count`).
        Runtime complexity: O(terms of the batch)."""
        self.level.withdraw(first_id, postings.levels, list(self.level._postings)[:mark])
        self.source.withdraw(first_id, postings.sources)
        self.tag.withdraw(first_id, postings.tags)
        self.token.withdraw(first_id, postings.words)
        for name, (values, _odd) in postings.fields.items():
            self.fields[name].withdraw(first_id, values)
            self.unindexed[name].remove_range(first_id, _SPAN)

    def rebase(self, shift: int) -> None:
        """Move every id down by ``shift`` (with ``Store.rebase``). O(size of the postings)."""
        for index in self.all_indexes():
            index.rebase(shift)
        for bm in self.unindexed.values():
            bm.overwrite(bm.shift(-shift))

    def add_batch(
        self, first_id: int, entries: Sequence[Any], tokens: Sequence[Iterable[str]] | None
    ) -> None:
        """Index ``entries`` whose ids are ``first_id, first_id + 1, ...`` (entries reloaded,
        not counted in :attr:`ingested_by_level`)."""
        self._merge(self.gather(entries, tokens, first_id), first_id)

    def all_indexes(self) -> Iterator[InvertedIndex]:
        yield self.level
        yield self.source
        yield self.tag
        yield self.token
        yield from self.fields.values()

    def reads_removed(self, count: int) -> bool:
        """Whether :meth:`remove_below` reads the ``count`` evicted entries (when they are few
        next to the terms of an index) rather than visiting every posting list. O(fields)."""
        if 4 * count < len(self.token._postings):
            return True
        return any(4 * count < len(index._postings) for index in self.fields.values())

    def remove_below(self, first_live: int, removed: Sequence[Any] | None = None) -> None:
        """Drop every id below ``first_live`` from every index.

        ``removed``: the evicted entries, so that only the postings of their terms are
        touched when they are few compared with the terms of an index (message words,
        high-cardinality fields). Runtime complexity: O(min(T, terms of the removed)).
        """
        self.level.remove_below(first_live, keep_empty=True)  # level_index views hold them
        self.source.remove_below(first_live)
        self.tag.remove_below(first_live)
        small = removed is not None and 4 * len(removed) < len(self.token._postings)
        if removed is not None and small:
            words: set[str] = set()
            for entry in removed:
                words.update(tokenize(entry.message))
            self.token.remove_below(first_live, words)
        else:
            self.token.remove_below(first_live)
        for name, index in self.fields.items():
            if removed is not None and 4 * len(removed) < len(index._postings):
                values = {v for e in removed if _hashable(v := e.get(name))}
                index.remove_below(first_live, values)
            else:
                index.remove_below(first_live)
        for bm in self.unindexed.values():
            bm.remove_range(0, first_live)

    def _check(self, store: Store) -> None:
        """Assert every posting points at a live entry of ``store`` and that the level,
        source, tag and word postings agree with the entries (O(n t): tests only)."""
        live = store.live
        for index in self.all_indexes():
            for _term, posting in index.items():
                assert posting.issubset(live), "posting points at a dead entry"
        total_levels = 0
        for lv, posting in self.level.items():
            total_levels += len(posting)
            assert all(store.get(i).level == lv for i in posting)
        assert total_levels == len(store)
        assert sum(len(p) for _, p in self.source.items()) == len(store)
        for entry_id in live:
            entry = store.get(entry_id)
            for t in entry.tags:
                assert entry_id in self.tag.get(t)
            for w in tokenize(entry.message):
                assert entry_id in self.token.get(w)
