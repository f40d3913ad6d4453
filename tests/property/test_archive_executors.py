"""Property tests: Archive on Spark equals Archive on DuckDB equals the in-memory engine.

Random entries (mixed timestamp formats, out-of-order arrival, ties, odd words, every
metadata type the strategies make) are ingested into an engine and written as segments (random
batches, so an hour holds several overlapping segments); random filters, aggregations and
sessions must give the same answers, in the same order, on all three. Backtests of random
rules on both executors must equal a live engine. Spark runs in local mode (the session-scoped
``spark`` fixture) with a small example budget.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import BASE, EntrySpec, alert_rules, filter_dicts, raw_filters, spec_lists

from log_analytics_engine import Alert, AlertRule, Archive, LogAnalyticsEngine, LogEntry

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from log_analytics_engine.storage.archive_writer import SegmentWriter

SPARK = settings(max_examples=examples(0.12), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large])
GROUPS = (None, "level", "source", "tags", "region", ("level", "source"))
INTERVALS = (None, "1m", 90)
METRICS = (None, ["count"], ["count", "p95:n", "sum:n", "avg:n", "min:n", "max:n", "p50:n"],
           ["p99:n", "count"])


@contextmanager
def archived(entries: list[LogEntry], cuts: list[int]) -> Iterator[str]:
    """A folder holding ``entries`` as segments cut at ``cuts`` (ids = arrival order)."""
    folder = tempfile.mkdtemp(prefix="archive-prop-")
    try:
        writer = SegmentWriter(folder)
        pos = 0
        for cut in [*sorted({min(c, len(entries)) for c in cuts}), len(entries)]:
            if cut > pos:
                writer.write(entries[pos:cut], list(range(pos, cut)))
                pos = cut
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def dicts(entries: list[LogEntry]) -> list[dict[str, Any]]:
    """Entries as comparable dicts. A timestamp given as a ``datetime`` is archived as its
    ISO text (the archive format's rule, as in the durable copy): compared by instant."""
    out = []
    for e in entries:
        d = e.to_dict()
        d["timestamp"] = e.ts
        out.append(d)
    return out


def engine_of(entries: list[LogEntry]) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    return engine


@SPARK
@given(specs=spec_lists(max_size=30), filters=filter_dicts(max_keys=3),
       cuts=st.lists(st.integers(0, 30), max_size=3), sort_desc=st.booleans(),
       page=st.sampled_from((None, (0, 5), (1, 3))))
def test_queries_and_counts_agree(spark: Any, specs: list[EntrySpec],
                                  filters: dict[str, Any], cuts: list[int], sort_desc: bool,
                                  page: tuple[int, int] | None) -> None:
    entries = [s.build() for s in specs]
    engine = engine_of(entries)
    f = raw_filters(filters)
    p, size = page if page is not None else (None, None)
    want = dicts(engine.query_logs(f, sort_desc=sort_desc, page=p, page_size=size))
    count = engine.count_logs(f)
    with archived(entries, cuts) as folder, Archive(folder) as duck, \
            Archive(folder, executor="spark", spark=spark) as sp:
        assert dicts(duck.query_logs(f, sort_desc=sort_desc, page=p, page_size=size)) == want
        assert dicts(sp.query_logs(f, sort_desc=sort_desc, page=p, page_size=size)) == want
        assert duck.count_logs(f) == sp.count_logs(f) == count


@SPARK
@given(specs=spec_lists(max_size=30), filters=filter_dicts(max_keys=2),
       group=st.sampled_from(GROUPS), interval=st.sampled_from(INTERVALS),
       metrics=st.sampled_from(METRICS), cuts=st.lists(st.integers(0, 30), max_size=3))
def test_aggregations_agree(spark: Any, specs: list[EntrySpec], filters: dict[str, Any],
                            group: Any, interval: Any, metrics: Any, cuts: list[int]) -> None:
    entries = [s.build() for s in specs]
    f = raw_filters(filters)
    want = engine_of(entries).aggregate(f, group_by=group, interval=interval, metrics=metrics)
    with archived(entries, cuts) as folder, Archive(folder) as duck, \
            Archive(folder, executor="spark", spark=spark) as sp:
        got_duck = duck.aggregate(f, group_by=group, interval=interval, metrics=metrics)
        got_spark = sp.aggregate(f, group_by=group, interval=interval, metrics=metrics)
    assert list(got_duck.items()) == list(want.items())
    assert list(got_spark.items()) == list(want.items())


@SPARK
@given(specs=spec_lists(max_size=30), cuts=st.lists(st.integers(0, 30), max_size=3),
       key=st.sampled_from(("user_id", ("user_id", "region"))))
def test_sessions_agree(spark: Any, specs: list[EntrySpec], cuts: list[int], key: Any) -> None:
    # The strategies' messages hold no "action" field: pair on a metadata flag instead.
    entries = [s.build() for s in specs]
    for i, e in enumerate(entries):
        e.metadata["action"] = "start" if i % 3 == 0 else "end" if i % 3 == 1 else "click"
    engine = engine_of(entries)
    want = engine.sessions(key=key)
    with archived(entries, cuts) as folder, Archive(folder) as duck, \
            Archive(folder, executor="spark", spark=spark) as sp:
        for got in (duck.sessions(key=key), sp.sessions(key=key)):
            assert got == want


def alert_dicts(alerts: list[Alert]) -> list[dict[str, Any]]:
    out = []
    for a in alerts:
        d = a.to_dict()
        d["sample_logs"] = dicts(a.sample_logs)
        out.append(d)
    return out


def live_alerts(rules: list[AlertRule], entries: list[LogEntry]) -> list[Alert]:
    """A live engine with ``rules`` ingesting ``entries`` in (instant, arrival) order."""
    engine = LogAnalyticsEngine(max_alert_history=1_000_000)
    for rule in rules:
        engine.add_alert_rule(rule)
    engine.ingest_logs(sorted(entries, key=lambda e: e.ts))
    return engine.get_alerts()


def _backtest_case(archive: Archive, rules: list[AlertRule], entries: list[LogEntry],
                   bounds: tuple[float | None, float | None]) -> None:
    lo, hi = bounds
    kept = [e for e in entries if (lo is None or e.ts >= lo) and (hi is None or e.ts <= hi)]
    want = alert_dicts(live_alerts(rules, kept))
    assert alert_dicts(archive.backtest(rules, start=lo, end=hi)) == want


bounds_st = st.tuples(st.sampled_from((None, BASE + 1800.0, BASE + 3600.0)),
                      st.sampled_from((None, BASE + 7200.0, BASE + 3599.75)))


@settings(max_examples=examples(0.4), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs=spec_lists(max_size=40), rules=alert_rules(), bounds=bounds_st,
       cuts=st.lists(st.integers(0, 40), max_size=3))
def test_duckdb_backtest_equals_live_engine(specs: list[EntrySpec], rules: list[AlertRule],
                                            bounds: tuple[float | None, float | None],
                                            cuts: list[int]) -> None:
    entries = [s.build() for s in specs]
    with archived(entries, cuts) as folder, Archive(folder) as duck:
        _backtest_case(duck, rules, entries, bounds)


@SPARK
@given(specs=spec_lists(max_size=40), rules=alert_rules(), bounds=bounds_st,
       cuts=st.lists(st.integers(0, 40), max_size=3))
def test_spark_backtest_equals_live_engine(spark: Any, specs: list[EntrySpec],
                                           rules: list[AlertRule],
                                           bounds: tuple[float | None, float | None],
                                           cuts: list[int]) -> None:
    entries = [s.build() for s in specs]
    with archived(entries, cuts) as folder, Archive(folder, executor="spark", spark=spark) as sp:
        _backtest_case(sp, rules, entries, bounds)


def test_backtest_of_match_only_rules_reads_only_matches(tmp_path: Any) -> None:
    """With threshold and new_term rules only, the executor is asked for the matches alone
    (the answer is the same as replaying everything)."""
    entries = [LogEntry(BASE + i * 7.0, "ERROR" if i % 3 else "INFO", f"db timeout {i % 4}",
                        "api" if i % 2 else "db") for i in range(300)]
    SegmentWriter(tmp_path).write(entries, list(range(len(entries))))
    rules = [AlertRule("errors", conditions={"level": "ERROR", "source": "api"}, threshold=3,
                       time_window=30, cooldown=20),
             AlertRule("new", conditions={"source": "db"}, kind="new_term", field="message")]
    with Archive(tmp_path) as archive:
        asked: list[Any] = []
        entries_of = archive._run.entries

        def spy(node: Any, *args: Any, **kwargs: Any) -> Any:
            got = entries_of(node, *args, **kwargs)
            asked.extend(got)
            return got

        archive._run.entries = spy
        got = archive.backtest(rules)
    assert alert_dicts(got) == alert_dicts(live_alerts(rules, entries))
    assert got
    assert len(asked) == sum(1 for e in entries if any(r.matches(e) for r in rules)) < 300
