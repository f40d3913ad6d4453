"""The numeric-column kernels: C (``_speedups``) against their Python specification.

``numeric_column`` reads a metadata field into a float64 column, ``gather_numbers`` takes a
group's numbers from it, ``summarize_numbers`` computes the exact sum and the percentiles.
Each C kernel must give exactly what the Python one gives: the same floats bit for bit
(signed zeros, infinities, NaN from inf - inf), the same ids, the same errors.
"""

from __future__ import annotations

import enum
import math
import random
import struct
from array import array
from typing import Any

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine import LogEntry
from log_analytics_engine import _native as native
from log_analytics_engine._native import python

speedups = native.speedups
needs_c = pytest.mark.skipif(speedups is None, reason="the C extension is not built")


class Code(enum.IntEnum):
    A = 3


class Ms(float):
    pass


_EDGE_INTS = (0, 1, -1, 2**53, -(2**53), 2**53 + 1, -(2**53) - 1, 2**63, -(2**64), 10**30)
values = st.one_of(
    st.integers(-1000, 1000),
    st.sampled_from(_EDGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from((0.0, -0.0, 5e-324, 1e308, -1e308, math.inf, -math.inf, math.nan)),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.just([1, 2]),
    st.just(Code.A),
    st.builds(Ms, st.floats(-10, 10)),
)
#: A metadata value, or the key missing (the sentinel).
MISSING = object()
cells = st.one_of(values, st.just(MISSING))


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _same_floats(a: Any, b: Any) -> bool:
    return len(a) == len(b) and all(_bits(x) == _bits(y) for x, y in zip(a, b, strict=True))


def _entries(cells_: list[Any]) -> list[LogEntry]:
    return [LogEntry(i, metadata={} if v is MISSING else {"x": v})
            for i, v in enumerate(cells_)]


@needs_c
@settings(max_examples=examples(1.0))
@given(cells_=st.lists(cells, max_size=60), first=st.integers(0, 2**32 - 100))
def test_numeric_column_equals_the_python_column(cells_: list[Any], first: int) -> None:
    entries = _entries(cells_)
    fast = speedups.numeric_column(entries, "x", first)
    slow = python.numeric_column(entries, "x", first)
    assert _same_floats(fast[0], slow[0])
    assert fast[1] == slow[1]
    assert fast[2] == slow[2]
    assert all(type(a) is array for a in fast)


@needs_c
def test_numeric_column_hands_back_entries_it_does_not_read() -> None:
    class Sub(LogEntry):
        pass

    assert speedups.numeric_column([Sub(0, metadata={"x": 1})], "x", 0) is None
    odd = LogEntry(0)
    odd.metadata = type("D", (dict,), {})(x=1)  # a dict subclass may override .get
    assert speedups.numeric_column([odd], "x", 0) is None


@needs_c
def test_numeric_column_refuses_ids_beyond_32_bits() -> None:
    with pytest.raises(OverflowError):
        speedups.numeric_column(_entries([1, 2]), "x", 2**32 - 1)


@needs_c
@settings(max_examples=examples(1.0))
@given(cells_=st.lists(st.one_of(st.floats(), st.integers(-3, 3).map(float),
                                 st.sampled_from((0.0, -0.0, math.nan))), max_size=50),
       data=st.data(), first=st.integers(0, 1000))
def test_gather_numbers_equals_the_python_gather(
    cells_: list[float], data: st.DataObject, first: int
) -> None:
    column = array("d", cells_)
    ids = array("I", data.draw(st.lists(st.integers(first, first + len(cells_) - 1),
                                        max_size=80)) if cells_ else [])
    fast_out, slow_out = array("d", [7.0] * len(ids)), array("d", [7.0] * len(ids))
    fast = speedups.gather_numbers(ids, column, first, fast_out)
    slow = python.gather_numbers(ids, column, first, slow_out)
    assert fast == slow
    assert _same_floats(fast_out, slow_out)


@pytest.mark.parametrize("kernel", ["c", "python"])
def test_gather_numbers_refuses_ids_outside_the_column(kernel: str) -> None:
    if kernel == "c" and speedups is None:
        pytest.skip("the C extension is not built")
    gather = speedups.gather_numbers if kernel == "c" else python.gather_numbers
    out = array("d", [0.0] * 4)
    with pytest.raises(IndexError):
        gather(array("I", [5, 9]), array("d", [1.0, 2.0]), 5, out)
    with pytest.raises(IndexError):
        gather(array("I", [4]), array("d", [1.0, 2.0]), 5, out)
    with pytest.raises(ValueError, match="room"):
        gather(array("I", [5, 5, 5, 5, 5]), array("d", [1.0, 2.0]), 5, out)


def _outcome(kernel: Any, vals: list[float], qs: list[float], total: bool) -> Any:
    try:
        s, ps = kernel(array("d", vals), qs, total)
    except (OverflowError, ValueError) as exc:
        return type(exc), str(exc)
    return ("ok", None if s is None else _bits(s), [_bits(p) for p in ps])


numbers = st.one_of(
    st.floats(allow_nan=False),
    st.integers(-5, 5).map(float),
    st.sampled_from((0.0, -0.0, math.inf, -math.inf, 1e308, -1e308, 5e-324, 2.0**53)),
)
quantiles = st.lists(st.sampled_from((0.0, 50.0, 90.0, 95.0, 99.0, 100.0))
                     | st.floats(0, 100), max_size=6)


@needs_c
@settings(max_examples=examples(2.0))
@given(vals=st.lists(numbers, min_size=1, max_size=200), qs=quantiles, total=st.booleans())
def test_summarize_numbers_equals_the_python_summary(
    vals: list[float], qs: list[float], total: bool
) -> None:
    assert _outcome(speedups.summarize_numbers, vals, qs, total) == _outcome(
        python.summarize_numbers, vals, qs, total)


@needs_c
@pytest.mark.parametrize("shape", ["random", "sorted", "reversed", "equal", "organ", "few"])
def test_summarize_numbers_on_large_inputs(shape: str) -> None:
    """Selection over large inputs of shapes that break naive pivots."""
    rng = random.Random(7)
    n = 50_001
    vals = {
        "random": [rng.lognormvariate(3.5, 1.0) for _ in range(n)],
        "sorted": [float(i) for i in range(n)],
        "reversed": [float(n - i) for i in range(n)],
        "equal": [2.5] * n,
        "organ": [float(min(i, n - i)) for i in range(n)],
        "few": [float(rng.randrange(4)) for _ in range(n)],
    }[shape]
    qs = [50.0, 90.0, 95.0, 99.0, 0.0, 100.0, 33.3]
    assert _outcome(speedups.summarize_numbers, vals, qs, True) == _outcome(
        python.summarize_numbers, vals, qs, True)


@pytest.mark.parametrize("kernel", ["c", "python"])
def test_summarize_numbers_keeps_the_errors_of_fsum(kernel: str) -> None:
    if kernel == "c" and speedups is None:
        pytest.skip("the C extension is not built")
    summarize = speedups.summarize_numbers if kernel == "c" else python.summarize_numbers
    with pytest.raises(OverflowError, match="intermediate overflow"):
        summarize(array("d", [1e308, 1e308]), [], True)
    with pytest.raises(ValueError, match="-inf"):
        summarize(array("d", [math.inf, -math.inf]), [], True)
    assert summarize(array("d", [1e308, -1e308, 1e308]), [], True)[0] == 1e308
    assert summarize(array("d", [math.inf, math.inf]), [50.0], False)[1][0] != 0  # nan
    with pytest.raises(ValueError):
        summarize(array("d"), [50.0], True)
    with pytest.raises(ValueError):
        summarize(array("d", [1.0]), [101.0], True)
