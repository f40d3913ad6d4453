"""The bulk import's column path: ``archive_columns`` (JSON lines straight to the archive's
column buffers, no LogEntry per line) in C gives what its Python specification gives, and
the segments the import builds from those columns (``hour_segments``) equal, column for
column, the segments the entry path builds (``hour_tables`` over ``read_entries``), for
hostile lines, every number notation, odd Unicode, many metadata fields and late arrivals."""

from __future__ import annotations

import io
import json
from array import array
from itertools import pairwise
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from strategies import raw_json_lines

from log_analytics_engine import _native as native
from log_analytics_engine._native import speedups
from log_analytics_engine.ingest.files import IngestReport, read_entries
from log_analytics_engine.storage.codec import dumps

pa = pytest.importorskip("pyarrow")

from log_analytics_engine.storage.archive_batches import (  # noqa: E402
    _kernel_batch,
    entries_batch,
    hour_segments,
    read_batches,
)
from log_analytics_engine.storage.archive_format import hour_tables  # noqa: E402

needs_c = pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")

_STAMP = '"timestamp":"2025-07-20T{:02d}:{:02d}:40.5Z"'


def _columns_table(got: Any) -> Any:
    """An archive_columns result as one comparable table (buffers may be longer)."""
    if got is None:
        return None
    rows, count, bad, (instants, texts, tags, fields) = got
    text = pa.string()
    cols = {"instant": pa.Array.from_buffers(pa.float64(), rows, [None, pa.py_buffer(instants)])}
    for name, (offsets, data, valid) in zip(native.python.ARCHIVE_TEXT, texts, strict=True):
        cols[name] = pa.Array.from_buffers(text, rows, [
            None if valid is None else pa.py_buffer(valid), pa.py_buffer(offsets),
            pa.py_buffer(data)])
    list_offsets, offsets, data = tags
    flat = pa.Array.from_buffers(text, len(offsets) // 4 - 1, [
        None, pa.py_buffer(offsets), pa.py_buffer(data)])
    starts = pa.Array.from_buffers(pa.int32(), rows + 1, [None, pa.py_buffer(list_offsets)])
    cols["tags"] = pa.ListArray.from_arrays(starts, flat)
    numbers = {}
    for name, kinds, values in fields:
        k = list(kinds[:rows])
        v = array("d")
        v.frombytes(values[:8 * rows])
        # a value is meaningful where the kind says float; repr keeps -0.0 apart
        numbers[name] = (k, [repr(x) if kind == 1 else None for x, kind in zip(v, k, strict=True)])
    return count, bad, pa.table(cols), list(numbers.items())


def _blocks(lines: list[bytes], cuts: list[int], end: bytes) -> list[bytes]:
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + end
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    return [data[a:b] for a, b in pairwise(bounds)]


def _whole_blocks(lines: list[bytes], end: bytes) -> list[bytes]:
    """archive_columns takes blocks of whole lines (the file reader's): one block."""
    return [b"\n".join(line.replace(b"\n", b" ") for line in lines) + end]


_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_FLOAT_TOKENS = st.one_of(
    _FLOATS.map(repr), _FLOATS.map(lambda f: f"{f:.17g}"), _FLOATS.map(lambda f: f"{f:.3f}"),
    _FLOATS.map(lambda f: f"{f:e}"), _FLOATS.map(lambda f: f"{f:.15f}"),
    st.tuples(st.integers(-(10**16), 10**16), st.integers(0, 20)).map(
        lambda t: f"{t[0] / 10**t[1]:.{t[1]}f}" if t[1] else f"{t[0]}.0"),
    st.sampled_from(["0.0", "-0.0", "100.0", "1.50", "0.0001", "0.00001", "1e3", "1E-4",
                     "123456789012345.0", "999999999999999.9", "1234567890123456.0",
                     "0.000123456789012345", "5e-324", "1.7976931348623157e308"]))


@st.composite
def _metadata_lines(draw: st.DrawFn) -> bytes:
    """A line of the common shape whose metadata holds numbers in every notation, plain and
    other names, and the other scalar kinds."""
    keys = draw(st.lists(st.sampled_from(["a", "b_1", "_x", "latency_ms", "a-b", "1a", "é",
                                          "level", "n"]), unique=True, max_size=6))
    values = [draw(st.one_of(_FLOAT_TOKENS, st.integers(-(2**63), 2**63 - 1).map(str),
                             st.sampled_from(["true", "false", "null", '"x"', "-0"])))
              for _ in keys]
    md = ",".join(f'"{k}":{v}' for k, v in zip(keys, values, strict=True))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    return ("{" + _STAMP.format(hour, minute) + ',"level":"info","message":"m x",'
            '"metadata":{' + md + "}}").encode()


_LINES = st.lists(st.one_of(raw_json_lines(), _metadata_lines()), max_size=12)


