"""Many writer and reader threads at once: nothing lost, nothing half-indexed."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.index.postings import IndexSet

WRITERS = 4
BATCHES = 40
BATCH = 25
SOURCES = ("api", "db", "web")


def _entries(writer: int, batch: int) -> list[LogEntry]:
    out = []
    for k in range(BATCH):
        n = (writer * BATCHES + batch) * BATCH + k
        out.append(LogEntry(1_753_000_000 + (n * 7919) % 5000, "ERROR" if n % 5 == 0 else "INFO",
                            f"writer{writer} event n{n} timeout", source=SOURCES[n % 3],
                            tags=[f"w{writer}"], metadata={"n": n}))
    return out


def _run(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _writers_against(engine: LogAnalyticsEngine, readers: list[threading.Thread],
                     stop: threading.Event) -> None:
    """Run the writers to the end while ``readers`` run, then stop and join the readers."""
    for t in readers:
        t.start()
    _run(_writers(engine))
    stop.set()
    for t in readers:
        t.join()


def _readers(engine: LogAnalyticsEngine, stop: threading.Event,
             problems: list[str]) -> list[threading.Thread]:
    def fully_indexed() -> None:
        # every entry a query returns is found by each of its terms (no half-indexed entry)
        while not stop.is_set():
            for e in engine.query_logs({"keyword": "timeout"}, sort_desc=True, page_size=20):
                w = e.tags[0]
                n = e.metadata["n"]
                if engine.count_logs({"tags": w, "keyword": f"n{n}", "source": e.source,
                                      "level": e.level, "start_time": e.ts,
                                      "end_time": e.ts}) != 1:
                    problems.append(f"entry n{n} not fully indexed")

    def counts_agree() -> None:
        # the level counts always sum to the total seen in the same snapshot
        while not stop.is_set():
            stats = engine.get_stats()
            if sum(stats["levels"].values()) != stats["total_logs"]:
                problems.append(f"stats disagree: {stats}")
            total = engine.count_logs()
            if total % BATCH:
                problems.append(f"a batch was seen half-stored: {total}")

    def aggregates_agree() -> None:
        while not stop.is_set():
            agg = engine.aggregate(group_by="source")
            total = sum(v["count"] for v in agg.values())
            if total % BATCH:
                problems.append(f"aggregate saw a half-stored batch: {total}")

    return [threading.Thread(target=f) for f in (fully_indexed, counts_agree, aggregates_agree)]


def _writers(engine: LogAnalyticsEngine) -> list[threading.Thread]:
    def write(w: int) -> None:
        for b in range(BATCHES):
            engine.ingest_logs(_entries(w, b))

    return [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]


def test_concurrent_writers_and_readers_lose_nothing_and_see_whole_entries() -> None:
    engine = LogAnalyticsEngine(index_fields=["n"])
    stop = threading.Event()
    problems: list[str] = []
    readers = _readers(engine, stop, problems)
    _writers_against(engine, readers, stop)
    assert problems == []
    total = WRITERS * BATCHES * BATCH
    assert len(engine) == engine.count_logs() == total
    assert engine.count_logs({"level": "ERROR"}) == total // 5
    for w in range(WRITERS):
        assert engine.count_logs({"tags": f"w{w}"}) == BATCHES * BATCH
    assert sorted(e.metadata["n"] for e in engine.all_logs) == list(range(total))
    assert engine.get_stats()["ingested_total"] == total
    engine._check()


def test_concurrent_hooks_and_single_ingests_keep_exact_counts() -> None:
    engine = LogAnalyticsEngine()
    engine.add_pre_ingest_hook(lambda e: None if e.metadata["n"] % 10 == 0 else e)

    def write(w: int) -> None:
        for n in range(w * 500, (w + 1) * 500):
            engine.ingest_log(LogEntry(n, "INFO", "m", metadata={"n": n}))

    _run([threading.Thread(target=write, args=(w,)) for w in range(WRITERS)])
    total = WRITERS * 500
    assert len(engine) == total - total // 10
    assert engine.get_stats()["dropped_total"] == total // 10
    engine._check()


def test_concurrent_file_ingestion(tmp_path: object) -> None:
    import json
    from pathlib import Path

    base = Path(str(tmp_path))
    paths = []
    for w in range(WRITERS):
        p = base / f"{w}.jsonl"
        p.write_text("".join(json.dumps({"timestamp": i, "message": f"f{w}"}) + "\n"
                             for i in range(300)) + "oops\n")
        paths.append(p)
    engine = LogAnalyticsEngine()
    reports: list[dict[str, object]] = []
    _run([threading.Thread(target=lambda p=p: reports.append(engine.ingest_logs_from_file(p)))
          for p in paths])
    assert sorted(r["count"] for r in reports) == [300] * WRITERS  # type: ignore[type-var]
    assert len(engine) == 300 * WRITERS
    assert engine.get_stats()["rejected_total"] == WRITERS
    engine._check()


def test_a_batch_overtaken_between_gathering_and_storing_is_indexed_at_its_real_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Postings are gathered outside the lock; if another writer stores a batch meanwhile,
    the first batch's postings must land on the ids it really got (forced here by letting
    the first ``gather`` ingest a second batch before it returns)."""
    engine = LogAnalyticsEngine(index_fields=["n", "roles"])
    real_gather = IndexSet.gather
    overtaken = False

    def gather(self: IndexSet, *args: Any, **kwargs: Any) -> Any:
        nonlocal overtaken
        result = real_gather(self, *args, **kwargs)
        if not overtaken:
            overtaken = True
            engine.ingest_logs([LogEntry(100 + i, "ERROR", f"second b{i}", source="db",
                                         tags=["second"], metadata={"n": -i, "roles": [i]})
                                for i in range(7)])
        return result

    monkeypatch.setattr(IndexSet, "gather", gather)
    engine.ingest_logs([LogEntry(i, "INFO", f"first a{i}", source="api", tags=["first"],
                                 metadata={"n": i, "roles": [i]}) for i in range(5)])
    messages = [e.message for e in engine.all_logs]
    assert (messages[0], messages[6], messages[-1]) == ("second b0", "second b6", "first a4")
    engine._check()
    for e in engine.all_logs:
        n = e.metadata["n"]
        word = e.message.split()[1]
        hits = engine.query_logs({"keyword": word, "tags": e.tags[0], "source": e.source,
                                  "level": e.level, "n": n, "roles": [e.metadata["roles"]]})
        assert hits == [e], (word, hits)


