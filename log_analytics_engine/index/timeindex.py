"""The time index: ids in (instant, id) order, as a :class:`sortedcontainers.SortedKeyList`.

Split from :mod:`.store`; besides the bulk path for in-order runs it has the few operations on
sortedcontainers' documented layout that whole-prefix eviction, undoing a failed batch and
rebasing ids need (each keeps every invariant that ``SortedKeyList._check`` verifies).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

from sortedcontainers import SortedKeyList

from .. import _native as native

__all__ = ["TimeIndex", "drop_front", "instant_key"]


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
