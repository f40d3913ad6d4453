"""Grouped metrics over a set of entry ids.

``aggregate`` answers "count / sum / avg / min / max / p50 / p95 / p99 / distinct, grouped by
fields and time buckets" for the ids a filter selects. Counting grouped by indexed fields
(level, source, tags, ``index_fields``) intersects posting lists and never touches entries.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from pyroaring import BitMap, FrozenBitMap

from .. import _native as native
from ..errors import InvalidFilterError
from ..model.entry import ATTRIBUTES
from ..model.timeparse import format_instant
from .numbers import (
    NUMERIC,
    Metric,
    Taken,
    columns_for,
    compute,
    metric_name,
    numeric_metric,
    numeric_values,
    percentile,
    take,
)

if TYPE_CHECKING:

    from ..index.store import Store
    from ..model.entry import LogEntry
    from .nodes import QueryContext

__all__ = ["aggregate_entries", "aggregate_ids", "field_counts", "key_order", "metric_name",
           "numeric_metric", "numeric_values", "parse_interval", "parse_metrics", "percentile",
           "prepare_aggregate"]

_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
METRIC_KINDS = frozenset((*NUMERIC, "count", "distinct"))


def parse_interval(interval: str | float | int) -> float:
    """Seconds in an interval such as ``"30s"``, ``"1m"``, ``"1h"``, ``"1d"`` or a number.

    >>> parse_interval("5m"), parse_interval(90)
    (300.0, 90.0)
    """
    if isinstance(interval, (int, float)) and not isinstance(interval, bool):
        seconds = float(interval)
    elif isinstance(interval, str) and (m := _INTERVAL_RE.match(interval)):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise InvalidFilterError("interval", interval, "expected e.g. '30s', '1m', '1h', '1d'")
    if not (seconds > 0 and math.isfinite(seconds)):
        raise InvalidFilterError("interval", interval, "must be positive")
    return seconds


def bucket_start(instant: float, seconds: float) -> float:
    """The start of the bucket of width ``seconds`` (aligned to the epoch) holding ``instant``."""
    return math.floor(instant / seconds) * seconds


def parse_metrics(metrics: Iterable[Any] | None) -> list[Metric]:
    """Normalise metric specs: ``"count"``, ``"avg:latency_ms"``, ``("p95", "latency_ms")``.

    >>> parse_metrics(["count", "p95:latency_ms"])
    [('count', None), ('p95', 'latency_ms')]
    """
    if metrics is None:
        return [("count", None)]
    if isinstance(metrics, str):
        metrics = [metrics]
    out: list[Metric] = []
    for spec in metrics:
        if isinstance(spec, str):
            kind, _, field = spec.partition(":")
        elif isinstance(spec, (tuple, list)) and len(spec) == 2:
            kind, field = spec
        else:
            raise InvalidFilterError("metrics", spec, "expected 'count' or 'kind:field'")
        kind = kind.strip().lower()
        if kind not in METRIC_KINDS:
            raise InvalidFilterError("metrics", spec, f"unknown metric {kind!r}")
        if kind == "count":
            out.append(("count", None))
        elif not field:
            raise InvalidFilterError("metrics", spec, f"{kind} needs a field, e.g. '{kind}:x'")
        else:
            out.append((kind, field))
    return out


def _getter(field: str) -> Callable[[LogEntry], Any]:
    """The fastest way to read ``field`` from entries with ``LogEntry.get`` semantics
    (``source`` and ``tags`` as their indexes see them: the attribute; each distinct tag)."""
    if field in ("tags", "tag"):
        return lambda e: _TagSet(dict.fromkeys(e.tags))
    if field == "source":
        return lambda e: e.source
    if field in ATTRIBUTES:
        return lambda e: e.get(field)
    return lambda e: e.metadata.get(field)


def _group_values(entry: LogEntry, field: str) -> list[Any]:
    if field in ("tags", "tag"):  # each distinct tag, as the tag index counts them
        return list(dict.fromkeys(entry.tags))
    return _normalise_group(entry.source if field == "source" else entry.get(field))


def _indexed(ctx: QueryContext, field: str) -> Any:
    indexes = ctx.indexes
    if field == "level":
        return indexes.level
    if field == "source":
        return indexes.source
    if field in ("tags", "tag"):
        return indexes.tag
    if field in indexes.fields and not indexes.unindexed[field]:
        return indexes.fields[field]
    return None


def aggregate_ids(
    ctx: QueryContext,
    ids: BitMap | FrozenBitMap,
    group_by: str | Sequence[str] | None = None,
    interval: str | float | None = None,
    metrics: Iterable[Any] | None = None,
) -> dict[Any, Any]:
    """Grouped metrics of ``ids``; see :meth:`LogAnalyticsEngine.aggregate` for the shape.

    ``prepare_aggregate(...)()`` in one go (for callers without a lock to release between).
    """
    return prepare_aggregate(ctx, ids, group_by, interval, metrics)()


def prepare_aggregate(
    ctx: QueryContext,
    ids: BitMap | FrozenBitMap,
    group_by: str | Sequence[str] | None = None,
    interval: str | float | None = None,
    metrics: Iterable[Any] | None = None,
) -> Callable[[], dict[Any, Any]]:
    """Group ``ids`` and take what their metrics need (under the lock); return the function
    that computes the result from that (call it after releasing the lock).

    Counting by one indexed field: O(g) posting-list intersections for g groups.
    Otherwise O(k) over the k selected ids: groups by an indexed field or time bucket read
    no entry, numeric metrics of a metadata field read its column (O(k) expected for
    percentiles, by selection), other groupings and ``distinct`` read the entries.
    """
    fields: list[str] = [] if group_by is None else (
        [group_by] if isinstance(group_by, str) else list(group_by)
    )
    for f in fields:
        if not isinstance(f, str) or not f:
            raise InvalidFilterError("group_by", group_by, "expected field names")
    parsed = parse_metrics(metrics)
    seconds = None if interval is None else parse_interval(interval)
    count_only = all(kind == "count" for kind, _ in parsed)
    if count_only and seconds is None and len(fields) == 1:
        index = _indexed(ctx, fields[0])
        if index is not None:
            everything = len(ids) == len(ctx.store)
            out: dict[Any, Any] = {}
            for term, posting in sorted(index.items(), key=lambda tp: key_order((tp[0],))):
                n = len(posting) if everything else ids.intersection_cardinality(posting)
                if n:
                    out[term] = {metric_name(m): n for m in parsed}
            return lambda: out
    if count_only and seconds is not None and len(fields) <= 1 and (
        not fields or _indexed(ctx, fields[0]) is not None
    ):
        counted = _bucket_counts(ctx, ids, fields[0] if fields else None, seconds, parsed)
        return lambda: counted
    columns = columns_for(ctx, parsed, len(ids))
    if not fields and seconds is None:
        whole = take(ctx, ids, parsed, columns)
        return lambda: compute(whole, parsed)
    groups = _group_ids(ctx, ids, fields, seconds)
    taken: list[tuple[Any, Taken]] = []
    for key in sorted(groups, key=key_order):
        shown = key if seconds is None else (format_instant(key[0]), *key[1:])
        taken.append((shown[0] if len(shown) == 1 else shown,
                      take(ctx, groups[key], parsed, columns)))
    return lambda: {key: compute(group, parsed) for key, group in taken}


def _group_ids(
    ctx: QueryContext, ids: BitMap | FrozenBitMap, fields: list[str], seconds: float | None
) -> dict[tuple[Any, ...], Any]:
    """The ids of each group key, in id order (an id once per key it yields: an entry whose
    list value repeats an element is counted once per repeat). Runtime complexity: O(g)
    intersections for one indexed field, else O(k) entry reads."""
    store = ctx.store
    if len(fields) == 1 and seconds is None and _indexed(ctx, fields[0]) is not None:
        # one indexed field: intersect posting lists instead of reading every entry
        hit_groups: dict[tuple[Any, ...], Any] = {}
        for term, posting in _indexed(ctx, fields[0]).items():
            hits = ids & posting
            if hits:
                hit_groups[(term,)] = hits
        return hit_groups
    base, ts = store.base, store.ts
    groups: dict[tuple[Any, ...], list[int]] = {}
    getters = [_getter(f) for f in fields]
    simple = seconds is None and len(fields) == 1
    floor = math.floor
    for i, entry in _entries_of(store, ids):
        if simple:
            value = getters[0](entry)
            if not isinstance(value, (list, dict)):
                key: tuple[Any, ...] = (value,)
                bucket = groups.get(key)
                if bucket is None:
                    groups[key] = [i]
                else:
                    bucket.append(i)
                continue
        keys: list[tuple[Any, ...]] = [()]
        if seconds is not None:
            keys = [(floor(ts[i - base] / seconds) * seconds,)]
        for get in getters:
            keys = [(*k, v) for k in keys for v in _normalise_group(get(entry))]
        for k in keys:
            bucket = groups.get(k)
            if bucket is None:
                groups[k] = [i]
            else:
                bucket.append(i)
    return {k: array("I", v) for k, v in groups.items()}


def _entries_of(store: Store, ids: Iterable[int]) -> Iterator[tuple[int, LogEntry]]:
    """``(id, entry)`` for each of ``ids``, entries built a batch at a time. O(k)."""
    for part, entries in store.scan(ids):
        yield from zip(part, entries, strict=True)


def _bucket_counts(
    ctx: QueryContext,
    ids: BitMap | FrozenBitMap,
    field: str | None,
    seconds: float,
    parsed: list[Metric],
) -> dict[Any, Any]:
    """Counts per time bucket (and per term of one indexed field) straight from the instants.

    Runtime complexity: O(k) over the k ids, with no entry read.
    """
    store = ctx.store
    ts, base = store.ts, store.base
    floor = math.floor
    parts: list[tuple[Any, BitMap | FrozenBitMap]] = [(None, ids)]
    if field is not None:
        index = _indexed(ctx, field)
        parts = [(term, ids & posting) for term, posting in index.items()]
    counts: Counter[tuple[Any, ...]] = Counter()
    names = [metric_name(m) for m in parsed]
    for term, part in parts:
        if not part:
            continue
        per_bucket = Counter([floor(ts[i - base] / seconds) for i in part])
        for bucket, n in per_bucket.items():
            counts[(bucket * seconds,) if field is None else (bucket * seconds, term)] = n
    result: dict[Any, Any] = {}
    for key in sorted(counts, key=key_order):
        shown = (format_instant(key[0]), *key[1:])
        result[shown[0] if len(shown) == 1 else shown] = dict.fromkeys(names, counts[key])
    return result


class _TagSet(list[str]):
    """An entry's distinct tags: each is a group; an untagged entry is in no group."""


