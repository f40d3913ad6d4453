"""The append-only entry store: dense ids, per-id instants, a time index and zone maps.

Ids are dense integers in ingestion order. ``entries[id - base]`` is the entry with that id;
``base`` moves forward only when retention evicts the oldest entries. Those ids are *internal*:
32-bit offsets from ``epoch``, which is what the postings, the C kernels and the zone maps
hold. The public id of an entry (storage rows, cursors) is ``epoch + id``: a Python int that
never wraps. When the next internal id would pass :attr:`Store.id_limit` (2**32),
:meth:`Store.room_for` asks for a *rebase*: every live id moves down by a multiple of the zone
map block (``epoch`` up by as much), so no count of ingested entries ever stops ingestion;
only live entries spanning more than 2**32 ids do (:class:`~..errors.CapacityError`).
Beside the entries the store keeps:

* ``ts``: the UTC instant of every live id (``array('d')``), for sorting and residual checks;
* ``time_index``: a :class:`.timeindex.TimeOrder`: the ids that arrived in time order as a
  bitmap (their id order is their time order) and the few late ones in a sorted list keyed
  by instant;
* zone maps: the minimum and maximum instant of every block of ``BLOCK`` consecutive ids, so a
  time range becomes whole id ranges plus a few boundary blocks (as column stores prune
  row groups).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap, FrozenBitMap

from .. import _native as native
from .._native.records import Chunk
from ..errors import CapacityError
from .chunks import EntryChunks, RecordBatch, id_buffer
from .timeindex import TimeIndex, TimeOrder

if TYPE_CHECKING:
    from ..model.entry import LogEntry

__all__ = ["BLOCK_BITS", "ID_SPAN", "Mark", "Store", "TimeIndex"]

BLOCK_BITS = 10
BLOCK = 1 << BLOCK_BITS
#: Internal ids are below this: what a ``pyroaring.BitMap`` and the kernels' ``uint32`` hold.
ID_SPAN = 1 << 32
_NO_IDS = array("I")
_INF = float("inf")

#: What :meth:`Store.mark` saves before an append: next id, zone map length and the (min,
#: max) of the block the append starts in.
Mark = tuple[int, int, float, float]


class Store:
    """Entries by id, their instants, the time index and the zone maps."""

    __slots__ = (
        "_base", "_keys_from", "_metadata_keys", "_zbounds", "entries", "epoch", "id_limit",
        "late", "live", "time_index", "ts", "zmax", "zmin",
    )

    def __init__(self) -> None:
        self.ts = array("d")
        self._base = [0]  # shared with the time index's key function and the chunks
        self.entries = EntryChunks(self._base, self.ts)
        self.live = BitMap()
        self.late = BitMap()  # ids that arrived with an instant below an earlier one
        self._zbounds: tuple[list[float], list[float]] | None = None
        self.time_index = TimeOrder(self.ts, self._base)
        self.zmin = array("d")
        self.zmax = array("d")
        self._metadata_keys: set[str] = set()
        self._keys_from = 0  # the first id whose metadata keys are not collected yet
        #: Public id of internal id 0 (a multiple of the zone map block).
        self.epoch = 0
        #: Internal ids stay below this (2**32; tests lower it to rebase often).
        self.id_limit = ID_SPAN

    def reset(self) -> None:
        """Forget every entry: an empty store with the same id limit (a failed load)."""
        limit = self.id_limit
        self.__init__()  # type: ignore[misc]
        self.id_limit = limit

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
        """The entry with ``entry_id`` (built from its record when its chunk is sealed).
        Runtime complexity: O(1)."""
        return self.entries[entry_id - self.base]

    def materialize(self, ids: Iterable[int]) -> list[LogEntry]:
        """The entries of ``ids`` in that order (id order for a bitmap), built on demand.
        Runtime complexity: O(k), one C loop with the accelerator."""
        return self.entries.take(ids)

    def scan(self, ids: Iterable[int], batch: int = 4096) -> Iterator[tuple[Any, list[LogEntry]]]:
        """``(ids, entries)`` pairs covering ``ids`` in order, ``batch`` at a time: for
        loops that read every entry of a large set without building them all at once.
        O(k) for k ids."""
        buffer = id_buffer(ids)
        take = self.entries.take
        for start in range(0, len(buffer), batch):
            part = buffer[start : start + batch]
            yield part, take(part)

    def take_later(self, ids: Iterable[int]) -> Sequence[LogEntry]:
        """:meth:`materialize`, built after the engine lock is released when there are many
        (:meth:`.chunks.EntryChunks.take_later`). Call under the lock. O(k)."""
        return self.entries.take_later(ids)

    def metadata_keys(self) -> set[str]:
        """Every metadata key of the entries appended so far (collected lazily, so ingestion
        pays nothing: each call reads only the entries appended since the last one; an entry
        evicted before any call is not seen). For "no entry has field ..." hints.
        Runtime complexity: O(m) for m entries appended since the last call.
        """
        start = max(self._keys_from, self.base) - self.base
        keys = self._metadata_keys
        update = keys.update
        for entry in self.entries[start:]:
            if entry.metadata:
                update(entry.metadata)
        self._keys_from = self.next_id
        return keys

    def instant(self, entry_id: int) -> float:
        """The UTC instant of ``entry_id``. Runtime complexity: O(1)."""
        return self.ts[entry_id - self.base]

    # -- mutation -------------------------------------------------------------------------
    def append(self, entries: Sequence[LogEntry]) -> int:
        """Append ``entries`` (a list, or a :class:`.chunks.RecordBatch` whose chunks are
        adopted as they are) and return the id of the first. Runtime: O(m log n)."""
        first = self.next_id
        if not entries:
            return first
        stamps = (entries.stamps.tolist() if isinstance(entries, RecordBatch)
                  else [e.ts for e in entries])
        self.entries.extend(entries)
        self._add_instants(first, stamps)
        return first

    def adopt(self, chunks: list[Chunk], tables: list[list[str]], stamps: array[float]) -> int:
        """Append sealed ``chunks`` of records (with the string ``tables`` their codes index)
        as they are, the first starting at the next id's chunk; ``stamps``: the instants of
        their ids from the next id on. For an empty store being reopened. O(n) without
        building an entry."""
        first = self.next_id
        bits = self.entries.bits
        count = (((first >> bits) + len(chunks)) << bits) - first if chunks else 0
        if count != len(stamps):
            raise ValueError(f"{len(stamps)} instants for {count} entries")
        self.entries.adopt(chunks, tables)
        if count:
            self._add_instants(first, stamps.tolist())
        return first

    def _add_instants(self, first: int, stamps: list[float]) -> None:
        self.ts.extend(stamps)
        end = first + len(stamps)
        self.live.add_range(first, end)
        late = self.time_index.extend_ordered(first, stamps)
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

    def start_at(self, first_id: int) -> None:
        """Make an empty store hand out public ids from ``first_id`` (reopening an evicted
        store): the epoch is ``first_id`` rounded down to a block, so internal ids start
        below :data:`BLOCK` and no zone map is kept for ids that never lived."""
        assert not self.entries, "start_at needs an empty store"
        if first_id < 0:
            raise ValueError(f"first id must be >= 0, got {first_id}")
        self.epoch = first_id & ~(BLOCK - 1)
        self.base = first_id - self.epoch
        self.entries.restart(self.base)
        self._keys_from = self.base
        self._zbounds = None

    # -- ids beyond 32 bits ---------------------------------------------------------------
    def room_for(self, m: int) -> int:
        """How far to rebase before ``m`` more entries are appended: 0 when they fit, else a
        multiple of :data:`BLOCK` (pass it to :meth:`rebase` and ``IndexSet.rebase``).
        Raises :class:`CapacityError`, changing nothing, when even a rebase leaves no room.
        Runtime complexity: O(1)."""
        if self._base[0] + len(self.entries) + m <= self.id_limit:
            return 0
        shift = self.base & ~(BLOCK - 1)
        if self.next_id - shift + m > self.id_limit:
            raise CapacityError(len(self.entries), m, self.id_limit)
        return shift

    def rebase(self, shift: int) -> None:
        """Move every internal id down by ``shift`` (a multiple of :data:`BLOCK`, at most
        ``base``) and the epoch up by as much: public ids stay what they were. The caller
        shifts the postings too (``IndexSet.rebase``). Runtime complexity: O(n), once per
        ``id_limit - live`` entries ingested."""
        assert shift % BLOCK == 0
        assert 0 < shift <= self.base
        self.epoch += shift
        self.base -= shift  # the time index's key reads ids through the new base
        self.entries.rebase(shift)
        self.time_index.shift(shift)
        self.live.overwrite(self.live.shift(-shift))
        self.late.overwrite(self.late.shift(-shift))
        blocks = shift >> BLOCK_BITS
        del self.zmin[:blocks], self.zmax[:blocks]
        self._zbounds = None
        self._keys_from = max(0, self._keys_from - shift)

    def still_live(self, ids: BitMap | FrozenBitMap, epoch: int) -> BitMap:
        """Those of ``ids``, taken when the epoch was ``epoch`` (before the lock was released
        and taken again), that are still live, as ids of the current epoch. O(k)."""
        if epoch != self.epoch:
            ids = ids.shift(epoch - self.epoch)
        return self.live & ids

    # -- undoing a failed append ----------------------------------------------------------
    def mark(self, m: int) -> Mark | None:
        """What :meth:`truncate` needs to undo an append of ``m`` entries, or None when they
        do not fit below :attr:`id_limit` (see :meth:`room_for`). O(1)."""
        first = self._base[0] + len(self.entries)
        if first + m > self.id_limit:
            return None
        block = first >> BLOCK_BITS
        zmin = self.zmin
        if block < len(zmin):
            return first, len(zmin), zmin[block], self.zmax[block]
        return first, len(zmin), _INF, -_INF

    def truncate(self, mark: Mark) -> None:
        """Undo everything appended since ``mark`` (a batch that failed after or during its
        append), leaving the store exactly as it was. Runtime complexity: O(m log n) for the
        m ids appended; only on the failure path."""
        first, zlen, lo, hi = mark
        self.time_index.drop_from(first)
        keep = first - self.base
        self.entries.drop_back(first)  # reads the instants it decodes: before they go
        del self.ts[keep:]
        self.live.remove_range(first, ID_SPAN)
        self.late.remove_range(first, ID_SPAN)
        del self.zmin[zlen:], self.zmax[zlen:]
        block = first >> BLOCK_BITS
        if block < zlen:
            self.zmin[block], self.zmax[block] = lo, hi
        self._zbounds = None

    def evict_before(self, first_live: int, entries: bool = True) -> list[LogEntry]:
        """Remove every id below ``first_live``; return the removed entries, oldest id first
        (built from their records; none when ``entries`` is false).

        Callers also remove the ids from the indexes. Whole chunks of records are dropped.
        Runtime complexity: O(k) for k evicted entries when they are returned, else
        O(chunks + late ids x log n).
        """
        count = min(first_live, self.next_id) - self.base
        if count <= 0:
            return []
        removed = self.entries[:count] if entries else []
        cut = self.base + count
        self.time_index.drop_front(cut)
        self.entries.drop_front(cut)
        del self.ts[:count]
        self.live.remove_range(self.base, cut)
        self.late.remove_range(self.base, cut)
        self.base = cut
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
        self, ids: BitMap | FrozenBitMap | Sequence[int], descending: bool = False,
        limit: int | None = None,
    ) -> list[int]:
        """``ids`` in time order, ties in ingestion order (reversed when ``descending``).

        Runtime complexity: O(k log k), near O(k) for the mostly ordered ids of logs.
        """
        if isinstance(ids, (BitMap, FrozenBitMap)):
            return self._time_order(ids, descending, 0, len(ids) if limit is None else limit)
        base = self.base
        ts = self.ts
        key: Callable[[int], float] = ts.__getitem__ if base == 0 else (lambda i: ts[i - base])
        ordered = sorted(ids, key=key)
        if descending:
            ordered.reverse()
        return ordered if limit is None else ordered[:limit]

    def sorted_entries(
        self, ids: BitMap | FrozenBitMap, descending: bool = False, offset: int = 0,
        limit: int | None = None,
    ) -> Sequence[LogEntry]:
        """The entries of ``ids`` in the order of :meth:`sorted_ids`, ``limit`` of them from
        position ``offset`` (built after the lock when many: :meth:`take_later`). Runtime
        complexity: O(k + m log m) for k ids of which m arrived late; in C with the
        accelerator."""
        stop = len(ids) if limit is None else offset + limit
        ordered = self._time_order(ids, descending, offset, stop)
        return self.entries.take_later(ordered, (ids.min(), ids.max()) if ordered else None)

    def _time_order(
        self, ids: BitMap | FrozenBitMap, descending: bool, start: int, stop: int,
    ) -> list[int]:
        """Ids that arrived in time order are already sorted by (instant, id): only the few
        late arrivals among them need placing (``native.time_order``)."""
        late = ids & self.late
        in_order = ids - late if late else ids
        n = len(in_order)
        if stop < n:  # only the first `stop` in-order ids (by id: by time) can be placed
            in_order = in_order[n - stop :] if descending else in_order[:stop]
        ordered: list[int] = native.time_order(
            in_order.to_array(), late.to_array(), self.ts, self.base, None, descending,
            start, stop)
        return ordered

    # -- invariants -----------------------------------------------------------------------
    def _check(self) -> None:
        """Assert the store's invariants (used by tests after every mutation)."""
        n = len(self.entries)
        assert len(self.ts) == n
        self.entries._check()
        assert len(self.time_index) == n
        assert len(self.live) == n
        assert self.epoch % BLOCK == 0
        assert self.next_id <= self.id_limit
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
