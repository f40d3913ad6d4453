"""The Parquet archive format: one schema, entries to Arrow columns and back, the term index.

An archive is a folder of immutable segments, hive-partitioned by the UTC hour of event time::

    DIR/date=2025-07-21/hour=10/<unique-name>.parquet      rows in (instant, id) order, zstd
    DIR/date=2025-07-21/hour=10/<unique-name>.terms        the segment's term index

Columns (:data:`COLUMNS`): ``instant`` is the engine's own instant (float64 epoch seconds, so a
time filter at a boundary means what it means to the engine) and ``time`` the same instant as a
UTC timestamp for other tools; ``timestamp`` the original text (``timestamp_json``: the JSON of
a timestamp given as a number); ``level``, ``source``, ``message``, ``tags`` (a list),
``thread_id``/``request_id``/``user_id``; ``metadata`` as JSON text from the one codec
(:mod:`.codec`), so every value type round-trips as the durable copy keeps it; ``id`` (int64,
the engine id or the line number of a bulk import) and ``words``: the message's distinct words
exactly as :func:`~log_analytics_engine.model.tokenize.tokenize` produces them (what the word
index holds), so word queries mean the same in every executor.

The term index of a segment (:class:`SegmentTerms`) holds its time span, row count, the
distinct levels, sources, tags and words, and the rows per level and per source: a reader
skips every segment that cannot hold a query's terms without opening it, and sums an
unfiltered count by level or source from the term indexes. Needs the ``archive`` extra
(pyarrow); imported on use.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise, repeat
from typing import TYPE_CHECKING, Any

import orjson

from .. import _native as native
from ..errors import MissingExtraError, StorageCorruptError, StoragePathError
from ..model.entry import ATTRIBUTES, LEVELS, LogEntry, assemble
from ..model.timeparse import format_instant
from .codec import OPTIONS, default, dumps, loads

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "COLUMNS",
    "SEGMENT_SUFFIX",
    "TERMS_SUFFIX",
    "SegmentTerms",
    "entries_table",
    "hour_partition",
    "hour_tables",
    "pyarrow",
    "refuse_url",
    "schema",
    "segment_problem",
    "table_entries",
    "text_array",
    "text_list_array",
]

_orjson_dumps = orjson.dumps

SEGMENT_SUFFIX = ".parquet"
TERMS_SUFFIX = ".terms"
#: Format version written in each segment's key-value metadata.
FORMAT_VERSION = "1"

COLUMNS = ("instant", "time", "timestamp", "timestamp_json", "level", "source", "message",
           "tags", "thread_id", "request_id", "user_id", "metadata", "id", "words")


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def refuse_url(directory: str) -> None:
    """:class:`StoragePathError` for a URL (``s3a://``, ``hdfs://``): the archive is read
    and written with the file API, where a URL names no folder (a reader would answer empty,
    a writer make a local folder ``s3a:``)."""
    if _URL.match(directory):
        raise StoragePathError(directory, "a URL: this version reads and writes a folder "
                               "with the file API; mount the shared storage (NFS, CephFS, a "
                               "FUSE mount of an object store) and give its path")


def pyarrow() -> Any:
    """The ``pyarrow`` module, or :class:`MissingExtraError` naming the ``archive`` extra."""
    try:
        import numpy  # noqa: F401  (pyarrow's numpy conversions)
        import pyarrow as pa
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError as exc:
        raise MissingExtraError("the Parquet archive", "pyarrow", "archive") from exc
    return pa


def schema() -> pa.Schema:
    """The Arrow schema of a segment (see the module docstring)."""
    pa = pyarrow()
    text = pa.string()
    return pa.schema([
        ("instant", pa.float64()), ("time", pa.timestamp("us", tz="UTC")),
        ("timestamp", text), ("timestamp_json", text), ("level", text), ("source", text),
        ("message", text), ("tags", pa.list_(text)), ("thread_id", text),
        ("request_id", text), ("user_id", text), ("metadata", text), ("id", pa.int64()),
        ("words", words_type()),
    ], metadata={b"log_analytics_engine.archive": FORMAT_VERSION.encode()})


#: Prefix of the typed copies of float metadata fields (``num_latency_ms``).
NUMERIC_PREFIX = "num_"
#: At most this many typed copies per segment.
MAX_NUMERIC = 8
PLAIN_KEY = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


def float_columns(mds: Sequence[dict[str, Any]]) -> dict[str, list[float | None]]:
    """Typed copies of metadata fields whose numbers are all floats in the metadata dicts
    ``mds`` of a batch: a numeric metric then reads a DOUBLE column instead of parsing the
    metadata JSON. A field
    with an integer value anywhere in the batch gets no copy (integers stay exact in the
    JSON); non-numbers are NULL in the copy, as the engine's metrics skip them.
    O(n * fields) with C-level passes (one per distinct field; a batch with many distinct
    fields takes the per-item loop)."""
    fields: set[str] = set().union(*mds) if mds else set()
    if len(fields) > _MANY_FIELDS:
        return _float_columns_loop(mds)
    out: dict[str, list[float | None]] = {}
    for k in sorted(f for f in fields if type(f) is str and PLAIN_KEY.match(f)
                    and f not in ATTRIBUTES):
        got = list(map(dict.get, mds, repeat(k)))
        kinds = set(map(type, got))
        if float in kinds and int not in kinds:
            out[k] = got if kinds <= _FLOAT_OR_NONE else [
                v if type(v) is float else None for v in got]
            if len(out) == MAX_NUMERIC:
                break
    return out


_MANY_FIELDS = 64
_FLOAT_OR_NONE = frozenset((float, type(None)))


def _float_columns_loop(mds: Sequence[dict[str, Any]]) -> dict[str, list[float | None]]:
    """:func:`float_columns` by one loop over every metadata item (many distinct fields)."""
    numbers: dict[str, bool] = {}
    for md in mds:
        if md:
            for k, v in md.items():
                t = type(v)
                if t is float:
                    numbers.setdefault(k, True)
                elif t is int:
                    numbers[k] = False
    keys = sorted(k for k, ok in numbers.items()
                  if ok and PLAIN_KEY.match(k) and k not in ATTRIBUTES)[:MAX_NUMERIC]
    out: dict[str, list[float | None]] = {}
    for k in keys:
        got = [md.get(k) for md in mds]
        out[k] = [v if type(v) is float else None for v in got]
    return out


def words_type() -> pa.DataType:
    """The in-memory type of the words column: a list of dictionary-encoded strings (the
    kernel's terms, written as Parquet dictionary pages; readers see ``list<string>``)."""
    pa = pyarrow()
    return pa.list_(pa.dictionary(pa.int32(), pa.string()))


def hour_partition(instant: float) -> str:
    """The partition folder of an instant: ``date=YYYY-MM-DD/hour=HH`` (UTC).

    >>> hour_partition(1753099200.0)
    'date=2025-07-21/hour=12'
    """
    t = time.gmtime(instant)
    return f"date={t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}/hour={t.tm_hour:02d}"


def entries_table(entries: Sequence[LogEntry], ids: Sequence[int]) -> pa.Table:
    """The Arrow table of ``entries`` (with their ``ids``), sorted by (instant, id).

    The rows are put in order first (:func:`time_order`); with the C kernels one pass over
    the entries in that order writes every plain column's buffers
    (:func:`~log_analytics_engine._native.entry_columns`), otherwise each column is built in
    one pass of its own (:func:`text_array`); the words come from the indexing kernel
    (:func:`words_array`), each row's list in the order the ordered batch first used its
    words (taking a dictionary list column into a new order costs more than building it).
    O(n log n).
    """
    entries = entries if type(entries) is list else list(entries)
    ts = [e.ts for e in entries]
    return _table_at(entries, ts, ids, time_order(ts, ids))


def hour_tables(entries: Sequence[LogEntry], ids: Sequence[int]) -> list[tuple[str, pa.Table]]:
    """The segments of a batch: ``(hour partition, table)`` for each UTC hour of the
    instants of ``entries`` (with their ``ids``), hours ascending, each table
    :func:`entries_table` of that hour's entries. The batch is put in (instant, id) order
    once; an hour's rows are then a run of that order (UTC hours are whole multiples of
    3600 seconds since the epoch). O(n log n)."""
    import numpy as np

    if len(entries) != len(ids):
        raise ValueError("entries and ids must have the same length")
    if not entries:
        return []
    entries = entries if type(entries) is list else list(entries)
    ts = [e.ts for e in entries]
    order = time_order(ts, ids)
    stamps = np.array(ts, np.float64)
    if order is not None:
        stamps = stamps[np.array(order, np.intp)]
    hours = np.floor_divide(stamps, 3600.0)
    if hours[0] == hours[-1]:  # sorted: one hour
        return [(hour_partition(float(stamps[0])), _table_at(entries, ts, ids, order))]
    positions = order if order is not None else list(range(len(entries)))
    cuts = [0, *(np.flatnonzero(np.diff(hours)) + 1).tolist(), len(entries)]
    return [(hour_partition(float(stamps[a])), _table_at(entries, ts, ids, positions[a:b]))
            for a, b in pairwise(cuts)]


def _table_at(entries: list[LogEntry], ts: list[float], ids: Sequence[int],
              order: list[int] | None) -> pa.Table:
    """The table of the entries at the positions ``order`` (in (instant, id) order;
    ``None``: all of them, already in that order), ``ts`` their instants."""
    pa = pyarrow()
    id_column = _id_column(ids, order)
    built = kernel_columns(entries, order) if native.available else None
    if built is None:
        rows = entries if order is None else [entries[k] for k in order]
        built = python_columns(rows, ts if order is None else [ts[k] for k in order])
    plain, messages, mds = built
    instants = plain[0]
    micros = pa.compute.cast(pa.compute.round(pa.compute.multiply(instants, 1e6)), pa.int64())
    columns = [instants, micros.cast(pa.timestamp("us", tz="UTC")), *plain[1:],
               metadata_array(mds), id_column, words_array(messages)]
    full = schema()
    for key, values in float_columns(mds).items():
        columns.append(pa.array(values, pa.float64()))
        full = full.append(pa.field(NUMERIC_PREFIX + key, pa.float64()))
    return pa.Table.from_arrays(columns, schema=full)


def _id_column(ids: Sequence[int], order: list[int] | None) -> pa.Array:
    """The ids at the positions ``order``: a bulk import's range of ids gathered by numpy,
    other ids one by one."""
    import numpy as np

    pa = pyarrow()
    if type(ids) is range and ids.step == 1:
        values = np.arange(ids.start, ids.stop, dtype=np.int64)
        return pa.array(values if order is None else values[np.array(order, np.intp)])
    return pa.array(list(ids) if order is None else [ids[k] for k in order], pa.int64())


#: What :func:`kernel_columns` and :func:`python_columns` build: the columns from
#: ``instant`` to ``user_id`` (:data:`COLUMNS`), the messages and the metadata dicts.
_Built = tuple[list["pa.Array"], list[str], list[dict[str, Any]]]


def kernel_columns(entries: list[LogEntry], order: list[int] | None) -> _Built | None:
    """The plain columns from one pass of the ``entry_columns`` kernel, or None when the
    batch has what it does not take (a timestamp given as a number, a subclass of LogEntry,
    a lone surrogate): the general path then decides as before."""
    pa = pyarrow()
    try:
        instants, texts, tags, messages, mds = native.entry_columns(entries, order)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        return None
    n = len(messages)
    text = pa.string()
    stamp, level, source, message, thread, request, user = (
        pa.Array.from_buffers(text, n, [None if valid is None else pa.py_buffer(valid),
                                        pa.py_buffer(offsets), pa.py_buffer(data)])
        for offsets, data, valid in texts)
    list_offsets, offsets, data = tags
    flat = pa.Array.from_buffers(text, len(offsets) // 4 - 1, [
        None, pa.py_buffer(offsets), pa.py_buffer(data)])
    starts = pa.Array.from_buffers(pa.int32(), n + 1, [None, pa.py_buffer(list_offsets)])
    return ([pa.Array.from_buffers(pa.float64(), n, [None, pa.py_buffer(instants)]), stamp,
             pa.nulls(n, text), level, source, message, pa.ListArray.from_arrays(starts, flat),
             thread, request, user], messages, mds)


def python_columns(entries: Sequence[LogEntry], ts: list[float]) -> _Built:
    """The plain columns of entries already in order, a pass per column."""
    pa = pyarrow()
    text = pa.string()
    stamps = [e.timestamp for e in entries]
    # a timestamp given as text or a number is kept as it is; any other (a datetime) as the
    # ISO text LogEntry.to_dict gives it, as the JSONL archive and the durable copy do
    if set(map(type, stamps)) <= _STR:
        ts_text, ts_json = text_array(stamps), pa.nulls(len(stamps), text)
    else:
        shown = [s if isinstance(s, (str, int, float)) else format_instant(e.ts)
                 for s, e in zip(stamps, entries, strict=True)]
        ts_text = pa.array([s if isinstance(s, str) else None for s in shown], text)
        ts_json = pa.array([None if isinstance(s, str) else dumps(s).decode() for s in shown],
                           text)
    messages = [e.message for e in entries]
    return ([pa.array(ts, pa.float64()), ts_text, ts_json,
             text_array([e.level for e in entries]),
             text_array([e.source for e in entries]),
             text_array([e.message for e in entries]),
             text_list_array([e.tags for e in entries]),
             text_array([e.thread_id for e in entries]),
             text_array([e.request_id for e in entries]),
             text_array([e.user_id for e in entries])], messages,
            [e.metadata for e in entries])


def time_order(instants: Sequence[float], ids: Sequence[int]) -> list[int] | None:
    """The positions of rows with these ``instants`` and ``ids`` in (instant, id) order (a
    stable sort: equal pairs keep their order; -0.0 equals 0.0, as in the engine), or
    ``None`` when they already are in that order. O(n log n), O(n) for rows in order."""
    import numpy as np

    n = len(instants)
    if n < 2:
        return None
    keys = np.fromiter(ids, np.int64, n)
    stamps = np.array(instants, np.float64)
    if (np.diff(keys) > 0).all():  # ids ascending (a bulk import): the instant decides
        steps = np.diff(stamps)
        if (steps >= 0).all():
            return None
        order = np.argsort(stamps, kind="stable")
    else:
        order = np.lexsort((keys, stamps))
    result: list[int] = order.tolist()
    return result


_STR = frozenset((str,))


def metadata_array(mds: Sequence[dict[str, Any]]) -> pa.Array:
    """The metadata column: each non-empty dict as JSON text from the one codec
    (:func:`~.codec.dumps`), NULL for an empty one. With the C kernels the batch is dumped
    as one JSON array, which ``json_array_buffers`` cuts into the column's buffers (orjson
    writes an element of a list as it writes it alone; three times faster than a call per
    dict). O(total size)."""
    pa = pyarrow()
    if native.available:
        try:
            whole = _orjson_dumps([md if md else None for md in mds], default=default,
                                  option=OPTIONS)
            offsets, data, valid = native.json_array_buffers(whole, len(mds))
        except (TypeError, ValueError, OverflowError):  # as one dict at a time, below
            pass
        else:
            return pa.Array.from_buffers(pa.string(), len(mds), [
                None if valid is None else pa.py_buffer(valid), pa.py_buffer(offsets),
                pa.py_buffer(data)])
    try:  # the common case in one comprehension; what orjson refuses goes through dumps
        raw = [_orjson_dumps(md, default=default, option=OPTIONS).decode() if md else None
               for md in mds]
    except TypeError:
        raw = [dumps(md).decode() if md else None for md in mds]
    return text_array(raw)


def text_array(values: list[str | None]) -> pa.Array:
    """A string column of ``values`` (str or None). With the C kernels the UTF-8 is copied
    once into Arrow's buffers (``string_buffers``, about 10x faster than ``pa.array`` on
    Python strings); values it does not take (a lone surrogate, a non-str) go through
    ``pa.array``, which decides as before. O(total size)."""
    pa = pyarrow()
    if native.available:
        try:
            offsets, data, valid = native.string_buffers(values)
        except (TypeError, ValueError, OverflowError):  # UnicodeEncodeError is a ValueError
            pass
        else:
            return pa.Array.from_buffers(pa.string(), len(values), [
                None if valid is None else pa.py_buffer(valid), pa.py_buffer(offsets),
                pa.py_buffer(data)])
    return pa.array(values, pa.string())


def text_list_array(lists: list[list[str]]) -> pa.Array:
    """A list<string> column of ``lists`` (an entry's tags), as :func:`text_array`."""
    pa = pyarrow()
    text = pa.string()
    if native.available:
        try:
            list_offsets, offsets, data = native.string_list_buffers(lists)
        except (TypeError, ValueError, OverflowError, RuntimeError):
            pass
        else:
            flat = pa.Array.from_buffers(text, len(offsets) // 4 - 1, [
                None, pa.py_buffer(offsets), pa.py_buffer(data)])
            starts = pa.Array.from_buffers(pa.int32(), len(lists) + 1, [
                None, pa.py_buffer(list_offsets)])
            return pa.ListArray.from_arrays(starts, flat)
    return pa.array(lists, pa.list_(text))


