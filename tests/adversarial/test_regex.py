"""Hostile regular expressions: a length cap, a linear-time engine when installed, evaluation
outside the engine lock (ingestion never waits for a regex) and a deadline."""

from __future__ import annotations

import itertools
import threading
from typing import Any
from unittest import mock

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.errors import InvalidFilterError, QueryTimeoutError
from log_analytics_engine.query import residual
from log_analytics_engine.query.nodes import IndexTerm, Regex
from log_analytics_engine.query.regex import LINEAR_TIME, MAX_REGEX_LENGTH
from log_analytics_engine.query.residual import Deadline, ResidualPlan

HOSTILE = "(a+)+$"


def _engine(n: int = 8) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, "ERROR" if i % 2 else "INFO", "a" * 26 + "b")
                        for i in range(n)])
    return engine


class _BlockingPattern:
    """A pattern whose search waits until released: a regex that takes as long as a test
    wants, without timing anything."""

    pattern = "blocking"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def search(self, text: str) -> Any:
        self.started.set()
        assert self.release.wait(60), "never released"
        return None


def test_regex_longer_than_the_cap_is_refused() -> None:
    engine = _engine()
    with pytest.raises(InvalidFilterError, match="longer than 1000 characters"):
        engine.query_logs({"regex": "a" * (MAX_REGEX_LENGTH + 1)})
    with pytest.raises(InvalidFilterError, match="longer than 1000 characters"):
        engine.search('regex:"' + "a" * 200_000 + '"')
    assert engine.count_logs({"regex": "a" * MAX_REGEX_LENGTH}) == 0


@pytest.mark.skipif(not LINEAR_TIME, reason="the re2 extra is not installed")
def test_catastrophic_pattern_runs_in_linear_time() -> None:
    """``(a+)+$`` over 26 ``a``s took 68 s with backtracking; RE2 answers at once (the test
    would not finish otherwise)."""
    engine = _engine()
    assert engine.query_logs({"regex": HOSTILE}) == []
    assert engine.count_logs({"regex": "(a+)+b$"}) == 8
    assert engine.search('regex:"(a+)+$"') == []


@pytest.mark.skipif(not LINEAR_TIME, reason="the re2 extra is not installed")
def test_backreferences_are_refused_with_a_reason() -> None:
    with pytest.raises(InvalidFilterError, match="linear-time"):
        _engine().query_logs({"regex": r"(a+)\1"})


def test_ingestion_completes_while_a_regex_query_runs() -> None:
    """A query stuck in its regex holds no lock: another thread ingests (and counts) while
    it still runs."""
    engine = _engine()
    pattern = _BlockingPattern()
    done = threading.Event()
    result: list[Any] = []

    def query() -> None:
        result.append(engine.query_logs(Regex(pattern)))  # type: ignore[arg-type]
        done.set()

    worker = threading.Thread(target=query)
    worker.start()
    try:
        assert pattern.started.wait(30)
        assert engine.ingest_log(LogEntry(100, "ERROR", "during the query")) == 1
        assert engine.count_logs({"level": "ERROR"}) == 5
        engine.get_stats()
        assert not done.is_set()  # the regex query is still running
    finally:
        pattern.release.set()
        worker.join(60)
    assert result == [[]]


def test_regex_query_sees_the_entries_of_its_snapshot() -> None:
    """Residual checks run on the candidates fixed under the lock, in result order."""
    engine = _engine(20)
    hits = engine.query_logs({"level": "ERROR", "regex": "b$"}, sort_desc=True, page=1,
                             page_size=3)
    assert [e.ts for e in hits] == [13.0, 11.0, 9.0]
    assert engine.count_logs({"level": "ERROR", "regex": "^a+b$"}) == 10
    assert engine.aggregate({"regex": "b$"}, group_by="level") == {
        "ERROR": {"count": 10}, "INFO": {"count": 10}}
    page = engine.query_page({"regex": "b$"}, page_size=7)
    assert [e.ts for e in page.entries] == [float(i) for i in range(7)]
    nxt = engine.query_page({"regex": "b$"}, page_size=7, cursor=page.next_cursor)
    assert [e.ts for e in nxt.entries] == [float(i) for i in range(7, 14)]


def test_plan_splits_the_regex_from_the_indexed_part() -> None:
    plan = ResidualPlan(IndexTerm("level", "ERROR") & Regex.__new__(Regex))
    assert plan.indexed == IndexTerm("level", "ERROR")
    assert isinstance(plan.residual, Regex)
    assert ResidualPlan(IndexTerm("level", "ERROR")).residual is None


