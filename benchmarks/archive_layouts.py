"""What other Parquet layouts would cost: the measurements behind the archive's write settings
and behind the rare-word query's miss (BENCHMARKS.md, "Layouts tried").

A plain script over an existing archive (``log-analytics archive CORPUS --to DIR``):

    taskset -c 0 python benchmarks/archive_layouts.py DIR [--segments 30] [--word W] [--runs 3]

* **Write settings.** The first ``--segments`` segments are read back and written again, one
  file per segment as the writer does, with the writer's settings and with one setting
  changed at a time (zstd level, LZ4, none, no message dictionary, no statistics, 8 KB pages
  with a page index). Printed: median microseconds per row of ``write_table`` and Parquet
  bytes per row.
* **Fetching a rare word's rows.** Over the same segments: the archive's query for ``--word``
  (its term index keeps the segments holding the word, DuckDB filters their rows); the same
  hits fetched by row number as if a per-segment posting list gave them for free (DuckDB
  ``file_row_number IN (...)``, and pyarrow ``read_table(...).take(rows)``), on the archive's
  segments and on copies written with 8 KB pages and a page index; and a plain read of those
  segments' entry columns, for scale. Row fetches cost about as much as reading the segments
  whole: neither reader skips pages for a row selection, so positions alone do not make a
  rare word cheap.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from log_analytics_engine import Archive
from log_analytics_engine.storage import archive_writer as w

ENTRY_COLUMNS = ["instant", "timestamp", "timestamp_json", "level", "source", "message", "tags",
                 "thread_id", "request_id", "user_id", "metadata"]


def settings(table: pa.Table) -> dict[str, dict[str, Any]]:
    """The writer's options, and variants with one setting changed."""
    base: dict[str, Any] = {"compression": "zstd", "compression_level": w.ZSTD_LEVEL,
                            "row_group_size": w.ROW_GROUP_ROWS,
                            "use_dictionary": w.DICTIONARY_COLUMNS,
                            "write_statistics": w.statistics_columns(table)}
    no_message = [c for c in w.DICTIONARY_COLUMNS if c != "message"]
    return {
        f"the writer's (zstd {w.ZSTD_LEVEL})": base,
        "zstd level 1": {**base, "compression_level": 1},
        "zstd level 3": {**base, "compression_level": 3},
        "lz4": {**base, "compression": "lz4", "compression_level": None},
        "uncompressed": {**base, "compression": "none", "compression_level": None},
        "no message dictionary": {**base, "use_dictionary": no_message},
        "no statistics": {**base, "write_statistics": False},
        "8 KB pages + page index": {**base, "data_page_size": 8192, "write_page_index": True},
    }


def median_time(run: Callable[[], Any], runs: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def write_all(tables: list[pa.Table], folder: Path, options: dict[str, Any]) -> list[Path]:
    paths = []
    for k, table in enumerate(tables):
        path = folder / f"{k}.parquet"
        pq.write_table(table, path, **options)
        paths.append(path)
    return paths


def fetch_duckdb(paths: list[Path], rows: list[list[int]]) -> int:
    con = duckdb.connect()
    parts = [f"SELECT {', '.join(ENTRY_COLUMNS)} FROM read_parquet('{p}', file_row_number = true) "
             f"WHERE file_row_number IN ({', '.join(map(str, r))})"
             for p, r in zip(paths, rows, strict=True) if r]
    return int(con.sql(" UNION ALL ".join(parts)).to_arrow_table().num_rows)


def fetch_pyarrow(paths: list[Path], rows: list[list[int]]) -> int:
    return sum(int(pq.read_table(p, columns=ENTRY_COLUMNS).take(r).num_rows)
               for p, r in zip(paths, rows, strict=True) if r)


def read_whole(paths: list[Path]) -> int:
    return sum(int(pq.read_table(p, columns=ENTRY_COLUMNS).num_rows) for p in paths)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive")
    ap.add_argument("--segments", type=int, default=30)
    ap.add_argument("--word", default="databasesha2119")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    segments = sorted(Path(args.archive).rglob("*.parquet"))[:args.segments]
    tables = [pq.ParquetFile(p).read() for p in segments]
    rows = sum(t.num_rows for t in tables)
    print(f"{len(segments)} segments, {rows:,} rows")
    work = Path(tempfile.mkdtemp(prefix="lae-layouts-"))
    try:
        print("\nwrite settings: us/row (median of runs), Parquet B/row")
        for name, options in settings(tables[0]).items():
            folder = work / name.replace(" ", "_")
            folder.mkdir()
            secs, paths = median_time(partial(write_all, tables, folder, options), args.runs)
            size = sum(p.stat().st_size for p in paths)
            print(f"  {name:28} {secs / rows * 1e6:6.2f} us/row {size / rows:7.1f} B/row")
        small = sorted((work / "8_KB_pages_+_page_index").glob("*.parquet"),
                       key=lambda p: int(p.stem))
        kept = work / "kept"
        for p in segments:  # the same segments with their term indexes, alone in an archive
            target = kept / os.path.relpath(p, args.archive)
            target.parent.mkdir(parents=True, exist_ok=True)
            for side in (p.with_suffix(s) for s in (".parquet", ".terms", ".runs")):
                if side.exists():
                    shutil.copy(side, target.with_suffix(side.suffix))
        con = duckdb.connect()
        hits = [[r for (r,) in con.execute(
            f"SELECT file_row_number FROM read_parquet('{p}', file_row_number = true) "
            "WHERE list_contains(words, ?) ORDER BY 1", [args.word]).fetchall()]
            for p in segments]
        found = sum(map(len, hits))
        print(f"\n{args.word!r}: {found:,} hits in {sum(1 for h in hits if h)} of "
              f"{len(segments)} segments (median ms of {args.runs})")
        with Archive(kept) as archive:
            archive.query_logs({"keyword": args.word})  # term indexes read once
            runs: dict[str, Callable[[], Any]] = {
                "the archive's query (term index + DuckDB)":
                    lambda: len(archive.query_logs({"keyword": args.word})),
                "rows by number, DuckDB": lambda: fetch_duckdb(segments, hits),
                "rows by number, pyarrow take": lambda: fetch_pyarrow(segments, hits),
                "rows by number, DuckDB, 8 KB pages": lambda: fetch_duckdb(small, hits),
                "rows by number, pyarrow, 8 KB pages": lambda: fetch_pyarrow(small, hits),
                "every row of the segments, pyarrow": lambda: read_whole(segments),
            }
            for name, run in runs.items():
                secs, n = median_time(run, args.runs)
                print(f"  {name:42} {secs * 1e3:8.1f} ms  ({n:,} rows)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
