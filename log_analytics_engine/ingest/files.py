"""Reading whole files (plain or gzip) in batches, with a report of rejected lines."""

from __future__ import annotations

import gzip
import io
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any, TypeVar, cast

import orjson

from .. import _native as native
from ..errors import InvalidEntryError
from ..index.chunks import EntryChunks, RecordBatch
from ..index.postings import Ids, IndexSet, Postings, gather_base
from ..model.entry import LogEntry, entry_from_json
from ..model.values import clean_text
from .jsonl import parse_json_line
from .limits import (
    DEFAULT_LIMITS,
    InputLimits,
    LimitedReader,
    capped_lines,
    compressed_size,
    too_long_reason,
    whole_line_blocks,
)
from .text import parse_text_line

__all__ = [
    "FILE_TYPES",
    "IngestReport",
    "encoded_lines",
    "guess_file_type",
    "open_lines",
    "read_converted",
    "read_entries",
    "read_indexed",
    "read_records",
]

FILE_TYPES = ("jsonl", "text")
MAX_REJECTED = 100
READ_BLOCK = 1 << 18  # bytes per read of a file: 256 KiB stays in the CPU cache
T = TypeVar("T")
_loads = orjson.loads
_from_json = entry_from_json


@dataclass
class IngestReport:
    """What a file ingestion did: counts, the first rejected lines and the speed."""

    file: str
    type: str
    count: int = 0
    errors: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    duration_sec: float = 0.0

    def reject(self, line: int, reason: str) -> None:
        self.errors += 1
        if len(self.rejected) < MAX_REJECTED:
            self.rejected.append({"line": line, "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        rate = self.count / self.duration_sec if self.duration_sec > 0 else 0.0
        return {
            "file": self.file,
            "type": self.type,
            "count": self.count,
            "errors": self.errors,
            "rejected": list(self.rejected),
            "duration_sec": self.duration_sec,
            "logs_per_sec": rate,
        }


def guess_file_type(path: str | os.PathLike[str]) -> str:
    """``"text"`` for a name ending in ``.log`` or ``.txt`` (also with ``.gz`` after it),
    ``"jsonl"`` for anything else. Compression is found by content (:func:`open_lines`).

    >>> guess_file_type("app.log.gz"), guess_file_type("app.jsonl"), guess_file_type("x.TXT")
    ('text', 'jsonl', 'text')
    """
    name = os.fspath(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return "text" if name.endswith((".log", ".txt")) else "jsonl"


class _Decompressed(io.BufferedReader):
    """A gzip file's lines, capped at the decompressed size its limits allow."""

    @property
    def over_limit(self) -> str | None:
        raw = self.raw
        return raw.over_limit if isinstance(raw, LimitedReader) else None


def open_lines(path: str | os.PathLike[str], limits: InputLimits = DEFAULT_LIMITS) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing gzip (by magic number, not by name) up
    to the decompressed size ``limits`` allow (:meth:`InputLimits.gzip_cap`)."""
    raw = open(path, "rb")  # noqa: SIM115 - the caller closes it
    head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    stream: IO[bytes] = raw
    if head == b"\x1f\x8b":
        inner: Any = gzip.GzipFile(fileobj=raw, mode="rb")
        cap = limits.gzip_cap(compressed_size(path))
        if cap is not None:
            inner = LimitedReader(inner, cap, f"gzip file {os.fspath(path)!r}")
        stream = _Decompressed(inner)
    if isinstance(stream, io.BufferedReader) and stream.peek(3)[:3] == b"\xef\xbb\xbf":
        stream.read(3)  # a UTF-8 byte order mark is not part of the first line
    return stream


def encoded_lines(lines: Iterable[str | bytes]) -> Iterator[bytes]:
    """Lines as UTF-8 bytes; a str line with a lone surrogate is encoded with U+FFFD in its
    place (the normalisation rule of :mod:`log_analytics_engine.model.values`)."""
    for line in lines:
        if isinstance(line, str):
            try:
                yield line.encode()
            except UnicodeEncodeError:
                yield clean_text(line).encode()
        else:
            yield line


def note_limit(lines: Any, report: IngestReport, line_no: int) -> None:
    """Record in ``report`` that a decompressed-size limit stopped reading ``lines``."""
    reason = getattr(lines, "over_limit", None)
    if reason:
        report.reject(line_no + 1, reason)


def read_entries(
    lines: IO[bytes] | Iterable[bytes],
    file_type: str,
    report: IngestReport,
    batch_size: int = 8192,
    on_line: Callable[[int], None] | None = None,
    limits: InputLimits = DEFAULT_LIMITS,
    first_line: int = 1,
) -> Iterator[list[LogEntry]]:
    """Yield batches of valid entries; record bad lines in ``report`` (numbered from
    ``first_line``, 1 by default: a follower passes the number of its first new line).

    Blank lines are skipped; a line over ``limits.max_line_bytes`` is rejected and never held
    whole. ``on_line(bytes_read)`` is called per batch for progress bars.
    """
    if file_type not in FILE_TYPES:
        raise ValueError(f"unknown file_type {file_type!r}; expected one of {FILE_TYPES}")
    max_line = limits.max_line_bytes
    if file_type == "jsonl":
        yield from _read_jsonl_batches(lines, report, batch_size, on_line, max_line,
                                       first_line - 1)
        return
    batch: list[LogEntry] = []
    append = batch.append
    now = time.time()
    nbytes = 0
    line_no = first_line - 1
    for chunk, size, newline in _line_chunks(lines, batch_size, max_line):  # type: ignore[arg-type]
        nbytes += size
        for raw in chunk:
            line_no += 1
            # with its newline, as a line read by itself (the same error messages)
            entry = _read_line(raw + newline, line_no, False, now, report)
            if entry is not None:
                append(entry)
        if len(batch) >= batch_size:
            yield batch
            batch = []
            append = batch.append
            if on_line is not None:
                on_line(nbytes)
                nbytes = 0
    if batch:
        yield batch
    if on_line is not None and nbytes:
        on_line(nbytes)
    note_limit(lines, report, line_no)


def _read_line(
    raw: bytes, line_no: int, is_json: bool, now: float, report: IngestReport
) -> LogEntry | None:
    """The entry of one line, or None for a blank or rejected line (recorded in ``report``)."""
    if not raw or raw.isspace():
        return None
    if raw[:1] == b"\x00":
        reason = too_long_reason(raw)
        if reason is not None:
            report.reject(line_no, reason)
            return None
    try:
        if is_json:
            data = _loads(raw)
            if type(data) is dict:
                return _from_json(data)
            return parse_json_line(raw, line_no)  # raises the right error
        if not raw.strip():
            return None
        return parse_text_line(raw.decode("utf-8", errors="replace"), now)
    except orjson.JSONDecodeError as exc:
        if raw.strip():
            report.reject(line_no, f"malformed JSON: {exc}")
    except InvalidEntryError as exc:
        report.reject(line_no, exc.reason)
    except (ValueError, TypeError, OverflowError) as exc:
        report.reject(line_no, f"{type(exc).__name__}: {exc}")
    return None


def _read_jsonl_batches(
    lines: IO[bytes] | Iterable[bytes],
    report: IngestReport,
    batch_size: int,
    on_line: Callable[[int], None] | None,
    max_line: int,
    line_no: int = 0,
) -> Iterator[list[LogEntry]]:
    """:func:`read_entries` for JSONL: a batch of lines at a time through the accelerator's
    ``entries_from_lines``.

    It returns ``None`` for each line it could not turn into an entry; those lines (rare:
    blank or bad) go through :func:`_read_line` for the exact rejection reason. A file goes
    through ``entries_from_blocks`` instead: its blocks of whole lines are split in the
    kernel, without a bytes object per line.
    """
    if getattr(lines, "read", None) is not None:
        for blocks, nbytes in _block_batches(lines, batch_size, max_line):  # type: ignore[arg-type]
            good, count, rejected = native.entries_from_blocks(blocks)
            good += _reread(rejected, line_no, report)
            line_no += count
            if good:
                yield good
            if on_line is not None:
                on_line(nbytes)
        note_limit(lines, report, line_no)
        return
    for chunk, nbytes, newline in _line_chunks(lines, batch_size, max_line):  # type: ignore[arg-type]
        parsed, bad = native.entries_from_lines(chunk)
        if bad:
            entries: list[LogEntry] = []
            for k, entry in enumerate(parsed):
                if entry is None:  # the line as read line by line, for the same message
                    raw = chunk[k] + newline
                    entry = _read_line(raw, line_no + k + 1, True, 0.0, report)
                if entry is not None:
                    entries.append(entry)
        else:
            entries = cast("list[LogEntry]", parsed)  # no None when no line is bad
        line_no += len(chunk)
        if entries:
            yield entries
        if on_line is not None:
            on_line(nbytes)
    note_limit(lines, report, line_no)


def _line_chunks(
    lines: IO[bytes], batch_size: int, max_line: int = DEFAULT_LIMITS.max_line_bytes,
) -> Iterator[tuple[list[bytes], int, bytes]]:
    """``(lines, bytes read, the newline they lost)`` about ``batch_size`` lines at a time: a
    file's blocks (:func:`_block_batches`) split at newlines; any other iterable of lines is
    taken ``batch_size`` lines at a time (a line over ``max_line`` bytes is never held whole)."""
    if getattr(lines, "read", None) is None:
        capped = capped_lines(lines, max_line)
        while chunk := list(islice(capped, batch_size)):
            yield chunk, sum(map(len, chunk)), b""
        return
    for blocks, nbytes in _block_batches(lines, batch_size, max_line):
        parts = (blocks[0] if len(blocks) == 1 else b"".join(blocks)).split(b"\n")
        last = parts.pop()
        if not last:
            yield parts, nbytes, b"\n"
            continue
        if parts:  # the end of the file, without a newline
            yield parts, nbytes, b"\n"
            nbytes = 0
        yield [last], nbytes, b""


def _block_batches(
    lines: IO[bytes], batch_size: int, max_line: int = DEFAULT_LIMITS.max_line_bytes,
) -> Iterator[tuple[list[bytes], int]]:
    """``(blocks, bytes read)`` of about ``batch_size`` lines at a time (counted as 256 bytes
    each: counting newlines cost 4% of ingestion): blocks of whole lines
    (:func:`.limits.whole_line_blocks`); the last block of a file may end without a
    newline."""
    blocks: list[bytes] = []
    size = pending = 0
    batch_bytes = batch_size * 256
    for block, nbytes in whole_line_blocks(lines.read, max_line, READ_BLOCK):
        pending += nbytes
        if block:
            blocks.append(block)
            size += len(block)
        if size >= batch_bytes:
            yield blocks, pending
            blocks = []
            size = pending = 0
    if blocks or pending:
        yield blocks, pending


def read_converted(
    lines: IO[bytes] | Iterable[bytes],
    file_type: str,
    report: IngestReport,
    convert: Callable[[list[LogEntry]], T],
    batch_size: int = 8192,
    on_line: Callable[[int], None] | None = None,
    limits: InputLimits = DEFAULT_LIMITS,
    kernel: Callable[[list[bytes]], tuple[T | None, int, list[tuple[int, bytes]]] | None]
    | None = None,
) -> Iterator[T]:
    """:func:`read_entries`, each batch turned into something else (the archive import's
    Arrow tables): by ``convert(entries)``, or for a JSONL file, when ``kernel`` is given, by
    ``kernel(blocks)`` straight from its blocks of whole lines (no entry per line), which
    returns ``(batch or None when no line was good, lines read, (index, line) of the bad
    ones)``, or ``None`` to hand the blocks back to the entries path. The bad lines are
    re-read for their rejection message; in file order, batch by batch."""
    if kernel is None or file_type != "jsonl" or getattr(lines, "read", None) is None:
        for batch in read_entries(lines, file_type, report, batch_size, on_line, limits):
            yield convert(batch)
        return
    line_no = 0
    for blocks, nbytes in _block_batches(lines, batch_size, limits.max_line_bytes):  # type: ignore[arg-type]
        got = kernel(blocks)
        if got is None:
            entries, count, rejected = native.entries_from_blocks(blocks)
            entries += _reread(rejected, line_no, report)
            if entries:
                yield convert(entries)
        else:
            converted, count, rejected = got
            late = _reread(rejected, line_no, report)
            if converted is not None:
                yield converted
            if late:  # pragma: no cover - the C reader agrees (tests)
                yield convert(late)
        line_no += count
        if on_line is not None:
            on_line(nbytes)
    note_limit(lines, report, line_no)


def _reread(bad: list[tuple[int, bytes]], line_no: int, report: IngestReport
            ) -> list[LogEntry]:
    """The lines a C reader handed back (``(index in the batch, line)``; the batch starts
    after line ``line_no``), read again one by one for the same rejection message."""
    late: list[LogEntry] = []
    for k, raw in bad:
        again = _read_line(raw, line_no + k + 1, True, 0.0, report)
        if again is not None:  # pragma: no cover - the C reader agrees (tests)
            late.append(again)
    return late


def read_indexed(
    lines: IO[bytes],
    indexes: IndexSet,
    next_id: Callable[[], int],
    report: IngestReport,
    batch_size: int = 8192,
    on_line: Callable[[int], None] | None = None,
    limits: InputLimits = DEFAULT_LIMITS,
) -> Iterator[tuple[list[LogEntry], Postings]]:
    """:func:`read_entries` for JSONL with the postings of each batch gathered in the same C
    pass (the accelerator's ``ingest_blocks``: lines split, parsed and indexed without a
    bytes object per line), numbered from ``next_id()`` at read time (``IndexSet.merge``
    shifts them if another writer came first). For an engine without processors, which could
    change or drop entries between parsing and indexing."""
    line_no = 0
    for blocks, nbytes in _block_batches(lines, batch_size, limits.max_line_bytes):
        first_id = gather_base(next_id(), sum(map(len, blocks)) + 1)
        terms: tuple[dict[str, Ids], ...] = ({}, {}, {}, {})
        entries, count, bad = native.ingest_blocks(blocks, first_id, indexes.strings, *terms)
        late = _reread(bad, line_no, report)
        line_no += count
        if entries:
            yield entries, indexes.postings(first_id, entries, *terms)
        if late:  # pragma: no cover
            yield late, indexes.gather(late, None, next_id())
        if on_line is not None:
            on_line(nbytes)
    note_limit(lines, report, line_no)


def read_records(
    lines: IO[bytes],
    indexes: IndexSet,
    store: EntryChunks,
    next_id: Callable[[], int],
    report: IngestReport,
    batch_size: int = 8192,
    on_line: Callable[[int], None] | None = None,
    limits: InputLimits = DEFAULT_LIMITS,
) -> Iterator[tuple[Sequence[LogEntry], Postings]]:
    """:func:`read_indexed` writing records instead of entries (the accelerator's
    ``ingest_records``): each batch is a :class:`RecordBatch` of chunks numbered like
    ``store``'s, against its string tables, that the store adopts without building an entry.
    A batch ends on a chunk boundary: the lines after it are read again with the next batch
    (the last batch takes every line). For an engine without processors, whose commit reads
    no entry of the batch (no storage, alert rules or field indexes: those would build them)."""
    line_no = 0
    rest = b""
    pending: tuple[list[bytes], int] | None = None
    batches = _block_batches(lines, batch_size, limits.max_line_bytes)
    while True:
        following = next(batches, None)
        if pending is not None:
            blocks, nbytes = pending
            if rest:
                blocks.insert(0, rest)
            first_id = gather_base(next_id(), sum(map(len, blocks)) + 1)
            levels: dict[str, Ids] = {}
            sources: dict[str, Ids] = {}
            tags: dict[str, Ids] = {}
            words: dict[str, Ids] = {}
            tables, bits = store.tables, store.bits
            chunks, stamps, count, bad, rest = native.ingest_records(
                blocks, first_id, indexes.strings, levels, sources, tags, words, tables, bits,
                following is None)
            late = _reread(bad, line_no, report)
            line_no += count
            if stamps:
                batch = RecordBatch(chunks, stamps, first_id, tables, bits)
                yield batch, indexes.postings(first_id, batch, levels, sources, tags, words)
            if late:  # pragma: no cover
                yield late, indexes.gather(late, None, next_id())
            if on_line is not None:
                on_line(nbytes)
        if following is None:
            break
        pending = following
    note_limit(lines, report, line_no)