def test_numeric_aggregates_under_concurrent_ingestion_and_eviction() -> None:
    """Readers aggregate a metadata field (its column follows appends and eviction between
    their queries, and they finish outside the lock) while writers ingest with retention:
    every answer is whole, and the last one equals the entries' path."""
    from unittest import mock

    from log_analytics_engine.query import aggregate as aggregate_module
    from log_analytics_engine.storage.retention import Retention

    engine = LogAnalyticsEngine(retention=Retention(max_entries=1_000))
    stop = threading.Event()
    problems: list[str] = []
    metrics = ["count", "sum:n", "min:n", "p50:n", "p99:n", "max:n"]

    def aggregate() -> None:
        while not stop.is_set():
            for key, m in engine.aggregate(group_by="level", metrics=metrics).items():
                if m["count"] == 0 or not m["min_n"] <= m["p50_n"] <= m["p99_n"] <= m["max_n"]:
                    problems.append(f"{key}: {m}")
                if type(m["min_n"]) is not int or m["sum_n"] != int(m["sum_n"]):
                    problems.append(f"{key}: not the entries' ints: {m}")

    readers = [threading.Thread(target=aggregate) for _ in range(2)]
    _writers_against(engine, readers, stop)
    assert problems == []
    got = engine.aggregate(group_by="level", metrics=metrics)
    with mock.patch.object(aggregate_module, "columns_for", return_value={}):
        assert got == engine.aggregate(group_by="level", metrics=metrics)
    engine._ctx.columns.column("n")._check(engine._store)
