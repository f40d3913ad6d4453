"""``log-analytics serve [FILES...]``: serve the dashboard, ingest files into it (and with
``--follow`` keep reading them as they grow, across rotation), fire ``--rules`` alerts.

The port is bound first, so a busy port fails at once, before any file is read; the files
are then ingested while the dashboard already shows them arriving.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from ..engine import LogAnalyticsEngine
from ..ingest import guess_file_type
from ..ingest.follow import FileFollower
from .alerts import load_rules
from .common import (
    CliError,
    UsageError,
    accelerator_status,
    add_command,
    add_type,
    check_input_file,
    ingest_files,
)

__all__ = ["FollowedFile", "cmd_serve", "register_serve"]

#: Bytes read from a followed file per poll at most (a big file takes several polls).
READ_SIZE = 8 << 20


def register_serve(sub: Any) -> None:
    p = add_command(
        sub, "serve", "serve the dashboard over log files, live with --follow",
        "Serve the dashboard (HTML page, JSON API and /metrics for Prometheus) of an "
        "in-memory engine and ingest the given JSONL or text files (plain or .gz) into it. "
        "With --follow the files keep being read as they grow, across rotation and "
        "truncation (like tail -F; compressed files are read once). --rules fires the alert "
        "rules of a JSON rules file on the entries as they arrive. The port is bound before "
        "any file is read. Runs until Ctrl+C.\n\nexamples:\n"
        "  log-analytics serve app.jsonl\n"
        "  log-analytics serve /var/log/app.jsonl --follow --rules rules.json\n"
        "  log-analytics serve access.log.gz --port 9000 --token s3cret")
    p.add_argument("files", nargs="*", metavar="FILES", help="log files to ingest")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    add_type(p)
    p.add_argument("--follow", action="store_true",
                   help="keep reading the files as they grow (across rotation)")
    p.add_argument("--rules", default=None, help="JSON file with a list of alert rules")
    p.add_argument("--interval", type=float, default=0.5,
                   help="seconds between polls of followed files (default 0.5)")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' (or ?token=) on every endpoint")
    p.add_argument("--allowed-host", dest="allowed_hosts", action="append", default=[],
                   metavar="NAME", help="also accept requests for this Host name (repeatable; "
                   "'*' for any; default: loopback names and --host)")
    p.add_argument("--exit-after", type=float, default=None, metavar="SECONDS",
                   help="stop serving after SECONDS (default: run until interrupted)")
    p.set_defaults(func=cmd_serve)


class FollowedFile:
    """A file read from its start and then as it grows, into an engine, counting entries
    and rejected lines (what ``serve --follow`` does per file)."""

    def __init__(self, engine: LogAnalyticsEngine, path: str, file_type: str) -> None:
        self.engine = engine
        self.path = path
        self.file_type = file_type
        self.count = 0
        self.rejected = 0
        self.follower = FileFollower(path, from_start=True, read_size=READ_SIZE)

    def pump(self) -> int:
        """Ingest what was appended since the last call; the number of entries stored."""
        stored = 0
        for _, lines in self.follower.poll_runs():
            report = self.engine.ingest_stream(lines, self.file_type)
            stored += report["count"]
            self.rejected += report["errors"]
        self.count += stored
        return stored

    def catch_up(self) -> None:
        """Pump until the file's current end."""
        while self.pump():
            pass

    def close(self) -> None:
        self.follower.close()


def _compressed(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    if args.exit_after is not None and args.exit_after < 0:
        raise UsageError("--exit-after must be >= 0")
    if not args.interval > 0:
        raise UsageError("--interval must be > 0")
    try:  # an optional extra, imported on use: the other commands start without FastAPI
        from ..dashboard import serve
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise CliError(str(exc)) from None
    for path in args.files:
        check_input_file(path)
    rules = load_rules(args.rules) if args.rules else []
    engine = LogAnalyticsEngine()
    for rule in rules:
        engine.add_alert_rule(rule)
    try:  # the port first: a busy one fails now, not after the files are read
        server = serve(engine, host=args.host, port=args.port, token=args.token,
                       allowed_hosts=args.allowed_hosts)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"Dashboard: {server.url}  (metrics: {server.url}metrics; Ctrl+C to stop)", flush=True)
    print(accelerator_status(), flush=True)
    followed: list[FollowedFile] = []
    try:
        followed = _ingest(engine, args)
        if rules:
            print(f"{len(rules)} alert rule(s), {len(engine.get_alerts())} alert(s) so far",
                  flush=True)
        _serve_until(args, [f.pump for f in followed])
    except KeyboardInterrupt:
        print("stopping")
    finally:
        for f in followed:
            f.close()
        server.stop()
    return 0


def _ingest(engine: LogAnalyticsEngine, args: argparse.Namespace) -> list[FollowedFile]:
    """Read every file once (printing a line each); the files to follow from then on."""
    followed = []
    for path in args.files:
        kind = args.type or guess_file_type(path)
        if args.follow and not _compressed(path):
            f = FollowedFile(engine, path, kind)
            f.catch_up()
            followed.append(f)
            print(f"{path}: {f.count:,} entries, {f.rejected} rejected; following",
                  flush=True)
            continue
        (report,) = ingest_files(engine, [path], kind)
        note = " (compressed: read once, not followed)" if args.follow else ""
        print(f"{report['file']}: {report['count']:,} entries, {report['errors']} rejected "
              f"({report['logs_per_sec']:,.0f} lines/s){note}", flush=True)
    return followed


def _serve_until(args: argparse.Namespace, pumps: list[Callable[[], int]]) -> None:
    """Poll the followed files every ``--interval`` until ``--exit-after`` or Ctrl+C."""
    deadline = None if args.exit_after is None else time.monotonic() + args.exit_after
    step = args.interval if pumps else 0.2
    while deadline is None or time.monotonic() < deadline:
        for pump in pumps:
            try:
                pump()
            except OSError as exc:  # e.g. permissions changed under us: say it, keep serving
                print(f"log-analytics: warning: {exc}", file=sys.stderr, flush=True)
        left = step if deadline is None else max(0.0, min(step, deadline - time.monotonic()))
        time.sleep(left)

