"""Why posting lists are Roaring bitmaps: the same intersections and counts with Python sets.

Run: ``python -m pytest benchmarks/bench_postings.py --benchmark-only``.
"""

from __future__ import annotations

import sys

import pytest

from log_analytics_engine import LogAnalyticsEngine


@pytest.fixture(scope="module")
def postings(loaded_engine: LogAnalyticsEngine):
    idx = loaded_engine._indexes
    bitmaps = [idx.level.get("INFO"), idx.token.get("request"), idx.token.get("user")]
    sets = [set(b) for b in bitmaps]
    return bitmaps, sets


def test_intersect_bitmaps(benchmark, postings) -> None:
    bitmaps, sets = postings
    result = benchmark(lambda: bitmaps[0] & bitmaps[1] & bitmaps[2])
    assert len(result) == len(sets[0] & sets[1] & sets[2])


def test_intersect_sets(benchmark, postings) -> None:
    _, sets = postings
    assert benchmark(lambda: sets[0] & sets[1] & sets[2])


def test_count_bitmaps(benchmark, postings) -> None:
    bitmaps, _ = postings
    assert benchmark(bitmaps[0].intersection_cardinality, bitmaps[1]) > 0


def test_count_sets(benchmark, postings) -> None:
    _, sets = postings
    assert benchmark(lambda: len(sets[0] & sets[1])) > 0


def test_posting_memory(postings) -> None:
    """Not timed: bytes per posting, printed for BENCHMARKS.md (run with -s)."""
    bitmaps, sets = postings
    ids = sum(len(b) for b in bitmaps)
    bitmap_bytes = sum(len(b.serialize()) for b in bitmaps)
    set_bytes = sum(sys.getsizeof(s) + 32 * len(s) for s in sets)  # table + int objects
    print(f"\nbitmap bytes/id {bitmap_bytes / ids:.2f}  set bytes/id {set_bytes / ids:.1f}")
    assert bitmap_bytes < set_bytes
