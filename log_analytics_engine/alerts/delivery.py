"""Notification hooks: synchronous delivery and an optional bounded background queue."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from .model import Alert

__all__ = ["AlertDelivery", "Hook", "HookRunner"]

log = logging.getLogger(__name__)

#: A notification hook: called once per alert, after the engine lock is released.
Hook = Callable[[Alert], None]


class HookRunner:
    """The registered hooks and their failure counters (thread-safe)."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self.errors = 0
        self.dropped = 0
        self._lock = threading.Lock()

    def run(self, alerts: Sequence[Alert]) -> None:
        """Call every hook for every alert in registration order; failures are logged."""
        hooks = list(self.hooks)
        for alert in alerts:
            for hook in hooks:
                try:
                    hook(alert)
                except Exception:
                    with self._lock:
                        self.errors += 1
                    log.exception("alert notification hook %r failed on %r", hook,
                                  alert.rule_name)

    def count_dropped(self, n: int) -> None:
        with self._lock:
            self.dropped += n


class AlertDelivery:
    """A background thread that runs the hooks, fed by a bounded queue.

    When the queue is full, ``overflow="drop"`` (the default) drops the alert's notification
    (the alert stays in the history and the counters; ``dropped`` and the Prometheus counter
    ``log_analytics_alert_notifications_dropped_total`` grow and a warning is logged), and
    ``overflow="block"`` makes the ingesting thread wait for room (after the engine lock was
    released, so queries are not blocked). :meth:`stop` delivers what is queued, then joins.
    """

    def __init__(self, runner: HookRunner, maxsize: int = 1000, overflow: str = "drop") -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"queue size must be a whole number >= 1, got {maxsize!r}")
        if overflow not in ("drop", "block"):
            raise ValueError(f"overflow must be 'drop' or 'block', got {overflow!r}")
        self._runner = runner
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize)
        self.overflow = overflow
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="alert-delivery", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the delivery thread is alive."""
        return self._thread.is_alive()

    def submit(self, alerts: Sequence[Alert]) -> None:
        """Queue alerts for the hooks; never raises. O(1) per alert unless blocking."""
        for alert in alerts:
            if self.overflow == "block":
                self._queue.put(alert)
                continue
            try:
                self._queue.put_nowait(alert)
            except queue.Full:
                self._runner.count_dropped(1)
                log.warning("alert delivery queue full: notification of %r dropped",
                            alert.rule_name)

    def _loop(self) -> None:
        while True:
            alert = self._queue.get()
            try:
                if alert is None:
                    return
                self._runner.run((alert,))
            finally:
                self._queue.task_done()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Deliver the queued alerts, stop the thread and wait for it (idempotent)."""
        if not self._stopped:
            self._stopped = True
            self._queue.put(None)
        self._thread.join(timeout)
