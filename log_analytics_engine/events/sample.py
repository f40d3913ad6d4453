"""A deterministic generator of realistic log corpora (for the demo, examples and benchmarks).

Lines look like production JSON logs: skewed levels, ~50 sources, a Zipf-distributed message
vocabulary, 0-3 tags, metadata with user and request ids and a latency, and about 2% of the
timestamps out of order.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import orjson

from ..model.timeparse import format_instant

__all__ = ["SampleCorpus", "generate_records", "write_jsonl"]

_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL", "TRACE")
_LEVEL_WEIGHTS = (15, 70, 9, 4.5, 0.5, 1)
_TAGS = ("prod", "canary", "eu", "us", "batch", "web", "mobile", "internal", "retry", "slow",
         "tenant-a", "tenant-b", "tenant-c", "debug", "audit")
_STEMS = ("request", "user", "session", "cache", "database", "query", "timeout", "connection",
          "payment", "order", "invoice", "auth", "token", "login", "logout", "upload", "file",
          "queue", "worker", "job", "retry", "failed", "succeeded", "started", "completed",
          "refused", "latency", "slow", "disk", "memory", "cpu", "node", "cluster", "shard",
          "replica", "leader", "follower", "api", "gateway", "proxy", "config", "reload",
          "deploy", "rollback", "health", "check", "metric", "event", "stream", "batch")


class SampleCorpus:
    """A reproducible stream of log records (dicts) for one seed.

    >>> recs = list(itertools.islice(SampleCorpus(seed=1).records(), 2))
    >>> sorted(recs[0])
    ['level', 'message', 'metadata', 'source', 'tags', 'timestamp']
    """

    def __init__(self, seed: int = 42, start: float = 1_753_000_000.0, rate: float = 12.0,
                 vocabulary: int = 5000, sources: int = 50) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.step = 1.0 / rate
        rng = self.rng
        words = list(_STEMS)
        while len(words) < vocabulary:
            a, b = rng.choice(_STEMS), rng.choice(_STEMS)
            words.append(f"{a}{b[:3]}{len(words)}")
        self.words = words
        # Zipf weights 1/rank
        self.word_cum = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(words))))
        self.sources = [f"svc-{name}" for name in
                        (rng.choice(_STEMS) + str(i) for i in range(sources))]
        self.source_cum = list(itertools.accumulate(1.0 / (r + 1) ** 0.8
                                                    for r in range(sources)))

    def records(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        words, wcum = self.words, self.word_cum
        t = self.start
        n = 0
        while True:
            n += 1
            t += self.step * rng.expovariate(1.0)
            ts = t
            if rng.random() < 0.02:
                ts = t - rng.uniform(1, 300)  # late arrival
            level = rng.choices(_LEVELS, _LEVEL_WEIGHTS)[0]
            msg_words = rng.choices(words, cum_weights=wcum, k=rng.randint(6, 12))
            message = " ".join(msg_words)
            if level in ("ERROR", "FATAL"):
                message = "error: " + message
            ntags = rng.choice((0, 0, 1, 1, 2, 3))
            yield {
                "timestamp": format_instant(round(ts, 3)),
                "level": level,
                "message": message,
                "source": rng.choices(self.sources, cum_weights=self.source_cum)[0],
                "tags": rng.sample(_TAGS, ntags),
                "metadata": {
                    "user_id": f"u{rng.randint(1, 20000)}",
                    "request_id": f"req-{n:08x}",
                    "latency_ms": round(rng.lognormvariate(3.5, 1.0), 2),
                },
            }


def generate_records(count: int, seed: int = 42) -> list[dict[str, Any]]:
    """``count`` records of :class:`SampleCorpus` for ``seed``."""
    return list(itertools.islice(SampleCorpus(seed).records(), count))


def write_jsonl(path: str, count: int, seed: int = 42) -> int:
    """Write ``count`` JSONL lines to ``path``; return the number of bytes written."""
    total = 0
    with open(path, "wb") as fh:
        for rec in itertools.islice(SampleCorpus(seed).records(), count):
            line = orjson.dumps(rec) + b"\n"
            total += len(line)
            fh.write(line)
    return total
