"""The metrics of each group of an aggregation: taken under the lock, computed after it.

A group is a list of ids. :func:`take` runs under the engine lock: it keeps the group's ids,
a slice of the column of each metadata field of a numeric metric
(:class:`~..index.columns.ColumnCache`: the arrays as they are, which eviction replaces
rather than cuts), and the group's entries only where a metric needs them (``distinct``, an
entry attribute, or a value a float64 column cannot stand for). :func:`compute` runs after
the lock is released, on what was taken: it gathers the group's numbers from the slices (in
C with the accelerator: no entry is read), and computes exact sums (``math.fsum``) and
percentiles (linear interpolation, as numpy's default) by selection in C. Both paths give
what the entries' path (:func:`entry_metrics`, the specification) gives: the same numbers,
the same types.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap, FrozenBitMap

from .. import _native as native
from ..model.entry import ATTRIBUTES

if TYPE_CHECKING:

    from ..index.columns import NumericColumn, ScratchPool
    from ..model.entry import LogEntry
    from .nodes import QueryContext

__all__ = ["ColumnSlice", "FieldNumbers", "Metric", "Taken", "columns_for", "compute",
           "entry_metrics", "field_numbers", "metric_name", "numeric_metric", "take"]

Metric = tuple[str, str | None]  # (kind, field)
NUMERIC = ("sum", "avg", "min", "max", "p50", "p90", "p95", "p99")


def metric_name(metric: Metric) -> str:
    """The key of a metric in a result: ``count``, ``p95_latency_ms``."""
    kind, field = metric
    return kind if field is None else f"{kind}_{field}"


def column_fields(metrics: Sequence[Metric]) -> list[str]:
    """The fields whose numeric metrics read a column: metadata fields, not attributes."""
    return list(dict.fromkeys(
        f for kind, f in metrics if kind in NUMERIC and f is not None and f not in ATTRIBUTES))


class ColumnSlice:
    """What a query keeps of a column after the lock is released: the arrays it read
    (never cut in place: eviction replaces them) and the ids it may read from them."""

    __slots__ = ("first", "ints", "values")

    def __init__(self, col: NumericColumn) -> None:
        self.values = col.values
        self.first = col.first
        self.ints = col.ints

    def value(self, entry_id: int) -> float | int:
        """The number of ``entry_id`` as the entry holds it (an int stays an int)."""
        v = self.values[entry_id - self.first]
        return int(v) if entry_id in self.ints else v


class Taken:
    """What :func:`take` copied for one group under the lock: its size, its ids, the
    columns its numbers are read from, the buffers to gather them into, and its entries
    when a metric needs them."""

    __slots__ = ("columns", "count", "entries", "ids", "scratch")

    def __init__(self, count: int, ids: Any, columns: dict[str, ColumnSlice],
                 entries: list[LogEntry] | None, scratch: ScratchPool | None) -> None:
        self.count = count
        self.ids = ids
        self.columns = columns
        self.entries = entries
        self.scratch = scratch


def _needs_entries(metrics: Sequence[Metric], columns: dict[str, Any]) -> bool:
    """Whether a metric reads entries: ``distinct``, or a numeric one without a column."""
    return any(kind != "count" and (kind not in NUMERIC or f not in columns)
               for kind, f in metrics)


def take(ctx: QueryContext, ids: Any, metrics: Sequence[Metric],
         columns: dict[str, NumericColumn] | None = None) -> Taken:
    """Take what the metrics of the group ``ids`` (a bitmap or an ``array('I')``, in group
    order) need: the ids as an ``array('I')``, the slices of the ``columns`` of
    :func:`columns_for` and, where a metric needs them, the entries. Call under the lock.
    Runtime complexity: O(k) for k ids (no entry is read unless needed)."""
    arr = ids.to_array() if isinstance(ids, (BitMap, FrozenBitMap)) else ids
    slices: dict[str, ColumnSlice] = {}
    columns = columns or {}
    for field, col in columns.items():
        if col.odd and not col.odd.isdisjoint(BitMap(arr)):
            continue  # the entries' path computes this field for this group
        slices[field] = ColumnSlice(col)
    entries = None
    if _needs_entries(metrics, slices):
        entries = ctx.store.materialize(ids if isinstance(ids, (BitMap, FrozenBitMap))
                                        else list(ids))
    return Taken(len(arr), arr, slices, entries, ctx.columns.scratch if slices else None)


#: A field's column is built by a query that selects at least 1/BUILD_SHARE of the live
#: entries (a few selected entries read faster from the entries than a column of all of them
#: is built); once built, every query of the field uses it.
BUILD_SHARE = 16


def columns_for(ctx: QueryContext, metrics: Sequence[Metric],
                selected: int) -> dict[str, NumericColumn]:
    """The up-to-date columns of the metadata fields of numeric ``metrics``, for a query
    that selected ``selected`` ids (under the lock). A field without a column gets one only
    when the query selects at least 1/:data:`BUILD_SHARE` of the live entries; else its
    metrics read the entries. Runtime complexity: O(n) when a column is built, then O(m)
    for m entries appended since its last use."""
    cache = ctx.columns
    build = selected * BUILD_SHARE >= len(ctx.store)
    return {f: cache.column(f) for f in column_fields(metrics) if build or f in cache}


class FieldNumbers:
    """A group's numbers of one field: how many, the min and max as the entries hold them,
    the exact sum (when asked) and the percentiles asked, by ``q``."""

    __slots__ = ("count", "high", "low", "quantiles", "total")

    def __init__(self, count: int, low: float | int, high: float | int, total: float | None,
                 quantiles: dict[float, float]) -> None:
        self.count = count
        self.low = low
        self.high = high
        self.total = total
        self.quantiles = quantiles


def field_numbers(taken: Taken, field: str, column: ColumnSlice,
                  metrics: Sequence[Metric]) -> FieldNumbers:
    """Gather the group's numbers of ``field`` into a scratch buffer
    (``gather_numbers``) and summarize them (``summarize_numbers``): what every metric of
    the field needs. Runtime complexity: O(k) expected for k ids."""
    kinds = {kind for kind, f in metrics if f == field}
    qs = sorted({float(kind[1:]) for kind in kinds if kind[0] == "p"})
    wants_total = bool(kinds & {"sum", "avg"})
    assert taken.scratch is not None
    buf = taken.scratch.take(len(taken.ids))
    try:
        k, lo, hi = native.gather_numbers(taken.ids, column.values, column.first, buf)
        total: float | None = None
        found: list[float] = []
        if k and (qs or wants_total):
            with memoryview(buf) as whole, whole[:k] as values:
                total, found = native.summarize_numbers(values, qs, wants_total)
    finally:
        taken.scratch.give(buf)
    return FieldNumbers(k, column.value(lo) if lo >= 0 else 0.0,
                        column.value(hi) if hi >= 0 else 0.0, total,
                        dict(zip(qs, found, strict=True)) if k else {})


def compute(taken: Taken, metrics: Sequence[Metric]) -> dict[str, Any]:
    """The metrics of one group from what :func:`take` took (outside the lock): its numbers
    of each column field (:func:`field_numbers`), the rest from its entries.
    Runtime complexity: O(k) expected per field for k ids."""
    result: dict[str, Any] = {}
    fields: dict[str, FieldNumbers] = {}
    from_entries: list[Metric] = []
    for metric in metrics:
        kind, field = metric
        name = metric_name(metric)
        if kind == "count":
            result[name] = taken.count
            continue
        column = taken.columns.get(field) if kind in NUMERIC and field is not None else None
        if column is None:
            from_entries.append(metric)
            result[name] = None  # a placeholder keeps the metrics' order
            continue
        assert field is not None
        nums = fields.get(field)
        if nums is None:
            nums = fields[field] = field_numbers(taken, field, column, metrics)
        if not nums.count:
            result[name] = 0 if kind == "sum" else None
        elif kind == "min":
            result[name] = nums.low
        elif kind == "max":
            result[name] = nums.high
        elif kind == "sum":
            result[name] = nums.total
        elif kind == "avg":
            assert nums.total is not None
            result[name] = nums.total / nums.count
        else:
            result[name] = nums.quantiles[float(kind[1:])]
    if from_entries:
        assert taken.entries is not None
        result.update(entry_metrics(taken.entries, from_entries))
    return result


# -- the entries' path: the specification ----------------------------------------------------
def field_values(entries: Sequence[LogEntry], field: str) -> list[Any]:
    """``[e.get(field) for e in entries]``, without a Python call per entry for metadata."""
    if field in ATTRIBUTES:
        return [e.get(field) for e in entries]
    return [e.metadata.get(field) for e in entries]


def numeric_values(entries: Sequence[LogEntry], field: str) -> Sequence[float]:
    """The sorted int/float values of ``field`` (bools, NaN, missing and text left out).

    Runtime complexity: O(k log k); in C with the accelerator when the values of a metadata
    field are floats (``array('d')``, no Python float per value until one is read)."""
    if field not in ATTRIBUTES and type(entries) is list:
        fast: Sequence[float] | None = native.sorted_numbers(entries, field)
        if fast is not None:
            return fast
    raw = field_values(entries, field)
    values = [v for v in raw if (type(v) is float or type(v) is int) and v == v]
    if len(values) < len(raw):
        # numeric subclasses (but not bool) count too
        values += [v for v in raw if type(v) is not float and type(v) is not int
                   and isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
    values.sort()
    return values


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation, as numpy's default.

    >>> percentile([1, 2, 3, 4], 50)
    2.5
    """
    n = len(sorted_values)
    if n == 1:
        return float(sorted_values[0])
    pos = (n - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo))


