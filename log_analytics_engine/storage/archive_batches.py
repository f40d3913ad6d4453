"""The bulk import's batches: lines to Arrow columns, then to the segments of each hour.

A batch is an Arrow table of entries in file order with the columns of :data:`BATCH_COLUMNS`
and, for each metadata field with a plain name that holds a number, two hidden columns: the
kind of its value in each row (:data:`KIND`: 1 a float, 2 an int, 0 anything else) and the
float (:data:`VALUE`). A JSONL file's batches come straight from its bytes through the
``archive_columns`` kernel, with no :class:`LogEntry` per line (:func:`read_batches`); any
other input's from its entries (:func:`entries_batch`). :func:`hour_segments` then puts a
batch in (instant, id) order and cuts it into the tables of
:func:`~.archive_format.hour_tables`, equal to them column for column (the differential
tests compare the two paths).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import pairwise
from typing import IO, TYPE_CHECKING, Any

from .. import _native as native
from ..ingest.files import IngestReport, read_converted
from ..ingest.limits import DEFAULT_LIMITS, InputLimits
from ..model.entry import ATTRIBUTES, LogEntry
from .archive_format import (
    MAX_NUMERIC,
    NUMERIC_PREFIX,
    PLAIN_KEY,
    hour_partition,
    kernel_columns,
    metadata_array,
    pyarrow,
    python_columns,
    schema,
    words_from_lists,
)
from .codec import dumps

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["BATCH_COLUMNS", "KIND", "VALUE", "entries_batch", "hour_segments",
           "read_batches"]

#: The entry columns of a batch, in order.
BATCH_COLUMNS = ("instant", "timestamp", "timestamp_json", "level", "source", "message", "tags",
                 "thread_id", "request_id", "user_id", "metadata")
#: Prefixes of a batch's hidden columns per numeric metadata field (never a field name:
#: a plain name has no NUL).
KIND = "\x00kind:"
VALUE = "\x00value:"


def read_batches(lines: IO[bytes] | Iterable[bytes], file_type: str, report: IngestReport,
                 batch_size: int, on_line: Callable[[int], None] | None = None,
                 limits: InputLimits = DEFAULT_LIMITS) -> Iterator[pa.Table]:
    """The batches (tables in file order) of the valid entries of ``lines``, bad lines
    recorded in ``report`` as :func:`~log_analytics_engine.ingest.files.read_entries` does.
    With the C kernels a JSONL file's blocks become columns without an entry per line."""
    kernel = _kernel_batch if native.available else None
    return read_converted(lines, file_type, report, entries_batch, batch_size, on_line, limits,
                          kernel)


