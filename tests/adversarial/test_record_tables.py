"""Hostile input against the records' string tables: unique sources, tags, keys and words
cannot grow a table past its limit, and every entry still reads back equal."""

from __future__ import annotations

from array import array
from contextlib import nullcontext

import pytest
from strategies import fingerprint

from log_analytics_engine import LogEntry
from log_analytics_engine import _native as native
from log_analytics_engine.index.chunks import EntryChunks


@pytest.mark.parametrize("python", [False, True])
def test_unique_strings_never_grow_a_table_past_its_limit(python: bool) -> None:
    entries = [LogEntry(float(i), "INFO", f"w{i} common w{i % 3} {'é' * (i % 5)}",
                        source=f"s{i}", tags=[f"t{i}", "shared"], metadata={f"k{i}": i})
               for i in range(3000)]
    limits = (16, 32, 8)
    ts: array[float] = array("d", [e.ts for e in entries])
    chunks = EntryChunks([0], ts, bits=4, limits=limits)
    with native.use_python() if python else nullcontext():
        for start in range(0, len(entries), 250):
            chunks.extend(entries[start:start + 250])
        got = chunks.take(range(len(entries)))
    assert all(len(items) <= limit for items, limit in zip(chunks.items, limits, strict=True))
    assert "shared" in chunks.items[0]  # a repeated string still gets its code
    assert list(map(fingerprint, got)) == list(map(fingerprint, entries))

