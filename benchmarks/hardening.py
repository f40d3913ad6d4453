"""Figures of the hostile-input cases: ``python benchmarks/hardening.py [--quick]``.

Each case runs in its own process (peak RSS from ``resource.getrusage``), so one case's
memory does not hide another's. Prints one JSON object per case; BENCHMARKS.md records them.

* regex: ingest_log latency (median, max) with and without a backtracking regex query running
  in another thread, and the time of the hostile dashboard request (RE2 when installed);
* no_newline: peak RSS reading a file of 200 MB without a newline (one over-long line);
* gzip_bomb: peak RSS and time for a gzip that expands 1000x past its cap;
* blank_gzip: time and peak RSS for a gzip of 100 MB of blank lines (and 1 valid line), the
  ratio cap off so that every line is read;
* metrics: /metrics size and scrape time with 100k distinct sources.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from typing import Any

MB = 1 << 20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_regex(quick: bool) -> dict[str, Any]:
    from log_analytics_engine import LogAnalyticsEngine, LogEntry
    from log_analytics_engine.query.regex import LINEAR_TIME

    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, "INFO", "a" * 24 + "b") for i in range(8)])

    def latencies(n: int) -> list[float]:
        out = []
        for i in range(n):
            t = time.perf_counter()
            engine.ingest_log(LogEntry(100 + i, "INFO", "x"))
            out.append(time.perf_counter() - t)
        return out

    idle = latencies(300)
    started, finished = threading.Event(), threading.Event()

    def hostile() -> None:  # a trusted re.Pattern: backtracking, seconds per message
        started.set()
        engine.query_logs({"regex": re.compile("(a+)+$")})
        finished.set()

    worker = threading.Thread(target=hostile)
    worker.start()
    started.wait()
    busy = latencies(300)
    during = not finished.is_set()
    worker.join()
    from fastapi.testclient import TestClient

    from log_analytics_engine.dashboard import create_app

    client = TestClient(create_app(engine), base_url="http://localhost")
    t = time.perf_counter()
    status = client.get("/api/logs", params={"regex": "(a+)+$"}).status_code
    request_s = time.perf_counter() - t
    return {
        "ingest_ms_median_idle": statistics.median(idle) * 1e3,
        "ingest_ms_median_during_hostile_query": statistics.median(busy) * 1e3,
        "ingest_ms_max_during_hostile_query": max(busy) * 1e3,
        "all_ingests_finished_while_query_ran": during,
        "dashboard_hostile_request_s": request_s, "dashboard_status": status,
        "regex_engine": "re2" if LINEAR_TIME else "re",
    }


def case_no_newline(quick: bool) -> dict[str, Any]:
    from log_analytics_engine import LogAnalyticsEngine

    size = (40 if quick else 200) * MB
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "one-line.jsonl")
        block = b"a" * MB
        with open(path, "wb") as fh:
            for _ in range(size // MB):
                fh.write(block)
        base = _peak_mb()
        t = time.perf_counter()
        report = LogAnalyticsEngine().ingest_logs_from_file(path)
        return {"file_mb": size / MB, "seconds": time.perf_counter() - t,
                "peak_rss_mb": _peak_mb(), "rss_before_mb": base,
                "rejected": report["rejected"][:1]}


def _gzip_of(chunk: bytes, total: int, path: str, head: bytes = b"") -> int:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    with open(path, "wb") as fh:
        fh.write(comp.compress(head))
        for _ in range(total // len(chunk)):
            fh.write(comp.compress(chunk))
        fh.write(comp.flush())
    return os.path.getsize(path)


def case_gzip_bomb(quick: bool) -> dict[str, Any]:
    from log_analytics_engine import LogAnalyticsEngine

    total = (256 if quick else 1024) * MB
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bomb.jsonl.gz")
        line = b'{"timestamp": 1, "message": "' + b"a" * 200 + b'"}\n'
        size = _gzip_of(b"\0" * MB, total, path, line)
        t = time.perf_counter()
        report = LogAnalyticsEngine().ingest_logs_from_file(path)
        return {"gzip_mb": size / MB, "expands_to_mb": total / MB,
                "seconds": time.perf_counter() - t, "peak_rss_mb": _peak_mb(),
                "count": report["count"], "rejected": report["rejected"][-1:]}


def case_blank_gzip(quick: bool) -> dict[str, Any]:
    from log_analytics_engine import InputLimits, LogAnalyticsEngine

    total = (20 if quick else 100) * MB
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "blank.jsonl.gz")
        size = _gzip_of(b"\n" * MB, total, path, b'{"timestamp": 1, "message": "x"}\n')
        cpu = time.process_time()
        t = time.perf_counter()  # the ratio cap off: every blank line is read
        report = LogAnalyticsEngine(limits=InputLimits(max_gzip_ratio=None)) \
            .ingest_logs_from_file(path)
        return {"gzip_kb": size / 1024, "blank_mb": total / MB,
                "seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu,
                "peak_rss_mb": _peak_mb(), "count": report["count"],
                "errors": report["errors"]}


def case_metrics(quick: bool) -> dict[str, Any]:
    from log_analytics_engine import LogAnalyticsEngine, LogEntry

    n = 20_000 if quick else 100_000
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, "INFO", "m", source=f"src-{i}", tags=[f"tag-{i}"])
                        for i in range(n)])
    times = []
    for _ in range(5):
        t = time.perf_counter()
        text = engine.export_metrics_prometheus()
        times.append(time.perf_counter() - t)
    return {"distinct_sources_and_tags": n, "bytes": len(text),
            "scrape_ms_median": statistics.median(times) * 1e3}


CASES = {"regex": case_regex, "no_newline": case_no_newline, "gzip_bomb": case_gzip_bomb,
         "blank_gzip": case_blank_gzip, "metrics": case_metrics}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs")
    parser.add_argument("--case", choices=sorted(CASES), help="run one case in this process")
    args = parser.parse_args()
    if args.case:
        print(json.dumps({args.case: CASES[args.case](args.quick)}))
        return
    for name in CASES:
        cmd = [sys.executable, __file__, "--case", name] + (["--quick"] if args.quick else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        print(out.stdout.strip() or json.dumps({name: {"error": out.stderr[-500:]}}),
              flush=True)


if __name__ == "__main__":
    main()
