"""Numeric columns of metadata fields, for aggregations: one float64 per live id.

``sum/avg/min/max/pNN`` of a metadata field read its values from a column instead of from
the entries' metadata dicts. A :class:`ColumnCache` builds a field's column on its first use
(so an engine that never aggregates pays nothing) and keeps up to ``max_fields`` of them,
least recently used first out. A column follows the store lazily, at query time under the
engine lock (:meth:`ColumnCache.column`): it drops the ids retention evicted, reads the
entries appended since it was last used, and starts over when the store was changed under it
any other way (its ids renumbered or a batch withdrawn). Memory: 8 bytes per live entry per
cached field, plus two compressed bitmaps that are usually empty or a few runs.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from typing import TYPE_CHECKING

from pyroaring import BitMap

from .. import _native as native

if TYPE_CHECKING:
    from .store import Store

__all__ = ["DEFAULT_MAX_FIELDS", "ColumnCache", "NumericColumn", "ScratchPool"]

#: How many fields a :class:`ColumnCache` keeps by default.
DEFAULT_MAX_FIELDS = 8


class NumericColumn:
    """The numbers of one metadata field for the ids ``[first, first + len(values))``.

    ``values[i - first]`` is the value of id ``i`` as a float64, NaN when it does not count as
    a number for the metrics (missing, ``None``, a bool, text, NaN: what
    ``query.aggregate.numeric_values`` leaves out). ``ints`` holds the ids whose value is an
    ``int`` (exact in a float64: ``min``/``max`` give it back as an int); ``odd`` the ids whose
    value counts but a float64 cannot stand for (an int beyond 2**53, an int or float
    subclass): their groups are computed from the entries.
    """

    __slots__ = ("field", "first", "ints", "odd", "stamp", "values")

    def __init__(self, field: str, first: int, stamp: int) -> None:
        self.field = field
        self.first = first
        self.values = array("d")
        self.ints = BitMap()
        self.odd = BitMap()
        self.stamp = stamp  # what the store looked like when this column last followed it

    @property
    def end(self) -> int:
        """The id after the last one the column holds."""
        return self.first + len(self.values)

    def drop_before(self, first_live: int) -> None:
        """Forget the ids below ``first_live`` (evicted). O(n) for n ids kept.

        The arrays and bitmaps are replaced, not cut in place: a query that took them under
        the lock keeps reading what it took after the lock is released. Appending in place
        is safe for it (it reads only ids below the end it saw)."""
        count = min(first_live, self.end) - self.first
        if count > 0:
            self.values = self.values[count:]
            self.ints = self.ints - _below(first_live)
            self.odd = self.odd - _below(first_live) if self.odd else self.odd
        self.first = max(self.first, first_live)

    def extend(self, store: Store) -> None:
        """Read the entries appended to ``store`` since the column's end: a sealed chunk's
        from its records without building them, the tail's from its objects. O(m) for m
        entries."""
        start, stop = self.end, store.next_id
        if start >= stop:
            return
        chunks = store.entries
        bits, mask = chunks.bits, (1 << chunks.bits) - 1
        first = start
        while first < stop:
            got = None
            if first < chunks.tail_start:  # a sealed chunk
                number = first >> bits
                last = min(stop, (number + 1) << bits)
                data, offsets, kept = chunks.chunks[number - chunks.first_chunk]
                got = native.numeric_records(data, offsets, first & mask,
                                             ((last - 1) & mask) + 1, chunks.tables,
                                             self.field, kept, first)
            else:
                last = min(stop, first + _STEP)
            if got is None:  # tail entries (or a kept entry the kernels leave): built
                entries = store.entries[first - store.base : last - store.base]
                got = native.numeric_column(entries, self.field, first)
                if got is None:  # entries the C kernel does not read: the specification does
                    got = native.python.numeric_column(entries, self.field, first)
            values, ints, odd = got
            self.values.extend(values)
            if ints:
                self.ints.update(ints)
            if odd:
                self.odd.update(odd)
            first = last

    def _check(self, store: Store) -> None:
        """Assert that the column equals a fresh read of the store's entries."""
        assert self.first == store.base
        assert self.end <= store.next_id
        values, ints, odd = native.python.numeric_column(
            store.entries[: self.end - store.base], self.field, store.base)
        assert len(values) == len(self.values)
        for a, b in zip(values, self.values, strict=True):
            assert a == b or (a != a and b != b)
        assert BitMap(ints) == self.ints
        assert BitMap(odd) == self.odd


