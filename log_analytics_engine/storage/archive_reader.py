"""Reading the Parquet archive with DuckDB: pruning, compiled predicates, exact answers.

An :class:`ArchiveReader` lists the complete segments of a folder (hidden temporary files are
never listed), reads each segment's term index once (cached by name: segments are
immutable), and for a query tree keeps only the segments whose hour partition, time span and
terms can match (:func:`~log_analytics_engine.query.sql.may_match`). The tree compiles once to
SQL (:mod:`log_analytics_engine.query.sql`); DuckDB reads only the kept files and the columns
asked for, and prunes row groups by their instant statistics. When the predicate is only a
superset (a regex, a metadata equality) the rows are decoded and checked with ``node.match``,
so every answer is what the in-memory engine gives for the same entries.

Results come in (instant, id) order, the engine's time order. Aggregations that SQL computes
exactly (counts by level, source, tags and time buckets; numeric metrics of a metadata field)
run in DuckDB, the values of numeric metrics handed to the engine's own percentile and sum;
anything else aggregates the matching entries with the engine's own code
(:class:`ScratchTable`). Needs the ``archive`` extra (pyarrow, duckdb).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..errors import MissingExtraError, QueryTimeoutError, StorageCorruptError
from ..index.postings import IndexSet, Postings
from ..index.store import Store
from ..ingest.driver import IngestDriver
from ..ingest.processors import ProcessorChain
from ..model.entry import ATTRIBUTES, LogEntry
from ..model.timeparse import format_instant
from ..model.tokenize import TokenCache
from ..query.aggregate import (
    aggregate_ids,
    key_order,
    parse_interval,
    parse_metrics,
)
from ..query.nodes import And, IndexTerm, MatchAll, Node, QueryContext, TimeRange
from ..query.order import TIME_KEYS, order_entry_list
from ..query.residual import Deadline
from ..query.sql import DIALECTS, Dialect, compile_sql, may_match, text_value, time_span
from . import archive_numbers as numbers
from .archive_format import (
    MAX_TERMS_BYTES,
    NUMERIC_PREFIX,
    SEGMENT_SUFFIX,
    TERMS_SUFFIX,
    SegmentTerms,
    segment_problem,
    table_entries,
)
from .archive_runs import RUNS_SUFFIX, read_runs, select_sorted

__all__ = ["ArchiveReader", "ScratchTable", "list_segments"]

log = logging.getLogger(__name__)

_PART = re.compile(r"^date=(\d{4})-(\d{2})-(\d{2})/hour=(\d{2})/")
_ENTRY_COLUMNS = ("instant, timestamp, timestamp_json, level, source, message, tags, "
                  "thread_id, request_id, user_id, metadata")
_PLAIN_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GROUP_COLUMNS = {"level": "level", "source": "source"}
#: Rows decoded per batch when a residual check decides.
BATCH_ROWS = 8192


def list_segments(directory: str) -> list[str]:
    """The complete segments under ``directory`` (``date=.../hour=.../name.parquet``), sorted.
    O(files)."""
    out: list[str] = []
    try:
        dates = sorted(os.listdir(directory))
    except FileNotFoundError:
        return out
    for d in dates:
        if not d.startswith("date="):
            continue
        try:
            hours = sorted(os.listdir(os.path.join(directory, d)))
        except (NotADirectoryError, FileNotFoundError):
            continue
        for h in hours:
            if not h.startswith("hour="):
                continue
            try:
                names = os.listdir(os.path.join(directory, d, h))
            except (NotADirectoryError, FileNotFoundError):
                continue
            out.extend(f"{d}/{h}/{n}" for n in sorted(names)
                       if n.endswith(SEGMENT_SUFFIX) and not n.startswith("."))
    return out


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:
        raise MissingExtraError("the DuckDB archive executor", "duckdb", "archive") from exc
    return duckdb


def _arrow_table(relation: Any) -> Any:
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    with _damage_named():
        return fetch()


def _arrow_batches(relation: Any, rows: int) -> Iterator[Any]:
    reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    with _damage_named():
        yield from reader(rows)


def _fetchall(relation: Any) -> list[Any]:
    with _damage_named():
        rows: list[Any] = relation.fetchall()
    return rows


def _logged(interrupt: Callable[[], None]) -> Callable[[], None]:
    """``interrupt`` for a timer thread: a failure (the query ended meanwhile, the session
    went away) is logged, never left to escape the thread."""
    def run() -> None:
        try:
            interrupt()
        except Exception as exc:  # a timer has no caller to raise to
            log.debug("cancelling an archive query at its deadline failed: %s", exc)

    return run


_GLOB = re.compile(r"[*?\[\]{}\\]")
_NAMED_FILE = re.compile(r"""["']([^"']+\.parquet)["']""")


@contextlib.contextmanager
def _damage_named() -> Iterator[None]:
    """DuckDB's error reading a segment whose footer looked right (a damaged page) as
    :class:`StorageCorruptError` naming the file; any other error as it is."""
    duckdb = _duckdb()
    try:
        yield
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        m = _NAMED_FILE.search(str(exc))
        if m is None:
            raise
        raise StorageCorruptError(m.group(1), f"damaged archive segment: {exc}") from exc


class ScratchTable:
    """Entries indexed as the engine indexes them, for aggregations SQL does not express.

    Holds what it is given (O(k) memory for k entries), ids in the given order.
    """

    def __init__(self, entries: Sequence[LogEntry]) -> None:
        self.store = store = Store()
        self.indexes = indexes = IndexSet(())
        self.ctx = QueryContext(store, indexes)

        def commit(batch: Sequence[LogEntry], words: Any, postings: Postings) -> int:
            indexes.merge(postings, store.append(batch))
            return len(batch)

        IngestDriver(indexes, ProcessorChain(), TokenCache(), lambda: store.next_id,
                     lambda: False, commit).ingest(list(entries))

    def aggregate(self, group_by: Any, interval: Any, metrics: Any) -> dict[Any, Any]:
        return aggregate_ids(self.ctx, self.store.live, group_by, interval, metrics)


class ArchiveReader:
    """Queries over the segments of ``directory`` on DuckDB. Thread-safe (a cursor per query).

    ``only(name)`` (optional, per call) restricts a query to the segments it accepts.
    ``dialect`` is the SQL spelling of the executor (:data:`~..query.sql.DIALECTS`); another
    executor (:mod:`.archive_spark`) overrides ``_from``, ``_run`` and ``dialect`` (and turns
    off the DuckDB-only typed-column path, ``_typed``).
    """

    dialect: Dialect = DIALECTS["duckdb"]

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._segments_of(directory)
        self._con = _duckdb().connect(":memory:")

    def close(self) -> None:
        self._con.close()

    # -- segments -------------------------------------------------------------------------
    def _segments_of(self, directory: str | os.PathLike[str]) -> None:
        """What every executor keeps about the folder's segments (both constructors)."""
        self.directory = os.fspath(directory)
        self._terms: dict[str, SegmentTerms | None] = {}
        self._valid: set[str] = set()  # segments whose footer was checked
        self._lock = threading.Lock()
        self._local = threading.local()  # the deadline of this thread's queries

    def segments(self) -> list[str]:
        """Every complete segment now in the folder."""
        return list_segments(self.directory)

    def terms(self, name: str) -> SegmentTerms | None:
        """The term index of a segment (cached; ``None`` when it has none)."""
        with self._lock:
            if name in self._terms:
                return self._terms[name]
        path = os.path.join(self.directory, name[: -len(SEGMENT_SUFFIX)] + TERMS_SUFFIX)
        try:
            with open(path, "rb") as fh:  # one byte over the limit is enough to refuse it
                terms: SegmentTerms | None = SegmentTerms.from_bytes(
                    fh.read(MAX_TERMS_BYTES + 1))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("archive segment %s has no readable term index: %s", name, exc)
            terms = None
        with self._lock:
            self._terms[name] = terms
        return terms

    def files(self, node: Node, only: Callable[[str], bool] | None = None) -> list[str]:
        """The paths of the segments that can hold a match of ``node``. O(segments)."""
        lo, hi = time_span(node)
        kept = []
        for name in self.segments():
            if only is not None and not only(name):
                continue
            m = _PART.match(name)
            if m is not None and (lo != -math.inf or hi != math.inf):
                start = _hour_start(m)
                if start > hi or start + 3600 <= lo:
                    continue
            seg = self.terms(name)
            if seg is not None and not may_match(node, seg):
                continue
            kept.append(self.checked(name))
        return kept

    def checked(self, name: str) -> str:
        """The path of the segment ``name`` once its footer shows a segment the queries can
        read (checked once per reader: segments are immutable); else
        :class:`StorageCorruptError` naming the file, rather than an executor's error in the
        middle of a query, or rows silently left out."""
        path = os.path.join(self.directory, name)
        with self._lock:
            if name in self._valid:
                return path
        problem = segment_problem(path)
        if _GLOB.search(name):  # both executors read a path as a pattern: it could match more
            problem = "its name has a glob character (* ? [ ] { } \\); rename it"
        if problem is not None:
            raise StorageCorruptError(path, f"not a readable archive segment: {problem}")
        with self._lock:
            self._valid.add(name)
        return path

    # -- queries --------------------------------------------------------------------------
    def _from(self, files: list[str]) -> str:
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        return f"read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"

    def _checked(self) -> list[Any] | None:
        """Inside :meth:`within`: raise if the deadline passed; the cursors to interrupt."""
        bound: list[Any] | None = getattr(self._local, "cursors", None)
        if bound is not None:
            self._local.deadline.check()
        return bound

    def _run(self, sql: str, params: dict[str, Any]) -> Any:
        cursor = self._con.cursor()
        bound = self._checked()
        if bound is not None:  # interrupted when the deadline passes
            bound.append(cursor)
        return cursor.sql(sql, params=params or None)

    def source(self, files: list[str]) -> str:
        """The SQL relation over ``files`` (``FROM`` text) in this executor."""
        return self._from(files)

    def table(self, sql: str, params: dict[str, Any]) -> Any:
        """Run ``sql`` (over :meth:`source` relations) and return its result as Arrow."""
        return _arrow_table(self._run(sql, params))

    def rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return its (few) rows as tuples."""
        return [tuple(r) for r in _fetchall(self._run(sql, params))]

    @contextlib.contextmanager
    def within(self, deadline: Deadline) -> Iterator[None]:
        """Bound the queries this thread runs in the block by ``deadline``: each is checked
        before it starts (and between the batches whose rows are checked in Python), and
        the executor's work is cancelled when the timeout passes; either way the block
        raises :class:`QueryTimeoutError`."""
        if deadline.until is None and deadline.cancel is None:
            yield
            return
        cursors: list[Any] = []
        self._local.cursors, self._local.deadline = cursors, deadline
        timer = None
        if deadline.until is not None:
            timer = threading.Timer(max(0.0, deadline.until - time.monotonic()),
                                    _logged(self._interrupter(cursors)))
            timer.daemon = True
            timer.start()
        try:
            yield
        except Exception as exc:
            if not self._interrupted(exc, deadline):
                raise
            raise QueryTimeoutError(
                f"the query took longer than {deadline.timeout:g} s (archive)") from exc
        finally:
            if timer is not None:
                timer.cancel()
            del self._local.cursors, self._local.deadline

    def _interrupter(self, cursors: list[Any]) -> Callable[[], None]:
        """What the timer calls when the deadline passes (in its own thread)."""
        def interrupt() -> None:
            for cursor in list(cursors):
                cursor.interrupt()

        return interrupt

    def _interrupted(self, exc: Exception, deadline: Deadline) -> bool:
        """Whether ``exc`` is the executor giving up on the timer's cancel."""
        return isinstance(exc, _duckdb().InterruptException)

    def entries(self, node: Node, sort_by: str | None = None, descending: bool = False,
                offset: int = 0, limit: int | None = None,
                only: Callable[[str], bool] | None = None) -> list[LogEntry]:
        """The matching entries in the engine's result order, ``limit`` from ``offset``."""
        if sort_by is not None and sort_by not in TIME_KEYS:
            every = self.entries(node, None, False, 0, None, only)
            ordered = order_entry_list(every, sort_by, descending)
            return ordered[offset:] if limit is None else ordered[offset:offset + limit]
        files = self.files(node, only)
        if not files:
            return []
        pred = compile_sql(node, self.dialect)
        if limit is None:
            found = self._ordered(files, node, pred, descending, None)
            return found[offset:]
        # Walk the hour partitions from the wanted end, in windows of 1, 2, 4 ... hours: an
        # hour holds only instants of that hour, so once enough rows are found no older (or
        # newer) hour can hold an earlier one in the result order.
        wanted = offset + limit
        hours = sorted({os.path.dirname(f) for f in files}, reverse=descending)
        kept: list[LogEntry] = []
        window, start = 1, 0
        while start < len(hours) and len(kept) < wanted:
            chosen = set(hours[start:start + window])
            part = [f for f in files if os.path.dirname(f) in chosen]
            kept += self._ordered(part, node, pred, descending, wanted - len(kept))
            start += window
            window *= 2
        return kept[offset:offset + limit]

    def _ordered(self, files: list[str], node: Node, pred: Any, descending: bool,
                 limit: int | None) -> list[LogEntry]:
        """The first ``limit`` matches in ``files`` in (instant, id) order (or its reverse)."""
        way = "DESC" if descending else "ASC"
        sql = (f"SELECT {_ENTRY_COLUMNS} FROM {self._from(files)} WHERE {pred.sql} "
               f"ORDER BY instant {way}, id {way}")
        if pred.exact:
            if limit is not None:
                sql += f" LIMIT {int(limit)}"
            return table_entries(_arrow_table(self._run(sql, pred.params)), self.directory)
        kept: list[LogEntry] = []
        for batch in _arrow_batches(self._run(sql, pred.params), BATCH_ROWS):
            self._checked()  # the rows are checked here, in Python: between batches
            kept.extend(e for e in table_entries(batch, self.directory) if node.match(e))
            if limit is not None and len(kept) >= limit:
                return kept[:limit]
        return kept

    def by_id(self, node: Node, only: Callable[[str], bool] | None = None) -> list[LogEntry]:
        """Every matching entry in id order (ingestion order), for aggregations."""
        files = self.files(node, only)
        if not files:
            return []
        pred = compile_sql(node, self.dialect)
        sql = (f"SELECT {_ENTRY_COLUMNS} FROM {self._from(files)} WHERE {pred.sql} "
               f"ORDER BY id, instant")
        got = table_entries(_arrow_table(self._run(sql, pred.params)), self.directory)
        return got if pred.exact else [e for e in got if node.match(e)]

    def count(self, node: Node, only: Callable[[str], bool] | None = None) -> int:
        """How many entries match. One ``count(*)`` when the predicate is exact."""
        files = self.files(node, only)
        if not files:
            return 0
        pred = compile_sql(node, self.dialect)
        if pred.exact:
            sql = f"SELECT count(*) FROM {self._from(files)} WHERE {pred.sql}"
            return int(_fetchall(self._run(sql, pred.params))[0][0])
        return len(self.by_id(node, only))

    def _typed(self, files: list[str], field: str) -> bool:
        """Whether every one of ``files`` has a typed copy of metadata ``field`` that this
        executor's SQL reads (the Spark reader says no: it reads numbers through VARIANT)."""
        return self._with_copy(files, field)

    def _with_copy(self, files: list[str], field: str) -> bool:
        """Whether every one of ``files`` has a typed copy of metadata ``field`` (and so its
        sorted value runs, in segments written since they are kept)."""
        for path in files:
            seg = self.terms(os.path.relpath(path, self.directory))
            if seg is None or field not in seg.numeric:
                return False
        return True

    # -- aggregation ----------------------------------------------------------------------
    def aggregate(self, node: Node, group_by: str | Sequence[str] | None = None,
                  interval: str | float | None = None, metrics: Any = None,
                  only: Callable[[str], bool] | None = None) -> dict[Any, Any]:
        """As :meth:`LogAnalyticsEngine.aggregate` over the archive."""
        fields = [] if group_by is None else [group_by] if isinstance(group_by, str) else list(
            group_by)
        parsed = parse_metrics(metrics)
        seconds = None if interval is None else parse_interval(interval)
        fast = self._sql_aggregate(node, fields, seconds, parsed, only)
        if fast is not None:
            return fast
        return ScratchTable(self.by_id(node, only)).aggregate(group_by, interval, metrics)

    def _sql_aggregate(self, node: Node, fields: list[str], seconds: float | None,
                       parsed: list[tuple[str, str | None]],
                       only: Callable[[str], bool] | None) -> dict[Any, Any] | None:
        pred = compile_sql(node, self.dialect)
        numeric = {f for k, f in parsed if k not in ("count",)}
        if not pred.exact or len(fields) > 1 or len(numeric) > 1 or any(
                k == "distinct" for k, _ in parsed):
            return None
        field = next(iter(numeric), None)
        if field is not None and (field in ATTRIBUTES or not _PLAIN_FIELD.match(field)):
            return None
        group = fields[0] if fields else None
        text = None  # a metadata field (or an id that falls back to it) grouped by its text
        if group is not None and group not in ("level", "source", "tags", "tag"):
            text = text_value(self.dialect, group)
            if text is None or group == "message":
                return None
        if group is not None and field is not None and group in ("tags", "tag"):
            return None
        files = self.files(node, only)
        if not files:
            return {} if group is not None or seconds is not None else (
                numbers.finish(parsed, 0, []))
        if (isinstance(node, MatchAll) and group in ("level", "source") and seconds is None
                and field is None):
            counted = self._counted(files, group)
            if counted is not None:  # every segment keeps its rows per term: no scan
                return {k: numbers.finish(parsed, counted[k], [])
                        for k in sorted(counted, key=lambda k: key_order((k,)))}
        keys: list[str] = []
        if seconds is not None:
            keys.append(self.dialect.bucket.format(repr(float(seconds))))
        if text is not None:
            # SQL groups by type, Python by equality (1 == 1.0 == True): only text values
            # (and missing ones, the None group) are grouped in SQL
            check = f"SELECT count(*) FROM {self._from(files)} WHERE ({pred.sql}) AND {text[1]}"
            if self.rows(check, pred.params)[0][0]:
                return None
            keys.append(text[0])
        elif group in ("tags", "tag"):
            keys.append("tag")
        elif group is not None:
            keys.append(_GROUP_COLUMNS[group])
        quantiles = None
        if all(k in ("count", "min", "max") or k[0] == "p" for k, _ in parsed):
            quantiles = sorted({float(k[1:]) for k, _ in parsed if k[0] == "p"})
        rows = None
        if (quantiles is not None and field is not None and seconds is None
                and group in (None, "level") and self._with_copy(files, field)):
            rows = self._from_runs(node, files, pred, field, group, quantiles)
        if rows is None:
            rows = self._grouped(files, pred, keys, group, field, False, quantiles)
        if field is not None and any(r[len(keys) + 2] for r in rows):
            rows = self._grouped(files, pred, keys, group, field, True)  # integers: exact text
        out: dict[Any, Any] = {}
        width = len(keys)
        if not keys:
            n = rows[0][0] if rows else 0
            return numbers.finish(parsed, n, rows[0][1] if field and rows else [])
        for row in sorted(rows, key=lambda r: key_order(tuple(r[:width]))):
            key = tuple(row[:width])
            if seconds is not None:
                key = (format_instant(key[0]), *key[1:])
            values = row[width + 1] if field is not None else []
            out[key[0] if width == 1 else key] = numbers.finish(parsed, row[width], values)
        return out

    def _counted(self, files: list[str], group: str) -> dict[str, int] | None:
        """Rows per level or source over ``files`` from their term indexes (None when a
        segment does not keep them). O(segments x terms)."""
        self._checked()  # answers without a query: the deadline is checked all the same
        total: dict[str, int] = {}
        for path in files:
            seg = self.terms(os.path.relpath(path, self.directory))
            part = None if seg is None else seg.count_of(group)
            if part is None:
                return None
            for term, n in part.items():
                total[term] = total.get(term, 0) + n
        return total

    def _from_runs(self, node: Node, files: list[str], pred: Any, field: str,
                   group: str | None, quantiles: list[float]) -> list[list[Any]] | None:
        """The rows :meth:`_grouped` gives for count, min, max and percentiles of ``field``
        overall or by level, from the segments' sorted value runs (:mod:`.archive_runs`):
        a segment the query covers whole (no filter but time and level) gives its runs, one
        it covers in part is read with SQL (:meth:`_cut_values`, its typed copy) and sorted;
        the order statistics are
        selected over the runs without reading every value. None when a segment has no
        usable runs or the query filters on anything else. O(r log n) per position for r
        runs. The runs are read by this process (the driver), as the term indexes are."""
        import numpy as np

        wanted = _time_and_levels(node)
        if wanted is None:
            return None
        lo, hi, levels = wanted
        self._checked()
        runs: dict[str, list[Any]] = {}
        rows: dict[str, int] = {}
        partial: list[str] = []
        for path in files:
            seg = self.terms(os.path.relpath(path, self.directory))
            if seg is None:
                return None
            if not (lo <= seg.lo and seg.hi <= hi):
                partial.append(path)
                continue
            got = read_runs(path[: -len(SEGMENT_SUFFIX)] + RUNS_SUFFIX, field, seg.rows)
            if got is None or not got.exact:  # written before runs were kept, or damaged
                log.debug("archive segment %s: no usable value runs of %s (SQL path)",
                          path, field)
                return None
            for level, n in got.rows.items():
                if levels is None or level in levels:
                    rows[level] = rows.get(level, 0) + n
                    runs.setdefault(level, []).append(got.runs.get(level, np.empty(0)))
        if partial and not self._with_copy(partial, field):
            return None  # a segment without the typed copy: the SQL path
        if partial:  # the segments the time range cuts: their matching values, sorted
            table = self._cut_values(partial, pred, NUMERIC_PREFIX + field)
            for level, n, values in zip(table.column("level").to_pylist(),
                                        table.column("n").to_pylist(),
                                        numbers.arrays(table.column("v")), strict=True):
                run = np.sort(values)
                if np.isnan(run).any() or np.signbit(run[run == 0]).any():
                    return None  # the exact path keeps their order
                rows[level] = rows.get(level, 0) + n
                runs.setdefault(level, []).append(run)
        if group is None:
            merged = [r for level in rows for r in runs[level]]
            return [[sum(rows.values()), _picked(merged, quantiles), 0]]
        return [[level, rows[level], _picked(runs[level], quantiles), 0]
                for level in rows if rows[level]]

    def _cut_values(self, files: list[str], pred: Any, column: str) -> Any:
        """Per level of the rows of ``files`` matching ``pred``: ``level``, their count
        ``n`` and the non-null values ``v`` of the typed ``column`` (Arrow)."""
        sql = (f"SELECT level, count(*) AS n, list({column}) FILTER (WHERE {column} IS "
               f"NOT NULL) AS v FROM {self._from(files)} WHERE {pred.sql} GROUP BY level")
        return _arrow_table(self._run(sql, pred.params))

    def _grouped(self, files: list[str], pred: Any, keys: list[str], group: str | None,
                 field: str | None, exact_text: bool,
                 quantiles: list[float] | None = None) -> list[list[Any]]:
        """Rows of group keys, count, and (with ``field``) the sorted numeric values and how
        many need the exact path (integers; a -0.0). Floats travel as doubles (sorted stably
        in id order, as the engine sorts them); with ``exact_text`` every number travels as its
        JSON text in id order, parsed to exact Python ints and floats. With ``quantiles`` (only
        count, min, max and percentiles wanted) over a typed copy, the values are
        :class:`~.archive_numbers.Picked` order statistics of each group's unsorted list
        instead."""
        select = [f"{k} AS k{i}" for i, k in enumerate(keys)] + ["count(*) AS n"]
        d = self.dialect
        inner = f"SELECT * FROM {self._from(files)} WHERE {pred.sql}"
        if group in ("tags", "tag"):
            inner = (f"SELECT instant, {d.distinct_tags} AS tag FROM "
                     f"{self._from(files)} WHERE {pred.sql}")
        picked = quantiles is not None and field is not None and not exact_text and (
            self._typed(files, field))
        if field is not None and not exact_text and self._typed(files, field):
            # every file has the field's typed copy: its numbers are floats, read as such
            inner = f"SELECT *, {NUMERIC_PREFIX}{field} AS j FROM ({inner})"
            # no id order needed: equal floats are the same float, but for -0.0 and 0.0,
            # whose order the engine keeps (a -0.0 sends the group to the exact path).
            # With only order statistics wanted the lists stay unsorted: numpy picks them
            # (and counts the -0.0s, :func:`~.archive_numbers.picked`).
            values = "list(j) FILTER (WHERE j IS NOT NULL)"
            if picked:
                select.append(f"{values} AS v")
            else:
                select.append(f"list_sort({values}) AS v")
                select.append("count(*) FILTER (WHERE j = 0 AND signbit(j)) AS ni")
        elif field is not None:
            path = f"'$.{field}'"
            inner = f"SELECT *, {d.json_value.format(path)} AS j FROM ({inner}) AS q0"
            kind = d.json_kind.format("j")
            exact = d.int_kind.format(kind)  # the rows that need the exact path
            if d.minus_text:  # a -0.0 read as 0: the exact path keeps its text
                exact += (f" OR ({d.float_kind.format(kind)} AND TRY_CAST(j AS DOUBLE) = 0 "
                          f"AND {d.minus_text.format(path)})")
            if exact_text:
                numeric = f"{d.float_kind.format(kind)} OR {d.int_kind.format(kind)}"
                select.append(f"{d.text_list.format('j', numeric, path)} AS v")
            else:
                select.append(f"{d.float_list.format('j', d.float_kind.format(kind))} AS v")
            select.append(f"count(*) FILTER (WHERE {exact}) AS ni")
        sql = f"SELECT {', '.join(select)} FROM ({inner}) AS q1"
        if keys:
            sql += " GROUP BY " + ", ".join(f"k{i}" for i in range(len(keys)))
        table = _arrow_table(self._run(sql, pred.params))
        if picked:  # only order statistics: numpy selects them from each unsorted list
            cells = numbers.picked(table.column("v"), quantiles or [])
            columns = [table.column(i).to_pylist() for i in range(table.num_columns - 1)]
            return [list(r) for r in zip(*columns, cells, [c.negative_zeros for c in cells],
                                         strict=True)]
        return [list(r) for r in zip(*(table.column(i).to_pylist() if name != "v" else
                                       numbers.values(table.column(i), exact_text)
                                       for i, name in enumerate(table.column_names)),
                                     strict=True)]