def words_array(messages: list[str]) -> pa.Array:
    """The distinct words of each of the entries' ``messages``, as
    :func:`~log_analytics_engine.model.tokenize.tokenize` gives them (each list in the order
    the batch first used its words). The ``word_lists`` kernel (in C when built; the same
    tokenizer that fills the word index) returns the column's buffers, which Arrow wraps
    without a Python object per word. O(total words)."""
    return words_from_lists(native.word_lists(messages), len(messages))


def words_from_lists(lists: tuple[list[str], bytes, bytes], n: int) -> pa.Array:
    """The words column of ``n`` messages from what ``word_lists`` returns for them."""
    pa = pyarrow()
    terms, codes, offsets = lists
    if not terms:
        return pa.array([[] for _ in range(n)], words_type())
    i32 = pa.int32()
    which = pa.Array.from_buffers(i32, len(codes) // 4, [None, pa.py_buffer(codes)])
    flat = pa.DictionaryArray.from_arrays(which, pa.array(terms, pa.string()))
    starts = pa.Array.from_buffers(i32, n + 1, [None, pa.py_buffer(offsets)])
    return pa.ListArray.from_arrays(starts, flat)


def table_entries(table: pa.Table, where: str = "archive") -> list[LogEntry]:
    """The entries of an Arrow table with the archive's columns (extra columns ignored), in
    its row order. Built without re-parsing: the instant is the stored one. A row the writer
    never writes (a missing level, source, message or timestamp, a level that is not one of
    :data:`~log_analytics_engine.model.entry.LEVELS`, an instant that is not finite, metadata
    that is not a JSON object): :class:`StorageCorruptError` naming ``where``, not an entry
    that breaks later. O(rows)."""
    _check_rows(table, where)
    cols = {name: table.column(name).to_pylist() for name in (
        "instant", "timestamp", "timestamp_json", "level", "source", "message", "tags",
        "thread_id", "request_id", "user_id", "metadata")}
    out: list[LogEntry] = []
    append = out.append
    try:
        for instant, text, raw, level, source, message, tags, thread, request, user, meta in zip(
                cols["instant"], cols["timestamp"], cols["timestamp_json"], cols["level"],
                cols["source"], cols["message"], cols["tags"], cols["thread_id"],
                cols["request_id"], cols["user_id"], cols["metadata"], strict=True):
            stamp = text if raw is None else loads(raw)
            md = loads(meta) if meta is not None else None
            if type(md) not in _DICT_OR_NONE or type(stamp) not in _STAMP_TYPES:
                raise ValueError("metadata that is not an object or a timestamp of no kind")
            append(assemble(instant, stamp, level, message, source, thread, request, user,
                            tags, md))
    except ValueError as exc:  # orjson's JSONDecodeError too
        raise StorageCorruptError(where, f"a row the writer never writes: {exc}") from exc
    return out


_DICT_OR_NONE = frozenset((dict, type(None)))
_STAMP_TYPES = frozenset((str, int, float))


def _check_rows(table: pa.Table, where: str) -> None:
    """The column-wide checks of :func:`table_entries` (vectorized)."""
    if not table.num_rows:  # (pc.all of nothing is null)
        return
    pa = pyarrow()
    pc = pa.compute
    problem = None
    for name in ("level", "source", "message", "instant", "tags"):
        if table.column(name).null_count:
            problem = f"a row without {name}"
    if problem is None and not pc.all(pc.is_in(table.column("level"),
                                               value_set=pa.array(LEVELS))).as_py():
        problem = "a level that is not one of " + ", ".join(LEVELS)
    elif problem is None and not pc.all(pc.is_finite(table.column("instant"))).as_py():
        problem = "an instant that is not a finite number"
    elif problem is None and pc.list_flatten(table.column("tags")).null_count:
        problem = "a tag that is missing"
    elif problem is None and pc.any(pc.and_(pc.is_null(table.column("timestamp")), pc.is_null(
            table.column("timestamp_json")))).as_py():
        problem = "a row without a timestamp"
    if problem is not None:
        raise StorageCorruptError(where, f"a row the writer never writes: {problem}")


@dataclass(frozen=True)
class SegmentTerms:
    """The term index of one segment: its time span, row count and distinct terms.

    ``may_hold(index, term)`` is exact for absence: ``False`` means no row of the segment has
    that level, source, tag or word. O(1) per lookup.
    """

    lo: float
    hi: float
    rows: int
    level: frozenset[str]
    source: frozenset[str]
    tag: frozenset[str]
    token: frozenset[str]
    numeric: frozenset[str] = frozenset()  # metadata fields with a typed copy
    #: Rows per level and per source (``None`` in a segment written before they were kept).
    counts: tuple[tuple[tuple[str, int], ...], ...] | None = None

    def count_of(self, index: str) -> dict[str, int] | None:
        """Rows per term of ``index`` (``level`` or ``source``), or None when not kept."""
        if self.counts is None or index not in ("level", "source"):
            return None
        return dict(self.counts[index == "source"])

    def may_hold(self, index: str, term: Any) -> bool:
        """Whether some row may have ``term`` in ``index`` (level, source, tag or token)."""
        terms: frozenset[str] | None = getattr(self, index, None)
        return terms is None or term in terms

    @classmethod
    def of_table(cls, table: pa.Table) -> SegmentTerms:
        """The term index of a segment's table (O(rows + words))."""
        pa = pyarrow()
        pc = pa.compute
        words = _distinct_words(table.column("words"))
        tags = pc.unique(pc.list_flatten(table.column("tags"))).to_pylist()
        instants = table.column("instant")

        def counted(column: str) -> tuple[tuple[str, int], ...]:
            vc = pc.value_counts(table.column(column))
            pairs = zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist(),
                        strict=True)
            return tuple(sorted((str(v), int(n)) for v, n in pairs))

        return cls(
            lo=pc.min(instants).as_py(), hi=pc.max(instants).as_py(), rows=table.num_rows,
            level=frozenset(pc.unique(table.column("level")).to_pylist()),
            source=frozenset(pc.unique(table.column("source")).to_pylist()),
            tag=frozenset(tags), token=frozenset(words),
            numeric=frozenset(n[len(NUMERIC_PREFIX):] for n in table.column_names
                              if n.startswith(NUMERIC_PREFIX)),
            counts=(counted("level"), counted("source")),
        )

    def to_bytes(self) -> bytes:
        """zstd-compressed JSON (the ``.terms`` file beside the segment)."""
        pa = pyarrow()
        raw = orjson.dumps({"v": FORMAT_VERSION, "lo": self.lo, "hi": self.hi,
                            "rows": self.rows, "level": sorted(self.level),
                            "source": sorted(self.source), "tag": sorted(self.tag),
                            "token": sorted(self.token), "numeric": sorted(self.numeric),
                            "counts": self.counts})
        body: bytes = pa.compress(raw, "zstd", asbytes=True)
        return len(raw).to_bytes(8, "little") + body

    @classmethod
    def from_bytes(cls, data: bytes) -> SegmentTerms:
        """The term index a ``.terms`` file holds. ValueError for anything but what
        :meth:`to_bytes` writes (a damaged or hostile file: the reader then scans the
        segment): the size it declares is checked against its compressed size before it
        is allocated, then every field's type. O(size)."""
        pa = pyarrow()
        if len(data) < 8 or len(data) > MAX_TERMS_BYTES:
            raise ValueError(f"a term index of {len(data)} bytes")
        size = int.from_bytes(data[:8], "little")
        if size > min(MAX_TERMS_BYTES, _MAX_TERMS_RATIO * (len(data) - 8) + (1 << 20)):
            raise ValueError(f"a term index declaring {size} bytes in {len(data) - 8}")
        try:
            d = orjson.loads(pa.decompress(data[8:], size, "zstd", asbytes=True))
        except (pa.ArrowException, OSError, MemoryError) as exc:
            raise ValueError(f"an unreadable term index: {exc}") from exc
        if not isinstance(d, dict) or d.get("v") != FORMAT_VERSION:
            raise ValueError("not a term index of this format")
        lo: Any = d.get("lo")
        hi: Any = d.get("hi")
        rows: Any = d.get("rows")
        if (type(lo) not in (int, float) or type(hi) not in (int, float) or lo != lo
                or hi != hi or type(rows) is not int or rows < 0):
            raise ValueError("a term index's span or row count is not numbers")
        counts = d.get("counts")
        kept = None
        if counts is not None:
            if type(counts) is not list or len(counts) != 2:
                raise ValueError("a term index's counts are not (level, source)")
            kept = tuple(tuple(_count_pair(pair) for pair in _listed(part, "counts"))
                         for part in counts)
        return cls(lo, hi, rows, _texts(d, "level"), _texts(d, "source"), _texts(d, "tag"),
                   _texts(d, "token"), _texts(d, "numeric", []), kept)


