"""Sessions: pairing start/end events per key, and session metrics.

The events are the entries a filter selects (the engine's own ``compile_filters`` and
``execute``), taken in event-time order from the store's time index (ties in ingestion order),
so out-of-order input pairs correctly. Per key (``("user_id", "feature")`` by default; values
resolved as :meth:`LogEntry.get` does, attribute first, then metadata):

* a start followed by an end is a complete :class:`Session`;
* a start followed by another start leaves the first incomplete (``"restarted"``);
* an end with no open start is incomplete (``"end without start"``);
* a start still open when the events run out is incomplete (``"no end"``).

Incomplete sessions are kept in :attr:`SessionsResult.incomplete` and excluded from every
duration figure. Events whose action is neither start nor end, or whose key has a missing
value, are counted in :attr:`SessionsResult.skipped` and otherwise ignored.

The work is one pass over the events in time order with a dict of open starts per key, then
one pass over the complete sessions per metric family: O(k) for k events after the O(k log k)
(near O(k) for mostly ordered logs) time ordering. Complete sessions are kept as columns and
only turned into :class:`Session` objects when :attr:`SessionsResult.complete` is read.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import count
from operator import attrgetter, sub
from typing import TYPE_CHECKING, Any

from ..errors import InvalidFilterError
from ..model.entry import ATTRIBUTES
from ..model.timeparse import format_instant
from ..query.nodes import execute

if TYPE_CHECKING:
    from ..model.entry import LogEntry
    from ..query.nodes import Node, QueryContext

__all__ = [
    "DEFAULT_KEY",
    "IncompleteSession",
    "Session",
    "SessionsResult",
    "build_sessions",
    "field_column",
    "format_duration",
    "session_fields",
    "sessions_result",
    "snapshot",
]

log = logging.getLogger(__name__)

DEFAULT_KEY: tuple[str, ...] = ("user_id", "feature")
RESTARTED = "restarted"
NO_END = "no end"
NO_START = "end without start"
# Attributes that fall back to metadata when None (see LogEntry.get).
_OPTIONAL_ATTRS = frozenset(("thread_id", "request_id", "user_id"))


def format_duration(seconds: float) -> str:
    """Seconds as ``"1h 5m 30s"`` (rounded to the second; leading zero units left out).

    >>> format_duration(3930), format_duration(61.4), format_duration(0), format_duration(90061)
    ('1h 5m 30s', '1m 1s', '0s', '25h 1m 1s')
    """
    total = round(seconds)
    sign = "-" if total < 0 else ""
    hours, rest = divmod(abs(total), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{sign}{minutes}m {secs}s"
    return f"{sign}{secs}s"


@dataclass(frozen=True, slots=True)
class Session:
    """A complete session: the key values, start and end instants (UTC epoch seconds)."""

    key: tuple[Any, ...]
    start: float
    end: float

    @property
    def duration(self) -> float:
        """``end - start`` in seconds."""
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"key": list(self.key), "start": format_instant(self.start),
                "end": format_instant(self.end), "duration_s": self.duration}


@dataclass(frozen=True, slots=True)
class IncompleteSession:
    """An unpaired start or end: the key, the event's instant, its action and why."""

    key: tuple[Any, ...]
    at: float
    action: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"key": list(self.key), "at": format_instant(self.at), "action": self.action,
                "reason": self.reason}


@dataclass
class SessionsResult:
    """Complete and incomplete sessions with their metrics (see :func:`build_sessions`).

    ``by_feature[f]``: ``sessions``, ``total_duration_s``, ``avg_duration_s``,
    ``min_duration_s``, ``max_duration_s``, ``unique_users``; ``by_user[u]``: ``sessions``,
    ``total_duration_s``, ``avg_duration_s``, ``features`` (sorted names),
    ``sessions_by_feature``; ``by_hour["YYYY-MM-DDTHH:00:00Z"]`` (hour of the start):
    ``sessions``, ``total_duration_s``, ``avg_duration_s``. Only complete sessions count.
    """

    key: tuple[str, ...]
    incomplete: list[IncompleteSession]
    by_feature: dict[Any, dict[str, Any]]
    by_user: dict[Any, dict[str, Any]]
    by_hour: dict[str, dict[str, Any]]
    events: int = 0
    skipped: int = 0
    _keys: list[tuple[Any, ...]] = field(default_factory=list, repr=False)
    _starts: list[float] = field(default_factory=list, repr=False)
    _ends: list[float] = field(default_factory=list, repr=False)
    _complete: list[Session] | None = field(default=None, repr=False)

    @property
    def complete(self) -> list[Session]:
        """The complete sessions in order of their end (built on first access)."""
        if self._complete is None:
            self._complete = list(map(Session, self._keys, self._starts, self._ends))
        return self._complete

    @property
    def complete_count(self) -> int:
        return len(self._keys)

    @property
    def durations(self) -> list[float]:
        """Durations of the complete sessions (seconds), in the order of :attr:`complete`."""
        return list(map(sub, self._ends, self._starts))

    def to_dict(self) -> dict[str, Any]:
        """``{"sessions": {"complete", "incomplete"}, "by_feature", "by_user", "by_hour"}``."""
        return {
            "sessions": {"complete": self.complete_count, "incomplete": len(self.incomplete)},
            "by_feature": self.by_feature,
            "by_user": self.by_user,
            "by_hour": self.by_hour,
        }


