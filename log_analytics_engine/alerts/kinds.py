"""The ``absence`` (flatline) and ``new_term`` rule kinds, and the runtime of each kind."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Hashable
from typing import Any

from ..model.entry import LogEntry
from ..query.nodes import Node
from .model import Alert, AlertRule
from .windows import _INF, _SAMPLES, RuleRuntime, WindowRuntime, _cool, hashable

__all__ = ["AbsenceRuntime", "NewTermRuntime", "make_runtime"]


class _Quiet:
    """One group of an absence rule: recent match times and when it next goes quiet."""

    __slots__ = ("deadline", "ents", "last_fired", "since", "ts", "value")

    def __init__(self, value: Any, since: float) -> None:
        self.value = value
        self.since = since
        self.ts: list[float] = []
        self.ents: list[LogEntry] = []
        self.last_fired: float | None = None
        self.deadline = _INF


class AbsenceRuntime(RuleRuntime):
    """``absence`` rules: fewer than ``threshold`` matches in a full window (a flatline).

    Checked as event time advances; fires at most once per ``max(cooldown, time_window)``
    per group while the group stays quiet.
    """

    __slots__ = ("due_box", "keep")

    def __init__(self, rule: AlertRule, seq: int, residual: Node | None, horizon: float) -> None:
        super().__init__(rule, seq, residual, horizon)
        self.keep = max(self.threshold, _SAMPLES)
        #: The manager's earliest deadline (shared): a new group may bring it forward.
        self.due_box = [_INF]

    def begin(self, t: float) -> None:
        super().begin(t)
        if not self.group_by and None not in self.groups:
            g = self.groups[None] = _Quiet(None, t)
            self._deadline(g)

    def _deadline(self, g: _Quiet) -> None:
        w = self.window
        d = g.since + w
        if len(g.ts) >= self.threshold:
            d = max(d, g.ts[-self.threshold] + w)
        if g.last_fired is not None:
            d = max(d, g.last_fired + max(self.cooldown, w))
        g.deadline = d

    def on_match(self, entry: LogEntry) -> Alert | None:
        """Record a match (it pushes the group's deadline forward). O(log k) for k kept."""
        key, value = self._group_key(entry)
        t = entry.ts
        g = self.groups.get(key)
        new = g is None
        if g is None:
            g = self.groups[key] = _Quiet(value, t)
        ts = g.ts
        if not ts or t >= ts[-1]:
            ts.append(t)
            g.ents.append(entry)
        else:
            i = bisect_right(ts, t)
            ts.insert(i, t)
            g.ents.insert(i, entry)
        if len(ts) > self.keep:
            del ts[0]
            del g.ents[0]
        self._deadline(g)
        if new and g.deadline < self.due_box[0]:
            self.due_box[0] = g.deadline
        return None

    def due(self) -> float:
        """The earliest event time at which some group may fire. O(g)."""
        return min((g.deadline for g in self.groups.values()), default=_INF)

    def check(self, clock: float, out: list[Alert]) -> None:
        """Fire every group whose deadline has passed at event time ``clock``. O(g)."""
        w = self.window
        for g in self.groups.values():
            if clock < g.deadline:
                continue
            g.last_fired = clock
            self._deadline(g)
            if not self.rule.enabled:
                continue
            lo = bisect_right(g.ts, clock - w)
            hi = bisect_right(g.ts, clock)
            count = hi - lo
            samples = g.ents[max(lo, hi - _SAMPLES):hi]
            message = (f"{self.rule.name}: {count} matching entries in {w:g}s, "
                       f"expected at least {self.threshold}")
            out.append(self._alert(clock, count, samples, g.value, message))

    def _check_group(self, g: _Quiet) -> None:
        assert len(g.ts) == len(g.ents) <= self.keep
        assert g.ts == sorted(g.ts), "match times are not sorted"
        assert self.due_box[0] <= g.deadline, "the manager would miss this deadline"

    def _group_to_dict(self, g: _Quiet) -> dict[str, Any]:
        return {"value": g.value, "since": g.since, "ts": list(g.ts),
                "entries": [e.to_dict() for e in g.ents], "last_fired": g.last_fired}

    def _group_from_dict(self, data: dict[str, Any]) -> _Quiet:
        g = _Quiet(data.get("value"), float(data["since"]))
        g.ts = [float(x) for x in data["ts"]]
        g.ents = [LogEntry.from_dict(e) for e in data["entries"]]
        if len(g.ts) != len(g.ents):
            raise ValueError("absence state is inconsistent")
        lf = data.get("last_fired")
        g.last_fired = None if lf is None else float(lf)
        self._deadline(g)
        return g


class _Terms:
    __slots__ = ("fired", "seen", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.seen: set[Hashable] = set()
        self.fired: list[float] = []


class NewTermRuntime(RuleRuntime):
    """``new_term`` rules: fire the first time a value of ``field`` is seen. O(1) per match."""

    __slots__ = ("field",)

    def __init__(self, rule: AlertRule, seq: int, residual: Node | None, horizon: float) -> None:
        super().__init__(rule, seq, residual, horizon)
        assert rule.field is not None
        self.field: str = rule.field

    def on_match(self, entry: LogEntry) -> Alert | None:
        term = entry.get(self.field)
        if term is None:
            return None
        key, value = self._group_key(entry)
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = _Terms(value)
        try:
            hkey: Hashable = term
            if hkey in g.seen:
                return None
        except TypeError:
            hkey = hashable(term)
            if hkey in g.seen:
                return None
        g.seen.add(hkey)
        t = entry.ts
        if not _cool(g.fired, t, self.cooldown):
            return None
        insort(g.fired, t)
        if len(g.fired) > 64:
            del g.fired[: bisect_left(g.fired, g.fired[-1] - self.horizon - self.cooldown)]
        message = f"{self.rule.name}: new {self.field} value {term!r} (count 1)"
        return self._alert(t, 1, [entry], g.value, message, {self.field: term})

    def _check_group(self, g: _Terms) -> None:
        assert g.fired == sorted(g.fired), "alert times are not sorted"

    def _group_to_dict(self, g: _Terms) -> dict[str, Any]:
        return {"value": g.value, "seen": [list(s) if isinstance(s, tuple) else s
                                           for s in g.seen], "fired": list(g.fired)}

    def _group_from_dict(self, data: dict[str, Any]) -> _Terms:
        g = _Terms(data.get("value"))
        g.seen = {hashable(s) for s in data["seen"]}
        g.fired = sorted(float(x) for x in data.get("fired", []))
        return g


_RUNTIMES: dict[str, type[RuleRuntime]] = {
    "threshold": WindowRuntime, "spike": WindowRuntime, "absence": AbsenceRuntime,
    "new_term": NewTermRuntime,
}


def make_runtime(rule: AlertRule, seq: int, residual: Node | None,
                 horizon: float) -> RuleRuntime:
    """The runtime for ``rule``'s kind."""
    return _RUNTIMES[rule.kind](rule, seq, residual, horizon)
