"""Hostile entry content: one odd entry never fails a batch, and memory equals the durable copy.

Each value below once made the durable write raise ``TypeError`` and drop the whole batch (or
came back from storage changed). Entries are normalised when built (``model.values``), so the
in-memory engine and the durable engine hold and serve the same entries.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import LogAnalyticsEngine, LogAnalyticsHandler, LogEntry
from log_analytics_engine.model.values import CYCLE, MAX_DEPTH, normalize_value
from log_analytics_engine.storage.codec import dumps

BAD_NAME = os.fsdecode(b"report-\xff.csv")  # a lone surrogate, as from a file name


def _deep(n: int) -> dict[str, Any]:
    d: dict[str, Any] = {"leaf": 1}
    for _ in range(n):
        d = {"d": d}
    return d


def _cyclic() -> dict[str, Any]:
    d: dict[str, Any] = {"a": 1}
    d["self"] = d
    return d


HOSTILE: dict[str, dict[str, Any]] = {
    "deep": {"metadata": _deep(300)},
    "surrogate_message": {"message": f"cannot open {BAD_NAME}"},
    "surrogate_metadata": {"metadata": {"file": BAD_NAME, BAD_NAME: 1}},
    "surrogate_source_tag": {"source": BAD_NAME, "tags": [BAD_NAME]},
    "big_int": {"metadata": {"n": 2**64, "m": -(2**63) - 1}},
    "tuple_key": {"metadata": {(1, 2): "t", frozenset({3}): "f"}},
    "cycle": {"metadata": _cyclic()},
    "nan_inf": {"metadata": {"x": math.nan, "y": math.inf, "z": -math.inf}},
    "set_value": {"metadata": {"s": {1, 2}, "t": (1, 2)}},
}


def _entry(i: int, **fields: Any) -> LogEntry:
    base: dict[str, Any] = {"message": f"valid {i}", "source": "api"}
    base.update(fields)
    return LogEntry(i, "INFO", **base)


def _view(e: LogEntry) -> tuple[Any, ...]:
    return (e.ts, e.level, e.message, e.source, e.thread_id, e.request_id, e.user_id,
            e.tags, e.metadata, e.timestamp)


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_one_hostile_entry_is_stored_with_its_batch(tmp_path: Path, case: str) -> None:
    """The batch around a hostile entry is stored whole, and reopens to equal entries."""
    batch = [_entry(i) for i in range(50)] + [_entry(50, **HOSTILE[case])] + [
        _entry(i) for i in range(51, 101)]
    path = tmp_path / "x.db"
    with LogAnalyticsEngine(storage=path, durability="sync") as engine:
        assert engine.ingest_logs(batch) == 101
        before = [_view(e) for e in engine.query_logs()]
        engine._check()
    with LogAnalyticsEngine(storage=path) as reopened:
        assert [_view(e) for e in reopened.query_logs()] == before


def test_normalisation_rule_is_the_documented_one() -> None:
    """Surrogates -> U+FFFD, huge ints and non-finite floats -> text, odd keys -> text,
    tuples and sets -> lists, too deep -> text, a cycle cut where it repeats."""
    e = _entry(0, message=f"x {BAD_NAME}", metadata={
        "n": 2**64, "ok": 2**64 - 1, "x": math.nan, "y": -math.inf, (1, 2): (3, 4),
        "cyc": _cyclic(), "deep": _deep(MAX_DEPTH + 5)})
    assert e.message == "x report-\ufffd.csv"
    m = e.metadata
    assert m["n"] == "18446744073709551616"
    assert m["ok"] == 2**64 - 1
    assert (m["x"], m["y"]) == ("NaN", "-Infinity")
    assert m["(1, 2)"] == [3, 4]
    assert m["cyc"] == {"a": 1, "self": CYCLE}
    node = m["deep"]
    depth = 2  # metadata is level 1
    while isinstance(node, dict):
        node = node.get("d", node.get("leaf"))
        depth += 1
    assert isinstance(node, str)
    assert node.startswith('{"d"')  # the over-deep part as text
    assert depth == MAX_DEPTH
    assert orjson.loads(dumps(e.to_dict()))["metadata"] == orjson.loads(dumps(m))


def test_plain_entries_are_not_copied() -> None:
    """The common entry keeps its own metadata object (normalisation costs no copy)."""
    meta = {"region": "eu", "n": 1, "ok": True, "lat": 1.5, "none": None}
    e = LogEntry(0, metadata=meta)
    assert normalize_value(e.metadata) is e.metadata


def test_file_with_hostile_lines_keeps_every_line(tmp_path: Path) -> None:
    """JSON lines with nesting, \\ud800 escapes and huge ints are stored with their file."""
    lines = [orjson.dumps({"timestamp": i, "message": f"m{i}"}) for i in range(40)]
    lines[10] = b'{"timestamp": 10, "message": "m10", "metadata": ' + b'{"a":' * 200 + b"1" + \
        b"}" * 200 + b"}"
    lines[20] = b'{"timestamp": 20, "message": "bad \\udcff name"}'
    lines[30] = b'{"timestamp": 30, "message": "m30", "n": 123456789012345678901234567890}'
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    path = tmp_path / "x.db"
    with LogAnalyticsEngine(storage=path, durability="sync") as engine:
        report = engine.ingest_logs_from_file(src)
        before = [_view(e) for e in engine.query_logs()]
    memory = LogAnalyticsEngine()
    memory.ingest_logs_from_file(src)
    assert report["count"] == len(before) == len(memory)
    assert [_view(e) for e in memory.query_logs()] == before
    with LogAnalyticsEngine(storage=path) as reopened:
        assert [_view(e) for e in reopened.query_logs()] == before


@pytest.mark.parametrize("non_blocking", [False, True])
def test_handler_stores_records_with_a_bad_file_name(tmp_path: Path, non_blocking: bool) -> None:
    """One ``log.warning("cannot open %s", bad_name)`` among 101 records costs nothing."""
    engine = LogAnalyticsEngine(storage=tmp_path / "x.db", durability="sync")
    handler = LogAnalyticsHandler(engine, non_blocking=non_blocking)
    log = logging.getLogger(f"adversarial.handler.{non_blocking}")
    log.propagate = False
    log.addHandler(handler)
    try:
        for i in range(50):
            log.warning("ok %d", i)
        log.warning("cannot open %s", BAD_NAME, extra={"path": BAD_NAME, "big": 2**70})
        for i in range(50):
            log.warning("ok %d", i)
        handler.flush()
    finally:
        log.removeHandler(handler)
        handler.close()
    assert (handler.errors, handler.dropped) == (0, 0)
    assert len(engine) == 101
    engine.close()


def test_entry_changed_after_construction_is_normalised_before_storing(tmp_path: Path) -> None:
    """A field set after the entry was built is normalised at encoding, in memory too."""
    e = _entry(1)
    e.metadata = {"k": BAD_NAME, (1, 2): 2**70}
    with LogAnalyticsEngine(storage=tmp_path / "x.db", durability="sync") as engine:
        assert engine.ingest_logs([_entry(0), e]) == 2
        assert engine.query_logs()[1].metadata == {"k": "report-\ufffd.csv",
                                                   "(1, 2)": str(2**70)}


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
    st.sampled_from([BAD_NAME, "\ud800", 2**64, -(2**63) - 1, math.nan]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(), st.tuples(st.integers())),
                        inner, max_size=3)),
    max_leaves=12,
)


@settings(max_examples=60)
@given(entries=st.lists(st.tuples(
    st.text(max_size=12), st.text(max_size=4),
    st.lists(st.text(max_size=4), max_size=3),
    st.dictionaries(st.text(max_size=5), _VALUES, max_size=4)), min_size=1, max_size=8))
def test_durable_engine_accepts_what_memory_accepts_and_reopens_equal(
        tmp_path_factory: pytest.TempPathFactory,
        entries: list[tuple[str, str, list[str], dict[str, Any]]]) -> None:
    """Property: whatever the in-memory engine accepts, the durable engine accepts identically
    and reopens to entries equal to the in-memory ones."""
    path = tmp_path_factory.mktemp("prop") / "x.db"
    batch = [{"timestamp": i, "message": m, "source": s, "tags": t, "metadata": md}
             for i, (m, s, t, md) in enumerate(entries)]
    memory = LogAnalyticsEngine()
    assert memory.ingest_logs(batch) == len(batch)
    with LogAnalyticsEngine(storage=path, durability="sync") as durable:
        assert durable.ingest_logs(batch) == len(batch)
    with LogAnalyticsEngine(storage=path) as reopened:
        want = [_view(e) for e in memory.query_logs()]
        got = [_view(e) for e in reopened.query_logs()]
        assert repr(got) == repr(want)  # repr: NaN-free by the rule, exact types compared
