"""``ingest_logs_from_file``: JSONL and text, plain and gzip, and bad lines reported by number."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import EntrySpec, entry_specs, json_line

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.ingest import files, parse_text_line

Writer = Callable[..., Path]
REPORT_KEYS = {"file", "type", "count", "errors", "rejected", "duration_sec", "logs_per_sec"}
NOW = 1753099200.0  # 2025-07-21T12:00:00Z


def good(i: int) -> str:
    return json_line(timestamp=f"2025-07-21T10:00:{i % 60:02d}Z", level="info",
                     message=f"line {i}", source="api")


# -- JSONL ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["app.jsonl", "app.jsonl.gz"])
def test_jsonl_plain_and_gzip_ingest_every_line(engine: LogAnalyticsEngine,
                                                write_lines: Writer, name: str) -> None:
    path = write_lines(name, [good(i) for i in range(50)])
    report = engine.ingest_logs_from_file(path)
    assert (report["count"], report["errors"], report["rejected"]) == (50, 0, [])
    assert [e.message for e in engine.all_logs] == [f"line {i}" for i in range(50)]
    engine._check()


def test_report_has_the_documented_keys(engine: LogAnalyticsEngine, write_lines: Writer) -> None:
    path = write_lines("a.jsonl", [good(1)])
    report = engine.ingest_logs_from_file(str(path))
    assert set(report) == REPORT_KEYS
    assert (report["file"], report["type"]) == (str(path), "jsonl")
    assert report["duration_sec"] >= 0
    assert report["logs_per_sec"] >= 0


def test_gzip_is_detected_by_content_not_name(engine: LogAnalyticsEngine,
                                              write_lines: Writer, tmp_path: Path) -> None:
    gz = write_lines("x.gz", [good(1), good(2)])
    renamed = tmp_path / "x.jsonl"
    gz.rename(renamed)
    assert engine.ingest_logs_from_file(renamed)["count"] == 2


def test_blank_lines_are_skipped_not_rejected(engine: LogAnalyticsEngine,
                                              write_lines: Writer) -> None:
    path = write_lines("a.jsonl", ["", good(1), "   ", "\t", good(2), ""])
    report = engine.ingest_logs_from_file(path)
    assert (report["count"], report["errors"]) == (2, 0)


BAD_LINES = {
    "malformed": '{"timestamp": "2025-07-21T10:00:00Z", "message": ',
    "array": "[1, 2, 3]",
    "string": '"just a string"',
    "number": "42",
    "no_timestamp": json_line(message="no time"),
    "bad_timestamp": json_line(timestamp="yesterday-ish", message="m"),
    "null_timestamp": json_line(timestamp=None, message="m"),
    "bad_level": json_line(timestamp=0, level="LOUD"),
    "message_type": json_line(timestamp=0, message=["a"]),
    "tags_type": json_line(timestamp=0, tags="prod"),
    "metadata_type": json_line(timestamp=0, metadata=[1]),
    "source_type": json_line(timestamp=0, source={"a": 1}),
}


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_a_bad_line_is_rejected_with_its_number_and_the_rest_ingested(
    engine: LogAnalyticsEngine, write_lines: Writer, kind: str
) -> None:
    lines = [good(1), "", good(2), BAD_LINES[kind], good(3)]
    report = engine.ingest_logs_from_file(write_lines("a.jsonl", lines))
    assert (report["count"], report["errors"]) == (3, 1)
    (rejected,) = report["rejected"]
    assert rejected["line"] == 4
    assert isinstance(rejected["reason"], str)
    assert rejected["reason"]
    assert [e.message for e in engine.all_logs] == ["line 1", "line 2", "line 3"]


def test_reasons_say_what_is_wrong(engine: LogAnalyticsEngine, write_lines: Writer) -> None:
    kinds = ["malformed", "array", "no_timestamp", "bad_timestamp", "bad_level"]
    report = engine.ingest_logs_from_file(write_lines("a.jsonl", [BAD_LINES[k] for k in kinds]))
    reasons = [r["reason"].lower() for r in report["rejected"]]
    assert "json" in reasons[0]
    assert "object" in reasons[1]
    assert "timestamp" in reasons[2]
    assert "yesterday-ish" in reasons[3]
    assert "level" in reasons[4]


def test_rejected_is_capped_at_100_but_errors_counts_all(engine: LogAnalyticsEngine,
                                                         write_lines: Writer) -> None:
    lines = [good(i) if i % 2 else "not json" for i in range(500)]
    report = engine.ingest_logs_from_file(write_lines("a.jsonl.gz", lines))
    assert (report["count"], report["errors"], len(report["rejected"])) == (250, 250, 100)
    assert [r["line"] for r in report["rejected"]] == list(range(1, 200, 2))
    assert engine.get_stats()["rejected_total"] == 250


def test_unknown_file_type_raises_value_error(engine: LogAnalyticsEngine,
                                              write_lines: Writer) -> None:
    path = write_lines("a.csv", ["a,b"])
    with pytest.raises(ValueError, match="file_type"):
        engine.ingest_logs_from_file(path, file_type="csv")


def test_missing_file_raises_os_error(engine: LogAnalyticsEngine, tmp_path: Path) -> None:
    with pytest.raises(OSError):
        engine.ingest_logs_from_file(tmp_path / "nope.jsonl")


def test_batches_smaller_than_the_file_lose_nothing(engine: LogAnalyticsEngine,
                                                    write_lines: Writer) -> None:
    lines = [good(i) if i % 7 else "{" for i in range(100)]
    report = engine.ingest_logs_from_file(write_lines("a.jsonl", lines), batch_size=8)
    assert (report["count"], report["errors"]) == (85, 15)
    engine._check()


line_kinds = st.lists(st.sampled_from(["good", "blank", *sorted(BAD_LINES)]), max_size=40)


@given(kinds=line_kinds, gz=st.booleans(), block=st.integers(1, 300), last_newline=st.booleans())
def test_every_non_blank_line_is_either_ingested_or_rejected_by_number(
    tmp_path_factory: pytest.TempPathFactory, kinds: list[str], gz: bool, block: int,
    last_newline: bool,
) -> None:
    """Whatever the read block size: lines cut across blocks, a last line without its
    newline, blocks shorter than a line."""
    lines = [good(i) if k == "good" else "" if k == "blank" else BAD_LINES[k]
             for i, k in enumerate(kinds)]
    path = tmp_path_factory.mktemp("h") / ("a.jsonl.gz" if gz else "a.jsonl")
    import gzip

    data = "\n".join(lines).encode() + (b"\n" if last_newline and lines else b"")
    path.write_bytes(gzip.compress(data) if gz else data)
    engine = LogAnalyticsEngine()
    with mock.patch.object(files, "READ_BLOCK", block):
        report = engine.ingest_logs_from_file(path, batch_size=4)
    bad = [i + 1 for i, k in enumerate(kinds) if k not in ("good", "blank")]
    assert [r["line"] for r in report["rejected"]] == bad
    assert report["errors"] == len(bad)
    assert report["count"] == kinds.count("good") == len(engine)
    assert [e.message for e in engine.all_logs] == [
        f"line {i}" for i, k in enumerate(kinds) if k == "good"]


@given(data=st.binary(max_size=400).map(lambda b: b.replace(b"\r", b"")),
       block=st.integers(1, 64), batch=st.integers(1, 10))
def test_line_chunks_yield_every_line_and_count_every_byte(data: bytes, block: int,
                                                           batch: int) -> None:
    import io

    with mock.patch.object(files, "READ_BLOCK", block):
        chunks = list(files._line_chunks(io.BytesIO(data), batch))
    want = data.split(b"\n")
    if want[-1] == b"":
        want.pop()
    assert [line for chunk, _, _ in chunks for line in chunk] == want
    assert sum(n for _, n, _ in chunks) == len(data)
    # every line but an unterminated last one lost a newline, and says so
    assert all(nl == b"\n" for chunk, _, nl in chunks[:-1] if chunk)
    if chunks and chunks[-1][0]:
        assert chunks[-1][2] == (b"\n" if data.endswith(b"\n") else b"")


@given(data=st.binary(max_size=400), block=st.integers(1, 64), batch=st.integers(1, 10))
def test_block_batches_hold_whole_lines_and_every_byte(data: bytes, block: int,
                                                       batch: int) -> None:
    import io

    with mock.patch.object(files, "READ_BLOCK", block):
        batches = list(files._block_batches(io.BytesIO(data), batch))
    blocks = [b for bs, _ in batches for b in bs]
    assert b"".join(blocks) == data
    assert sum(n for _, n in batches) == len(data)
    assert all(b.endswith(b"\n") for b in blocks[:-1])  # no line is cut between blocks
    assert all(blocks)


# -- text -----------------------------------------------------------------------------------
def _python_logging_line(fmt: str, level: int, name: str, msg: str) -> str:
    record = logging.LogRecord(name, level, __file__, 1, msg, None, None)
    record.created = NOW - 3600  # 11:00:00 UTC
    record.msecs = 250.0
    formatter = logging.Formatter(fmt)
    formatter.converter = __import__("time").gmtime
    return formatter.format(record)


def test_python_logging_asctime_name_level_format() -> None:
    line = _python_logging_line("%(asctime)s - %(name)s - %(levelname)s - %(message)s",
                                logging.WARNING, "app.db", "slow query: 2s")
    entry = parse_text_line(line, NOW)
    assert (entry.ts, entry.level, entry.source, entry.message) == (
        NOW - 3600 + 0.25, "WARN", "app.db", "slow query: 2s")


def test_python_logging_basic_config_format_uses_ingestion_time() -> None:
    line = _python_logging_line(logging.BASIC_FORMAT, logging.CRITICAL, "root", "disk: full")
    entry = parse_text_line(line, NOW)
    assert (entry.ts, entry.level, entry.source, entry.message) == (
        NOW, "FATAL", "root", "disk: full")


@pytest.mark.parametrize(("line", "want"), [
    ("2025-07-21T10:00:00Z ERROR [api] connection refused",
     (NOW - 7200, "ERROR", "api", "connection refused")),
    ("2025-07-21T12:00:00+02:00 warning cache miss",
     (NOW - 7200, "WARN", "", "cache miss")),
    ("[2025-07-21 10:00:00.5] [DEBUG] started", (NOW - 7200 + 0.5, "DEBUG", "", "started")),
    ("2025-07-21 10:00:00,123 critical worker: died", (NOW - 7200 + 0.123, "FATAL", "worker",
                                                       "died")),
])
def test_iso_timestamp_and_level(line: str, want: tuple[Any, ...]) -> None:
    entry = parse_text_line(line, NOW)
    got = (entry.ts, entry.level, entry.source, entry.message)
    assert got[1:] == want[1:]
    assert got[0] == pytest.approx(want[0], abs=1e-6)


@pytest.mark.parametrize(("line", "want"), [
    ("<34>Jul 21 10:00:00 mymachine su: 'su root' failed on /dev/pts/8",
     (NOW - 7200, "FATAL", "su", "'su root' failed on /dev/pts/8")),
    ("Jul  1 09:00:00 host sshd[42]: Accepted publickey",
     (1751360400.0, "INFO", "sshd", "Accepted publickey")),
    ("<165>1 2025-07-21T10:00:00.003Z mymachine.example.com evntslog - ID47 - hello",
     (NOW - 7200 + 0.003, "INFO", "evntslog", "hello")),
    ("<11>1 2025-07-21T10:00:00Z host app 99 - - db down",
     (NOW - 7200, "ERROR", "app", "db down")),
])
def test_syslog_rfc3164_and_rfc5424(line: str, want: tuple[Any, ...]) -> None:
    entry = parse_text_line(line, NOW)
    got = (entry.ts, entry.level, entry.source, entry.message)
    assert got[1:] == want[1:]
    assert got[0] == pytest.approx(want[0], abs=1e-6)


def test_syslog_rfc3164_in_the_future_is_last_year() -> None:
    entry = parse_text_line("Dec 31 23:00:00 host cron: ran", NOW)
    assert entry.datetime.year == 2024


def test_syslog_rfc3164_keeps_host_and_pid() -> None:
    entry = parse_text_line("Jul 21 10:00:00 web1 nginx[123]: up", NOW)
    assert entry.metadata == {"host": "web1", "pid": 123}


def test_syslog_rfc5424_skips_several_structured_data_elements() -> None:
    line = ('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
            '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
            '[examplePriority@32473 class="high"] An application event')
    assert parse_text_line(line, NOW).message == "An application event"


def test_syslog_rfc5424_structured_data_with_an_escaped_bracket() -> None:
    line = '<165>1 2025-07-21T10:00:00Z host app - - [a@1 x="1\\]2"] the message'
    assert parse_text_line(line, NOW).message == "the message"


def test_syslog_rfc5424_nil_timestamp_uses_ingestion_time() -> None:
    entry = parse_text_line("<13>1 - host app - - - no clock here", NOW)
    assert (entry.ts, entry.source, entry.message) == (NOW, "app", "no clock here")


@pytest.mark.parametrize(("line", "level", "status"), [
    ('127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
     "INFO", 200),
    ('10.0.0.2 - - [21/Jul/2025:12:00:00 +0000] "POST /api HTTP/1.1" 404 -', "WARN", 404),
    ('10.0.0.3 - - [21/Jul/2025:12:00:00 +0000] "GET / HTTP/1.1" 503 12 "-" "curl/8"',
     "ERROR", 503),
])
def test_apache_common_and_combined_log_format(line: str, level: str, status: int) -> None:
    entry = parse_text_line(line, NOW)
    assert (entry.level, entry.source, entry.metadata["status"]) == (level, "access", status)
    assert entry.message == line.split('"')[1]


def test_clf_time_with_offset_is_utc() -> None:
    line = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1'
    assert parse_text_line(line, NOW).ts == 971211336.0  # 2000-10-10T20:55:36Z


@pytest.mark.parametrize("line", ["just some words", "ERROR without a timestamp shape",
                                  "12:00 lunch", "{not json}"])
def test_unrecognised_text_is_the_message_at_info_stamped_now(line: str) -> None:
    entry = parse_text_line(line, NOW)
    assert (entry.ts, entry.level, entry.message) == (NOW, "INFO", line)


@pytest.mark.parametrize("name", ["app.log", "app.log.gz"])
def test_text_file_plain_and_gzip(engine: LogAnalyticsEngine, write_lines: Writer,
                                  name: str) -> None:
    lines = ["2025-07-21T10:00:00Z ERROR [api] boom", "", "free text",
             "Jul 21 10:00:01 host app: syslog line",
             '1.2.3.4 - - [21/Jul/2025:10:00:02 +0000] "GET / HTTP/1.1" 500 1']
    report = engine.ingest_logs_from_file(write_lines(name, lines), file_type="text")
    assert (report["count"], report["errors"], report["type"]) == (4, 0, "text")
    assert engine.count_logs({"level": "ERROR"}) == 2
    engine._check()


def test_text_file_with_invalid_utf8_is_ingested(engine: LogAnalyticsEngine,
                                                 write_lines: Writer) -> None:
    path = write_lines("a.log", [b"2025-07-21T10:00:00Z INFO caf\xe9 \xff ok"])
    assert engine.ingest_logs_from_file(path, file_type="text")["count"] == 1
    assert engine.count_logs({"keyword": "ok"}) == 1


def test_text_line_with_an_impossible_date_is_rejected_by_number(
    engine: LogAnalyticsEngine, write_lines: Writer
) -> None:
    lines = ["2025-07-21T10:00:00Z INFO fine", "Feb 30 10:00:00 host app: never"]
    report = engine.ingest_logs_from_file(write_lines("a.log", lines), file_type="text")
    assert report["count"] + report["errors"] == 2
    assert all(r["line"] == 2 for r in report["rejected"])


@given(st.text(max_size=80).filter(lambda s: "\n" not in s and "\r" not in s))
def test_any_text_line_parses_or_raises_a_value_error(line: str) -> None:
    try:
        entry = parse_text_line(line, NOW)
    except ValueError:
        return
    assert entry.level in {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}


@pytest.mark.parametrize("name", ["bom.jsonl", "bom.jsonl.gz"])
def test_jsonl_file_starting_with_a_utf8_bom_ingests_its_first_line(
    engine: LogAnalyticsEngine, write_lines: Writer, name: str
) -> None:
    path = write_lines(name, [b"\xef\xbb\xbf" + good(1).encode(), good(2)])
    report = engine.ingest_logs_from_file(path)
    assert (report["count"], report["errors"]) == (2, 0)


def test_text_file_starting_with_a_utf8_bom_parses_its_first_line(
    engine: LogAnalyticsEngine, write_lines: Writer
) -> None:
    path = write_lines("bom.log", [b"\xef\xbb\xbf2025-07-21T10:00:00Z ERROR first"])
    engine.ingest_logs_from_file(path, file_type="text")
    (entry,) = engine.all_logs
    assert (entry.level, entry.message, entry.ts) == ("ERROR", "first", NOW - 7200)


@given(specs=st.lists(entry_specs, max_size=20), gz=st.booleans())
def test_entries_written_as_jsonl_come_back_equal(
    tmp_path_factory: pytest.TempPathFactory, specs: list[EntrySpec], gz: bool
) -> None:
    import gzip
    import json

    originals = [s.build() for s in specs]
    data = "".join(json.dumps(e.to_dict()) + "\n" for e in originals).encode()
    path = tmp_path_factory.mktemp("rt") / ("a.jsonl.gz" if gz else "a.jsonl")
    path.write_bytes(gzip.compress(data) if gz else data)
    engine = LogAnalyticsEngine()
    report = engine.ingest_logs_from_file(path)
    assert (report["count"], report["errors"]) == (len(specs), 0)
    assert [e.to_dict() for e in engine.all_logs] == [e.to_dict() for e in originals]
    assert [e.ts for e in engine.all_logs] == [s.instant for s in specs]
