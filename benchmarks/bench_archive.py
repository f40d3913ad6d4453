"""The Parquet archive: size on disk, bulk import, and queries on DuckDB against DuckDB over the
raw JSONL of the same entries (the baseline, measured in the same run).

Run: ``python -m pytest benchmarks/bench_archive.py --benchmark-only -q
--benchmark-columns=median,min,max,rounds``. The corpus (``LAE_ARCHIVE_LINES`` lines, default
1,000,000; :mod:`archive_corpus`: the project's generator with a unique 32-hex ``request_id``
per line) and its archive are built once into ``$LAE_BENCH_DIR``.

* ``test_bulk_archive``: ``log-analytics archive`` of the whole corpus in a child process;
  ``extra_info``: lines/s, peak RSS of the child, bytes per entry on disk (words and term
  index included) and the raw JSONL bytes per line.
* ``test_query[archive-...]`` vs ``test_query[jsonl-...]``: count by level, count by source,
  a selective query (two words + level + one hour, entries returned), a rare word (~0.05% of
  entries, entries returned), the latest 50 ERROR entries, p95 of ``latency_ms`` by level.
* ``test_query_rss``: resident memory of this process after every archive query ran.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

import duckdb

from log_analytics_engine import Archive

sys.path.insert(0, str(Path(__file__).parent))
from archive_corpus import write_corpus

CACHE = Path(os.environ.get("LAE_BENCH_DIR", tempfile.gettempdir()))

LINES = int(os.environ.get("LAE_ARCHIVE_LINES", "1000000"))
#: One hour of the corpus (it starts at 2025-07-20T08:22Z and spans about 28 hours).
HOUR = ("2025-07-20T12:00:00Z", "2025-07-20T12:59:59.999Z")
RARE = "databasesha2119"  # about 0.05% of entries


@pytest.fixture(scope="session")
def archive_corpus() -> Path:
    path = CACHE / f"lae-archive-corpus-{LINES}.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_corpus(str(tmp), LINES)
        tmp.rename(path)
    return path


def _archive(corpus: Path, folder: Path) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "log_analytics_engine", "archive", str(corpus),
                    "--to", str(folder)], check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {"seconds": elapsed, "lines_per_s": LINES / elapsed,
            "peak_rss_mb_upper_bound": max(peak, before) / 1024,
            "bytes_per_entry": size / LINES,
            "jsonl_bytes_per_line": corpus.stat().st_size / LINES}


@pytest.fixture(scope="session")
def archive_dir(archive_corpus: Path) -> Path:
    folder = CACHE / f"lae-archive-{LINES}"
    if not folder.exists():
        tmp = CACHE / f"lae-archive-{LINES}.tmp"
        _archive(archive_corpus, tmp)
        tmp.rename(folder)
    return folder


def test_bulk_archive(benchmark: Any, archive_corpus: Path, tmp_path: Path) -> None:
    runs: list[dict[str, Any]] = []

    def once() -> None:
        folder = tmp_path / f"run{len(runs)}"
        runs.append(_archive(archive_corpus, folder))

    benchmark.pedantic(once, rounds=1, iterations=1)
    benchmark.extra_info.update(runs[-1])


def _archive_queries(a: Archive) -> dict[str, Any]:
    lo, hi = HOUR
    return {
        "count_by_level": lambda: a.aggregate(group_by="level"),
        "count_by_source": lambda: a.aggregate(group_by="source"),
        "selective": lambda: a.query_logs({"keyword": "timeout cache", "level": "ERROR",
                                           "start_time": lo, "end_time": hi}),
        "rare_word": lambda: a.query_logs({"keyword": RARE}),
        "latest_50_error": lambda: a.query_logs({"level": "ERROR"}, sort_desc=True,
                                                page_size=50),
        "p95_latency_by_level": lambda: a.aggregate(group_by="level",
                                                    metrics=["p95:latency_ms"]),
    }


def _jsonl_queries(con: Any, corpus: Path) -> dict[str, Any]:
    src = f"read_json_auto('{corpus}', format = 'newline_delimited')"
    lo, hi = HOUR
    words = "lower(message)"
    return {
        "count_by_level": f"SELECT level, count(*) FROM {src} GROUP BY level",
        "count_by_source": f"SELECT source, count(*) FROM {src} GROUP BY source",
        "selective": f"SELECT * FROM {src} WHERE level = 'ERROR' AND "
                     f"CAST(timestamp AS TIMESTAMPTZ) BETWEEN '{lo}' AND '{hi}' AND "
                     f"contains({words}, 'timeout') AND contains({words}, 'cache') "
                     f"ORDER BY timestamp",
        "rare_word": f"SELECT * FROM {src} WHERE contains({words}, '{RARE}') ORDER BY timestamp",
        "latest_50_error": f"SELECT * FROM {src} WHERE level = 'ERROR' "
                           f"ORDER BY timestamp DESC LIMIT 50",
        "p95_latency_by_level": f"SELECT level, quantile_cont(metadata.latency_ms, 0.95) "
                                f"FROM {src} GROUP BY level",
    }


QUERIES = ("count_by_level", "count_by_source", "selective", "rare_word", "latest_50_error",
           "p95_latency_by_level")


@pytest.mark.parametrize("name", QUERIES)
def test_query_archive(benchmark: Any, archive_dir: Path, name: str) -> None:
    with Archive(archive_dir) as a:
        run = _archive_queries(a)[name]
        run()  # warm: term indexes read once per Archive
        result = benchmark.pedantic(run, rounds=9, iterations=1, warmup_rounds=1)
    benchmark.extra_info["result_size"] = len(result)


@pytest.mark.parametrize("name", QUERIES)
def test_query_jsonl(benchmark: Any, archive_corpus: Path, name: str) -> None:
    con = duckdb.connect()
    sql = _jsonl_queries(con, archive_corpus)[name]
    result = benchmark.pedantic(lambda: con.sql(sql).fetchall(), rounds=3, iterations=1)
    benchmark.extra_info["result_size"] = len(result)


def test_query_rss(benchmark: Any, archive_dir: Path) -> None:
    import psutil

    with Archive(archive_dir) as a:
        queries = _archive_queries(a)
        benchmark.pedantic(lambda: [q() for q in queries.values()], rounds=1, iterations=1)
    benchmark.extra_info["rss_mb"] = psutil.Process().memory_info().rss / 2**20
