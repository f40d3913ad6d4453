"""A/B of bulk archive import (``log-analytics archive FILE --to DIR``) between two source
trees of the package, interleaved, in fresh processes.

Run: ``python benchmarks/ab_archive_import.py CORPUS OLD_TREE NEW_TREE [--rounds 3]
[--cpus 0]`` where each ``*_TREE`` is a checkout whose package (with its accelerator built in
place) is put first on ``PYTHONPATH``, and ``CORPUS`` a JSONL file (``archive_corpus.py``
writes the benchmark's). ``--cpus`` pins the children to those CPUs with ``taskset`` ("one
core": ``--cpus 0``). Each round runs both sides, alternating which goes first. Printed per
side: median wall seconds, lines/s, user+system CPU seconds, peak RSS of the child (MB) and
bytes per entry on disk; then NEW / OLD of the wall time. Both sides suffer the same
neighbours on a shared machine, so the ratio is steadier than two separate runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(tree: str, corpus: Path, cpus: str | None) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="lae-ab-archive-"))
    # GNU time reports the peak RSS of this child alone (ru_maxrss of RUSAGE_CHILDREN is the
    # largest child so far)
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "log_analytics_engine",
           "archive", str(corpus), "--to", str(out / "a")]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]
    env = {**os.environ, "PYTHONPATH": tree}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=out, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    size = sum(p.stat().st_size for p in (out / "a").rglob("*") if p.is_file())
    shutil.rmtree(out)
    return {"wall": wall,
            "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            "rss_mb": int(done.stderr.strip().splitlines()[-1]) / 1024,
            "size": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpus", default=None)
    args = ap.parse_args()
    lines = sum(1 for _ in args.corpus.open("rb"))
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for side in (("old", "new") if r % 2 == 0 else ("new", "old")):
            got = run(getattr(args, side), args.corpus, args.cpus)
            runs[side].append(got)
            print(f"round {r} {side}: {got['wall']:.2f} s wall, {lines / got['wall']:,.0f} "
                  f"lines/s, {got['cpu']:.2f} s CPU", flush=True)
    med = {side: {k: statistics.median(x[k] for x in rs) for k in rs[0]}
           for side, rs in runs.items()}
    for side, m in med.items():
        print(f"{side}: median {m['wall']:.2f} s wall = {lines / m['wall']:,.0f} lines/s; "
              f"{m['cpu']:.2f} s CPU = {lines / m['cpu']:,.0f} lines/CPU-s; "
              f"peak RSS {max(x['rss_mb'] for x in runs[side]):.0f} MB (max); "
              f"{m['size'] / lines:.1f} B/entry")
    print(f"new / old wall: {med['new']['wall'] / med['old']['wall']:.2f}")


if __name__ == "__main__":
    main()