def _kernel_batch(blocks: list[bytes]
                  ) -> tuple[pa.Table | None, int, list[tuple[int, bytes]]] | None:
    """``archive_columns`` of ``blocks`` as a batch; None (the entries path) when the kernel
    hands them back or meets a value its columns do not take."""
    try:
        got = native.archive_columns(blocks, dumps)
    except (TypeError, ValueError, OverflowError):  # the entries path decides
        return None
    if got is None:
        return None
    rows, count, bad, (instants, texts, tags, fields) = got
    if not rows:
        return None, count, bad
    pa = pyarrow()
    buf = pa.py_buffer
    text = pa.string()
    strings = [pa.Array.from_buffers(text, rows, [None if valid is None else buf(valid),
                                                  buf(offsets), buf(data)])
               for offsets, data, valid in texts]
    list_offsets, offsets, data = tags
    flat = pa.Array.from_buffers(text, len(offsets) // 4 - 1, [None, buf(offsets), buf(data)])
    starts = pa.Array.from_buffers(pa.int32(), rows + 1, [None, buf(list_offsets)])
    columns = [pa.Array.from_buffers(pa.float64(), rows, [None, buf(instants)]), *strings[:5],
               pa.ListArray.from_arrays(starts, flat), *strings[5:]]
    names = list(BATCH_COLUMNS)
    for name, kinds, values in fields:
        columns.append(pa.Array.from_buffers(pa.uint8(), rows, [None, buf(kinds)]))
        columns.append(pa.Array.from_buffers(pa.float64(), rows, [None, buf(values)]))
        names += [KIND + name, VALUE + name]
    return pa.Table.from_arrays(columns, names=names), count, bad


def entries_batch(entries: Sequence[LogEntry]) -> pa.Table:
    """The batch of ``entries`` (in their order): the columns
    :func:`~.archive_format.entries_table` builds, with the hidden kind and value columns of
    each plain metadata field that holds a number. O(n + metadata items)."""
    pa = pyarrow()
    entries = entries if type(entries) is list else list(entries)
    built = kernel_columns(entries, None) if native.available else None
    if built is None:
        built = python_columns(entries, [e.ts for e in entries])
    plain, _messages, mds = built
    columns = [*plain, metadata_array(mds)]
    names = list(BATCH_COLUMNS)
    n = len(entries)
    fields: dict[str, tuple[list[int], list[float]]] = {}
    for i, md in enumerate(mds):
        for key, value in (md or {}).items():
            kind = 1 if type(value) is float else 2 if type(value) is int else 0
            if kind and type(key) is str and PLAIN_KEY.match(key):
                kinds, values = fields.setdefault(key, ([0] * n, [0.0] * n))
                kinds[i] = kind
                if kind == 1:
                    values[i] = value
    for key, (kinds, values) in fields.items():
        columns += [pa.array(kinds, pa.uint8()), pa.array(values, pa.float64())]
        names += [KIND + key, VALUE + key]
    return pa.Table.from_arrays(columns, names=names)


def hour_segments(batch: pa.Table, first_id: int) -> list[tuple[str, pa.Table]]:
    """The segments of a batch whose rows have the ids ``first_id, first_id + 1, ...``:
    ``(hour partition, table)`` per UTC hour, hours ascending, as
    :func:`~.archive_format.hour_tables` gives them for the same entries and ids. The batch
    is put in (instant, id) order once (a stable sort by instant: the ids ascend), then cut
    into runs of an hour. O(n log n)."""
    import numpy as np

    n = batch.num_rows
    if not n:
        return []
    instants = batch.column("instant").to_numpy()
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    if (np.diff(instants) >= 0).all():  # in order already (-0.0 equals 0.0)
        batch = batch.combine_chunks()
    else:
        order = np.argsort(instants, kind="stable")
        batch, instants, ids = batch.take(order), instants[order], ids[order]
    hours = np.floor_divide(instants, 3600.0)
    cuts = [0, *(np.flatnonzero(np.diff(hours)) + 1).tolist(), n]
    return [(hour_partition(float(instants[a])), _segment_table(batch.slice(a, b - a),
                                                                ids[a:b]))
            for a, b in pairwise(cuts)]


def _column(table: pa.Table, name: str) -> pa.Array:
    """A column of a table of one chunk (or none) as an array."""
    chunked = table.column(name)
    return chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()


def _segment_table(part: pa.Table, ids: Any) -> pa.Table:
    """The segment table of a run of an ordered batch (``ids`` its ids): the entry
    columns, the time, id and words columns, the typed copies of the float fields."""
    pa = pyarrow()
    pc = pa.compute
    instants = _column(part, "instant")
    micros = pc.cast(pc.round(pc.multiply(instants, 1e6)), pa.int64())
    entry = [_column(part, name) for name in BATCH_COLUMNS[1:]]
    columns = [instants, micros.cast(pa.timestamp("us", tz="UTC")), *entry, pa.array(ids),
               _words(entry[4])]
    full = schema()
    for key, values in _float_copies(part).items():
        columns.append(values)
        full = full.append(pa.field(NUMERIC_PREFIX + key, pa.float64()))
    return pa.Table.from_arrays(columns, schema=full)


def _float_copies(part: pa.Table) -> dict[str, pa.Array]:
    """:func:`~.archive_format.float_columns` from a run's kind and value columns: the
    fields (sorted, at most MAX_NUMERIC) with a float and no int among the run's values."""
    arrow = pyarrow()
    out: dict[str, pa.Array] = {}
    for key in sorted(c[len(KIND):] for c in part.column_names if c.startswith(KIND)):
        if key in ATTRIBUTES:
            continue
        kinds = _column(part, KIND + key).fill_null(0).to_numpy(zero_copy_only=False)
        if not (kinds == 1).any() or (kinds == 2).any():
            continue
        values = _column(part, VALUE + key).to_numpy(zero_copy_only=False)
        out[key] = arrow.array(values, arrow.float64(), mask=kinds != 1)
        if len(out) == MAX_NUMERIC:
            break
    return out


def _words(messages: pa.Array) -> pa.Array:
    """The words column of a run's messages (:func:`~.archive_format.words_array`), from
    the message column's buffers."""
    _, offsets, data = messages.buffers()
    return words_from_lists(native.word_lists_utf8(offsets, b"" if data is None else data,
                                                   messages.offset, len(messages)),
                            len(messages))
