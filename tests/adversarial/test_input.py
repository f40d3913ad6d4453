"""Hostile input files and streams: surrogates in str lines, poison timestamps, over-long
lines, gzip bombs and floods of blank lines. Each is rejected alone (with its line number) or
normalised, memory stays bounded, and the lines around it are kept."""

from __future__ import annotations

import gzip
import io
import os
import tracemalloc
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine import _native as native
from log_analytics_engine._native import speedups
from log_analytics_engine.errors import InvalidTimestampError
from log_analytics_engine.ingest import InputLimits
from log_analytics_engine.ingest import files as files_module
from log_analytics_engine.model.timeparse import MAX_INSTANT, MIN_INSTANT

BAD_NAME = os.fsdecode(b"report-\xff.csv")


def _line(i: int, ts: Any = None) -> bytes:
    return orjson.dumps({"timestamp": ts if ts is not None else f"2025-07-21T10:00:{i % 60:02d}Z",
                         "level": "INFO", "message": f"line {i}"})


@pytest.fixture(params=["accelerated", "pure"])
def accel(request: pytest.FixtureRequest) -> Any:
    """Run a test with the C reader and with the pure-Python reader."""
    if request.param == "pure":
        with native.use_python():
            yield request.param
    else:
        if not native.available:
            pytest.skip("the accelerator is not built")
        yield request.param


# -- case 2: str lines with a lone surrogate --------------------------------------------------
def test_stream_of_str_lines_keeps_a_line_with_a_lone_surrogate() -> None:
    """2,999 str lines with one lone surrogate among them: every line is kept, none raises."""
    lines = [_line(i).decode() for i in range(2999)]
    lines[1500] = orjson.dumps({"timestamp": 1, "message": "x"}).decode().replace(
        '"x"', f'"cannot open {BAD_NAME}"')
    engine = LogAnalyticsEngine()
    report = engine.ingest_stream(iter(lines))
    assert (report["count"], report["errors"]) == (2999, 0)
    assert engine.count_logs({"keyword": "report"}) == 1
    assert "\ufffd" in engine.query_logs({"keyword": "report"})[0].message


# -- case 4: poison timestamps ----------------------------------------------------------------
POISON = ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", -62135596801,
          "-62135596801", 10**17]


@pytest.mark.parametrize("value", POISON)
def test_timestamp_outside_years_1_to_9999_is_rejected_at_parse(value: Any) -> None:
    with pytest.raises(InvalidTimestampError, match=r"outside the years 1\.\.9999"):
        LogEntry(value)


def test_edges_of_the_range_are_accepted_and_served() -> None:
    """The first and last representable instants work in every layer (stats, buckets)."""
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry("0001-01-01T00:00:00Z"), LogEntry("9999-12-31T23:59:59Z"),
                        LogEntry(0)])
    stats = engine.get_stats()
    assert stats["oldest"] == "0001-01-01T00:00:00Z"
    assert stats["newest"] == "9999-12-31T23:59:59Z"
    assert len(engine.aggregate(interval="1d")) == 3
    assert len(engine.aggregate(interval="365d")) == 3  # a bucket start before year 1
    assert [e.datetime.year for e in engine.query_logs()] == [1, 1970, 9999]
    assert MIN_INSTANT < MAX_INSTANT


def test_file_with_poison_timestamps_rejects_only_those_lines(tmp_path: Path, accel: str) -> None:
    lines = [_line(i) for i in range(20)]
    for k, value in zip((3, 7, 11, 15, 18), POISON, strict=True):
        lines[k] = _line(k, value)
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    engine = LogAnalyticsEngine()
    report = engine.ingest_logs_from_file(path)
    assert report["count"] == 15
    assert [r["line"] for r in report["rejected"]] == [4, 8, 12, 16, 19]
    assert all("1..9999" in r["reason"] for r in report["rejected"])
    engine.get_stats()
    engine.aggregate(interval="1h")


# -- case 5: input limits ---------------------------------------------------------------------
@pytest.mark.parametrize("max_line", [1 << 20, 100])
def test_over_long_line_is_rejected_with_its_number_and_reading_goes_on(
        tmp_path: Path, accel: str, max_line: int) -> None:
    long = b'{"timestamp": 1, "message": "' + b"a" * (3 << 20) + b'"}'
    lines = [_line(0), _line(1), long, _line(3), b"x" * 150, _line(5)]
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n".join(lines))
    engine = LogAnalyticsEngine(limits=InputLimits(max_line_bytes=max_line))
    report = engine.ingest_logs_from_file(path)
    rejected = {r["line"]: r["reason"] for r in report["rejected"]}
    assert 3 in rejected
    assert f"longer than max_line_bytes ({max_line})" in rejected[3]
    assert report["count"] == 4
    assert [e.message for e in engine.query_logs()] == ["line 0", "line 1", "line 3", "line 5"]
    if max_line == 100:
        assert "max_line_bytes" in rejected[5]  # a short line over a small limit, too


