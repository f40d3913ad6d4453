"""Result order and pages: time order by the time order kernel, other keys by sorting."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidFilterError
from ..model.entry import SEVERITY
from .nodes import Bits, QueryContext

if TYPE_CHECKING:
    from ..model.entry import LogEntry

__all__ = ["TIME_KEYS", "order_entries", "order_entry_list", "order_ids", "page_window"]


def _sort_value(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, str(value))


TIME_KEYS = frozenset(("timestamp", "time", "ts", "@timestamp"))


def order_entries(
    ctx: QueryContext, ids: Bits, sort_by: str | None, descending: bool, offset: int,
    limit: int | None,
) -> Sequence[LogEntry]:
    """The entries of ``ids`` in result order, ``limit`` of them from position ``offset``
    (see :func:`order_ids`; built after the lock when many: ``Store.take_later``)."""
    store = ctx.store
    wanted = None if limit is None else offset + limit
    if sort_by is None or sort_by in TIME_KEYS:
        return store.sorted_entries(ids, descending, offset, limit)
    ordered = order_ids(ctx, ids, sort_by, descending, wanted)
    return store.take_later(ordered[offset:] if offset else ordered)


def order_ids(
    ctx: QueryContext, ids: Bits, sort_by: str | None, descending: bool, limit: int | None
) -> list[int]:
    """``ids`` in result order; only the first ``limit`` when given.

    Time order comes from the time order kernel (only the first ``limit`` rows placed).
    """
    store = ctx.store
    if sort_by is None or sort_by in TIME_KEYS:
        return store.sorted_ids(ids, descending, limit)
    ordered = store.sorted_ids(ids)
    get = store.get
    if sort_by in ("level", "severity", "severity_score"):
        ordered.sort(key=lambda i: SEVERITY[get(i).level])
        if descending:  # the exact reverse of the ascending order, ties included
            ordered.reverse()
        return ordered if limit is None else ordered[:limit]
    present: list[tuple[int, tuple[int, Any]]] = []
    missing: list[tuple[int, tuple[int, Any]]] = []
    for i in ordered:
        value = get(i).get(sort_by)
        (missing if value is None else present).append((i, _sort_value(value)))
    present.sort(key=lambda p: p[1])
    if descending:  # the exact reverse of the ascending order, ties included
        present.reverse()
        missing.reverse()
    result = [i for i, _ in present] + [i for i, _ in missing]
    return result if limit is None else result[:limit]


def order_entry_list(entries: list[LogEntry], sort_by: str | None,
                     descending: bool) -> list[LogEntry]:
    """Entries already in time order (ties in ingestion order), ordered as :func:`order_ids`
    orders ids: by ``sort_by`` (stable), descending the exact reverse. O(k log k).

    For executors that hold entries rather than ids (the archive, merged answers)."""
    if sort_by is None or sort_by in TIME_KEYS:
        return entries[::-1] if descending else list(entries)
    if sort_by in ("level", "severity", "severity_score"):
        ordered = sorted(entries, key=lambda e: SEVERITY[e.level])
        if descending:
            ordered.reverse()
        return ordered
    present: list[tuple[LogEntry, tuple[int, Any]]] = []
    missing: list[LogEntry] = []
    for e in entries:
        value = e.get(sort_by)
        if value is None:
            missing.append(e)
        else:
            present.append((e, _sort_value(value)))
    present.sort(key=lambda p: p[1])
    if descending:
        present.reverse()
        missing.reverse()
    return [e for e, _ in present] + missing


def page_window(page: int | None, page_size: int | None) -> tuple[int, int | None]:
    """``(offset, limit)`` of a page counted from 0 (``page=0`` is the first, as in the
    original API); validates both numbers (``page >= 0``, ``page_size >= 1``).

    >>> page_window(0, 50), page_window(2, 50), page_window(None, None)
    ((0, 50), (100, 50), (0, None))
    """
    for key, value, low in (("page", page, 0), ("page_size", page_size, 1)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < low
        ):
            raise InvalidFilterError(key, value, f"expected a whole number >= {low}")
    if page is None and page_size is None:
        return 0, None
    size = page_size if page_size is not None else 100
    return (page or 0) * size, size
