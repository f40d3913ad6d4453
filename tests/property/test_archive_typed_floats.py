"""Percentiles, min, max and counts of a float metadata field over the archive's typed DOUBLE
copy (the order statistics picked from unsorted lists) equal the in-memory engine's bit for
bit: random floats with ties, -0.0 next to 0.0, huge and tiny magnitudes, fields missing or
not numbers, groups of zero, one, two and more values, by level and by level and time bucket.
"""

from __future__ import annotations

import math
import tempfile
from typing import Any

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from archive_helpers import write_cut
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from log_analytics_engine import Archive, LogAnalyticsEngine, LogEntry
from log_analytics_engine.storage.archive_writer import SegmentWriter

pytestmark = pytest.mark.property

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
SPECIAL = (0.0, -0.0, 1.0, -1.0, 0.5, 1e308, -1e308, 5e-324, -5e-324, 2.2250738585072014e-308,
           1e-300, 123.456, 9007199254740993.0)
METRICS = ["count", "min:lat", "max:lat", "p50:lat", "p90:lat", "p95:lat", "p99:lat"]

floats = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(-1000, 1000, allow_nan=False).map(lambda x: round(x, 1)),  # ties
)
no_float = st.sampled_from((None, "slow", True, [1.5]))  # missing, or not a number
entries = st.lists(st.tuples(st.sampled_from(LEVELS), st.integers(0, 7200),
                             st.one_of(floats, floats, no_float)), max_size=60)


def _bits(value: Any) -> Any:
    """``value`` with every float spelled by its bits (-0.0 differs from 0.0)."""
    if isinstance(value, float):
        return value.hex() if not math.isnan(value) else "nan"
    if isinstance(value, dict):
        return {k: _bits(v) for k, v in value.items()}
    return value


def _build(rows: list[tuple[str, int, Any]]) -> list[LogEntry]:
    out = []
    for level, second, lat in rows:
        metadata = {} if lat is None else {"lat": lat}
        out.append(LogEntry(1753099200.0 + second, level, "request served", source="api",
                            metadata=metadata))
    return out


@settings(max_examples=examples(0.5))
@given(entries, st.lists(st.integers(0, 60), max_size=3),
       st.sampled_from((None, "1h", "30m")), st.booleans())
def test_typed_float_order_statistics_equal_the_engine(rows, cuts, interval, negzero) -> None:
    if not negzero:  # most examples take the picked path (a -0.0 sends it to the exact one)
        rows = [(lv, s, 0.0 if isinstance(x, float) and x == 0 else x) for lv, s, x in rows]
    built = _build(rows)
    engine = LogAnalyticsEngine()
    engine.ingest_logs(built)
    with tempfile.TemporaryDirectory() as folder:
        write_cut(built, cuts, folder)
        with Archive(folder) as archive:
            for group_by in ("level", None):
                want = engine.aggregate(group_by=group_by, interval=interval, metrics=METRICS)
                got = archive.aggregate(group_by=group_by, interval=interval, metrics=METRICS)
                assert _bits(got) == _bits(want)


@settings(max_examples=examples(1.0))
@given(st.lists(floats, min_size=1, max_size=300),
       st.lists(st.sampled_from((50.0, 90.0, 95.0, 99.0, 0.0, 100.0, 33.3)), max_size=4))
def test_selected_positions_are_the_sorted_values(values, quantiles) -> None:
    import numpy as np

    from log_analytics_engine.storage.archive_numbers import positions as _positions
    from log_analytics_engine.storage.archive_numbers import select as _select

    values = [0.0 if v == 0 else v for v in values]  # -0.0 takes the exact path
    positions = _positions(len(values), sorted(set(quantiles)))
    ordered = sorted(values)
    got = _select(np.array(values, dtype=np.float64), positions)
    assert sorted(got) == positions
    assert {p: _bits(v) for p, v in got.items()} == {p: _bits(ordered[p]) for p in positions}


