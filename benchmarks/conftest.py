"""Shared fixtures for the benchmarks: the generated corpus and engines loaded from it.

The corpus is generated once per size and cached under ``$LAE_BENCH_DIR`` (default: the
system temp dir). ``LAE_BENCH_LINES`` sets its size (default 1,000,000 lines).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson
import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.events.sample import write_jsonl

LINES = int(os.environ.get("LAE_BENCH_LINES", "1000000"))
CACHE = Path(os.environ.get("LAE_BENCH_DIR", tempfile.gettempdir()))


@pytest.fixture(scope="session")
def corpus_path() -> Path:
    path = CACHE / f"lae-corpus-{LINES}-seed42.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_jsonl(str(tmp), LINES, seed=42)
        tmp.rename(path)
    return path


@pytest.fixture(scope="session")
def corpus_records(corpus_path: Path) -> list[dict]:
    with open(corpus_path, "rb") as fh:
        return [orjson.loads(line) for line in fh]


@pytest.fixture(scope="session")
def corpus_entries(corpus_records: list[dict]) -> list[LogEntry]:
    return [LogEntry.from_dict(r) for r in corpus_records]


@pytest.fixture(scope="session")
def loaded_engine(corpus_path: Path) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.ingest_logs_from_file(corpus_path)
    return engine
