"""Files: alerts as JSONL, rules and remembered rule state as JSON.

Writes go to a temporary file in the same folder, then ``os.replace``: a crash never leaves a
half-written file behind. Reading alerts skips corrupted lines and reports them.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from ..errors import InvalidAlertRuleError
from ..storage.codec import dumps
from .model import Alert, AlertRule

__all__ = ["load_rules", "read_alerts", "read_json", "save_rules", "write_alerts", "write_json"]

log = logging.getLogger(__name__)

_MAX_REPORTED = 100


def _atomic_write(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _dumps(value: Any) -> bytes:
    return dumps(value)


def write_alerts(path: str | os.PathLike[str], alerts: Sequence[Alert]) -> int:
    """Write one JSON alert per line (atomically); return how many. O(total size)."""
    _atomic_write(path, (_dumps(a.to_dict()) + b"\n" for a in alerts))
    return len(alerts)


def read_alerts(path: str | os.PathLike[str]) -> tuple[list[Alert], dict[str, Any]]:
    """Alerts of a JSONL file and a report ``{"file", "loaded", "skipped", "errors"}``.

    Corrupted lines (not JSON, or not an alert) are skipped; ``errors`` lists up to 100
    ``{"line", "reason"}`` (1-based) and each is logged as a warning. Blank lines are ignored.
    """
    alerts: list[Alert] = []
    errors: list[dict[str, Any]] = []
    skipped = 0
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                alerts.append(Alert.from_dict(orjson.loads(raw)))
            except (orjson.JSONDecodeError, ValueError) as exc:
                skipped += 1
                reason = str(exc) or type(exc).__name__
                log.warning("%s line %d: skipped corrupted alert: %s", path, number, reason)
                if len(errors) < _MAX_REPORTED:
                    errors.append({"line": number, "reason": reason})
    report = {"file": os.fspath(path), "loaded": len(alerts), "skipped": skipped,
              "errors": errors}
    return alerts, report


def save_rules(path: str | os.PathLike[str], rules: Iterable[AlertRule]) -> int:
    """Write rules as ``{"version": 1, "rules": [...]}`` (atomically); return how many."""
    data = [r.to_dict() for r in rules]
    _atomic_write(path, (orjson.dumps({"version": 1, "rules": data},
                                      option=orjson.OPT_INDENT_2) + b"\n",))
    return len(data)


def load_rules(path: str | os.PathLike[str]) -> list[AlertRule]:
    """Rules of a JSON file: ``{"rules": [...]}`` or a bare list of rule objects.

    Raises :class:`~log_analytics_engine.errors.InvalidAlertRuleError` (a ``ValueError``)
    naming the rule's position and the offending field; no rule is returned when one is bad.
    """
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidAlertRuleError("file", os.fspath(path), f"not valid JSON: {exc}") from exc
    if isinstance(data, dict):
        if "rules" not in data:
            raise InvalidAlertRuleError("file", os.fspath(path), 'expected a "rules" list')
        data = data["rules"]
    if not isinstance(data, list):
        raise InvalidAlertRuleError("rules", data, "expected a list of rule objects")
    rules = [AlertRule.from_dict(item, index=i) for i, item in enumerate(data)]
    names = [r.name for r in rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidAlertRuleError("name", name, "two rules have this name", index=i)
    return rules


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write a JSON document atomically."""
    _atomic_write(path, (_dumps(data),))


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON document; ``ValueError`` when it is not valid JSON."""
    with open(path, "rb") as fh:
        try:
            return orjson.loads(fh.read())
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{os.fspath(path)}: not valid JSON: {exc}") from exc


def state_path(path: str | os.PathLike[str]) -> str:
    """The sidecar file beside an alert history file that holds the rules' state."""
    return f"{os.fspath(path)}.state.json"


def write_history(path: str | os.PathLike[str], alerts: Sequence[Alert],
                  state: Any | None) -> int:
    """Write ``alerts`` as JSONL and, unless ``state`` is None, the state sidecar first.
    Returns the alerts written."""
    if state is not None:
        write_json(state_path(path), state)
    return write_alerts(path, alerts)


def read_history(path: str | os.PathLike[str], include_state: bool
                 ) -> tuple[list[Alert], dict[str, Any], Any | None]:
    """The alerts of :func:`write_history`, the read report and, when asked for and
    present, the state sidecar's document."""
    alerts, report = read_alerts(path)
    sidecar = state_path(path)
    state = read_json(sidecar) if include_state and os.path.exists(sidecar) else None
    return alerts, report, state
