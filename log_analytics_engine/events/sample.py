"""Deterministic generators of log corpora (for the ``sample`` and ``demo`` commands, the
examples and the benchmarks), in two styles:

* ``"realistic"``: readable application logs of a small web shop, as ``log-analytics sample``
  writes them: ``GET /api/orders/1234 200 in 35 ms``, ``payment declined for user u123:
  insufficient funds``, ``cache miss for key session:9f2c41``; hierarchical sources
  (``shop.api``, ``shop.payments``, ``auth``, ``db``...); levels that follow the message;
  metadata with the user, the request, the latency and, for HTTP lines, the method, path and
  status.
* ``"synthetic"`` (the default, the benchmark corpus): skewed levels, ~50 sources, a
  Zipf-distributed vocabulary of 5,000 words, 6-12 words a message. Its shape is what the
  query benchmarks are calibrated on, so it stays as it is.

Both have 0-3 tags, a user id, a request id and a latency, and about 2% of the timestamps out
of order.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import orjson

from ..model.timeparse import format_instant

__all__ = ["STYLES", "SampleCorpus", "generate_records", "realistic_message", "write_jsonl"]

STYLES = ("synthetic", "realistic")

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
                 vocabulary: int = 5000, sources: int = 50, style: str = "synthetic") -> None:
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
        self.style = style
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
        """An endless stream of records (dicts), in the corpus's style."""
        if self.style == "realistic":
            yield from self._realistic()
            return
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


    def _realistic(self) -> Iterator[dict[str, Any]]:
        rng = self.rng
        t = self.start
        n = 0
        while True:
            n += 1
            t += self.step * rng.expovariate(1.0)
            ts = t - rng.uniform(1, 300) if rng.random() < 0.02 else t
            user = f"u{rng.randint(1, 2000)}"
            record = realistic_message(rng, user)
            record["metadata"].update(user_id=user, request_id=f"req-{n:08x}")
            yield {"timestamp": format_instant(round(ts, 3)), "level": record["level"],
                   "message": record["message"], "source": record["source"],
                   "tags": rng.sample(_TAGS[:8], rng.choice((0, 0, 1, 1, 2, 3))),
                   "metadata": record["metadata"]}


# (weight, level, source, kind) of the realistic style; kind picks the message template
_REALISTIC = (
    (30, "INFO", "shop.api", "http_ok"), (3, "WARN", "shop.api", "http_4xx"),
    (1.2, "ERROR", "shop.api", "http_5xx"), (6, "INFO", "shop.payments", "paid"),
    (1.5, "WARN", "shop.payments", "retry"), (1.2, "ERROR", "shop.payments", "declined"),
    (10, "DEBUG", "shop.cache", "cache"), (1, "WARN", "shop.cache", "evict"),
    (6, "INFO", "auth", "login"), (1.5, "WARN", "auth", "bad_login"),
    (0.5, "ERROR", "auth", "token"), (8, "DEBUG", "db", "query"), (2, "WARN", "db", "slow"),
    (0.6, "ERROR", "db", "refused"), (0.05, "FATAL", "db", "pool"),
    (4, "INFO", "worker.email", "sent"), (0.4, "ERROR", "worker.email", "smtp"),
    (5, "INFO", "search", "search"), (1, "TRACE", "shop.api", "trace"),
)
_REALISTIC_CUM = list(itertools.accumulate(w for w, *_ in _REALISTIC))
_PATHS = ("/api/orders/{id}", "/api/products/{id}", "/api/cart/{id}/items", "/api/users/{id}",
          "/api/checkout", "/api/search", "/health")
_REASONS_DECLINED = ("insufficient funds", "card expired", "suspected fraud",
                     "3-D Secure failed")
_QUERIES = ("blue shoes", "rain jacket", "usb-c cable", "coffee grinder", "yoga mat")
_TABLES = ("orders", "products", "users", "payments", "sessions")


