"""Alerting in event time: rules, windows, cooldowns, grouping, notifications, persistence.

>>> from log_analytics_engine import LogAnalyticsEngine, LogEntry
>>> engine = LogAnalyticsEngine()
>>> engine.add_alert_rule(AlertRule("errors", conditions={"level": "ERROR"}, threshold=2,
...                                 time_window=60, severity=AlertSeverity.HIGH))
>>> _ = engine.ingest_logs([LogEntry(t, "ERROR", "db down") for t in (100, 130)])
>>> [(a.rule_name, a.count, a.triggered_at.isoformat()) for a in engine.get_alerts()]
[('errors', 2, '1970-01-01T00:02:10+00:00')]

Modules: :mod:`.model` (rules and alerts), :mod:`.dispatch` (which rules an entry can match),
:mod:`.windows` (per-rule event-time state), :mod:`.manager` (evaluation, history, counters),
:mod:`.delivery` (hooks, background queue), :mod:`.persistence` (JSONL and JSON files),
:mod:`.replay` (backtests: the alerts rules would have fired over past entries).
"""

from ..errors import InvalidAlertRuleError
from .delivery import AlertDelivery, Hook
from .manager import AlertManager
from .model import KINDS, Alert, AlertRule, AlertSeverity
from .persistence import load_rules, read_alerts, save_rules, write_alerts
from .replay import backtest

__all__ = [
    "KINDS",
    "Alert",
    "AlertDelivery",
    "AlertManager",
    "AlertRule",
    "AlertSeverity",
    "Hook",
    "InvalidAlertRuleError",
    "backtest",
    "load_rules",
    "read_alerts",
    "save_rules",
    "write_alerts",
]
