"""The central property: every indexed query returns exactly what a naive scan returns.

Two references are used: a scan with the compiled tree's own ``Node.match`` (so the planner,
posting lists, zone maps and residual checks agree with the per-entry meaning) and an
independent implementation of the filter semantics written here from the documented rules
(:func:`naive_match`), which knows each entry's instant and canonical level from the strategy
rather than from the library.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import (
    INDEX_FIELDS,
    SEVERITY,
    EntrySpec,
    Tree,
    canonical_level,
    filter_dicts,
    fingerprint,
    raw_filters,
    spec_lists,
    trees,
)

from log_analytics_engine import LogAnalyticsEngine, LogEntry, compile_filters

WORD = re.compile(r"\w+")


# -- the naive reference, from the documented filter semantics ---------------------------
def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _equal(a: Any, b: Any) -> bool:
    """Equality where ``True`` is not ``1`` (the library's documented filter equality)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def naive_match(spec: EntrySpec, filters: dict[str, Any]) -> bool:
    """Whether ``spec`` passes ``filters`` (time bounds given as ``(raw, instant)``)."""
    words = set(_words(spec.message))
    for key, value in filters.items():
        if key == "start_time":
            ok = spec.instant >= value[1]
        elif key == "end_time":
            ok = spec.instant <= value[1]
        elif key == "level":
            ok = spec.canonical in {canonical_level(v) for v in _as_list(value)}
        elif key == "min_severity":
            threshold = value if isinstance(value, (int, float)) else SEVERITY[
                canonical_level(value)]
            ok = SEVERITY[spec.canonical] >= threshold
        elif key == "source":
            ok = spec.source in _as_list(value)
        elif key == "tags":
            ok = any(t in spec.tags for t in _as_list(value))
        elif key == "tags_all":
            ok = all(t in spec.tags for t in value)
        elif key == "keyword":
            ok = all(w in words for w in _words(value))
        elif key == "keywords":
            items = value.split() if isinstance(value, str) else value
            ok = any(all(w in words for w in _words(item)) for item in items)
        elif key == "regex":
            ok = re.search(value, spec.message) is not None
        else:
            got = spec.resolve(key)
            ok = any(_equal(got, v) for v in _as_list(value))
        if not ok:
            return False
    return True


def naive_tree(spec: EntrySpec, shape: Any) -> bool:
    kind, body = shape
    if kind == "leaf":
        return naive_match(spec, body)
    if kind == "and":
        return all(naive_tree(spec, s) for s in body)
    if kind == "or":
        return any(naive_tree(spec, s) for s in body)
    return not naive_tree(spec, body)


# -- building engines -----------------------------------------------------------------------
def _as_dict(spec: EntrySpec) -> dict[str, Any]:
    # unknown top-level keys go to metadata; keys named like attributes stay in "metadata"
    nested = {k: v for k, v in spec.metadata.items() if k in ("user_id", "source")}
    loose = {k: v for k, v in spec.metadata.items() if k not in nested}
    d: dict[str, Any] = {**loose, "timestamp": spec.timestamp, "level": spec.level,
                         "message": spec.message, "source": spec.source, "tags": spec.tags}
    if nested:
        d["metadata"] = nested
    if spec.user_id is not None:
        d["user_id"] = spec.user_id
    if spec.thread_id is not None:
        d["thread_id"] = spec.thread_id
    return d


def build(specs: list[EntrySpec], indexed: bool, data: st.DataObject) -> LogAnalyticsEngine:
    """An engine with ``specs`` ingested in arrival order, in random batches, as entries or
    dicts; invariants are checked after every batch."""
    engine = LogAnalyticsEngine(index_fields=INDEX_FIELDS if indexed else ())
    i = 0
    while i < len(specs):
        size = data.draw(st.integers(1, 8), label="batch")
        chunk = specs[i : i + size]
        i += size
        as_dicts = data.draw(st.booleans(), label="dicts")
        items: list[LogEntry | dict[str, Any]] = [
            _as_dict(s) if as_dicts else s.build() for s in chunk]
        if len(items) == 1 and data.draw(st.booleans(), label="single"):
            assert engine.ingest_log(items[0]) == 1
        else:
            assert engine.ingest_logs(items) == len(items)
        engine._check()
    assert [e.ts for e in engine.all_logs] == [s.instant for s in specs]
    return engine


def positions(engine: LogAnalyticsEngine, result: list[LogEntry]) -> list[tuple[Any, ...]]:
    """The fingerprints of ``result`` (compared with :func:`at` of expected positions:
    entries are built on demand, so identity is not kept)."""
    return [fingerprint(e) for e in result]


def at(engine: LogAnalyticsEngine, picked: list[int]) -> list[tuple[Any, ...]]:
    """The fingerprints of the live entries at ingestion positions ``picked``."""
    logs = list(engine.all_logs)
    return [fingerprint(logs[i]) for i in picked]


def expected(specs: list[EntrySpec], keep: Any) -> list[int]:
    """Positions of kept specs in (instant, ingestion order)."""
    hits = [i for i, s in enumerate(specs) if keep(s)]
    return sorted(hits, key=lambda i: (specs[i].instant, i))


def scan(engine: LogAnalyticsEngine, node: Any) -> list[int]:
    logs = list(engine.all_logs)
    hits = [i for i, e in enumerate(logs) if node.match(e)]
    return sorted(hits, key=lambda i: (logs[i].ts, i))


common = given(specs=spec_lists(), filters=filter_dicts(), indexed=st.booleans(),
               data=st.data())


# -- the properties -------------------------------------------------------------------------
@settings(max_examples=examples(1.0))
@common
def test_query_logs_equals_independent_naive_filter(
    specs: list[EntrySpec], filters: dict[str, Any], indexed: bool, data: st.DataObject
) -> None:
    engine = build(specs, indexed, data)
    got = positions(engine, engine.query_logs(raw_filters(filters)))
    assert got == at(engine, expected(specs, lambda s: naive_match(s, filters)))


@settings(max_examples=examples(0.5))
@common
def test_query_logs_equals_scan_with_node_match(
    specs: list[EntrySpec], filters: dict[str, Any], indexed: bool, data: st.DataObject
) -> None:
    engine = build(specs, indexed, data)
    node = compile_filters(raw_filters(filters))
    assert positions(engine, engine.query_logs(node)) == at(engine, scan(engine, node))


@settings(max_examples=examples(0.5))
@common
def test_matches_filter_equals_independent_naive_filter(
    specs: list[EntrySpec], filters: dict[str, Any], indexed: bool, data: st.DataObject
) -> None:
    for spec in specs:
        assert spec.build().matches_filter(raw_filters(filters)) == naive_match(spec, filters)


@settings(max_examples=examples(0.5))
@common
def test_count_logs_equals_naive_count(
    specs: list[EntrySpec], filters: dict[str, Any], indexed: bool, data: st.DataObject
) -> None:
    engine = build(specs, indexed, data)
    assert engine.count_logs(raw_filters(filters)) == sum(
        naive_match(s, filters) for s in specs)


@settings(max_examples=examples(0.5))
@common
def test_sort_desc_is_the_reverse_of_time_order(
    specs: list[EntrySpec], filters: dict[str, Any], indexed: bool, data: st.DataObject
) -> None:
    engine = build(specs, indexed, data)
    got = positions(engine, engine.query_logs(raw_filters(filters), sort_desc=True))
    assert got == at(engine, expected(specs, lambda s: naive_match(s, filters))[::-1])


@settings(max_examples=examples(0.5))
@given(specs=spec_lists(), filters=filter_dicts(max_keys=2), indexed=st.booleans(),
       page=st.integers(0, 5), page_size=st.integers(1, 7), desc=st.booleans(),
       data=st.data())
def test_pages_are_slices_of_the_full_result(
    specs: list[EntrySpec], filters: dict[str, Any], indexed: bool, page: int,
    page_size: int, desc: bool, data: st.DataObject,
) -> None:
    engine = build(specs, indexed, data)
    full = expected(specs, lambda s: naive_match(s, filters))
    if desc:
        full.reverse()
    got = engine.query_logs(raw_filters(filters), sort_desc=desc, page=page,
                            page_size=page_size)
    start = page * page_size
    assert positions(engine, got) == at(engine, full[start : start + page_size])


@settings(max_examples=examples(0.5))
@given(specs=spec_lists(), tree=trees, indexed=st.booleans(), data=st.data())
def test_node_trees_equal_scan_and_naive(
    specs: list[EntrySpec], tree: Tree, indexed: bool, data: st.DataObject
) -> None:
    engine = build(specs, indexed, data)
    got = positions(engine, engine.query_logs(tree.node))
    assert got == at(engine, scan(engine, tree.node))
    assert got == at(engine, expected(specs, lambda s: naive_tree(s, tree.shape)))
    assert engine.count_logs(tree.node) == len(got)


# -- aggregation against a naive group-by --------------------------------------------------
def _group_keys(spec: EntrySpec, field: str) -> list[Any]:
    """Group keys of an entry: the value a filter on ``field`` would match; list values
    count each element (an empty list belongs to no group)."""
    if field == "level":
        return [spec.canonical]
    if field == "source":
        return [spec.source]
    if field == "tags":
        return list(spec.tags)
    value = spec.resolve(field)
    return list(value) if isinstance(value, list) else [value]


def _numbers(group: list[EntrySpec]) -> list[float]:
    out = []
    for s in group:
        v = s.resolve("n")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(v)
    return sorted(out)


def _lerp(values: list[float], q: float) -> float:
    pos = (len(values) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def naive_metrics(group: list[EntrySpec]) -> dict[str, Any]:
    nums = _numbers(group)
    users = {s.resolve("user_id") for s in group} - {None}
    return {
        "count": len(group),
        "sum_n": sum(nums),
        "max_n": max(nums) if nums else None,
        "p50_n": statistics.median(nums) if nums else None,
        "p95_n": _lerp(nums, 95) if nums else None,
        "distinct_user_id": len(users),
    }


METRICS = ["count", "sum:n", "max:n", "p50:n", "p95:n", "distinct:user_id"]


def _close(a: dict[Any, Any], b: dict[Any, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) or isinstance(y, float):
            if x is None or y is None or not math.isclose(x, y, abs_tol=1e-9):
                return False
        elif x != y:
            return False
    return True


group_fields = st.sampled_from(("level", "source", "tags", "region", "user_id"))


@settings(max_examples=examples(0.5))
@given(specs=spec_lists(), filters=filter_dicts(max_keys=2), indexed=st.booleans(),
       field=group_fields, data=st.data())
def test_aggregate_count_equals_naive_group_by(
    specs: list[EntrySpec], filters: dict[str, Any], indexed: bool, field: str,
    data: st.DataObject,
) -> None:
    engine = build(specs, indexed, data)
    want: dict[Any, int] = defaultdict(int)
    for s in specs:
        if naive_match(s, filters):
            for k in _group_keys(s, field):
                want[k] += 1
    got = engine.aggregate(raw_filters(filters), group_by=field)
    assert {k: v["count"] for k, v in got.items()} == dict(want)


@settings(max_examples=examples(0.5))
@given(specs=spec_lists(), filters=filter_dicts(max_keys=2), indexed=st.booleans(),
       field=group_fields, data=st.data())
def test_aggregate_metrics_equal_naive_group_by(
    specs: list[EntrySpec], filters: dict[str, Any], indexed: bool, field: str,
    data: st.DataObject,
) -> None:
    engine = build(specs, indexed, data)
    groups: dict[Any, list[EntrySpec]] = defaultdict(list)
    for s in specs:
        if naive_match(s, filters):
            for k in _group_keys(s, field):
                groups[k].append(s)
    got = engine.aggregate(raw_filters(filters), group_by=field, metrics=METRICS)
    assert got.keys() == groups.keys()
    for k, group in groups.items():
        assert _close(got[k], naive_metrics(group)), k


@settings(max_examples=examples(0.3))
@given(specs=spec_lists(), indexed=st.booleans(), data=st.data())
def test_aggregate_hourly_buckets_equal_naive_buckets(
    specs: list[EntrySpec], indexed: bool, data: st.DataObject
) -> None:
    engine = build(specs, indexed, data)
    want: dict[str, int] = defaultdict(int)
    for s in specs:
        start = math.floor(s.instant / 3600) * 3600
        key = datetime.fromtimestamp(start, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        want[key] += 1
    got = engine.aggregate(interval="1h")
    assert {k: v["count"] for k, v in got.items()} == dict(want)


# -- many entries: zone-map blocks, the time-walk shortcut for pages -----------------------
def _big_corpus(seed: int, n: int) -> list[LogEntry]:
    import random

    rng = random.Random(seed)
    out = []
    t = 1_753_000_000.0
    for i in range(n):
        t += rng.choice((0.0, 0.25, 1.0, 3.0))
        ts = t - rng.uniform(0, 600) if rng.random() < 0.05 else t  # late arrivals
        out.append(LogEntry(ts, rng.choice(("INFO", "INFO", "ERROR", "DEBUG")),
                            rng.choice(("db timeout", "user login", "cache miss")),
                            source=rng.choice(("api", "db")), metadata={"i": i}))
    return out


@settings(max_examples=examples(0.2))
@given(seed=st.integers(0, 2**16), lo=st.floats(-100, 6000), width=st.floats(0, 4000),
       level=st.sampled_from((None, "ERROR", "INFO")), page_size=st.integers(1, 30),
       desc=st.booleans())
def test_time_ranges_and_pages_across_many_blocks_equal_a_scan(
    big: dict[int, list[LogEntry]], seed: int, lo: float, width: float, level: str | None,
    page_size: int, desc: bool,
) -> None:
    entries = big.setdefault(seed % 4, _big_corpus(seed % 4, 3500))
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries[:1000])
    engine.ingest_logs(entries[1000:])
    start = 1_753_000_000.0 + lo
    filters: dict[str, Any] = {"start_time": start, "end_time": start + width}
    if level:
        filters["level"] = level
    hits = [i for i, e in enumerate(entries)
            if start <= e.ts <= start + width and (level is None or e.level == level)]
    hits.sort(key=lambda i: (entries[i].ts, i))
    assert [e.metadata["i"] for e in engine.query_logs(filters)] == hits
    want = hits[::-1] if desc else hits
    got = engine.query_logs({"level": level} if level else None, sort_desc=desc,
                            page=1, page_size=page_size)
    every = [i for i, e in enumerate(entries) if level is None or e.level == level]
    every.sort(key=lambda i: (entries[i].ts, i), reverse=desc)
    assert [e.metadata["i"] for e in got] == every[page_size : 2 * page_size]
    assert [e.metadata["i"] for e in engine.query_logs(filters, sort_desc=desc)] == want


@settings(max_examples=examples(0.3))
@given(specs=spec_lists(min_size=1, max_size=60), filters=filter_dicts(), indexed=st.booleans(),
       keep=st.integers(1, 20), data=st.data())
def test_after_retention_queries_equal_a_scan_of_the_live_entries(
    specs: list[EntrySpec], filters: dict[str, Any], indexed: bool, keep: int,
    data: st.DataObject,
) -> None:
    from log_analytics_engine.storage.retention import Retention

    engine = LogAnalyticsEngine(index_fields=INDEX_FIELDS if indexed else (),
                                retention=Retention(max_entries=keep))
    i = 0
    while i < len(specs):
        size = data.draw(st.integers(1, 8), label="batch")
        engine.ingest_logs([s.build() for s in specs[i : i + size]])
        i += size
        engine._check()
    live = len(engine)
    assert 0 < live <= keep
    survivors = specs[len(specs) - live :]  # eviction removes the oldest ids
    got = positions(engine, engine.query_logs(raw_filters(filters)))
    assert got == at(engine, expected(survivors, lambda s: naive_match(s, filters)))
    assert engine.count_logs(raw_filters(filters)) == len(got)
