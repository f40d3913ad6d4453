"""The Parquet archive: segment format, atomic writes, many writers, conversion, the SQL
compiler, retention's archive format and the include_archive guard rails."""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")
import pyarrow.parquet as pq  # noqa: E402

from log_analytics_engine import (  # noqa: E402
    Archive,
    InvalidFilterError,
    LogAnalyticsEngine,
    LogEntry,
    QueryTimeoutError,
    Retention,
    StoragePathError,
    compile_filters,
)
from log_analytics_engine.model.tokenize import tokenize_many  # noqa: E402
from log_analytics_engine.query.sql import compile_sql, may_match, time_span  # noqa: E402
from log_analytics_engine.storage.archive_format import (  # noqa: E402
    COLUMNS,
    SegmentTerms,
    hour_partition,
    table_entries,
)
from log_analytics_engine.storage.archive_reader import list_segments  # noqa: E402
from log_analytics_engine.storage.archive_writer import (  # noqa: E402
    SegmentWriter,
    archive_files,
)

pytestmark = pytest.mark.unit

ODD = [
    LogEntry("2025-07-21T10:00:00.5+02:00", "error", "Straße ﬁle\x00 👍🏽 db-01", source="api",
             tags=["a", "ü"], thread_id="t1", request_id="r", user_id="u",
             metadata={"i": 2**64 - 1, "neg": -(2**63), "f": 1.0, "z": -0.0, "b": False,
                       "none": None, "l": [1, "x", {"k": [None]}], "s": "\ud800",
                       "big": 2**70, "nan": float("nan"), "ü": "ä"}),
    LogEntry(1753092000, "INFO", ""),
    LogEntry(1753092000.25, "WARN", "  ", source=""),
    LogEntry(1753092000123, "DEBUG", "ms epoch"),
]


def shown(entries: list[LogEntry]) -> list[tuple[float, dict[str, Any]]]:
    return [(e.ts, e.to_dict()) for e in entries]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_segments_round_trip_every_field_and_value_type(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path)
    names = writer.write(ODD, range(len(ODD)))
    back = [e for name in names for e in table_entries(pq.read_table(tmp_path / name))]
    assert sorted(shown(back), key=repr) == sorted(shown(ODD), key=repr)
    assert [type(e.timestamp) for e in sorted(back, key=lambda e: e.ts)] == [
        type(e.timestamp) for e in sorted(ODD, key=lambda e: e.ts)]


def test_segment_columns_order_and_words(tmp_path: Path) -> None:
    entries = [LogEntry(5, "INFO", "b B"), LogEntry(1, "INFO", "A a-1"), LogEntry(1, "INFO", "c")]
    (name,) = SegmentWriter(tmp_path).write(entries, [7, 9, 8])
    table = pq.read_table(tmp_path / name)
    assert tuple(table.column_names) == COLUMNS
    assert table.column("id").to_pylist() == [8, 9, 7]  # (instant, id) order
    assert [set(w) for w in table.column("words").to_pylist()] == [
        set(w) for w in tokenize_many(["c", "A a-1", "b B"])]
    assert [len(w) for w in table.column("words").to_pylist()] == [1, 2, 1]
    assert table.column("instant").to_pylist() == [1.0, 1.0, 5.0]
    assert pq.ParquetFile(tmp_path / name).metadata.row_group(0).column(0).compression == "ZSTD"


def test_segments_are_split_by_utc_hour_partition(tmp_path: Path) -> None:
    entries = [LogEntry("2025-07-21T10:59:59Z"), LogEntry("2025-07-21T11:00:00+00:00"),
               LogEntry("2025-07-21T12:30:00+01:00")]
    names = SegmentWriter(tmp_path).write(entries, range(3))
    assert [n.rsplit("/", 1)[0] for n in names] == [
        "date=2025-07-21/hour=10", "date=2025-07-21/hour=11"]
    assert hour_partition(0.0) == "date=1970-01-01/hour=00"


def test_no_temporary_file_is_left_and_hidden_files_are_never_listed(tmp_path: Path) -> None:
    names = SegmentWriter(tmp_path).write(ODD, range(len(ODD)))
    assert not [f for f in _files(tmp_path) if os.path.basename(f).startswith(".")]
    part = tmp_path / names[0].rsplit("/", 1)[0]
    (part / ".half-written.parquet.tmp").write_bytes(b"PAR1 partial")
    (part / ".other.parquet").write_bytes(b"partial")
    assert list_segments(str(tmp_path)) == sorted(names)
    with Archive(tmp_path) as archive:
        assert archive.count_logs() == len(ODD)


