"""The store's entries as sealed chunks of records plus a tail of objects.

Ids are grouped in chunks of ``2**bits`` consecutive ids (chunk ``k`` holds ids
``k << bits`` to ``(k + 1) << bits``). The entries of the newest, unfinished chunk are kept as
the :class:`LogEntry` objects that were appended (the *tail*); when a chunk fills, its entries
are encoded into one ``bytes`` of records (:mod:`.._native.records`: level codes, dictionary
codes for repeated strings, messages as codes of their words, typed metadata values, the
timestamp text only where the instant does not print it) and the objects are freed. That is
about 60-75 B per entry instead of about 750 B of object graph, so retention holds four times
the history in the same memory. Eviction drops whole chunks (memory stays flat); a chunk
partly below the first live id stays until all of it is evicted.

Entries are built on demand (:meth:`EntryChunks.take`, a C loop over the requested ids):
equal to the appended ones (same field values and types), not the same objects.
"""

from __future__ import annotations

from abc import abstractmethod
from array import array
from collections.abc import Iterable, Iterator, Sequence
from sys import getsizeof
from typing import TYPE_CHECKING, Any, overload

from pyroaring import BitMap, FrozenBitMap

from .. import _native as native
from .._native.records import LIMITS, Chunk, Table, new_tables

if TYPE_CHECKING:
    from ..model.entry import LogEntry

__all__ = ["CHUNK_BITS", "EAGER", "EntryChunks", "RecordBatch", "Taken", "id_buffer"]

#: Ids per sealed chunk, as a power of two (at most the zone map block, so that rebasing by
#: whole blocks moves whole chunks). Tests lower it to seal often.
CHUNK_BITS = 10
#: :meth:`EntryChunks.take_later` builds at most this many entries at once (under the lock);
#: more are built after the lock is released, from a snapshot.
EAGER = 2048
# Bytes a table spends per string beside the string: its dict entry, list slot and doorkeeper.
_TABLE_SLOT = 64


def id_buffer(ids: Iterable[int]) -> Any:
    """``ids`` as a uint32 buffer for the kernels: a bitmap's array, an ``array('I')`` as it
    is, any other iterable copied. O(k)."""
    if isinstance(ids, (BitMap, FrozenBitMap)):
        return ids.to_array()
    if isinstance(ids, array) and ids.typecode == "I":
        return ids
    return array("I", ids)


