"""Property tests: a backtest fires exactly what a live engine fires on the same entries.

Random rules of every kind (threshold, spike, absence, new_term; grouped or not; cooldowns;
disabled ones), random entries (ties, metadata of several types, missing group values) fed to
the live engine in random batch sizes, and to :func:`backtest` at once.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import alert_rules as rules_st

from log_analytics_engine import Alert, AlertRule, LogAnalyticsEngine, LogEntry
from log_analytics_engine.alerts import backtest
from log_analytics_engine.alerts import replay as backtest_module

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SOURCES = ("api", "db", "web")
WORDS = ("timeout", "disk", "payment", "ok", "Über", "日本")


def _entry(ts: float, level: str, words: list[str], source: str, tags: list[str],
           user: str | None, meta: dict[str, Any]) -> LogEntry:
    return LogEntry(ts, level, " ".join(words), source, user_id=user, tags=tags, metadata=meta)


metadata = st.fixed_dictionaries({}, optional={
    "region": st.sampled_from(("eu", "us", "")),
    "n": st.one_of(st.integers(-2, 2), st.floats(-1, 1, allow_nan=False), st.booleans()),
    "roles": st.lists(st.sampled_from(("x", "y")), max_size=2),
})
_entries = st.lists(st.builds(
    _entry,
    st.one_of(st.integers(0, 30).map(lambda n: float(n * 10)),
              st.floats(0, 300, allow_nan=False).map(lambda x: round(x * 4) / 4)),
    st.sampled_from(LEVELS),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
    st.sampled_from(SOURCES),
    st.lists(st.sampled_from(("a", "b", "c")), max_size=2, unique=True),
    st.sampled_from((None, "u1", "u2")),
    metadata,
), max_size=70)


def _random_stream(rng: Any) -> list[LogEntry]:
    """A denser stream than list strategies tend to draw: 0-80 entries on a 10 s grid."""
    return [_entry(rng.randrange(31) * 10.0, rng.choice(LEVELS), rng.sample(WORDS, 2),
                   rng.choice(SOURCES), rng.sample(("a", "b", "c"), rng.randint(0, 2)),
                   rng.choice((None, "u1", "u2")),
                   rng.choice(({}, {"region": rng.choice(("eu", "us"))}, {"n": rng.randint(0, 2)})))
            for _ in range(rng.randrange(81))]


entries_st = st.one_of(_entries, st.randoms(use_true_random=False).map(_random_stream))


def live(rules: list[AlertRule], entries: list[LogEntry], cuts: list[int]) -> list[Alert]:
    engine = LogAnalyticsEngine()
    for rule in rules:
        engine.add_alert_rule(rule)
    pos = 0
    for cut in [*sorted(cuts), len(entries)]:
        chunk = entries[pos:max(cut, pos)]
        if len(chunk) == 1:
            engine.ingest_log(chunk[0])
        elif chunk:
            engine.ingest_logs(chunk)
        pos = max(cut, pos)
    engine._alerts._check()
    return engine.get_alerts()


def dicts(alerts: list[Alert]) -> list[dict[str, Any]]:
    return [a.to_dict() for a in alerts]


@settings(max_examples=examples(1.5), deadline=None)
@given(rules_st(), entries_st, st.lists(st.integers(0, 70), max_size=5), st.booleans())
def test_backtest_equals_live_engine(rules: list[AlertRule], entries: list[LogEntry],
                                     cuts: list[int], ordered: bool) -> None:
    """In (instant, id) order, as an archive reads back, and in arrival order (late entries)."""
    if ordered:
        entries = sorted(entries, key=lambda e: e.ts)
    want = dicts(live(rules, entries, cuts))
    assert dicts(backtest(rules, entries)) == want


@settings(max_examples=examples(0.5), deadline=None)
@given(rules_st(), entries_st, st.integers(1, 7))
def test_backtest_does_not_depend_on_its_chunk_size(rules: list[AlertRule],
                                                    entries: list[LogEntry], size: int) -> None:
    entries = sorted(entries, key=lambda e: e.ts)
    whole = dicts(backtest(rules, entries))
    old = backtest_module.CHUNK
    backtest_module.CHUNK = size
    try:
        assert dicts(backtest(rules, iter(entries))) == whole
    finally:
        backtest_module.CHUNK = old


@settings(max_examples=examples(0.3), deadline=None)
@given(rules_st(), entries_st)
def test_backtest_with_stored_words_equals_without(rules: list[AlertRule],
                                                   entries: list[LogEntry]) -> None:
    from log_analytics_engine.model.tokenize import tokenize

    entries = sorted(entries, key=lambda e: e.ts)
    words = [list(tokenize(e.message)) for e in entries]
    assert dicts(backtest(rules, entries, words=words)) == dicts(backtest(rules, entries))


@pytest.mark.parametrize("horizon", [0.0, 20.0])
def test_backtest_late_horizon_equals_engine(horizon: float) -> None:
    entries = [LogEntry(t, "ERROR", "x") for t in (100, 110, 50, 105, 40, 120)]
    rule = AlertRule("r", conditions={"level": "ERROR"}, threshold=2, time_window=30)
    engine = LogAnalyticsEngine()
    engine.configure_alerts(late_horizon=horizon)
    engine.add_alert_rule(rule)
    engine.ingest_logs(entries)
    assert dicts(backtest([rule], entries, late_horizon=horizon)) == dicts(engine.get_alerts())
