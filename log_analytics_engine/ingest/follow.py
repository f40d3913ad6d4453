"""Follow a growing file like ``tail -F``: new complete lines, across rotation and truncation.

A :class:`FileFollower` remembers the open file, its inode and its read position. Each
:meth:`~FileFollower.poll` returns the complete lines written since the last call:

* **rotation** (the path now names another file, e.g. ``app.log`` was renamed to ``app.log.1``
  and a new ``app.log`` created): the rest of the old file is read, then the new file from its
  start;
* **truncation** (the file is shorter than the read position, e.g. ``> app.log``): reading
  restarts at the beginning;
* a missing path (between a rename and the re-creation) is waited for.

A partial last line is kept until its newline arrives. Polling is cheap (one ``stat``).
:meth:`~FileFollower.poll_runs` also gives each line's 1-based number in its file (for
warnings about bad lines); opening at the end counts the lines already there once, O(size).
"""

from __future__ import annotations

import os
from typing import IO

__all__ = ["FileFollower"]


class FileFollower:
    """Complete new lines of ``path`` on every :meth:`poll` (bytes, without the newline)."""

    def __init__(self, path: str | os.PathLike[str], *, from_start: bool = False,
                 read_size: int = -1) -> None:
        self.path = os.fspath(path)
        #: bytes read per poll at most (-1: everything new); a big file then takes several
        #: polls, without holding all of it in memory at once
        self.read_size = read_size
        self._fh: IO[bytes] | None = None
        self._ino: tuple[int, int] | None = None
        self._buf = b""
        self._line = 0  # complete lines of the open file before the next one returned
        self.rotations = 0  #: how many times the path was found to name a new file
        self.truncations = 0  #: how many times the file shrank under the read position
        self._open(at_end=not from_start)

    def _open(self, at_end: bool) -> bool:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open between polls
        except FileNotFoundError:
            return False
        st = os.fstat(fh.fileno())
        self._line = 0
        if at_end:
            while block := fh.read(1 << 20):
                self._line += block.count(b"\n")
        self._fh, self._ino, self._buf = fh, (st.st_dev, st.st_ino), b""
        return True

    def _read(self, size: int | None = None) -> list[tuple[int, list[bytes]]]:
        assert self._fh is not None
        data = self._fh.read(self.read_size if size is None else size)
        if not data:
            return []
        data = self._buf + data
        *lines, self._buf = data.split(b"\n")
        first = self._line + 1
        self._line += len(lines)
        return [(first, [ln.rstrip(b"\r") for ln in lines])] if lines else []

    def poll(self) -> list[bytes]:
        """The complete lines appended since the last poll. O(bytes read)."""
        return [line for _, lines in self.poll_runs() for line in lines]

    def poll_runs(self) -> list[tuple[int, list[bytes]]]:
        """:meth:`poll` as runs of consecutive lines ``(number of the first line, lines)``:
        one run, or two when the file was rotated (the old file's rest, then the new one)."""
        if self._fh is None:
            return self._read() if self._open(at_end=False) else []
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return self._read()  # rotated away, not re-created yet: drain the old file
        if (st.st_dev, st.st_ino) != self._ino:
            out = self._read(-1)  # the rest of the old file, which will not grow any more
            if self._buf:  # the old file will not grow any more
                out.append((self._line + 1, [self._buf]))
            self.close()
            self.rotations += 1
            if self._open(at_end=False):
                out.extend(self._read())
            return out
        if st.st_size < self._fh.tell():
            self.truncations += 1
            self._fh.seek(0)
            self._buf = b""
            self._line = 0
        return self._read()

    def close(self) -> None:
        """Close the open file (a later :meth:`poll` reopens the path)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> FileFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
