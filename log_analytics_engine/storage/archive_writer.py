"""Writing the Parquet archive: immutable segments, atomically, from any number of writers.

A :class:`SegmentWriter` turns a batch of entries into one segment per UTC hour of event time
(:mod:`.archive_format`). Each segment is written under a hidden temporary name in its
partition folder, then renamed (``os.replace``, atomic on POSIX within a folder): its term
index and value runs (:mod:`.archive_runs`) first, its Parquet file last, so a reader that
sees ``<name>.parquet`` sees a complete segment and its sidecars. Names are unique
(nanoseconds, process id, 48 random bits), so many processes can archive into one shared
folder without coordination.

:func:`archive_files` streams JSONL, text and gzip files (the ingest readers, line-numbered
rejects) into segments with bounded memory: at most ``buffer_entries`` entries are held, then
written out. Gzip JSONL archives written by older versions are read the same way, which is how
they are converted. Runtime complexity: O(n log b) for n entries in buffers of b.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import StoragePathError
from ..ingest.files import IngestReport, guess_file_type, open_lines
from ..ingest.limits import DEFAULT_LIMITS, InputLimits
from .archive_batches import hour_segments, read_batches
from .archive_format import (
    NUMERIC_PREFIX,
    SEGMENT_SUFFIX,
    TERMS_SUFFIX,
    SegmentTerms,
    hour_tables,
    pyarrow,
    refuse_url,
)
from .archive_runs import RUNS_SUFFIX, encode_runs

if TYPE_CHECKING:
    import pyarrow as pa

    from ..model.entry import LogEntry

__all__ = ["ArchiveImport", "SegmentWriter", "archive_files"]

log = logging.getLogger(__name__)

#: Rows per Parquet row group: small enough for time-range pruning by row-group statistics.
ROW_GROUP_ROWS = 65_536
#: zstd level of segments (2: measured as fast as 1 and smaller; see BENCHMARKS.md).
ZSTD_LEVEL = 2
#: Columns written with Parquet dictionary encoding: the repeating ones. The unique ones
#: (request ids, timestamps, metadata with its measured values) would fill a dictionary only
#: to fall back to plain pages, at a cost in write time and size.
DICTIONARY_COLUMNS = ["level", "source", "message", "tags.list.element", "thread_id",
                      "user_id", "words.list.element"]
#: Columns with min/max statistics (:func:`statistics_columns`).
STATISTICS_COLUMNS = ["instant", "time", "id", "level", "source", "tags.list.element",
                      "thread_id", "request_id", "user_id"]


class SegmentWriter:
    """Writes batches of entries as segments into ``directory`` (created if missing).

    ``written`` lists the segment names (``<partition>/<name>.parquet``) this writer made, in
    order. ``fsync=True`` makes each segment durable before its rename. ``background=True``
    (bulk import) encodes and writes the Parquet files in one writer thread while the caller
    builds the next batch (pyarrow releases the GIL there): :meth:`write` then returns once
    its segments are queued, a failure is raised by the next :meth:`write` or by
    :meth:`close`, which waits for the queue; use it as a context manager.
    """

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = False,
                 background: bool = False) -> None:
        self.directory = os.fspath(directory)
        refuse_url(self.directory)
        self.fsync = fsync
        self.written: list[str] = []
        self._prefix = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._seq = 0
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as exc:
            raise StoragePathError(self.directory, f"cannot create: {exc}") from exc
        pyarrow()  # fail at configuration time when the extra is missing
        self._queue: queue.Queue[_Segment | None] | None = None
        self._failure: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(maxsize=1)  # one segment queued, one being written
            self._thread = threading.Thread(target=self._drain, name="archive-writer",
                                            daemon=True)
            self._thread.start()

    def write(self, entries: Sequence[LogEntry], ids: Sequence[int]) -> list[str]:
        """Write ``entries`` (with their ids) as one segment per hour; returns the segment
        names relative to the folder. All or nothing: every segment of the batch is staged
        under a hidden name first and renamed only when all are staged, and a failure removes
        what the batch wrote, so a retried batch (retention retries the next time) is never
        archived twice (in background mode, per segment). Raises :class:`StoragePathError`
        when the folder cannot be written. O(n log n)."""
        return self.write_tables(hour_tables(entries, ids))

    def write_tables(self, tables: list[tuple[str, pa.Table]]) -> list[str]:
        """:meth:`write` of segments already built: ``(hour partition, table)`` each (the
        bulk import's :func:`~.archive_batches.hour_segments`)."""
        self._raise_failure()
        segments = [self._prepare(hour, table) for hour, table in tables]
        if self._queue is None:
            self._store_all(segments)
        else:
            for segment in segments:
                self._queue.put(segment)
                self._raise_failure()
        return [segment.relative for segment in segments]

    def close(self) -> None:
        """Wait for the queued segments (background mode) and raise a failure of any."""
        if self._thread is not None:
            assert self._queue is not None
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise_failure()

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
            return
        with contextlib.suppress(Exception):  # the caller's error wins
            self.close()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _drain(self) -> None:
        assert self._queue is not None
        while (segment := self._queue.get()) is not None:
            if self._failure is None:  # after a failure, drop the rest
                try:
                    self._store(segment)
                except BaseException as exc:  # re-raised in the caller's thread
                    self._failure = exc

    def _prepare(self, hour: str, table: pa.Table) -> _Segment:
        sidecars = {TERMS_SUFFIX: SegmentTerms.of_table(table).to_bytes()}
        runs = encode_runs(table)
        if runs is not None:
            sidecars[RUNS_SUFFIX] = runs
        self._seq += 1
        name = f"{time.time_ns():x}-{self._prefix}-{self._seq}"
        return _Segment(hour, name, table, sidecars)

    def _store(self, segment: _Segment) -> None:
        self._store_all([segment])

    def _store_all(self, segments: list[_Segment]) -> None:
        """Stage every segment, then publish them all; on a failure remove what was staged
        or published (a reader may have listed a published one for that moment)."""
        staged: list[list[tuple[str, str]]] = []
        try:
            for segment in segments:
                staged.append(self._stage(segment))
            for moves in staged:
                for tmp, final in moves:  # the sidecars first: the data file comes last
                    os.replace(tmp, final)  # the segment appears, whole, at the last one
        except BaseException as exc:
            for moves in staged:
                for path in (p for move in moves for p in move):
                    with contextlib.suppress(OSError):
                        os.unlink(path)
            if not isinstance(exc, OSError):
                raise
            where = staged[-1][-1][1] if staged else self.directory
            raise StoragePathError(where, f"cannot write archive segment: {exc}") from exc
        self.written.extend(segment.relative for segment in segments)

    def _stage(self, segment: _Segment) -> list[tuple[str, str]]:
        """Write a segment's sidecars (term index, value runs) and data under hidden names;
        return the (hidden, final) paths, data last. Removes its own files when it fails."""
        pa = pyarrow()
        folder = os.path.join(self.directory, segment.hour)
        name = segment.name
        moves = [(os.path.join(folder, f".{name}{suffix}.tmp"), os.path.join(folder, name + suffix))
                 for suffix in (*segment.sidecars, SEGMENT_SUFFIX)]
        try:
            os.makedirs(folder, exist_ok=True)
            for (tmp, _), body in zip(moves, segment.sidecars.values(), strict=False):
                with open(tmp, "wb") as fh:
                    fh.write(body)
                    self._sync(fh)
            tmp_data = moves[-1][0]
            pa.parquet.write_table(
                segment.table, tmp_data, compression="zstd", compression_level=ZSTD_LEVEL,
                row_group_size=ROW_GROUP_ROWS, use_dictionary=DICTIONARY_COLUMNS,
                write_statistics=statistics_columns(segment.table))
            if self.fsync:
                with open(tmp_data, "rb") as fh:
                    os.fsync(fh.fileno())
        except BaseException:
            for tmp, _ in moves:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise
        return moves

    def _sync(self, fh: object) -> None:
        if self.fsync:
            fh.flush()  # type: ignore[attr-defined]
            os.fsync(fh.fileno())  # type: ignore[attr-defined]


@dataclass
class _Segment:
    """A segment ready to store: its partition, unique name, table and sidecar files."""

    hour: str
    name: str
    table: pa.Table
    sidecars: dict[str, bytes]  # file suffix -> bytes (term index, value runs)

    @property
    def relative(self) -> str:
        return f"{self.hour}/{self.name}{SEGMENT_SUFFIX}"


def statistics_columns(table: pa.Table) -> list[str]:
    """The columns whose Parquet min/max statistics are written: those a reader prunes row
    groups with (time, id, level, source, the ids and tags, the typed numeric copies); not
    the free text, JSON and word columns, whose statistics prune nothing."""
    return [*STATISTICS_COLUMNS,
            *(n for n in table.column_names if n.startswith(NUMERIC_PREFIX))]


@dataclass
class ArchiveImport:
    """What :func:`archive_files` did: entries written, segments made, rejected lines."""

    entries: int = 0
    segments: list[str] = field(default_factory=list)
    reports: list[IngestReport] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.reports)


