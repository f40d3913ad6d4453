"""History beyond memory: retention archives to Parquet, queries span hot + archive, and the
archive answers on its own with DuckDB (also what ``log-analytics archive`` writes).

Run: python examples/parquet_archive.py
"""
# requires: pyarrow, duckdb

from __future__ import annotations

import tempfile
from pathlib import Path

from log_analytics_engine import Archive, LogAnalyticsEngine, LogEntry, Retention
from log_analytics_engine.events.sample import generate_records


def main() -> None:
    folder = Path(tempfile.mkdtemp()) / "archive"
    # keep ~2,000 entries in memory; older ones go to Parquet segments in `folder`
    engine = LogAnalyticsEngine(retention=Retention(max_entries=2_000, archive_dir=folder,
                                                    archive_format="parquet"))
    records = generate_records(10_000, seed=7)
    for start in range(0, len(records), 500):
        engine.ingest_logs([LogEntry.from_dict(r) for r in records[start:start + 500]])

    everything = LogAnalyticsEngine()
    everything.ingest_logs([LogEntry.from_dict(r) for r in records])

    print(f"in memory: {len(engine):,}; archived: "
          f"{engine.get_stats()['retention']['archived_total']:,}")
    errors = engine.count_logs({"level": "ERROR"}, include_archive=True)
    print(f"ERROR entries over the whole history: {errors:,}")
    assert errors == everything.count_logs({"level": "ERROR"})

    latest = engine.query_logs("level:ERROR timeout", sort_desc=True, page_size=3,
                               include_archive=True)
    for e in latest:
        print("  ", e.summary(70))

    with Archive(folder) as archive:  # the archive alone, on DuckDB
        print(f"segments: {len(archive.segments())}")
        p95 = archive.aggregate(group_by="level", metrics=["count", "p95:latency_ms"])
        for level, row in p95.items():
            print(f"  {level:<6} {row['count']:>6,} p95 latency {row['p95_latency_ms']:.1f} ms")
        oldest = archive.query_logs(page_size=1)[0]
        assert oldest.ts == everything.query_logs(page_size=1)[0].ts


if __name__ == "__main__":
    main()
