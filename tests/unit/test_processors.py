"""Named pre-ingest processors: filtering, names, metrics, errors and traces."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import LogAnalyticsEngine, LogEntry, compile_filters
from log_analytics_engine.errors import DuplicateProcessorError, InvalidFilterError
from log_analytics_engine.ingest.processors import ProcessorChain

LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]


def entries(n: int, start: int = 0) -> list[LogEntry]:
    return [LogEntry(start + i, LEVELS[i % len(LEVELS)], f"message {start + i}", "api")
            for i in range(n)]


def identity(entry: LogEntry) -> LogEntry:
    return entry


@pytest.fixture
def engine() -> LogAnalyticsEngine:
    return LogAnalyticsEngine()


# -- running ------------------------------------------------------------------------------
def test_processor_counts_every_entry_it_ran_on(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity)
    engine.ingest_logs(entries(7))
    assert engine.processor_stats()["identity"]["processed"] == 7


def test_processor_can_change_the_entry_before_indexing(engine: LogAnalyticsEngine) -> None:
    def tag(entry: LogEntry) -> LogEntry:
        entry.tags.append("seen")
        return entry

    engine.add_pre_ingest_hook(tag)
    engine.ingest_logs(entries(3))
    assert engine.count_logs({"tag": "seen"}) == 3
    engine._check()


def test_processor_returning_none_drops_the_entry_and_counts_it(
        engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(lambda e: None if e.level == "DEBUG" else e, name="no_debug")
    stored = engine.ingest_logs(entries(10))
    details = {d["name"]: d for d in engine.processor_details()}
    assert (stored, len(engine), details["no_debug"]["dropped"]) == (8, 8, 2)
    assert engine.get_stats()["dropped_total"] == 2


def test_dropping_processor_stops_the_chain_for_that_entry(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(lambda e: None, name="drop")
    engine.add_pre_ingest_hook(identity, name="after")
    engine.ingest_logs(entries(4))
    assert engine.processor_stats()["after"]["processed"] == 0


def test_ingest_log_returns_zero_when_dropped(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(lambda e: None)
    assert engine.ingest_log(LogEntry(0, "INFO", "x")) == 0


def test_each_processor_sees_the_entries_of_a_batch_in_order(engine: LogAnalyticsEngine) -> None:
    seen: list[str] = []
    engine.add_pre_ingest_hook(lambda e: seen.append(e.message) or e)
    batch = entries(20)
    engine.ingest_logs(batch)
    assert seen == [e.message for e in batch]


def test_run_of_a_single_entry_matches_the_chain(engine: LogAnalyticsEngine) -> None:
    chain = ProcessorChain()
    chain.add(lambda e: None if e.level == "ERROR" else e)
    assert chain.run(LogEntry(0, "ERROR", "x")) is None
    assert chain.run(LogEntry(0, "INFO", "x")) is not None


# -- when -------------------------------------------------------------------------------
def test_when_filter_dict_uses_query_semantics(engine: LogAnalyticsEngine) -> None:
    seen: list[str] = []
    engine.add_pre_ingest_hook(lambda e: seen.append(e.level) or e,
                               when={"min_severity": "ERROR"})
    batch = entries(10)
    engine.ingest_logs(batch)
    node = compile_filters({"min_severity": "ERROR"})
    assert seen == [e.level for e in batch if node.match(e)]


def test_when_predicate_limits_the_processor(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity, when=lambda e: e.message.endswith("3"))
    engine.ingest_logs(entries(30))
    assert engine.processor_stats()["identity"]["processed"] == 3


def test_when_query_node_limits_the_processor(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity, when=compile_filters({"level": "WARN"}))
    engine.ingest_logs(entries(10))
    assert engine.processor_stats()["identity"]["processed"] == 2


def test_invalid_when_filter_is_rejected_at_registration(engine: LogAnalyticsEngine) -> None:
    with pytest.raises(InvalidFilterError):
        engine.add_pre_ingest_hook(identity, when={"level": "LOUD"})


def test_when_of_wrong_type_is_rejected(engine: LogAnalyticsEngine) -> None:
    with pytest.raises(TypeError):
        engine.add_pre_ingest_hook(identity, when=42)  # type: ignore[arg-type]


def test_raising_when_predicate_counts_an_error_and_skips_the_processor(
        engine: LogAnalyticsEngine) -> None:
    def picky(e: LogEntry) -> bool:
        if e.level == "WARN":
            raise RuntimeError("cannot decide")
        return True

    engine.add_pre_ingest_hook(identity, when=picky)
    engine.ingest_logs(entries(10))
    stats = engine.processor_stats()["identity"]
    assert (stats["processed"], stats["errors"], len(engine)) == (8, 2, 10)


# -- names ------------------------------------------------------------------------------
def test_name_defaults_to_the_function_name(engine: LogAnalyticsEngine) -> None:
    assert engine.add_pre_ingest_hook(identity) == "identity"


def test_repeated_default_names_get_numeric_suffixes(engine: LogAnalyticsEngine) -> None:
    names = [engine.add_pre_ingest_hook(lambda e: e) for _ in range(3)]
    assert names == ["<lambda>", "<lambda>_2", "<lambda>_3"]


def test_default_name_skips_a_suffix_already_taken(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity, name="identity_2")
    engine.add_pre_ingest_hook(identity)
    assert engine.add_pre_ingest_hook(identity) == "identity_3"


def test_repeated_explicit_name_is_an_error(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity, name="enrich")
    with pytest.raises(DuplicateProcessorError) as info:
        engine.add_pre_ingest_hook(lambda e: e, name="enrich")
    assert info.value.name == "enrich"


def test_duplicate_name_error_is_a_value_error(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity)
    with pytest.raises(ValueError):
        engine.add_pre_ingest_hook(identity, name="identity")


def test_non_callable_processor_is_rejected(engine: LogAnalyticsEngine) -> None:
    with pytest.raises(TypeError):
        engine.add_pre_ingest_hook("not a function")  # type: ignore[arg-type]


def test_callable_object_without_name_uses_its_type_name(engine: LogAnalyticsEngine) -> None:
    class Enricher:
        def __call__(self, entry: LogEntry) -> LogEntry:
            return entry

    assert engine.add_pre_ingest_hook(Enricher()) == "Enricher"


# -- errors -----------------------------------------------------------------------------
def broken(entry: LogEntry) -> LogEntry:
    raise ValueError(f"cannot enrich {entry.message}")


def test_raising_processor_is_counted_and_the_entry_continues_unchanged(
        engine: LogAnalyticsEngine) -> None:
    seen: list[str] = []
    engine.add_pre_ingest_hook(broken)
    engine.add_pre_ingest_hook(lambda e: seen.append(e.message) or e, name="next")
    batch = entries(5)
    stored = engine.ingest_logs(batch)
    assert (stored, engine.processor_errors()["broken"]) == (5, 5)
    assert seen == [e.message for e in batch]


def test_processor_returning_a_non_entry_is_an_error_and_the_entry_continues(
        engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(lambda e: {"message": "a dict"}, name="wrong")  # type: ignore
    engine.ingest_logs(entries(3))
    assert (len(engine), engine.processor_errors()["wrong"]) == (3, 3)
    assert engine.recent_processor_errors()[0]["type"] == "TypeError"
    engine._check()


def test_processor_errors_maps_every_processor_to_its_count(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity)
    engine.add_pre_ingest_hook(broken, when={"level": "ERROR"})
    engine.ingest_logs(entries(10))
    assert engine.processor_errors() == {"identity": 0, "broken": 2}


def test_error_log_keeps_processor_entry_and_message(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(broken)
    engine.ingest_log(LogEntry(0, "INFO", "order 17", "shop"))
    (record,) = engine.recent_processor_errors()
    assert record["processor"] == "broken"
    assert "order 17" in record["entry"]
    assert record["error"] == "cannot enrich order 17"
    assert record["type"] == "ValueError"
    assert record["time"] > 0


def test_error_log_keeps_the_newest_errors_of_a_large_batch(
        engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(broken)
    engine.ingest_logs(entries(300))
    records = engine.recent_processor_errors(1000)
    assert [r["error"] for r in records[-2:]] == ["cannot enrich message 298",
                                                   "cannot enrich message 299"]
    assert len(records) == 100


def test_error_log_is_bounded(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(broken)
    for start in range(0, 500, 50):
        engine.ingest_logs(entries(50, start))
    records = engine.recent_processor_errors(1000)
    assert len(records) == 100
    assert records[-1]["error"] == "cannot enrich message 499"


# -- stats ------------------------------------------------------------------------------
def test_processor_stats_has_exactly_the_documented_shape(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity)
    engine.ingest_logs(entries(3))
    stats = engine.processor_stats()
    assert list(stats) == ["identity"]
    assert set(stats["identity"]) == {"processed", "errors", "avg_time_ms"}
    assert isinstance(stats["identity"]["avg_time_ms"], float)
    assert stats["identity"]["avg_time_ms"] >= 0


def test_avg_time_is_zero_before_any_entry(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity)
    assert engine.processor_stats()["identity"]["avg_time_ms"] == 0.0


def test_processor_stats_keep_registration_order(engine: LogAnalyticsEngine) -> None:
    for name in ("start", "warn", "error", "general"):
        engine.add_pre_ingest_hook(identity, name=name)
    assert list(engine.processor_stats()) == ["start", "warn", "error", "general"]


# -- traces -----------------------------------------------------------------------------
def four_processors(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity, name="start")
    engine.add_pre_ingest_hook(identity, name="warn", when={"level": "WARN"})
    engine.add_pre_ingest_hook(identity, name="error", when={"min_severity": "ERROR"})
    engine.add_pre_ingest_hook(identity, name="general")


def test_trace_lists_the_processors_that_ran_in_order(engine: LogAnalyticsEngine) -> None:
    four_processors(engine)
    engine.ingest_logs([LogEntry(0, "WARN", "a"), LogEntry(1, "FATAL", "b"),
                        LogEntry(2, "INFO", "c")])
    assert engine.get_traces() == [["start", "warn", "general"], ["start", "error", "general"],
                                   ["start", "general"]]


def test_trace_of_a_dropped_entry_ends_with_the_processor_that_dropped_it(
        engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity, name="start")
    engine.add_pre_ingest_hook(lambda e: None, name="drop")
    engine.add_pre_ingest_hook(identity, name="never")
    engine.ingest_log(LogEntry(0, "INFO", "x"))
    assert engine.get_traces() == [["start", "drop"]]


def test_get_traces_returns_the_most_recent_oldest_first(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity, name="all")
    engine.add_pre_ingest_hook(identity, name="odd", when=lambda e: e.ts % 2 == 1)
    engine.ingest_logs(entries(10))
    assert engine.get_traces(limit=3) == [["all", "odd"], ["all"], ["all", "odd"]]


def test_default_trace_limit_is_100(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity)
    engine.ingest_logs(entries(300))
    assert len(engine.get_traces()) == 100


def test_engine_keeps_at_most_1000_traces_by_default(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity)
    for start in range(0, 2500, 500):
        engine.ingest_logs(entries(500, start))
    assert len(engine.get_traces(limit=5000)) == 1000


def test_trace_limit_is_configurable(engine: LogAnalyticsEngine) -> None:
    engine.set_trace_limit(10)
    engine.add_pre_ingest_hook(identity)
    engine.ingest_logs(entries(50))
    assert len(engine.get_traces(limit=100)) == 10


def test_trace_limit_zero_turns_tracing_off(engine: LogAnalyticsEngine) -> None:
    engine.set_trace_limit(0)
    engine.add_pre_ingest_hook(identity)
    engine.ingest_logs(entries(50))
    assert (engine.get_traces(), engine.processor_stats()["identity"]["processed"]) == ([], 50)


def test_negative_trace_limit_is_rejected(engine: LogAnalyticsEngine) -> None:
    with pytest.raises(ValueError):
        engine.set_trace_limit(-1)


def test_traces_are_copies(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity)
    engine.ingest_log(LogEntry(0, "INFO", "x"))
    engine.get_traces()[0].append("forged")
    assert engine.get_traces() == [["identity"]]


# -- metrics ----------------------------------------------------------------------------
def test_prometheus_export_has_processor_counters_and_time(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity, name="start")
    engine.add_pre_ingest_hook(broken, when={"level": "ERROR"})
    engine.ingest_logs(entries(10))
    text = engine.export_metrics_prometheus()
    assert 'log_analytics_processor_processed_total{processor="start"} 10' in text
    assert 'log_analytics_processor_errors_total{processor="broken"} 2' in text
    assert "# TYPE log_analytics_processor_seconds summary" in text
    assert 'log_analytics_processor_seconds_count{processor="start"} 10' in text


def test_processor_metric_families_are_per_processor(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(lambda e: None, name="drop", when={"level": "DEBUG"})
    engine.ingest_logs(entries(10))
    families = {f.name: f for f in engine.metric_families()}
    dropped = families["log_analytics_processor_dropped_total"].samples
    assert [(dict(s.labels), s.value) for s in dropped] == [({"processor": "drop"}, 2)]


# -- threads ----------------------------------------------------------------------------
def test_counts_are_exact_when_many_threads_ingest(engine: LogAnalyticsEngine) -> None:
    four_processors(engine)
    engine.add_pre_ingest_hook(broken, when={"level": "FATAL"})
    threads = [threading.Thread(target=lambda k=k: [engine.ingest_logs(entries(25, 1000 * k + j))
                                                    for j in range(0, 500, 25)])
               for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = engine.processor_stats()
    assert stats["start"]["processed"] == 4000
    assert stats["general"]["processed"] == 4000
    assert stats["warn"]["processed"] == 800
    assert engine.processor_errors()["broken"] == 800
    assert len(engine) == 4000
    engine._check()


def test_registering_while_ingesting_is_safe(engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity)
    stop = threading.Event()

    def ingest() -> None:
        k = 0
        while not stop.is_set():
            engine.ingest_logs(entries(10, k))
            k += 10

    worker = threading.Thread(target=ingest)
    worker.start()
    names = [engine.add_pre_ingest_hook(lambda e: e) for _ in range(50)]
    stop.set()
    worker.join()
    assert len(set(names)) == 50
    engine._check()


# -- a property: the chain equals a plain sequential reference ---------------------------
def reference(procs: list[tuple[str, Any, Any]], batch: list[LogEntry]
              ) -> tuple[list[str], list[list[str]]]:
    """Entry by entry, processor by processor, as the issue describes it."""
    out, traces = [], []
    for entry in batch:
        trace: list[str] = []
        current: LogEntry | None = entry
        for name, fn, when in procs:
            assert current is not None
            if when is not None and not when(current):
                continue
            trace.append(name)
            try:
                result = fn(current)
            except Exception:
                result = current
            if result is None:
                current = None
                break
            current = result
        traces.append(trace)
        if current is not None:
            out.append(current.message)
    return out, traces


KINDS = st.sampled_from(["keep", "drop_error", "raise_warn", "drop_even"])


def make(kind: str) -> Any:
    if kind == "keep":
        return identity
    if kind == "drop_error":
        return lambda e: None if e.level == "ERROR" else e
    if kind == "raise_warn":
        def fn(e: LogEntry) -> LogEntry:
            if e.level == "WARN":
                raise RuntimeError("warn")
            return e
        return fn
    return lambda e: None if int(e.ts) % 2 == 0 else e


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.tuples(KINDS, st.sampled_from([None, "INFO", "ERROR"])), min_size=1,
                      max_size=5),
       n=st.integers(0, 40), max_traces=st.integers(0, 50))
def test_chain_matches_a_sequential_reference(
        kinds: list[tuple[str, str | None]], n: int, max_traces: int) -> None:
    chain = ProcessorChain(max_traces=max_traces)
    procs = []
    for k, (kind, level) in enumerate(kinds):
        fn = make(kind)
        when = None if level is None else compile_filters({"level": level}).match
        name = chain.add(fn, name=f"p{k}", when=None if level is None else {"level": level})
        procs.append((name, fn, when))
    batch = entries(n)
    got = [e.message for e in chain.run_batch(batch)]
    want, traces = reference(procs, batch)
    assert got == want
    assert chain.traces(1000) == (traces[-max_traces:] if max_traces else [])


def test_processor_details_show_the_when_filter_as_readable_query_text(
        engine: LogAnalyticsEngine) -> None:
    engine.add_pre_ingest_hook(identity, name="warn", when={"level": "WARN"})
    engine.add_pre_ingest_hook(identity, name="errors",
                               when={"min_severity": "ERROR", "source": ["api", "db"]})
    engine.add_pre_ingest_hook(identity, name="q", when=compile_filters({"keyword": "disk full"}))
    when = {d["name"]: d["when"] for d in engine.processor_details()}
    assert when["warn"] == "level:WARN"
    assert when["errors"] == "(level:ERROR OR level:FATAL) (source:api OR source:db)"
    assert when["q"] == "disk full"
