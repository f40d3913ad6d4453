"""``log-analytics query FILES -q QUERY``: search log files with a query string."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .archive import add_archive_options, open_archive
from .common import (
    Out,
    UsageError,
    add_command,
    add_type,
    entry_json,
    guarded,
    ingest_reporting,
    make_engine,
    note_unknown_fields,
    positive,
    positive_float,
    query_node,
)

__all__ = ["cmd_query", "register_query"]


def register_query(sub: Any) -> None:
    p = add_command(sub, "query", "search log files with a query string",
                    "Ingest FILES and print the entries matching QUERY (Lucene/Kibana-like: "
                    "field:value, \"phrases\", bare words, -/NOT, OR, AND, ( ), field:>N, "
                    "after:/before:).\n\nexamples:\n"
                    "  log-analytics query app.jsonl -q 'level:ERROR source:api'\n"
                    "  log-analytics query a.jsonl b.log.gz -q '\"connection refused\" "
                    "-tag:debug' --format jsonl\n"
                    "  log-analytics query app.jsonl -q 'latency_ms:>250 "
                    "after:2025-07-21T10:00' --limit 20 --desc\n"
                    "  log-analytics query app.jsonl -q 'level:(ERROR OR FATAL)' --count\n"
                    "  log-analytics query --archive /data/archive -q 'level:ERROR timeout'")
    p.add_argument("files", nargs="*", metavar="FILE", help="JSONL or text files (gzip ok)")
    p.add_argument("-q", "--query", default="", help="the query (default: every entry)")
    p.add_argument("--format", choices=("table", "json", "jsonl"), default="table",
                   help="output format (default: table)")
    p.add_argument("--limit", type=positive, default=None, help="print at most N entries")
    p.add_argument("--desc", action="store_true", help="newest first")
    p.add_argument("--count", action="store_true", help="print only the number of matches")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="give up after this long (the query is cancelled)")
    add_type(p)
    add_archive_options(p)
    p.set_defaults(func=guarded(cmd_query))


def cmd_query(args: argparse.Namespace) -> int:
    node = query_node(args.query)  # syntax errors before any file work
    engine: Any
    if args.archive is not None:
        engine = open_archive(args)
    elif not args.files:
        raise UsageError("give FILES or --archive DIR")
    else:
        engine = make_engine()
        ingest_reporting(engine, args.files, args.type)
        note_unknown_fields(engine, node)
    out = Out()
    if args.count:
        count = engine.count_logs(node, timeout=args.timeout)
        out.line(str(count))
        if not count:
            print("log-analytics: no entries matched", file=sys.stderr)
        return 0
    entries = engine.query_logs(node, sort_desc=args.desc, page_size=args.limit,
                                timeout=args.timeout)
    if not entries:
        print("log-analytics: no entries matched", file=sys.stderr)
    if args.format == "table":
        out.table(entries)
    elif args.format == "jsonl":
        for e in entries:
            out.line(entry_json(e).decode())
    else:
        out.line("[" + ",\n ".join(entry_json(e).decode() for e in entries) + "]")
    return 0
