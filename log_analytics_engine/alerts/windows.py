"""Event-time evaluation of one rule: window counters per group and cooldowns.

Every rule kind keeps, per group value, only what its windows need (``threshold`` and
``spike`` here, ``absence`` and ``new_term`` in :mod:`.kinds`):

* ``threshold`` and ``spike``: the sorted event times of the group's matches (with the
  entries, for samples) back to ``late_horizon + time_window`` (``+ 2 * time_window`` for
  spikes) behind the group's newest match, and the sorted ``triggered_at`` values for the
  cooldown. An in-order match is an append and a pointer advance: O(1) amortised. A late
  match is inserted by bisection and the windows that contain it are scanned left to right:
  O(log n + k) for the k matches near it.
* ``absence``: the last ``max(threshold, 5)`` match times and a deadline, the event time at
  which the window would hold fewer than ``threshold`` matches; the manager checks
  deadlines as event time advances.
* ``new_term``: the set of values seen.

All of it is plain data that :meth:`RuleRuntime.state_to_dict` saves and
:meth:`RuleRuntime.load_state` restores.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Hashable
from itertools import pairwise
from typing import Any

from ..model.entry import LogEntry
from ..model.timeparse import format_instant, to_datetime
from ..query.nodes import Node
from .model import Alert, AlertRule

__all__ = ["RuleRuntime", "WindowRuntime", "hashable"]

_INF = float("inf")
_COMPACT_AT = 1024
_SAMPLES = 5


def hashable(value: Any) -> Hashable:
    """A dict key for a group or term value (lists become tuples, dicts sorted tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), hashable(v)) for k, v in value.items()))
    if isinstance(value, set):
        return tuple(sorted(map(str, value)))
    return value  # type: ignore[no-any-return]


def _iso(instant: float) -> str:
    return format_instant(instant)


def _cool(fired: list[float], e: float, cooldown: float) -> bool:
    """Whether ``e`` is at least ``cooldown`` away from every earlier ``triggered_at``."""
    if not cooldown or not fired:
        return True
    last = fired[-1]
    if e >= last:
        return e - last >= cooldown
    k = bisect_left(fired, e)
    if fired[k] - e < cooldown:
        return False
    return k == 0 or e - fired[k - 1] >= cooldown


def _cooling(fired: list[float], lo: float, hi: float, cooldown: float) -> bool:
    """Whether every instant of ``[lo, hi)`` is closer than ``cooldown`` to one alert."""
    if not cooldown or not fired:
        return False
    k = bisect_left(fired, lo)
    return any(f - cooldown < lo and hi <= f + cooldown for f in fired[max(k - 1, 0):k + 1])


