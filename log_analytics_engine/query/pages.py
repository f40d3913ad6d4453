"""Stable cursor pagination in time order.

A cursor is an opaque URL-safe base64 string holding the sort key of the last entry a page
returned, ``(instant, id)``, the direction and a checksum of the query it belongs to. The next
page is every matching entry whose key is strictly after (or before, descending) that key, so:

* entries already returned never come back, whatever is ingested in between;
* entries ingested later with a later key (a newer instant, or the same instant: a newer
  entry gets a larger id) appear on a later page; late arrivals with an earlier key than the
  cursor are not seen by that walk (start a new one to see them);
* evicted entries simply disappear; ids are never reused, so a cursor never skips a live one.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pyroaring import BitMap

from ..errors import InvalidFilterError
from .nodes import Node, QueryContext, TimeRange, execute, page_window
from .residual import ResidualPlan

if TYPE_CHECKING:
    from ..model.entry import LogEntry

__all__ = ["Page", "decode_cursor", "encode_cursor", "fetch_page", "page_ids"]

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
    """Up to ``limit`` matching ids strictly after the key ``after`` in time order.

    Call under the engine lock. Runtime complexity: O(p + log n + w) where w is the
    number of index positions walked (about ``limit * n / k`` for k remaining hits), or
    O(p + k log k) when sorting the remaining hits is cheaper.
    """
    store = ctx.store
    ti = store.time_index
    if after is None:
        ids = execute(node, ctx)
        lo, hi = -float("inf"), float("inf")
    else:
        instant, last_id = after
        lo, hi = (-float("inf"), instant) if descending else (instant, float("inf"))
        ids = BitMap(execute(TimeRange(lo, hi) & node, ctx))
        # the boundary instant: drop what the previous pages already returned
        for i in ti.irange_key(instant, instant):
            if (i >= last_id) if descending else (i <= last_id):
                ids.discard(i)
    k = len(ids)
    if k == 0:
        return []
    span = ti.bisect_key_right(hi) - ti.bisect_key_left(lo)
    if limit * span / k < k / 4:
        out: list[int] = []
        walk = ti.irange_key(lo, hi, reverse=descending)
        for i in walk:
            if i in ids:
                out.append(i)
                if len(out) >= limit:
                    break
        return out
    # a FrozenBitMap from an index iterates like a BitMap
    return store.sorted_ids(cast(BitMap, ids), descending)[:limit]


def fetch_page(
    ctx: QueryContext, lock: Any, node: Node, page_size: int, cursor: str | None,
    descending: bool,
) -> Page:
    """The page of ``node`` after ``cursor`` (``None``: the first page), ids read under
    ``lock``, the cursor encoded outside it."""
    page_window(None, page_size)
    after = None if cursor is None else decode_cursor(cursor, descending, node)
    plan = ResidualPlan(node)
    if plan.residual is not None:  # a regex: every candidate under the lock, checked outside
        with lock:
            ids = page_ids(ctx, plan.indexed, after, descending, len(ctx.store) + 1)
            candidates = [ctx.store.get(i) for i in ids]
        kept = plan.keep(candidates, page_size + 1)
        ids = [ids[k] for k in kept]
        shown = ids[:page_size]
        entries = [candidates[k] for k in kept[:page_size]]
        last = (entries[-1].ts, shown[-1]) if shown else after
    else:
        with lock:
            ids = page_ids(ctx, node, after, descending, page_size + 1)
            shown = ids[:page_size]
            entries = [ctx.store.get(i) for i in shown]
            last = (ctx.store.instant(shown[-1]), shown[-1]) if shown else after
    next_cursor = None if last is None else encode_cursor(*last, descending, node)
    return Page(entries, next_cursor, len(ids) > page_size)