def _normalise_group(value: Any) -> list[Any]:
    """The group keys of one value: each element of a list (``None`` for an empty one), a
    dict or any other unhashable value (a list inside a list) as its ``repr``."""
    if isinstance(value, _TagSet):
        return value
    if isinstance(value, list):
        return [_hashable(v) for v in value] if value else [None]
    return [_hashable(value)]


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return repr(value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


_PLAIN_STR_FIELDS = frozenset(("source", "level", "message"))  # always a str, never metadata
_tags_of = attrgetter("tags")


def _distinct(tags: list[str]) -> Iterable[str]:
    return tags if len(tags) < 2 else dict.fromkeys(tags)


def field_counts(logs: Iterable[LogEntry], field: str) -> Counter[Any]:
    """How many of ``logs`` have each value of ``field`` (each distinct tag for ``tags``).

    ``source``, ``level`` and ``message`` are always strings on the entry. The C accelerator
    counts the few distinct values of ``source`` or ``level`` in a list in a small table
    (``count_values``: about 2-3x faster than ``Counter(e.source for e in logs)``,
    BENCHMARKS.md); otherwise ``Counter(map(attrgetter(field), logs))``, as fast as that
    Counter. Other fields resolve
    through :meth:`LogEntry.get` per entry. Runtime complexity: O(n) for n entries.

    >>> from log_analytics_engine import LogEntry
    >>> field_counts([LogEntry(0, source="db"), LogEntry(1, source="db")], "source")
    Counter({'db': 2})
    """
    if field in _PLAIN_STR_FIELDS:
        if field != "message" and isinstance(logs, (list, tuple)):
            counted = native.count_values(logs, field)
            if counted is not None:  # None: not only exact LogEntry objects
                return Counter(counted)
        return Counter(map(attrgetter(field), logs))
    if field in ("tags", "tag"):
        return Counter(chain.from_iterable(map(_distinct, map(_tags_of, logs))))
    c: Counter[Any] = Counter()
    for e in logs:
        for v in _group_values(e, field):
            c[v] += 1
    return c


def key_order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """The sort key of a group key: numbers first (by value), then text, ``None`` last."""
    return tuple((v is None, not isinstance(v, (int, float)), v if isinstance(v, (int, float))
                  else 0, str(v)) for v in key)


def aggregate_entries(
    logs: Iterable[LogEntry],
    group_by: str | None = None,
    histogram: str | None = None,
    top_n: int | tuple[str, int] | Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Counts over a list of entries (the original ``aggregate_logs`` API).

    ``group_by`` and ``histogram`` name fields (``histogram`` may also be an interval such as
    ``"1h"`` for counts per time bucket); ``top_n`` is a count (of the ``group_by`` field, or
    ``source``), a ``(field, n)`` pair or ``{field: n}``. List fields such as tags count each
    element. Runtime complexity: O(n) per counted field for n entries (plus O(n log n) for
    a time histogram); ``source``, ``level`` and ``message`` count at C speed
    (:func:`field_counts`).
    """
    if not isinstance(logs, (list, tuple)):
        logs = list(logs)  # read once per counted field: a list is used as it is, not copied
    result: dict[str, Any] = {}

    def counts(field: str) -> Counter[Any]:
        return field_counts(logs, field)

    if group_by is not None:
        result["group_by"] = dict(counts(group_by).most_common())
    if histogram is not None:
        try:
            seconds = parse_interval(histogram)
        except InvalidFilterError:
            result["histogram"] = dict(counts(histogram).most_common())
        else:
            buckets: Counter[str] = Counter()
            for e in sorted(logs, key=lambda e: e.ts):
                buckets[format_instant(bucket_start(e.ts, seconds))] += 1
            result["histogram"] = dict(buckets)
    if top_n is not None:
        pairs: list[tuple[str, int]]
        if isinstance(top_n, Mapping):
            pairs = list(top_n.items())
        elif isinstance(top_n, tuple):
            pairs = [top_n]
        elif isinstance(top_n, int) and not isinstance(top_n, bool):
            pairs = [(group_by or "source", top_n)]
        else:
            raise InvalidFilterError("top_n", top_n, "expected n, (field, n) or {field: n}")
        for field, n in pairs:
            result[f"top_{n}_{field}"] = counts(field).most_common(n)
    return result
