"""Two-phase execution: the indexed part of a query under the engine lock, the residual checks
(regular expressions) outside it.

A query tree is split into ``indexed & residual``. Under the lock the engine takes the indexed
part's candidates, as references to entries (entries are immutable, so the references stay
true after the lock is released); the residual check then runs on them without the lock,
checking a :class:`Deadline` between entries. Queries without a regex take exactly the
one-phase path they always took.

>>> from log_analytics_engine.query.nodes import compile_filters
>>> plan = ResidualPlan(compile_filters({"level": "ERROR", "regex": "time.ut"}))
>>> type(plan.indexed).__name__, type(plan.residual).__name__
('IndexTerm', 'Regex')
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pyroaring import BitMap

from ..errors import QueryTimeoutError
from ..index.chunks import Taken
from .nodes import (
    And,
    Bits,
    IndexTerm,
    MatchAll,
    Node,
    Not,
    Or,
    QueryContext,
    Regex,
    TimeRange,
    execute,
)
from .order import order_entries

if TYPE_CHECKING:
    from ..model.entry import LogEntry

__all__ = ["Deadline", "ResidualPlan", "deadline_of", "has_residual"]

#: Leaves that never hold a regex.
_PLAIN_LEAVES = frozenset((IndexTerm, MatchAll, TimeRange))

#: Entries checked between two looks at the deadline.
_STRIDE = 8


def has_residual(node: Node) -> bool:
    """Whether ``node`` holds a check that must run outside the lock (a regex)."""
    if type(node) in _PLAIN_LEAVES:  # the common single-term query, without isinstance walks
        return False
    if isinstance(node, Regex):
        return True
    if isinstance(node, (And, Or)):
        return any(has_residual(c) for c in node.children)
    if isinstance(node, Not):
        return has_residual(node.child)
    return False


class Deadline:
    """When a query must give up: ``timeout`` seconds from now and/or a ``cancel`` event (set
    by a server whose client went away). ``check()`` raises :class:`QueryTimeoutError`."""

    __slots__ = ("cancel", "timeout", "until")

    def __init__(self, timeout: float | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.timeout = timeout
        self.until = None if timeout is None else time.monotonic() + timeout
        self.cancel = cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise QueryTimeoutError("the query was cancelled (its client went away)")
        if self.until is not None and time.monotonic() > self.until:
            raise QueryTimeoutError(f"the query took longer than {self.timeout:g} s")


_NO_DEADLINE = Deadline()


def deadline_of(timeout: float | Deadline | None) -> Deadline:
    """A :class:`Deadline` from seconds (or one given as it is; ``None``: never)."""
    if isinstance(timeout, Deadline):
        return timeout
    return _NO_DEADLINE if timeout is None else Deadline(timeout)


class ResidualPlan:
    """A query split into ``indexed`` (run under the lock) and ``residual`` (``None`` when
    there is nothing to run outside it)."""

    __slots__ = ("deadline", "indexed", "node", "residual")

    def __init__(self, node: Node, deadline: Deadline | None = None) -> None:
        self.deadline = deadline or _NO_DEADLINE
        self.node = node
        self.indexed: Node = node
        self.residual: Node | None = None
        if not has_residual(node):
            return
        if isinstance(node, And):
            kept = [c for c in node.children if not has_residual(c)]
            checks = [c for c in node.children if has_residual(c)]
            self.indexed = (MatchAll() if not kept else kept[0] if len(kept) == 1
                            else And(tuple(kept)))
            self.residual = checks[0] if len(checks) == 1 else And(tuple(checks))
        else:
            self.indexed, self.residual = MatchAll(), node

    # -- under the lock -------------------------------------------------------------------
    def entries(self, ctx: QueryContext, sort_by: str | None, descending: bool, offset: int,
                limit: int | None) -> Sequence[LogEntry]:
        """The page itself without a residual, else every candidate in result order
        (built after the lock when many: ``Store.take_later``)."""
        ids = execute(self.indexed, ctx)
        if self.residual is None:
            return order_entries(ctx, ids, sort_by, descending, offset, limit)
        return order_entries(ctx, ids, sort_by, descending, 0, None)

    def count(self, ctx: QueryContext) -> int | Sequence[LogEntry]:
        """The count without a residual, else the candidates (in id order)."""
        ids = execute(self.indexed, ctx)
        if self.residual is None:
            return len(ids)
        return ctx.store.take_later(ids)

    def candidates(self, ctx: QueryContext) -> Bits | tuple[list[int], Sequence[LogEntry]]:
        """The ids without a residual, else the candidate ids and their entries (id order)."""
        ids = execute(self.indexed, ctx)
        if self.residual is None:
            return ids
        return list(ids), ctx.store.take_later(ids)

    # -- outside the lock -----------------------------------------------------------------
    def keep(self, entries: Sequence[LogEntry], stop_after: int | None = None) -> list[int]:
        """Positions in ``entries`` that pass the residual check (the first ``stop_after``)."""
        assert self.residual is not None
        match, check = self.residual.match, self.deadline.check
        kept: list[int] = []
        for k, e in enumerate(entries):
            if not k % _STRIDE:
                check()
            if match(e):
                kept.append(k)
                if stop_after is not None and len(kept) >= stop_after:
                    break
        return kept

    def finish_entries(self, found: Sequence[LogEntry], offset: int,
                       limit: int | None) -> list[LogEntry]:
        """The page of :meth:`entries` after the residual check. O(k) checks at most; stops
        once the page is full."""
        if self.residual is None:
            if type(found) is list:
                return found
            return found.as_list() if isinstance(found, Taken) else list(found)
        kept = self.keep(found, None if limit is None else offset + limit)
        hits = [found[k] for k in kept]
        return hits[offset:] if limit is None else hits[offset:offset + limit]

    def finish_count(self, found: int | Sequence[LogEntry]) -> int:
        """The count of :meth:`count` after the residual check."""
        if isinstance(found, int):
            return found
        return len(self.keep(found))

    def finish_ids(self, found: Bits | tuple[list[int], Sequence[LogEntry]]) -> Bits:
        """The ids of :meth:`candidates` that pass the residual check."""
        if not isinstance(found, tuple):
            return found
        ids, entries = found
        return BitMap([ids[k] for k in self.keep(entries)])
