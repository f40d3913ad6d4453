"""Helpers of the archive tests (importable from every test module: conftest puts this
folder on ``sys.path``)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from log_analytics_engine import LogEntry
from log_analytics_engine.storage.archive_writer import SegmentWriter


def write_cut(entries: Sequence[LogEntry], cuts: Sequence[int], folder: str) -> None:
    """``entries`` as segments in ``folder``, in writes cut at ``cuts`` (ids = positions),
    so an hour may hold several overlapping segments."""
    writer = SegmentWriter(folder)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(entries)), len(entries)]
    for lo, hi in itertools.pairwise(bounds):
        if lo < hi:
            writer.write(list(entries[lo:hi]), range(lo, hi))