#: Entries a column reads at a time when it extends.
_STEP = 8192


def _below(end: int) -> BitMap:
    ids = BitMap()
    ids.add_range(0, end)
    return ids


def _stamp(store: Store) -> int:
    """What tells a column that the store's ids were renumbered under it (a rebase moves
    the epoch). A withdrawn batch shows as a store that ends before the column does."""
    return store.epoch


class ScratchPool:
    """Float64 buffers that aggregations gather a group's numbers into, reused across queries
    (a fresh buffer of a million values costs more in page faults than gathering into it).

    :meth:`take` and :meth:`give` may be called without a lock from any thread: a buffer is
    handed to one caller at a time (``list.pop`` and ``append`` are atomic). At most ``keep``
    buffers are kept, each as large as the largest group gathered into it.
    """

    __slots__ = ("_free", "keep")

    def __init__(self, keep: int = 2) -> None:
        self._free: list[array[float]] = []
        self.keep = keep

    def take(self, n: int) -> array[float]:
        """A buffer of at least ``n`` float64s (its content is garbage). O(1) amortised."""
        try:
            buf = self._free.pop()
        except IndexError:
            buf = array("d")
        if len(buf) < n:
            buf.frombytes(bytes(8 * (n - len(buf))))
        return buf

    def give(self, buf: array[float]) -> None:
        """Hand ``buf`` back (no view of it may be alive). O(1)."""
        if len(self._free) < self.keep:
            self._free.append(buf)


class ColumnCache:
    """Numeric columns of up to ``max_fields`` metadata fields of one store (LRU).

    >>> from log_analytics_engine import LogEntry
    >>> from log_analytics_engine.index.store import Store
    >>> store = Store()
    >>> _ = store.append([LogEntry(0, metadata={"ms": 3}), LogEntry(1, metadata={"ms": 2.5})])
    >>> list(ColumnCache(store).column("ms").values)
    [3.0, 2.5]
    """

    __slots__ = ("_columns", "max_fields", "scratch", "store")

    def __init__(self, store: Store, max_fields: int = DEFAULT_MAX_FIELDS) -> None:
        if max_fields < 1:
            raise ValueError(f"max_fields must be >= 1, got {max_fields}")
        self.store = store
        self.max_fields = max_fields
        self._columns: OrderedDict[str, NumericColumn] = OrderedDict()
        self.scratch = ScratchPool()

    def __len__(self) -> int:
        return len(self._columns)

    def __contains__(self, field: object) -> bool:
        return field in self._columns

    def column(self, field: str) -> NumericColumn:
        """The column of metadata ``field``, brought up to date with the store.

        Call it under the lock that guards the store. Runtime complexity: O(n) for the n live
        entries on first use (and after a rebase), then O(m + e) for m entries appended and
        e evicted since the last call (O(kept) when some were evicted: the prefix is cut).
        """
        store = self.store
        stamp = _stamp(store)
        col = self._columns.get(field)
        if col is not None and (col.stamp != stamp or col.end > store.next_id):
            col = None  # renumbered or withdrawn under it: start over
        if col is None:
            col = NumericColumn(field, store.base, stamp)
            self._columns[field] = col
            while len(self._columns) > self.max_fields:
                self._columns.popitem(last=False)
        else:
            self._columns.move_to_end(field)
        if col.first < store.base:
            col.drop_before(store.base)
        col.extend(store)
        return col

    def clear(self) -> None:
        """Forget every column (they are rebuilt on their next use) and scratch buffer."""
        self._columns.clear()
        self.scratch = ScratchPool()
