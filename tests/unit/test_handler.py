"""LogAnalyticsHandler: record mapping, no recursion or deadlock, never raises, queue mode."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogAnalyticsHandler, LogEntry


@pytest.fixture
def engine() -> LogAnalyticsEngine:
    return LogAnalyticsEngine()


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    log = logging.getLogger(f"test.handler.{request.node.name}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()


def attach(logger: logging.Logger, handler: logging.Handler) -> logging.Handler:
    logger.addHandler(handler)
    return handler


def test_record_maps_time_level_message_source_and_thread(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    attach(logger, LogAnalyticsHandler(engine))
    logger.warning("disk %s%% full", 91)
    (entry,) = engine.query_logs()
    assert (entry.level, entry.message, entry.source) == ("WARN", "disk 91% full", logger.name)
    assert entry.thread_id == threading.current_thread().name


def test_record_creation_time_becomes_the_timestamp(engine: LogAnalyticsEngine) -> None:
    handler = LogAnalyticsHandler(engine)
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello", None, None)
    record.created = 1_753_099_200.25
    handler.handle(record)
    assert engine.query_logs()[0].ts == 1_753_099_200.25


@pytest.mark.parametrize(("levelno", "expected"), [
    (logging.DEBUG, "DEBUG"), (logging.INFO, "INFO"), (logging.WARNING, "WARN"),
    (logging.ERROR, "ERROR"), (logging.CRITICAL, "FATAL"), (5, "TRACE"), (35, "WARN"),
])
def test_level_names_and_custom_levels_map_to_engine_levels(
    engine: LogAnalyticsEngine, logger: logging.Logger, levelno: int, expected: str
) -> None:
    logger.setLevel(1)
    attach(logger, LogAnalyticsHandler(engine))
    logger.log(levelno, "x")
    assert engine.query_logs()[0].level == expected


def test_extra_fields_go_to_metadata_and_are_queryable(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    attach(logger, LogAnalyticsHandler(engine))
    logger.info("order placed", extra={"order_id": 42, "region": "eu", "obj": object()})
    entry = engine.query_logs()[0]
    assert entry.metadata["order_id"] == 42
    assert entry.metadata["region"] == "eu"
    assert isinstance(entry.metadata["obj"], str)
    assert engine.search("region:eu order_id:42") == [entry]


def test_exception_traceback_is_formatted_into_metadata(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    attach(logger, LogAnalyticsHandler(engine))
    try:
        raise KeyError("missing-key")
    except KeyError:
        logger.exception("lookup failed")
    entry = engine.query_logs()[0]
    assert entry.level == "ERROR"
    assert "Traceback" in entry.metadata["exc_info"]
    assert "missing-key" in entry.metadata["exc_info"]


def test_handler_level_filters_records(engine: LogAnalyticsEngine, logger: logging.Logger) -> None:
    attach(logger, LogAnalyticsHandler(engine, logging.WARNING))
    logger.info("quiet")
    logger.error("loud")
    assert [e.message for e in engine.query_logs()] == ["loud"]


def test_engine_own_log_records_are_ignored(engine: LogAnalyticsEngine) -> None:
    handler = LogAnalyticsHandler(engine)
    own = logging.getLogger("log_analytics_engine.alerts")
    own.addHandler(handler)
    try:
        own.error("from the engine")
    finally:
        own.removeHandler(handler)
    assert len(engine) == 0


def test_alert_hook_logging_from_inside_ingest_does_not_recurse(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    from log_analytics_engine import AlertRule

    attach(logger, LogAnalyticsHandler(engine))
    engine.add_alert_rule(AlertRule("errors", conditions={"level": "ERROR"}))
    engine.add_alert_notification_hook(lambda alert: logger.error("ALERT %s", alert.rule_name))
    logger.error("boom")
    assert [e.message for e in engine.query_logs()] == ["boom"]


def test_processor_that_logs_to_the_same_handler_does_not_recurse(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    def noisy(entry: LogEntry) -> LogEntry:
        logger.info("processing %s", entry.message)
        return entry

    engine.add_pre_ingest_hook(noisy)
    attach(logger, LogAnalyticsHandler(engine))
    logger.info("one")
    assert [e.message for e in engine.query_logs()] == ["one"]


def test_failure_goes_to_handle_error_not_the_application(
    engine: LogAnalyticsEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = LogAnalyticsHandler(engine)
    failures: list[logging.LogRecord | None] = []
    monkeypatch.setattr(handler, "handleError", failures.append)
    bad = logging.LogRecord("app", logging.INFO, __file__, 1, "%d items", ("x",), None)
    handler.handle(bad)  # getMessage() raises TypeError inside emit
    assert len(failures) == 1
    assert len(engine) == 0


def test_non_blocking_mode_ingests_in_the_background_and_flushes(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    handler = attach(logger, LogAnalyticsHandler(engine, non_blocking=True, batch_size=7))
    for i in range(100):
        logger.info("event %d", i)
    handler.flush()
    assert engine.count_logs() == 100
    assert handler.dropped == 0


def test_non_blocking_mode_counts_drops_when_the_queue_is_full(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    started, gate = threading.Event(), threading.Event()

    def hold(entry: LogEntry) -> LogEntry:
        started.set()
        gate.wait()
        return entry

    engine.add_pre_ingest_hook(hold)  # the drain thread blocks inside its first batch
    handler = LogAnalyticsHandler(engine, non_blocking=True, queue_size=5, batch_size=1)
    attach(logger, handler)
    logger.info("first")
    started.wait()
    for i in range(20):
        logger.info("burst %d", i)  # 5 fit in the queue, 15 are dropped
    gate.set()
    handler.flush()
    assert handler.dropped == 15
    assert engine.count_logs() == 6


def test_close_ingests_queued_entries_and_stops_the_thread(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    handler = LogAnalyticsHandler(engine, non_blocking=True)
    logger.addHandler(handler)
    logger.info("before close")
    thread = handler._thread
    logger.removeHandler(handler)
    handler.close()
    assert thread is not None
    assert not thread.is_alive()
    assert engine.count_logs() == 1


def test_records_after_close_are_counted_as_dropped(engine: LogAnalyticsEngine) -> None:
    handler = LogAnalyticsHandler(engine, non_blocking=True)
    handler.close()
    handler.handle(logging.LogRecord("app", logging.INFO, __file__, 1, "late", None, None))
    assert handler.dropped == 1
    assert len(engine) == 0


def test_many_threads_logging_at_once_lose_nothing(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    attach(logger, LogAnalyticsHandler(engine))

    def work(n: int) -> None:
        for i in range(200):
            logger.info("t%d i%d", n, i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert engine.count_logs() == 1600
    engine._check()


def test_handler_is_exported_from_the_package() -> None:
    import log_analytics_engine

    assert "LogAnalyticsHandler" in log_analytics_engine.__all__


def test_engine_log_messages_reaching_a_root_handler_do_not_loop_back(
    engine: LogAnalyticsEngine,
) -> None:
    from log_analytics_engine import AlertRule

    def failing_hook(alert: object) -> None:
        raise RuntimeError("hook down")  # the engine logs this on log_analytics_engine.alerts

    root = logging.getLogger()
    handler = LogAnalyticsHandler(engine)
    root.addHandler(handler)
    try:
        engine.add_alert_rule(AlertRule("any", conditions={"level": "ERROR"}))
        engine.add_alert_notification_hook(failing_hook)
        logging.getLogger("app.root_test").error("boom")
    finally:
        root.removeHandler(handler)
    assert [e.message for e in engine.query_logs()] == ["boom"]
    hook_errors = next(f for f in engine.metric_families()
                       if f.name == "log_analytics_alert_hook_errors_total")
    assert hook_errors.samples[0].value == 1  # the failure happened and was logged


def test_extra_keys_named_like_entry_attributes_set_the_attribute(
    engine: LogAnalyticsEngine, logger: logging.Logger
) -> None:
    attach(logger, LogAnalyticsHandler(engine))
    logger.info("paid", extra={"user_id": "u7", "request_id": 42, "thread_id": "worker-3",
                               "region": "eu"})
    entry = engine.query_logs()[0]
    assert (entry.user_id, entry.request_id, entry.thread_id) == ("u7", "42", "worker-3")
    assert entry.metadata == {"region": "eu"}
    assert engine.query_logs({"user_id": "u7"}) == [entry]
    assert engine.search("request_id:42") == [entry]


def test_handler_entries_show_their_time_as_iso_text(engine: LogAnalyticsEngine) -> None:
    handler = LogAnalyticsHandler(engine)
    record = logging.LogRecord("shop.api", logging.ERROR, __file__, 1, "boom", None, None)
    record.created = 1_796_227_673.61
    handler.handle(record)
    entry = engine.query_logs()[0]
    iso = datetime.fromtimestamp(1_796_227_673, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert entry.summary().startswith(f"{iso}.61Z ERROR [shop.api] boom")
    assert f"timestamp='{iso}.61Z'" in repr(entry)
    assert "1796227673" not in entry.summary() + repr(entry)


def test_loggers_below_a_name_are_found_by_a_source_prefix(
    engine: LogAnalyticsEngine,
) -> None:
    handler = LogAnalyticsHandler(engine)
    for name in ("shop", "shop.api", "shop.db", "shopping", "auth"):
        log = logging.getLogger(name)
        log.addHandler(handler)
        log.propagate = False
        try:
            log.warning("hello from %s", name)
        finally:
            log.removeHandler(handler)
            log.propagate = True
    assert [e.source for e in engine.search("source:shop.*")] == ["shop", "shop.api", "shop.db"]
    assert [e.source for e in engine.query_logs({"source_prefix": "shop"})] == [
        "shop", "shop.api", "shop.db"]
