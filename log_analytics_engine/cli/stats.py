"""``log-analytics stats FILES``: counts by level and source, the time span, top keywords and
the error rate per hour as a bar chart."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..model.entry import LEVELS
from ..model.timeparse import format_instant
from .archive import add_archive_options, open_archive
from .common import (
    LEVEL_COLOURS,
    Out,
    UsageError,
    accelerator_status,
    add_command,
    add_type,
    guarded,
    ingest_reporting,
    make_engine,
    package_version,
    positive,
)

__all__ = ["cmd_stats", "register_stats"]


def register_stats(sub: Any) -> None:
    p = add_command(sub, "stats", "summarise log files",
                    "Ingest FILES and print counts by level and source, the time span, the top "
                    "keywords and the error rate (ERROR and FATAL) per hour as a bar chart.\n\n"
                    "examples:\n  log-analytics stats app.jsonl\n"
                    "  log-analytics stats logs/*.jsonl.gz --top 5\n"
                    "  log-analytics stats --archive /data/archive")
    p.add_argument("files", nargs="*", metavar="FILE", help="JSONL or text files (gzip ok)")
    p.add_argument("--top", type=positive, default=10, help="rows per top list (default 10)")
    p.add_argument("--hours", type=positive, default=48,
                   help="show at most the last N hours of the chart (default 48)")
    add_type(p)
    add_archive_options(p)
    p.set_defaults(func=guarded(cmd_stats))


def _span(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d}d"] * bool(d) + [f"{h}h"] * bool(h) + [f"{m}m"] * bool(m) + [f"{s}s"]
    return " ".join(parts[:3])


def _counts(out: Out, title: str, rows: Sequence[tuple[str, int]], total: int,
            colours: dict[str, str] | None = None) -> None:
    out.line(title)
    if not rows:
        out.line("  (none)")
        return
    name_w = max(len(str(k)) for k, _ in rows)
    top = max(n for _, n in rows)
    for key, n in rows:
        label = out.paint(f"{key!s:<{name_w}}", (colours or {}).get(str(key)))
        out.line(f"  {label} {n:>10,} {100 * n / total:6.2f}%  {out.bar(n / top, 20)}")


def cmd_stats(args: argparse.Namespace) -> int:
    if args.archive is not None:
        return _archive_stats(args)
    if not args.files:
        raise UsageError("give FILES or --archive DIR")
    engine = make_engine()
    reports = ingest_reporting(engine, args.files, args.type)
    out = Out()
    stats = engine.get_stats()
    total = stats["total_logs"]
    rejected = sum(r["errors"] for r in reports)
    out.line(f"Files: {len(reports)}   entries: {total:,}   bad lines skipped: {rejected:,}")
    out.line(f"Engine: log-analytics {package_version()}, {accelerator_status()}")
    if not total:
        out.line("No entries.")
        return 0
    _overview(out, engine, stats["levels"], stats["sources"], total, args.top)
    _counts(out, f"Top keywords (entries containing the word, top {args.top}):",
            engine.top_keywords(args.top), total)
    out.line()
    _error_chart(out, engine, args.hours)
    return 0


def _archive_stats(args: argparse.Namespace) -> int:
    """The same summary over a Parquet archive (no top keywords: they need every word)."""
    with open_archive(args) as archive:
        out = Out()
        by_level = archive.aggregate(group_by="level")
        total = sum(v["count"] for v in by_level.values())
        out.line(f"Archive: {args.archive}   segments: {len(archive.segments()):,}   "
                 f"entries: {total:,}   executor: {args.executor}")
        if not total:
            out.line("No entries.")
            return 0
        by_source = archive.aggregate(group_by="source")
        _overview(out, archive, {lv: v["count"] for lv, v in by_level.items()},
                  {s: v["count"] for s, v in by_source.items()}, total, args.top)
        _error_chart(out, archive, args.hours)
    return 0


def _overview(out: Out, reader: Any, levels: dict[str, int], sources: dict[str, int],
              total: int, top: int) -> None:
    """Time span, counts by level and the top sources, of an engine or an archive."""
    first = reader.query_logs(page_size=1)[0].ts
    last = reader.query_logs(sort_desc=True, page_size=1)[0].ts
    out.line(f"Time span: {format_instant(first)} .. {format_instant(last)} "
             f"({_span(last - first)})")
    out.line()
    shown = [(lv, n) for lv in reversed(LEVELS) if (n := levels.get(lv, 0))]
    _counts(out, "By level:", shown, total, LEVEL_COLOURS)
    out.line()
    ranked = sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))
    label = f"By source (top {top} of {len(ranked)}):"
    _counts(out, label, [(s or "(none)", n) for s, n in ranked[:top]], total)
    out.line()


def _error_chart(out: Out, engine: Any, hours: int) -> None:
    per_hour = engine.aggregate(interval="1h")
    errors = engine.aggregate({"min_severity": "ERROR"}, interval="1h")
    rows = [(start, errors.get(start, {}).get("count", 0), agg["count"])
            for start, agg in per_hour.items()]
    shown = rows[-hours:]
    note = f" (last {len(shown)} of {len(rows)} hours)" if len(shown) < len(rows) else ""
    out.line(f"Error rate per hour (ERROR+FATAL / all){note}:")
    top = max((e / n for _, e, n in shown), default=0.0) or 1.0
    red = LEVEL_COLOURS["ERROR"]
    for start, e, n in shown:
        rate = e / n
        bar = out.paint(out.bar(rate / top, 30), red)
        out.line(f"  {start[:13]}h {100 * rate:6.2f}% {bar} ({e:,}/{n:,})")
