"""``log-analytics tail FILE``: follow a growing file (like ``tail -F``), print the new entries
matching a query and the alerts fired by a rules file."""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..alerts import Alert
from ..ingest import IngestReport, guess_file_type, read_entries
from ..ingest.follow import FileFollower
from ..model.entry import LogEntry
from .alerts import load_rules
from .common import (
    SEVERITY_COLOURS,
    Out,
    add_command,
    add_type,
    alert_row,
    check_input_file,
    entry_json,
    entry_row,
    guarded,
    make_engine,
    positive_float,
    query_node,
)

__all__ = ["cmd_tail", "read_new_lines", "register_tail"]


def register_tail(sub: Any) -> None:
    p = add_command(sub, "tail", "follow a growing log file (like tail -F)",
                    "Follow FILE as it grows, surviving rotation and truncation; print the new "
                    "entries matching QUERY and the alerts fired by --rules. Stop with "
                    "Ctrl-C.\n\n"
                    "examples:\n  log-analytics tail /var/log/app.jsonl -q 'level:ERROR'\n"
                    "  log-analytics tail app.log --rules rules.json --from-start")
    p.add_argument("file", metavar="FILE", help="the file to follow")
    p.add_argument("-q", "--query", default="", help="print only matching entries")
    p.add_argument("--rules", default=None, help="JSON file with a list of alert rules")
    p.add_argument("--from-start", action="store_true",
                   help="read the existing content first (default: only new lines)")
    p.add_argument("--interval", type=positive_float, default=0.2,
                   help="seconds between polls when idle (default 0.2)")
    p.add_argument("--format", choices=("table", "jsonl"), default="table",
                   help="output format (default: table)")
    add_type(p)
    p.set_defaults(func=guarded(cmd_tail))


def read_new_lines(follower: FileFollower, kind: str) -> list[LogEntry]:
    """The entries of the lines :meth:`FileFollower.poll_runs` returns, read by the ingest
    readers; one warning on stderr per bad line, with the file name and line number."""
    batch: list[LogEntry] = []
    for first, lines in follower.poll_runs():
        report = IngestReport(follower.path, kind)
        for entries in read_entries(io.BytesIO(b"\n".join(lines)), kind, report,
                                    first_line=first):
            batch += entries
        for bad in report.rejected:
            print(f"log-analytics: warning: {follower.path}: line {bad['line']}: "
                  f"{bad['reason']} (skipped)", file=sys.stderr)
    return batch


def cmd_tail(args: argparse.Namespace) -> int:
    node = query_node(args.query)
    rules = load_rules(args.rules) if args.rules else []
    check_input_file(args.file)
    kind = args.type or guess_file_type(args.file)
    out = Out()
    engine = make_engine(max_entries=100_000)  # bounded while following
    for rule in rules:
        engine.add_alert_rule(rule)
    fired: list[Alert] = []
    engine.add_alert_notification_hook(fired.append)
    seen = matched = 0
    follower = FileFollower(args.file, from_start=args.from_start)
    print(f"following {args.file} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        while True:
            batch = read_new_lines(follower, kind)
            if not batch:
                time.sleep(args.interval)
                continue
            seen += len(batch)
            if rules:
                engine.ingest_logs(batch)
            shown = [e for e in batch if node is None or node.match(e)]
            matched += len(shown)
            _print_in_time_order(out, shown, fired, args.format)
            fired.clear()
            out.stream.flush()
    except KeyboardInterrupt:
        pass
    finally:
        follower.close()
    print(f"\nstopped: {seen:,} entries read, {matched:,} matched, "
          f"{len(engine.get_alerts()):,} alert(s)", file=sys.stderr)
    return 0


def _print_in_time_order(out: Out, entries: Sequence[LogEntry], alerts: Sequence[Alert],
                         fmt: str) -> None:
    """Entries in file order, each alert of the poll printed before the first entry later
    than it in event time (an alert at 10:00:03 precedes the entries of 10:00:04 and after
    the one that fired it), the rest at the end. O((n + a) log a)."""
    pending = sorted(alerts, key=lambda a: a.triggered_at)
    k = 0
    for e in entries:
        while k < len(pending) and pending[k].triggered_at.timestamp() < e.ts:
            out.line(_alert_line(out, pending[k]))
            k += 1
        out.line(entry_row(out, e) if fmt == "table" else entry_json(e).decode())
    for a in pending[k:]:
        out.line(_alert_line(out, a))


def _alert_line(out: Out, a: Alert) -> str:
    return out.paint("ALERT ", SEVERITY_COLOURS["HIGH"]) + alert_row(out, a)
