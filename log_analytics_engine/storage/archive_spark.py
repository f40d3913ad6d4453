"""The Parquet archive on Apache Spark: the DuckDB reader's plans, in Spark SQL.

:class:`SparkArchiveReader` is an :class:`~.archive_reader.ArchiveReader` that differs in three
things only: the SQL dialect (:data:`~log_analytics_engine.query.sql.DIALECTS` ``["spark"]``,
named ``:p0`` parameters, ``array_contains``, VARIANT for numeric metadata), how a set of
segments becomes a relation (a temporary view over ``spark.read.parquet(*files)`` with the
archive's schema given, so no footer is read to infer it), and how results come back (Arrow).
Pruning by hour partition and term index, the compiled predicates, the residual checks with
``node.match``, ordering, pages and the aggregation plans are the reader's own, so answers
equal the DuckDB executor's and the in-memory engine's.

The session is the caller's (``spark=``) or the active/default one
(``SparkSession.builder.getOrCreate()``): with ``spark-submit --master spark://...`` the same
code runs on a cluster (docs/scale-out.md). The folder must be readable at the same path by
the driver and every executor (shared storage, or an object-store URL Spark can read). Needs
the ``spark`` extra (pyspark >= 4.0) and a Java 17 runtime.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import MissingExtraError
from ..query.residual import Deadline
from ..query.sql import DIALECTS
from .archive_reader import ArchiveReader

__all__ = ["SPARK_SCHEMA", "SparkArchiveReader", "spark_session"]

#: The archive's columns (:func:`.archive_format.schema`) as Spark DDL.
SPARK_SCHEMA = (
    "instant DOUBLE, time TIMESTAMP, timestamp STRING, timestamp_json STRING, level STRING, "
    "source STRING, message STRING, tags ARRAY<STRING>, thread_id STRING, request_id STRING, "
    "user_id STRING, metadata STRING, id BIGINT, words ARRAY<STRING>")
#: Temporary views kept per reader (one per distinct set of segments recently queried).
VIEWS = 64
_names = itertools.count()


def spark_session(spark: Any = None) -> Any:
    """``spark`` itself, or the active session, or a new default one (``getOrCreate``)."""
    if spark is not None:
        return spark
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise MissingExtraError("the Spark archive executor", "pyspark", "spark") from exc
    return SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()


class _Result:
    """A Spark DataFrame behind the few cursor methods the reader calls."""

    def __init__(self, df: Any) -> None:
        self.df = df

    def fetch_arrow_table(self) -> Any:
        return self.df.toArrow()

    def fetch_record_batch(self, rows: int) -> Iterator[Any]:
        # Spark hands the whole answer to the driver as Arrow; callers that need bounded
        # memory query one hour partition at a time (see SparkArchiveReader.stream).
        yield from self.df.toArrow().to_batches(max_chunksize=rows)

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self.df.take(1)
        return tuple(rows[0]) if rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.df.collect()]


class SparkArchiveReader(ArchiveReader):
    """Queries over the segments of ``directory`` on a Spark session (see the module doc).

    Thread-safe as far as the session is (Spark accepts queries from many threads).
    """

    dialect = DIALECTS["spark"]

    def __init__(self, directory: str | os.PathLike[str], spark: Any = None) -> None:
        # Not ArchiveReader.__init__: no DuckDB connection here.
        self._segments_of(directory)
        self.spark = spark_session(spark)
        self._views: OrderedDict[tuple[str, ...], str] = OrderedDict()
        self._prefix = f"log_archive_{os.getpid()}_{id(self):x}_"

    def close(self) -> None:
        """Drop this reader's temporary views (the session is the caller's: left running)."""
        with self._lock:
            names = list(self._views.values())
            self._views.clear()
        for name in names:
            self.spark.catalog.dropTempView(name)

    def _from(self, files: list[str]) -> str:
        key = tuple(files)
        with self._lock:
            name = self._views.get(key)
            if name is not None:
                self._views.move_to_end(key)
                return name
        name = f"{self._prefix}{next(_names)}"
        (self.spark.read.schema(SPARK_SCHEMA).parquet(*files)
         .createOrReplaceTempView(name))
        dropped = []
        with self._lock:
            self._views[key] = name
            while len(self._views) > VIEWS:
                dropped.append(self._views.popitem(last=False)[1])
        for old in dropped:
            self.spark.catalog.dropTempView(old)
        return name

    @contextlib.contextmanager
    def within(self, deadline: Deadline) -> Iterator[None]:
        """:meth:`ArchiveReader.within` on Spark: the thread's jobs run in a job group of
        their own, which the timer cancels (a Spark Connect session, without a
        ``sparkContext``, is checked before each statement only)."""
        context = getattr(self.spark, "sparkContext", None) if deadline.until else None
        if context is None:
            with super().within(deadline):
                yield
            return
        self._local.group = group = f"{self._prefix}q{next(_names)}"
        context.setJobGroup(group, "log_analytics_engine archive query", True)
        try:
            with super().within(deadline):
                yield
        finally:
            context.setLocalProperty("spark.jobGroup.id", None)
            del self._local.group

    def _interrupter(self, cursors: list[Any]) -> Callable[[], None]:
        group = getattr(self._local, "group", None)
        context = getattr(self.spark, "sparkContext", None)
        if group is None or context is None:
            return lambda: None
        return lambda: context.cancelJobGroup(group)

    def _interrupted(self, exc: Exception, deadline: Deadline) -> bool:
        """A cancelled job group surfaces as whatever error the Py4J call raised: any error
        after the deadline is the timeout's."""
        return deadline.until is not None and time.monotonic() >= deadline.until

    def _cut_values(self, files: list[str], pred: Any, column: str) -> Any:
        """:meth:`ArchiveReader._cut_values` on Spark: the segments (a time range cuts at
        most the two at its ends) read with the typed column added to the schema, in a view
        of this call's own."""
        name = f"{self._prefix}cut{next(_names)}"
        (self.spark.read.schema(f"{SPARK_SCHEMA}, `{column}` DOUBLE").parquet(*files)
         .createOrReplaceTempView(name))
        try:
            sql = (f"SELECT level, count(*) AS n, collect_list(`{column}`) AS v FROM {name} "
                   f"WHERE {pred.sql} GROUP BY level")
            return self._run(sql, pred.params).fetch_arrow_table()
        finally:
            self.spark.catalog.dropTempView(name)

    def _typed(self, files: list[str], field: str) -> bool:
        """Never: the typed numeric columns are read through DuckDB-only SQL (list slicing,
        ``signbit``); Spark reads numeric metadata through the dialect's VARIANT path."""
        return False

    def _run(self, sql: str, params: dict[str, Any]) -> Any:
        self._checked()
        return _Result(self.spark.sql(sql, args=params or None))
