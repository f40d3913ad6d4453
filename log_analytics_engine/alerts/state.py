"""Alert history and rule state in the durable storage (opaque JSON blobs).

:func:`recover` restores both when an engine reopens its storage; :func:`save_state` and
:func:`save_history` write them back. The storage layer only sees bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import orjson

from ..storage.codec import dumps
from ..storage.sqlite import Storage
from .manager import AlertManager
from .model import Alert

__all__ = ["recover", "save_history", "save_state"]

log = logging.getLogger(__name__)

def _limit(manager: AlertManager) -> int:
    return manager.history.maxlen or 10_000


def recover(manager: AlertManager, storage: Storage) -> None:
    """Put the stored alert history and rule state back into ``manager``. A state blob it
    cannot read is logged and ignored: the rules start with empty windows."""
    manager.history.extend(Alert.from_dict(orjson.loads(b))
                           for b in storage.load_alert_history(_limit(manager)))
    blob = storage.load_alert_state()
    if blob:
        try:
            manager.load_state(orjson.loads(blob))
        except ValueError as exc:
            log.warning("saved alert state not restored: %s", exc)


def save_history(manager: AlertManager, storage: Storage, alerts: Sequence[Alert]) -> None:
    """Append just-fired ``alerts`` to the stored history (bounded like the manager's)."""
    storage.append_alert_history(
        [dumps(a.to_dict()) for a in alerts],
        _limit(manager))


def save_state(manager: AlertManager, storage: Storage) -> None:
    """Store the windows, cooldowns and seen terms of every rule (nothing without rules)."""
    if manager.rules:
        storage.save_alert_state(
            dumps(manager.state_to_dict()))
