"""The engine facade: ingestion, hooks, live views, statistics and JSON metrics."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from log_analytics_engine import InvalidEntryError, LogAnalyticsEngine, LogEntry


def test_ingest_log_returns_one_and_stores_the_entry(engine: LogAnalyticsEngine) -> None:
    entry = LogEntry(0, "INFO", "m")
    assert engine.ingest_log(entry) == 1
    assert list(engine.all_logs) == [entry]
    engine._check()


def test_ingest_logs_returns_how_many_were_stored(
    engine: LogAnalyticsEngine, sample_entries: list[LogEntry]
) -> None:
    assert engine.ingest_logs(sample_entries) == 6
    assert len(engine) == 6
    engine._check()


def test_ingest_logs_accepts_a_generator(engine: LogAnalyticsEngine) -> None:
    assert engine.ingest_logs(LogEntry(i) for i in range(5)) == 5


def test_ingest_log_accepts_a_dict(engine: LogAnalyticsEngine) -> None:
    engine.ingest_log({"timestamp": "2025-07-21T10:00:00Z", "level": "error", "message": "m",
                       "region": "eu"})
    (entry,) = engine.all_logs
    assert (entry.level, entry.metadata) == ("ERROR", {"region": "eu"})


def test_ingest_of_a_bad_dict_raises_and_stores_nothing(engine: LogAnalyticsEngine) -> None:
    with pytest.raises(InvalidEntryError):
        engine.ingest_logs([{"timestamp": 0}, {"timestamp": "garbage"}])
    assert len(engine) == 0


def test_ingest_of_a_non_entry_raises_type_error_and_stores_nothing(
    engine: LogAnalyticsEngine,
) -> None:
    with pytest.raises(TypeError):
        engine.ingest_logs([LogEntry(0), "not an entry"])  # type: ignore[list-item]
    assert len(engine) == 0


def test_empty_batch_stores_nothing(engine: LogAnalyticsEngine) -> None:
    assert engine.ingest_logs([]) == 0
    engine._check()


# -- hooks ----------------------------------------------------------------------------------
def test_hook_returning_none_drops_the_entry(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(lambda e: None if e.level == "DEBUG" else e)
    assert engine.ingest_logs([LogEntry(0, "DEBUG"), LogEntry(1, "INFO")]) == 1
    assert [e.level for e in engine.all_logs] == ["INFO"]
    assert engine.get_stats()["dropped_total"] == 1


def test_hook_enrichment_is_indexed(engine: LogAnalyticsEngine) -> None:
    def enrich(entry: LogEntry) -> LogEntry:
        return LogEntry(entry.timestamp, entry.level, entry.message, source=entry.source,
                        tags=[*entry.tags, "enriched"], metadata={**entry.metadata, "env": "p"})

    engine.add_pre_ingest_hook(enrich)
    engine.ingest_log(LogEntry(0, "INFO", "m", source="api"))
    assert engine.count_logs({"tags": "enriched", "env": "p"}) == 1
    engine._check()


def test_hooks_run_in_registration_order(engine: LogAnalyticsEngine) -> None:
    seen: list[str] = []
    engine.add_pre_ingest_hook(lambda e: seen.append("first") or e)  # type: ignore[func-returns-value]
    engine.add_pre_ingest_hook(lambda e: seen.append("second") or e)  # type: ignore[func-returns-value]
    engine.ingest_log(LogEntry(0))
    assert seen == ["first", "second"]


def test_a_raising_hook_is_skipped_and_the_entry_kept(
    engine: LogAnalyticsEngine, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(entry: LogEntry) -> LogEntry:
        raise RuntimeError("boom")

    engine.add_pre_ingest_hook(broken)
    assert engine.ingest_log(LogEntry(0, "INFO", "kept")) == 1
    assert [e.message for e in engine.all_logs] == ["kept"]
    assert "boom" in caplog.text


def test_hooks_run_outside_the_engine_lock(engine: LogAnalyticsEngine) -> None:
    held: list[bool] = []

    def probe(entry: LogEntry) -> LogEntry:
        # another thread can take the lock right now only if this thread does not hold it
        result: list[bool] = []

        def try_lock() -> None:
            got = engine._lock.acquire(blocking=False)
            if got:
                engine._lock.release()
            result.append(got)

        t = threading.Thread(target=try_lock)
        t.start()
        t.join()
        held.append(not result[0])
        return entry

    engine.add_pre_ingest_hook(probe)
    engine.ingest_log(LogEntry(0))
    assert held == [False]


def test_a_non_callable_hook_is_refused(engine: LogAnalyticsEngine) -> None:
    with pytest.raises(TypeError):
        engine.add_pre_ingest_hook("nope")  # type: ignore[arg-type]


# -- views ----------------------------------------------------------------------------------
def test_all_logs_is_every_entry_in_ingestion_order(
    loaded: LogAnalyticsEngine, sample_entries: list[LogEntry]
) -> None:
    assert list(loaded.all_logs) == sample_entries
    assert loaded.all_logs[0] is sample_entries[0]
    assert loaded.all_logs[-1] is sample_entries[-1]


def test_all_logs_is_a_live_view(engine: LogAnalyticsEngine) -> None:
    view = engine.all_logs
    engine.ingest_log(LogEntry(0))
    assert len(view) == 1


def test_all_logs_is_read_only(loaded: LogAnalyticsEngine) -> None:
    view: Any = loaded.all_logs
    with pytest.raises((TypeError, AttributeError)):
        view.append(LogEntry(0))
    with pytest.raises(TypeError):
        view[0] = LogEntry(0)


def test_level_index_lists_entries_of_a_level_in_ingestion_order(
    loaded: LogAnalyticsEngine, sample_entries: list[LogEntry]
) -> None:
    assert list(loaded.level_index["INFO"]) == [sample_entries[0], sample_entries[5]]
    assert list(loaded.level_index["warning"]) == [sample_entries[2]]
    assert len(loaded.level_index["TRACE"]) == 0


def test_level_index_view_is_live_for_a_level_already_present(
    loaded: LogAnalyticsEngine,
) -> None:
    view = loaded.level_index["ERROR"]
    loaded.ingest_log(LogEntry(9, "ERROR", "later"))
    assert [e.message for e in view][-1] == "later"


def test_level_index_view_is_live_for_a_level_not_yet_seen(
    engine: LogAnalyticsEngine,
) -> None:
    view = engine.level_index["FATAL"]
    engine.ingest_log(LogEntry(0, "FATAL", "later"))
    assert [e.message for e in view] == ["later"]


def test_level_index_iterates_present_levels(loaded: LogAnalyticsEngine) -> None:
    assert list(loaded.level_index) == ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


def test_level_index_unknown_level_is_a_key_error(loaded: LogAnalyticsEngine) -> None:
    with pytest.raises(KeyError):
        loaded.level_index["LOUD"]


def test_level_index_view_is_read_only(loaded: LogAnalyticsEngine) -> None:
    view: Any = loaded.level_index["INFO"]
    with pytest.raises((TypeError, AttributeError)):
        view.append(LogEntry(0))


# -- stats and JSON -------------------------------------------------------------------------
def test_get_stats_has_the_documented_keys_and_counts(loaded: LogAnalyticsEngine) -> None:
    stats = loaded.get_stats()
    assert stats["total_logs"] == 6
    assert stats["levels"] == {"DEBUG": 1, "INFO": 2, "WARN": 1, "ERROR": 1, "FATAL": 1}
    assert stats["sources"] == {"auth": 2, "api": 3, "db": 1}
    assert stats["tags"] == {"prod": 3, "eu": 2, "canary": 1, "us": 1}
    distinct_words = {w for e in loaded.all_logs for w in e.message.lower().replace(
        ":", " ").replace("-", " ").split()}
    assert stats["keywords"] == len(distinct_words)


def test_get_stats_of_an_empty_engine(engine: LogAnalyticsEngine) -> None:
    stats = engine.get_stats()
    assert (stats["total_logs"], stats["levels"], stats["sources"], stats["keywords"],
            stats["tags"]) == (0, {}, {}, 0, {})


def test_export_metrics_json_is_a_dict_as_the_original_api_says(
    loaded: LogAnalyticsEngine,
) -> None:
    metrics = loaded.export_metrics_json()
    assert isinstance(metrics, dict)
    assert metrics["total_logs"] == len(loaded)
    assert metrics == json.loads(json.dumps(loaded.get_stats()))
    assert json.loads(json.dumps(metrics)) == metrics  # JSON-serialisable as it is


def test_export_metrics_json_text_is_the_same_document(loaded: LogAnalyticsEngine) -> None:
    text = loaded.export_metrics_json_text()
    assert isinstance(text, str)
    assert json.loads(text) == loaded.export_metrics_json()


def test_two_engines_do_not_share_state(sample_entries: list[LogEntry]) -> None:
    a, b = LogAnalyticsEngine(), LogAnalyticsEngine()
    a.ingest_logs(sample_entries)
    a.add_pre_ingest_hook(lambda e: None)
    b.ingest_log(LogEntry(0))
    assert (len(a), len(b)) == (6, 1)


def test_level_index_view_stays_live_after_retention_empties_the_level() -> None:
    from log_analytics_engine.storage.retention import Retention

    engine = LogAnalyticsEngine(retention=Retention(max_entries=32))
    view = engine.level_index["FATAL"]
    engine.ingest_log(LogEntry(0, "FATAL", "first"))
    engine.ingest_logs([LogEntry(i, "INFO", "filler") for i in range(1, 100)])
    assert len(view) == 0  # evicted
    engine.ingest_log(LogEntry(200, "FATAL", "again"))
    assert [e.message for e in view] == ["again"]
    engine._check()


def test_a_dropped_engine_is_freed_by_reference_counting(tmp_path) -> None:
    """No reference cycle keeps a dropped engine's entries alive until the next full GC."""
    import gc
    import weakref

    path = tmp_path / "logs.jsonl"
    path.write_text('{"timestamp": "2025-07-21T10:00:00Z", "message": "x"}\n' * 10)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        engine = LogAnalyticsEngine()
        engine.ingest_logs_from_file(path)
        index = weakref.ref(engine._store.time_index.late)
        del engine
        assert index() is None
    finally:
        if was_enabled:
            gc.enable()