def _picked(runs: list[Any], quantiles: list[float]) -> numbers.Picked:
    n = sum(len(r) for r in runs)
    if not n:
        return numbers.Picked(0, {})
    return numbers.Picked(n, select_sorted(runs, numbers.positions(n, quantiles)))


def _time_and_levels(node: Node) -> tuple[float, float, set[str] | None] | None:
    """``(lo, hi, levels)`` when ``node`` only bounds the time and picks levels (a conjunction
    of time ranges and level terms), else None. ``levels`` None: any level."""
    lo, hi = -math.inf, math.inf
    levels: set[str] | None = None
    parts = list(node.children) if isinstance(node, And) else [node]
    for part in parts:
        if isinstance(part, MatchAll):
            continue
        if isinstance(part, TimeRange):
            if math.isnan(part.lo) or math.isnan(part.hi):
                return None
            lo, hi = max(lo, part.lo), min(hi, part.hi)
        elif isinstance(part, IndexTerm) and part.index == "level" and isinstance(
                part.term, str):
            levels = {part.term} if levels is None else levels & {part.term}
        else:
            return None
    return lo, hi, levels


def _hour_start(m: re.Match[str]) -> float:
    import calendar

    y, mo, d, h = (int(g) for g in m.groups())
    return float(calendar.timegm((y, mo, d, h, 0, 0, 0, 0, 0)))