def archive_files(
    paths: Iterable[str | os.PathLike[str]],
    directory: str | os.PathLike[str],
    *,
    file_type: str | None = None,
    buffer_entries: int = 100_000,
    first_id: int = 0,
    progress: Callable[[int], None] | None = None,
    limits: InputLimits = DEFAULT_LIMITS,
    background: bool | None = None,
) -> ArchiveImport:
    """Stream JSONL / text files (plain or gzip, older gzip JSONL archives included) into
    segments in ``directory``. Memory: at most ``buffer_entries`` entries at a time. Ids
    number the entries from ``first_id`` in reading order. ``progress(bytes_read)`` is called
    after each batch. Bad lines are rejected with their numbers (in ``reports``).
    ``background``: Parquet files are written by a writer thread while the next batch is
    read (see :class:`SegmentWriter`); ``False`` writes each in turn; ``None`` (the
    default): a writer thread when the process may run on more than one CPU (on one, the
    two threads would only take turns)."""
    if buffer_entries < 1:
        raise ValueError(f"buffer_entries must be >= 1, got {buffer_entries!r}")
    result = ArchiveImport()
    if background is None:
        background = _usable_cpus() > 1
    with SegmentWriter(directory, background=background) as writer:
        _import(paths, writer, result, file_type, buffer_entries, first_id, progress, limits)
    return result


