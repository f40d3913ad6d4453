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
    got = words_array(entries)
    assert got.type == words_type()
    assert got.to_pylist() == want
    with native.use_python():
        assert words_array(entries).equals(got)


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
