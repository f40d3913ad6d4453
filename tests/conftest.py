"""Shared fixtures and the hypothesis settings profiles.

Profiles: ``ci`` (the default: bounded examples, no deadline, so the suite stays well under a
minute on a shared 2-core machine) and ``thorough`` (many more examples, for a long run:
``HYPOTHESIS_PROFILE=thorough python -m pytest tests``). Property tests that need a different
budget scale it with :func:`examples`.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.index import chunks

# ``import strategies`` works from every test module whatever the import mode.
sys.path.insert(0, str(Path(__file__).parent))

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Sealed chunks of 8 ids unless told otherwise, so that the small engines of the tests keep
# most of their entries as records (the engine's default is 1024): every query, aggregation
# and eviction then reads entries built from records. LOG_ANALYTICS_TEST_CHUNK_BITS=10 runs
# the suite on the default.
chunks.CHUNK_BITS = int(os.environ.get("LOG_ANALYTICS_TEST_CHUNK_BITS", "3"))


def run_sql(path: Path, *statements: str) -> None:
    """Run ``statements`` on the SQLite file ``path`` and commit (tests that damage or edit a
    storage file behind the engine's back)."""
    db = sqlite3.connect(path)
    try:
        for stmt in statements:
            db.execute(stmt)
        db.commit()
    finally:
        db.close()


def examples(fraction: float) -> int:
    """A share of the active profile's ``max_examples`` (at least 10)."""
    return max(10, int(settings.default.max_examples * fraction))


@pytest.fixture
def engine() -> LogAnalyticsEngine:
    """An empty engine."""
    return LogAnalyticsEngine()


@pytest.fixture
def sample_entries() -> list[LogEntry]:
    """Six entries over two sources, all levels but TRACE, arriving out of time order."""
    return [
        LogEntry("2025-07-21T10:00:05Z", "INFO", "user login ok", source="auth",
                 tags=["prod", "eu"], metadata={"user_id": "u1", "latency_ms": 12}),
        LogEntry("2025-07-21T10:00:01Z", "ERROR", "db timeout after 30s", source="api",
                 tags=["prod"], metadata={"user_id": "u2", "latency_ms": 3000}),
        LogEntry("2025-07-21T10:00:03Z", "warning", "slow query on db", source="api",
                 metadata={"latency_ms": 800}),
        LogEntry("2025-07-21T10:00:02Z", "DEBUG", "cache miss", source="api",
                 tags=["canary"]),
        LogEntry("2025-07-21T10:00:04Z", "critical", "Connection refused: db-01", source="db",
                 tags=["prod", "us"], metadata={"user_id": "u1"}),
        LogEntry("2025-07-21T10:00:01Z", "info", "user logout", source="auth",
                 tags=["eu"], metadata={"user_id": "u3", "latency_ms": 5}),
    ]


@pytest.fixture
def loaded(engine: LogAnalyticsEngine, sample_entries: list[LogEntry]) -> LogAnalyticsEngine:
    """The engine with :func:`sample_entries` ingested."""
    engine.ingest_logs(sample_entries)
    return engine


@pytest.fixture
def write_lines(tmp_path: Path) -> Callable[..., Path]:
    """``write_lines(name, lines)``: write text lines to ``tmp_path/name`` (gzip for .gz)."""

    def write(name: str, lines: Iterable[str | bytes]) -> Path:
        path = tmp_path / name
        data = b"".join((ln if isinstance(ln, bytes) else ln.encode()) + b"\n" for ln in lines)
        if name.endswith(".gz"):
            path.write_bytes(gzip.compress(data))
        else:
            path.write_bytes(data)
        return path

    return write



@pytest.fixture(scope="session")
def big() -> dict[int, list[LogEntry]]:
    """A cache for large generated corpora shared by property tests (built on first use)."""
    return {}


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole run (``local[2]``, 2 shuffle partitions, UTC,
    no UI, errors only in the logs); skips when pyspark or a Java runtime is missing. Tests
    using it are marked ``spark`` (``-m spark`` runs them alone)."""
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="needs the spark extra (pyspark)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs a Java runtime (openjdk-17-jre-headless)")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (pyspark_sql.SparkSession.builder.master("local[2]")
               .appName("log_analytics_engine-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.memory", "1g")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


_KINDS = ("unit", "property", "differential", "integration", "adversarial")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its kind, the folder it lives in (``-m "not integration"``), and
    the tests that use the ``spark`` fixture with ``spark``."""
    for item in items:
        kind = item.path.parent.name
        if kind in _KINDS:
            item.add_marker(getattr(pytest.mark, kind))
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