def test_a_failed_write_leaves_nothing_visible(tmp_path: Path, monkeypatch) -> None:
    writer = SegmentWriter(tmp_path)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(StoragePathError):
        writer.write(ODD, range(len(ODD)))
    assert not list(_files(tmp_path))
    assert writer.written == []


@pytest.mark.parametrize("fail_at", ["write_table", "replace"])
def test_a_batch_over_several_hours_is_archived_whole_or_not_at_all(
    tmp_path: Path, monkeypatch, fail_at: str,
) -> None:
    """The second hour's segment fails (while staging, or while publishing): nothing of the
    batch stays, so the retry that retention makes archives each entry once."""
    batch = [LogEntry(3600 * h + 1, "INFO", f"hour {h}") for h in range(3)]
    writer = SegmentWriter(tmp_path)
    calls = {"n": 0}
    real = pq.write_table if fail_at == "write_table" else os.replace

    def second_fails(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == (2 if fail_at == "write_table" else 3):
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    if fail_at == "write_table":
        monkeypatch.setattr(pq, "write_table", second_fails)
    else:
        monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(StoragePathError):
        writer.write(batch, range(3))
    monkeypatch.undo()
    assert not _files(tmp_path)
    assert writer.written == []
    writer.write(batch, range(3))  # the retry
    with Archive(tmp_path) as archive:
        assert [e.message for e in archive.query_logs()] == ["hour 0", "hour 1", "hour 2"]
    assert len(writer.written) == 3


def test_many_writers_into_one_folder(tmp_path: Path) -> None:
    def run(k: int) -> None:
        w = SegmentWriter(tmp_path)
        for j in range(5):
            w.write([LogEntry(3600 * j + k, "INFO", f"w{k}")], [k * 100 + j])

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Archive(tmp_path) as archive:
        assert len(archive.segments()) == 40
        assert archive.count_logs() == 40
        assert archive.aggregate(group_by="source") == {"": {"count": 40}}
        assert archive.count_logs("w3") == 5


def test_term_index_prunes_segments_and_round_trips(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path)
    writer.write([LogEntry(0, "ERROR", "disk full", "db", tags=["x"])], [0])
    writer.write([LogEntry(10, "INFO", "all good", "api")], [1])
    with Archive(tmp_path) as archive:
        reader = archive._run
        assert len(reader.files(compile_filters({"keyword": "disk"}))) == 1
        assert len(reader.files(compile_filters({"level": "INFO", "source": "db"}))) == 0
        assert len(reader.files(compile_filters({"start_time": 5}))) == 1
        assert len(reader.files(compile_filters(None))) == 2
        seg = reader.terms(archive.segments()[0])
    assert seg is not None
    assert SegmentTerms.from_bytes(seg.to_bytes()) == seg
    assert may_match(compile_filters({"tags": "x"}), seg) is ("x" in seg.tag)


def test_compiler_marks_what_sql_decides_exactly() -> None:
    assert compile_sql({"level": "ERROR", "keyword": "db", "source_prefix": "shop"}).exact
    assert compile_sql("NOT tag:prod OR message:'x'").exact
    # text and bool equality, and numeric comparisons, of a plain metadata key
    for exact in ({"region": "eu"}, {"crashed": True}, "NOT region:eu", {"ok": False},
                  "latency_ms:>5", "latency_ms:<=2.5 AND NOT n:>=1"):
        assert compile_sql(exact).exact, exact
    for inexact in ({"regex": "a.b"}, {"region": 3}, "user_id:>5", {"user_id": "u1"},
                    '"two words"', {"a.b": "x"}, "lat:>=1e300"):
        assert not compile_sql(inexact).exact, inexact
    rolled = compile_sql("NOT user_id:>5 AND level:INFO")
    assert rolled.params == {"p0": "INFO"}
    assert "$p0" in rolled.sql


def test_the_spark_dialect_differs_only_in_parameters_and_lists() -> None:
    duck = compile_sql({"tags": "a", "level": "INFO"})
    spark = compile_sql({"tags": "a", "level": "INFO"}, "spark")
    assert spark.params == duck.params
    assert spark.sql == duck.sql.replace("$", ":").replace("list_contains", "array_contains")


def test_time_span_of_a_tree() -> None:
    assert time_span(compile_filters({"start_time": 5, "end_time": 9})) == (5.0, 9.0)
    assert time_span(compile_filters({"level": "INFO"})) == (float("-inf"), float("inf"))


def test_bulk_import_streams_with_a_bounded_buffer_and_rejects_by_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [f'{{"timestamp": {i}, "level": "INFO", "message": "m{i}"}}' for i in range(25)]
    src.write_text("\n".join([*lines[:10], "not json", *lines[10:]]) + "\n")
    result = archive_files([src], tmp_path / "arch", buffer_entries=10)
    assert result.entries == 25
    assert len(result.segments) == 3
    assert result.reports[0].rejected[0]["line"] == 11
    with Archive(tmp_path / "arch") as archive:
        assert [e.message for e in archive.query_logs()] == [f"m{i}" for i in range(25)]


def test_gzip_jsonl_archives_convert_to_equal_segments(tmp_path: Path) -> None:
    old = tmp_path / "old"
    engine = LogAnalyticsEngine(retention=Retention(max_entries=5, archive_dir=old,
                                                    archive_format="jsonl"))
    entries = [LogEntry(3000 * i, "ERROR" if i % 3 else "INFO", f"e{i} Straße", "db",
                        metadata={"n": i, "f": i / 4}) for i in range(40)]
    for e in entries:
        engine.ingest_log(e)
    archived = sorted(old.iterdir())
    assert archived
    assert all(p.name.endswith(".jsonl.gz") for p in archived)
    gzip.decompress(archived[0].read_bytes())  # complete members
    archive_files(archived, tmp_path / "new")
    gone = engine.get_stats()["retention"]["archived_total"]
    reference = LogAnalyticsEngine()
    reference.ingest_logs(entries[:gone])
    with Archive(tmp_path / "new") as archive:
        assert shown(archive.query_logs()) == shown(reference.query_logs())
        assert archive.aggregate(group_by="level", metrics=["count", "p95:f"]) == (
            reference.aggregate(group_by="level", metrics=["count", "p95:f"]))


def test_retention_writes_parquet_by_default_with_the_extra(tmp_path: Path) -> None:
    assert Retention(archive_dir=tmp_path).archive_format == "parquet"
    with pytest.raises(ValueError, match="archive_format"):
        Retention(archive_dir=tmp_path, archive_format="csv")
    engine = LogAnalyticsEngine(retention=Retention(max_entries=10, archive_dir=tmp_path))
    engine.ingest_logs([LogEntry(i, "INFO", f"m{i}") for i in range(50)])
    assert list_segments(str(tmp_path))
    assert engine.count_logs(include_archive=True) == 50
    assert engine.count_logs() == len(engine) < 50


def test_close_releases_the_archive_reader_and_a_later_query_opens_a_new_one(
    tmp_path: Path,
) -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=10, archive_dir=tmp_path))
    engine.ingest_logs([LogEntry(i, "INFO", f"m{i}") for i in range(50)])
    assert engine.count_logs(include_archive=True) == 50
    reader = engine._federation.reader  # type: ignore[union-attr]
    engine.close()
    assert engine._federation is None
    with pytest.raises(Exception, match=r"(?i)closed"):
        reader._con.execute("SELECT 1")
    engine.close()  # idempotent
    assert engine.count_logs(include_archive=True) == 50


