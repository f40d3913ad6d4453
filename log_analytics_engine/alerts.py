"""Alert rules, alerts and their evaluation in event time.

This module holds the engine-core version: threshold rules over a sliding event-time
window with a cooldown, evaluated in arrival order. ``conditions`` use exactly the query filter
semantics (they compile to the same :class:`~log_analytics_engine.query.Node` tree).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from .query import Node, compile_filters
from .timeparse import parse_instant, to_datetime

if TYPE_CHECKING:
    from .entry import LogEntry

__all__ = ["Alert", "AlertManager", "AlertRule", "AlertSeverity"]

log = logging.getLogger(__name__)


class AlertSeverity(str, Enum):
    """How urgent an alert is."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


@dataclass
class AlertRule:
    """Fire when ``threshold`` entries matching ``conditions`` fall in ``time_window`` seconds.

    ``cooldown`` is the minimum event-time distance in seconds between two alerts of the rule.
    """

    name: str
    description: str = ""
    conditions: Mapping[str, Any] = field(default_factory=dict)
    severity: AlertSeverity = AlertSeverity.MEDIUM
    threshold: int = 1
    time_window: float = 60.0
    cooldown: float = 0.0
    enabled: bool = True
    last_triggered: float | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.severity, AlertSeverity):
            self.severity = AlertSeverity(str(self.severity).upper())
        if self.threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {self.threshold!r}")
        if self.time_window <= 0:
            raise ValueError(f"time_window must be > 0, got {self.time_window!r}")
        if self.cooldown < 0:
            raise ValueError(f"cooldown must be >= 0, got {self.cooldown!r}")
        self._node: Node = compile_filters(dict(self.conditions))

    def matches(self, entry: LogEntry) -> bool:
        """Whether ``entry`` satisfies the rule's conditions (query filter semantics)."""
        return self._node.match(entry)

    def should_trigger(self, count: int, current_time: Any) -> bool:
        """Enabled, ``count`` reaches the threshold, and outside the cooldown."""
        if not self.enabled or count < self.threshold:
            return False
        if self.last_triggered is None:
            return True
        return parse_instant(current_time) - self.last_triggered >= self.cooldown


@dataclass
class Alert:
    """One firing of a rule."""

    rule_name: str
    message: str
    severity: AlertSeverity
    triggered_at: datetime
    count: int
    sample_logs: list[LogEntry] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


class AlertManager:
    """Rules, their window state and the alert history (guarded by the engine lock)."""

    def __init__(self, max_history: int = 10_000) -> None:
        self.rules: dict[str, AlertRule] = {}
        self._windows: dict[str, deque[tuple[float, LogEntry]]] = {}
        self.history: deque[Alert] = deque(maxlen=max_history)
        self.hooks: list[Callable[[Alert], None]] = []
        self.fired_total: dict[tuple[str, str], int] = {}
        self.hook_errors = 0

    def add_rule(self, rule: AlertRule) -> None:
        self.rules[rule.name] = rule
        self._windows[rule.name] = deque()

    def remove_rule(self, name: str) -> None:
        self.rules.pop(name, None)
        self._windows.pop(name, None)

    def observe(self, entries: Sequence[LogEntry]) -> list[Alert]:
        """Evaluate every enabled rule on ``entries`` in arrival order; return new alerts."""
        fired: list[Alert] = []
        for rule in self.rules.values():
            if not rule.enabled:
                continue
            window = self._windows[rule.name]
            for entry in entries:
                if not rule.matches(entry):
                    continue
                t = entry.ts
                window.append((t, entry))
                while window and window[0][0] <= t - rule.time_window:
                    window.popleft()
                count = sum(1 for ts, _ in window if ts <= t)
                if rule.should_trigger(count, t):
                    rule.last_triggered = t
                    alert = Alert(
                        rule_name=rule.name,
                        message=f"{rule.name}: {count} matching entries in {rule.time_window:g}s",
                        severity=rule.severity,
                        triggered_at=to_datetime(t),
                        count=count,
                        sample_logs=[e for _, e in list(window)[-5:]],
                        metadata={"window_start": to_datetime(t - rule.time_window).isoformat(),
                                  "window_end": to_datetime(t).isoformat()},
                    )
                    fired.append(alert)
        for alert in fired:
            self.history.append(alert)
            key = (alert.rule_name, alert.severity.value)
            self.fired_total[key] = self.fired_total.get(key, 0) + 1
        return fired

    def notify(self, alerts: Sequence[Alert]) -> None:
        """Call every hook for every alert (outside the engine lock); failures are logged."""
        for alert in alerts:
            for hook in list(self.hooks):
                try:
                    hook(alert)
                except Exception:
                    self.hook_errors += 1
                    log.exception("alert notification hook %r failed", hook)
