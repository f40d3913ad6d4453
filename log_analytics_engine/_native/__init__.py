"""The accelerator: the one place that picks the C or the Python implementation of each kernel.

Every kernel has a C version (the optional extension ``_speedups``, built from the C sources
in this folder when a compiler is present at install time) and a Python version
(:mod:`._native.python`, its specification). The choice is made once, at import: C when the
extension is built, unless the environment variable ``LOG_ANALYTICS_PURE_PYTHON=1`` is set.
Callers use the chosen function through this module, read at call time
(``native.gather(...)``), and never test for the extension themselves:

============================  =====================================================
kernel                        used by
============================  =====================================================
``entries_from_lines``        ``ingest.files.read_entries`` (JSON lines -> entries)
``entries_from_blocks``       ``ingest.files.read_entries`` (a file's blocks -> entries)
``ingest_blocks``             ``ingest.files.read_indexed`` (lines -> entries + postings)
``ingest_records``            ``ingest.files.read_records`` (lines -> records + postings)
``gather``                    ``index.postings.IndexSet.gather`` (postings of a batch)
``split_ordered``             ``index.timeindex.TimeIndex.extend_ordered``
``time_order``                ``index.store.Store`` (hits in time order)
``encode_records``            ``index.chunks.EntryChunks`` (sealing a chunk into records)
``decode_records``            ``index.chunks.EntryChunks`` (a chunk's records -> entries)
``take_entries``              ``index.chunks.EntryChunks`` (entries of ids, built on demand)
``filter_instants``           ``index.store.Store.ids_in_time_range``
``sorted_numbers``            ``query.aggregate.numeric_values``
``numeric_column``            ``index.columns.ColumnCache`` (a metadata field as float64)
``numeric_records``           ``index.columns.ColumnCache`` (the same, from sealed records)
``gather_numbers``            ``query.numbers`` (a group's numbers from a column)
``summarize_numbers``         ``query.numbers`` (exact sum and percentiles)
``count_values``              ``query.aggregate.field_counts`` (``aggregate_logs``)
``encode_chunk``              ``storage.sqlite.encode_entries``
``entries_from_rows``         ``storage.sqlite.decode_rows``
``entries_from_chunk``        ``storage.sqlite.Storage`` (reopening)
``word_lists``                ``storage.archive_format.words_array`` (the words column)
``string_buffers``            ``storage.archive_format.text_array`` (text columns)
``string_list_buffers``       ``storage.archive_format.text_array`` (the tags column)
``entry_columns``             ``storage.archive_format.entries_table`` (entries -> columns)
``json_array_buffers``        ``storage.archive_format.metadata_array`` (the metadata column)
``archive_columns``           ``storage.archive_batches.read_batches`` (lines -> columns)
``word_lists_utf8``           ``storage.archive_batches.hour_segments`` (the words column)
============================  =====================================================

Three flags say where the best path differs, not only its speed:

* ``tokenizing_gather``: :func:`gather` given no words tokenizes in C, faster than tokenizing
  beforehand even with a cache; the Python gatherer would tokenize without one.
* ``indexed_reads``: :func:`ingest_blocks` parses and gathers in one C pass; with the Python
  kernels a file reads faster through :func:`entries_from_lines` and a cached tokenizer.
* ``record_reads``: :func:`ingest_records` writes lines straight into records in C; the
  Python kernel builds every entry anyway, so the Python path appends entries.

``available`` says the C kernels are in use; ``speedups`` is the extension module itself (or
``None``), for the tests of its C-only entry points (``direct_entry``, ``parse_iso``).
:func:`use_python` switches to the Python kernels for a block (the differential tests).
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

from orjson import loads

from ..model.entry import _LEVEL_CACHE, LogEntry, entry_from_json, set_lazy_readers
from ..model.tokenize import words
from . import python

__all__ = [
    "KERNELS",
    "archive_columns",
    "available",
    "count_values",
    "decode_records",
    "encode_chunk",
    "encode_records",
    "entries_from_blocks",
    "entries_from_chunk",
    "entries_from_lines",
    "entries_from_rows",
    "entry_columns",
    "filter_instants",
    "gather",
    "gather_numbers",
    "indexed_reads",
    "ingest_blocks",
    "ingest_records",
    "json_array_buffers",
    "numeric_column",
    "numeric_records",
    "python",
    "record_reads",
    "sorted_numbers",
    "speedups",
    "split_ordered",
    "string_buffers",
    "string_list_buffers",
    "summarize_numbers",
    "take_entries",
    "time_order",
    "tokenizing_gather",
    "use_python",
    "word_lists",
    "word_lists_utf8",
]

#: The names of the kernels, each a function of :mod:`.python` and of ``_speedups``.
KERNELS = (
    "archive_columns", "count_values", "decode_records", "encode_chunk", "encode_records",
    "entries_from_blocks",
    "entries_from_chunk", "entries_from_lines", "entries_from_rows", "entry_columns",
    "filter_instants", "gather", "gather_numbers", "ingest_blocks", "ingest_records",
    "json_array_buffers", "numeric_column", "numeric_records", "sorted_numbers", "split_ordered",
    "string_buffers", "string_list_buffers", "summarize_numbers", "take_entries", "time_order",
    "word_lists", "word_lists_utf8",
)

speedups: ModuleType | None
if os.environ.get("LOG_ANALYTICS_PURE_PYTHON", "") not in ("", "0"):
    speedups = None
else:
    try:
        from . import _speedups as speedups
    except ImportError:  # no compiler at install time: the Python kernels do the work
        speedups = None
if speedups is not None:  # bind the Python side it builds and calls
    speedups.configure(LogEntry, _LEVEL_CACHE, entry_from_json, loads, words, array)
    set_lazy_readers(speedups.entry_getattr, speedups.fill_entry)

# The chosen kernels (typed as their Python specification; _choose binds them).
archive_columns = python.archive_columns
count_values = python.count_values
decode_records = python.decode_records
encode_records = python.encode_records
take_entries = python.take_entries
encode_chunk = python.encode_chunk
entries_from_blocks = python.entries_from_blocks
entries_from_chunk = python.entries_from_chunk
entries_from_lines = python.entries_from_lines
entries_from_rows = python.entries_from_rows
entry_columns = python.entry_columns
filter_instants = python.filter_instants
gather = python.gather
gather_numbers = python.gather_numbers
ingest_blocks = python.ingest_blocks
ingest_records = python.ingest_records
json_array_buffers = python.json_array_buffers
numeric_column = python.numeric_column
numeric_records = python.numeric_records
sorted_numbers = python.sorted_numbers
split_ordered = python.split_ordered
string_buffers = python.string_buffers
string_list_buffers = python.string_list_buffers
summarize_numbers = python.summarize_numbers
time_order = python.time_order
word_lists = python.word_lists
word_lists_utf8 = python.word_lists_utf8
available = False
tokenizing_gather = False
indexed_reads = False
record_reads = False


def _choose(module: ModuleType | None) -> None:
    """Bind every kernel to ``module``'s (the C extension) or, for ``None``, to Python's."""
    global available, tokenizing_gather, indexed_reads, record_reads
    source: Any = python if module is None else module
    namespace = globals()
    for name in KERNELS:
        namespace[name] = getattr(source, name)
    available = tokenizing_gather = indexed_reads = record_reads = module is not None


@contextmanager
def use_python() -> Iterator[None]:
    """Run the block on the Python kernels, then restore the choice made at import.

    For tests comparing both implementations; not thread-safe (it rebinds module globals).
    """
    _choose(None)
    try:
        yield
    finally:
        _choose(speedups)


_choose(speedups)