class EntryChunks(Sequence["LogEntry"]):
    """Sealed chunks of records, then the tail of entry objects, read like the list of the
    store's live entries (``entries[i]`` is the entry with id ``base + i``)."""

    __slots__ = ("_base", "_counted", "_table_bytes", "_ts", "bits", "chunks", "first_chunk",
                 "items", "record_bytes", "tables", "tail", "tail_start")

    def __init__(self, base: list[int], ts: array[float], bits: int | None = None,
                 limits: tuple[int, int, int] = LIMITS) -> None:
        self._base = base  # the store's, shared: [first live id]
        self._ts = ts  # the store's instants from the first live id
        self.bits = CHUNK_BITS if bits is None else bits
        self.chunks: list[Chunk] = []  # chunks[j] holds chunk number first_chunk + j
        self.first_chunk = 0
        self.tail: list[LogEntry] = []
        self.tail_start = base[0]  # the id of tail[0]
        self.tables: list[Table] = new_tables(limits)
        self.items = tuple(table[1] for table in self.tables)
        #: Bytes of the sealed chunks' records and offsets.
        self.record_bytes = 0
        self._table_bytes = 0
        self._counted = [0, 0, 0]  # table items counted in _table_bytes

    # -- size -----------------------------------------------------------------------------
    @property
    def end(self) -> int:
        """The id after the last entry."""
        return self.tail_start + len(self.tail)

    def __len__(self) -> int:
        return self.end - self._base[0]

    def sealed(self) -> int:
        """How many chunks are sealed (held as records)."""
        return len(self.chunks)

    def memory_bytes(self) -> int:
        """Approximate bytes of the sealed chunks and the string tables (not the tail's
        objects). O(strings admitted since the last call)."""
        for k, items in enumerate(self.items):
            new = items[self._counted[k]:]
            self._table_bytes += sum(map(getsizeof, new)) + _TABLE_SLOT * len(new)
            self._counted[k] = len(items)
        return self.record_bytes + self._table_bytes

    # -- reads ----------------------------------------------------------------------------
    def take(self, ids: Iterable[int], lazy: bool = False) -> list[LogEntry]:
        """The entries of ``ids`` (live ids, any order), in that order. ``lazy``: for
        results handed to a caller, who may read few of their fields: each sealed entry is
        built with its instant and level, the rest decoded on first read.

        Runtime complexity: O(size of their records), one C loop with the accelerator;
        O(k) allocations of three objects each when lazy."""
        buffer = id_buffer(ids)
        taken: list[LogEntry] = native.take_entries(
            buffer, self.chunks, self.first_chunk, self.bits, self._ts, self._base[0],
            self.tables, self.tail, self.tail_start, lazy)
        return taken

    def take_later(self, ids: Iterable[int],
                   bounds: tuple[int, int] | None = None) -> Sequence[LogEntry]:
        """The entries of ``ids`` in that order: a list when they are few (at most
        :data:`EAGER`), else a :class:`Taken` that builds them when read, after the engine
        lock is released. Call under the lock. ``bounds``: ids no id is below or above, when
        the caller knows them (a bitmap's first and last), else they are computed. O(k) for
        k ids (a copy of the instants they span and of the chunk list for a :class:`Taken`)."""
        buffer = id_buffer(ids)
        if len(buffer) <= EAGER:
            return self.take(buffer, lazy=True)
        return Taken(self, buffer, bounds)

    @overload
    def __getitem__(self, index: int) -> LogEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[LogEntry]: ...

    def __getitem__(self, index: int | slice) -> LogEntry | list[LogEntry]:
        """Position ``index`` (from the first live entry), or a list for a slice. O(1) per
        entry, decoding its record when it is sealed."""
        base, n = self._base[0], len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                return self.take(range(base + start, base + stop, step)) if (
                    stop - start) * step > 0 else []
            if start >= stop:
                return []
            first = base + start
            if first >= self.tail_start:
                return self.tail[first - self.tail_start : base + stop - self.tail_start]
            return self.take(range(first, base + stop))
        i = base + _position(index, n)
        if i >= self.tail_start:
            return self.tail[i - self.tail_start]
        return self.take((i,))[0]

    def __iter__(self) -> Iterator[LogEntry]:
        """The live entries in id order, decoded a chunk at a time. O(n)."""
        step = 1 << self.bits
        i, stop = self._base[0], self.tail_start
        while i < stop:
            nxt = min(stop, ((i >> self.bits) + 1) * step)
            yield from self.take(range(i, nxt))
            i = nxt
        yield from self.tail[max(0, self._base[0] - self.tail_start):]

    # -- mutation (under the engine lock) -------------------------------------------------
    def extend(self, entries: Sequence[LogEntry]) -> None:
        """Append ``entries`` (ids from :attr:`end` on); seal every chunk they fill. A
        :class:`RecordBatch` numbered from :attr:`end` against these tables gives its
        complete chunks as they are.

        Runtime complexity: O(m), the encoding in C with the accelerator."""
        if isinstance(entries, RecordBatch):
            self._extend_records(entries)
            return
        tail = self.tail
        tail.extend(entries)
        bits, done = self.bits, 0
        start = self.tail_start
        end = start + len(tail)
        while True:
            boundary = ((start >> bits) + 1) << bits
            if end < boundary:
                break
            count = boundary - start
            self._seal(tail[done : done + count], start)
            done += count
            start = boundary
        if done:
            del tail[:done]
            self.tail_start = start

    def _extend_records(self, batch: RecordBatch) -> None:
        """Adopt the batch's chunks that are complete and line up with the tail (empty, at
        the chunk's first id); build the entries of the others and append those. O(m)."""
        if batch.first != self.end or batch.tables is not self.tables or batch.bits != self.bits:
            self.extend(batch.as_list())  # numbered or encoded for another store state
            return
        full = (1 << self.bits) + 1
        start = batch.first
        for k, chunk in enumerate(batch.chunks):
            number = (batch.first >> self.bits) + k
            stop = min((number + 1) << self.bits, batch.end)
            if len(chunk[1]) == full and not self.tail and self.tail_start == start:
                if not self.chunks:
                    self.first_chunk = number
                self.chunks.append(chunk)
                self.record_bytes += _chunk_bytes(chunk)
                self.tail_start = stop
            else:
                self.extend(batch.take(range(start, stop)))
            start = stop

    def _seal(self, part: list[LogEntry], start: int) -> None:
        data, offsets, kept = native.encode_records(part, self.tables)
        skip = start & ((1 << self.bits) - 1)
        if skip:  # positions below the first id of a chunk started mid-way hold nothing
            offsets = array("I", bytes(4 * skip)) + offsets
            kept = [pos + skip for pos in kept]
        keep = {pos: part[pos - skip] for pos in kept} if kept else None
        if not self.chunks:
            self.first_chunk = start >> self.bits
        self.chunks.append((data, offsets, keep))
        self.record_bytes += _chunk_bytes(self.chunks[-1])

    def adopt(self, chunks: list[Chunk], tables: list[list[str]]) -> None:
        """Take sealed ``chunks`` (a reopened copy) into an empty sequence whose next id
        starts a chunk, with the ``tables`` (names, words, values) their codes index.
        O(strings in the tables)."""
        if self.chunks or self.tail:
            raise ValueError("records are adopted by an empty store only")
        start = max(self.tail_start, self._base[0])
        if len(tables) != 3 or not all(type(t) is list for t in tables):
            raise ValueError("three string tables expected")
        for items in tables:
            if not all(type(s) is str for s in items) or len(set(items)) != len(items):
                raise ValueError("a string table holds a non-string or a repeat")
        for data, offsets, _ in chunks:
            if len(offsets) != (1 << self.bits) + 1 or offsets[-1] != len(data):
                raise ValueError("a chunk's offsets do not match its records")
        for table, items in zip(self.tables, tables, strict=True):  # checked: now adopt
            table[1][:] = items
            table[5] = None  # the C kernels' index of the items: rebuilt from them
            table[0].clear()
            table[0].update((s, i) for i, s in enumerate(items))
        if chunks:
            self.first_chunk = start >> self.bits
            self.chunks.extend(chunks)
            self.record_bytes += sum(map(_chunk_bytes, chunks))
            self.tail_start = (self.first_chunk + len(chunks)) << self.bits
            self._counted = [0, 0, 0]
            self._table_bytes = 0

    def drop_front(self, cut: int) -> None:
        """Forget the ids below ``cut`` (eviction): whole chunks go, and tail entries. The
        caller moves the base to ``cut`` afterwards. O(chunks dropped)."""
        whole = min((cut >> self.bits) - self.first_chunk, len(self.chunks))
        if whole > 0:
            self.record_bytes -= sum(map(_chunk_bytes, self.chunks[:whole]))
            del self.chunks[:whole]
            self.first_chunk += whole
        if cut > self.tail_start:
            del self.tail[: cut - self.tail_start]
            self.tail_start = cut
            if not self.chunks:
                self.first_chunk = cut >> self.bits

    def drop_back(self, first: int) -> None:
        """Forget the ids from ``first`` on (undoing a failed append, before the store's
        instants are cut): a sealed chunk that held ``first`` becomes tail entries again.
        O(chunk size + chunks dropped)."""
        if first >= self.tail_start:
            del self.tail[first - self.tail_start :]
            return
        slot = max(0, (first >> self.bits) - self.first_chunk)
        chunk_start = max((self.first_chunk + slot) << self.bits, self._base[0])
        back = self.take(range(chunk_start, first)) if first > chunk_start else []
        self.record_bytes -= sum(map(_chunk_bytes, self.chunks[slot:]))
        del self.chunks[slot:]
        self.tail = back
        self.tail_start = chunk_start

    def rebase(self, shift: int) -> None:
        """Ids move down by ``shift`` (a multiple of the chunk size). O(1)."""
        assert shift % (1 << self.bits) == 0
        self.first_chunk -= shift >> self.bits
        self.tail_start -= shift

    def restart(self, first_id: int) -> None:
        """An empty sequence whose first id will be ``first_id``."""
        assert not self.chunks
        assert not self.tail
        self.tail_start = first_id
        self.first_chunk = first_id >> self.bits

    # -- invariants -----------------------------------------------------------------------
    def _check(self) -> None:
        """Assert the layout (tests)."""
        base = self._base[0]
        assert self.tail_start >= base or (not self.tail and not self.chunks)
        if self.chunks:
            assert (self.first_chunk + len(self.chunks)) << self.bits == self.tail_start
            assert (self.first_chunk + 1) << self.bits > base
        for data, offsets, kept in self.chunks:
            assert len(offsets) == (1 << self.bits) + 1
            assert offsets[-1] == len(data)
            assert kept is None or all(data[offsets[p]] == 0xFF for p in kept)
        assert len(self.tail) < 1 << self.bits or not self.tail
        assert self.record_bytes == sum(map(_chunk_bytes, self.chunks))


