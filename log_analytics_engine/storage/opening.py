"""Opening the durable copy: load it, or (with ``salvage=True``) rebuild a damaged file from
its readable chunks first and say what was lost."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import StorageCorruptError
from ..model.entry import LogEntry
from .integrity import SalvageReport
from .integrity import salvage as _salvage
from .loading import decode_chunk
from .sqlite import Storage, encode_entries

if TYPE_CHECKING:
    from ..index.postings import IndexSet
    from ..index.store import Store

__all__ = ["open_storage", "salvage"]


def _decode(first: int, last: int, stamps: bytes, data: bytes) -> list[LogEntry]:
    return decode_chunk(first, last, stamps, data, 0, {})


def _write(path: str, entries: Sequence[LogEntry], history: list[bytes],
           state: bytes | None) -> None:
    storage = Storage(path, durability="sync")
    try:
        if entries:
            storage.write(0, encode_entries(entries))
        if history:
            storage.append_alert_history(history)
        if state is not None:
            storage.save_alert_state(state)
        storage.flush()
    finally:
        storage.close()


def salvage(path: str | os.PathLike[str]) -> SalvageReport:
    """Rebuild a damaged storage file from its readable chunks, in place (the damaged file is
    kept beside it); returns what was recovered and lost. Ids are renumbered from 0.

    Runtime complexity: O(size of the file)."""
    return _salvage(path, _decode, _write)


def open_storage(
    path: str | os.PathLike[str], store: Store, indexes: IndexSet,
    tokenize: Callable[[list[str]], list[list[str]]], *, salvage: bool = False,
    **options: Any,
) -> tuple[Storage, SalvageReport | None]:
    """Open ``path`` and load it into the empty ``store`` and ``indexes``.

    A damaged file raises :class:`~log_analytics_engine.errors.StorageCorruptError`, or with
    ``salvage=True`` is rebuilt by :func:`salvage` and opened; the report says what was lost.
    """
    report = None
    while True:
        storage = None
        try:
            storage = Storage(path, **options)
            storage.load(store, indexes, tokenize)
            return storage, report
        except StorageCorruptError:
            if storage is not None:
                storage.close()
            if not salvage or report is not None:
                raise
            indexes.clear()
            store.reset()  # loading appends batch by batch: drop what it appended
            report = _salvage(path, _decode, _write)
        except BaseException:
            if storage is not None:
                storage.close()
            raise
