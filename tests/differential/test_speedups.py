"""The C accelerator gives exactly the answers of the Python code it replaces.

The C kernels of ``log_analytics_engine._native`` (JSON lines to entries, the postings of a
batch, time order, the storage codec, float metrics) against the Python kernels of
``_native/python.py`` and the general paths: the Python code is the specification; these
differential properties compare the two on random input, including every shape the C code
hands back to Python. ``native.use_python()`` runs a block on the Python kernels.
"""

from __future__ import annotations

import json
import string
from array import array
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import entry_specs, fingerprint, json_records, raw_json_lines

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine import _native as native
from log_analytics_engine._native import speedups
from log_analytics_engine.index.postings import IndexSet, Postings
from log_analytics_engine.ingest import files
from log_analytics_engine.ingest.files import IngestReport, _read_line, read_entries
from log_analytics_engine.model.timeparse import fast_instant
from log_analytics_engine.model.tokenize import tokenize_many

pytestmark = pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")

_SLOTS = ("timestamp", "ts", "level", "message", "source", "thread_id", "request_id",
          "user_id", "tags", "metadata")


def _same_entry(got: LogEntry, want: LogEntry) -> None:
    assert type(got) is LogEntry
    for name in _SLOTS:
        assert getattr(got, name) == getattr(want, name), name
        assert type(getattr(got, name)) is type(getattr(want, name)), name
    # 1 == 1.0 and 0.0 == -0.0: the reprs also tell the types, signs and key order apart
    assert repr(got.metadata) == repr(want.metadata)
    assert repr(got.tags) == repr(want.tags)


# -- timestamps ----------------------------------------------------------------------------
_FRACTIONS = st.sampled_from(["", ".5", ".06", ".123", ".1234", ",25", ".123456", ".1234567",
                              ".", ".12a"])
_ZONES = st.sampled_from(["", "Z", "z", "+00:00", "+05:30", "-08:00", "-0800", "+0530", "+05",
                          "+24:00", "+05:60", "+05:30:15", " Z", "UTC", "Zz"])


@st.composite
def iso_texts(draw: st.DrawFn) -> str:
    dt = draw(st.datetimes(min_value=datetime(1600, 1, 1), max_value=datetime(2300, 1, 1)))
    sep = draw(st.sampled_from(["T", " ", "t", "_"]))
    time_part = draw(st.sampled_from(["%H:%M:%S", "%H:%M", "%H", ""]))
    text = dt.strftime("%Y-%m-%d") + (sep + dt.strftime(time_part) if time_part else "")
    if time_part == "%H:%M:%S":
        text += draw(_FRACTIONS)
    return text + draw(_ZONES)


def _python_instant(text: str) -> float | None:
    try:
        return fast_instant(text)
    except ValueError:
        return None


@settings(max_examples=500)
@given(iso_texts())
def test_parse_iso_equals_the_python_parser(text: str) -> None:
    assert speedups is not None
    got = speedups.parse_iso(text)
    if got is not None:  # None: the Python parser decides
        assert got == _python_instant(text)


@given(st.text(alphabet=string.digits + "-:T .Z+,", max_size=32))
def test_parse_iso_on_near_miss_text(text: str) -> None:
    assert speedups is not None
    got = speedups.parse_iso(text)
    if got is not None:
        assert got == _python_instant(text)


@pytest.mark.parametrize("text", [
    "2025-07-20T08:26:40.065Z", "2025-07-20T08:26:40Z", "2025-07-20 08:26:40",
    "2025-07-20T08:26:40.123456+05:30", "2024-02-29T23:59:59-0800", "2025-07-20",
    "2025-07-20T08:26",
])
def test_parse_iso_takes_the_common_shapes(text: str) -> None:
    assert speedups is not None
    got = speedups.parse_iso(text)
    assert got is not None
    assert got == fast_instant(text)


@pytest.mark.parametrize("text", [
    "2025-02-29T00:00:00Z", "2025-07-20T24:00:00Z", "2025-07-20T08:26:60Z", "2025-13-01",
    "20250720T082640Z", "2025-07-20T08:26:40.1234567Z", "1699-12-31T00:00:00Z", "2025-07-2",
    "٢٠٢٥-07-20",
])
def test_parse_iso_hands_other_shapes_back(text: str) -> None:
    assert speedups is not None
    assert speedups.parse_iso(text) is None


# -- JSON lines to entries -----------------------------------------------------------------
_ODD_LINES = st.sampled_from([
    b"", b"  ", b"\n", b"{", b"[1, 2]", b"null", b'"text"', b"\xff\xfe", b"{}",
    b'{"timestamp": "2025-07-20T08:26:40Z"}', b'{"timestamp": 1753000000000, "level": "warn"}',
    b'{"timestamp": "2025-07-20T08:26:40Z", "level": "INFO", "tags": ["a", "a"]}',
    b'{"timestamp": "2025-07-20T08:26:40Z", "message": "\\u00e9t\\u00e9 ok"}',
    b'{"timestamp": "\\u0662\\u0660\\u0662\\u0665-07-20T08:26:40Z"}',
])