def snapshot(ctx: QueryContext, node: Node) -> tuple[list[LogEntry], list[float]]:
    """The entries ``node`` selects and their instants, in time order (ties by id).

    Call it with the engine lock held. Sorts the selected ids by instant (near O(k) in C:
    only the late arrivals need placing) and builds their entries from the records.
    """

    store = ctx.store
    order = store.sorted_ids(execute(node, ctx))
    base, ts = store.base, store.ts
    instants = list(map(ts.__getitem__, order)) if base == 0 else [ts[i - base] for i in order]
    return store.materialize(order), instants


def field_column(entries: Sequence[LogEntry], name: str) -> list[Any]:
    """``[e.get(name) for e in entries]``, computed a column at a time (same semantics)."""
    if name in _OPTIONAL_ATTRS:
        values = list(map(attrgetter(name), entries))
        if None in values:
            values = [v if v is not None else e.metadata.get(name)
                      for v, e in zip(values, entries, strict=True)]
        return values
    if name in ATTRIBUTES:
        return [e.get(name) for e in entries]
    return [e.metadata.get(name) for e in entries]


def _hashable_keys(keys: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    def fix(v: Any) -> Any:
        try:
            hash(v)
        except TypeError:
            return repr(v)
        return v

    return [tuple(fix(v) for v in k) for k in keys]


def _pair(
    keys: list[tuple[Any, ...]], actions: list[Any], start: Any, end: Any,
    check_none: bool = True,
) -> tuple[list[int], list[int], list[tuple[int, str]], int]:
    """One pass in time order: (start positions, end positions, incomplete, skipped)."""
    open_starts: dict[tuple[Any, ...], int] = {}
    starts: list[int] = []
    ends: list[int] = []
    incomplete: list[tuple[int, str]] = []
    add_start, add_end, add_inc = starts.append, ends.append, incomplete.append
    get, pop = open_starts.get, open_starts.pop
    skipped = 0
    for pos, k, action in zip(count(), keys, actions):
        if action == start:
            if check_none and None in k:
                skipped += 1
                continue
            prev = get(k)
            if prev is not None:
                add_inc((prev, RESTARTED))
            open_starts[k] = pos
        elif action == end:
            if check_none and None in k:
                skipped += 1
                continue
            prev = pop(k, None)
            if prev is None:
                add_inc((pos, NO_START))
            else:
                add_start(prev)
                add_end(pos)
        else:
            skipped += 1
    incomplete.extend((p, NO_END) for p in open_starts.values())
    incomplete.sort()
    return starts, ends, incomplete, skipped


def _stats(durations: list[float]) -> tuple[int, float, float]:
    total = math.fsum(durations)
    return len(durations), round(total, 6), round(total / len(durations), 6)


def _grouped(values: Iterable[Any], durations: Iterable[float]) -> dict[Any, list[float]]:
    groups: defaultdict[Any, list[float]] = defaultdict(list)
    for v, d in zip(values, durations, strict=True):
        groups[v].append(d)
    return groups


def _order(value: Any) -> tuple[bool, str, str]:
    return (value is None, type(value).__name__, str(value))


def _sorted(values: Iterable[Any]) -> list[Any]:
    """Group names in order: natural order when comparable, else by type and text."""
    items = list(values)
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=_order)


def build_sessions(
    entries: Sequence[LogEntry],
    stamps: Sequence[float],
    key: str | Sequence[str] = DEFAULT_KEY,
    action_field: str = "action",
    start: Any = "start",
    end: Any = "end",
    *,
    user_field: str = "user_id",
    feature_field: str = "feature",
) -> SessionsResult:
    """Pair ``entries`` (in time order, with their instants) into sessions with metrics.

    ``user_field`` and ``feature_field`` name the fields of the by-user and by-feature
    metrics (taken from the key when it holds them, else from the start event).
    Runtime complexity: O(k) for k events, plus O(s log s) to order s incomplete sessions.
    """
    fields = session_fields(key, action_field, start, end)
    columns = [field_column(entries, f) for f in fields]
    keys = list(zip(*columns, strict=True))
    actions = field_column(entries, action_field)
    missing = any(None in column for column in columns)  # C-level scans
    try:
        s_pos, e_pos, inc, skipped = _pair(keys, actions, start, end, missing)
    except TypeError:  # an unhashable key value (a list or a dict): compare by its repr
        keys = _hashable_keys(keys)
        s_pos, e_pos, inc, skipped = _pair(keys, actions, start, end, missing)
    s_keys = list(map(keys.__getitem__, s_pos))
    starts = list(map(stamps.__getitem__, s_pos))
    ends = list(map(stamps.__getitem__, e_pos))
    incomplete = [IncompleteSession(keys[p], stamps[p], actions[p], why) for p, why in inc]

    def metric_values(name: str) -> list[Any]:
        if name in fields:
            i = fields.index(name)
            return [k[i] for k in s_keys]
        return field_column([entries[p] for p in s_pos], name)

    if fields == (user_field, feature_field):
        pairs = s_keys
    else:
        pairs = list(zip(metric_values(user_field), metric_values(feature_field), strict=True))
    return sessions_result(fields, s_keys, starts, ends, pairs, incomplete, len(keys), skipped)