def test_a_negative_zero_sends_the_typed_path_to_the_exact_one(monkeypatch: Any) -> None:
    from log_analytics_engine.storage.archive_reader import ArchiveReader

    seen: list[bool] = []
    grouped = ArchiveReader._grouped

    def spy(self: Any, *args: Any, **kw: Any) -> Any:
        seen.append(args[5])  # exact_text
        return grouped(self, *args, **kw)

    monkeypatch.setattr(ArchiveReader, "_grouped", spy)
    # without a -0.0 the sorted value runs answer (no scan); with one, the typed scan finds
    # it and the exact path answers
    for lats, exact in (([0.0, 2.5, 0.0], []), ([0.0, 2.5, -0.0], [False, True])):
        built = _build([("INFO", i, v) for i, v in enumerate(lats)])
        engine = LogAnalyticsEngine()
        engine.ingest_logs(built)
        seen.clear()
        with tempfile.TemporaryDirectory() as folder:
            SegmentWriter(folder).write(built, range(len(built)))
            with Archive(folder) as archive:
                got = archive.aggregate(group_by="level", metrics=METRICS)
        assert seen == exact
        assert _bits(got) == _bits(engine.aggregate(group_by="level", metrics=METRICS))


_RANGES = (entries, st.lists(st.integers(0, 60), max_size=3), st.integers(-100, 7300),
           st.integers(0, 7400), st.sampled_from((None, "INFO", "ERROR")), st.booleans())


@settings(max_examples=examples(1.0))
@given(*_RANGES)
def test_value_runs_answer_as_the_engine(rows, cuts, start, span, level, negzero) -> None:
    """Percentiles overall or by level, over a time range that covers some segments whole
    and cuts others (read with SQL), and a level filter: from the sorted value runs."""
    _check_runs(rows, cuts, start, span, level, negzero)


@settings(max_examples=examples(0.12), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(*_RANGES)
def test_spark_value_runs_answer_as_the_engine(spark: Any, rows, cuts, start, span, level,
                                               negzero) -> None:
    """The same on Spark: runs read by the driver, cut segments through Spark SQL."""
    _check_runs(rows, cuts, start, span, level, negzero, spark)


@pytest.mark.parametrize("values", [["slow"], [[1.5]], [True, "1.5"], ["slow", 2, 2.5, None],
                                    [-0.0], [0.0, -0.0, 3], [-0.0, 0.0, 1.5, "x"]])
def test_spark_metrics_and_comparisons_skip_values_that_are_not_numbers(
        spark: Any, values: list[Any]) -> None:
    """Spark reads metadata numbers through its VARIANT type, where a string or a list under a
    cast to DOUBLE failed the whole query (INVALID_VARIANT_CAST) instead of being skipped as
    the engine skips it, and a -0.0 became 0 (its sign is read from the JSON text now). Both
    executors must answer as the engine, bit for bit."""
    built = _build([("DEBUG", i, v) for i, v in enumerate(values)])
    engine = LogAnalyticsEngine()
    engine.ingest_logs(built)
    with tempfile.TemporaryDirectory() as folder:
        write_cut(built, [], folder)
        for executor in ("duckdb", "spark"):
            with Archive(folder, executor=executor, spark=spark) as archive:
                for group_by in ("level", None):
                    want = engine.aggregate(group_by=group_by, metrics=METRICS)
                    got = archive.aggregate(group_by=group_by, metrics=METRICS)
                    assert _bits(got) == _bits(want), executor
                for q in ("lat:>1", "lat:<=2"):
                    assert archive.search(q) == engine.search(q), (executor, q)


def _check_runs(rows: Any, cuts: Any, start: int, span: int, level: str | None,
                negzero: bool, spark: Any = None) -> None:
    from log_analytics_engine.storage.archive_reader import ArchiveReader

    if not negzero:
        rows = [(lv, s, 0.0 if isinstance(x, float) and x == 0 else x) for lv, s, x in rows]
    built = _build(rows)
    engine = LogAnalyticsEngine()
    engine.ingest_logs(built)
    filters: dict[str, Any] = {"start_time": 1753099200.0 + start,
                               "end_time": 1753099200.0 + start + span}
    if level is not None:
        filters["level"] = level
    answered: list[bool] = []
    from_runs = ArchiveReader._from_runs

    def spy(self: Any, *args: Any) -> Any:
        got = from_runs(self, *args)
        answered.append(got is not None)
        return got

    executor = "duckdb" if spark is None else "spark"
    with tempfile.TemporaryDirectory() as folder, \
            pytest.MonkeyPatch.context() as patch:
        patch.setattr(ArchiveReader, "_from_runs", spy)
        write_cut(built, cuts, folder)
        with Archive(folder, executor=executor, spark=spark) as archive:
            for group_by in ("level", None):
                want = engine.aggregate(filters, group_by=group_by, metrics=METRICS)
                got = archive.aggregate(filters, group_by=group_by, metrics=METRICS)
                assert _bits(got) == _bits(want)
    has_negzero = any(isinstance(x, float) and x == 0 and math.copysign(1, x) < 0
                      for _, _, x in rows)
    if not has_negzero:
        assert all(answered)  # every query that reached the runs was answered by them


def test_unreadable_value_runs_fall_back_to_the_scan(tmp_path: Any) -> None:
    import pathlib

    built = _build([("INFO", i, float(i)) for i in range(50)])
    SegmentWriter(tmp_path).write(built, range(len(built)))
    for runs in pathlib.Path(tmp_path).rglob("*.runs"):
        runs.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00junk!")
    engine = LogAnalyticsEngine()
    engine.ingest_logs(built)
    with Archive(tmp_path) as archive:
        got = archive.aggregate(group_by="level", metrics=METRICS)
    assert _bits(got) == _bits(engine.aggregate(group_by="level", metrics=METRICS))


def test_runs_hold_each_levels_values_sorted(tmp_path: Any) -> None:
    import pathlib

    from log_analytics_engine.storage.archive_runs import read_runs

    rows = [("INFO", 0, 3.5), ("ERROR", 1, 1.0), ("INFO", 2, -2.0), ("INFO", 3, "x"),
            ("DEBUG", 4, None), ("INFO", 5, 3.5)]
    SegmentWriter(tmp_path).write(_build(rows), range(len(rows)))
    (path,) = pathlib.Path(tmp_path).rglob("*.runs")
    got = read_runs(str(path), "lat")
    assert got is not None
    assert got.exact
    assert {k: v.tolist() for k, v in got.runs.items()} == {
        "DEBUG": [], "ERROR": [1.0], "INFO": [-2.0, 3.5, 3.5]}
    assert got.rows == {"DEBUG": 1, "ERROR": 1, "INFO": 4}
    assert read_runs(str(path), "other") is None


def _rewrite_runs(path: Any, change: Any) -> None:
    import orjson

    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = orjson.loads(data[8:8 + size])
    body = data[8 + size:]
    header, body = change(header, body)
    raw = orjson.dumps(header)
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + body)


