"""The time index: ids in (instant, id) order, as a :class:`sortedcontainers.SortedKeyList`.

Split from :mod:`.store`; besides the bulk path for in-order runs it has the few operations on
sortedcontainers' documented layout that whole-prefix eviction, undoing a failed batch and
rebasing ids need (each keeps every invariant that ``SortedKeyList._check`` verifies).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from heapq import merge

from pyroaring import BitMap
from sortedcontainers import SortedKeyList

from .. import _native as native

__all__ = ["TimeIndex", "TimeOrder", "drop_front", "instant_key"]

_INF = float("inf")


class TimeIndex(SortedKeyList):  # type: ignore[misc]
    """A :class:`SortedKeyList` of ids keyed by instant, with a bulk path for in-order runs.

    Logs arrive almost in time order. :meth:`extend_ordered` appends the ids whose instant is
    not below the current maximum straight onto the last sublists (O(1) amortised each) and
    inserts the late ones with ``add`` (O(log n)). It relies only on the documented layout of
    sortedcontainers' lists (``_lists``, ``_keys``, ``_maxes``, ``_load``, ``_index``), which
    ``_check()`` verifies in the tests.
    """

    def extend_ordered(self, first_id: int, keys: list[float]) -> list[int]:
        """Add the ids ``first_id, first_id + 1, ...`` (ingestion order) whose keys are
        ``keys``; return the late ones (split by the ``split_ordered`` kernel).

        An id is late when its key is below the largest key already present. The ids that are
        not late are in time order among themselves (ties in id order), whatever else is
        evicted later: that is what :meth:`Store.sorted_ids` relies on.
        """
        maxes = self._maxes
        top = maxes[-1] if maxes else float("-inf")
        run_ids, run_keys, late = native.split_ordered(first_id, keys, top)
        if run_ids:
            self._append_tail(run_ids, run_keys)
        add = self.add
        for i in late:
            add(i)
        return late

    def _append_tail(self, values: list[int], keys: list[float]) -> None:
        lists, key_lists, maxes, load = self._lists, self._keys, self._maxes, self._load
        pos = 0
        if lists:
            room = load - len(lists[-1])
            if room > 0:
                lists[-1].extend(values[:room])
                key_lists[-1].extend(keys[:room])
                maxes[-1] = key_lists[-1][-1]
                pos = room
        for start in range(pos, len(values), load):
            chunk = keys[start : start + load]
            lists.append(values[start : start + load])
            key_lists.append(chunk)
            maxes.append(chunk[-1])
        self._len += len(values)
        del self._index[:]


def instant_key(ts: array[float], base: list[int]) -> Callable[[int], float]:
    """The time index's key: the instant of an id. A closure over the store's arrays, not a
    bound method: the store and its index then form no reference cycle, so a dropped engine
    is freed at once by reference counting instead of at the next full GC."""

    def key(entry_id: int) -> float:
        return ts[entry_id - base[0]]

    return key


def drop_front(sl: SortedKeyList, k: int) -> None:
    """Delete the first ``k`` positions of ``sl`` by dropping whole sublists (O(k / load +
    sublists)) instead of one ``del`` per value; keeps every sortedcontainers invariant."""
    if k <= 0:
        return
    if k >= len(sl):
        sl.clear()
        return
    lists, keys, maxes = sl._lists, sl._keys, sl._maxes
    left = k
    while left and len(lists[0]) <= left:
        left -= len(lists[0])
        del lists[0], keys[0], maxes[0]
    if left:
        del lists[0][:left], keys[0][:left]
    sl._len -= k
    del sl._index[:]
    if len(lists) > 1 and len(lists[0]) < sl._load >> 1:  # merge a short head sublist
        lists[1][:0] = lists[0]
        keys[1][:0] = keys[0]
        del lists[0], keys[0], maxes[0]
        sl._expand(0)


def shift_ids(sl: SortedKeyList, delta: int) -> None:
    """Subtract ``delta`` from every id (a rebase: keys are instants, so the order and every
    sublist's keys stay as they are). Runtime complexity: O(n), once per rebase."""
    lists = sl._lists
    for k, values in enumerate(lists):
        lists[k] = [i - delta for i in values]
    del sl._index[:]


def drop_ids_from(sl: SortedKeyList, first: int, stop: int, present: int) -> None:
    """Remove the ids ``first <= id < stop`` of an append being undone; ``present``: how many
    ids the index held before it. The in-order ids of a batch sit at the tail (their keys are
    not below any earlier key, ties placed after), so the tail is popped; the late ones left
    are removed by value (their keys must still be readable). Runtime: O(m log n), only on
    the failure path."""
    popped: set[int] = set()
    while len(sl) > present and first <= sl[-1] < stop:
        popped.add(sl.pop())
    if len(sl) > present:
        for i in range(first, stop):
            if len(sl) == present:
                break
            if i not in popped:
                sl.discard(i)


class TimeOrder:
    """Every live id in (instant, id) order, without a Python int per id.

    An id that arrived in order (its instant not below any instant present before it) is in
    time order with every other such id by id alone: those sit in a bitmap, ``ordered``, whose
    id order *is* their time order. The few late ones sit in a :class:`TimeIndex` of their
    own. Positions, bisections and walks merge the two. Memory: about one bit per in-order id
    plus the late ones' sorted list (about 70 B each).
    """

    __slots__ = ("_base", "_ts", "late", "ordered")

    def __init__(self, ts: array[float], base: list[int]) -> None:
        self._ts = ts  # the store's, shared
        self._base = base
        self.ordered = BitMap()
        self.late = TimeIndex(key=instant_key(ts, base))

    def _key(self, entry_id: int) -> float:
        return self._ts[entry_id - self._base[0]]

    def __len__(self) -> int:
        return len(self.ordered) + len(self.late)

    def top(self) -> float:
        """The largest instant present (-inf when empty). O(1)."""
        top = self._key(self.ordered.max()) if self.ordered else -_INF
        if self.late:
            top = max(top, self.late._maxes[-1])
        return top

    # -- mutation -------------------------------------------------------------------------
    def extend_ordered(self, first_id: int, keys: list[float]) -> list[int]:
        """Add the ids ``first_id, first_id + 1, ...`` whose instants are ``keys``; return
        the late ones (split by the ``split_ordered`` kernel). O(m + l log n) for l late."""
        run_ids, _, late = native.split_ordered(first_id, keys, self.top())
        if not late:
            self.ordered.add_range(first_id, first_id + len(keys))
        else:
            self.ordered.update(run_ids)
            add = self.late.add
            for i in late:
                add(i)
        return late

    def drop_front(self, cut: int) -> None:
        """Remove every id below ``cut``. O(evicted late ids x log n)."""
        self.ordered.remove_range(0, cut)
        gone = [i for i in self.late if i < cut]
        if len(gone) == len(self.late):
            self.late.clear()
        else:
            for i in gone:
                self.late.remove(i)

    def drop_from(self, first: int) -> None:
        """Remove every id from ``first`` on (undoing an append, before the instants of
        those ids are cut). O(late ids x log n)."""
        self.ordered.remove_range(first, 1 << 32)
        for i in [i for i in self.late if i >= first]:
            self.late.remove(i)

    def shift(self, delta: int) -> None:
        """Subtract ``delta`` from every id (a rebase; read through the new base)."""
        self.ordered.overwrite(self.ordered.shift(-delta))
        shift_ids(self.late, delta)

    def clear(self) -> None:
        self.ordered.clear()
        self.late.clear()

    # -- reads ----------------------------------------------------------------------------
    def _rank(self, x: float, right: bool) -> int:
        """How many in-order ids have an instant below ``x`` (at most ``x`` when
        ``right``). O(log^2 n): a binary search over positions, each a bitmap select."""
        ordered, key = self.ordered, self._key
        lo, hi = 0, len(ordered)
        while lo < hi:
            mid = (lo + hi) >> 1
            k = key(ordered[mid])
            if k < x or (right and k == x):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def bisect_key_left(self, x: float) -> int:
        """The number of ids with an instant below ``x``. O(log^2 n)."""
        return self._rank(x, False) + int(self.late.bisect_key_left(x))

    def bisect_key_right(self, x: float) -> int:
        """The number of ids with an instant at most ``x``. O(log^2 n)."""
        return self._rank(x, True) + int(self.late.bisect_key_right(x))

    def _ordered_between(self, start: int, stop: int, reverse: bool) -> Iterator[int]:
        ordered = self.ordered
        if start >= stop:
            return
        if not reverse:
            count = stop - start
            for i in ordered.iter_equal_or_larger(ordered[start]):
                yield i
                count -= 1
                if not count:
                    return
        else:
            for pos in range(stop - 1, start - 1, -1):
                yield ordered[pos]

    def irange_key(self, lo: float = -_INF, hi: float = _INF,
                   reverse: bool = False) -> Iterator[int]:
        """The ids with an instant in ``[lo, hi]`` in time order (reversed when
        ``reverse``). O(log^2 n) to start, O(log n) per step."""
        start, stop = self._rank(lo, False), self._rank(hi, True)
        mine = self._ordered_between(start, stop, reverse)
        late = self.late.irange_key(lo, hi, reverse=reverse)
        if not self.late:
            return mine
        key = self._key
        return merge(mine, late, key=lambda i: (key(i), i), reverse=reverse)

    def __iter__(self) -> Iterator[int]:
        return self.irange_key()

    def __reversed__(self) -> Iterator[int]:
        return self.irange_key(reverse=True)

    def __getitem__(self, index: int) -> int:
        """The first (``0``) or the last (``-1``) id in time order. O(1)."""
        if not len(self):
            raise IndexError("the time order is empty")
        key = self._key
        picks: list[int] = []
        if self.ordered:
            picks.append(self.ordered.min() if index == 0 else self.ordered.max())
        if self.late:
            picks.append(int(self.late[index]))
        if index == 0:
            return min(picks, key=lambda i: (key(i), i))
        if index == -1:
            return max(picks, key=lambda i: (key(i), i))
        raise IndexError("only the first and the last position are kept")

    def _check(self) -> None:
        """Assert the invariants (tests)."""
        self.late._check()
        assert self.ordered.isdisjoint(BitMap(self.late))
        previous = -_INF
        for i in self.ordered:
            assert self._key(i) >= previous, "an in-order id is out of order"
            previous = self._key(i)
