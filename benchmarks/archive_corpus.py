"""The high-cardinality corpus of the archive benchmarks (a plain script, also imported).

The project's generator (:class:`~log_analytics_engine.events.sample.SampleCorpus`, seed 42:
5-15 word messages from a large vocabulary, tens of thousands of user ids, 0-3 tags, a float
``latency_ms``, some lines out of time order) with a unique 32-hex-digit ``request_id`` per
line and ``user_id``/``request_id`` as entry attributes.

    python benchmarks/archive_corpus.py OUT.jsonl LINES
"""

from __future__ import annotations

import itertools
import random
import sys

import orjson

from log_analytics_engine.events.sample import SampleCorpus


def write_corpus(path: str, lines: int, seed: int = 42) -> int:
    """Write ``lines`` JSONL lines to ``path``; return the bytes written."""
    rng = random.Random(seed)
    total = 0
    with open(path, "wb") as fh:
        for rec in itertools.islice(SampleCorpus(seed).records(), lines):
            meta = rec.get("metadata") or {}
            meta.pop("request_id", None)
            rec["user_id"] = str(meta.pop("user_id", "u0"))
            rec["request_id"] = f"{rng.getrandbits(128):032x}"
            line = orjson.dumps(rec) + b"\n"
            total += len(line)
            fh.write(line)
    return total


if __name__ == "__main__":
    print(write_corpus(sys.argv[1], int(sys.argv[2])))
