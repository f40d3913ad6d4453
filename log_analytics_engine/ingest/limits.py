"""Input limits of the readers: line length and decompressed size (``docs/limits.md``).

Memory stays bounded whatever a file holds: files are read in blocks of ``READ_BLOCK`` bytes,
a line longer than ``max_line_bytes`` is rejected with its number while the reader skips to the
next newline without keeping it, and a gzip file stops (with a reject naming the limit) once
its decompressed bytes pass the cap.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_LIMITS",
    "InputLimits",
    "LimitedReader",
    "capped_lines",
    "too_long",
    "too_long_reason",
    "whole_line_blocks",
]

_MiB = 1 << 20
#: What a line longer than the limit is replaced by before parsing (its size follows):
#: not JSON, not a text log line, so every parser rejects it and the reader names the limit.
TOO_LONG = b"\x00line too long\x00"


@dataclass(frozen=True)
class InputLimits:
    """Limits on what one file, stream or line may cost.

    * ``max_line_bytes`` (1 MiB): a longer line is rejected with its line number; the
      reader never holds more than this much of it;
    * ``max_gzip_ratio`` (200): a gzip file stops once its decompressed bytes exceed this
      many times its compressed size (but never before ``gzip_floor_bytes``, 64 MiB),
      rejecting the rest with a reason; ``None`` turns the ratio off;
    * ``max_decompressed_bytes`` (``None``: no absolute cap): the same, as a byte count.
    """

    max_line_bytes: int = _MiB
    max_gzip_ratio: float | None = 200.0
    gzip_floor_bytes: int = 64 * _MiB
    max_decompressed_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be >= 1, got {self.max_line_bytes!r}")
        if self.max_gzip_ratio is not None and self.max_gzip_ratio <= 0:
            raise ValueError(f"max_gzip_ratio must be > 0, got {self.max_gzip_ratio!r}")
        if self.max_decompressed_bytes is not None and self.max_decompressed_bytes < 1:
            raise ValueError("max_decompressed_bytes must be >= 1")

    def gzip_cap(self, compressed: int) -> int | None:
        """The decompressed bytes allowed for a gzip file of ``compressed`` bytes."""
        caps = []
        if self.max_gzip_ratio is not None:
            caps.append(max(self.gzip_floor_bytes, int(self.max_gzip_ratio * compressed)))
        if self.max_decompressed_bytes is not None:
            caps.append(self.max_decompressed_bytes)
        return min(caps) if caps else None


DEFAULT_LIMITS = InputLimits()


def too_long(size: int, limit: int) -> bytes:
    """The stand-in line of a line of ``size`` bytes over ``limit``."""
    return TOO_LONG + b"%d %d" % (size, limit)


def too_long_reason(raw: bytes) -> str | None:
    """The reject reason when ``raw`` is the stand-in of a too-long line, else ``None``."""
    if not raw.startswith(TOO_LONG):
        return None
    size, limit = raw[len(TOO_LONG):].split()
    return (f"line of {int(size)} bytes or more is longer than max_line_bytes ({int(limit)}); "
            "skipped")


class LimitedReader(io.RawIOBase):
    """A raw reader that reads ``inner`` until ``cap`` bytes, then reports end of file and
    sets :attr:`over_limit` to the reason (when ``inner`` had more)."""

    def __init__(self, inner: Any, cap: int, what: str) -> None:
        super().__init__()
        self._inner = inner
        self._left = cap
        self._cap = cap
        self._what = what
        self.over_limit: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self._left <= 0:
            if self.over_limit is None and self._inner.read(1):
                self.over_limit = (f"{self._what} passed {self._cap} decompressed bytes "
                                   "(InputLimits); the rest of the file was not read")
            return 0
        view = memoryview(buf)[: min(len(buf), self._left)]
        data = self._inner.read(len(view))
        n = len(data)
        view[:n] = data
        self._left -= n
        return n

    def close(self) -> None:
        self._inner.close()
        super().close()


def whole_line_blocks(read: Any, max_line: int, size: int) -> Iterator[tuple[bytes, int]]:
    """``(block, bytes read)``: blocks of ``size`` bytes cut after their last newline
    (the rest starts the next block), so each holds whole lines (the last one of a file may end
    without a newline). A line longer than ``max_line`` bytes is replaced by its stand-in line
    (:func:`too_long`), and while it is being skipped at most one block is held.

    O(size); lines inside a block are checked one by one only when ``max_line`` is smaller
    than a block (it never is by default)."""
    rest: list[bytes] = []  # the start of a line that continues in the next block
    held = 0  # bytes in rest
    skipping = 0  # bytes of an over-long line skipped so far (0: not skipping)
    pending = 0
    small = max_line < size
    while block := read(size):
        pending += len(block)
        cut = block.rfind(b"\n") + 1
        if skipping:
            first = block.find(b"\n")
            if first < 0:
                skipping += len(block)
                continue
            head = too_long(skipping + first, max_line) + b"\n"
            skipping = 0
            block = block[first + 1:]
            cut = block.rfind(b"\n") + 1
            if not cut:
                if block:
                    rest, held = [block], len(block)
                yield head, pending
                pending = 0
                continue
            yield head, 0
        if not cut:  # inside a line longer than a block
            held += len(block)
            if held > max_line:
                skipping, rest, held = held, [], 0
            else:
                rest.append(block)
            continue
        first = block.find(b"\n")
        if held + first > max_line:  # the held line ends here, over the limit
            block = too_long(held + first, max_line) + block[first:]
            cut = block.rfind(b"\n") + 1
            rest, held = [], 0
        head = block if cut == len(block) else block[:cut]
        if rest:
            head = b"".join((*rest, head))
        tail = block[cut:]
        rest, held = ([tail], len(tail)) if tail else ([], 0)
        if small:
            head = _cap_lines(head, max_line)
        yield head, pending
        pending = 0
    if skipping:
        yield too_long(skipping, max_line), pending
    elif rest:
        last = b"".join(rest)
        yield (_cap_lines(last, max_line) if small else last), pending
    elif pending:
        yield b"", pending


def _cap_lines(block: bytes, max_line: int) -> bytes:
    lines = block.split(b"\n")
    if all(len(x) <= max_line for x in lines):
        return block
    return b"\n".join(x if len(x) <= max_line else too_long(len(x), max_line) for x in lines)


def capped_lines(lines: Iterable[bytes], max_line: int) -> Iterator[bytes]:
    """The lines of an iterable (already in memory), each too-long one replaced by its
    stand-in."""
    for raw in lines:
        yield raw if len(raw) <= max_line + 1 or len(raw.rstrip(b"\r\n")) <= max_line else (
            too_long(len(raw), max_line))


def compressed_size(path: str | os.PathLike[str]) -> int:
    """The size of a file on disk (0 when unknown)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
