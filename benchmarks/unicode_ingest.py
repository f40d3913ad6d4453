"""File ingestion on a corpus with non-ASCII messages (a plain script).

    python benchmarks/unicode_ingest.py [LINES] [--rounds 3]

The benchmark corpus (the sample generator, seed 42) with every third message starting with
non-ASCII words ("café 日本", raw UTF-8): each round in a fresh process reads the file once with
a raw ``orjson.loads`` loop, then with ``ingest_logs_from_file`` into an engine with every
index. Prints lines/s and the ratio to the loop (medians of the rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from log_analytics_engine.events.sample import write_jsonl

CHILD = r"""
import json, sys, time
import orjson
from log_analytics_engine import LogAnalyticsEngine
path = sys.argv[1]
t = time.perf_counter()
with open(path, "rb") as fh:
    for line in fh:
        orjson.loads(line)
loop = time.perf_counter() - t
engine = LogAnalyticsEngine()
t = time.perf_counter()
engine.ingest_logs_from_file(path)
spent = time.perf_counter() - t
print(json.dumps({"lines": len(engine), "loop_s": loop, "ingest_s": spent}))
"""


def write_corpus(path: str, lines: int) -> None:
    """The benchmark corpus with every third message prefixed by non-ASCII words."""
    plain = path + ".plain"
    write_jsonl(plain, lines, seed=42)
    prefix = "caf\u00e9 \u65e5\u672c ".encode()
    with open(plain, "rb") as src, open(path, "wb") as out:
        for i, line in enumerate(src):
            if i % 3 == 0:
                record = json.loads(line)
                record["message"] = prefix.decode() + record.get("message", "")
                line = json.dumps(record, ensure_ascii=False).encode() + b"\n"
            out.write(line)
    os.remove(plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lines", nargs="?", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "unicode.jsonl")
        write_corpus(path, args.lines)
        runs = [json.loads(subprocess.run([sys.executable, "-c", CHILD, path], check=True,
                                          capture_output=True, text=True).stdout)
                for _ in range(args.rounds)]
    rate = statistics.median(r["lines"] / r["ingest_s"] for r in runs)
    ratio = statistics.median(r["loop_s"] / r["ingest_s"] for r in runs)
    loop = statistics.median(r["lines"] / r["loop_s"] for r in runs)
    print(f"non-ASCII messages, {args.lines:,} lines, medians of {args.rounds}: file ingestion "
          f"{rate:,.0f} lines/s ({ratio:.2f}x an orjson.loads loop, {loop:,.0f} lines/s)")


if __name__ == "__main__":
    main()
