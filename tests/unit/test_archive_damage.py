"""A segment that is not what the writer wrote (garbage, cut short, another program's
Parquet, a column of another type, a damaged page) stops a query with
:class:`StorageCorruptError` naming the file: never an executor's own error, never an
answer that silently leaves its rows out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")
import pyarrow.parquet as pq  # noqa: E402

from log_analytics_engine import Archive, LogEntry, StorageCorruptError  # noqa: E402
from log_analytics_engine.storage.archive_format import segment_problem  # noqa: E402
from log_analytics_engine.storage.archive_writer import SegmentWriter  # noqa: E402

pytestmark = pytest.mark.unit


def _archive(folder: Path) -> Path:
    """Two hours of entries; returns the first hour's segment."""
    with SegmentWriter(folder) as writer:
        writer.write([LogEntry(3600 * 5 + i, ("INFO", "ERROR")[i % 2], f"disk full {i} " * 40,
                               metadata={"lat": i * 1.5}) for i in range(400)], range(400))
        writer.write([LogEntry(3600 * 7 + i, "INFO", f"other {i}") for i in range(5)],
                     range(400, 405))
    return sorted(folder.rglob("*.parquet"))[0]


def _garbage(path: Path) -> None:
    path.write_bytes(b"not parquet" * 10)


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _foreign(path: Path) -> None:
    pq.write_table(pa.table({"x": [1, 2]}), path)


def _retyped(path: Path) -> None:
    table = pq.read_table(path)
    i = table.schema.get_field_index("id")
    pq.write_table(table.set_column(i, "id", table.column("id").cast(pa.string())), path)


def _damaged_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 4, len(data) // 2):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_garbage, _cut, _foreign, _retyped, _damaged_page])
def test_a_damaged_segment_is_named_in_a_storage_corrupt_error(
        tmp_path: Path, damage: Callable[[Path], None]) -> None:
    segment = _archive(tmp_path)
    damage(segment)
    with Archive(tmp_path) as archive:
        with pytest.raises(StorageCorruptError) as caught:
            archive.query_logs({"level": "ERROR"}, page_size=None)
        assert caught.value.path == str(segment)
        assert str(segment) in str(caught.value)
        # a query whose pruning leaves the damaged segment out still answers
        assert archive.count_logs({"start_time": "1970-01-01T07:00:00Z"}) == 5


def test_segment_problem_names_what_is_wrong(tmp_path: Path) -> None:
    segment = _archive(tmp_path)
    assert segment_problem(str(segment)) is None
    _retyped(segment)
    assert segment_problem(str(segment)) == "column 'id' is string, not int64"
    _foreign(segment)
    assert segment_problem(str(segment)) == "no column 'instant'"
    _garbage(segment)
    assert (segment_problem(str(segment)) or "").startswith("unreadable Parquet")


@pytest.mark.parametrize("name", ["*", "a?", "[ab]", "{x,y}"])
def test_a_segment_named_like_a_pattern_is_refused_not_read_twice(tmp_path: Path,
                                                                  name: str) -> None:
    """The executors read a path as a glob: ``*.parquet`` beside other segments would read
    them again."""
    import shutil

    segment = _archive(tmp_path)
    copy = segment.with_name(name + ".parquet")
    shutil.copy(segment, copy)
    shutil.copy(segment.with_suffix(".terms"), copy.with_suffix(".terms"))
    with Archive(tmp_path) as archive, pytest.raises(StorageCorruptError) as caught:
        archive.count_logs({"keyword": "disk"})
    assert caught.value.path == str(copy)
    assert "glob" in caught.value.reason


def _column(name: str, values: Callable[[int], pa.Array]) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        table = pq.read_table(path)
        i = table.schema.get_field_index(name)
        pq.write_table(table.set_column(i, table.schema.field(i), values(table.num_rows)), path)
    change.__name__ = name
    return change


_TEXT = pa.string()
_ROWS = {
    "metadata not JSON": _column("metadata", lambda n: pa.array(["{no"] * n, _TEXT)),
    "metadata a list": _column("metadata", lambda n: pa.array(["[1, 2]"] * n, _TEXT)),
    "no level": _column("level", lambda n: pa.array([None] * n, _TEXT)),
    "an unknown level": _column("level", lambda n: pa.array(["LOUD"] * n, _TEXT)),
    "no message": _column("message", lambda n: pa.array([None] * n, _TEXT)),
    "a missing tag": _column("tags", lambda n: pa.array([[None]] * n, pa.list_(_TEXT))),
    # the entries have numbers for timestamps: no text, their JSON in timestamp_json
    "no timestamp": _column("timestamp_json", lambda n: pa.array([None] * n, _TEXT)),
    "a timestamp of no kind": _column("timestamp_json", lambda n: pa.array(["[]"] * n, _TEXT)),
    "an instant not finite": _column("instant", lambda n: pa.array([float("nan")] * n)),
}


@pytest.mark.parametrize("damage", list(_ROWS.values()), ids=list(_ROWS))
def test_a_row_the_writer_never_writes_is_refused_not_returned(
        tmp_path: Path, damage: Callable[[Path], None]) -> None:
    damage(_archive(tmp_path))
    with Archive(tmp_path) as archive, pytest.raises(StorageCorruptError) as caught:
        archive.query_logs({}, page_size=None)
    assert caught.value.path == str(tmp_path)
    assert "never writes" in caught.value.reason


@pytest.mark.parametrize("url", ["s3a://bucket/logs", "hdfs://nn:8020/logs", "file:///tmp/x"])
def test_a_url_is_refused_rather_than_answered_empty(url: str) -> None:
    from log_analytics_engine import StoragePathError

    with pytest.raises(StoragePathError, match="mount"):
        Archive(url)


def test_a_writer_refuses_a_url_rather_than_making_a_local_folder(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    from log_analytics_engine import StoragePathError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoragePathError, match="URL"):
        SegmentWriter("s3a://bucket/logs")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("archive_format", ["parquet", "jsonl"])
def test_retention_refuses_a_url_archive_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             archive_format: str) -> None:
    from log_analytics_engine import LogAnalyticsEngine, Retention, StoragePathError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoragePathError, match="URL"):
        LogAnalyticsEngine(retention=Retention(max_entries=10, archive_dir="s3a://b/logs",
                                               archive_format=archive_format))
    assert list(tmp_path.iterdir()) == []