class _IdEntries(Sequence["LogEntry"]):
    """A sequence of the entries of a sequence of ids, built by :meth:`take` when read:
    ``step`` at a time while iterating. Subclasses give the ids and build them."""

    __slots__ = ()

    @abstractmethod
    def _ids_read(self) -> Sequence[int]:
        """The ids, in the order of the sequence."""

    @abstractmethod
    def _step(self) -> int:
        """Entries built at a time while iterating."""

    @abstractmethod
    def take(self, ids: Any) -> list[LogEntry]:
        """The entries of ``ids`` (some of this sequence's ids). O(k)."""

    def _one(self, index: int) -> LogEntry:
        """Position ``index`` (in range). O(1) entries built."""
        return self.take(self._ids_read()[index : index + 1])[0]

    def __len__(self) -> int:
        return len(self._ids_read())

    def as_list(self) -> list[LogEntry]:
        """Every entry, built in one C call. O(k)."""
        return self.take(self._ids_read())

    def __iter__(self) -> Iterator[LogEntry]:
        ids, step = self._ids_read(), self._step()
        for start in range(0, len(ids), step):
            yield from self.take(ids[start : start + step])

    @overload
    def __getitem__(self, index: int) -> LogEntry: ...
    @overload
    def __getitem__(self, index: slice) -> list[LogEntry]: ...

    def __getitem__(self, index: int | slice) -> LogEntry | list[LogEntry]:
        if isinstance(index, slice):
            return self.take(self._ids_read()[index])
        return self._one(_position(index, len(self)))


