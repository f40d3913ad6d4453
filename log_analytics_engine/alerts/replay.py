"""Alert backtests: the alerts some rules would have fired over a stream of past entries.

:func:`backtest` replays entries through the engine's own evaluation (an
:class:`~.manager.AlertManager` with the same dispatch, windows, kinds and cooldowns, in event
time) without an engine, a lock or notification hooks. It is what a live
:class:`~log_analytics_engine.LogAnalyticsEngine` holding only those rules fires when the same
entries are ingested in the same order, in any batch sizes:

* every rule is added before the first entry, so each starts observing at the first entry's
  event time (what ``spike`` rules and an ungrouped ``absence`` rule measure from);
* the manager evaluates entry by entry in arrival order (the rules an entry matches in rule
  order, then the ``absence`` deadlines its event time passes), so how a stream is cut into
  batches changes nothing;
* the rules are copied first: the caller's :attr:`AlertRule.last_triggered` is left alone.

Entries read back from an archive come in ``(instant, id)`` order, so no entry is late and the
late horizon only bounds memory; replaying entries out of time order behaves like a live
engine receiving them out of order (late entries within ``late_horizon`` may still fire).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

from ..model.entry import LogEntry
from .manager import AlertManager
from .model import Alert, AlertRule

__all__ = ["backtest"]

#: Entries handed to the manager at a time (only bounds the working set: see the module doc).
CHUNK = 4096


def _chunks(entries: Iterable[LogEntry], words: Iterable[Sequence[str]] | None,
            size: int) -> Iterator[tuple[list[LogEntry], list[Sequence[str]] | None]]:
    it = iter(entries)
    wit = iter(words) if words is not None else None
    while True:
        batch = list(islice(it, size))
        if not batch:
            return
        toks = list(islice(wit, len(batch))) if wit is not None else None
        if toks is not None and len(toks) != len(batch):
            raise ValueError("words must give one word list per entry")
        yield batch, toks


def backtest(rules: Iterable[AlertRule], entries: Iterable[LogEntry], *,
             words: Iterable[Sequence[str]] | None = None,
             late_horizon: float = 600.0) -> list[Alert]:
    """The alerts ``rules`` fire over ``entries`` replayed in the order given.

    Equal to the alerts of a fresh engine with those rules (``configure_alerts(late_horizon=
    ...)`` alike) ingesting ``entries`` in that order, minus the engine's bounded history:
    every alert is returned, oldest first. ``words`` (optional) are the entries' words as the
    engine's tokenizer produced them (an archive stores them); otherwise messages are
    tokenized here when a rule is keyed by a word. Memory is the rules' window state plus one
    chunk of entries; the iterables are consumed lazily. O(n (1 + c)) for n entries each
    checked against the c rules dispatched to it.

    >>> from log_analytics_engine import AlertRule, LogEntry
    >>> rule = AlertRule("errors", conditions={"level": "ERROR"}, threshold=2, time_window=60)
    >>> [(a.rule_name, a.count) for a in backtest(
    ...     [rule], [LogEntry(t, "ERROR", "db down") for t in (100, 130, 400)])]
    [('errors', 2)]
    """
    manager = AlertManager(max_history=1, late_horizon=late_horizon)
    names: set[str] = set()
    for rule in rules:
        if not isinstance(rule, AlertRule):
            raise TypeError(f"expected an AlertRule, got {type(rule).__name__}")
        if rule.name in names:
            raise ValueError(f"two rules named {rule.name!r}: a live engine keeps only the last")
        names.add(rule.name)
        mine = copy.copy(rule)
        mine.last_triggered = None
        manager.add_rule(mine)
    out: list[Alert] = []
    if not names:
        return out
    for batch, toks in _chunks(entries, words, CHUNK):
        out.extend(manager.observe(batch, toks))
    return out