def _line_of(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


_LINES = st.lists(st.one_of(json_records().map(_line_of), _ODD_LINES), max_size=30)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES)
def test_entries_from_lines_equals_the_python_reader(lines: list[bytes]) -> None:
    assert speedups is not None
    got, bad = speedups.entries_from_lines(lines)
    assert len(got) == len(lines)
    assert bad == sum(1 for e in got if e is None)
    report = IngestReport("x", "jsonl")
    for k, (raw, entry) in enumerate(zip(lines, got, strict=True)):
        want = _read_line(raw, k + 1, True, 0.0, report)
        if entry is None:
            assert want is None  # the reader re-reads it and reports the reason
        else:
            assert want is not None
            _same_entry(entry, want)


def test_entries_from_lines_builds_fresh_tags_and_metadata() -> None:
    assert speedups is not None
    entries, bad = speedups.entries_from_lines([b'{"timestamp": "2025-07-20T08:26:40Z"}'] * 2)
    assert bad == 0
    assert entries[0].tags == []
    assert entries[0].metadata == {}
    assert entries[0].tags is not entries[1].tags
    assert entries[0].metadata is not entries[1].metadata


def test_entries_from_lines_propagates_errors_that_are_not_about_the_line() -> None:
    assert speedups is not None
    with pytest.raises(TypeError):
        speedups.entries_from_lines((b"{}",))  # type: ignore[arg-type]


# -- the direct JSON parser (lines of the common shape, without orjson's dict) -------------
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(raw_json_lines())
def test_direct_parser_builds_what_the_python_reader_builds(line: bytes) -> None:
    """Every line the direct parser takes gives the entry the Python reader builds; every
    line it leaves goes through orjson as before, with the same outcome."""
    assert speedups is not None
    want = _read_line(line, 1, True, 0.0, IngestReport("x", "jsonl"))
    direct = speedups.direct_entry(line)
    if direct is not None:
        assert want is not None
        _same_entry(direct, want)
    [got], bad = speedups.entries_from_lines([line])
    assert (got is None) == (want is None) == (bad == 1)
    if got is not None and want is not None:
        _same_entry(got, want)


@pytest.mark.parametrize("line", [
    b'{"timestamp":"2025-07-20T08:26:40.065Z","level":"INFO","message":"cache miss",'
    b'"source":"api","tags":["a","b"],"metadata":{"user_id":"u1","latency_ms":50.08,"n":3,'
    b'"ok":true,"no":false,"none":null}}',
    b'  { "timestamp" : "2025-07-20 08:26:40+02:00" , "message" : "\xc3\xa9t\xc3\xa9" }\r',
    b'{"timestamp":"2025-07-20T08:26:40Z","level":null,"source":null,"tags":null,'
    b'"metadata":null,"user_id":null}',
    b'{"timestamp":"2025-07-20T08:26:40Z","level":"WARNING","tags":[]}',
    b'{"timestamp":"2025-07-20T08:26:40Z","message":"say \\"hi\\"\\n\\tC:\\\\x \\/ \\b\\f\\r",'
    b'"tags":["\\u00e9t\\u00e9"],"metadata":{"k\\u00e9y":"\\ud83d\\ude00 \\u0000"}}',
])
def test_direct_parser_takes_the_common_shapes(line: bytes) -> None:
    assert speedups is not None
    got = speedups.direct_entry(line)
    assert got is not None
    want = _read_line(line, 1, True, 0.0, IngestReport("x", "jsonl"))
    assert want is not None
    _same_entry(got, want)


@pytest.mark.parametrize("line", [
    b'{"timestamp":"2025-07-20T08:26:40Z","message":"\\ud800 lone"}',  # a lone surrogate
    b'{"timestamp":"2025-07-20T08:26:40Z","message":"\\q"}',  # not an escape
    b'{"timestamp":"2025-07-20T08:26:40Z","message":"\\u12"}',
    b'{"timestamp":"2025-07-2\\u0030T08:26:40Z"}',  # an escaped timestamp: orjson's
    b'{"timestamp":"2025-07-20T08:26:40Z","metadata":{"a":{"b":1}}}',  # nested
    b'{"timestamp":"2025-07-20T08:26:40Z","extra":1}',  # an unknown key: metadata
    b'{"timestamp":"2025-07-20T08:26:40Z","level":"INFO","level":"ERROR"}',  # repeated
    b'{"timestamp":1753000000}',  # a number: the Python time parser
    b'{"timestamp":"2025-07-20T08:26:40Z","metadata":{"n":12345678901234567890}}',
    b'{"timestamp":"2025-07-20T08:26:40Z","message":"\xff"}',  # not UTF-8
    b'{"timestamp":"2025-07-20T08:26:40Z"} x',
])
def test_direct_parser_leaves_other_lines_to_orjson(line: bytes) -> None:
    assert speedups is not None
    assert speedups.direct_entry(line) is None