def _huge(h: Any, b: bytes) -> Any:
    h["fields"][0]["raw"] = 2**50
    return h, b


def _codec(h: Any, b: bytes) -> Any:
    h["fields"][0]["codec"] = "brotli-or-worse"
    return h, b


def _counts(h: Any, b: bytes) -> Any:
    h["fields"][0]["levels"][0][1] += 1
    return h, b


def _rows(h: Any, b: bytes) -> Any:
    h["fields"][0]["rows"][0][1] = 10**9
    return h, b


def _declared(h: Any, b: bytes) -> Any:  # sizes that add up, to more rows than the segment's
    f = h["fields"][0]
    f["levels"][0][1] += 10**9
    f["raw"] = 8 * sum(n for _, n in f["levels"])
    return h, b


def _negative(h: Any, b: bytes) -> Any:
    h["fields"][0]["levels"] = [["INFO", -5], ["INFO", 55]]
    return h, b


def _shuffled(h: Any, b: bytes) -> Any:
    import numpy as np
    import pyarrow as pa

    f = h["fields"][0]
    values = np.frombuffer(pa.decompress(b, f["raw"], f["codec"], asbytes=True), np.float64)
    body = pa.compress(values[::-1].copy().tobytes(), f["codec"], asbytes=True)
    f["size"] = len(body)
    return h, body


@pytest.mark.parametrize("change", [_huge, _codec, _counts, _rows, _declared, _negative,
                                    _shuffled])
def test_inconsistent_value_runs_are_not_read(tmp_path: Any, change: Any) -> None:
    """A damaged or hostile ``.runs`` file (on shared storage anything can be written) is
    refused before any allocation it asks for, and the scan answers."""
    import pathlib

    from log_analytics_engine.storage.archive_runs import read_runs

    built = _build([("INFO", i, float(i % 7)) for i in range(50)])
    SegmentWriter(tmp_path).write(built, range(len(built)))
    (path,) = pathlib.Path(tmp_path).rglob("*.runs")
    assert read_runs(str(path), "lat", 50) is not None
    _rewrite_runs(path, change)
    assert read_runs(str(path), "lat", 50) is None
    engine = LogAnalyticsEngine()
    engine.ingest_logs(built)
    with Archive(tmp_path) as archive:
        got = archive.aggregate(group_by="level", metrics=METRICS)
    assert _bits(got) == _bits(engine.aggregate(group_by="level", metrics=METRICS))
