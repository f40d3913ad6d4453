"""Spark local mode against DuckDB on one archive: same answers, and the time of each query.

A plain script (Spark's start-up and JVM make it a poor fit for pytest-benchmark's loops):

    python benchmarks/archive_corpus.py /tmp/corpus.jsonl 1000000
    python benchmarks/archive_spark.py /tmp/corpus.jsonl /tmp/archive [--master local[2]] \
        [--sessions 1000000]

Archives the corpus (when the folder is empty), opens it on DuckDB and on a Spark session
(``local[2]`` by default, 2 shuffle partitions, UI off), checks that every query gives the
same answer on both, and prints the median of ``--runs`` timed runs of each, after one warm-up
run (Spark's first query also plans and compiles). ``--sessions N`` adds N game-session
events (:func:`write_sessions`) and times sessions (paired by window functions) and game KPIs
on both executors. Figures go to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from log_analytics_engine import AlertRule, Archive
from log_analytics_engine.storage.archive_writer import archive_files


def queries(rare: str, hour: tuple[str, str]) -> dict[str, Callable[[Archive], Any]]:
    start, end = hour
    rules = [AlertRule("errors", conditions={"level": "ERROR"}, threshold=20,
                       time_window=60, cooldown=300),
             AlertRule("timeouts", conditions={"keyword": "timeout", "source": "svc-login2"},
                       threshold=3, time_window=30, group_by="user_id")]
    return {
        "count by level": lambda a: a.aggregate(group_by="level"),
        "count by source": lambda a: a.aggregate(group_by="source"),
        "count ERROR": lambda a: a.count_logs({"level": "ERROR"}),
        "selective (2 words + level + 1 h)": lambda a: a.query_logs(
            {"keywords": ["timeout", "payment"], "level": "ERROR", "start_time": start,
             "end_time": end}),
        f"rare word ({rare})": lambda a: a.query_logs({"keyword": rare}),
        "latest 50 ERROR": lambda a: a.query_logs({"level": "ERROR"}, sort_desc=True,
                                                  page=0, page_size=50),
        "p95 latency_ms by level": lambda a: a.aggregate(group_by="level",
                                                         metrics=["p95:latency_ms"]),
        # from half past the first full hour to many hours later: two segments cut
        "p95 by level, a range cutting segments": lambda a: a.aggregate(
            {"start_time": str(float(start) + 1800), "end_time": str(float(start) + 86400)},
            group_by="level", metrics=["p95:latency_ms"]),
        "count per 1 h bucket": lambda a: a.aggregate(interval="1h"),
        "backtest (2 threshold rules)": lambda a: [x.to_dict() for x in a.backtest(rules)],
    }


def write_sessions(path: str, events: int, seed: int = 7) -> None:
    """``events`` JSON lines of game sessions: per user and feature a start, then (mostly)
    an end 1-1800 s later; some starts restart, some ends are lost. Every event carries the
    telemetry fields (game, region, minutes played, crashed) the KPIs group and sum."""
    import json
    import random

    rng = random.Random(seed)
    t0 = 1_753_000_000.0
    with open(path, "w") as fh:
        written, t = 0, t0
        while written < events:
            user, feature = f"u{rng.randrange(20_000)}", f"f{rng.randrange(20)}"
            t += rng.expovariate(1 / 0.05)
            common = {"user_id": user, "source": "game", "level": "INFO"}
            md = {"feature": feature, "game": rng.choice(("SkyQuest", "Dune", "Ötzi")),
                  "region": rng.choice(("EU", "US", "APAC")),
                  "minutes_played": round(rng.uniform(0.5, 90), 2),
                  "crashed": rng.random() < 0.05}
            fh.write(json.dumps({**common, "timestamp": t, "message": "session start",
                                 "metadata": {**md, "action": "start"}}) + "\n")
            written += 1
            if rng.random() < 0.9 and written < events:
                end = t + rng.uniform(1, 1800)
                fh.write(json.dumps({**common, "timestamp": end, "message": "session end",
                                     "metadata": {**md, "action": "end"}}) + "\n")
                written += 1


def session_queries() -> dict[str, Callable[[Archive], Any]]:
    def full(r: Any) -> Any:
        return (r.to_dict(), [(s.key, s.start, s.end) for s in r.complete],
                [i.to_dict() for i in r.incomplete], r.events, r.skipped)

    return {
        "sessions (user_id, feature)": lambda a: full(a.sessions()),
        "sessions of EU (user_id)": lambda a: full(a.sessions({"region": "EU"},
                                                              key="user_id")),
        "KPIs by game": lambda a: a.kpis(),
        "KPIs by region, >= 5 min": lambda a: a.kpis(group_by="region", min_minutes=5),
    }


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    fn()  # warm-up
    times = []
    out = None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("archive")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rare", default="followerupl1692")
    ap.add_argument("--sessions", type=int, default=0, metavar="N",
                    help="also N game-session events (archived beside the archive, in "
                         "ARCHIVE-sessions): sessions and KPIs on both executors")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.archive) or not os.listdir(args.archive):
        t0 = time.perf_counter()
        report = archive_files([args.corpus], args.archive)
        print(f"archived {report.entries:,} lines in {time.perf_counter() - t0:.1f} s")

    from pyspark.sql import SparkSession

    t0 = time.perf_counter()
    spark = (SparkSession.builder.master(args.master).appName("archive-bench")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.memory", "2g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    print(f"spark session ({args.master}) up in {time.perf_counter() - t0:.1f} s")

    with Archive(args.archive) as duck, Archive(args.archive, "spark", spark=spark) as sp:
        first = duck.query_logs(page=0, page_size=1)[0]
        hour_start = first.ts - first.ts % 3600 + 3600
        hour = (str(hour_start), str(hour_start + 3599.999))
        print(f"{duck.count_logs():,} entries in {len(duck.segments())} segments")
        print(f"{'query':40} {'duckdb':>10} {'spark':>10} {'ratio':>7}  same")
        failed = False
        for name, q in queries(args.rare, hour).items():
            td, a = timed(lambda q=q: q(duck), args.runs)
            ts, b = timed(lambda q=q: q(sp), args.runs)
            same = (a == b) if not isinstance(a, list) or not a or not hasattr(
                a[0], "to_dict") else [e.to_dict() for e in a] == [e.to_dict() for e in b]
            failed |= not same
            print(f"{name:40} {td * 1000:9.1f}ms {ts * 1000:9.1f}ms {ts / td:6.1f}x  {same}")
        if args.sessions:
            failed |= _sessions(args, spark)
    spark.stop()
    return 1 if failed else 0


def _sessions(args: argparse.Namespace, spark: Any) -> bool:
    folder = args.archive.rstrip("/") + "-sessions"
    if not os.path.isdir(folder) or not os.listdir(folder):
        corpus = folder + ".jsonl"
        write_sessions(corpus, args.sessions)
        report = archive_files([corpus], folder)
        print(f"archived {report.entries:,} session events")
    failed = False
    with Archive(folder) as duck, Archive(folder, "spark", spark=spark) as sp:
        print(f"{duck.count_logs():,} session events in {len(duck.segments())} segments")
        for name, q in session_queries().items():
            td, a = timed(lambda q=q: q(duck), args.runs)
            ts, b = timed(lambda q=q: q(sp), args.runs)
            failed |= a != b
            print(f"{name:40} {td * 1000:9.1f}ms {ts * 1000:9.1f}ms {ts / td:6.1f}x  {a == b}")
    return failed


if __name__ == "__main__":
    sys.exit(main())