def test_direct_parser_takes_every_line_of_the_sample_corpus() -> None:
    from log_analytics_engine.events.sample import generate_records

    assert speedups is not None
    for record in generate_records(500, seed=7):
        line = orjson.dumps(record)
        got = speedups.direct_entry(line)
        assert got is not None
        want = _read_line(line, 1, True, 0.0, IngestReport("x", "jsonl"))
        assert want is not None
        _same_entry(got, want)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(_LINES, st.integers(1, 7))
def test_read_entries_reports_the_same_with_and_without_the_accelerator(
    lines: list[bytes], batch_size: int
) -> None:
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n"

    def read() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        import io

        report = IngestReport("x", "jsonl")
        out = [e.to_dict() for batch in read_entries(io.BytesIO(data), "jsonl", report,
                                                     batch_size) for e in batch]
        return out, report.to_dict()

    fast, fast_report = read()
    with native.use_python():
        slow, slow_report = read()
    # and line by line, as the reader re-reads a rejected line
    naive_report = IngestReport("x", "jsonl")
    naive = [e.to_dict() for k, raw in enumerate(data.split(b"\n")[:-1])
             if (e := _read_line(raw + b"\n", k + 1, True, 0.0, naive_report)) is not None]
    assert fast == slow == naive
    assert fast_report["errors"] == slow_report["errors"] == naive_report.errors
    assert fast_report["rejected"] == slow_report["rejected"] == naive_report.rejected


# -- postings ------------------------------------------------------------------------------
_WORDS = st.sampled_from(["disk", "Disk", "DISK", "é", "Straße", "STRASSE", "x_1", "_", "42",
                          "ﬁle", "İstanbul", "日本", "a" * 300, "timeout", "Timeout"])
_SEPARATORS = st.sampled_from([" ", "-", ", ", ": ", "/", "\t", "\u00a0", "!"])


@st.composite
def messages(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(_WORDS, _SEPARATORS), max_size=8))
    return "".join(w + s for w, s in parts)


def _normalized(p: Postings) -> tuple[dict[str, list[int]], ...]:
    def norm(d: dict[str, list[int]]) -> dict[str, list[int]]:
        return {t: sorted(set(ids)) for t, ids in d.items()}

    return norm(p.levels), norm(p.sources), norm(p.tags), norm(p.words)


def _python_postings(entries: list[LogEntry], first_id: int) -> Postings:
    terms: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    native.python.gather(entries, first_id, {}, *terms,
                         tokenize_many([e.message for e in entries]))
    return Postings(first_id, *terms, {})


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(entry_specs, messages()), max_size=25), st.integers(0, 2**32 - 100),
       st.booleans())
def test_gather_equals_the_python_gatherer(
    specs: list[tuple[Any, str]], first_id: int, with_tokens: bool
) -> None:
    entries = []
    for spec, message in specs:
        spec.message = message
        entries.append(spec.build())
    twins = [spec.build() for spec, _ in specs]
    tokens = tokenize_many([e.message for e in entries]) if with_tokens else None
    got = IndexSet().gather(entries, tokens, first_id)
    want = _python_postings(twins, first_id)
    assert _normalized(got) == _normalized(want)
    for ids in (*got.levels.values(), *got.words.values(), *got.tags.values()):
        assert list(ids) == sorted(set(ids))  # the C gatherer drops repeats within an entry


def test_gather_shares_one_string_per_source_and_tag() -> None:
    a = LogEntry(0, source="".join(["a", "pi"]), tags=["".join(["t", "1"])])
    b = LogEntry(1, source="".join(["ap", "i"]), tags=["".join(["t", "1"]), "t2"])
    assert a.source is not b.source
    ix = IndexSet()
    ix.gather([a, b], None, 0)
    assert a.source is b.source
    assert a.tags[0] is b.tags[0]


def test_gather_handles_many_distinct_words_and_long_messages() -> None:
    entries = [LogEntry(i, message=" ".join(f"w{i}x{k}" for k in range(300)) + " common")
               for i in range(40)]
    got = IndexSet().gather(entries, None, 5)
    want = _python_postings(entries, 5)
    assert _normalized(got) == _normalized(want)
    assert len(got.words) == 40 * 300 + 1


def test_gather_rejects_what_is_not_an_entry() -> None:
    with pytest.raises(TypeError, match="LogEntry"):
        IndexSet().gather([object()], None, 0)


