"""The JSONL session pipeline: a sample event generator, the pipeline run and its report.

:func:`write_event_jsonl` writes about N event lines (``user_id``, ``feature``, ``timestamp``,
``action``) with deliberate errors; :func:`run_pipeline` parses and validates them, pairs
sessions and writes ``parsed_summary.json`` and ``final_summary.json``. Nothing here prints:
the ``generate`` and ``pipeline`` commands (:mod:`log_analytics_engine.cli`) do.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..ingest.files import open_lines
from ..model.timeparse import format_instant
from .sessions import SessionsResult, format_duration
from .table import EventTable
from .validation import EventSchema, ParsedEvents, parse_event_lines

__all__ = [
    "FEATURES",
    "MIN_LINES_WITH_EVERY_ERROR",
    "PipelineResult",
    "ensure_writable_dir",
    "generate_event_lines",
    "render_report",
    "run_pipeline",
    "write_event_jsonl",
]

log = logging.getLogger(__name__)

FEATURES = ("search", "checkout", "profile", "video", "chat", "settings", "upload", "export")
_ERROR_KINDS = ("malformed", "missing", "timestamp", "action")
_REQUIRED = ("user_id", "feature", "timestamp", "action")
#: From this many lines on, a generated file holds every kind of deliberate error.
MIN_LINES_WITH_EVERY_ERROR = 20


def generate_event_lines(
    lines: int, seed: int = 42, error_rate: float = 0.04, start: float = 1_753_056_000.0
) -> Iterator[bytes]:
    """``lines`` JSONL event lines (with ``\\n``), deterministic for ``seed``.

    Users open sessions on features (log-normal durations, median ~4 minutes); about 3% of
    sessions never end, 1% of events are stray ends and 2% arrive out of order. A share
    ``error_rate`` of the lines is broken on purpose, in equal parts: malformed JSON, a
    missing field, an invalid timestamp, an invalid action or feature value. With
    ``error_rate > 0``, a file of 20 lines or more holds each of the four kinds at least
    once (four lines picked by the seed carry one kind each). Runtime complexity: O(N log N).
    """
    rng = random.Random(seed)
    users = [f"u{i}" for i in range(1, max(5, lines // 40) + 1)]
    events: list[tuple[float, str, str, str]] = []
    busy: dict[tuple[str, str], float] = {}  # a key's sessions do not overlap
    t = start
    while len(events) < lines:
        t += rng.expovariate(1.0) * 0.5
        user = rng.choice(users)
        feature = rng.choice(FEATURES)
        if busy.get((user, feature), 0.0) >= t:
            continue
        roll = rng.random()
        if roll < 0.01:
            events.append((t, user, feature, "end"))
            continue
        events.append((t, user, feature, "start"))
        if roll < 0.04:
            continue
        duration = min(rng.lognormvariate(5.5, 1.0), 4 * 3600.0)
        events.append((t + duration, user, feature, "end"))
        busy[user, feature] = t + duration + 300.0
    del events[lines:]
    # time order with ~2% late arrivals (a delay of up to five minutes)
    events.sort(key=lambda ev: ev[0] + (rng.uniform(1, 300) if rng.random() < 0.02 else 0))
    broken: dict[int, str] = {}
    if error_rate:
        broken = {i: rng.choice(_ERROR_KINDS) for i in range(len(events))
                  if rng.random() < error_rate}
        if len(events) >= MIN_LINES_WITH_EVERY_ERROR:
            picked = rng.sample(range(len(events)), len(_ERROR_KINDS))
            broken.update(zip(picked, _ERROR_KINDS, strict=True))
    dumps = orjson.dumps
    for i, (ts, user, feature, action) in enumerate(events):
        record: dict[str, Any] = {"user_id": user, "feature": feature,
                                  "timestamp": format_instant(round(ts, 3)), "action": action}
        kind = broken.get(i)
        if kind == "malformed":  # cut inside the JSON text, before its closing brace
            yield dumps(record)[: rng.randint(5, 30)] + b"\n"
            continue
        if kind == "missing":
            del record[rng.choice(_REQUIRED)]
        elif kind == "timestamp":
            record["timestamp"] = rng.choice(("2025-13-45T99:00:00Z", "yesterday", ""))
        elif kind == "action":  # an action outside start/end, or an empty or non-text feature
            field, bad = rng.choice((("action", "pause"), ("action", "START"),
                                     ("action", "stop"), ("feature", ""), ("feature", 42)))
            record[field] = bad
        yield dumps(record) + b"\n"


def write_event_jsonl(path: str | os.PathLike[str], lines: int, seed: int = 42,
                      error_rate: float = 0.04) -> int:
    """Write :func:`generate_event_lines` to ``path``; return the number of bytes."""
    total = 0
    with open(path, "wb") as fh:
        for line in generate_event_lines(lines, seed, error_rate):
            fh.write(line)
            total += len(line)
    return total


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` computed and wrote."""

    parsed: ParsedEvents
    sessions: SessionsResult
    parsed_summary: dict[str, Any]
    final_summary: dict[str, Any]
    parsed_path: str
    final_path: str


