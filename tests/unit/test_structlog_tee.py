"""StructlogTee: structlog events are teed into the engine and passed on unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.integrations.structlog import StructlogTee

structlog = pytest.importorskip("structlog")


@pytest.fixture
def engine() -> LogAnalyticsEngine:
    return LogAnalyticsEngine()


@pytest.fixture
def log(engine: LogAnalyticsEngine) -> Iterator[Any]:
    rendered: list[Any] = []

    def capture(logger: Any, name: str, event_dict: Any) -> str:
        rendered.append(dict(event_dict))
        return "rendered"

    structlog.configure(
        processors=[structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    StructlogTee(engine), capture],
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    logger = structlog.get_logger("checkout")
    logger.rendered = rendered
    yield logger
    structlog.reset_defaults()


def test_event_becomes_an_entry_with_level_message_and_metadata(
    engine: LogAnalyticsEngine, log: Any
) -> None:
    log.warning("payment declined", order_id=7, logger="payments")
    (entry,) = engine.query_logs()
    assert (entry.level, entry.message, entry.source) == ("WARN", "payment declined", "payments")
    assert entry.metadata == {"order_id": 7}


def test_event_is_passed_on_unchanged_to_the_next_processor(
    engine: LogAnalyticsEngine, log: Any
) -> None:
    log.info("hello", user="u1")
    (seen,) = log.rendered
    assert seen["event"] == "hello"
    assert seen["user"] == "u1"
    assert seen["level"] == "info"


def test_timestamp_from_the_event_is_the_entry_time(engine: LogAnalyticsEngine) -> None:
    tee = StructlogTee(engine)
    tee(None, "info", {"event": "x", "timestamp": "2025-07-21T10:00:00Z"})
    assert engine.query_logs()[0].ts == 1_753_092_000.0


def test_exception_traceback_lands_in_metadata(engine: LogAnalyticsEngine, log: Any) -> None:
    try:
        raise RuntimeError("kaput")
    except RuntimeError:
        log.exception("crashed")
    entry = engine.query_logs()[0]
    assert entry.level == "ERROR"
    assert "RuntimeError: kaput" in entry.metadata["exc_info"]


def test_tags_list_becomes_entry_tags(engine: LogAnalyticsEngine) -> None:
    StructlogTee(engine)(None, "info", {"event": "x", "tags": ["billing"]})
    assert engine.count_logs({"tag": "billing"}) == 1


def test_bad_event_is_counted_not_raised(engine: LogAnalyticsEngine) -> None:
    tee = StructlogTee(engine)
    event = {"event": "x", "timestamp": "not a time"}
    assert tee(None, "info", event) is event
    assert tee.errors == 1
    assert len(engine) == 0