def test_engine_answers_the_same_with_and_without_the_accelerator(tmp_path: Path) -> None:
    from log_analytics_engine.events.sample import write_jsonl

    path = tmp_path / "logs.jsonl"
    write_jsonl(str(path), 3000, seed=5)
    with path.open("ab") as fh:
        fh.write(b"not json\n\n{\"timestamp\": \"soon\"}\n")
    start = datetime(2025, 7, 20, 8, 30, tzinfo=timezone.utc)
    queries: list[dict[str, Any]] = [
        {"level": "ERROR"}, {"keyword": "timeout"}, {"tags": ["canary"]},
        {"start_time": start, "end_time": start + timedelta(minutes=10)},
        {"user_id": ["u17457", "u4914"]}, {"source": "svc-login2", "keywords": ["cache"]},
    ]

    def run() -> tuple[dict[str, Any], list[list[dict[str, Any]]], dict[str, Any]]:
        engine = LogAnalyticsEngine(index_fields=("user_id",))
        report = engine.ingest_logs_from_file(path, batch_size=700)
        engine.ingest_logs_from_file(path)  # a second file: ids continue
        engine._check()
        del report["duration_sec"], report["logs_per_sec"]
        answers = [[e.to_dict() for e in engine.query_logs(q)] for q in queries]
        return report, answers, engine.get_stats()

    fast = run()
    with native.use_python():
        slow = run()
    assert fast == slow
    assert fast[0]["errors"] == 2


def test_gather_refuses_ids_beyond_32_bits() -> None:
    with pytest.raises(OverflowError):
        native.gather([LogEntry(0)], 2**32, {}, {}, {}, {}, {}, None)


def test_a_batch_that_would_pass_32_bits_is_gathered_from_zero() -> None:
    """The store rebases before such a batch lands; merge shifts its ids there."""
    postings = IndexSet().gather([LogEntry(0), LogEntry(1)], None, 2**32 - 1)
    assert postings.first_id == 0
    assert list(postings.levels["INFO"]) == [0, 1]


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(entry_specs, max_size=20))
def test_storage_chunks_equal_with_and_without_the_accelerator(specs: list[Any]) -> None:
    from log_analytics_engine.storage import format as storage

    entries = [spec.build() for spec in specs]

    def roundtrip() -> tuple[Any, list[LogEntry], dict[str, str]]:
        chunks = storage.encode_entries(entries)
        canon: dict[str, str] = {}
        decoded = [e for _, raw, data in chunks for e in storage.decode_rows(
            orjson.loads(data), storage._stamps(raw), canon)]
        return chunks, decoded, canon

    fast_chunks, fast, canon = roundtrip()
    with native.use_python():
        slow_chunks, slow, _ = roundtrip()
    assert fast_chunks == slow_chunks  # the same bytes on disk
    assert len(fast) == len(slow) == len(entries)
    for got, want, original in zip(fast, slow, entries, strict=True):
        _same_entry(got, want)
        assert got.ts == original.ts
        assert got.source is canon[got.source]
        assert all(t is canon[t] for t in got.tags)
    # the direct chunk parser (reopen): what orjson and decode_rows build, when it takes one
    direct_canon: dict[str, str] = {}
    for _, raw, data in fast_chunks:
        stamps = storage._stamps(raw)
        direct = speedups.entries_from_chunk(data, stamps, direct_canon)
        with native.use_python():
            want_rows = storage.decode_rows(orjson.loads(data), stamps, {})
        if direct is not None:
            assert len(direct) == len(want_rows)
            for got, want in zip(direct, want_rows, strict=True):
                _same_entry(got, want)
                assert got.source is direct_canon[got.source]
                assert all(t is direct_canon[t] for t in got.tags)


@pytest.mark.parametrize("data", [
    b"", b"[", b"[]x", b'[["t","INFO","m","s",null,null,null,[],{}]', b"[[]]",
    b'[["t","INFO","m","s",null,null,null,[],{}],["t","INFO","m","s",null,null,null,[],{}]]',
    b'[["t","INFO","m","s",null,null,null,[],{"a":{"b":1}}]]',
    b'[["t","INFO","m\\q","s",null,null,null,[],{}]]', b'[[1,2,3,4,5,6,7,8,9]]',
])
def test_entries_from_chunk_leaves_other_chunks_to_orjson(data: bytes) -> None:
    """Damaged, nested, badly escaped or miscounted chunks (one instant here): the orjson path
    decides, and reports a damaged one."""
    assert speedups is not None
    assert speedups.entries_from_chunk(data, [1.0], {}) is None


def test_entries_from_chunk_takes_a_plain_chunk() -> None:
    assert speedups is not None
    data = (b'[["2025-07-20T08:26:40Z","ERROR","disk full","db","t1",null,"u1",["a","a"],'
            b'{"n":1,"x":2.5,"ok":true}],[1753000000,"INFO","","",null,null,null,[],{}]]')
    got = speedups.entries_from_chunk(data, [1.0, 2.0], {})
    assert got is not None
    from log_analytics_engine.storage import format as storage

    for g, w in zip(got, storage.decode_rows(orjson.loads(data), [1.0, 2.0], {}), strict=True):
        _same_entry(g, w)
    assert got[0].tags[0] is got[0].tags[1]


def test_entries_from_rows_rejects_a_foreign_row() -> None:
    assert speedups is not None
    with pytest.raises(ValueError, match="9 fields"):
        speedups.entries_from_rows([[1, 2]], [0.0], {})
    with pytest.raises(ValueError, match="one instant"):
        speedups.entries_from_rows([], [0.0], {})