def ensure_writable_dir(path: str) -> None:
    """Create ``path`` if needed and check a file can be written in it (``OSError`` if not)."""
    os.makedirs(path, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
        pass


def _parsed_summary(engine: EventTable, parsed: ParsedEvents) -> dict[str, Any]:
    by_user: dict[Any, dict[str, Any]] = {}
    for (user, feature), m in engine.aggregate(group_by=("user_id", "feature")).items():
        slot = by_user.setdefault(user, {"events": 0, "by_feature": {}})
        slot["events"] += m["count"]
        slot["by_feature"][feature] = m["count"]
    by_feature = {f: {"events": m["count"], "users": m["distinct_user_id"]} for f, m in
                  engine.aggregate(group_by="feature",
                                   metrics=["count", "distinct:user_id"]).items()}
    by_action = {a: m["count"] for a, m in engine.aggregate(group_by="action").items()}
    return {"stats": parsed.stats(), "errors": [e.to_dict() for e in parsed.errors],
            "by_user": by_user, "by_feature": by_feature, "by_action": by_action}


def _write_json(path: str, data: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        fh.write(b"\n")
    os.replace(tmp, path)


def run_pipeline(
    input_path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
    schema: EventSchema | None = None,
) -> PipelineResult:
    """Parse and validate ``input_path`` (JSONL, plain or gzip), pair sessions, write both
    summaries into ``out_dir``. Raises ``OSError`` for an unreadable input or output.

    Everything runs on a fresh engine: entries are ingested, the parsed summary comes from
    :meth:`LogAnalyticsEngine.aggregate` and the sessions from
    :meth:`LogAnalyticsEngine.sessions`. Runtime complexity: O(m log m) for m lines.
    """
    out = os.fspath(out_dir)
    ensure_writable_dir(out)
    with open_lines(input_path) as fh:
        parsed = parse_event_lines(fh, schema)
    table = EventTable(parsed.entries)
    parsed_summary = _parsed_summary(table, parsed)
    sessions = table.sessions()
    final_summary = {"parsing": parsed.stats(), **sessions.to_dict()}
    parsed_path = os.path.join(out, "parsed_summary.json")
    final_path = os.path.join(out, "final_summary.json")
    _write_json(parsed_path, parsed_summary)
    _write_json(final_path, final_summary)
    log.info("pipeline %s: %d lines, %d sessions", input_path, parsed.total_lines,
             sessions.complete_count)
    return PipelineResult(parsed, sessions, parsed_summary, final_summary, parsed_path,
                          final_path)


def render_report(result: PipelineResult, top_users: int = 10) -> str:
    """The human-readable report of a pipeline run (durations like ``1h 5m 30s``)."""
    st = result.parsed.stats()
    fs = result.final_summary
    lines = [
        f"Parsing: {st['total_lines']:,} line{'' if st['total_lines'] == 1 else 's'}, "
        f"{st['valid']:,} valid, "
        f"{st['parse_errors']:,} parse errors, {st['validation_errors']:,} validation errors",
        f"Sessions: {fs['sessions']['complete']:,} complete, "
        f"{fs['sessions']['incomplete']:,} incomplete (excluded from durations)",
        "",
        "By feature:",
        f"  {'feature':<14}{'sessions':>9}{'users':>7}  {'total':>14}  {'average':>10}  "
        f"{'min':>10}  {'max':>10}",
    ]
    for name, m in fs["by_feature"].items():
        lines.append(
            f"  {name!s:<14}{m['sessions']:>9,}{m['unique_users']:>7,}  "
            f"{format_duration(m['total_duration_s']):>14}  "
            f"{format_duration(m['avg_duration_s']):>10}  "
            f"{format_duration(m['min_duration_s']):>10}  "
            f"{format_duration(m['max_duration_s']):>10}")
    users = sorted(fs["by_user"].items(), key=lambda kv: -kv[1]["total_duration_s"])
    lines += ["", f"Top {min(top_users, len(users))} of {len(users):,} users by total time:"]
    for name, m in users[:top_users]:
        lines.append(f"  {name!s:<14}{m['sessions']:>6,} sessions  "
                     f"{format_duration(m['total_duration_s']):>14} total  "
                     f"{format_duration(m['avg_duration_s']):>10} average  "
                     f"{len(m['features'])} features")
    lines += ["", "By hour of start:"]
    for hour, m in fs["by_hour"].items():
        lines.append(f"  {hour}  {m['sessions']:>7,} sessions  "
                     f"{format_duration(m['total_duration_s']):>14} total  "
                     f"{format_duration(m['avg_duration_s']):>10} average")
    lines += ["", f"Wrote {result.parsed_path}", f"Wrote {result.final_path}"]
    return "\n".join(lines)
