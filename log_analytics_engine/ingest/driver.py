"""The ingest driver: everything that happens to a batch before the engine lock.

Processors run, messages are tokenized when someone needs the words, and postings are
gathered, numbered from the id the batch will most likely get (the commit shifts them if
another writer appended first). Files of JSON lines take the accelerator's one-pass path
(parse and gather in C) when no processor has to see the entries; everything else takes the
general path of :func:`~.files.read_entries`. When the commit reads no entry of a batch
(``records()`` gives the store's chunks: no storage, alert rules or field indexes), the lines
go straight into records (:func:`~.files.read_records`), with no entry object per line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence

from .. import _native as native
from .._gc import gc_paused
from ..index.chunks import EntryChunks
from ..index.postings import IndexSet, Postings
from ..model.entry import LogEntry
from ..model.tokenize import TokenCache
from .files import (
    FILE_TYPES,
    IngestReport,
    encoded_lines,
    open_lines,
    read_entries,
    read_indexed,
    read_records,
)
from .limits import DEFAULT_LIMITS, InputLimits
from .processors import ProcessorChain

__all__ = ["Commit", "IngestDriver"]

#: ``commit(batch, words, postings) -> stored``: the part under the engine lock.
Commit = Callable[[Sequence[LogEntry], "list[list[str]] | None", Postings], int]


class IngestDriver:
    """Turns entries, files and streams into committed batches (thread-safe: no state of
    its own but what the components it drives guard)."""

    def __init__(self, indexes: IndexSet, processors: ProcessorChain, tokens: TokenCache,
                 next_id: Callable[[], int], needs_words: Callable[[], bool],
                 commit: Commit, limits: InputLimits = DEFAULT_LIMITS,
                 records: Callable[[], EntryChunks | None] = lambda: None) -> None:
        self._indexes = indexes
        self._processors = processors
        self._tokens = tokens
        self._next_id = next_id
        self._needs_words = needs_words
        self._commit = commit
        self._limits = limits
        self._records = records

    def _words(self, batch: list[LogEntry]) -> list[list[str]] | None:
        return self._tokens.tokenize_many([e.message for e in batch])

    def ingest(self, batch: list[LogEntry]) -> int:
        """Process, gather and commit one batch; returns how many entries were stored.
        Runtime complexity: O(m t) before the lock for m entries of t words."""
        record = None
        if self._processors:  # their counters count once the batch is stored
            batch, record = self._processors.process(batch)
        if batch:
            # the C gatherer tokenizes as it indexes: words are needed only by word-keyed
            # alert rules, or by the Python gatherer
            words = (self._words(batch) if not native.tokenizing_gather or self._needs_words()
                     else None)
            stored = self._commit(batch, words,
                                  self._indexes.gather(batch, words, self._next_id()))
        else:
            stored = 0
        if record is not None:
            record()
        return stored

    def ingest_file(self, path: str | os.PathLike[str], file_type: str, batch_size: int,
                    progress: Callable[[int], None] | None) -> IngestReport:
        """Read a JSONL or text file (plain or gzip) in batches; bad lines go to the report."""
        if file_type not in FILE_TYPES:
            raise ValueError(f"unknown file_type {file_type!r}; expected 'jsonl' or 'text'")
        report = IngestReport(str(path), file_type)
        started = time.perf_counter()
        with open_lines(path, self._limits) as lines, gc_paused():
            into = (self._records() if file_type == "jsonl" and native.record_reads
                    and not self._processors and not self._needs_words() else None)
            if into is not None:
                for batch, postings in read_records(lines, self._indexes, into, self._next_id,
                                                    report, batch_size, progress,
                                                    self._limits):
                    report.count += self._commit(batch, None, postings)
            elif file_type == "jsonl" and native.indexed_reads and not self._processors:
                for batch, postings in read_indexed(lines, self._indexes, self._next_id,
                                                    report, batch_size, progress, self._limits):
                    words = self._words(batch) if self._needs_words() else None
                    report.count += self._commit(batch, words, postings)
            else:
                for batch in read_entries(lines, file_type, report, batch_size, progress,
                                          self._limits):
                    report.count += self.ingest(batch)
        report.duration_sec = time.perf_counter() - started
        return report

    def ingest_stream(self, lines: Iterable[str | bytes], file_type: str,
                      batch_size: int) -> IngestReport:
        """Read lines from any iterable (a socket, a pipe, a generator) in batches."""
        report = IngestReport("<stream>", file_type)
        started = time.perf_counter()
        with gc_paused():
            for batch in read_entries(encoded_lines(lines), file_type, report, batch_size,
                                      limits=self._limits):
                report.count += self.ingest(batch)
        report.duration_sec = time.perf_counter() - started
        return report