# -- time order of query hits ----------------------------------------------------------------
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    stamps=st.lists(st.integers(0, 12), min_size=1, max_size=60),
    picks=st.lists(st.booleans(), min_size=60, max_size=60),
    evict=st.integers(0, 20),
    descending=st.booleans(),
    offset=st.integers(0, 70),
    limit=st.none() | st.integers(1, 70),
)
def test_time_order_equals_the_python_sort(
    stamps: list[int], picks: list[bool], evict: int, descending: bool, offset: int,
    limit: int | None,
) -> None:
    """Hits in time order, ties in ingestion order, late arrivals placed: the C merge gives
    what Store.sorted_ids gives in Python, after evictions (a base above 0) too."""
    from pyroaring import BitMap

    from log_analytics_engine.index import store as store_module

    store = store_module.Store()
    store.append([LogEntry(float(s), "INFO", f"m{k}") for k, s in enumerate(stamps)])
    store.evict_before(min(evict, len(stamps) - 1))
    ids = BitMap(i for i in range(store.base, store.next_id) if picks[i])
    fast = store.sorted_ids(ids, descending)
    fast_entries = store.sorted_entries(ids, descending, offset, limit)
    fast_all = store.materialize(ids)
    with native.use_python():
        slow = store.sorted_ids(ids, descending)
        slow_entries = store.sorted_entries(ids, descending, offset, limit)
        slow_all = store.materialize(ids)
    assert fast == slow
    assert list(map(fingerprint, fast_all)) == list(map(fingerprint, slow_all)) == [
        fingerprint(store.get(i)) for i in ids]
    assert fast == sorted(ids, key=lambda i: (store.instant(i), i), reverse=descending)
    assert list(map(fingerprint, fast_entries)) == list(map(fingerprint, slow_entries))
    stop = None if limit is None else offset + limit
    assert list(map(fingerprint, fast_entries)) == [
        fingerprint(store.get(i)) for i in slow[offset:stop]]


def test_time_order_refuses_ids_outside_the_store() -> None:
    from array import array

    assert speedups is not None
    with pytest.raises(IndexError):
        speedups.time_order(array("I", [5]), array("I"), array("d", [1.0]), 0, None, False, 0, 1)
    with pytest.raises(ValueError):
        speedups.time_order(b"abc", array("I"), array("d"), 0, None, False, 0, 1)


@given(stamps=st.lists(st.floats(-5, 5) | st.just(0.0), max_size=40), base=st.integers(0, 9),
       bounds=st.tuples(st.floats(-6, 6), st.floats(-6, 6)), picks=st.lists(st.booleans(),
                                                                           max_size=40))
def test_filter_instants_equals_the_python_check(
    stamps: list[float], base: int, bounds: tuple[float, float], picks: list[bool]
) -> None:
    from array import array

    assert speedups is not None
    lo, hi = bounds
    ids = [base + k for k, pick in enumerate(picks[: len(stamps)]) if pick]
    got = speedups.filter_instants(array("I", ids), array("d", stamps), base, lo, hi)
    assert list(got) == [i for i in ids if lo <= stamps[i - base] <= hi]
    assert got == native.python.filter_instants(array("I", ids), array("d", stamps), base, lo,
                                                hi)
    for kernel in (speedups.filter_instants, native.python.filter_instants):
        for outside in (base + len(stamps), base - 1):
            if outside >= 0:
                with pytest.raises(IndexError):
                    kernel(array("I", [outside]), array("d", stamps), base, lo, hi)


@settings(max_examples=1000)
@given(value=st.floats(allow_nan=False, allow_infinity=False),
       style=st.sampled_from(["r", "g", "e", "f"]), digits=st.integers(1, 20))
def test_direct_parser_reads_numbers_as_orjson_does(
    value: float, style: str, digits: int
) -> None:
    """Short decimals take a fast path (one exact multiplication or division); every
    other number goes through the correctly rounded parser: both agree with orjson."""
    assert speedups is not None
    text = repr(value) if style == "r" else f"{value:.{digits}{style}}"
    if style == "f" and len(text) > 60:
        text = repr(value)
    line = b'{"timestamp":"2025-07-20T08:26:40Z","metadata":{"x":' + text.encode() + b"}}"
    entry = speedups.direct_entry(line)
    try:
        want = orjson.loads(line)["metadata"]["x"]
    except orjson.JSONDecodeError:  # beyond the largest double: left to orjson, which says so
        assert entry is None
        return
    if entry is not None:
        got = entry.metadata["x"]
        assert type(got) is type(want)
        assert repr(got) == repr(want)


def test_ingest_blocks_splits_lines_and_hands_back_the_ones_that_did_not_parse() -> None:
    assert speedups is not None
    good = b'{"timestamp":"2025-07-20T08:26:40Z","message":"a b"}'
    escaped = b'{"timestamp":"2025-07-20T08:26:41Z","message":"a\\tb"}'  # orjson's turn
    blocks = [good + b"\n\n{bad\n", escaped + b"\r\n" + good + b"\n", good]
    terms: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    entries, lines, bad = speedups.ingest_blocks(blocks, 7, {}, *terms)
    assert lines == 6
    assert [e.message for e in entries] == ["a b", "a\tb", "a b", "a b"]
    assert bad == [(2, b"{bad\n")]  # the blank line is skipped in C, not handed back
    assert sorted(i for ids in terms[3].values() for i in ids) == sorted([7, 7, 8, 8, 9, 9,
                                                                          10, 10])
    with pytest.raises(TypeError):
        speedups.ingest_blocks(["text"], 0, {}, *terms)  # type: ignore[list-item]