class Taken(_IdEntries):
    """Entries of ids chosen under the engine lock, built lazily when read (in batches),
    after it is released. It holds the sealed chunks (immutable), a copy of the tail's
    references and of the instants the ids span: appends and evictions after the lock was
    released do not change what it returns."""

    __slots__ = ("_args", "_batch", "_batch_start", "_ids")

    #: Entries built per batch while iterating.
    BATCH = 1024

    def __init__(self, source: EntryChunks, ids: array[int],
                 bounds: tuple[int, int] | None = None) -> None:
        base = source._base[0]
        lo, hi = bounds if bounds is not None else (min(ids), max(ids))
        if lo < base or hi >= source.end:
            raise IndexError("an id is not live")
        ts = source._ts[lo - base : hi - base + 1]
        tail_from = max(lo, source.tail_start)
        tail = source.tail[tail_from - source.tail_start :] if hi >= source.tail_start else []
        self._args = (list(source.chunks), source.first_chunk, source.bits, ts, lo,
                      source.tables, tail, tail_from)
        self._ids = ids
        self._batch: list[LogEntry] = []
        self._batch_start = -1

    def _ids_read(self) -> Sequence[int]:
        return self._ids

    def _step(self) -> int:
        return self.BATCH

    def take(self, ids: Any) -> list[LogEntry]:
        chunks, first, bits, ts, lo, tables, tail, tail_start = self._args
        taken: list[LogEntry] = native.take_entries(ids, chunks, first, bits, ts, lo, tables,
                                                    tail, tail_start, True)
        return taken

    def _one(self, index: int) -> LogEntry:
        start = index - index % self.BATCH
        if start != self._batch_start:  # sequential reads build one batch at a time
            self._batch = self.take(self._ids[start : start + self.BATCH])
            self._batch_start = start
        return self._batch[index - start]


class RecordBatch(_IdEntries):
    """A batch read straight into records (the accelerator's ``ingest_records``): its
    entries' records in chunks numbered from ``first`` against a store's ``tables``, and
    their instants. Read as a sequence, it builds the entries (a chunk at a time); appended
    to the store it was numbered for, its complete chunks are adopted without building any."""

    __slots__ = ("bits", "chunks", "first", "stamps", "tables")

    def __init__(self, chunks: list[Chunk], stamps: array[float], first: int,
                 tables: list[Table], bits: int) -> None:
        self.chunks = chunks
        self.stamps = stamps
        self.first = first
        self.tables = tables
        self.bits = bits

    @property
    def end(self) -> int:
        """The id after the batch's last entry."""
        return self.first + len(self.stamps)

    def _ids_read(self) -> Sequence[int]:
        return range(self.first, self.end)

    def _step(self) -> int:
        return 1 << self.bits

    def take(self, ids: Iterable[int]) -> list[LogEntry]:
        """The entries of ``ids`` (in the batch). O(k)."""
        taken: list[LogEntry] = native.take_entries(
            id_buffer(ids), self.chunks, self.first >> self.bits, self.bits, self.stamps,
            self.first, self.tables, [], self.end)
        return taken


def _position(index: int, n: int) -> int:
    """``index`` of a sequence of ``n`` (negative from the end); IndexError outside it."""
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise IndexError("entry index out of range")
    return index


def _chunk_bytes(chunk: Chunk) -> int:
    return len(chunk[0]) + 4 * len(chunk[1])
