"""The alert data model: :class:`AlertSeverity`, :class:`AlertRule` and :class:`Alert`.

Rules validate themselves when built (a bad rule raises
:class:`~log_analytics_engine.errors.InvalidAlertRuleError`, a ``ValueError``) and compile their
``conditions`` with :func:`~log_analytics_engine.query.nodes.compile_filters`, so an alert condition
means exactly what the same dict means to ``query_logs``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from dataclasses import field as _field
from datetime import datetime
from enum import Enum
from typing import Any

from ..errors import InvalidAlertRuleError, InvalidFilterError, LogAnalyticsError
from ..model.entry import LogEntry
from ..model.timeparse import format_datetime, parse_datetime_text, parse_instant
from ..query.filters import compile_filters
from ..query.nodes import Node

__all__ = ["KINDS", "Alert", "AlertRule", "AlertSeverity"]

#: The rule kinds: ``threshold`` (default), ``absence`` (flatline), ``spike``, ``new_term``.
KINDS = ("threshold", "absence", "spike", "new_term")


class AlertSeverity(str, Enum):
    """How urgent an alert is."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


def _number(rule: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidAlertRuleError(key, value, "expected a number", rule=rule)
    return float(value)


def _check_conditions(rule: str, conditions: Any) -> Node:
    if isinstance(conditions, Node):
        return conditions
    if not isinstance(conditions, Mapping):
        raise InvalidAlertRuleError("conditions", conditions, "expected an object of filters",
                                    rule=rule)
    for key, value in conditions.items():
        if isinstance(value, Mapping):
            raise InvalidAlertRuleError(
                "conditions", {key: value},
                f"unknown filter type for {key!r}: filter values are strings, numbers, "
                "booleans or lists (operators such as {'gt': ...} are not filters)", rule=rule)
    try:
        return compile_filters(conditions)
    except InvalidFilterError as exc:
        raise InvalidAlertRuleError("conditions", dict(conditions), str(exc), rule=rule) from exc


@dataclass
class AlertRule:
    """Fire when ``threshold`` entries matching ``conditions`` fall in ``time_window`` seconds.

    ``cooldown`` is the minimum event-time distance in seconds between two alerts of the rule
    (per group with ``group_by``). ``kind`` is one of :data:`KINDS`; ``spike_ratio`` is used by
    ``spike`` rules and ``field`` (the field whose new values fire) by ``new_term`` rules.
    Everything is validated and compiled here, once.

    >>> AlertRule("errors", conditions={"level": "ERROR"}, threshold=3, time_window=120).kind
    'threshold'
    """

    name: str
    description: str = ""
    conditions: Mapping[str, Any] = _field(default_factory=dict)
    severity: AlertSeverity = AlertSeverity.MEDIUM
    threshold: int = 1
    time_window: float = 60.0
    cooldown: float = 0.0
    enabled: bool = True
    _: KW_ONLY
    kind: str = "threshold"
    group_by: str | None = None
    spike_ratio: float = 2.0
    field: str | None = None
    last_triggered: float | None = _field(default=None, compare=False)

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str) or not name.strip():
            raise InvalidAlertRuleError("name", name, "expected a non-empty string")
        if not isinstance(self.severity, AlertSeverity):
            try:
                self.severity = AlertSeverity(str(self.severity).upper())
            except ValueError:
                raise InvalidAlertRuleError(
                    "severity", self.severity, "expected LOW, MEDIUM, HIGH or CRITICAL",
                    rule=name) from None
        if self.kind not in KINDS:
            raise InvalidAlertRuleError("kind", self.kind,
                                        f"unknown kind; expected one of {', '.join(KINDS)}",
                                        rule=name)
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int) or (
                self.threshold < 1):
            raise InvalidAlertRuleError("threshold", self.threshold,
                                        "expected a whole number >= 1", rule=name)
        window = _number(name, "time_window", self.time_window)
        if not 0 < window < math.inf:
            raise InvalidAlertRuleError("time_window", self.time_window,
                                        "expected a positive number of seconds", rule=name)
        cooldown = _number(name, "cooldown", self.cooldown)
        if not 0 <= cooldown < math.inf:
            raise InvalidAlertRuleError("cooldown", self.cooldown,
                                        "expected a number of seconds >= 0", rule=name)
        ratio = _number(name, "spike_ratio", self.spike_ratio)
        if not 0 < ratio < math.inf:
            raise InvalidAlertRuleError("spike_ratio", self.spike_ratio,
                                        "expected a positive number", rule=name)
        for key in ("group_by", "field"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidAlertRuleError(key, value, "expected a field name", rule=name)
        if self.kind == "new_term" and self.field is None:
            raise InvalidAlertRuleError("field", None, "a new_term rule needs a field",
                                        rule=name)
        if not isinstance(self.enabled, bool):
            raise InvalidAlertRuleError("enabled", self.enabled, "expected true or false",
                                        rule=name)
        self._node: Node = _check_conditions(name, self.conditions)

    @property
    def node(self) -> Node:
        """The compiled condition tree (the same tree ``query_logs`` would build)."""
        return self._node

    def matches(self, entry: LogEntry) -> bool:
        """Whether ``entry`` satisfies the rule's conditions (query filter semantics)."""
        return self._node.match(entry)

    def should_trigger(self, count: int, current_time: Any) -> bool:
        """Enabled, ``count`` reaches the threshold, and outside the cooldown.

        ``current_time`` is an event time (datetime, ISO text or epoch seconds) compared with
        :attr:`last_triggered`, the newest ``triggered_at`` of the rule.
        """
        if not self.enabled or count < self.threshold:
            return False
        if self.last_triggered is None:
            return True
        return abs(parse_instant(current_time) - self.last_triggered) >= self.cooldown

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` turns back into an equal rule."""
        if isinstance(self.conditions, Node):
            raise InvalidAlertRuleError("conditions", self.conditions,
                                        "a query tree cannot be saved; use a filter dict",
                                        rule=self.name)
        conditions = {k: (v.pattern if isinstance(v, re.Pattern) else
                          v.isoformat() if isinstance(v, datetime) else v)
                      for k, v in self.conditions.items()}
        return {
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "conditions": conditions,
            "severity": self.severity.value,
            "threshold": self.threshold,
            "time_window": self.time_window,
            "cooldown": self.cooldown,
            "enabled": self.enabled,
            "group_by": self.group_by,
            "spike_ratio": self.spike_ratio,
            "field": self.field,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, index: int | None = None) -> AlertRule:
        """Build a rule from a dict (one element of a rule file); unknown keys are errors.

        ``index`` (the rule's position in a file) is carried by the error when it fails.

        >>> AlertRule.from_dict({"name": "x", "kind": "nope"})
        Traceback (most recent call last):
        ...
        log_analytics_engine.errors.InvalidAlertRuleError: rule 'x': invalid kind 'nope': ...
        """
        if not isinstance(data, Mapping):
            raise InvalidAlertRuleError("rule", data, "expected an object", index=index)
        name = data.get("name")
        unknown = sorted(set(data) - _RULE_KEYS)
        if unknown:
            raise InvalidAlertRuleError(unknown[0], data[unknown[0]],
                                        f"unknown rule field; expected {sorted(_RULE_KEYS)}",
                                        rule=name if isinstance(name, str) else None,
                                        index=index)
        if "name" not in data:
            raise InvalidAlertRuleError("name", None, "missing required field", index=index)
        kwargs = {k: v for k, v in data.items() if v is not None or k in ("group_by", "field")}
        try:
            return cls(**kwargs)
        except InvalidAlertRuleError as exc:
            if index is None:
                raise
            raise InvalidAlertRuleError(exc.field, exc.value, exc.reason, rule=exc.rule,
                                        index=index) from exc
        except TypeError as exc:  # pragma: no cover - guarded by the key check above
            raise InvalidAlertRuleError("rule", data, str(exc), index=index) from exc


_RULE_KEYS = frozenset(("name", "description", "kind", "conditions", "severity", "threshold",
                        "time_window", "cooldown", "enabled", "group_by", "spike_ratio",
                        "field"))


@dataclass
class Alert:
    """One firing of a rule.

    ``triggered_at`` is the event time (UTC) of the last entry of the window that fired;
    ``metadata`` holds ``kind``, ``window_start``/``window_end`` (ISO 8601) and, for grouped
    rules, the group value under the ``group_by`` field's name.
    """

    rule_name: str
    message: str
    severity: AlertSeverity
    triggered_at: datetime
    count: int
    sample_logs: list[LogEntry] = _field(default_factory=list)
    metadata: dict[str, Any] = _field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that :meth:`from_dict` turns back into an equal alert."""
        return {
            "rule_name": self.rule_name,
            "message": self.message,
            "severity": self.severity.value,
            "triggered_at": format_datetime(self.triggered_at),
            "count": self.count,
            "sample_logs": [e.to_dict() for e in self.sample_logs],
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """Rebuild an alert written by :meth:`to_dict`; raises ``ValueError`` when malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("an alert is a JSON object")
        try:
            triggered = parse_datetime_text(data["triggered_at"])
            if triggered.tzinfo is None:
                raise ValueError("triggered_at has no time zone")
            count = data["count"]
            if isinstance(count, bool) or not isinstance(count, int):
                raise ValueError(f"count {count!r} is not a whole number")
            metadata = data.get("metadata", {})
            if not isinstance(metadata, dict):
                raise ValueError("metadata is not an object")
            return cls(
                rule_name=str(data["rule_name"]),
                message=str(data["message"]),
                severity=AlertSeverity(data["severity"]),
                triggered_at=triggered,
                count=count,
                sample_logs=[LogEntry.from_dict(e) for e in data.get("sample_logs", [])],
                metadata=metadata,
            )
        except KeyError as exc:
            raise ValueError(f"missing field {exc.args[0]!r}") from None
        except (TypeError, LogAnalyticsError) as exc:
            raise ValueError(str(exc)) from exc
