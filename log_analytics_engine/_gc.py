"""Pausing the cyclic garbage collector around bulk ingestion.

Building hundreds of thousands of entries triggers many generation-0 and -1 collections that
scan every new object, and entries never form reference cycles; pausing the collector while a
batch is built roughly halves file ingestion time (BENCHMARKS.md). The pause nests and is
shared by threads: the collector is re-enabled when the last pause ends, and only if it was
enabled when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


class _Pauser:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = False

    @contextmanager
    def paused(self) -> Iterator[None]:
        with self.lock:
            if self.depth == 0:
                self.was_enabled = gc.isenabled()
                gc.disable()
            self.depth += 1
        try:
            yield
        finally:
            with self.lock:
                self.depth -= 1
                if self.depth == 0 and self.was_enabled:
                    gc.enable()


# The collector is process-wide, so is its pause state (the one module-level object).
_PAUSER = _Pauser()
gc_paused = _PAUSER.paused
