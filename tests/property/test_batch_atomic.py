"""A batch is all or nothing: one that fails at any step leaves the engine as it was.

Failures are injected at each step of the write path (the storage write, the append, the time
index, the merge of the postings half done, a capacity refusal), on the accelerated and the
Python kernels, for entries and for files (the C reader's one-pass path, and lines written
straight into records), with and without storage and processors. The state compared covers
the counts, every query answer, every posting, the time index, the zone maps, the views, the
metric counters, the processor counters and the storage rows, before and after a reopen.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from log_analytics_engine import (
    CapacityError,
    LogAnalyticsEngine,
    LogEntry,
    Retention,
    StorageFullError,
)
from log_analytics_engine import _native as native
from log_analytics_engine.index.postings import IndexSet, InvertedIndex
from log_analytics_engine.index.store import Store
from log_analytics_engine.index.timeindex import TimeOrder
from log_analytics_engine.storage.sqlite import Storage

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")


class Injected(RuntimeError):
    """The failure injected into the write path."""


def good(n: int, start: int = 0) -> list[LogEntry]:
    return [LogEntry(1_750_000_000 + i * 0.25, LEVELS[i % 4], f"ok w{i % 9} m{i}",
                     source=f"s{i % 3}", tags=[f"t{i % 5}"], metadata={"user": f"u{i % 11}"})
            for i in range(start, start + n)]


def failing_batch() -> list[LogEntry]:
    """New terms of every kind (a level, a source, tags, words, field values) and late
    entries, so that undoing it has postings to create and remove."""
    out = good(300, 5000)
    out += [LogEntry(1_749_000_000 + i, "FATAL", f"brand new{i} words", source="newsrc",
                     tags=["newtag"], metadata={"user": ["unhashable"] if i % 2 else "newu"})
            for i in range(40)]
    return out


def state(engine: LogAnalyticsEngine, path: Path | None) -> dict[str, Any]:
    engine._check()
    engine.flush()
    store, idx = engine._store, engine._indexes
    indexes: list[tuple[str, InvertedIndex]] = [
        ("level", idx.level), ("source", idx.source), ("tag", idx.tag), ("token", idx.token),
        *((f"field:{k}", v) for k, v in idx.fields.items())]
    out: dict[str, Any] = {
        "len": len(engine),
        "count": engine.count_logs({}),
        "entries": [e.to_dict() for e in engine.query_logs({})],
        "fatal": [e.message for e in engine.query_logs({"level": "FATAL"})],
        "views": {k: len(v) for k, v in engine.level_index.items()},
        # transactions are counted as they happen, even the one a withdrawal undoes
        "stats": {k: v for k, v in engine.get_stats().items() if k != "storage"},
        "storage": {k: v for k, v in (engine.get_stats().get("storage") or {}).items()
                    if k != "commits_total"},
        "metrics": [line for line in engine.export_metrics_prometheus().splitlines()
                    if "storage_commits" not in line],
        "processors": engine.processor_details(),
        "traces": engine.get_traces(),
        "postings": {name: {repr(t): list(bm) for t, bm in index._postings.items()}
                     for name, index in indexes},
        "unindexed": {k: list(v) for k, v in idx.unindexed.items()},
        "by_level": dict(idx.ingested_by_level),
        "time": list(store.time_index),
        "zones": (list(store.zmin), list(store.zmax)),
        "live": list(store.live), "late": list(store.late),
        "ids": (store.epoch, store.base, store.next_id),
    }
    if path is not None:
        with contextlib.closing(sqlite3.connect(path)) as db:
            out["rows"] = db.execute("SELECT first_id, last_id, data FROM chunks "
                                     "ORDER BY first_id").fetchall()
            out["next_id"] = db.execute(
                "SELECT value FROM meta WHERE key = 'next_id'").fetchone()
    return out


@contextlib.contextmanager
def kernels(which: str) -> Iterator[None]:
    if which == "python":
        with native.use_python():
            yield
    else:
        yield


def fail_after(n: int, target: Any, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``target.name`` run normally ``n`` times, then run once more and raise."""
    original = getattr(target, name)
    calls = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] > n:
            original(*args, **kwargs)
            raise Injected(f"{name} failed")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)


