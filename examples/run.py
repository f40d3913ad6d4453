"""Process log lines through four named processors and serve the live dashboard.

    python examples/run.py                       # serves for 2 seconds, then exits
    python examples/run.py --serve-seconds 0     # serves until Ctrl+C
    python examples/run.py --port 8000 --lines 200000 --serve-seconds 0

The processors show the four things a pre-ingest processor does:

* ``start``   runs on every entry and stamps when the engine received it;
* ``warn``    runs only on WARN entries (a filter dict) and tags them;
* ``error``   runs on ERROR and worse and looks up the on-call team of the source, raising
              ``KeyError`` for sources it does not know: those are counted as errors of the
              processor and the entries go on unchanged;
* ``general`` runs on every entry and drops DEBUG and TRACE noise (returns ``None``).

Half of the lines are ingested before the server starts and the rest while it serves, so the
counters and the chart move. Open the printed URL in a browser.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from itertools import islice

import orjson

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.events.sample import SampleCorpus

#: On-call teams of the ten busiest sources; the other sources are unknown to ``error``.
ON_CALL = {source: f"team-{k % 3}" for k, source in enumerate(SampleCorpus(seed=7).sources[:10])}


def start(entry: LogEntry) -> LogEntry:
    entry.metadata["received_at"] = time.time()
    return entry


def warn(entry: LogEntry) -> LogEntry:
    entry.tags.append("needs-look")
    return entry


def error(entry: LogEntry) -> LogEntry:
    entry.metadata["on_call"] = ON_CALL[entry.source]  # KeyError for unknown sources
    return entry


def general(entry: LogEntry) -> LogEntry | None:
    return None if entry.level in ("DEBUG", "TRACE") else entry


def build_engine() -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.add_pre_ingest_hook(start)
    engine.add_pre_ingest_hook(warn, when={"level": "WARN"})
    engine.add_pre_ingest_hook(error, when={"min_severity": "ERROR"})
    engine.add_pre_ingest_hook(general)
    return engine


def feed(engine: LogAnalyticsEngine, lines: list[bytes], chunks: int, pause: float) -> None:
    size = max(1, len(lines) // chunks)
    for k in range(0, len(lines), size):
        engine.ingest_stream(lines[k:k + size])
        time.sleep(pause)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000, help="lines to process (10000)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument("--serve-seconds", type=float, default=2.0,
                        help="serve this long, then exit (default 2; 0 = until Ctrl+C)")
    args = parser.parse_args(argv)

    lines = [orjson.dumps(r) for r in islice(SampleCorpus(seed=7).records(), args.lines)]
    engine = build_engine()
    half = len(lines) // 2
    engine.ingest_stream(lines[:half])

    with engine.serve(host=args.host, port=args.port) as server:
        print(f"dashboard: {server.url}")
        feeding = args.serve_seconds if args.serve_seconds > 0 else 30.0
        feeder = threading.Thread(target=feed, args=(engine, lines[half:], 20, feeding / 25),
                                  daemon=True)
        feeder.start()
        try:
            if args.serve_seconds > 0:
                time.sleep(args.serve_seconds)
            else:
                while True:
                    time.sleep(1)
        except KeyboardInterrupt:
            pass
        feeder.join()

    print(f"stored {len(engine):,} of {len(lines):,} lines")
    for name, stats in engine.processor_stats().items():
        print(f"  {name:<8} processed {stats['processed']:>7,}  errors {stats['errors']:>6,}"
              f"  avg {stats['avg_time_ms']:.4f} ms")
    print("last traces:", engine.get_traces(3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