def test_entries_from_blocks_reads_blocks_as_ingest_blocks_without_postings() -> None:
    assert speedups is not None
    good = b'{"timestamp":"2025-07-20T08:26:40Z","message":"a b"}'
    escaped = b'{"timestamp":"2025-07-20T08:26:41Z","message":"a\\tb"}'  # orjson's turn
    blocks = [good + b"\n\n{bad\n", escaped + b"\r\n" + good + b"\n", b"  \n" + good]
    for kernel in (speedups.entries_from_blocks, native.python.entries_from_blocks):
        entries, lines, bad = kernel(blocks)
        assert lines == 7
        assert [e.message for e in entries] == ["a b", "a\tb", "a b", "a b"]
        assert bad == [(2, b"{bad\n")]  # blank lines are skipped, not handed back
        assert kernel([]) == ([], 0, [])
        for wrong in (["text"], (good,), good, [bytearray(good)]):
            with pytest.raises(TypeError, match="entries_from_blocks expects a list of bytes"):
                kernel(wrong)  # type: ignore[arg-type]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(raw_json_lines(), max_size=12), cuts=st.lists(st.integers(0, 2000),
                                                                 max_size=4),
       first_id=st.integers(0, 2**31), end=st.sampled_from([b"", b"\n", b"\n\n"]))
def test_ingest_blocks_and_entries_from_blocks_equal_the_python_kernels(
    lines: list[bytes], cuts: list[int], first_id: int, end: bytes
) -> None:
    """The C splitter, parser and gatherer in one pass against the Python kernel: the same
    entries, line count, rejected lines (with their newline) and postings."""
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + end
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    blocks = [data[a:b] for a, b in pairwise(bounds)]  # lines may straddle blocks
    fast_terms: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    slow_terms: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    fast = speedups.ingest_blocks(blocks, first_id, {}, *fast_terms)
    slow = native.python.ingest_blocks(blocks, first_id, {}, *slow_terms)
    assert fast[1:] == slow[1:]
    assert len(fast[0]) == len(slow[0])
    for got, want in zip(fast[0], slow[0], strict=True):
        _same_entry(got, want)
    for got_terms, want_terms in zip(fast_terms, slow_terms, strict=True):
        assert {t: sorted(set(ids)) for t, ids in got_terms.items()} == {
            t: sorted(set(ids)) for t, ids in want_terms.items()}
    plain = speedups.entries_from_blocks(blocks)  # the same split and parse, no postings
    assert plain[1:] == slow[1:]
    assert len(plain[0]) == len(slow[0])
    for got, want in zip(plain[0], slow[0], strict=True):
        _same_entry(got, want)


def _records_alike(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for (gd, go, gk), (wd, wo, wk) in zip(got, want, strict=True):
        assert gd == wd
        assert go == wo
        assert (gk is None) == (wk is None)
        if gk is not None:
            assert {p: fingerprint(e) for p, e in gk.items()} == {
                p: fingerprint(e) for p, e in wk.items()}


_ASCII_WORDS = st.sampled_from(["", "a", "db", "timeout", "GET", "/api/v1", "x_y", "42"])
_ASCII_TEXT = st.lists(_ASCII_WORDS, max_size=6).map(" ".join)
_PLAIN_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0.5, -0.0, 1e22, 5e-324]),
    _ASCII_TEXT, st.sampled_from(["\u00e9t\u00e9", "tab\there"]))


@st.composite
def _common_lines(draw: st.DrawFn) -> bytes:
    """A JSON line of the shape ingest_records writes straight into records (and, now and
    then, a field that sends it to the entry path: a non-ASCII or escaped string, a long
    int, a repeated key, an unknown one, too many tags or keys)."""
    stamp = draw(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)))
    record: dict[str, Any] = {"timestamp": draw(st.sampled_from([
        stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00",
        stamp.strftime("%Y-%m-%d %H:%M:%S"), stamp.strftime("%Y-%m-%dT%H:%M:%S+02:00")]))}
    for key, values in (("level", st.sampled_from(["INFO", "ERROR", "warn", "Warning", None,
                                                    "FATAL", "trace"])),
                        ("message", _ASCII_TEXT), ("source", _ASCII_TEXT | st.none()),
                        ("thread_id", _ASCII_TEXT | st.none()),
                        ("request_id", _ASCII_TEXT | st.none()),
                        ("user_id", _ASCII_TEXT | st.none()),
                        ("tags", st.lists(_ASCII_TEXT, max_size=18) | st.none()),
                        ("metadata", st.dictionaries(_ASCII_TEXT, _PLAIN_VALUES, max_size=34)
                         | st.none())):
        if draw(st.integers(0, 3)):
            record[key] = draw(values)
    items = list(record.items())
    items = draw(st.permutations(items))
    text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in items) + "}"
    odd = draw(st.sampled_from(["", "", "", "", "repeat", "unknown", "unicode"]))
    if odd == "repeat" and items:
        text = text[:-1] + f",{json.dumps(items[0][0])}:{json.dumps(items[0][1])}}}"
    elif odd == "unknown":
        text = text[:-1] + ',"extra":1}'
    elif odd == "unicode":
        text = text.replace("db", "déb")
    return text.encode()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_common_lines() | raw_json_lines() | st.builds(
           lambda r, a: json.dumps(r, ensure_ascii=a).encode(), json_records(), st.booleans()),
           max_size=30),
       cuts=st.lists(st.integers(0, 4000), max_size=4), first_id=st.integers(0, 2**31),
       bits=st.integers(1, 4), final=st.booleans(), warm=st.booleans(),
       end=st.sampled_from([b"", b"\n"]))
