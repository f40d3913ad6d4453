"""The numbers of archive aggregations: exact values and order statistics, as the engine
computes them.

DuckDB hands over each group's values (doubles, or JSON text for integers); these helpers
turn them into what :func:`~log_analytics_engine.query.aggregate.numeric_metric` reads:
sorted lists (:func:`values`), or, for min, max and percentiles of a typed float field, only
the order statistics those read (:func:`picked`, ``numpy.partition``, no sort).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson

from ..query.aggregate import metric_name, numeric_metric

__all__ = ["Picked", "arrays", "finish", "picked", "positions", "select", "values"]


def positions(n: int, quantiles: list[float]) -> list[int]:
    """The positions of the sorted values of a group of ``n`` (> 0) that min, max and the
    percentiles ``quantiles`` read, computed as the engine's
    :func:`~log_analytics_engine.query.aggregate.percentile` computes them (same float
    arithmetic: ``floor((n - 1) * q / 100.0)`` and the next one)."""
    at = {0, n - 1}
    for q in quantiles:
        lo = math.floor((n - 1) * q / 100.0)
        at.update((lo, min(lo + 1, n - 1)))
    return sorted(at)


def picked(column: Any, quantiles: list[float]) -> list[Picked]:
    """For each row's unsorted list of doubles in the Arrow ``column``: its length and the
    elements at :func:`positions` of its sorted order, selected with ``numpy.partition``
    (O(k) expected per group of k values, no sort). Equal doubles are the same value (a
    -0.0, the one exception, sends the query to the exact path), so these are exactly the
    elements a stable sort puts there."""
    import numpy as np

    out: list[Picked] = []
    for part in arrays(column):
        n = len(part)
        if not n:
            out.append(Picked(0, {}))
            continue
        picked = Picked(n, select(part, positions(n, quantiles)))
        zeros = part == 0
        if zeros.any():
            picked.negative_zeros = int(np.count_nonzero(np.signbit(part[zeros])))
        out.append(picked)
    return out


def select(part: Any, positions: list[int]) -> dict[int, float]:
    """The elements at ``positions`` (sorted, first and last included) of the sorted order
    of the non-empty numpy array ``part``. Min and max come from a scan; the other positions
    from one ``numpy.partition`` at each position whose predecessor is not itself a partition
    point, and each remaining position ``p`` (a percentile's ``lo + 1``, ``p - 1`` a
    partition point) is the least element from ``p`` to the next partition point.
    O(k) expected for k values."""
    import numpy as np

    n = len(part)
    at = {0: float(part.min()), n - 1: float(part.max())}
    kth: list[int] = []
    follow: list[int] = []
    for p in positions:
        if 0 < p < n - 1:
            (follow if kth and kth[-1] == p - 1 else kth).append(p)
    if not kth:
        return at
    ordered = np.partition(part, kth)
    for p in kth:
        at[p] = float(ordered[p])
    for p in follow:
        stop = next((q for q in kth if q > p), n)
        at[p] = float(ordered[p:stop].min())
    return at


class Picked(Sequence[float]):
    """The sorted values of a group as far as min, max and percentiles read them: its
    length and the elements at the positions :func:`positions` names (and how many of
    its values are -0.0)."""

    def __init__(self, n: int, at: dict[int, float]) -> None:
        self.n = n
        self.at = at
        self.negative_zeros = 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            raise TypeError("only single positions are picked")
        return self.at[index + self.n if index < 0 else index]


def values(column: Any, exact_text: bool) -> list[list[Any]]:
    """Each row's numeric values, sorted as the engine sorts them (stable, from id order)."""
    import numpy as np

    if exact_text:
        return [_numbers(cell) for cell in column.to_pylist()]
    out: list[list[Any]] = []
    for chunk in column.chunks:
        for cell in chunk:
            if not cell.is_valid:
                out.append([])
            else:
                values = cell.values.to_numpy(zero_copy_only=False)
                out.append(np.sort(values, kind="stable").tolist())
    return out


def arrays(column: Any) -> list[Any]:
    """Each row's list of doubles in the Arrow ``column`` as a numpy array (empty for a
    NULL list), unsorted. O(values)."""
    import numpy as np

    out: list[Any] = []
    for chunk in column.chunks:
        flat = chunk.values.to_numpy(zero_copy_only=False)
        offsets = chunk.offsets.to_numpy()
        missing = chunk.is_null().to_numpy(zero_copy_only=False)
        for row in range(len(chunk)):
            out.append(np.empty(0) if missing[row] else flat[offsets[row]:offsets[row + 1]])
    return out


def _numbers(texts: list[str] | None) -> list[float]:
    values = [orjson.loads(t) for t in texts or ()]
    values.sort()
    return values


def finish(parsed: list[tuple[str, str | None]], count: int,
            values: list[float]) -> dict[str, Any]:
    return {metric_name(m): count if m[0] == "count" else numeric_metric(m[0], values)
            for m in parsed}