@needs_c
@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(lines=_LINES, end=st.sampled_from([b"", b"\n", b"\n\n"]))
@example(lines=[b'{"timestamp":"2025-07-20T08:26:40Z","metadata":{"x":1.50,"y":1e3}}'],
         end=b"\n")
def test_c_archive_columns_equal_the_python_kernel(lines: list[bytes], end: bytes) -> None:
    blocks = _whole_blocks(lines, end)
    want: Any
    try:
        want = _columns_table(native.python.archive_columns(blocks, dumps))
    except (TypeError, ValueError) as exc:  # both hand the blocks back the same way
        want = type(exc)
    got: Any
    try:
        got = _columns_table(speedups.archive_columns(blocks, dumps))
    except (TypeError, ValueError) as exc:
        got = type(exc)
    if isinstance(want, tuple) and isinstance(got, tuple):
        assert got[:2] == want[:2]
        assert got[2].equals(want[2]), (got[2].to_pylist(), want[2].to_pylist())
        assert got[3] == want[3]
    else:
        assert got == want


@needs_c
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_FLOAT_TOKENS)
def test_a_float_is_written_as_orjson_writes_the_value_the_engine_parsed(token: str) -> None:
    line = ("{" + _STAMP.format(8, 0) + ',"metadata":{"x":' + token + "}}").encode()
    expected = native.python.archive_columns([line], dumps)
    got = speedups.archive_columns([line], dumps)
    assert expected is not None
    assert got is not None
    if not expected[0]:  # a number the engine rejects (1e400): rejected by both
        assert got[:3] == expected[:3]
        return
    _, _, _, (_, texts, _, _) = got
    offsets, data, _ = texts[-1]
    end = array("i")
    end.frombytes(offsets[4:8])
    value = orjson.loads(line)["metadata"]["x"]
    assert data[:end[0]] == orjson.dumps({"x": value})


@needs_c
def test_more_than_64_numeric_fields_hand_the_blocks_back() -> None:
    md = ",".join(f'"f{k}":{k}.5' for k in range(65))
    line = ("{" + _STAMP.format(8, 0) + ',"metadata":{' + md + "}}").encode()
    assert speedups.archive_columns([line], dumps) is None
    assert native.python.archive_columns([line], dumps) is None
    assert _kernel_batch([line]) is None  # the import then takes the entries path
    few = ("{" + _STAMP.format(8, 0) + ',"metadata":{"a":1.5}}').encode()
    assert speedups.archive_columns([few], dumps) is not None


@needs_c
def test_archive_columns_refuse_what_is_not_a_list_of_bytes() -> None:
    for bad in ([b"x", "y"], (b"x",)):
        with pytest.raises(TypeError):
            speedups.archive_columns(bad, dumps)  # type: ignore[arg-type]


def _segments_by_entries(data: bytes) -> tuple[list[tuple[str, Any]], IngestReport]:
    report = IngestReport("x", "jsonl")
    entries = [e for batch in read_entries(io.BufferedReader(io.BytesIO(data)), "jsonl",
                                           report, 7) for e in batch]
    return hour_tables(entries, range(len(entries))), report


def _segments_by_columns(data: bytes) -> tuple[list[tuple[str, Any]], IngestReport]:
    report = IngestReport("x", "jsonl")
    batches = list(read_batches(io.BufferedReader(io.BytesIO(data)), "jsonl", report, 7))
    if not batches:
        return [], report
    whole = pa.concat_tables(batches, promote_options="default")
    return hour_segments(whole, 0), report


def _same_segments(got: list[tuple[str, Any]], want: list[tuple[str, Any]]) -> None:
    assert [hour for hour, _ in got] == [hour for hour, _ in want]
    for (_, g), (_, w) in zip(got, want, strict=True):
        assert g.schema.equals(w.schema, check_metadata=True)
        for name in w.column_names:
            assert g.column(name).to_pylist() == w.column(name).to_pylist(), name
        # -0.0 and 0.0 compare equal: the bits of the float columns too
        for name in w.column_names:
            if pa.types.is_floating(w.schema.field(name).type):
                assert [repr(x) for x in g.column(name).to_pylist()] == [
                    repr(x) for x in w.column(name).to_pylist()], name


@pytest.mark.parametrize("kernels", ["c", "python"])
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.function_scoped_fixture])
@given(lines=_LINES)
def test_the_import_builds_the_segments_the_entry_path_builds(kernels: str,
                                                              lines: list[bytes]) -> None:
    if kernels == "c" and speedups is None:
        pytest.skip("the C accelerator is not built")
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n"
    if kernels == "python":
        with native.use_python():
            want, want_report = _segments_by_entries(data)
            got, got_report = _segments_by_columns(data)
    else:
        want, want_report = _segments_by_entries(data)
        got, got_report = _segments_by_columns(data)
    _same_segments(got, want)
    assert got_report.to_dict()["rejected"] == want_report.to_dict()["rejected"]
    assert got_report.errors == want_report.errors


