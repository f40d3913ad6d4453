"""The engine's alert methods: each takes the engine lock and delegates to the manager.

:class:`AlertMethods` is mixed into :class:`~log_analytics_engine.LogAnalyticsEngine`; it
needs the engine's ``_lock`` and ``_alerts`` (an :class:`AlertManager`). File I/O happens
outside the lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from .delivery import AlertDelivery
from .manager import AlertManager
from .model import Alert, AlertRule, AlertSeverity
from .persistence import load_rules, read_history, read_json, save_rules, write_history, write_json

__all__ = ["AlertMethods"]


class AlertMethods:
    """Alert rules, hooks, history and state files of an engine."""

    _lock: threading.RLock
    _alerts: AlertManager

    def add_alert_rule(self, rule: AlertRule) -> None:
        """Evaluate ``rule`` on every entry ingested from now on (replaces a rule of that
        name). Conditions compile once, here; the rule is dispatched by level, source, tag
        or word."""
        with self._lock:
            self._alerts.add_rule(rule)

    def remove_alert_rule(self, name: str) -> None:
        """Forget the rule ``name`` and its window state (no error when absent)."""
        with self._lock:
            self._alerts.remove_rule(name)

    def add_alert_notification_hook(self, hook: Callable[[Alert], None]) -> None:
        """Call ``hook(alert)`` for every alert, after the engine lock is released, in
        registration order; a hook that raises is logged and counted."""
        with self._lock:
            self._alerts.hooks.append(hook)

    def get_alerts(self, since: Any = None, rule_name: str | None = None,
                   severity: AlertSeverity | str | None = None) -> list[Alert]:
        """Alerts fired so far, oldest first (bounded history), filtered by
        ``triggered_at >= since`` (datetime, ISO text or epoch), rule and severity. O(h)."""
        with self._lock:
            return self._alerts.alerts(since, rule_name, severity)

    def configure_alerts(self, *, max_history: int | None = None,
                         late_horizon: float | None = None) -> None:
        """Set the alert history bound and the late horizon (seconds of event time that a
        late entry may lag behind its rule's newest match and still fire; default 600)."""
        with self._lock:
            self._alerts.configure(max_history, late_horizon)

    def start_alert_delivery(self, max_queue: int = 1000, overflow: str = "drop") -> AlertDelivery:
        """Run notification hooks on a background thread fed by a bounded queue; returns the
        handle whose ``stop()`` delivers what is queued and joins. When the queue is full,
        ``"drop"`` drops (and counts) the notification, ``"block"`` makes ingestion wait."""
        with self._lock:
            return self._alerts.start_delivery(max_queue, overflow)

    def persist_alerts_to_file(self, path: str | os.PathLike[str], *,
                               include_state: bool = True) -> int:
        """Write the alert history as JSONL (one alert per line); with ``include_state`` the
        rules' remembered state goes to ``<path>.state.json``. Returns the alerts written."""
        with self._lock:
            alerts = list(self._alerts.history)
            state = self._alerts.state_to_dict() if include_state else None
        return write_history(path, alerts, state)

    def load_alerts_from_file(self, path: str | os.PathLike[str], *,
                              include_state: bool = True) -> dict[str, Any]:
        """Load alerts written by :meth:`persist_alerts_to_file` into the history (alerts
        already there are skipped) and, with ``include_state``, ``<path>.state.json`` if it
        exists. Corrupted lines are skipped and reported: returns ``{"file", "loaded",
        "skipped", "errors": [{"line", "reason"}], "added"}``."""
        alerts, report, state = read_history(path, include_state)
        with self._lock:
            report["added"] = self._alerts.merge_history(alerts)
            if state is not None:
                report["state_restored"] = self._alerts.load_state(state)
        return report

    def save_alert_rules(self, path: str | os.PathLike[str]) -> int:
        """Write every alert rule to a JSON file (``AlertRule.to_dict``); returns how many."""
        with self._lock:
            rules = list(self._alerts.rules.values())
        return save_rules(path, rules)

    def load_alert_rules(self, path: str | os.PathLike[str]) -> list[str]:
        """Add the rules of a JSON file (all or none: a bad rule raises
        ``InvalidAlertRuleError``, a ``ValueError``); returns their names."""
        rules = load_rules(path)
        with self._lock:
            for rule in rules:
                self._alerts.add_rule(rule)
        return [r.name for r in rules]

    def save_alert_state(self, path: str | os.PathLike[str]) -> None:
        """Write the rules' windows, cooldowns and seen terms to a JSON file."""
        with self._lock:
            state = self._alerts.state_to_dict()
        write_json(path, state)

    def load_alert_state(self, path: str | os.PathLike[str]) -> list[str]:
        """Restore state written by :meth:`save_alert_state`; state of rules not added yet is
        applied when they are. Returns the names of the rules restored now."""
        state = read_json(path)
        with self._lock:
            return self._alerts.load_state(state)