def raise_at(target: Any, name: str, exc: BaseException,
             monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise exc

    monkeypatch.setattr(target, name, boom)


#: step -> installs the failure; each leaves work half done at a different place.
STEPS: dict[str, Callable[[pytest.MonkeyPatch], type[BaseException]]] = {
    # the postings merge: level and source merged, the tags merged then a raise
    "merge": lambda mp: (fail_after(2, InvertedIndex, "add_batch", mp), Injected)[1],
    # the whole merge done, then a raise
    "after-merge": lambda mp: (fail_after(0, IndexSet, "merge", mp), Injected)[1],
    # entries and instants appended, the time index not
    "time-index": lambda mp: (raise_at(TimeOrder, "extend_ordered", Injected("ti"), mp),
                              Injected)[1],
    # the whole append done, then a raise
    "append": lambda mp: (fail_after(0, Store, "append", mp), Injected)[1],
    # the storage write refused (disk full): nothing was written
    "storage": lambda mp: (raise_at(Storage, "write", StorageFullError("x", "full"), mp),
                           StorageFullError)[1],
    # the storage write done (committed in sync mode), the merge fails
    "storage-then-merge": lambda mp: (fail_after(0, IndexSet, "merge", mp), Injected)[1],
}


def make(path: Path | None, durability: str | None, processors: bool,
         fields: bool = True) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine(index_fields=["user"] if fields else (), storage=path,
                                durability=durability, retention=Retention(max_entries=1200))
    if processors:
        def tag_env(e: LogEntry) -> LogEntry:
            e.metadata["env"] = "prod"
            return e

        engine.add_pre_ingest_hook(tag_env)
    return engine


@pytest.mark.parametrize("which", ["default", "python"])
@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("storage", [None, "sync", "none"])  # "none": queued, as "batch"
@pytest.mark.parametrize("how", ["entries+processors", "file", "records"])
def test_a_failing_batch_leaves_the_engine_as_before(
    which: str, step: str, storage: str | None, how: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if step.startswith("storage") and storage is None:
        pytest.skip("needs storage")
    if how == "records" and (storage or which == "python"):
        pytest.skip("lines go straight into records with C, without storage or field indexes")
    path = tmp_path / "a.db" if storage else None
    with kernels(which):
        # file: the C reader's one-pass path; records: lines straight into records
        engine = make(path, storage, how == "entries+processors", fields=how != "records")
        assert (engine._driver._records() is not None) == (how == "records")
        try:
            engine.ingest_logs(good(1500))  # evicted down to ~1160: a partial zone block
            before = state(engine, path)
            batch = failing_batch()
            file = tmp_path / "batch.jsonl"
            file.write_bytes(b"".join(orjson.dumps(e.to_dict()) + b"\n" for e in batch))
            def ingest() -> None:
                if how == "entries+processors":
                    engine.ingest_logs(batch)
                else:
                    engine.ingest_logs_from_file(file, batch_size=10_000)

            with monkeypatch.context() as mp:
                expected = STEPS[step](mp)
                with pytest.raises(expected):
                    ingest()
            assert state(engine, path) == before
            batch = failing_batch()  # the engine goes on: the same batch now goes in whole
            ingest()
            engine._check()
            assert len(engine) == engine.count_logs({})
            assert len(engine.query_logs({"level": "FATAL"})) == 40
        finally:
            engine.close()
        if path is not None:  # the withdrawn rows did not come back; the good ones did
            reopened = make(path, storage, False)
            try:
                reopened._check()
                assert len(reopened) == reopened.count_logs({}) == len(engine)
                assert len(reopened.query_logs({"level": "FATAL"})) == 40
            finally:
                reopened.close()


@pytest.mark.parametrize("which", ["default", "python"])
def test_a_refused_batch_over_capacity_changes_nothing(which: str) -> None:
    with kernels(which):
        engine = make(None, None, True)
        engine._store.id_limit = 1200  # no room to rebase: retention keeps too much
        engine.ingest_logs(good(1000))
        before = state(engine, None)
        with pytest.raises(CapacityError):
            engine.ingest_logs(good(300, 1000))
        assert state(engine, None) == before
