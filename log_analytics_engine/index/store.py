"""The append-only entry store: dense ids, per-id instants, a time index and zone maps.

Ids are dense integers in ingestion order. ``entries[id - base]`` is the entry with that id;
``base`` moves forward only when retention evicts the oldest entries. Beside the entries the
store keeps:

* ``ts``: the UTC instant of every live id (``array('d')``), for sorting and residual checks;
* ``time_index``: a :class:`sortedcontainers.SortedKeyList` of ids keyed by instant. Adding an
  id uses ``bisect_right`` on the key, so ties keep ingestion order;
* zone maps: the minimum and maximum instant of every block of ``BLOCK`` consecutive ids, so a
  time range becomes whole id ranges plus a few boundary blocks (as column stores prune
  row groups).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate, islice
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap, FrozenBitMap
from sortedcontainers import SortedKeyList

from .. import _native as native

if TYPE_CHECKING:
    from ..model.entry import LogEntry

__all__ = ["BLOCK_BITS", "Store", "TimeIndex"]

BLOCK_BITS = 10
BLOCK = 1 << BLOCK_BITS
_NO_IDS = array("I")


class TimeIndex(SortedKeyList):  # type: ignore[misc]
    """A :class:`SortedKeyList` of ids keyed by instant, with a bulk path for in-order runs.

    Logs arrive almost in time order. :meth:`extend_ordered` appends the ids whose instant is
    not below the current maximum straight onto the last sublists (O(1) amortised each) and
    inserts the late ones with ``add`` (O(log n)). It relies only on the documented layout of
    sortedcontainers' lists (``_lists``, ``_keys``, ``_maxes``, ``_load``, ``_index``), which
    ``_check()`` verifies in the tests.
    """

    def extend_ordered(self, ids: Sequence[int], keys: Sequence[float]) -> list[int]:
        """Add ``ids`` (in ingestion order) whose keys are ``keys``; return the late ones.

        An id is late when its key is below the largest key already present. The ids that are
        not late are in time order among themselves (ties in id order), whatever else is
        evicted later: that is what :meth:`Store.sorted_ids` relies on.
        """
        maxes = self._maxes
        top = maxes[-1] if maxes else float("-inf")
        run_ids: list[int]
        run_keys: list[float]
        late: list[int]
        if (type(ids) is range and ids.step == 1 and type(keys) is list
                and len(ids) == len(keys)):
            run_ids, run_keys, late = native.split_ordered(ids.start, keys, top)
        else:
            run_ids, run_keys, late = [], [], []
            for i, k in zip(ids, keys, strict=True):
                if k >= top:
                    top = k
                    run_ids.append(i)
                    run_keys.append(k)
                else:
                    late.append(i)
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


def _instant_key(ts: array[float], base: list[int]) -> Callable[[int], float]:
    """The time index's key: the instant of an id. A closure over the store's arrays, not a
    bound method: the store and its index then form no reference cycle, so a dropped engine
    is freed at once by reference counting instead of at the next full GC."""

    def key(entry_id: int) -> float:
        return ts[entry_id - base[0]]

    return key


class Store:
    """Entries by id, their instants, the time index and the zone maps."""

    __slots__ = (
        "_base", "_keys_from", "_metadata_keys", "_zbounds", "entries", "late", "live",
        "time_index", "ts", "zmax", "zmin",
    )

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self.ts = array("d")
        self._base = [0]  # shared with the time index's key function
        self.live = BitMap()
        self.late = BitMap()  # ids that arrived with an instant below an earlier one
        self._zbounds: tuple[list[float], list[float]] | None = None
        self.time_index = TimeIndex(key=_instant_key(self.ts, self._base))
        self.zmin = array("d")
        self.zmax = array("d")
        self._metadata_keys: set[str] = set()
        self._keys_from = 0  # the first id whose metadata keys are not collected yet

    @property
    def base(self) -> int:
        """The id of ``entries[0]`` (moves forward when the oldest entries are evicted)."""
        return self._base[0]

    @base.setter
    def base(self, value: int) -> None:
        self._base[0] = value

    # -- size and ids ---------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    @property
    def next_id(self) -> int:
        """The id the next appended entry gets."""
        return self.base + len(self.entries)

    def get(self, entry_id: int) -> LogEntry:
        """The entry with ``entry_id``. Runtime complexity: O(1)."""
        return self.entries[entry_id - self.base]

    def materialize(self, ids: Iterable[int]) -> list[LogEntry]:
        """The entries of ``ids`` in that order (id order for a bitmap). Runtime complexity:
        O(k), in C for a bitmap with the accelerator, or when base is 0."""
        if isinstance(ids, (BitMap, FrozenBitMap)):
            taken: list[LogEntry] = native.time_order(
                ids.to_array(), _NO_IDS, self.ts, self.base, self.entries, False, 0, len(ids))
            return taken  # no late ids given: the bitmap's own (id) order
        if self.base == 0:
            return list(map(self.entries.__getitem__, ids))
        entries, base = self.entries, self.base
        return [entries[i - base] for i in ids]

    def metadata_keys(self) -> set[str]:
        """Every metadata key of the entries appended so far (collected lazily, so ingestion
        pays nothing: each call reads only the entries appended since the last one; an entry
        evicted before any call is not seen). For "no entry has field ..." hints.
        Runtime complexity: O(m) for m entries appended since the last call.
        """
        start = max(self._keys_from, self.base) - self.base
        keys = self._metadata_keys
        update = keys.update
        for entry in islice(self.entries, start, None):
            if entry.metadata:
                update(entry.metadata)
        self._keys_from = self.next_id
        return keys

    def instant(self, entry_id: int) -> float:
        """The UTC instant of ``entry_id``. Runtime complexity: O(1)."""
        return self.ts[entry_id - self.base]

    # -- mutation -------------------------------------------------------------------------
    def append(self, entries: Sequence[LogEntry]) -> int:
        """Append ``entries`` and return the id of the first. Runtime: O(m log n)."""
        first = self.next_id
        if not entries:
            return first
        stamps = [e.ts for e in entries]
        self.entries.extend(entries)
        self.ts.extend(stamps)
        end = first + len(entries)
        self.live.add_range(first, end)
        late = self.time_index.extend_ordered(range(first, end), stamps)
        if late:
            self.late.update(late)
        self._zbounds = None
        zmin, zmax = self.zmin, self.zmax
        pos = first
        while pos < end:
            block = pos >> BLOCK_BITS
            stop = min(end, (block + 1) << BLOCK_BITS)
            chunk = stamps[pos - first : stop - first]
            lo, hi = min(chunk), max(chunk)
            if block < len(zmin):
                if lo < zmin[block]:
                    zmin[block] = lo
                if hi > zmax[block]:
                    zmax[block] = hi
            else:
                zmin.append(lo)
                zmax.append(hi)
            pos = stop
        return first

    def start_at(self, base: int) -> None:
        """Make an empty store hand out ids from ``base`` (reopening an evicted store)."""
        assert not self.entries, "start_at needs an empty store"
        self.base = base
        self._zbounds = None
        blocks = base >> BLOCK_BITS
        if len(self.zmin) < blocks:  # blocks below base hold no live id: never in range
            pad = blocks - len(self.zmin)
            self.zmin.extend([float("inf")] * pad)
            self.zmax.extend([float("-inf")] * pad)

    def evict_before(self, first_live: int) -> list[LogEntry]:
        """Remove every id below ``first_live``; return the removed entries, oldest id first.

        Callers also remove the ids from the indexes. The evicted ids sit at the front of the
        time index (up to the latest instant among them): that prefix is cut by position and
        the few newer ids found in it (late arrivals) are put back.
        Runtime complexity: O(k + p log n) for k evicted ids and p ids put back.
        """
        count = min(first_live, self.next_id) - self.base
        if count <= 0:
            return []
        removed = self.entries[:count]
        cut = self.base + count
        ti = self.time_index
        keep: list[int] = []
        if count == len(self.entries):
            ti.clear()
        else:
            pos = ti.bisect_key_right(max(self.ts[:count]))
            keep = [i for i in ti[:pos] if i >= cut]
            _drop_front(ti, pos)
        del self.entries[:count]
        del self.ts[:count]
        self.live.remove_range(self.base, cut)
        self.late.remove_range(self.base, cut)
        self.base = cut
        if keep:  # keys are read through the new base
            ti.update(keep)
        return removed

    # -- time -----------------------------------------------------------------------------
    def ids_in_time_range(
        self, lo: float, hi: float, candidates: BitMap | FrozenBitMap | None
    ) -> BitMap:
        """Ids (a superset restricted to ``candidates``) whose instant is in ``[lo, hi]``.

        Whole blocks inside the range are added as id ranges; blocks that straddle a bound
        are checked id by id, only for ``candidates`` when given. Runtime: O(log B + b + s)
        for B blocks, b of them overlapping the range, and s ids in straddling blocks.
        """
        out = BitMap()
        straddling = BitMap()  # the ids of blocks that straddle a bound
        zmin, zmax, base = self.zmin, self.zmax, self.base
        end_id = self.next_id
        run_start = -1
        # Only blocks that can hold an instant in [lo, hi]: before ``first_block`` every block
        # ends below lo (running maximum of the maxima), from ``stop_block`` on every block
        # starts above hi (suffix minimum of the minima). Both arrays are non-decreasing.
        first_block, stop_block = self._block_range(lo, hi)
        for block in range(first_block, stop_block):
            mn = zmin[block]
            mx = zmax[block]
            if mx < lo or mn > hi:
                if run_start >= 0:
                    out.add_range(run_start, block << BLOCK_BITS)
                    run_start = -1
                continue
            if lo <= mn and mx <= hi:
                if run_start < 0:
                    run_start = block << BLOCK_BITS
                continue
            if run_start >= 0:
                out.add_range(run_start, block << BLOCK_BITS)
                run_start = -1
            straddling.add_range(max(block << BLOCK_BITS, base),
                                 min((block + 1) << BLOCK_BITS, end_id))
        if run_start >= 0:
            out.add_range(run_start, min(stop_block << BLOCK_BITS, end_id))
        if straddling:  # checked id by id
            out |= self._instants_within(
                straddling if candidates is None else candidates & straddling, lo, hi)
        # ids below base may sit in the first block's range: keep only live ones
        if base & (BLOCK - 1):
            out.remove_range(0, base)
        return out

    def _instants_within(self, ids: BitMap | FrozenBitMap, lo: float, hi: float) -> BitMap:
        """The ``ids`` whose instant is in ``[lo, hi]``. O(k), in C with the accelerator."""
        return BitMap(native.filter_instants(ids.to_array(), self.ts, self.base, lo, hi))

    def _zone_bounds(self) -> tuple[list[float], list[float]]:
        """Running maximum of the block maxima and suffix minimum of the block minima."""
        if self._zbounds is None:
            self._zbounds = (list(accumulate(self.zmax, max)),
                             list(accumulate(reversed(self.zmin), min))[::-1])
        return self._zbounds

    def _block_range(self, lo: float, hi: float) -> tuple[int, int]:
        """The blocks ``[first, stop)`` outside which no instant lies in ``[lo, hi]``."""
        running_max, suffix_min = self._zone_bounds()
        first = max(self.base >> BLOCK_BITS, bisect_left(running_max, lo))
        return first, bisect_right(suffix_min, hi)

    def block_span(self, lo: float, hi: float) -> BitMap:
        """A superset of the live ids with an instant in ``[lo, hi]``: one run of ids.

        Runtime complexity: O(log B) after the first call following an append (O(B)).
        """
        first, stop = self._block_range(lo, hi)
        span = BitMap()
        start, end = max(first << BLOCK_BITS, self.base), min(stop << BLOCK_BITS, self.next_id)
        if start < end:
            span.add_range(start, end)
        return span

    def sorted_ids(
        self, ids: BitMap | FrozenBitMap | Sequence[int], descending: bool = False
    ) -> list[int]:
        """``ids`` in time order, ties in ingestion order (reversed when ``descending``).

        Runtime complexity: O(k log k), near O(k) for the mostly ordered ids of logs.
        """
        if isinstance(ids, (BitMap, FrozenBitMap)):
            return self._time_order(ids, descending, None, 0, len(ids))
        base = self.base
        ts = self.ts
        key: Callable[[int], float] = ts.__getitem__ if base == 0 else (lambda i: ts[i - base])
        ordered = sorted(ids, key=key)
        if descending:
            ordered.reverse()
        return ordered

    def sorted_entries(
        self, ids: BitMap | FrozenBitMap, descending: bool = False, offset: int = 0,
        limit: int | None = None,
    ) -> list[LogEntry]:
        """The entries of ``ids`` in the order of :meth:`sorted_ids`, ``limit`` of them from
        position ``offset``. Runtime complexity: O(k + m log m) for k ids of which m arrived
        late; in C with the accelerator, which makes no Python int for an id."""
        stop = len(ids) if limit is None else offset + limit
        return self._time_order(ids, descending, self.entries, offset, stop)

    def _time_order(
        self, ids: BitMap | FrozenBitMap, descending: bool, entries: list[LogEntry] | None,
        start: int, stop: int,
    ) -> list[Any]:
        """Ids that arrived in time order are already sorted by (instant, id): only the few
        late arrivals among them need placing (``native.time_order``)."""
        late = ids & self.late
        in_order = ids - late if late else ids
        ordered: list[Any] = native.time_order(
            in_order.to_array(), late.to_array(), self.ts, self.base, entries, descending,
            start, stop)
        return ordered

    def walk_time(self, descending: bool = False) -> Iterator[int]:
        """All live ids in time order (ties in ingestion order). O(1) per step."""
        ti = self.time_index
        return reversed(ti) if descending else iter(ti)

    # -- invariants -----------------------------------------------------------------------
    def _check(self) -> None:
        """Assert the store's invariants (used by tests after every mutation)."""
        n = len(self.entries)
        assert len(self.ts) == n
        assert len(self.time_index) == n
        assert len(self.live) == n
        if n:
            assert self.live.min() == self.base
            assert self.live.max() == self.base + n - 1
        self.time_index._check()
        previous = None
        for entry_id in self.time_index:
            key = (self.ts[entry_id - self.base], entry_id)
            assert previous is None or previous < key, "time index out of order"
            previous = key
        assert self.late.issubset(self.live), "late ids must be live"
        top = float("-inf")
        for i in self.live - self.late:  # in-order ids are sorted among themselves
            assert self.ts[i - self.base] >= top, "an in-order id is out of order"
            top = self.ts[i - self.base]
        for i, entry in enumerate(self.entries):
            assert self.ts[i] == entry.ts
            block = (i + self.base) >> BLOCK_BITS
            assert self.zmin[block] <= entry.ts <= self.zmax[block]


def _drop_front(sl: SortedKeyList, k: int) -> None:
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