def _usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this OS (macOS, Windows)
        return os.cpu_count() or 1


def _import(paths: Iterable[str | os.PathLike[str]], writer: SegmentWriter,
            result: ArchiveImport, file_type: str | None, buffer_entries: int, first_id: int,
            progress: Callable[[int], None] | None, limits: InputLimits) -> None:
    arrow = pyarrow()
    pending: list[pa.Table] = []  # batches in file order, held rows at most buffer_entries
    held = 0
    next_id = first_id

    def flush(size: int) -> None:
        nonlocal pending, held, next_id
        while held >= size and held:
            whole = pending[0] if len(pending) == 1 else arrow.concat_tables(
                pending, promote_options="default")  # a field missing from a batch: null
            part = whole.slice(0, size)
            rest = whole.slice(size)
            pending, held = ([rest], rest.num_rows) if rest.num_rows else ([], 0)
            result.segments += writer.write_tables(hour_segments(part, next_id))
            result.entries += part.num_rows
            next_id += part.num_rows

    for path in paths:
        kind = file_type or guess_file_type(path)
        report = IngestReport(os.fspath(path), kind)
        result.reports.append(report)
        try:
            lines = open_lines(path, limits)
        except OSError as exc:
            raise StoragePathError(os.fspath(path), f"cannot read: {exc}") from exc
        with lines:
            for batch in read_batches(lines, kind, report, min(32_768, buffer_entries),
                                      progress, limits):
                pending.append(batch)
                held += batch.num_rows
                report.count += batch.num_rows
                flush(buffer_entries)
    flush(max(1, held))
