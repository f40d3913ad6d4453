"""Alert history and alert-rule state as opaque JSON blobs for :mod:`.storage`.

Alert models with ``to_dict``/``from_dict`` and managers with ``state_to_dict``/``load_state``
are used through those methods; the engine-core classes through the fallbacks here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from ..model.entry import LogEntry
from ..storage.codec import dumps as _dumps

if TYPE_CHECKING:
    from . import Alert, AlertManager, AlertRule

__all__ = [
    "alert_from_blob",
    "alert_to_blob",
    "load_rule_state",
    "restore_rule_state",
    "rule_state_blob",
]

log = logging.getLogger(__name__)

_loads = orjson.loads


def alert_to_blob(alert: Alert) -> bytes:
    """One fired alert as a JSON blob for :meth:`Storage.append_alert_history`."""
    to_dict = getattr(alert, "to_dict", None)
    if callable(to_dict):
        return _dumps(to_dict())
    return _dumps({
        "rule_name": alert.rule_name,
        "message": alert.message,
        "severity": alert.severity.value,
        "triggered_at": alert.triggered_at.isoformat(),
        "count": alert.count,
        "sample_logs": [e.to_dict() for e in alert.sample_logs],
        "metadata": alert.metadata,
    })


def alert_from_blob(blob: bytes) -> Alert:
    """The :class:`Alert` of :func:`alert_to_blob`."""
    from datetime import datetime

    from . import Alert, AlertSeverity

    d = _loads(blob)
    from_dict = getattr(Alert, "from_dict", None)
    if callable(from_dict):
        alert: Alert = from_dict(d)
        return alert
    return Alert(
        rule_name=d["rule_name"], message=d["message"], severity=AlertSeverity(d["severity"]),
        triggered_at=datetime.fromisoformat(d["triggered_at"]), count=d["count"],
        sample_logs=[LogEntry.from_dict(x) for x in d["sample_logs"]],
        metadata=d["metadata"],
    )


def rule_state_blob(manager: AlertManager) -> bytes:
    """Window contents and last trigger of every rule, as one JSON blob."""
    to_dict = getattr(manager, "state_to_dict", None)
    if callable(to_dict):
        return _dumps(to_dict())
    windows: dict[str, Any] = getattr(manager, "_windows", {})
    state = {
        name: {
            "last_triggered": rule.last_triggered,
            "window": [[t, e.to_dict()] for t, e in windows.get(name, ())],
        }
        for name, rule in manager.rules.items()
    }
    return _dumps(state)


def load_rule_state(manager: AlertManager, blob: bytes) -> dict[str, Any]:
    """Apply a saved rule-state blob. A manager with ``load_state`` takes it at once (and
    keeps the state of rules not added yet); otherwise the per-rule state is returned for
    :func:`restore_rule_state` when each rule is added. A blob it cannot read is ignored
    (logged): the rules start with empty windows."""
    data = _loads(blob)
    load = getattr(manager, "load_state", None)
    if callable(load):
        try:
            load(data)
        except ValueError as exc:
            log.warning("saved alert state not restored: %s", exc)
        return {}
    return data if isinstance(data, dict) else {}


def restore_rule_state(
    manager: AlertManager, rule: AlertRule, state: dict[str, Any],
    entry_factory: Callable[[dict[str, Any]], LogEntry] = LogEntry.from_dict,
) -> None:
    """Give a just-added ``rule`` the saved window and cooldown of the rule of that name."""
    saved = state.get(rule.name)
    if not saved:
        return
    rule.last_triggered = saved.get("last_triggered")
    windows: dict[str, Any] | None = getattr(manager, "_windows", None)
    window = windows.get(rule.name) if windows is not None else None
    if window is not None:
        window.extend((t, entry_factory(d)) for t, d in saved.get("window", ()))
