"""The alert manager: rules, dispatch, evaluation in arrival order, history and counters.

Everything here runs under the engine lock except :meth:`AlertManager.notify`, which the
engine calls after releasing it.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any

from ..metrics.exposition import MetricFamily
from ..model.entry import LogEntry
from ..model.timeparse import parse_instant
from ..model.tokenize import tokenize
from .delivery import AlertDelivery, Hook, HookRunner
from .dispatch import DispatchKeys, DispatchTable, dispatch_keys
from .kinds import AbsenceRuntime, make_runtime
from .model import Alert, AlertRule, AlertSeverity
from .windows import RuleRuntime

__all__ = ["AlertManager"]

log = logging.getLogger(__name__)

_INF = float("inf")
STATE_VERSION = 1


def _alert_key(a: Alert) -> tuple[str, datetime, str]:
    return (a.rule_name, a.triggered_at, a.message)


class AlertManager:
    """Rules, their window state and the alert history (guarded by the engine lock).

    ``late_horizon`` (seconds of event time) bounds how late an entry may arrive and still
    fire: see :mod:`log_analytics_engine.alerts.windows`.
    """

    def __init__(self, max_history: int = 10_000, late_horizon: float = 600.0) -> None:
        self.rules: dict[str, AlertRule] = {}
        self._runtimes: dict[str, RuleRuntime] = {}
        self._keys: dict[str, DispatchKeys] = {}
        self._seq = 0
        self.history: deque[Alert] = deque(maxlen=self._check_history(max_history))
        self.runner = HookRunner()
        self.fired_total: dict[tuple[str, str], int] = {}
        self.late_horizon = self._check_horizon(late_horizon)
        self.clock = -_INF  # the newest event time observed (absence rules)
        self.delivery: AlertDelivery | None = None
        self._table: DispatchTable[RuleRuntime] = DispatchTable(())
        self._unstarted: list[RuleRuntime] = []
        self._absence: list[AbsenceRuntime] = []
        self._due = [_INF]  # earliest absence deadline, shared with the absence runtimes
        self._pending_state: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _check_history(n: int) -> int:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"max_alert_history must be a whole number >= 1, got {n!r}")
        return n

    @staticmethod
    def _check_horizon(h: float) -> float:
        if isinstance(h, bool) or not isinstance(h, (int, float)) or not 0 <= h < math.inf:
            raise ValueError(f"late_horizon must be a number of seconds >= 0, got {h!r}")
        return float(h)

    # -- compatibility with the engine-core interface --------------------------------------
    @property
    def hooks(self) -> list[Hook]:
        """The notification hooks in registration order."""
        return self.runner.hooks

    # -- configuration --------------------------------------------------------------------
    def configure(self, max_history: int | None = None,
                  late_horizon: float | None = None) -> None:
        """Change the history bound (keeps the newest alerts) or the late horizon (applies to
        rules added afterwards)."""
        if max_history is not None:
            self.history = deque(self.history, maxlen=self._check_history(max_history))
        if late_horizon is not None:
            self.late_horizon = self._check_horizon(late_horizon)

    def add_rule(self, rule: AlertRule) -> None:
        """Add or replace a rule (a replaced rule starts with fresh state). O(r k) rebuild."""
        if not isinstance(rule, AlertRule):
            raise TypeError(f"expected an AlertRule, got {type(rule).__name__}")
        self.remove_rule(rule.name)
        self._keys[rule.name] = dk = dispatch_keys(rule.node)
        rt = make_runtime(rule, self._seq, dk.residual, self.late_horizon)
        self._seq += 1
        self.rules[rule.name] = rule
        self._runtimes[rule.name] = rt
        pending = self._pending_state.pop(rule.name, None)
        if pending is not None and pending.get("kind") == rule.kind:
            rt.load_state(pending)
        if rt.start is None:
            self._unstarted.append(rt)
        self._rebuild()

    def remove_rule(self, name: str) -> None:
        """Forget a rule and its state (no error when absent)."""
        rt = self._runtimes.pop(name, None)
        self.rules.pop(name, None)
        self._keys.pop(name, None)
        if rt is not None:
            if rt in self._unstarted:
                self._unstarted.remove(rt)
            self._rebuild()

    def _rebuild(self) -> None:
        rts = list(self._runtimes.values())
        self._table = DispatchTable((rt, self._keys[rt.rule.name]) for rt in rts)
        self._absence = [rt for rt in rts if isinstance(rt, AbsenceRuntime)]
        for rt in self._absence:
            rt.due_box = self._due
        self._refresh_due()

    def _refresh_due(self) -> None:
        self._due[0] = min((rt.due() for rt in self._absence), default=_INF)

    # -- evaluation -----------------------------------------------------------------------
    def observe(self, entries: Sequence[LogEntry],
                tokens: Sequence[Iterable[str]] | None = None) -> list[Alert]:
        """Evaluate the rules on ``entries`` in arrival order; record and return new alerts.

        ``tokens[i]`` (optional) are the words of ``entries[i]`` as the engine indexed them.
        Runtime complexity: O(m (1 + c)) for m entries, each checked against the c rules its
        level, source, tags and words dispatch to (O(log n + k) more for a late match).
        """
        if not self._runtimes or not entries:
            return []
        if self._unstarted:
            t0 = entries[0].ts
            for rt in self._unstarted:
                rt.begin(t0)
            self._unstarted.clear()
            self._refresh_due()
        fired: list[tuple[int, Alert]] = []
        rows = self._table.rows
        multi = self._table.multi
        absence = self._absence
        due = self._due
        clock = self.clock
        word_lists: Iterable[Iterable[str] | None] = tokens if tokens is not None else repeat(None)
        for entry, words in zip(entries, word_lists, strict=False):
            cands, by_source, by_tag, by_token = rows[entry.level]
            if by_source is not None:
                extra = by_source.get(entry.source)
                if extra:
                    cands = cands + extra
            if by_tag is not None and entry.tags:
                for tag in entry.tags:
                    extra = by_tag.get(tag)
                    if extra:
                        cands = cands + extra
            if by_token is not None:
                if words is None:
                    words = tokenize(entry.message)
                token_keys, token_rules = by_token
                for word in token_keys.intersection(words):
                    cands = cands + token_rules[word]
            if cands:
                if multi:
                    cands = tuple(dict.fromkeys(cands))
                before = len(fired)
                for rt in cands:
                    if rt.rule.enabled and (rt.residual is None or rt.residual.match(entry)):
                        alert = rt.on_match(entry)
                        if alert is not None:
                            fired.append((rt.seq, alert))
                if len(fired) - before > 1:
                    fired[before:] = sorted(fired[before:], key=lambda p: p[0])
            if absence:
                t = entry.ts
                if t > clock:
                    clock = t
                    if clock >= due[0]:
                        self._check_absence(clock, fired)
        self.clock = clock
        alerts = [a for _, a in fired]
        for alert in alerts:
            self.history.append(alert)
            key = (alert.rule_name, alert.severity.value)
            self.fired_total[key] = self.fired_total.get(key, 0) + 1
        return alerts

    def _check_absence(self, clock: float, fired: list[tuple[int, Alert]]) -> None:
        out: list[Alert] = []
        for rt in self._absence:
            if rt.start is not None:
                before = len(out)
                rt.check(clock, out)
                fired.extend((rt.seq, a) for a in out[before:])
        self._refresh_due()

    def _check(self) -> None:
        """Assert the invariants of every rule's state (tests call it after ingesting)."""
        assert set(self.rules) == set(self._runtimes) == set(self._keys)
        assert len(self.history) <= (self.history.maxlen or 0)
        for rt in self._runtimes.values():
            rt._check()

    # -- notification ---------------------------------------------------------------------
    def notify(self, alerts: Sequence[Alert]) -> None:
        """Hand alerts to the hooks (outside the engine lock): directly, or to the queue."""
        delivery = self.delivery
        if delivery is not None and delivery.running:
            delivery.submit(alerts)
        else:
            self.runner.run(alerts)

    def start_delivery(self, maxsize: int = 1000, overflow: str = "drop") -> AlertDelivery:
        """Deliver notifications from a background thread; returns its handle."""
        if self.delivery is not None and self.delivery.running:
            raise RuntimeError("background alert delivery is already running")
        self.delivery = AlertDelivery(self.runner, maxsize, overflow)
        return self.delivery

    # -- reading --------------------------------------------------------------------------
    def alerts(self, since: Any = None, rule_name: str | None = None,
               severity: AlertSeverity | str | None = None) -> list[Alert]:
        """History filtered by ``triggered_at >= since``, rule and severity. O(h)."""
        out: Iterable[Alert] = self.history
        if since is not None:
            lo = parse_instant(since, "since")
            out = (a for a in out if a.triggered_at.timestamp() >= lo)
        if rule_name is not None:
            out = (a for a in out if a.rule_name == rule_name)
        if severity is not None:
            sev = severity if isinstance(severity, AlertSeverity) else AlertSeverity(
                str(severity).upper())
            out = (a for a in out if a.severity is sev)
        return list(out)

    def merge_history(self, alerts: Sequence[Alert]) -> int:
        """Put loaded alerts before the current history, skipping ones already there."""
        have = {_alert_key(a) for a in self.history}
        new = [a for a in alerts if _alert_key(a) not in have]
        self.history = deque([*new, *self.history], maxlen=self.history.maxlen)
        return len(new)

    # -- state ----------------------------------------------------------------------------
    def state_to_dict(self) -> dict[str, Any]:
        """Windows, cooldowns and seen terms of every rule, as JSON-ready data."""
        return {"version": STATE_VERSION, "clock": None if self.clock == -_INF else self.clock,
                "rules": {name: rt.state_to_dict() for name, rt in self._runtimes.items()}}

    def load_state(self, data: Any) -> list[str]:
        """Restore state saved by :meth:`state_to_dict`; return the names restored now.

        State of a rule not added yet is kept and applied when a rule of that name and kind
        is added. Raises ``ValueError`` for a document of another shape or version.
        """
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION or not isinstance(
                data.get("rules"), dict):
            raise ValueError("not an alert state document of version 1")
        clock = data.get("clock")
        if isinstance(clock, (int, float)) and clock > self.clock:
            self.clock = float(clock)
        restored = []
        for name, state in data["rules"].items():
            rt = self._runtimes.get(name)
            if rt is None:
                self._pending_state[name] = state
                continue
            if state.get("kind") != rt.kind:
                log.warning("alert state of %r is for a %r rule; ignored", name,
                            state.get("kind"))
                continue
            rt.load_state(state)
            if rt.start is not None and rt in self._unstarted:
                self._unstarted.remove(rt)
            restored.append(name)
        self._refresh_due()
        return restored

    # -- metrics --------------------------------------------------------------------------
    def metric_families(self, prefix: str) -> list[MetricFamily]:
        """Alert counters per rule and severity, hook errors, drops, late entries."""
        fired = MetricFamily(prefix + "alerts_total", "counter",
                             "Alerts fired per rule and severity.")
        counts = dict(self.fired_total)
        for rule in self.rules.values():
            counts.setdefault((rule.name, rule.severity.value), 0)
        for (rule_name, severity), n in sorted(counts.items()):
            fired.add(n, rule=rule_name, severity=severity)
        late = MetricFamily(prefix + "alert_late_entries_total", "counter",
                            "Matching entries that arrived too late (beyond the horizon) to "
                            "fire, per rule.")
        for name, rt in sorted(self._runtimes.items()):
            late.add(rt.too_late, rule=name)
        return [
            fired,
            MetricFamily(prefix + "alert_hook_errors_total", "counter",
                         "Exceptions raised by alert notification hooks.")
            .add(self.runner.errors),
            MetricFamily(prefix + "alert_notifications_dropped_total", "counter",
                         "Notifications dropped because the delivery queue was full.")
            .add(self.runner.dropped),
            late,
            MetricFamily(prefix + "alert_rules", "gauge", "Alert rules registered.")
            .add(len(self.rules)),
        ]