def test_include_archive_needs_a_parquet_archive(tmp_path: Path) -> None:
    with pytest.raises(InvalidFilterError, match="include_archive"):
        LogAnalyticsEngine().query_logs(include_archive=True)
    jsonl = LogAnalyticsEngine(retention=Retention(max_entries=1, archive_dir=tmp_path,
                                                   archive_format="jsonl"))
    with pytest.raises(InvalidFilterError, match="Parquet"):
        jsonl.count_logs(include_archive=True)


def test_archive_rejects_an_unknown_executor(tmp_path: Path) -> None:
    with pytest.raises(InvalidFilterError, match="executor"):
        Archive(tmp_path, executor="hadoop")


def test_an_empty_or_missing_folder_answers_nothing(tmp_path: Path) -> None:
    with Archive(tmp_path / "nothing-yet") as archive:
        assert archive.query_logs() == []
        assert archive.count_logs("level:ERROR") == 0
        assert archive.aggregate(group_by="level") == {}
        assert archive.aggregate() == {"count": 0}
        assert archive.sessions().complete == []


def test_to_pandas_has_the_engine_columns(tmp_path: Path) -> None:
    pytest.importorskip("pandas")
    SegmentWriter(tmp_path).write(ODD, range(len(ODD)))
    engine = LogAnalyticsEngine()
    engine.ingest_logs(ODD)
    with Archive(tmp_path) as archive:
        frame = archive.to_pandas({"level": "ERROR"})
    assert list(frame.columns) == list(engine.to_pandas({"level": "ERROR"}).columns)


