"""The archive's words kernel: ``word_lists`` in C gives exactly what its Python
specification (``_native/python.py``) gives, and both give the words ``tokenize`` gives, in
the order the batch first used them; the words column built from it equals the column built
by the word index's own gatherer (the path it replaced)."""

from __future__ import annotations

from array import array
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import archive_specs

from log_analytics_engine import LogEntry
from log_analytics_engine import _native as native
from log_analytics_engine._native import speedups
from log_analytics_engine.model.tokenize import tokenize, tokenize_many

pa = pytest.importorskip("pyarrow")

from log_analytics_engine.storage.archive_format import words_array, words_type  # noqa: E402

_WORDISH = st.text(st.sampled_from("aAbB_9 -.,:ßẞﬁİı👍\x00\u0301é\té\n"), max_size=12)
_MESSAGES = st.lists(st.one_of(_WORDISH, st.text(max_size=20),
                               st.sampled_from(["", "  ", "db timeout", "DB Timeout db"])),
                     max_size=30)


def _decoded(result: tuple[list[str], bytes, bytes]) -> list[list[str]]:
    terms, codes, offsets = result
    c, o = array("i"), array("i")
    c.frombytes(codes)
    o.frombytes(offsets)
    return [[terms[k] for k in c[o[i]:o[i + 1]]] for i in range(len(o) - 1)]


def _check_shape(messages: list[str], result: tuple[list[str], bytes, bytes]) -> None:
    terms, codes, offsets = result
    o = array("i")
    o.frombytes(offsets)
    assert len(o) == len(messages) + 1
    assert o[0] == 0
    assert o[-1] * 4 == len(codes)
    lists = _decoded(result)
    for message, got in zip(messages, lists, strict=True):
        assert set(got) == tokenize(message)
        assert len(got) == len(set(got))
    # terms numbered in first use: each list ascends; terms are listed in that order
    first_use = list(dict.fromkeys(w for toks in tokenize_many(messages) for w in toks))
    assert terms == first_use
    for got in lists:
        codes_of = [terms.index(w) for w in got]
        assert codes_of == sorted(codes_of)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_MESSAGES)
def test_python_word_lists_is_tokenize_in_first_use_order(messages: list[str]) -> None:
    _check_shape(messages, native.python.word_lists(messages))


@pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(_MESSAGES)
def test_c_word_lists_equals_the_python_kernel(messages: list[str]) -> None:
    assert speedups is not None
    got = speedups.word_lists(messages)
    assert got == native.python.word_lists(messages)
    _check_shape(messages, got)


@pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")
def test_c_word_lists_sorts_long_runs_and_many_terms() -> None:
    assert speedups is not None
    messages = [" ".join(f"w{(i * 7 + k) % 500}" for k in range(300)) + " common"
                for i in range(40)] + ["", "common w1"]
    assert speedups.word_lists(messages) == native.python.word_lists(messages)


@pytest.mark.parametrize("kernel", ["c", "python"])
def test_word_lists_rejects_what_is_not_a_list_of_str(kernel: str) -> None:
    if kernel == "c" and speedups is None:
        pytest.skip("the C accelerator is not built")
    fn: Any = speedups.word_lists if kernel == "c" else native.python.word_lists  # type: ignore[union-attr]
    with pytest.raises(TypeError):
        fn(("a", "b"))
    with pytest.raises(TypeError):
        fn(["a", b"b"])
    assert fn([]) == ([], b"", b"\x00\x00\x00\x00")


def _gathered_words(entries: list[LogEntry]) -> list[list[str]]:
    """The words column as the index's gatherer defines it (the path word_lists replaced):
    each entry's distinct words, ordered by the batch's first use."""
    postings: dict[str, Any] = {}
    native.python.gather(list(entries), 0, {}, {}, {}, {}, postings, None)
    order = {t: k for k, t in enumerate(postings)}
    rows: list[set[str]] = [set() for _ in entries]
    for term, ids in postings.items():
        for i in ids:
            rows[i].add(term)
    return [sorted(r, key=order.__getitem__) for r in rows]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_MESSAGES)
def test_words_column_equals_the_gatherers_words_on_both_kernels(messages: list[str]) -> None:
    entries = [LogEntry(i, "INFO", m) for i, m in enumerate(messages)]
    want = _gathered_words(entries)
    got = words_array(messages)
    assert got.type == words_type()
    assert got.to_pylist() == want
    with native.use_python():
        assert words_array(messages).equals(got)


# -- text columns straight into Arrow buffers ---------------------------------------------
_TEXT = st.one_of(st.none(), st.text(max_size=12), _WORDISH,
                  st.sampled_from(["", "é", "👍", "\x00", "\ud800"]))


