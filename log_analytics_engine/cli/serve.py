"""``log-analytics serve [FILES...]``: ingest files (progress bar), then serve the dashboard."""

from __future__ import annotations

import argparse
import time
from typing import Any

__all__ = ["cmd_serve", "register_serve"]


def register_serve(sub: Any) -> None:
    from .main import add_command

    p = add_command(
        sub, "serve", "ingest files and serve the dashboard until interrupted",
        "Ingest the given JSONL or text files (plain or .gz) into an in-memory engine, then "
        "serve the dashboard (HTML page, JSON API and /metrics for Prometheus) until "
        "Ctrl+C.\n\nexamples:\n  log-analytics serve app.jsonl\n"
        "  log-analytics serve access.log.gz --port 9000 --token s3cret")
    p.add_argument("files", nargs="*", metavar="FILES", help="log files to ingest first")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    p.add_argument("--type", dest="file_type", choices=("jsonl", "text"), default=None,
                   help="file type (default: from the file name)")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' (or ?token=) on every endpoint")
    p.add_argument("--allowed-host", dest="allowed_hosts", action="append", default=[],
                   metavar="NAME", help="also accept requests for this Host name (repeatable; "
                   "'*' for any; default: loopback names and --host)")
    p.add_argument("--exit-after", type=float, default=None, metavar="SECONDS",
                   help="stop serving after SECONDS (default: run until interrupted)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from .. import LogAnalyticsEngine
    from .main import CliError, ingest_files

    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be between 0 and 65535, got {args.port}")
    if args.exit_after is not None and args.exit_after < 0:
        raise CliError("--exit-after must be >= 0")
    try:
        from ..dashboard import serve
    except ImportError as exc:
        raise CliError(str(exc)) from None
    engine = LogAnalyticsEngine()
    for report in ingest_files(engine, args.files, args.file_type):
        print(f"{report['file']}: {report['count']:,} entries, {report['errors']} rejected "
              f"({report['logs_per_sec']:,.0f} lines/s)")
    try:
        server = serve(engine, host=args.host, port=args.port, token=args.token,
                       allowed_hosts=args.allowed_hosts)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"Dashboard: {server.url}  (metrics: {server.url}metrics; Ctrl+C to stop)", flush=True)
    deadline = None if args.exit_after is None else time.monotonic() + args.exit_after
    try:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2 if deadline is None else min(0.2, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        print("stopping")
    finally:
        server.stop()
    return 0
