"""The archive end to end: ``log-analytics archive`` then ``query``/``stats --archive``, and
queries with ``include_archive=True`` while another thread ingests and evicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from log_analytics_engine import Archive, LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine.events.sample import write_jsonl

pytestmark = pytest.mark.integration


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "log_analytics_engine", *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("archive-cli") / "app.jsonl"
    write_jsonl(str(path), 4000, seed=5)
    with path.open("a") as fh:
        fh.write("this is not json\n")
    return path


@pytest.fixture(scope="module")
def archived(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("archive-cli") / "arch"
    result = run("archive", str(corpus), "--to", str(folder), "--buffer", "1500")
    assert result.returncode == 0, result.stderr
    assert "Archived 4,000 entries" in result.stdout
    assert "line 4001" in result.stderr
    return folder


@pytest.fixture(scope="module")
def engine(corpus: Path) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.ingest_logs_from_file(corpus)
    return engine


def test_query_archive_prints_what_query_files_prints(corpus: Path, archived: Path) -> None:
    q = "level:ERROR OR latency_ms:>200"
    on_files = run("query", str(corpus), "-q", q, "--format", "jsonl", "--desc", "--limit", "50")
    on_archive = run("query", "--archive", str(archived), "-q", q, "--format", "jsonl",
                     "--desc", "--limit", "50")
    assert on_archive.returncode == 0, on_archive.stderr
    assert on_archive.stdout == on_files.stdout
    assert len(on_archive.stdout.splitlines()) == 50


def test_query_archive_count(archived: Path, engine: LogAnalyticsEngine) -> None:
    result = run("query", "--archive", str(archived), "-q", "level:WARN", "--count")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == engine.count_logs("level:WARN")


def test_stats_archive_summarises_levels_sources_and_hours(archived: Path,
                                                            engine: LogAnalyticsEngine) -> None:
    result = run("stats", "--archive", str(archived))
    assert result.returncode == 0, result.stderr
    assert "entries: 4,000" in result.stdout
    assert "By level:" in result.stdout
    assert "Error rate per hour" in result.stdout
    assert f"{engine.count_logs('level:ERROR'):,}" in result.stdout


@pytest.mark.parametrize("args", [
    ("query", "--archive", "/no/such/folder"),
    ("query", "some.jsonl", "--archive", "/tmp"),
    ("query",),
    ("stats",),
    ("archive", "/no/such/file.jsonl", "--to", "/tmp/x"),
])
def test_archive_options_fail_with_one_line(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_convert_a_gzip_jsonl_archive(tmp_path: Path) -> None:
    old = tmp_path / "old"
    live = LogAnalyticsEngine(retention=Retention(max_entries=50, archive_dir=old,
                                                  archive_format="jsonl"))
    live.ingest_logs([LogEntry(60 * i, "INFO", f"line {i}", metadata={"i": i})
                      for i in range(500)])
    result = run("archive", *sorted(map(str, old.iterdir())), "--to", str(tmp_path / "new"))
    assert result.returncode == 0, result.stderr
    with Archive(tmp_path / "new") as archive:
        got = archive.query_logs()
    gone = live.get_stats()["retention"]["archived_total"]
    assert [e.metadata["i"] for e in got] == list(range(gone))


def test_include_archive_while_eviction_runs_counts_each_entry_once(tmp_path: Path) -> None:
    """Batches are atomic and eviction archives before it drops: a concurrent answer over
    hot + archive always holds whole batches, never a lost or doubled entry."""
    engine = LogAnalyticsEngine(retention=Retention(max_entries=300, archive_dir=tmp_path))
    batch, batches = 50, 60
    done = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            for b in range(batches):
                engine.ingest_logs([LogEntry(b * batch + i, "INFO", f"m{b}")
                                    for i in range(batch)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=ingest)
    thread.start()
    while not done.is_set():
        n = engine.count_logs(include_archive=True)
        entries = engine.query_logs(include_archive=True)
        assert len({e.ts for e in entries}) == len(entries)  # no entry twice
        assert n % batch == 0
        assert len(entries) % batch == 0
        seen.append(n)
    thread.join()
    assert not errors
    assert seen == sorted(seen)
    assert engine.count_logs(include_archive=True) == batch * batches
    assert [e.ts for e in engine.query_logs(include_archive=True)] == [
        float(i) for i in range(batch * batches)]
    counts = engine.aggregate(group_by="level", include_archive=True)
    assert counts == {"INFO": {"count": batch * batches}}
    engine._check()


def test_archive_json_output_round_trips(archived: Path, engine: LogAnalyticsEngine) -> None:
    result = run("query", "--archive", str(archived), "-q", "source:*", "--format", "json",
                 "--limit", "5")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    want = [e.to_dict() for e in engine.query_logs("source:*", page_size=5)]
    assert [r["message"] for r in rows] == [w["message"] for w in want]
    assert os.path.isdir(archived)


def test_a_damaged_archive_and_a_timeout_end_with_one_line(archived: Path,
                                                           tmp_path: Path) -> None:
    import shutil

    slow = run("query", "--archive", str(archived), "-q", "level:ERROR", "--timeout", "1e-9")
    assert slow.returncode != 0
    assert "Traceback" not in slow.stderr
    assert "longer than" in slow.stderr
    damaged = tmp_path / "damaged"
    shutil.copytree(archived, damaged)
    segment = sorted(damaged.rglob("*.parquet"))[0]
    segment.write_bytes(b"not parquet")
    result = run("query", "--archive", str(damaged), "-q", "level:ERROR", "--count")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(segment) in result.stderr