#: A ``.terms`` file, and the JSON it holds, are at most this large (a segment's distinct
#: words, tags and sources), and expand at most this much (zstd over sorted distinct words
#: measures 1.4-3x): a file claiming more is refused before the allocation it asks for.
MAX_TERMS_BYTES = 1 << 30
_MAX_TERMS_RATIO = 1024


def _listed(value: Any, what: str) -> list[Any]:
    if type(value) is not list:
        raise ValueError(f"a term index's {what} is not a list")
    return value


def _texts(d: dict[str, Any], key: str, default: Any = None) -> frozenset[str]:
    values = _listed(d.get(key, default), key)
    if not all(type(v) is str for v in values):
        raise ValueError(f"a term index's {key} holds a value that is not text")
    return frozenset(values)


def _count_pair(pair: Any) -> tuple[str, int]:
    if (type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str
            or type(pair[1]) is not int or pair[1] < 0):
        raise ValueError("a term index's counts are not (text, count) pairs")
    return pair[0], pair[1]


def segment_problem(path: str) -> str | None:
    """Why the Parquet file at ``path`` is not a segment the readers can query (unreadable,
    or a column of :func:`schema` missing or of another type), or None when it is one.
    Reads the file's footer only. O(columns)."""
    pa = pyarrow()
    try:
        found = pa.parquet.ParquetFile(path).schema_arrow
    except (OSError, pa.ArrowException, ValueError, MemoryError) as exc:
        return f"unreadable Parquet ({exc})"
    for field in schema():
        if found.get_field_index(field.name) < 0:
            return f"no column {field.name!r}"
        got = found.field(field.name).type
        if field.name == "words":
            ok = pa.types.is_list(got) and _text_type(got.value_type)
        else:
            ok = got == field.type or (_text_type(got) and _text_type(field.type))
        if not ok:
            return f"column {field.name!r} is {got}, not {field.type}"
    for name in found.names:
        if name.startswith(NUMERIC_PREFIX) and found.field(name).type != pa.float64():
            return f"column {name!r} is {found.field(name).type}, not double"
    return None


def _text_type(t: pa.DataType) -> bool:
    pa = pyarrow()
    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _distinct_words(column: pa.ChunkedArray) -> list[str]:
    """The distinct words of a words column: its dictionary when it has one chunk (a
    segment as :func:`entries_table` builds it, whose dictionary holds exactly the words
    used; a superset would only make :meth:`SegmentTerms.may_hold` less selective), else
    by hashing every word. O(distinct words), O(words) for the general case."""
    pa = pyarrow()
    if column.num_chunks == 1:
        values = column.chunk(0).values
        if isinstance(values, pa.DictionaryArray):
            words: list[str] = values.dictionary.to_pylist()
            if None not in words:
                return words
    flat: list[str] = pa.compute.unique(pa.compute.list_flatten(column)).to_pylist()
    return flat