def entry_metrics(entries: Sequence[LogEntry], metrics: Sequence[Metric]) -> dict[str, Any]:
    """The metrics of a group from its entries (the specification of the column path).
    Runtime complexity: O(k) per metric, O(k log k) per field of numeric metrics."""
    result: dict[str, Any] = {}
    cache: dict[str, Sequence[float]] = {}
    for metric in metrics:
        kind, field = metric
        name = metric_name(metric)
        if kind == "count":
            result[name] = len(entries)
            continue
        assert field is not None
        if kind == "distinct":
            seen = set()
            for v in field_values(entries, field):
                if v is not None:
                    seen.add(v if not isinstance(v, (list, dict)) else repr(v))
            result[name] = len(seen)
            continue
        values = cache.get(field)
        if values is None:
            values = cache[field] = numeric_values(entries, field)
        result[name] = numeric_metric(kind, values)
    return result


def numeric_metric(kind: str, values: Sequence[float]) -> Any:
    """One numeric metric (``sum``, ``avg``, ``min``, ``max``, ``pNN``) of sorted ``values``
    (what every executor uses, so percentiles and sums agree to the last bit).

    >>> numeric_metric("p50", [1, 2, 3, 4]), numeric_metric("sum", [])
    (2.5, 0)
    """
    if not values:
        return 0 if kind == "sum" else None
    if kind == "sum":
        return math.fsum(values)
    if kind == "avg":
        return math.fsum(values) / len(values)
    if kind == "min":
        return values[0]
    if kind == "max":
        return values[-1]
    return percentile(values, float(kind[1:]))