def test_ingest_records_equals_the_python_kernel(
    lines: list[bytes], cuts: list[int], first_id: int, bits: int, final: bool, warm: bool,
    end: bytes,
) -> None:
    """Lines straight into records in C against the Python kernel (ingest_blocks' entries
    encoded chunk by chunk): the same record bytes, offsets and kept entries, instants,
    line count, rejected lines, lines left over, table admissions and postings."""
    from log_analytics_engine._native.records import new_tables

    assert speedups is not None
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + end
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    cut = [data[a:b] for a, b in pairwise(bounds)]
    blocks, acc = [], b""  # blocks of whole lines (the last may end without a newline)
    for part in cut:
        acc += part
        if b"\n" in acc:
            k = acc.rindex(b"\n") + 1
            blocks.append(acc[:k])
            acc = acc[k:]
    if acc:
        blocks.append(acc)
    tables = [new_tables((4, 16, 0)), new_tables((4, 16, 0))]
    if warm:  # tables already holding strings, some of them the lines'
        seed = [LogEntry("2025-07-20T08:26:40Z", "INFO", "a b c", "api", tags=["x"])] * 2
        for t in tables:
            speedups.encode_records(seed, t)
    terms: list[tuple[dict[str, Any], ...]] = [({}, {}, {}, {}), ({}, {}, {}, {})]
    fast = speedups.ingest_records(blocks, first_id, {}, *terms[0], tables[0], bits, final)
    slow = native.python.ingest_records(blocks, first_id, {}, *terms[1], tables[1], bits,
                                        final)
    assert fast[2:] == slow[2:]
    assert [repr(x) for x in fast[1]] == [repr(x) for x in slow[1]]
    _records_alike(fast[0], slow[0])
    assert [t[:5] for t in tables[0]] == [t[:5] for t in tables[1]]
    for got_terms, want_terms in zip(*terms, strict=True):
        assert {t: sorted(set(ids)) for t, ids in got_terms.items()} == {
            t: sorted(set(ids)) for t, ids in want_terms.items()}
    if final:
        assert fast[4] == b""
    # the records decode to the entries ingest_blocks builds
    entries = speedups.ingest_blocks(blocks[:], first_id, {}, {}, {}, {}, {})[0]
    if final:
        taken = speedups.take_entries(
            array("I", range(first_id, first_id + len(fast[1]))), fast[0], first_id >> bits,
            bits, fast[1], first_id, tables[0], [], first_id + len(fast[1]))
        assert [fingerprint(e) for e in taken] == [fingerprint(e) for e in entries]


def test_ingest_records_ends_a_batch_on_a_chunk_boundary() -> None:
    """Unless final, reading stops at a chunk boundary and hands back the lines after it;
    they are read with the next batch, and the two batches hold every line once."""
    from log_analytics_engine._native.records import new_tables

    assert speedups is not None
    line = b'{"timestamp":"2025-07-20T08:26:40Z","level":"ERROR","message":"disk full"}\n'
    tables = new_tables()
    chunks, stamps, lines, bad, rest = speedups.ingest_records(
        [line * 20], 0, {}, {}, {}, {}, {}, tables, 3, False)
    assert lines == len(stamps) == 16
    assert bad == []
    assert rest == line * 4
    assert [len(c[1]) for c in chunks] == [9, 9]  # two complete chunks of 8
    more = speedups.ingest_records([rest], 16, {}, {}, {}, {}, {}, tables, 3, True)
    assert more[2] == 4
    assert more[4] == b""
    assert len(more[0][0][1]) == 5


@given(first_id=st.integers(0, 2**40), top=st.floats(-5, 5) | st.just(float("-inf")),
       stamps=st.lists(st.floats(-5, 5) | st.just(float("nan")), max_size=40))