def realistic_message(rng: random.Random, user: str) -> dict[str, Any]:
    """One readable application log record (``level``, ``source``, ``message``,
    ``metadata``) of the realistic style, drawn from ``rng``.

    >>> realistic_message(random.Random(3), "u7")["source"] in {"shop.api", "shop.payments",
    ...     "shop.cache", "auth", "db", "worker.email", "search"}
    True
    """
    _, level, source, kind = rng.choices(_REALISTIC, cum_weights=_REALISTIC_CUM)[0]
    ms = round(rng.lognormvariate(3.3, 0.8), 1)
    meta: dict[str, Any] = {"latency_ms": ms}
    if kind.startswith("http") or kind == "trace":
        method = rng.choice(("GET", "GET", "GET", "POST", "PUT", "DELETE"))
        path = rng.choice(_PATHS).format(id=rng.randint(1000, 9999))
        status = {"http_ok": rng.choice((200, 200, 200, 201, 204, 304)), "trace": 200,
                  "http_4xx": rng.choice((400, 401, 403, 404, 404, 429)),
                  "http_5xx": rng.choice((500, 502, 503, 504))}[kind]
        meta.update(method=method, path=path, status=status)
        message = f"{method} {path} {status} in {ms:g} ms"
        if kind == "http_5xx":
            message += rng.choice((": upstream timeout", ": payment service unavailable",
                                   ": connection reset by peer"))
        elif kind == "trace":
            message = f"handler for {method} {path} entered"
        return {"level": level, "source": source, "message": message, "metadata": meta}
    amount = f"{rng.randint(5, 400)}.{rng.randint(0, 99):02d} EUR"
    order = rng.randint(100000, 999999)
    key = f"{rng.getrandbits(24):06x}"
    message = {
        "paid": f"payment for order {order} authorised for user {user}: {amount}",
        "retry": f"payment for order {order} retried ({rng.randint(1, 3)}/3): gateway timeout",
        "declined": f"payment declined for user {user}: {rng.choice(_REASONS_DECLINED)}",
        "cache": f"cache {rng.choice(('miss', 'hit', 'hit'))} for key "
                 f"{rng.choice(('session', 'product', 'cart'))}:{key}",
        "evict": f"cache eviction: {rng.randint(200, 5000)} keys dropped "
                 f"(memory {rng.randint(85, 99)}%)",
        "login": f"user {user} logged in from 10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "bad_login": f"failed login for user {user}: wrong password "
                     f"(attempt {rng.randint(2, 5)})",
        "token": f"token refresh failed for user {user}: signature expired",
        "query": f"query took {ms:g} ms: SELECT * FROM {rng.choice(_TABLES)} WHERE id = ?",
        "slow": f"slow query ({ms * 20:.0f} ms) on table {rng.choice(_TABLES)}",
        "refused": f"connection refused by db-replica-{rng.randint(1, 3)}:5432 (retry in 5 s)",
        "pool": "connection pool exhausted: 50/50 connections in use",
        "sent": f"sent order confirmation for order {order} to user {user} in {ms:g} ms",
        "smtp": f"SMTP timeout after 30 s sending mail for order {order}",
        "search": f"search '{rng.choice(_QUERIES)}' returned {rng.randint(0, 300)} results "
                  f"in {ms:g} ms",
    }[kind]
    if kind == "slow":
        meta["latency_ms"] = round(ms * 20, 1)
    return {"level": level, "source": source, "message": message, "metadata": meta}


def generate_records(count: int, seed: int = 42, style: str = "synthetic") -> list[dict[str, Any]]:
    """``count`` records of :class:`SampleCorpus` for ``seed`` in ``style``."""
    return list(itertools.islice(SampleCorpus(seed, style=style).records(), count))


def write_jsonl(path: str, count: int, seed: int = 42, style: str = "synthetic") -> int:
    """Write ``count`` JSONL lines of ``style`` to ``path``; return the number of bytes."""
    total = 0
    with open(path, "wb") as fh:
        for rec in itertools.islice(SampleCorpus(seed, style=style).records(), count):
            line = orjson.dumps(rec) + b"\n"
            total += len(line)
            fh.write(line)
    return total
