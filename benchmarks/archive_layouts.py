"""What other Parquet layouts would cost: the measurements behind the archive's write settings
and behind the rare-word query's miss (BENCHMARKS.md, "the layouts tried" and "The rare
word's floor").

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
* **The floor of any page-skipping reader** (``--page-rows``; needs ``pip install
  zstandard``, whose calls cost 0.2 us where pyarrow's ``Codec`` takes 10). The same
  segments' entry columns are cut into pages of that many rows (plain values; dictionary
  indices for the repeating columns, whose dictionaries a reader would keep in memory), each
  page compressed alone at the writer's zstd level. For each hit, only the one page per
  column that holds it is decompressed: no page header, no value decoding, no entry built.
  Printed: bytes per row of those pages (dictionaries included) against the archive's own
  bytes for the same columns, and the decompression time per hit and for all the hits. The
  time is a lower bound for any reader that fetches rows from compressed pages of that size.
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
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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


#: Entry columns a page-skipping reader would keep as dictionary indices.
PAGE_DICTIONARY = {"level", "source", "thread_id", "user_id", "tags"}


def page_payloads(column: pa.ChunkedArray, name: str,
                  page_rows: int) -> tuple[list[bytes], bytes]:
    """Plain page payloads of one column, and the dictionary a reader would hold (or b"")."""
    arr = column.combine_chunks()
    n = len(arr)
    starts = range(0, n, page_rows)
    if name == "tags":
        lengths = pc.list_value_length(arr).fill_null(0).to_numpy(zero_copy_only=False)
        ends = np.concatenate([[0], np.cumsum(lengths)])
        encoded = pc.dictionary_encode(pc.list_flatten(arr))
        idx = encoded.indices.fill_null(0).to_numpy().astype(np.int32)
        lens = lengths.astype(np.int32)
        pages = [lens[i:i + page_rows].tobytes()
                 + idx[ends[i]:ends[min(i + page_rows, n)]].tobytes() for i in starts]
        return pages, plain_strings(encoded.dictionary)
    if name in PAGE_DICTIONARY:
        encoded = pc.dictionary_encode(arr)
        idx = encoded.indices.fill_null(0).to_numpy().astype(np.int32)
        return [idx[i:i + page_rows].tobytes() for i in starts], plain_strings(encoded.dictionary)
    if pa.types.is_string(arr.type):
        arr = arr.fill_null("")
        offsets = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset:arr.offset + n + 1]
        data = arr.buffers()[2].to_pybytes()
        lengths = np.diff(offsets).astype(np.int32)
        return [lengths[i:i + page_rows].tobytes()
                + data[offsets[i]:offsets[min(i + page_rows, n)]] for i in starts], b""
    values = arr.to_numpy(zero_copy_only=False)
    return [values[i:i + page_rows].tobytes() for i in starts], b""


def plain_strings(arr: pa.Array) -> bytes:
    return b"".join(len(v).to_bytes(4, "little") + v for v in
                    (s.encode() for s in arr.to_pylist()))


def column_bytes(paths: list[Path], names: set[str]) -> int:
    """Compressed bytes of these columns in these segments, as their footers give them."""
    total = 0
    for path in paths:
        meta = pq.ParquetFile(path).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            total += sum(group.column(c).total_compressed_size for c in range(group.num_columns)
                         if group.column(c).path_in_schema.split(".")[0] in names)
    return total


def page_floor(tables: list[pa.Table], hits: list[list[int]], page_rows: int,
               runs: int) -> tuple[float, float, int]:
    """(bytes per row of the paged columns, seconds to decompress each hit's pages, bytes
    those pages hold)."""
    import zstandard  # a benchmark-only tool: 0.2 us per call where pyarrow's Codec takes 10

    compress = zstandard.ZstdCompressor(level=w.ZSTD_LEVEL).compress
    decompress = zstandard.ZstdDecompressor().decompress
    size = rows = 0
    wanted: list[bytes] = []  # each hit's page of each column, compressed
    for table, rows_hit in zip(tables, hits, strict=True):
        rows += table.num_rows
        for name in [*ENTRY_COLUMNS, "id"]:
            pages, dictionary = page_payloads(table[name], name, page_rows)
            frames = [compress(p) for p in pages]
            size += sum(map(len, frames)) + len(compress(dictionary))
            wanted += [frames[r // page_rows] for r in rows_hit]

    def fetch() -> int:
        return sum(len(decompress(f)) for f in wanted)
    secs, out = median_time(fetch, runs)
    return size / rows, secs, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive")
    ap.add_argument("--segments", type=int, default=30)
    ap.add_argument("--word", default="databasesha2119")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--page-rows", type=int, nargs="*", default=[16, 64, 256, 1024, 8192])
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
        own = column_bytes(segments, {*ENTRY_COLUMNS, "id"})
        print(f"\nthe floor of a page-skipping reader: the archive's entry columns take "
              f"{own / rows:.1f} B/row; each hit decompresses one page per column")
        for page_rows in args.page_rows:
            per_row, secs, out = page_floor(tables, hits, page_rows, args.runs)
            print(f"  {page_rows:5} rows/page {per_row:7.1f} B/row (+{per_row - own / rows:5.1f}) "
                  f"{secs / max(found, 1) * 1e6:7.1f} us/hit {secs * 1e3:8.1f} ms "
                  f"{out / max(found, 1) / 1024:7.1f} KB/hit {out / secs / 1e9:5.2f} GB/s")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