def test_float_fields_get_a_typed_copy_and_integers_stay_exact(tmp_path: Path) -> None:
    floats = [LogEntry(i, "INFO", "x", metadata={"lat": i / 3, "mixed": 1.5, "s": "a"})
              for i in range(20)]
    mixed = [LogEntry(100 + i, "ERROR", "y", metadata={"lat": 2.5, "mixed": 2**63 + i})
             for i in range(5)]
    writer = SegmentWriter(tmp_path)
    writer.write(floats, range(20))
    writer.write(mixed, range(20, 25))
    with Archive(tmp_path) as archive:
        terms = [archive._run.terms(n) for n in archive.segments()]
        assert [sorted(t.numeric) for t in terms if t is not None] == [["lat", "mixed"], ["lat"]]
        engine = LogAnalyticsEngine()
        engine.ingest_logs(floats + mixed)
        for metrics in (["p50:lat", "sum:lat", "min:lat"], ["max:mixed", "p95:mixed"]):
            assert archive.aggregate(group_by="level", metrics=metrics) == engine.aggregate(
                group_by="level", metrics=metrics)
            assert archive.aggregate(metrics=metrics) == engine.aggregate(metrics=metrics)


def test_a_negative_zero_keeps_the_engine_order_of_equal_zeros(tmp_path: Path) -> None:
    entries = [LogEntry(i, "INFO", "z", metadata={"v": v})
               for i, v in enumerate([0.0, -0.0, 1.5, -0.0, 0.0])]
    SegmentWriter(tmp_path).write(entries, range(len(entries)))
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    with Archive(tmp_path) as archive:
        got = archive.aggregate(metrics=["min:v", "max:v", "p50:v"])
    want = engine.aggregate(metrics=["min:v", "max:v", "p50:v"])
    assert got == want
    assert [str(x) for x in got.values()] == [str(x) for x in want.values()]


def test_one_archive_serves_many_threads(tmp_path: Path) -> None:
    entries = [LogEntry(i, "ERROR" if i % 3 else "INFO", f"m{i % 7}", "api") for i in range(300)]
    SegmentWriter(tmp_path).write(entries, range(300))
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    errors: list[BaseException] = []
    with Archive(tmp_path) as archive:
        def work(k: int) -> None:
            try:
                for _ in range(10):
                    q = f"m{k % 7}"
                    assert archive.count_logs(q) == engine.count_logs(q)
                    assert shown(archive.query_logs(q, sort_desc=True, page_size=5)) == shown(
                        engine.query_logs(q, sort_desc=True, page_size=5))
                    assert archive.aggregate(group_by="level") == engine.aggregate(
                        group_by="level")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors


def test_include_archive_honours_the_timeout_on_the_archive_side(tmp_path: Path) -> None:
    engine = LogAnalyticsEngine(retention=Retention(max_entries=10, archive_dir=tmp_path))
    engine.ingest_logs([LogEntry(i, "INFO", f"m{i}") for i in range(50)])
    assert engine.count_logs(include_archive=True, timeout=60) == 50
    for call in (lambda: engine.count_logs(include_archive=True, timeout=1e-9),
                 lambda: engine.query_logs(include_archive=True, timeout=1e-9),
                 lambda: engine.aggregate(group_by="level", include_archive=True,
                                          timeout=1e-9)):
        with pytest.raises(QueryTimeoutError, match="longer than"):
            call()
    engine.close()


def test_a_running_archive_query_is_interrupted_at_its_deadline(tmp_path: Path) -> None:
    """A query still running when the timeout passes is interrupted (not waited for)."""
    from log_analytics_engine.query.residual import Deadline
    from log_analytics_engine.storage.archive_reader import ArchiveReader

    reader = ArchiveReader(tmp_path)
    endless = "SELECT count(*) FROM range(1000000000000) a"
    with pytest.raises(QueryTimeoutError, match="archive"), reader.within(Deadline(0.2)):
        reader._run(endless, {}).fetchall()
    assert reader._run("SELECT 42", {}).fetchall() == [(42,)]  # usable afterwards
    reader.close()


def test_archive_read_methods_honour_a_timeout(tmp_path: Path) -> None:
    SegmentWriter(tmp_path).write([LogEntry(3600 * (i % 3) + i, ("INFO", "ERROR")[i % 2],
                                            f"m{i} disk", metadata={"lat": i / 2})
                                   for i in range(60)], range(60))
    with Archive(tmp_path) as archive:
        calls = {
            "query_logs": lambda t: archive.query_logs({"keyword": "disk"}, timeout=t),
            "search": lambda t: archive.search("level:ERROR", timeout=t),
            "count_logs": lambda t: archive.count_logs({"level": "ERROR"}, timeout=t),
            "count_all": lambda t: archive.count_logs(timeout=t),  # from the term indexes
            "aggregate": lambda t: archive.aggregate(group_by="level", metrics=["p95:lat"],
                                                     timeout=t),
            "residual": lambda t: archive.query_logs({"regex": "^m1"}, timeout=t),
        }
        for name, call in calls.items():
            assert call(60) == call(None), name
            with pytest.raises(QueryTimeoutError, match="longer than"):
                call(1e-9)


