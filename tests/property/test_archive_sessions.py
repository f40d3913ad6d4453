"""Sessions on the archive are paired by the executor's window functions
(:mod:`log_analytics_engine.events.archive_sessions`) and must equal the engine's pairing:
every complete session (key, start, end, in order of the end), every incomplete one (key,
instant, action, reason, in time order), the metrics, the event and skipped counts. Random
events: ties and late arrivals, missing and empty keys, sources that fall back to metadata,
actions that are neither start nor end, and (to check the fallback) values that are not
text. When every key, user and feature value is text the SQL path must be the one taken.
"""

from __future__ import annotations

import tempfile
from typing import Any
from unittest import mock

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from archive_helpers import write_cut
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from log_analytics_engine import Archive, LogAnalyticsEngine, LogEntry
from log_analytics_engine.events import archive_sessions
from log_analytics_engine.events.sessions import SessionsResult

pytestmark = pytest.mark.property

TEXT_VALUES = (None, "u1", "u2", "", "é ü")
KEYS: tuple[Any, ...] = (("user_id", "feature"), "user_id", ("source", "feature"), "level",
                         ("user_id", "session"), "session", ("request_id",))
MISSING = object()


@st.composite
def events(draw: st.DrawFn, text_only: bool) -> LogEntry:
    value = st.sampled_from(TEXT_VALUES) if text_only else st.one_of(
        st.sampled_from(TEXT_VALUES), st.sampled_from((1, 1.0, True, [1], {"a": 1})))
    md: dict[str, Any] = {}
    for name in ("feature", "session", "source", "request_id"):
        v = draw(st.one_of(st.just(MISSING), value))
        if v is not MISSING:
            md[name] = v
    action = draw(st.sampled_from(("start", "end", "start", "end", "other", MISSING, 7)))
    if action is not MISSING:
        md["action"] = action
    return LogEntry(float(draw(st.integers(0, 30))),
                    draw(st.sampled_from(("INFO", "ERROR"))), "m",
                    source=draw(st.sampled_from(("", "api", "db"))),
                    user_id=draw(st.sampled_from((None, "u1", "u2"))),
                    request_id=draw(st.sampled_from((None, "r1"))), metadata=md)


def full(r: SessionsResult) -> tuple[Any, ...]:
    return (r.key, [(s.key, s.start, s.end) for s in r.complete],
            [(i.key, i.at, i.action, i.reason) for i in r.incomplete],
            r.by_feature, r.by_user, r.by_hour, r.events, r.skipped, r.to_dict())


def _text_only(entries: list[LogEntry], names: tuple[str, ...]) -> bool:
    return all(e.get(n) is None or isinstance(e.get(n), str) for e in entries for n in names)


@settings(max_examples=examples(1))
@given(st.booleans().flatmap(lambda t: st.lists(events(t), max_size=40)),
       st.integers(0, 40), st.sampled_from(KEYS),
       st.sampled_from((None, {"level": "ERROR"}, "source:api", {"start_time": 5})),
       st.sampled_from((("user_id", "feature"), ("session", "source"))))
def test_archive_sessions_equal_the_engines(entries, cut, key, query, metric_fields) -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    user_field, feature_field = metric_fields
    kwargs = {"key": key, "user_field": user_field, "feature_field": feature_field}
    want = engine.sessions(query, **kwargs)
    names = ((key,) if isinstance(key, str) else key) + metric_fields
    with tempfile.TemporaryDirectory() as folder:
        write_cut(entries, [cut], folder)
        with Archive(folder) as archive:
            if _text_only(entries, names):  # the window-function path must answer
                with mock.patch.object(archive_sessions, "build_sessions",
                                       side_effect=AssertionError("not paired in SQL")):
                    got = archive.sessions(query, **kwargs)
            else:
                got = archive.sessions(query, **kwargs)
    assert full(got) == full(want)


def test_other_start_and_end_values_pair_in_the_engine() -> None:
    entries = [LogEntry(1, "INFO", "m", user_id="u", metadata={"feature": "f", "action": 1}),
               LogEntry(2, "INFO", "m", user_id="u", metadata={"feature": "f", "action": 2})]
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    with tempfile.TemporaryDirectory() as folder:
        write_cut(entries, [1], folder)
        with Archive(folder) as archive:
            got = archive.sessions(start=1, end=2)
    assert full(got) == full(engine.sessions(start=1, end=2))
    assert [s.duration for s in got.complete] == [1.0]


SPARK = settings(max_examples=examples(0.12), deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow])


@SPARK
@given(st.lists(events(True), max_size=30), st.integers(0, 30), st.sampled_from(KEYS),
       st.sampled_from((None, {"level": "ERROR"})))
def test_spark_pairs_sessions_as_the_engine(spark: Any, entries: list[LogEntry], cut: int,
                                            key: Any, query: Any) -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    want = engine.sessions(query, key=key)
    with tempfile.TemporaryDirectory() as folder:
        write_cut(entries, [cut], folder)
        with Archive(folder, executor="spark", spark=spark) as archive, \
                mock.patch.object(archive_sessions, "build_sessions",
                                  side_effect=AssertionError("not paired in SQL")):
            got = archive.sessions(query, key=key)
    assert full(got) == full(want)
