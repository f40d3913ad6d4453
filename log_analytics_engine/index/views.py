"""Live, read-only views of stored entries: all of them, or those of one level."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, overload

from pyroaring import BitMap, FrozenBitMap

from ..model.entry import LEVELS, normalize_level
from .postings import IndexSet
from .store import Store

if TYPE_CHECKING:
    from ..model.entry import LogEntry

__all__ = ["EntriesView", "LevelIndexView"]


class EntriesView(Sequence["LogEntry"]):
    """A read-only, live view of entries by a list of ids or a bitmap (no copy). Entries are
    built from their records when read; iterating takes a snapshot of the ids (under
    ``lock`` when given) and builds the entries a batch at a time after it."""

    __slots__ = ("_ids", "_lock", "_store")

    def __init__(self, store: Store, ids: BitMap | FrozenBitMap | None = None,
                 lock: AbstractContextManager[Any] | None = None) -> None:
        self._store = store
        self._ids = ids
        self._lock = lock if lock is not None else nullcontext()

    def __len__(self) -> int:
        if self._ids is None:
            return len(self._store.entries)
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> LogEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[LogEntry]: ...

    def __getitem__(self, index: int | slice) -> LogEntry | list[LogEntry]:
        with self._lock:
            if self._ids is None:
                return self._store.entries[index]
            if isinstance(index, slice):
                return self._store.materialize(list(self._ids)[index])
            n = len(self._ids)
            if index < 0:
                index += n
            if not 0 <= index < n:
                raise IndexError("index out of range")
            return self._store.get(self._ids[index])

    def __iter__(self) -> Iterator[LogEntry]:
        """The entries live now, in id order. O(k), built after the lock is released."""
        with self._lock:
            store = self._store
            ids = store.live if self._ids is None else store.live & self._ids
            taken = store.take_later(ids) if ids else []
        return iter(taken)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self)} entries>"


class LevelIndexView(Mapping[str, EntriesView]):
    """``engine.level_index[level]``: entries of a level in ingestion order (live, no copy)."""

    def __init__(self, store: Store, indexes: IndexSet, lock: threading.RLock) -> None:
        self._store = store
        self._indexes = indexes
        self._lock = lock

    def __getitem__(self, level: str) -> EntriesView:
        try:
            canonical = normalize_level(level)
        except ValueError:
            raise KeyError(level) from None
        with self._lock:
            posting = self._indexes.level.get(canonical)
            if not posting:  # give the level its own posting list so the view stays live
                self._indexes.level.add_batch({canonical: []})
                posting = self._indexes.level.get(canonical)
        return EntriesView(self._store, posting, self._lock)

    def __iter__(self) -> Iterator[str]:
        return iter([lv for lv in LEVELS if self._indexes.level.count(lv)])

    def __len__(self) -> int:
        return sum(1 for _ in self)
