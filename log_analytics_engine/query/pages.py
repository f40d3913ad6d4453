"""Stable cursor pagination in time order.

A cursor is an opaque URL-safe base64 string holding the sort key of the last entry a page
returned, ``(instant, id)``, the direction and a checksum of the query it belongs to. The next
page is every matching entry whose key is strictly after (or before, descending) that key, so:

* entries already returned never come back, whatever is ingested in between;
* entries ingested later with a later key (a newer instant, or the same instant: a newer
  entry gets a larger id) appear on a later page; late arrivals with an earlier key than the
  cursor are not seen by that walk (start a new one to see them);
* evicted entries simply disappear; ids are never reused, so a cursor never skips a live one.

The id in a cursor is the entry's public id (``Store.epoch`` + its internal id, 64 bits), so a
cursor stays valid across a rebase of the internal ids and across a reopen from storage.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from pyroaring import BitMap

from ..errors import InvalidFilterError
from .nodes import Node, QueryContext, TimeRange, execute
from .order import page_window
from .residual import ResidualPlan

if TYPE_CHECKING:
    from ..model.entry import LogEntry

__all__ = ["Page", "PageSnapshot", "finish_page", "page_ids", "start_page", "take_page"]

_FORMAT = struct.Struct(">BBdQI")  # version, descending, instant, id, query checksum
_VERSION = 1


@dataclass(frozen=True)
class Page:
    """One page of a cursor walk.

    ``next_cursor`` resumes after the last entry (``None`` only when nothing was returned and
    no cursor was given); ``has_more`` says whether more entries matched when it was taken.
    """

    entries: list[LogEntry]
    next_cursor: str | None
    has_more: bool


def _checksum(node: Node) -> int:
    return zlib.crc32(repr(node).encode())


def encode_cursor(instant: float, entry_id: int, descending: bool, node: Node) -> str:
    """The opaque cursor for a walk positioned after ``(instant, entry_id)``."""
    raw = _FORMAT.pack(_VERSION, descending, instant, entry_id, _checksum(node))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, descending: bool, node: Node) -> tuple[float, int]:
    """``(instant, id)`` of a cursor; ``InvalidFilterError`` if it is malformed or was issued
    for another query or direction."""
    if not isinstance(cursor, str):
        raise InvalidFilterError("cursor", cursor, "expected a cursor string")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, desc, instant, entry_id, check = _FORMAT.unpack(raw)
    except (binascii.Error, struct.error, ValueError):
        raise InvalidFilterError("cursor", cursor, "not a cursor returned by query_page") from None
    if version != _VERSION:
        raise InvalidFilterError("cursor", cursor, "cursor from another version")
    if bool(desc) != descending:
        raise InvalidFilterError("cursor", cursor, "cursor was issued for the other sort order")
    if check != _checksum(node):
        raise InvalidFilterError("cursor", cursor, "cursor was issued for a different query")
    return instant, entry_id


def page_ids(
    ctx: QueryContext, node: Node, after: tuple[float, int] | None, descending: bool, limit: int
) -> list[int]:
    """Up to ``limit`` matching ids strictly after the key ``after`` in time order
    (``after`` holds a public id; the ids returned are internal).

    Call under the engine lock. Runtime complexity: O(p + limit + m log m) for posting lists
    of size p and m late arrivals among the hits (in-order hits are in time order by id:
    only the first ``limit`` of them are placed, ``Store.sorted_ids``).
    """
    store = ctx.store
    ti = store.time_index
    if after is None:
        ids = execute(node, ctx)
        lo, hi = -float("inf"), float("inf")
    else:
        instant, public_id = after
        last_id = public_id - store.epoch  # below 0: evicted before a rebase, drops nothing
        lo, hi = (-float("inf"), instant) if descending else (instant, float("inf"))
        ids = BitMap(execute(TimeRange(lo, hi) & node, ctx))
        # the boundary instant: drop what the previous pages already returned
        for i in ti.irange_key(instant, instant):
            if (i >= last_id) if descending else (i <= last_id):
                ids.discard(i)
    if not ids:
        return []
    # a FrozenBitMap from an index iterates like a BitMap
    return store.sorted_ids(cast(BitMap, ids), descending, limit)


#: What :func:`take_page` copies under the lock: public ids and their entries in page order.
PageSnapshot = tuple[list[int], Sequence["LogEntry"]]


def start_page(cursor: str | None, page_size: int, descending: bool,
               node: Node) -> tuple[float, int] | None:
    """Validate ``page_size`` and decode ``cursor`` (``None``: the first page), before the
    lock is taken."""
    page_window(None, page_size)
    return None if cursor is None else decode_cursor(cursor, descending, node)


def take_page(ctx: QueryContext, plan: ResidualPlan, after: tuple[float, int] | None,
              descending: bool, page_size: int) -> PageSnapshot:
    """The page after the key ``after`` (one more to tell whether more follow); with a
    residual check (a regex), every remaining candidate, checked by :func:`finish_page`.
    Call under the engine lock."""
    limit = page_size + 1 if plan.residual is None else len(ctx.store) + 1
    ids = page_ids(ctx, plan.indexed, after, descending, limit)
    epoch = ctx.store.epoch
    return [i + epoch for i in ids], ctx.store.take_later(ids)


def finish_page(taken: PageSnapshot, plan: ResidualPlan, after: tuple[float, int] | None,
                descending: bool, page_size: int) -> Page:
    """The :class:`Page` of a snapshot: the residual check and the cursor, outside the lock."""
    ids, entries = taken
    if plan.residual is not None:
        kept = plan.keep(entries, page_size + 1)
        ids, entries = [ids[k] for k in kept], [entries[k] for k in kept]
    shown = ids[:page_size]
    last: tuple[float, int] | None = (entries[len(shown) - 1].ts, shown[-1]) if shown else after
    next_cursor = None if last is None else encode_cursor(*last, descending, plan.node)
    return Page(list(entries[:page_size]), next_cursor, len(ids) > page_size)