def session_fields(key: str | Sequence[str], action_field: str, start: Any,
                   end: Any) -> tuple[str, ...]:
    """The key's field names, once the arguments of a sessions query are checked
    (:class:`InvalidFilterError` otherwise)."""
    fields = (key,) if isinstance(key, str) else tuple(key)
    if not fields or not all(isinstance(f, str) and f for f in fields):
        raise InvalidFilterError("key", key, "expected one or more field names")
    if not isinstance(action_field, str) or not action_field:
        raise InvalidFilterError("action_field", action_field, "expected a field name")
    if start == end:
        raise InvalidFilterError("end", end, "start and end actions must differ")
    return fields


def sessions_result(
    fields: tuple[str, ...], s_keys: list[tuple[Any, ...]], starts: list[float],
    ends: list[float], pairs: list[tuple[Any, Any]], incomplete: list[IncompleteSession],
    events: int, skipped: int,
) -> SessionsResult:
    """The metrics of paired sessions: ``s_keys``, ``starts`` and ``ends`` of the complete
    sessions in order of their end, the (user, feature) ``pairs`` of each, the incomplete
    sessions in time order. Whoever pairs the events (this module, or an archive executor's
    window functions) hands them here, so the figures are computed one way. O(s log s) for
    s sessions."""
    durations = list(map(sub, ends, starts))
    try:
        per_pair = _grouped(pairs, durations)
    except TypeError:  # an unhashable user or feature value taken from the start events
        per_pair = _grouped(_hashable_keys(pairs), durations)
    result = SessionsResult(
        key=fields,
        incomplete=incomplete,
        by_feature=_by_feature(per_pair),
        by_user=_by_user(per_pair),
        by_hour=_by_hour(starts, durations),
        events=events,
        skipped=skipped,
        _keys=s_keys,
        _starts=starts,
        _ends=ends,
    )
    log.debug("sessions: %d events, %d complete, %d incomplete", events, len(s_keys),
              len(incomplete))
    return result


def _by_feature(per_pair: dict[Any, list[float]]) -> dict[Any, dict[str, Any]]:
    """Roll the per-(user, feature) durations up to features: O(p) for p pairs."""
    acc: dict[Any, list[Any]] = {}
    for (_user, feature), ds in per_pair.items():
        a = acc.get(feature)
        lo, hi = min(ds), max(ds)
        if a is None:
            acc[feature] = [len(ds), [sum(ds)], lo, hi, 1]
        else:
            a[0] += len(ds)
            a[1].append(sum(ds))
            if lo < a[2]:
                a[2] = lo
            if hi > a[3]:
                a[3] = hi
            a[4] += 1
    out: dict[Any, dict[str, Any]] = {}
    for feature in _sorted(acc):
        n, totals, lo, hi, users = acc[feature]
        total = math.fsum(totals)
        out[feature] = {"sessions": n, "total_duration_s": round(total, 6),
                        "avg_duration_s": round(total / n, 6),
                        "min_duration_s": round(lo, 6), "max_duration_s": round(hi, 6),
                        "unique_users": users}
    return out


def _by_user(per_pair: dict[Any, list[float]]) -> dict[Any, dict[str, Any]]:
    """Roll the per-(user, feature) durations up to users: O(p log p) for p pairs."""
    acc: dict[Any, dict[Any, list[float]]] = defaultdict(dict)
    for (user, feature), ds in per_pair.items():
        acc[user][feature] = ds
    out: dict[Any, dict[str, Any]] = {}
    fsum = math.fsum
    for user in _sorted(acc):
        by_feature = acc[user]
        names = _sorted(by_feature) if len(by_feature) > 1 else list(by_feature)
        n = 0
        totals = []
        counts = {}
        for name in names:
            ds = by_feature[name]
            n += len(ds)
            counts[name] = len(ds)
            totals.append(sum(ds))
        total = fsum(totals)
        out[user] = {"sessions": n, "total_duration_s": round(total, 6),
                     "avg_duration_s": round(total / n, 6),
                     "features": names, "sessions_by_feature": counts}
    return out


def _by_hour(starts: list[float], durations: list[float]) -> dict[str, dict[str, Any]]:
    groups = _grouped((math.floor(s / 3600.0) for s in starts), durations)
    out: dict[str, dict[str, Any]] = {}
    for hour in sorted(groups):
        n, total, avg = _stats(groups[hour])
        out[format_instant(hour * 3600.0)] = {"sessions": n, "total_duration_s": total,
                                              "avg_duration_s": avg}
    return out
