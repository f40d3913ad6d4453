"""Public ids beyond 32 bits: rebasing under retention, storage reopen, cursors, capacity.

The engine starts handing out ids just below 2**32 (``HotWriter.start_ids_at``) with a low
internal id limit (``Store.id_limit``), so the internal ids are rebased many times in one
example; every query must still equal a naive scan of the live entries, which must be the
newest suffix of what was ingested.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import CapacityError, LogAnalyticsEngine, LogEntry, Retention

BELOW_2_32 = 2**32
T0 = 1_750_000_000.0
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
QUERIES: list[dict[str, Any]] = [
    {},
    {"level": "ERROR"},
    {"keyword": "w1"},
    {"source": "s2", "tags": ["t1"]},
    {"start_time": T0 + 100, "end_time": T0 + 400},
    {"level": "WARN", "start_time": T0 + 200},
]


def entry(seq: int, jitter: int) -> LogEntry:
    """Entry number ``seq`` (its message carries it), mostly in time order."""
    return LogEntry(T0 + seq * 0.5 + jitter, LEVELS[seq * 7 % 4], f"w{seq % 5} m{seq}",
                    source=f"s{seq % 3}", tags=[f"t{seq % 4}"])


def jitter(seq: int, seed: int) -> int:
    """About 3% of entries late by up to 40 s, a few early, ties on the half seconds."""
    r = (seq * 7919 + seed * 104729) % 100
    return -(r % 41) if r < 3 else (r % 7 if r > 96 else 0)


def seq_of(e: LogEntry) -> int:
    return int(e.message.split()[1][1:])


def scan(live: list[LogEntry], filters: dict[str, Any]) -> list[int]:
    """The naive answer: matching seqs in (instant, ingestion) order."""
    hits = [e for e in live if e.matches_filter(filters)]
    hits.sort(key=lambda e: (e.ts, seq_of(e)))
    return [seq_of(e) for e in hits]


def open_engine(path: Path | None, keep: int, limit: int,
                first_id: int | None = None) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine(storage=path, retention=Retention(max_entries=keep))
    if first_id is not None:
        engine._writer.start_ids_at(first_id)
    engine._store.id_limit = limit
    return engine


def check_against_model(engine: LogAnalyticsEngine, ingested: int, first: int) -> None:
    engine._check()
    live = list(engine.all_logs)
    seqs = [seq_of(e) for e in live]
    assert seqs == list(range(ingested - len(seqs), ingested)), "live = newest suffix"
    store = engine._store
    assert store.epoch + store.next_id == first + ingested, "public ids never restart"
    for filters in QUERIES:
        assert [seq_of(e) for e in engine.query_logs(filters)] == scan(live, filters)
        assert engine.count_logs(filters) == len(scan(live, filters))


@settings(max_examples=examples(0.25))
@given(below=st.integers(1, 3000), limit=st.sampled_from([2048, 3072]),
       keep=st.integers(50, 600),
       sizes=st.lists(st.integers(40, 400), min_size=1, max_size=8), seed=st.integers(0, 99),
       storage=st.sampled_from([None, "none", "batch"]), reopen_at=st.integers(0, 20))
def test_ids_cross_2_32_with_retention_and_reopen(
    below: int, limit: int, keep: int, sizes: list[int], seed: int, storage: str | None,
    reopen_at: int,
) -> None:
    first = BELOW_2_32 - below
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ids.db" if storage else None
        engine = open_engine(path, keep, limit, first)
        seq = rebases = k = 0
        try:
            while seq < 2 * limit:  # the drawn batches, again and again: past the limit twice
                size = sizes[k % len(sizes)]
                if path is not None and k == reopen_at:
                    engine.close()
                    engine = open_engine(path, keep, limit)
                    check_against_model(engine, seq, first)
                epoch = engine._store.epoch
                engine.ingest_logs([entry(i, jitter(i, seed)) for i in range(seq, seq + size)])
                rebases += engine._store.epoch != epoch
                seq += size
                k += 1
                check_against_model(engine, seq, first)
            assert rebases >= 1
            if path is not None:  # the last state survives a reopen too
                engine.close()
                engine = open_engine(path, keep, limit)
                check_against_model(engine, seq, first)
        finally:
            engine.close()


@settings(max_examples=examples(0.3))
@given(below=st.integers(1, 2000), size=st.integers(1, 40), desc=st.booleans(),
       reopen=st.booleans(), filters=st.sampled_from([None, {"level": "ERROR"}, "w2"]))
def test_cursor_resumes_across_a_rebase_and_a_reopen(
    below: int, size: int, desc: bool, reopen: bool, filters: Any,
) -> None:
    """A cursor taken before the internal ids were rebased (and the engine reopened) resumes
    exactly after its key: every later page is what a scan says comes after it."""
    first = BELOW_2_32 - below
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.db"
        engine = open_engine(path, 700, 2048, first)
        engine.ingest_logs([entry(i, (i * 37) % 23 - 11) for i in range(600)])
        page = engine.query_page(filters, size, sort_desc=desc)
        assert page.entries
        last = page.entries[-1]
        key = (last.ts, seq_of(last))
        rebased_from = engine._store.epoch
        for n in range(600, 2600, 200):  # past the 2048 limit: at least one rebase
            engine.ingest_logs([entry(i, 0) for i in range(n, n + 200)])
        assert engine._store.epoch > rebased_from
        if reopen:
            engine.close()
            engine = open_engine(path, 700, 2048)
        try:
            got: list[int] = []
            cursor = page.next_cursor
            more = True
            while more:
                page = engine.query_page(filters, size, cursor, desc)
                got += [seq_of(e) for e in page.entries]
                cursor, more = page.next_cursor, page.has_more
            live = list(engine.all_logs)
            node_hits = [seq_of(e) for e in engine.query_logs(filters)]  # time order
            by_seq = {seq_of(e): e for e in live}
            after = [s for s in node_hits
                     if ((by_seq[s].ts, s) < key if desc else (by_seq[s].ts, s) > key)]
            assert got == (after[::-1] if desc else after)
        finally:
            engine.close()


def test_live_entries_spanning_the_limit_raise_capacity_error() -> None:
    """Without retention nothing can be rebased: the batch that would pass the limit is
    refused with :class:`CapacityError` and nothing of it is kept."""
    engine = open_engine(None, 10**9, 4096, BELOW_2_32 - 10)  # internal ids from 1014
    engine.ingest_logs([entry(i, 0) for i in range(3000)])
    before = [e.message for e in engine.query_logs()]
    with pytest.raises(CapacityError) as info:
        engine.ingest_logs([entry(i, 0) for i in range(3000, 3100)])
    assert info.value.requested == 100
    assert info.value.live == 3000
    assert [e.message for e in engine.query_logs()] == before
    assert len(engine) == engine.count_logs({}) == 3000
    engine._check()
    engine.ingest_logs([entry(3000, 0)])  # what fits still goes in
    assert len(engine) == 3001


def test_rebase_happens_only_when_needed_and_keeps_public_ids() -> None:
    """Ids pass 2**32 publicly while the internal ids stay below the limit."""
    engine = open_engine(None, 500, 2048, BELOW_2_32 - 5)
    for n in range(0, 10_000, 250):
        engine.ingest_logs([entry(i, 0) for i in range(n, n + 250)])
    store = engine._store
    assert store.epoch + store.next_id == BELOW_2_32 - 5 + 10_000
    assert store.epoch > BELOW_2_32
    assert store.next_id <= 2048
    engine._check()


def test_ids_taken_before_a_rebase_are_read_in_the_new_epoch() -> None:
    """``Store.still_live``: ids snapshotted under the lock (a regex then runs outside it)
    are the same entries when the lock is taken again after a rebase."""
    engine = open_engine(None, 500, 2048, BELOW_2_32 - 700)
    store = engine._store
    n = 0
    while store.next_id + 100 <= store.id_limit:  # up to the limit, no rebase yet
        engine.ingest_logs([entry(i, 0) for i in range(n, n + 100)])
        n += 100
    epoch = store.epoch
    before = {store.epoch + i: store.get(i).message for i in store.live}
    taken = store.live.copy()
    engine.ingest_logs([entry(i, 0) for i in range(n, n + 200)])  # rebases
    assert store.epoch != epoch
    now = {store.epoch + i: store.get(i).message for i in store.still_live(taken, epoch)}
    assert now
    assert now == {k: v for k, v in before.items() if k - store.epoch in store.live}
