"""The Spark executor's own parts: its session, its temporary views, its dialect, the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from log_analytics_engine import AlertRule, Archive, LogEntry, backtest_alerts

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from log_analytics_engine.query.sql import compile_sql
from log_analytics_engine.storage.archive_writer import SegmentWriter

T0 = 1_753_092_000.0  # 2025-07-21T10:00:00Z


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    entries = [LogEntry(T0 + i * 600, "ERROR" if i % 2 else "INFO", f"db timeout {i}",
                        "api" if i % 3 else "db", tags=["prod"] if i % 2 else [],
                        metadata={"latency_ms": i * 1.5, "n": i}) for i in range(20)]
    SegmentWriter(tmp_path).write(entries, list(range(20)))
    return tmp_path


def test_spark_dialect_uses_named_parameters_and_array_contains() -> None:
    c = compile_sql({"level": "ERROR", "keyword": "timeout"}, "spark")
    assert c.sql == "((level = :p0) AND array_contains(words, :p1))"
    assert c.params == {"p0": "ERROR", "p1": "timeout"}


def test_without_a_session_the_active_one_is_used(spark: Any, folder: Path) -> None:
    with Archive(folder, executor="spark") as archive:
        assert archive._run.spark is spark
        assert archive.count_logs({"level": "ERROR"}) == 10


def test_close_drops_the_views_and_leaves_the_session_running(spark: Any,
                                                              folder: Path) -> None:
    archive = Archive(folder, executor="spark", spark=spark)
    archive.count_logs({"source": "api"})
    archive.query_logs({"level": "INFO"})
    views = set(archive._run._views.values())
    assert views
    assert views <= {t.name for t in spark.catalog.listTables()}
    archive.close()
    assert not views & {t.name for t in spark.catalog.listTables()}
    assert spark.sql("SELECT 1 AS x").collect()[0].x == 1


def test_views_are_bounded(spark: Any, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from log_analytics_engine.storage import archive_spark

    monkeypatch.setattr(archive_spark, "VIEWS", 2)
    with Archive(folder, executor="spark", spark=spark) as archive:
        for hour in range(4):  # four different sets of segments
            lo = T0 + hour * 3600
            archive.count_logs({"start_time": lo, "end_time": lo + 3599})
        assert len(archive._run._views) == 2


def test_spark_backtest_equals_the_replay_of_the_same_entries(spark: Any,
                                                              folder: Path) -> None:
    rules = [AlertRule("errors", conditions={"level": "ERROR"}, threshold=2, time_window=1300),
             AlertRule("quiet", conditions={"source": "db"}, kind="absence",
                       time_window=1000)]
    with Archive(folder) as duck, Archive(folder, executor="spark", spark=spark) as sp:
        want = [a.to_dict() for a in backtest_alerts(rules, duck.query_logs())]
        assert want
        assert [a.to_dict() for a in sp.backtest(rules)] == want
        assert [a.to_dict() for a in duck.backtest(rules)] == want


def test_time_buckets_and_percentiles_match_duckdb(spark: Any, folder: Path) -> None:
    with Archive(folder) as duck, Archive(folder, executor="spark", spark=spark) as sp:
        for kwargs in ({"interval": "1h"}, {"group_by": "level", "interval": 1800},
                       {"group_by": "tags"}, {"group_by": "level"},  # term counts
                       {"group_by": "source", "metrics": ["count"]},
                       {"group_by": "source", "metrics": ["count", "p95:latency_ms",
                                                          "sum:n", "avg:latency_ms"]}):
            assert sp.aggregate(**kwargs) == duck.aggregate(**kwargs), kwargs


def test_exact_metadata_predicates_on_spark_mean_what_the_engine_means(spark: Any,
                                                                       tmp_path: Path) -> None:
    from log_analytics_engine import LogAnalyticsEngine

    values = [2, 3, 2.5, 2.4999999999999996, -0.0, 0, True, False, "3", "eu", None,
              2**63 - 1, -(2**63), 1e300, -1e-300, [1], {"a": 1}]
    built = [LogEntry(T0 + i, "INFO", "m", metadata={} if v is None else {"n": v})
             for i, v in enumerate(values)]
    engine = LogAnalyticsEngine()
    engine.ingest_logs(built)
    SegmentWriter(tmp_path).write(built, range(len(built)))
    queries: list[Any] = ["n:>2", "n:>=2.5", "n:<2.5", "n:<=0", "NOT n:>2", {"n": "eu"},
                          {"n": True}, {"n": False}, {"n": "3"}]
    with Archive(tmp_path, executor="spark", spark=spark) as archive:
        for q in queries:
            assert compile_sql(q, "spark").exact, q
            assert archive.count_logs(q) == engine.count_logs(q), q
            assert [e.metadata for e in archive.query_logs(q)] == [
                e.metadata for e in engine.query_logs(q)], q


def test_spark_reads_percentiles_from_the_value_runs(spark: Any, folder: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from log_analytics_engine import LogAnalyticsEngine
    from log_analytics_engine.storage.archive_spark import SparkArchiveReader

    entries = [LogEntry(T0 + i * 600, "ERROR" if i % 2 else "INFO", f"db timeout {i}",
                        "api" if i % 3 else "db", tags=["prod"] if i % 2 else [],
                        metadata={"latency_ms": i * 1.5, "n": i}) for i in range(20)]
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    metrics = ["count", "min:latency_ms", "p50:latency_ms", "p95:latency_ms"]
    cut = {"start_time": T0 + 1500}  # inside the first hour: that segment is cut
    with Archive(folder, executor="spark", spark=spark) as archive:
        jobs: list[str] = []
        run = SparkArchiveReader._run
        monkeypatch.setattr(SparkArchiveReader, "_run",
                            lambda self, sql, params: jobs.append(sql) or run(self, sql, params))
        for group_by in ("level", None):
            want = engine.aggregate(group_by=group_by, metrics=metrics)
            assert archive.aggregate(group_by=group_by, metrics=metrics) == want
        assert jobs == []  # whole segments: the runs answer on the driver, no Spark job
        want = engine.aggregate(cut, group_by="level", metrics=metrics)
        assert archive.aggregate(cut, group_by="level", metrics=metrics) == want
        assert jobs  # a cut segment: Spark's own SQL path


def test_a_running_spark_query_is_cancelled_at_its_deadline(spark: Any, folder: Path) -> None:
    """The thread's jobs run in a job group of their own, which the timer cancels."""
    import time

    from log_analytics_engine import QueryTimeoutError
    from log_analytics_engine.query.residual import Deadline
    from log_analytics_engine.storage.archive_spark import SparkArchiveReader

    reader = SparkArchiveReader(folder, spark)
    endless = "SELECT count(*) FROM range(1000000000000) a"
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError, match="archive"), reader.within(Deadline(3.0)):
        reader._run(endless, {}).fetchall()
    assert time.monotonic() - started < 60  # cancelled, not run to its end
    assert spark.sparkContext.getLocalProperty("spark.jobGroup.id") is None
    with Archive(folder, executor="spark", spark=spark) as archive:
        assert archive.count_logs({"level": "ERROR"}, timeout=600) == 10  # usable afterwards
        with pytest.raises(QueryTimeoutError):
            archive.count_logs({"level": "ERROR"}, timeout=1e-9)