def test_late_arrivals_many_fields_and_unicode_give_the_entry_paths_segments() -> None:
    """A shape the generator above rarely draws: hours out of order, ties, a field that is
    an int in one batch and a float in another, more than 64 numeric fields in a block."""
    rows = []
    for i in range(300):
        hour = (i * 7) % 5
        md: dict[str, Any] = {"latency_ms": i / 4, "n": i, "mixed": i if i % 50 else 0.5}
        if i % 97 == 0:
            md.update({f"f{k}": k + 0.25 for k in range(70)})
        rows.append(json.dumps({
            "timestamp": f"2025-07-20T0{hour}:00:{i % 3:02d}Z", "level": "warn",
            "message": ["café au lait", "db timeout", "Straße ﬁle 👍", ""][i % 4],
            "tags": ["eu", "é"][: i % 3], "source": "api", "user_id": f"u{i % 7}",
            "metadata": md}, ensure_ascii=i % 2 == 0).encode())
    data = b"\n".join(rows) + b"\n"
    want, want_report = _segments_by_entries(data)
    got, got_report = _segments_by_columns(data)
    assert len(want) == 5
    _same_segments(got, want)
    assert want_report.errors == got_report.errors == 0


def test_entries_batch_and_kernel_batch_carry_the_same_hidden_columns() -> None:
    lines = [("{" + _STAMP.format(8, k) + ',"metadata":{"a":' + v + "}}").encode()
             for k, v in enumerate(["1.5", "2", '"x"', "null"])]
    entries = [e for batch in read_entries(io.BufferedReader(io.BytesIO(b"\n".join(lines))),
                                           "jsonl", IngestReport("x", "jsonl")) for e in batch]
    by_entries = entries_batch(entries)
    assert by_entries.column("\x00kind:a").to_pylist() == [1, 2, 0, 0]
    if speedups is not None:
        got = _kernel_batch(lines)
        assert got is not None
        assert got[0] is not None
        assert got[0].equals(by_entries)


@pytest.mark.parametrize("kernel", ["c", "python"])
def test_word_lists_utf8_is_word_lists_of_the_decoded_rows(kernel: str) -> None:
    if kernel == "c" and speedups is None:
        pytest.skip("the C accelerator is not built")
    fn = speedups.word_lists_utf8 if kernel == "c" else native.python.word_lists_utf8
    messages = ["db timeout", "Café au LAIT", "", "Straße ﬁle", "x y x", "👍 ok"]
    arr = pa.array(["skip", *messages, "after"])
    part = arr.slice(1, len(messages))
    _, offsets, data = part.buffers()
    assert fn(offsets, data, part.offset, len(part)) == native.python.word_lists(messages)
    with pytest.raises(ValueError):
        fn(offsets, data, part.offset, len(arr) + 5)
    with pytest.raises(ValueError):
        fn(array("i", [0, 10]).tobytes(), b"abc", 0, 1)
    with pytest.raises(UnicodeDecodeError):
        fn(array("i", [0, 1]).tobytes(), b"\xff", 0, 1)


@needs_c
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=15), max_size=20), st.integers(0, 3))
def test_c_word_lists_utf8_equals_the_python_kernel(messages: list[str], skip: int) -> None:
    clean = [m.encode("utf-8", "replace").decode() for m in messages]
    arr = pa.array(["pad"] * skip + clean, pa.string())
    _, offsets, data = arr.buffers()
    data = b"" if data is None else data
    assert speedups.word_lists_utf8(offsets, data, skip, len(clean)) == \
        native.python.word_lists_utf8(offsets, data, skip, len(clean))


def test_a_key_ending_in_a_newline_is_not_a_plain_name(tmp_path: Any) -> None:
    """``re``'s ``$`` also matches before a final newline: ``"a\\n"`` once got a typed copy
    column ``num_a\\n``. Now no kernel takes it for a plain name, and a query on it reads the
    JSON and answers as the engine does."""
    from log_analytics_engine import Archive, LogAnalyticsEngine
    from log_analytics_engine.storage.archive_format import float_columns
    from log_analytics_engine.storage.archive_writer import archive_files

    assert float_columns([{"a\n": 1.5, "a": 2.5}]) == {"a": [2.5]}
    lines = [json.dumps({"timestamp": f"2025-07-20T08:00:0{k}Z", "message": "m",
                         "metadata": {"a\n": k + 0.5}}) for k in range(4)]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    archive_files([path], tmp_path / "arch")
    [segment] = list((tmp_path / "arch").rglob("*.parquet"))
    assert not [n for n in pa.parquet.read_schema(segment).names if n.startswith("num_")]
    engine = LogAnalyticsEngine()
    engine.ingest_logs_from_file(path)
    metrics = [("sum", "a\n"), ("max", "a\n")]
    want = engine.aggregate(group_by="level", metrics=metrics)
    assert want == {"INFO": {"sum_a\n": 8.0, "max_a\n": 3.5}}
    assert Archive(tmp_path / "arch").aggregate(group_by="level", metrics=metrics) == want
