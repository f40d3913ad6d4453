"""Property tests: the engine's alerts equal a brute-force evaluator of the documented rules.

The brute force keeps every match and, for each arriving match at ``t``, looks at every
window ``(e - W, e]`` ending at a match time ``e`` with ``t <= e < t + W`` (every window that
contains the new entry), counting by a full scan. The first such window that qualifies fires.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import fingerprint

from log_analytics_engine import AlertRule, LogAnalyticsEngine, LogEntry
from log_analytics_engine.query.filters import compile_filters

SOURCES = ("api", "db", "web")
LEVELS = ("INFO", "WARN", "ERROR", "FATAL")
WORDS = ("timeout", "disk", "payment", "ok")
CONDITIONS: list[dict[str, Any]] = [
    {"level": "ERROR"},
    {"level": ["ERROR", "FATAL"]},
    {"min_severity": "WARN", "source": "api"},
    {"keyword": "timeout"},
    {"source": "db", "keyword": "disk"},
    {"tags": ["a", "b"]},
    {"regex": "pay"},
    {"level": "ERROR", "regex": "^t"},
    {},
]


def entry_strategy(max_ts: int) -> st.SearchStrategy[LogEntry]:
    # Coarse times (multiples of 10 s) make ties and window-boundary hits frequent.
    return st.builds(
        lambda ts, lv, src, words, tags: LogEntry(ts, lv, " ".join(words), src, tags=tags),
        st.one_of(st.integers(0, max_ts // 10).map(lambda n: n * 10), st.integers(0, max_ts)),
        st.sampled_from(LEVELS), st.sampled_from(SOURCES),
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
        st.lists(st.sampled_from(("a", "b", "c")), max_size=2, unique=True),
    )


def _random_stream(rng: Any) -> list[LogEntry]:
    """A denser stream than list strategies tend to draw: 0-80 entries on a 10 s grid."""
    return [LogEntry(rng.randrange(26) * 10, rng.choice(LEVELS),
                     " ".join(rng.sample(WORDS, rng.randint(1, 3))), rng.choice(SOURCES),
                     tags=rng.sample(("a", "b", "c"), rng.randint(0, 2)))
            for _ in range(rng.randrange(81))]


def in_order(entries: list[LogEntry]) -> list[LogEntry]:
    return sorted(entries, key=lambda e: e.ts)


def brute_force(entries: list[LogEntry], conditions: dict[str, Any], window: float,
                threshold: int, cooldown: float = 0.0, horizon: float = math.inf,
                spike_ratio: float | None = None) -> list[tuple[float, int]]:
    """(triggered_at, count) of every alert, by scanning all matches for every window."""
    node = compile_filters(conditions)
    start = entries[0].ts if entries else 0.0
    matches: list[float] = []
    fired: list[float] = []
    out: list[tuple[float, int]] = []
    for entry in entries:
        if not node.match(entry):
            continue
        t = entry.ts
        newest = max(matches, default=-math.inf)
        if t <= newest - horizon - window * (2 if spike_ratio else 1):
            continue  # beyond anything the state keeps
        matches.append(t)
        if t < newest - horizon:
            continue  # too late to fire
        for e in sorted({x for x in matches if t <= x < t + window}):
            count = sum(1 for x in matches if e - window < x <= e)
            if count < threshold:
                continue
            if spike_ratio is not None:
                prev = sum(1 for x in matches if e - 2 * window < x <= e - window)
                if e - 2 * window < start or count < spike_ratio * prev:
                    continue
            if all(abs(e - f) >= cooldown for f in fired):
                fired.append(e)
                out.append((e, count))
                break
    return out


def engine_alerts(entries: list[LogEntry], rule: AlertRule, horizon: float = 1e9,
                  batch: bool = True) -> list[tuple[float, int]]:
    engine = LogAnalyticsEngine()
    engine.configure_alerts(late_horizon=horizon)
    engine.add_alert_rule(rule)
    if batch:
        engine.ingest_logs(entries)
    else:
        for e in entries:
            engine.ingest_log(e)
    engine._alerts._check()
    return [(a.triggered_at.timestamp(), a.count) for a in engine.get_alerts()]


stream = st.one_of(st.lists(entry_strategy(250), max_size=60),
                   st.randoms(use_true_random=False).map(_random_stream))
windows = st.sampled_from((10.0, 30.0, 60.0))


@settings(max_examples=80, deadline=None)
@given(stream, st.sampled_from(CONDITIONS), windows, st.integers(1, 4))
def test_threshold_in_order_equals_brute_force(entries: list[LogEntry], cond: dict[str, Any],
                                               window: float, threshold: int) -> None:
    entries = in_order(entries)
    rule = AlertRule("r", conditions=cond, threshold=threshold, time_window=window)
    assert engine_alerts(entries, rule) == brute_force(entries, cond, window, threshold)


@settings(max_examples=80, deadline=None)
@given(stream, st.sampled_from(CONDITIONS), windows, st.integers(1, 4))
def test_threshold_out_of_order_equals_brute_force(entries: list[LogEntry],
                                                   cond: dict[str, Any], window: float,
                                                   threshold: int) -> None:
    rule = AlertRule("r", conditions=cond, threshold=threshold, time_window=window)
    assert engine_alerts(entries, rule) == brute_force(entries, cond, window, threshold)


@settings(max_examples=80, deadline=None)
@given(stream, st.sampled_from(CONDITIONS), windows, st.integers(1, 4),
       st.sampled_from((5.0, 30.0, 100.0)))
def test_threshold_with_cooldown_equals_brute_force(entries: list[LogEntry],
                                                    cond: dict[str, Any], window: float,
                                                    threshold: int, cooldown: float) -> None:
    rule = AlertRule("r", conditions=cond, threshold=threshold, time_window=window,
                     cooldown=cooldown)
    assert engine_alerts(entries, rule) == brute_force(entries, cond, window, threshold,
                                                       cooldown)


@settings(max_examples=80, deadline=None)
@given(stream, st.sampled_from(CONDITIONS[:4]), windows, st.integers(1, 3),
       st.sampled_from((0.0, 20.0, 50.0)))
def test_late_horizon_equals_brute_force(entries: list[LogEntry], cond: dict[str, Any],
                                         window: float, threshold: int,
                                         horizon: float) -> None:
    rule = AlertRule("r", conditions=cond, threshold=threshold, time_window=window)
    got = engine_alerts(entries, rule, horizon=horizon)
    assert got == brute_force(entries, cond, window, threshold, horizon=horizon)


@settings(max_examples=80, deadline=None)
@given(stream, st.sampled_from(CONDITIONS), windows, st.integers(1, 3),
       st.sampled_from((1.5, 2.0, 3.0)))
def test_spike_equals_brute_force(entries: list[LogEntry], cond: dict[str, Any],
                                  window: float, threshold: int, ratio: float) -> None:
    rule = AlertRule("r", conditions=cond, threshold=threshold, time_window=window,
                     kind="spike", spike_ratio=ratio)
    assert engine_alerts(entries, rule) == brute_force(entries, cond, window, threshold,
                                                       spike_ratio=ratio)


@settings(max_examples=60, deadline=None)
@given(stream, st.sampled_from(("threshold", "spike", "absence", "new_term")),
       st.sampled_from((None, "source")), st.sampled_from((0.0, 40.0)))
def test_batch_equals_one_at_a_time(entries: list[LogEntry], kind: str, group_by: str | None,
                                    cooldown: float) -> None:
    def run(batch: bool) -> list[dict[str, Any]]:
        engine = LogAnalyticsEngine()
        engine.add_alert_rule(AlertRule("r", conditions={"min_severity": "WARN"}, threshold=2,
                                        time_window=30, kind=kind, group_by=group_by,
                                        cooldown=cooldown, field="message"))
        if batch:
            engine.ingest_logs(entries)
        else:
            for e in entries:
                engine.ingest_log(e)
        engine._alerts._check()
        return [a.to_dict() for a in engine.get_alerts()]

    assert run(batch=True) == run(batch=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(entry_strategy(400), min_size=1, max_size=40), st.sampled_from(CONDITIONS))
def test_rule_matches_exactly_what_query_logs_returns(entries: list[LogEntry],
                                                      cond: dict[str, Any]) -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    rule = AlertRule("r", conditions=cond)
    queried = Counter(map(fingerprint, engine.query_logs(cond)))
    assert Counter(fingerprint(e) for e in entries if rule.matches(e)) == queried


@settings(max_examples=60, deadline=None)
@given(stream, st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=5))
def test_dispatch_checks_every_rule_that_matches(entries: list[LogEntry],
                                                 conds: list[dict[str, Any]]) -> None:
    """With threshold 1 every match fires, so dispatch must deliver every match to its rule."""
    engine = LogAnalyticsEngine()
    for i, cond in enumerate(conds):
        engine.add_alert_rule(AlertRule(f"r{i}", conditions=cond, threshold=1))
    engine.ingest_logs(entries)
    got = [(a.rule_name, id(a.sample_logs[-1])) for a in engine.get_alerts()]
    want = [(f"r{i}", id(e)) for e in entries for i, cond in enumerate(conds)
            if compile_filters(cond).match(e)]
    assert got == want
