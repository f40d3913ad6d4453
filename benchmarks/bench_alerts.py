"""Ingestion throughput with 0, 10 and 100 alert rules of mixed conditions and kinds.

The corpus is parsed into entries once (module fixture), so each round times only
``engine.ingest_logs`` of prebuilt entries in batches of 8192: store, indexes and rules.

    python -m pytest benchmarks/bench_alerts.py --benchmark-only -q

``ALERTS_BENCH_LINES`` picks the corpus size (default 1,000,000: ``/work/corpus/c1m.jsonl``
when present, else generated once into the temp folder with the same generator and seed).

``python benchmarks/bench_alerts.py [ROUNDS]`` runs the three configurations interleaved in one
process (so each sees the same machine load) and prints CPU-time medians, minima and ratios.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from log_analytics_engine import AlertRule, LogAnalyticsEngine, LogEntry
from log_analytics_engine.events.sample import _STEMS, _TAGS, SampleCorpus, write_jsonl

LINES = int(os.environ.get("ALERTS_BENCH_LINES", "1000000"))
BATCH = 8192
KNOWN = {1_000_000: "/work/corpus/c1m.jsonl", 100_000: "/work/corpus/c100k.jsonl"}


def corpus_path(lines: int) -> Path:
    known = KNOWN.get(lines)
    if known and os.path.exists(known):
        return Path(known)
    path = Path(tempfile.gettempdir()) / f"log-analytics-bench-{lines}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".part")
        write_jsonl(str(tmp), lines)
        tmp.replace(path)
    return path


@pytest.fixture(scope="module")
def entries() -> list[LogEntry]:
    with open(corpus_path(LINES), "rb") as fh:
        return [LogEntry.from_dict(orjson.loads(line)) for line in fh]


def make_rules(n: int) -> list[AlertRule]:
    """``n`` rules cycling through realistic shapes: level, source, word, tag, grouped,
    spike, absence, new-term, and one rule in 50 with a bare regex (checked on every entry)."""
    sources = SampleCorpus(seed=42).sources
    rules: list[AlertRule] = []
    for i in range(n):
        src, word, tag = sources[i % len(sources)], _STEMS[i % len(_STEMS)], _TAGS[i % len(_TAGS)]
        shape = i % 10
        kw: dict[str, Any] = {"threshold": 5, "time_window": 60.0, "cooldown": 300.0}
        if i % 50 == 49:
            cond: dict[str, Any] = {"regex": f"{word}.*failed"}
        elif shape == 0:
            cond = {"level": "ERROR"}
            kw.update(threshold=5 + i // 10)
        elif shape == 1:
            cond = {"min_severity": "WARN", "source": src}
            kw.update(threshold=10)
        elif shape == 2:
            cond = {"keyword": word}
            kw.update(threshold=50)
        elif shape == 3:
            cond = {"level": "ERROR", "keyword": word}
            kw.update(threshold=3, time_window=120.0)
        elif shape == 4:
            cond = {"level": ["ERROR", "FATAL"]}
            kw.update(group_by="source")
        elif shape == 5:
            cond = {"tags": tag, "level": ["ERROR", "FATAL"]}
            kw.update(threshold=3)
        elif shape == 6:
            cond = {"level": "ERROR", "source": src}
            kw.update(kind="spike", spike_ratio=3.0, cooldown=600.0)
        elif shape == 7:
            cond = {"source": src, "level": "WARN"}
            kw.update(kind="absence", threshold=1, time_window=300.0)
        elif shape == 8:
            cond = {"level": "FATAL"}
            kw.update(kind="new_term", field="source", threshold=1)
        else:
            cond = {"level": "ERROR", "regex": "timeout|refused"}
        rules.append(AlertRule(f"rule-{i:03d}", conditions=cond, **kw))
    return rules


@pytest.mark.parametrize("n_rules", [0, 10, 100])
def test_ingest_with_rules(benchmark: Any, entries: list[LogEntry], n_rules: int) -> None:
    rules = make_rules(n_rules)

    def setup() -> tuple[tuple[LogAnalyticsEngine], dict[str, Any]]:
        engine = LogAnalyticsEngine()
        for rule in make_rules(n_rules):
            engine.add_alert_rule(rule)
        return (engine,), {}

    def ingest(engine: LogAnalyticsEngine) -> int:
        total = 0
        for i in range(0, len(entries), BATCH):
            total += engine.ingest_logs(entries[i:i + BATCH])
        return total

    result = benchmark.pedantic(ingest, setup=setup, rounds=3, iterations=1)
    assert result == len(entries)
    benchmark.extra_info.update(lines=len(entries), rules=len(rules))


def _ingest_all(entries: list[LogEntry], n_rules: int) -> float:
    engine = LogAnalyticsEngine()
    for rule in make_rules(n_rules):
        engine.add_alert_rule(rule)
    started = time.process_time()
    for i in range(0, len(entries), BATCH):
        engine.ingest_logs(entries[i:i + BATCH])
    return time.process_time() - started


def main(rounds: int) -> None:
    with open(corpus_path(LINES), "rb") as fh:
        entries = [LogEntry.from_dict(orjson.loads(line)) for line in fh]
    times: dict[int, list[float]] = {0: [], 10: [], 100: []}
    for _ in range(rounds):
        for n in (0, 100, 10):
            times[n].append(_ingest_all(entries, n))
            gc.collect()
    base_med, base_min = statistics.median(times[0]), min(times[0])
    for n, got in times.items():
        med, low = statistics.median(got), min(got)
        print(f"{n:>3} rules: median {med:.2f} s, min {low:.2f} s, speed ratio "
              f"{base_med / med:.2f} (median) / {base_min / low:.2f} (min)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4)