def _counting(reader: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL statements ``reader`` runs from now on."""
    ran: list[str] = []
    real = reader._run

    def spy(sql: str, params: dict[str, Any]) -> Any:
        ran.append(sql)
        return real(sql, params)

    monkeypatch.setattr(reader, "_run", spy)
    return ran


@pytest.mark.parametrize("group", ["level", "source"])
def test_counts_by_level_or_source_come_from_the_term_indexes(
    tmp_path: Path, group: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the whole archive (no filter, counts only), each segment's rows per level and
    per source answer without a scan; the same answer as the SQL path and the engine's."""
    entries = [LogEntry(1753092000 + 900 * i, ("INFO", "ERROR", "warn")[i % 3], f"m {i}",
                        source=("api", "", "db", "é")[i % 4]) for i in range(40)]
    writer = SegmentWriter(tmp_path)
    writer.write(entries[:25], list(range(25)))
    writer.write(entries[25:], list(range(25, 40)))
    engine = LogAnalyticsEngine()
    engine.ingest_logs(entries)
    with Archive(tmp_path) as archive:
        ran = _counting(archive._run, monkeypatch)
        fast = archive.aggregate(group_by=group)
        both = archive.aggregate(group_by=group, metrics=["count", "count"])
        assert not ran  # no query
        assert fast == engine.aggregate(group_by=group)
        assert both == engine.aggregate(group_by=group, metrics=["count", "count"])
        assert list(fast) == list(engine.aggregate(group_by=group))  # same key order
        filtered = archive.aggregate({"keyword": "m"}, group_by=group)
        assert ran  # a filter: the SQL path
        assert filtered == fast
        monkeypatch.setattr(archive._run, "_counted", lambda files, g: None)
        assert archive.aggregate(group_by=group) == fast  # the SQL path agrees


def test_segments_without_counts_take_the_sql_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A term index written before counts were kept (no ``counts`` key) is still read."""
    import orjson

    writer = SegmentWriter(tmp_path)
    writer.write([LogEntry(0, "ERROR", "a", "db"), LogEntry(1, "INFO", "b", "db")], [0, 1])
    with Archive(tmp_path) as archive:
        name = archive.segments()[0]
    path = tmp_path / name.replace(".parquet", ".terms")
    seg = SegmentTerms.from_bytes(path.read_bytes())
    raw = orjson.dumps({"v": "1", "lo": seg.lo, "hi": seg.hi, "rows": seg.rows,
                        "level": sorted(seg.level), "source": sorted(seg.source),
                        "tag": sorted(seg.tag), "token": sorted(seg.token)})
    path.write_bytes(len(raw).to_bytes(8, "little") + pa.compress(raw, "zstd", asbytes=True))
    with Archive(tmp_path) as archive:
        assert archive._run.terms(name).counts is None
        ran = _counting(archive._run, monkeypatch)
        assert archive.aggregate(group_by="level") == {"ERROR": {"count": 1},
                                                       "INFO": {"count": 1}}
        assert ran


def test_numeric_comparisons_in_sql_mean_what_the_engine_means(tmp_path: Path) -> None:
    # ints compare as ints (no rounding of 64-bit values to doubles), floats as doubles,
    # bools, text and missing values never match; thresholds between two integers
    values = [2, 3, 2.5, 2.4999999999999996, -0.0, 0, True, False, "3", "eu", None,
              2**63 - 1, -(2**63), 9007199254740993, 1e300, -1e-300, [1], {"a": 1}]
    built = [LogEntry(float(i), "INFO", "m", metadata={} if v is None else {"n": v})
             for i, v in enumerate(values)]
    engine = LogAnalyticsEngine()
    engine.ingest_logs(built)
    SegmentWriter(tmp_path).write(built, range(len(built)))
    with Archive(tmp_path) as archive:
        for q in ("n:>2", "n:>=2.5", "n:<2.5", "n:<=0", "n:>9007199254740992", "n:<-1e-301",
                  "n:>=-9007199254740992", "NOT n:>2", {"n": "eu"}, {"n": True},
                  {"n": False}, {"n": "3"}):
            assert compile_sql(q).exact, q
            assert archive.count_logs(q) == engine.count_logs(q), q
            assert [e.metadata for e in archive.query_logs(q)] == [
                e.metadata for e in engine.query_logs(q)], q
