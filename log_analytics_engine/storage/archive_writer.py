"""Writing the Parquet archive: immutable segments, atomically, from any number of writers.

A :class:`SegmentWriter` turns a batch of entries into one segment per UTC hour of event time
(:mod:`.archive_format`). Each segment is written under a hidden temporary name in its
partition folder, then renamed (``os.replace``, atomic on POSIX within a folder): its term
index first, its Parquet file last, so a reader that sees ``<name>.parquet`` sees a complete
segment and its index. Names are unique (nanoseconds, process id, 48 random bits), so many
processes can archive into one shared folder without coordination.

:func:`archive_files` streams JSONL, text and gzip files (the ingest readers, line-numbered
rejects) into segments with bounded memory: at most ``buffer_entries`` entries are held, then
written out. Gzip JSONL archives written by older versions are read the same way, which is how
they are converted. Runtime complexity: O(n log b) for n entries in buffers of b.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import StoragePathError
from ..ingest.files import IngestReport, guess_file_type, open_lines, read_entries
from ..ingest.limits import DEFAULT_LIMITS, InputLimits
from .archive_format import (
    SEGMENT_SUFFIX,
    TERMS_SUFFIX,
    SegmentTerms,
    entries_table,
    hour_partition,
    pyarrow,
)

if TYPE_CHECKING:
    from ..model.entry import LogEntry

__all__ = ["ArchiveImport", "SegmentWriter", "archive_files"]

log = logging.getLogger(__name__)

#: Rows per Parquet row group: small enough for time-range pruning by row-group statistics.
ROW_GROUP_ROWS = 65_536
#: zstd level of segments (3: the library default; higher levels cost write speed).
ZSTD_LEVEL = 3


class SegmentWriter:
    """Writes batches of entries as segments into ``directory`` (created if missing).

    ``written`` lists the segment names (``<partition>/<name>.parquet``) this writer made, in
    order. ``fsync=True`` makes each segment durable before its rename.
    """

    def __init__(self, directory: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.directory = os.fspath(directory)
        self.fsync = fsync
        self.written: list[str] = []
        self._prefix = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._seq = 0
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as exc:
            raise StoragePathError(self.directory, f"cannot create: {exc}") from exc
        pyarrow()  # fail at configuration time when the extra is missing

    def write(self, entries: Sequence[LogEntry], ids: Sequence[int]) -> list[str]:
        """Write ``entries`` (with their ids) as one segment per hour; returns the segment
        names relative to the folder. All or nothing per segment; raises
        :class:`StoragePathError` when the folder cannot be written. O(n log n)."""
        by_hour: dict[str, tuple[list[LogEntry], list[int]]] = {}
        for e, i in zip(entries, ids, strict=True):
            part = by_hour.get(hour := hour_partition(e.ts))
            if part is None:
                part = by_hour[hour] = ([], [])
            part[0].append(e)
            part[1].append(i)
        names = [self._write_one(hour, *part) for hour, part in sorted(by_hour.items())]
        self.written.extend(names)
        return names

    def _write_one(self, hour: str, entries: list[LogEntry], ids: list[int]) -> str:
        pa = pyarrow()
        table = entries_table(entries, ids)
        terms = SegmentTerms.of_table(table)
        folder = os.path.join(self.directory, hour)
        self._seq += 1
        name = f"{time.time_ns():x}-{self._prefix}-{self._seq}"
        final = os.path.join(folder, name + SEGMENT_SUFFIX)
        tmp_data = os.path.join(folder, f".{name}{SEGMENT_SUFFIX}.tmp")
        tmp_terms = os.path.join(folder, f".{name}{TERMS_SUFFIX}.tmp")
        try:
            os.makedirs(folder, exist_ok=True)
            with open(tmp_terms, "wb") as fh:
                fh.write(terms.to_bytes())
                self._sync(fh)
            pa.parquet.write_table(
                table, tmp_data, compression="zstd", compression_level=ZSTD_LEVEL,
                row_group_size=ROW_GROUP_ROWS, use_dictionary=True, write_statistics=True)
            if self.fsync:
                with open(tmp_data, "rb") as fh:
                    os.fsync(fh.fileno())
            os.replace(tmp_terms, os.path.join(folder, name + TERMS_SUFFIX))
            os.replace(tmp_data, final)  # the segment appears, whole, here
        except OSError as exc:
            for leftover in (tmp_data, tmp_terms):
                with contextlib.suppress(OSError):
                    os.unlink(leftover)
            raise StoragePathError(final, f"cannot write archive segment: {exc}") from exc
        return f"{hour}/{name}{SEGMENT_SUFFIX}"

    def _sync(self, fh: object) -> None:
        if self.fsync:
            fh.flush()  # type: ignore[attr-defined]
            os.fsync(fh.fileno())  # type: ignore[attr-defined]


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
) -> ArchiveImport:
    """Stream JSONL / text files (plain or gzip, older gzip JSONL archives included) into
    segments in ``directory``. Memory: at most ``buffer_entries`` entries at a time. Ids
    number the entries from ``first_id`` in reading order. ``progress(bytes_read)`` is called
    after each batch. Bad lines are rejected with their numbers (in ``reports``)."""
    if buffer_entries < 1:
        raise ValueError(f"buffer_entries must be >= 1, got {buffer_entries!r}")
    writer = SegmentWriter(directory)
    result = ArchiveImport()
    buffer: list[LogEntry] = []
    next_id = first_id

    def flush(size: int) -> None:
        nonlocal buffer, next_id
        while len(buffer) >= size and buffer:
            part, buffer = buffer[:size], buffer[size:]
            result.segments += writer.write(part, range(next_id, next_id + len(part)))
            result.entries += len(part)
            next_id += len(part)

    for path in paths:
        kind = file_type or guess_file_type(path)
        report = IngestReport(os.fspath(path), kind)
        result.reports.append(report)
        try:
            lines = open_lines(path, limits)
        except OSError as exc:
            raise StoragePathError(os.fspath(path), f"cannot read: {exc}") from exc
        with lines:
            for batch in read_entries(lines, kind, report, min(32_768, buffer_entries), progress,
                                      limits):
                buffer.extend(batch)
                report.count += len(batch)
                flush(buffer_entries)
    flush(max(1, len(buffer)))
    return result
