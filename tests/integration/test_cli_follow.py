"""FileFollower (behind ``tail``): appends, partial lines, rotation, truncation."""

from __future__ import annotations

import os
from pathlib import Path

from log_analytics_engine.ingest.follow import FileFollower


def write(path: Path, text: str, mode: str = "a") -> None:
    with open(path, mode) as fh:
        fh.write(text)


def test_starts_at_the_end_by_default(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    write(path, "old\n", "w")
    with FileFollower(path) as f:
        write(path, "new\n")
        assert f.poll() == [b"new"]


def test_from_start_reads_existing_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    write(path, "one\ntwo\n", "w")
    with FileFollower(path, from_start=True) as f:
        assert f.poll() == [b"one", b"two"]
        assert f.poll() == []


def test_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    write(path, "", "w")
    with FileFollower(path) as f:
        write(path, "hal")
        assert f.poll() == []
        write(path, "f\r\n")
        assert f.poll() == [b"half"]


def test_rotation_reads_the_old_tail_then_the_new_file(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    write(path, "", "w")
    with FileFollower(path) as f:
        write(path, "last of old\n")
        os.rename(path, tmp_path / "a.log.1")
        write(path, "first of new\n", "w")
        assert f.poll() == [b"last of old", b"first of new"]
        assert f.rotations == 1


def test_rotated_path_missing_for_a_while_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    write(path, "", "w")
    with FileFollower(path) as f:
        os.rename(path, tmp_path / "a.log.1")
        assert f.poll() == []
        write(path, "created later\n", "w")
        assert f.poll() == [b"created later"]


def test_truncation_restarts_at_the_beginning(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    write(path, "", "w")
    with FileFollower(path) as f:
        write(path, "a long line that was read\n")
        assert f.poll() == [b"a long line that was read"]
        write(path, "short\n", "w")
        assert f.poll() == [b"short"]
        assert f.truncations == 1


def test_file_missing_at_start_is_read_from_its_beginning_once_created(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    f = FileFollower(path)
    assert f.poll() == []
    write(path, "hello\n", "w")
    assert f.poll() == [b"hello"]
    f.close()