def _outcome(kernel: Any, values: Any) -> Any:
    try:
        return kernel(values)
    except (TypeError, ValueError, OverflowError) as exc:  # UnicodeEncodeError: a ValueError
        return type(exc)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TEXT, max_size=40))
def test_python_string_buffers_are_the_arrow_string_array(values: list[Any]) -> None:
    got = _outcome(native.python.string_buffers, values)
    if isinstance(got, type):  # a lone surrogate: not UTF-8, pa.array refuses it too
        assert got is UnicodeEncodeError
        assert any(isinstance(v, str) and "\ud800" in v for v in values)
        return
    offsets, data, valid = got
    arr = pa.Array.from_buffers(pa.string(), len(values), [
        None if valid is None else pa.py_buffer(valid), pa.py_buffer(offsets),
        pa.py_buffer(data)])
    arr.validate(full=True)
    assert arr.to_pylist() == values
    assert (valid is None) == (None not in values)


@pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_TEXT, st.integers(), st.binary(max_size=3)), max_size=40))
def test_c_string_buffers_equal_the_python_kernel(values: list[Any]) -> None:
    assert speedups is not None
    assert _outcome(speedups.string_buffers, values) == _outcome(
        native.python.string_buffers, values)


@pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.one_of(st.text(max_size=6), st.sampled_from(["\ud800", "é"])),
                         max_size=5), max_size=30))
def test_c_string_list_buffers_equal_the_python_kernel(lists: list[list[str]]) -> None:
    assert speedups is not None
    got = _outcome(speedups.string_list_buffers, lists)
    assert got == _outcome(native.python.string_list_buffers, lists)
    if not isinstance(got, type):
        list_offsets, offsets, data = got
        flat = pa.Array.from_buffers(pa.string(), len(offsets) // 4 - 1, [
            None, pa.py_buffer(offsets), pa.py_buffer(data)])
        starts = pa.Array.from_buffers(pa.int32(), len(lists) + 1, [
            None, pa.py_buffer(list_offsets)])
        assert pa.ListArray.from_arrays(starts, flat).to_pylist() == lists


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TEXT, max_size=30), st.lists(st.lists(st.text(max_size=4), max_size=3),
                                              max_size=30))
def test_text_columns_equal_pa_array_whatever_the_values(values: list[Any],
                                                         lists: list[list[str]]) -> None:
    from log_analytics_engine.storage.archive_format import text_array, text_list_array

    try:
        want = pa.array(values, pa.string())
    except (pa.ArrowException, UnicodeError) as exc:
        with pytest.raises(type(exc)):
            text_array(values)
    else:
        got = text_array(values)
        got.validate(full=True)
        assert got.equals(want)
    assert text_list_array(lists).equals(pa.array(lists, pa.list_(pa.string())))


@pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")
def test_string_kernels_refuse_what_is_not_a_list() -> None:
    assert speedups is not None
    for kernel in (speedups.string_buffers, speedups.string_list_buffers,
                   native.python.string_buffers, native.python.string_list_buffers):
        with pytest.raises(TypeError):
            kernel(("a", "b"))
    with pytest.raises(TypeError):
        speedups.string_list_buffers([["a"], "b"])


# -- entry_columns: every plain column of a batch in one pass --------------------------------
class _Entry(LogEntry):
    __slots__ = ()


def _column_outcome(kernel: Any, entries: list[Any], order: Any) -> Any:
    try:
        return kernel(entries, order)
    except (TypeError, ValueError, OverflowError, IndexError) as exc:
        return type(exc)


_ODD_ROWS = st.one_of(
    st.builds(lambda s: s.build(), archive_specs),
    st.sampled_from([None, "not an entry", 3]),
    st.builds(lambda i: LogEntry(i, "INFO", "a number as the timestamp"), st.integers(0, 99)),
    st.builds(lambda m: _Entry("2025-07-21T10:00:00Z", "INFO", m), st.text(max_size=4)),
    st.builds(lambda t: LogEntry("2025-07-21T10:00:00Z", "INFO", "x", tags=[t]),
              st.sampled_from(["\ud800", "é", ""])),
)


@pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.builds(lambda s: s.build(), archive_specs), max_size=25), st.data())
def test_c_entry_columns_equal_the_python_kernel(entries: list[LogEntry],
                                                 data: st.DataObject) -> None:
    assert speedups is not None
    n = len(entries)
    order = data.draw(st.one_of(st.none(), st.permutations(range(n)).map(list),
                                st.lists(st.integers(-2, n + 1), max_size=30)))
    if data.draw(st.booleans()) and n:
        entries[data.draw(st.integers(0, n - 1))] = data.draw(_ODD_ROWS)
    got = _column_outcome(speedups.entry_columns, entries, order)
    assert got == _column_outcome(native.python.entry_columns, entries, order)
    if not isinstance(got, type):  # the buffers are the columns of the rows taken
        rows = entries if order is None else [entries[k] for k in order]
        instants, texts, _, messages, mds = got
        assert array("d", instants).tolist() == [e.ts for e in rows]
        assert messages == [e.message for e in rows]
        assert mds == [e.metadata for e in rows]
        for name, (offsets, data_, valid) in zip(native.python.ENTRY_TEXT, texts, strict=True):
            column = pa.Array.from_buffers(pa.string(), len(rows), [
                None if valid is None else pa.py_buffer(valid), pa.py_buffer(offsets),
                pa.py_buffer(data_)])
            column.validate(full=True)
            assert column.to_pylist() == [getattr(e, name) for e in rows]


@pytest.mark.skipif(speedups is None, reason="the C accelerator is not built")
def test_entry_columns_read_lazy_entries_whole() -> None:
    from log_analytics_engine import LogAnalyticsEngine

    assert speedups is not None
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(f"2025-07-21T10:00:{i % 60:02d}Z", "INFO", f"m {i}",
                                 request_id=f"r{i}", tags=["t"]) for i in range(3000)])
    lazy = engine.query_logs({}, page_size=None)
    fresh = [LogEntry(e.timestamp, e.level, e.message, source=e.source,
                      request_id=e.request_id, tags=list(e.tags)) for e in lazy]
    lazy = engine.query_logs({}, page_size=None)  # fresh lazy entries: nothing read yet
    assert speedups.entry_columns(lazy, None) == speedups.entry_columns(fresh, None)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ODD_ROWS.filter(lambda e: isinstance(e, LogEntry)), max_size=20))
def test_entries_table_is_the_same_on_either_path(entries: list[LogEntry]) -> None:
    from log_analytics_engine.storage.archive_format import entries_table

    ids = list(range(len(entries)))
    got = entries_table(entries, ids)
    got.validate(full=True)
    with native.use_python():
        assert entries_table(entries, ids).equals(got)


# -- json_array_buffers: the metadata column from one dump of the batch ----------------------
_META = st.one_of(st.none(), st.just({}), st.dictionaries(
    st.text(max_size=4), st.recursive(
        st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False)
        | st.text(st.characters(blacklist_categories=("Cs",)), max_size=6),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                   max_size=3),
        max_leaves=6), max_size=4))


def _column_of(buffers: Any, n: int) -> Any:
    offsets, data, valid = buffers
    column = pa.Array.from_buffers(pa.string(), n, [
        None if valid is None else pa.py_buffer(valid), pa.py_buffer(offsets),
        pa.py_buffer(data)])
    column.validate(full=True)
    return column


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_META, max_size=30))
def test_json_array_buffers_are_each_element_dumped_alone(mds: list[Any]) -> None:
    import orjson

    from log_analytics_engine.storage.codec import OPTIONS, default

    whole = orjson.dumps([md if md else None for md in mds], default=default, option=OPTIONS)
    want = [orjson.dumps(md, default=default, option=OPTIONS).decode() if md else None
            for md in mds]
    got = native.python.json_array_buffers(whole, len(mds))
    assert _column_of(got, len(mds)).to_pylist() == want
    if speedups is not None:
        assert speedups.json_array_buffers(whole, len(mds)) == got


_NOT_ARRAYS = st.one_of(
    st.binary(max_size=12),
    st.sampled_from([b"[", b"]", b"[]]", b"[[1]", b"[1,]", b"[,1]", b'["]', b'["a\\"]',
                     b"[1]]", b"[{]}", b"{}", b"[}", b"[1],[2]", b"[null,null]", b"[1,2]"]),
)


@settings(max_examples=400)
@given(_NOT_ARRAYS, st.integers(0, 3))
def test_c_json_array_buffers_refuse_what_the_python_kernel_refuses(data: bytes, n: int) -> None:
    def outcome(kernel: Any) -> Any:
        try:
            return kernel(data, n)
        except (ValueError, OverflowError) as exc:
            return type(exc)

    want = outcome(native.python.json_array_buffers)
    if speedups is not None:
        assert outcome(speedups.json_array_buffers) == want


def test_the_metadata_column_is_the_same_on_either_path() -> None:
    from log_analytics_engine.storage.archive_format import metadata_array

    mds: list[Any] = [{"a": 1.5, "b": 'x"y\\'}, {}, {"n": [1, {"k": None}]}, {"é": "👍"}, {}]
    got = metadata_array(mds)
    with native.use_python():
        assert metadata_array(mds).equals(got)
    assert got.to_pylist()[1] is None
