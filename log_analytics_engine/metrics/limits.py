"""Bounds on the size of the exposition: log content must not choose how many series exist.

Per-source and per-tag series are capped: the ``k`` largest (by count, ties by name) keep
their own series and the rest add up in one series labelled :data:`OTHER`.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

__all__ = ["DEFAULT_TOP_K", "OTHER", "top_k_with_other"]

#: Series kept per label (source, tag) by default.
DEFAULT_TOP_K = 100
#: The label value of the series that adds up everything beyond the top ``k``.
OTHER = "__other__"


def top_k_with_other(counts: Mapping[str, int], k: int = DEFAULT_TOP_K,
                     other: str = OTHER) -> list[tuple[str, int]]:
    """The ``k`` largest ``(name, count)`` pairs in name order, then ``(other, rest)`` when
    anything was left out. Runtime complexity: O(n log k) for n names.

    >>> top_k_with_other({"a": 5, "b": 1, "c": 3, "d": 1}, 2)
    [('a', 5), ('c', 3), ('__other__', 2)]
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k!r}")
    if len(counts) <= k:
        return sorted(counts.items())
    top = heapq.nsmallest(k, counts.items(), key=lambda kv: (-kv[1], kv[0]))
    rest = sum(counts.values()) - sum(n for _, n in top)
    return [*sorted(top), (other, rest)]
