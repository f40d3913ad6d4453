"""A/B of two checkouts of the package (for example before and after a refactor), interleaved.

Run: ``python benchmarks/ab_versions.py OLD_PYTHON NEW_PYTHON [--lines 500000] [--rounds 5]``
where each ``*_PYTHON`` is the interpreter of a virtual environment with that checkout
installed (``pip install -e``, accelerator built). One corpus is written once; then each round
starts a fresh process per side, alternating which side goes first, that ingests the file with
every index and runs a fixed set of queries. Printed: the median process CPU time of each step
per side and the ratio NEW / OLD (below 1 is faster). Both sides suffer the same neighbours on
a shared machine, so the ratio is steadier than two separate runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from log_analytics_engine.events.sample import write_jsonl

# Runs in the child, against whichever package its interpreter imports; only the original
# API and long-standing methods (first pages by default: page numbering changed once), so
# that any two versions can be compared.
_PRELUDE = r"""
import json, sys, time
import orjson
from log_analytics_engine import LogAnalyticsEngine, LogEntry, Retention
path = sys.argv[1]
out = {}
def timed(name, fn, repeat=1):
    start = time.process_time()
    for _ in range(repeat):
        result = fn()
    out[name] = (time.process_time() - start) / repeat
    return result
engine = LogAnalyticsEngine()
timed("ingest_file", lambda: engine.ingest_logs_from_file(path, "jsonl"))
"""

_QUERIES = r"""
timed("count_level", lambda: engine.count_logs({"level": "ERROR"}), 200)
timed("latest_50_error", lambda: engine.query_logs({"level": "ERROR"}, sort_by="timestamp",
      sort_desc=True, page_size=50), 200)
timed("keyword_and_level", lambda: engine.query_logs({"level": "WARNING", "keyword": "timeout"},
      page_size=100), 100)
timed("time_range_count", lambda: engine.count_logs({"start_time": "2025-07-20T10:00:00Z",
      "end_time": "2025-07-20T11:00:00Z"}), 100)
timed("stats", engine.get_stats, 5)
print(json.dumps(out))
"""


def child_script(steps: str = "") -> str:
    """A child script: file ingestion into ``engine``, then ``steps`` (more timed steps,
    using ``timed``, ``path``, ``engine`` and the original API), then the queries."""
    return _PRELUDE + steps + _QUERIES


CHILD = child_script()


def run(python: str, path: Path, child: str = CHILD) -> dict[str, float]:
    """The step timings of one child process (``child``, a script run with ``-c PATH``)."""
    # from the corpus' folder: not from a checkout, whose package would shadow the installed one
    done = subprocess.run([python, "-c", child, str(path)], capture_output=True, text=True,
                          cwd=path.parent)
    if done.returncode:
        raise SystemExit(f"{python} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(child: str = CHILD, doc: str | None = __doc__, lines: int = 500_000) -> None:
    """Parse the command line and compare OLD and NEW on ``child``'s steps (also the driver
    of the other A/B scripts, each with its own child)."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--lines", type=int, default=lines)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # the children run from the corpus' folder: a relative interpreter path would not resolve
    args.old, args.new = (os.path.abspath(p) if os.sep in p else shutil.which(p) or p
                          for p in (args.old, args.new))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        write_jsonl(str(path), args.lines, seed=42)
        times: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
        for r in range(args.rounds):
            order = [("old", args.old), ("new", args.new)]
            for side, python in order if r % 2 == 0 else order[::-1]:
                for step, seconds in run(python, path, child).items():
                    times[side].setdefault(step, []).append(seconds)
    print(f"{'step':<24} {'old (median)':>14} {'new (median)':>14} {'new/old':>8}  (us)")
    for step, old in times["old"].items():
        a, b = statistics.median(old), statistics.median(times["new"][step])
        print(f"{step:<24} {a * 1e6:>14.1f} {b * 1e6:>14.1f} {b / a:>8.2f}")


if __name__ == "__main__":
    main()