def test_split_ordered_equals_the_python_kernel(
    first_id: int, top: float, stamps: list[float]
) -> None:
    fast = speedups.split_ordered(first_id, stamps, top)
    slow = native.python.split_ordered(first_id, stamps, top)
    assert fast[0] == slow[0]
    assert fast[2] == slow[2]
    assert [repr(k) for k in fast[1]] == [repr(k) for k in slow[1]]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(raw_json_lines(), max_size=25), block=st.integers(16, 400),
       batch=st.integers(1, 9))
def test_file_ingestion_equals_the_python_reader_on_odd_lines(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], block: int, batch: int
) -> None:
    """ingest_blocks (lines split, parsed and indexed in C) against the pure-Python reader:
    the same entries, the same rejections with the same line numbers."""
    from unittest import mock

    path = tmp_path_factory.mktemp("odd") / "odd.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))

    def run() -> tuple[dict[str, Any], list[str]]:
        engine = LogAnalyticsEngine()
        with mock.patch.object(files, "READ_BLOCK", block):
            report = engine.ingest_logs_from_file(path, batch_size=batch)
        engine._check()
        del report["duration_sec"], report["logs_per_sec"]
        return report, [repr(sorted(e.to_dict().items())) for e in engine.all_logs]

    fast = run()
    with native.use_python():
        slow = run()
    assert fast == slow


# -- numeric metrics -----------------------------------------------------------------------
class _Float(float):
    pass


_METRIC_VALUES = st.one_of(
    st.floats(), st.sampled_from([0.0, -0.0, 0.0, -0.0, float("inf"), float("-inf")]),
    st.none(), st.text(max_size=2), st.booleans(), st.lists(st.integers(), max_size=1),
)


@settings(max_examples=300)
@given(values=st.lists(st.one_of(_METRIC_VALUES, st.just("missing")), max_size=30),
       odd=st.sampled_from([None, 1, 2**70, _Float(1.5)]), odd_at=st.integers(0, 30))
def test_sorted_numbers_equals_the_python_values(values: list[Any], odd: Any,
                                                 odd_at: int) -> None:
    """Floats sorted in C, 0.0 and -0.0 in arrival order as Python's stable sort leaves
    them; an int or a float subclass hands the field back to the Python path."""
    from log_analytics_engine.query import aggregate

    assert speedups is not None
    if odd is not None:
        values.insert(min(odd_at, len(values)), odd)
    entries = [LogEntry(0.0) for _ in values]
    for e, v in zip(entries, values, strict=True):  # raw values: set after construction
        e.metadata = {} if v == "missing" and type(v) is str else {"x": v}
    fast = speedups.sorted_numbers(entries, "x")
    with native.use_python():
        slow = aggregate.numeric_values(entries, "x")
    if odd is not None:
        assert fast is None
    else:
        assert fast is not None
        assert [repr(v) for v in fast] == [repr(v) for v in slow]


def test_sorted_numbers_hands_back_entries_it_does_not_know() -> None:
    assert speedups is not None

    class Sub(LogEntry):
        pass

    assert speedups.sorted_numbers([Sub(0.0, metadata={"x": 1.0})], "x") is None
    assert list(speedups.sorted_numbers([LogEntry(0.0, metadata={"x": 2.0}),
                                         LogEntry(0.0, metadata={"x": 1.0})], "x")) == [1.0, 2.0]


# -- counting values of a list of entries --------------------------------------------------
class _Sub(LogEntry):
    __slots__ = ()


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(sources=st.lists(st.sampled_from(["", "api", "db", "shop.api", "é"]), max_size=60),
       copies=st.booleans(), field=st.sampled_from(["source", "level"]),
       subclass=st.booleans())
def test_count_values_equals_a_counter(sources: list[str], copies: bool, field: str,
                                       subclass: bool) -> None:
    """Equal strings that are different objects meet in one count, listed in order of first
    appearance as a Counter lists them; a list holding anything but exact LogEntry objects
    is handed back (None)."""
    def text(s: str) -> str:  # a new str object with the same value
        return "".join(list(s)) if copies else s

    entries = [LogEntry(i, ("INFO", "ERROR")[i % 2], text(f"m{i % 3}"), text(s))
               for i, s in enumerate(sources)]
    if subclass and entries:
        entries[-1] = _Sub(0, "INFO", "m", "x")
        assert speedups is not None
        assert speedups.count_values(entries, field) is None
        return
    assert speedups is not None
    want = list(Counter(getattr(e, field) for e in entries).items())
    assert list(speedups.count_values(entries, field).items()) == want
    assert list(speedups.count_values(tuple(entries), field).items()) == want


def test_count_values_rejects_other_fields() -> None:
    assert speedups is not None
    for field in ("tags", "message"):
        with pytest.raises(ValueError, match=field):
            speedups.count_values([], field)


def test_count_values_hands_back_a_str_subclass() -> None:
    class Text(str):
        pass

    assert speedups is not None
    entry = LogEntry(0, "INFO", "m", "api")
    entry.source = Text("api")
    assert speedups.count_values([entry], "source") is None
    assert LogAnalyticsEngine.aggregate_logs([entry], group_by="source")["group_by"] == {
        "api": 1}