class RuleRuntime:
    """The evaluation state of one rule (all groups); guarded by the engine lock."""

    __slots__ = ("cooldown", "group_by", "groups", "horizon", "kind", "residual", "rule",
                 "seq", "start", "threshold", "too_late", "window")

    def __init__(self, rule: AlertRule, seq: int, residual: Node | None, horizon: float) -> None:
        self.rule = rule
        self.seq = seq
        self.residual = residual
        self.kind = rule.kind
        self.window = float(rule.time_window)
        self.threshold = rule.threshold
        self.cooldown = float(rule.cooldown)
        self.group_by = rule.group_by
        self.horizon = horizon
        self.groups: dict[Hashable, Any] = {}
        self.start: float | None = None
        self.too_late = 0

    def begin(self, t: float) -> None:
        """Start observing at event time ``t`` (the first entry seen after the rule was added)."""
        self.start = t

    def on_match(self, entry: LogEntry) -> Alert | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _group_key(self, entry: LogEntry) -> tuple[Hashable, Any]:
        value = entry.get(self.group_by) if self.group_by else None
        if value is None or type(value) is str:
            return value, value
        try:
            hash(value)
            return value, value
        except TypeError:
            return hashable(value), value

    def _alert(self, e: float, count: int, samples: list[LogEntry], value: Any, message: str,
               extra: dict[str, Any] | None = None) -> Alert:
        rule = self.rule
        meta: dict[str, Any] = {"kind": self.kind, "window_start": _iso(e - self.window),
                                "window_end": _iso(e), "threshold": self.threshold}
        if self.group_by:
            meta[self.group_by] = value
            message += f" for {self.group_by}={value}"
        if extra:
            meta.update(extra)
        if rule.last_triggered is None or e > rule.last_triggered:
            rule.last_triggered = e
        return Alert(rule.name, message, rule.severity, to_datetime(e), count, samples, meta)

    def _check(self) -> None:
        """Assert the invariants of the state (tests call it)."""
        for g in self.groups.values():
            self._check_group(g)

    def _check_group(self, g: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- state ----------------------------------------------------------------------------
    def state_to_dict(self) -> dict[str, Any]:
        """The remembered state as JSON-ready data."""
        return {"rule": self.rule.name, "kind": self.kind, "start": self.start,
                "too_late": self.too_late,
                "groups": [self._group_to_dict(g) for g in self.groups.values()]}

    def load_state(self, data: dict[str, Any]) -> None:
        """Replace the state with one saved by :meth:`state_to_dict` for the same kind."""
        if data.get("kind") != self.kind:
            raise ValueError(f"state of a {data.get('kind')!r} rule, not {self.kind!r}")
        self.start = data.get("start")
        self.too_late = int(data.get("too_late", 0))
        self.groups = {}
        for gd in data.get("groups", []):
            g = self._group_from_dict(gd)
            self.groups[hashable(g.value)] = g

    def _group_to_dict(self, g: Any) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _group_from_dict(self, data: dict[str, Any]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class _Series:
    """Sorted match times of one group (``ts[head:]`` live) with their entries."""

    __slots__ = ("cool_until", "ents", "fired", "head", "ts", "value", "ws", "ws2")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.ts: list[float] = []
        self.ents: list[LogEntry] = []
        self.head = 0  # ts[:head] is beyond the horizon (dropped at the next compaction)
        self.ws = 0  # first index with ts > newest - window
        self.ws2 = 0  # first index with ts > newest - 2 * window (spikes)
        self.fired: list[float] = []  # sorted triggered_at values (cooldown)
        self.cool_until = -_INF  # newest triggered_at + cooldown


class WindowRuntime(RuleRuntime):
    """``threshold`` and ``spike`` rules: sliding event-time windows."""

    __slots__ = ("keep", "ratio", "single", "spike")

    def __init__(self, rule: AlertRule, seq: int, residual: Node | None, horizon: float) -> None:
        super().__init__(rule, seq, residual, horizon)
        self.single: _Series | None = None  # the only group of a rule without group_by
        self.spike = rule.kind == "spike"
        self.ratio = float(rule.spike_ratio)
        self.keep = horizon + self.window * (2 if self.spike else 1)

    def on_match(self, entry: LogEntry) -> Alert | None:
        """Record a match and return the alert it completes, if any. O(1) amortised in order."""
        g = self.single
        if g is None:
            key, value = self._group_key(entry)
            g = self.groups.get(key)
            if g is None:
                g = self.groups[key] = _Series(value)
                if not self.group_by:
                    self.single = g
        t = entry.ts
        ts = g.ts
        if ts and t < ts[-1]:
            return self._late(g, entry, t)
        ts.append(t)
        g.ents.append(entry)
        n = len(ts)
        if not n & 63:  # trim every 64 appends: O(1) amortised
            self._trim(g, t)
            n = len(ts)
        if t < g.cool_until:
            return None  # inside the cooldown of the newest alert (pointers catch up later)
        w = self.window
        ws = g.ws if g.ws > g.head else g.head
        lim = t - w
        while ts[ws] <= lim:
            ws += 1
        g.ws = ws
        count = n - ws
        if count < self.threshold:
            return None
        prev = 0
        if self.spike:
            ws2 = g.ws2 if g.ws2 > g.head else g.head
            lim = t - 2 * w
            while ts[ws2] <= lim:
                ws2 += 1
            g.ws2 = ws2
            prev = ws - ws2
            if not self._spiking(t, count, prev):
                return None
        return self._fire(g, t, count, prev, ws, n, late=False)

    def _trim(self, g: _Series, newest: float) -> None:
        ts = g.ts
        bound = newest - self.keep
        h = g.head
        while ts[h] <= bound:
            h += 1
        g.head = h
        if h >= _COMPACT_AT and 2 * h > len(ts):
            del ts[:h]
            del g.ents[:h]
            g.ws = max(g.ws - h, 0)
            g.ws2 = max(g.ws2 - h, 0)
            g.head = 0
        fired = g.fired
        if len(fired) > 64:
            del fired[: bisect_left(fired, bound - self.cooldown)]

    def _spiking(self, e: float, count: int, prev: int) -> bool:
        start = self.start if self.start is not None else -_INF
        return e - 2 * self.window >= start and count >= self.ratio * prev

    def _late(self, g: _Series, entry: LogEntry, t: float) -> Alert | None:
        ts = g.ts
        newest = ts[-1]
        if t <= newest - self.keep:
            self.too_late += 1
            return None  # older than any window the state can still evaluate
        w = self.window
        i = bisect_right(ts, t, g.head)
        ts.insert(i, t)
        g.ents.insert(i, entry)
        if t <= newest - w:
            g.ws += 1
        if t <= newest - 2 * w:
            g.ws2 += 1
        if t < newest - self.horizon:
            self.too_late += 1
            return None  # counted in later windows, but too late to fire itself
        n = len(ts)
        head = g.head
        need = self.threshold
        limit = t + w
        if bisect_left(ts, limit, i, n) - bisect_right(ts, t - w, head, i) < need:
            return None  # even all matches within w of t cannot reach the threshold
        if _cooling(g.fired, t, limit, self.cooldown):
            return None  # every window containing t ends inside one alert's cooldown
        lo = bisect_right(ts, t - w, head, i)
        lo2 = bisect_right(ts, t - 2 * w, head, lo) if self.spike else 0
        j = i
        fired = g.fired
        cooldown = self.cooldown if fired else 0.0
        while j < n:
            e = ts[j]
            if e >= limit:
                break
            if cooldown:
                # Skip, by bisection, the candidates inside one alert's cooldown.
                k = bisect_left(fired, e)
                if k < len(fired) and fired[k] - e < cooldown:
                    j = bisect_left(ts, fired[k] + cooldown, j, n)
                    continue
                if k and e - fired[k - 1] < cooldown:
                    j = bisect_left(ts, fired[k - 1] + cooldown, j, n)
                    continue
            while j + 1 < n and ts[j + 1] == e:
                j += 1
            b = e - w
            while ts[lo] <= b:
                lo += 1
            count = j + 1 - lo
            if count >= need:
                prev = 0
                ok = True
                if self.spike:
                    b2 = b - w
                    while ts[lo2] <= b2:
                        lo2 += 1
                    prev = lo - lo2
                    ok = self._spiking(e, count, prev)
                if ok:
                    return self._fire(g, e, count, prev, lo, j + 1, late=True)
            j += 1
        return None

    def _fire(self, g: _Series, e: float, count: int, prev: int, lo: int, hi: int,
              late: bool) -> Alert:
        fired = g.fired
        if not fired or e >= fired[-1]:
            fired.append(e)
            if self.cooldown:
                g.cool_until = e + self.cooldown
        else:
            insort(fired, e)
        samples = g.ents[max(lo, hi - _SAMPLES):hi]
        w = self.window
        extra: dict[str, Any] = {"late": True} if late else {}
        if self.spike:
            message = (f"{self.rule.name}: {count} matching entries in {w:g}s, "
                       f"previous window {prev}")
            extra["previous_count"] = prev
        else:
            message = f"{self.rule.name}: {count} matching entries in {w:g}s"
        return self._alert(e, count, samples, g.value, message, extra)

    def load_state(self, data: dict[str, Any]) -> None:
        super().load_state(data)
        self.single = None if self.group_by else self.groups.get(None)

    def _check_group(self, g: _Series) -> None:
        ts = g.ts
        assert len(ts) == len(g.ents), "times and entries differ in length"
        assert all(a <= b for a, b in pairwise(ts)), "match times are not sorted"
        assert all(e.ts == t for e, t in zip(g.ents, ts, strict=True)), "entry and time disagree"
        assert 0 <= g.head <= len(ts)
        if ts:
            newest = ts[-1]
            assert g.ws <= bisect_right(ts, newest - self.window), "window pointer overshot"
            assert g.ws2 <= bisect_right(ts, newest - 2 * self.window)
        assert g.fired == sorted(g.fired), "alert times are not sorted"
        if g.fired and self.cooldown:
            assert g.cool_until >= g.fired[-1] + self.cooldown
            assert all(b - a >= self.cooldown for a, b in pairwise(g.fired)), (
                "two alerts closer than the cooldown")

    def _group_to_dict(self, g: _Series) -> dict[str, Any]:
        h = g.head
        return {"value": g.value, "ts": g.ts[h:], "entries": [e.to_dict() for e in g.ents[h:]],
                "fired": list(g.fired)}

    def _group_from_dict(self, data: dict[str, Any]) -> _Series:
        g = _Series(data.get("value"))
        g.ts = [float(x) for x in data["ts"]]
        g.ents = [LogEntry.from_dict(e) for e in data["entries"]]
        if len(g.ts) != len(g.ents) or g.ts != sorted(g.ts):
            raise ValueError("window state is inconsistent")
        g.fired = sorted(float(x) for x in data.get("fired", []))
        if g.fired and self.cooldown:
            g.cool_until = g.fired[-1] + self.cooldown
        if g.ts:
            newest = g.ts[-1]
            g.ws = bisect_right(g.ts, newest - self.window)
            g.ws2 = bisect_right(g.ts, newest - 2 * self.window)
        return g
