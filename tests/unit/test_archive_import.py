"""Bulk import's writer thread and write settings: the same segments as writing in turn,
failures raised in the caller's thread with nothing partial left visible, and the Parquet
settings (dictionary pages and statistics only where they serve)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")
import pyarrow.parquet as pq  # noqa: E402

from log_analytics_engine import Archive, LogEntry, StoragePathError  # noqa: E402
from log_analytics_engine.storage.archive_writer import (  # noqa: E402
    DICTIONARY_COLUMNS,
    STATISTICS_COLUMNS,
    SegmentWriter,
    archive_files,
)

pytestmark = pytest.mark.unit


def _corpus(path: Path, n: int = 60) -> Path:
    lines = [f'{{"timestamp": {1753092000 + 900 * i}, "level": "{"ERROR" if i % 4 else "INFO"}",'
             f' "message": "m{i} Disk full", "source": "s{i % 3}", "tags": ["t{i % 2}"],'
             f' "metadata": {{"lat": {i / 4}, "n": {i}}}}}' for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _content(folder: Path) -> list[Any]:
    tables = [pq.read_table(p) for p in sorted(folder.rglob("*.parquet"))]
    return [t.drop_columns([]).to_pylist() for t in tables]


def test_background_and_in_turn_imports_write_the_same_segments(tmp_path: Path) -> None:
    src = _corpus(tmp_path / "in.jsonl")
    a = archive_files([src], tmp_path / "a", buffer_entries=7, background=True)
    b = archive_files([src], tmp_path / "b", buffer_entries=7, background=False)
    assert a.entries == b.entries == 60
    assert [s.split("/")[:2] for s in a.segments] == [s.split("/")[:2] for s in b.segments]
    assert _content(tmp_path / "a") == _content(tmp_path / "b")
    with Archive(tmp_path / "a") as archive:
        assert archive.count_logs("disk") == 60


@pytest.mark.parametrize(("cpus", "threaded"), [(1, False), (2, True)])
def test_the_writer_thread_is_used_only_with_more_than_one_cpu(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: int, threaded: bool) -> None:
    from log_analytics_engine.storage import archive_writer

    seen: list[bool] = []
    real = archive_writer.SegmentWriter

    def writer(directory: Any, *, background: bool = False) -> SegmentWriter:
        seen.append(background)
        return real(directory, background=background)

    monkeypatch.setattr(archive_writer, "_usable_cpus", lambda: cpus)
    monkeypatch.setattr(archive_writer, "SegmentWriter", writer)
    result = archive_files([_corpus(tmp_path / "in.jsonl")], tmp_path / "a")
    assert seen == [threaded]
    assert result.entries == 60


def test_a_background_writer_lists_segments_in_order_once_closed(tmp_path: Path) -> None:
    with SegmentWriter(tmp_path, background=True) as writer:
        names = writer.write([LogEntry(3600 * h, "INFO", f"h{h}") for h in (2, 0, 1)],
                             [0, 1, 2])
        names += writer.write([LogEntry(7200.5, "INFO", "late")], [3])
    assert writer.written == names
    assert [n.split("/")[1] for n in names] == ["hour=00", "hour=01", "hour=02", "hour=02"]


def test_a_failure_in_the_writer_thread_is_raised_to_the_caller(tmp_path: Path,
                                                                  monkeypatch: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", broken)
    src = _corpus(tmp_path / "in.jsonl")
    with pytest.raises(StoragePathError, match="No space left"):
        archive_files([src], tmp_path / "out", buffer_entries=5)
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]

    writer = SegmentWriter(tmp_path / "w", background=True)
    def write_and_close() -> None:
        writer.write([LogEntry(0, "INFO", "x")], [0])
        writer.write([LogEntry(1, "INFO", "y")], [1])
        writer.close()

    with pytest.raises(StoragePathError):  # raised by write or, at the latest, by close
        write_and_close()
    with pytest.raises(StoragePathError):  # and again: the writer stays failed
        writer.close()
    assert writer.written == []


def test_the_caller_error_wins_over_the_writer_thread(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path, background=True)

    def fail_inside() -> None:
        with writer:
            writer.write([LogEntry(0, "INFO", "x")], [0])
            raise KeyError("caller")

    with pytest.raises(KeyError):
        fail_inside()
    assert len(writer.written) == 1  # what was queued was still written


def test_segments_use_dictionary_pages_and_statistics_where_they_serve(tmp_path: Path) -> None:
    name = SegmentWriter(tmp_path).write(
        [LogEntry(i, "INFO", f"m{i}", "api", request_id=f"r{i}", metadata={"lat": i / 2})
         for i in range(20)], range(20))[0]
    meta = pq.ParquetFile(tmp_path / name).metadata
    group = meta.row_group(0)
    columns = {group.column(k).path_in_schema: group.column(k) for k in range(group.num_columns)}
    for path, col in columns.items():
        dictionary = any("DICTIONARY" in enc for enc in col.encodings)
        assert dictionary == (path in DICTIONARY_COLUMNS), path
        stats = col.is_stats_set
        assert stats == (path in STATISTICS_COLUMNS or path == "num_lat"), path
    assert columns["instant"].statistics.min == 0.0
