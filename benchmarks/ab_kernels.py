"""A/B of two builds of the C accelerator, interleaved in one process on the same input.

Run: ``python benchmarks/ab_kernels.py OLD.so NEW.so [--lines 200000] [--rounds 7]``, for
example the extension built from the previous commit against the current one. Both builds
are loaded side by side (as ``a._speedups`` and ``b._speedups``) and configured like the
package does; each kernel then runs on the sample corpus in alternating order, and the
median process CPU time of each is printed with the ratio NEW / OLD. A shared machine
disturbs both sides alike, so the ratio is steadier than two separate runs.
"""

from __future__ import annotations

import argparse
import gc
import importlib.machinery
import importlib.util
import statistics
import time
from array import array
from collections.abc import Callable
from types import ModuleType
from typing import Any

import orjson

from log_analytics_engine.events.sample import generate_records
from log_analytics_engine.model.entry import _LEVEL_CACHE, LogEntry, entry_from_json
from log_analytics_engine.model.tokenize import words


def load(tag: str, path: str) -> ModuleType:
    """The extension at ``path`` as module ``<tag>._speedups``, configured."""
    name = f"{tag}._speedups"
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    module.configure(LogEntry, _LEVEL_CACHE, entry_from_json, orjson.loads, words, array)
    return module


def kernels(count: int) -> dict[str, Callable[[Any], Any]]:
    data = b"".join(orjson.dumps(r) + b"\n" for r in generate_records(count, seed=42))
    blocks: list[bytes] = []
    start = 0
    while start < len(data):  # blocks of whole lines, as ingest.files cuts them
        stop = data.rfind(b"\n", start, start + (1 << 18)) + 1 or len(data)
        blocks.append(data[start:stop])
        start = stop
    lines = data.split(b"\n")[:-1]
    entries = [entry_from_json(orjson.loads(line)) for line in lines]
    stamps = [e.ts for e in entries]
    chunks = [orjson.dumps([[e.timestamp, e.level, e.message, e.source, e.thread_id,
                             e.request_id, e.user_id, e.tags, e.metadata]
                            for e in entries[k:k + 4096]]) for k in range(0, count, 4096)]
    ts = array("d", stamps)
    in_order, late = array("I", range(0, count, 2)), array("I", range(1, count, 50))
    return {
        "ingest_blocks": lambda m: m.ingest_blocks(blocks, 0, {}, {}, {}, {}, {}),
        "entries_from_lines": lambda m: m.entries_from_lines(lines),
        "gather": lambda m: m.gather(entries, 0, {}, {}, {}, {}, {}, None),
        "encode_chunk": lambda m: [m.encode_chunk(entries[k:k + 4096], orjson.dumps, str,
                                                  orjson.OPT_NON_STR_KEYS)
                                   for k in range(0, count, 4096)],
        "entries_from_chunk": lambda m: [m.entries_from_chunk(d, stamps[k * 4096:][:4096], {})
                                         for k, d in enumerate(chunks)],
        "time_order": lambda m: m.time_order(in_order, late, ts, 0, entries, True, 0, count),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    builds = {"old": load("a", args.old), "new": load("b", args.new)}
    for name, run in kernels(args.lines).items():
        times: dict[str, list[float]] = {"old": [], "new": []}
        for r in range(args.rounds):
            for side in ("old", "new") if r % 2 else ("new", "old"):
                gc.collect()
                gc.disable()
                start = time.process_time()
                result = run(builds[side])
                times[side].append(time.process_time() - start)
                gc.enable()
                del result
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        print(f"{name:20s} old {old * 1e3:8.1f} ms   new {new * 1e3:8.1f} ms   "
              f"new/old {new / old:.3f}")


if __name__ == "__main__":
    main()
