"""The ``log-analytics`` command line.

Each sub-command lives in a function ``cmd_<name>(args) -> int`` registered in
:data:`COMMANDS` by a ``register_<name>(subparsers)`` function. Errors the user can fix print
one line to stderr and exit non-zero; they never print a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from typing import Any

from .serve import register_serve

__all__ = ["COMMANDS", "CliError", "add_command", "main"]


class CliError(Exception):
    """A problem the user can fix: printed as one line, exit code 2."""


def _progress(total: int, desc: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A byte progress bar on stderr (tqdm, only when stderr is a terminal)."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return (lambda n: None), (lambda: None)
    bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False,
               disable=not sys.stderr.isatty())
    return bar.update, bar.close


def ingest_files(
    engine: Any, paths: Sequence[str], file_type: str | None = None
) -> list[dict[str, Any]]:
    """Ingest files with a progress bar; file type from the suffix unless given."""
    reports = []
    for path in paths:
        if not os.path.isfile(path):
            raise CliError(f"no such file: {path}")
        kind = file_type or ("text" if path.endswith((".log", ".txt", ".log.gz", ".txt.gz"))
                             else "jsonl")
        update, close = _progress(os.path.getsize(path), os.path.basename(path))
        try:
            reports.append(engine.ingest_logs_from_file(path, kind, progress=update))
        finally:
            close()
    return reports


def add_command(
    sub: Any, name: str, help_text: str, description: str
) -> argparse.ArgumentParser:
    """A sub-command parser: ``description`` is wrapped to 78 columns except indented lines,
    and whatever follows ``examples:`` becomes the epilog, shown after the options."""
    text, _, examples = description.partition("\n\nexamples:\n")
    text = "\n".join(line if line.startswith(" ") else textwrap.fill(line, 78)
                     for line in text.splitlines())
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=text,
        epilog="examples:\n" + examples if examples else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    return p


# -- demo ---------------------------------------------------------------------------------
def register_demo(sub: Any) -> None:
    p = add_command(sub, "demo", "generate a sample corpus, ingest it and print a report",
                    "Generate a sample JSONL corpus, ingest it into an in-memory engine and "
                    "print counts, top sources, recent errors and query timings.\n\n"
                    "examples:\n  log-analytics demo --lines 200000")
    p.add_argument("--lines", type=int, default=100_000, help="corpus size (default 100000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.set_defaults(func=cmd_demo)


def _timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[Any, float]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return result, best * 1000.0


def cmd_demo(args: argparse.Namespace) -> int:
    from .. import LogAnalyticsEngine
    from ..events.sample import write_jsonl

    if args.lines < 1:
        raise CliError("--lines must be at least 1")
    engine = LogAnalyticsEngine()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sample.jsonl")
        print(f"Generating {args.lines:,} sample log lines (seed {args.seed})...")
        size = write_jsonl(path, args.lines, args.seed)
        print(f"  {size / 1e6:.1f} MB written")
        (report,) = ingest_files(engine, [path])
    print(f"Ingested {report['count']:,} lines in {report['duration_sec']:.2f} s "
          f"({report['logs_per_sec']:,.0f} lines/s), {report['errors']} rejected\n")
    stats = engine.get_stats()
    print(f"Time span: {stats.get('oldest')} .. {stats.get('newest')}")
    print("Entries by level:")
    for level, n in stats["levels"].items():
        print(f"  {level:<6} {n:>10,}")
    print("Top sources:")
    top = sorted(stats["sources"].items(), key=lambda kv: -kv[1])[:5]
    for source, n in top:
        print(f"  {source:<24} {n:>10,}")
    print("Most recent errors:")
    for e in engine.query_logs({"min_severity": "ERROR"}, sort_desc=True, page_size=5):
        print(f"  {e.summary(90)}")
    print("Query timings (best of 5):")
    newest = engine.query_logs(sort_desc=True, page_size=1)[0].ts
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("count ERROR", lambda: engine.count_logs({"level": "ERROR"})),
        ("latest 50 ERROR", lambda: engine.query_logs({"level": "ERROR"}, sort_desc=True,
                                                      page_size=50)),
        ("ERROR + 'timeout' last hour", lambda: engine.query_logs(
            {"level": "ERROR", "keyword": "timeout", "start_time": newest - 3600})),
        ("count by source", lambda: engine.aggregate(group_by="source")),
        ("p95 latency by level", lambda: engine.aggregate(
            group_by="level", metrics=["count", "p95:latency_ms"])),
    ]
    for name, fn in cases:
        result, ms = _timed(fn)
        size = result if isinstance(result, int) else len(result)
        print(f"  {name:<32} {ms:>9.3f} ms  ({size:,} results)")
    return 0


#: Every sub-command's registration function, in ``--help`` order.
COMMANDS: list[Callable[[Any], None]] = [register_demo, register_serve]


def register_everyday(sub: Any) -> None:
    """``query``, ``stats``, ``tail`` and ``alerts`` (imported late: that module imports this)."""
    from .everyday import register_alerts, register_query, register_stats, register_tail

    for register in (register_query, register_stats, register_tail, register_alerts):
        register(sub)


COMMANDS.append(register_everyday)

from ..events.pipeline import register_generate, register_pipeline  # noqa: E402

COMMANDS += [register_generate, register_pipeline]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="log-analytics",
        description="In-process log analytics: ingest, query, aggregate and alert on logs.",
        epilog="examples:\n  log-analytics demo\n  log-analytics demo --lines 500000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``log-analytics``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"log-analytics: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"log-analytics: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
