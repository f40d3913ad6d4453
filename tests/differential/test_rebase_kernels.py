"""Rebasing the internal ids gives the same engine on the C and the Python kernels.

The same entries and files go through an engine whose internal id limit forces several
rebases under retention, once with the accelerator and once on the Python kernels; every
answer, the time order and every posting (as public ids) must be equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine import _native as native

pytestmark = pytest.mark.skipif(native.speedups is None, reason="the C accelerator is not built")

QUERIES: list[Any] = [{}, {"level": "ERROR"}, {"keyword": "w3"}, {"source": "s1"},
                      {"start_time": 1_750_000_100.0, "end_time": 1_750_000_500.0}, "w1 OR w2"]


def entries(start: int, n: int, seed: int) -> list[LogEntry]:
    return [LogEntry(1_750_000_000 + i * 0.3 - ((i * seed) % 97 == 0) * 40,
                     ("INFO", "ERROR", "WARN")[(i * seed) % 3], f"w{(i + seed) % 6} m{i}",
                     source=f"s{i % 4}", tags=[f"t{i % 3}"]) for i in range(start, start + n)]


def run(sizes: list[int], seed: int, path: Path) -> dict[str, Any]:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=400))
    engine._writer.start_ids_at(2**32 - 300 - seed)
    engine._store.id_limit = 2048
    seq = k = 0
    first_epoch = engine._store.epoch
    while seq < 3000:  # past the 2048 limit: at least one rebase
        n = sizes[k % len(sizes)]
        k += 1
        batch = entries(seq, n, seed)
        if k % 2 == 0:
            path.write_bytes(b"".join(orjson.dumps(e.to_dict()) + b"\n" for e in batch))
            engine.ingest_logs_from_file(path)
        else:
            engine.ingest_logs(batch)
        seq += n
    engine._check()
    store, idx = engine._store, engine._indexes
    return {
        "answers": [[e.message for e in engine.query_logs(q)] for q in QUERIES],
        "desc": [e.message for e in engine.query_logs({}, sort_desc=True)],
        "postings": {name: {t: [i + store.epoch for i in bm] for t, bm in index.items()}
                     for name, index in (("level", idx.level), ("source", idx.source),
                                         ("tag", idx.tag), ("token", idx.token))},
        "public": (store.epoch + store.base, store.epoch + store.next_id),
        "rebased": store.epoch > first_epoch,
    }


@settings(max_examples=15)
@given(sizes=st.lists(st.integers(50, 350), min_size=1, max_size=4), seed=st.integers(1, 50))
def test_rebased_engine_is_the_same_on_both_kernels(
    sizes: list[int], seed: int, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("rebase") / "batch.jsonl"
    fast = run(sizes, seed, path)
    with native.use_python():
        slow = run(sizes, seed, path)
    assert fast["rebased"]
    assert fast == slow