def test_query_past_its_deadline_raises() -> None:
    engine = _engine(500)
    clock = itertools.count(0.0, 10.0)  # every look at the clock is 10 s later
    with mock.patch.object(residual.time, "monotonic", side_effect=clock.__next__), \
            pytest.raises(QueryTimeoutError, match="longer than 2 s"):
        engine.query_logs({"regex": "b$"}, timeout=2.0)
    cancel = threading.Event()
    cancel.set()
    plan = ResidualPlan(Regex.__new__(Regex), Deadline(cancel=cancel))
    with pytest.raises(QueryTimeoutError, match="cancelled"):
        plan.finish_count(engine.query_logs())


def test_dashboard_answers_503_past_the_deadline() -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from log_analytics_engine.dashboard import create_app

    client = TestClient(create_app(_engine(100)), base_url="http://localhost")
    clock = itertools.count(0.0, 10.0)
    with mock.patch.object(residual.time, "monotonic", side_effect=clock.__next__):
        response = client.get("/api/logs", params={"regex": "b$"})
    assert response.status_code == 503
    assert "longer than" in response.json()["reason"]
    ok = client.get("/api/logs", params={"regex": "b$", "page_size": 5})
    assert ok.status_code == 200
    assert ok.json()["total"] == 100


def test_dashboard_stops_the_query_of_a_client_that_went_away() -> None:
    """The dashboard polls for a disconnect while the query runs in a worker thread and
    cancels it; the query stops at its next entry."""
    pytest.importorskip("fastapi")
    import asyncio

    from log_analytics_engine.dashboard.api import run_cancellable

    engine = _engine(50)
    deadline = Deadline(None, threading.Event())
    assert deadline.cancel is not None
    cancel = deadline.cancel
    checked: list[int] = []

    class _WaitsForCancel:
        pattern = "waits"

        def search(self, text: str) -> Any:
            checked.append(1)
            assert cancel.wait(60), "never cancelled"
            return None

    class _GoneClient:
        async def is_disconnected(self) -> bool:
            return True

    def work() -> Any:
        return engine.count_logs(Regex(_WaitsForCancel()), timeout=deadline)  # type: ignore[arg-type]

    with pytest.raises(QueryTimeoutError, match="cancelled"):
        asyncio.run(run_cancellable(_GoneClient(), deadline, work, poll=0.01))
    assert cancel.is_set()
    assert len(checked) <= 2 * residual._STRIDE < 50  # stopped at its next look


def test_sessions_with_a_regex_filter_run_it_outside_the_lock() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, "INFO", f"user {i % 2} {'start' if i < 2 else 'end'}",
                                 metadata={"user_id": f"u{i % 2}",
                                           "action": "start" if i < 2 else "end"})
                        for i in range(4)])
    pattern = _BlockingPattern()
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(
        engine.sessions(Regex(pattern), key="user_id")))  # type: ignore[arg-type]
    worker.start()
    try:
        assert pattern.started.wait(30)
        assert engine.ingest_log(LogEntry(9, "INFO", "while sessions are built")) == 1
    finally:
        pattern.release.set()
        worker.join(60)
    assert result
    regex_result = engine.sessions({"regex": "user"}, key="user_id")
    assert len(regex_result.complete) == 2


@pytest.mark.skipif(not LINEAR_TIME, reason="the re2 extra is not installed")
@pytest.mark.parametrize("pattern", ["^db", "time.ut", "(?i)error", "fail(ed)?$", r"\buser\b",
                                     "x^", "é+", r"(a+)+$", "[0-9]{3}", ""])
def test_re2_fast_search_agrees_with_the_binding(pattern: str) -> None:
    """The one-call search says the same as the binding's own ``search``."""
    import re2

    from log_analytics_engine.query.regex import compile_regex

    ours = compile_regex(pattern)
    theirs = re2.compile(pattern)
    for text in ["", "db timeout", "a db", "Error: x", "failed", "fail", "the user x",
                 "users", "aaaa", "aaab", "café é", "123", "\n", "time-out"]:
        assert (ours.search(text) is not None) == (theirs.search(text) is not None), text
    ours.search("x\udcff y")  # a lone surrogate (set after construction) does not raise
    assert repr(ours) == repr(compile_regex(pattern))  # stable for query cursors