def test_no_newline_file_is_read_in_bounded_memory(tmp_path: Path, accel: str) -> None:
    """A 24 MiB file without a newline: rejected as one line, at most a few blocks held."""
    path = tmp_path / "x.jsonl"
    with open(path, "wb") as fh:
        for _ in range(24):
            fh.write(b"a" * (1 << 20))
    engine = LogAnalyticsEngine()
    tracemalloc.start()
    try:
        report = engine.ingest_logs_from_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report["errors"] == 1
    assert report["rejected"][0]["line"] == 1
    assert peak < 6 << 20  # 1 MiB held at most, plus blocks; the old reader held 24 MiB+


def test_gzip_bomb_stops_at_the_decompressed_cap(tmp_path: Path, accel: str) -> None:
    """A gzip file expanding past its cap: the lines before the cap are kept, the rest is
    rejected with a reason naming the limit."""
    body = b"".join(_line(i) + b"\n" for i in range(100)) + b"\n" * (8 << 20)
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(body))
    limits = InputLimits(max_gzip_ratio=100, gzip_floor_bytes=1 << 20)
    engine = LogAnalyticsEngine(limits=limits)
    report = engine.ingest_logs_from_file(path)
    assert report["count"] == 100
    assert report["errors"] == 1
    assert "decompressed bytes" in report["rejected"][0]["reason"]


def test_blank_lines_cost_no_exception(tmp_path: Path, accel: str) -> None:
    """Blank lines are skipped without a parser call (so no exception) each, and the C
    reader does not hand them back one by one."""
    path = tmp_path / "blank.jsonl.gz"
    path.write_bytes(gzip.compress(_line(0) + b"\n" + b"\n \t\r\n" * 200_000 + _line(1)))
    calls = {"parse": 0, "reread": 0}
    real_loads, real_read_line = files_module._loads, files_module._read_line

    def loads(raw: bytes) -> Any:
        calls["parse"] += 1
        return real_loads(raw)

    def read_line(*args: Any) -> Any:
        calls["reread"] += 1
        return real_read_line(*args)

    engine = LogAnalyticsEngine()
    with mock.patch.object(files_module, "_loads", loads), \
            mock.patch.object(files_module, "_read_line", read_line):
        report = engine.ingest_logs_from_file(path)
    assert (report["count"], report["errors"]) == (2, 0)
    assert calls["parse"] <= 2  # only the two entries, never a blank line
    if accel == "accelerated":
        assert calls["reread"] == 0


def test_c_readers_skip_blank_lines_without_handing_them_back() -> None:
    if speedups is None:
        pytest.skip("the accelerator is not built")
    terms: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    entries, count, bad = speedups.ingest_blocks([b"\n  \n\t\r\n" * 1000 + _line(1)], 0, {},
                                                 *terms)
    assert (len(entries), count, bad) == (1, 3001, [])
    got, nbad = speedups.entries_from_lines([b"", b"   ", b"\r\n", _line(2)])
    assert got[:3] == [None, None, None]
    assert got[3].message == "line 2"
    assert nbad == 3


def test_stream_lines_over_the_limit_are_rejected() -> None:
    engine = LogAnalyticsEngine(limits=InputLimits(max_line_bytes=100))
    report = engine.ingest_stream([_line(0), b"{" + b" " * 150 + b"}", _line(2)])
    assert report["count"] == 2
    assert report["rejected"][0]["line"] == 2
    assert "max_line_bytes (100)" in report["rejected"][0]["reason"]


def test_input_limits_validate() -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        InputLimits(max_line_bytes=0)
    with pytest.raises(ValueError, match="max_gzip_ratio"):
        InputLimits(max_gzip_ratio=0)
    assert InputLimits().gzip_cap(1000) == 64 << 20
    assert InputLimits(max_decompressed_bytes=10).gzip_cap(1000) == 10
    assert InputLimits(max_gzip_ratio=None).gzip_cap(10) is None
    assert io.BytesIO  # the readers take any binary stream
