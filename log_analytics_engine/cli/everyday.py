"""Everyday sub-commands of ``log-analytics``: ``query``, ``stats``, ``tail`` and ``alerts``.

Each command ingests files into an in-memory engine (a progress bar on a terminal), then
prints. Colour is used only when stdout is a terminal and ``NO_COLOR`` is unset or empty.
Bad input (a missing file, a query syntax error, a broken rules file) prints one line to
stderr and exits non-zero.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from typing import IO, Any

from ..alerts import Alert, AlertRule
from ..alerts import load_rules as _load_rule_file
from ..errors import InvalidEntryError
from ..ingest import parse_json_line, parse_text_line
from ..ingest.follow import FileFollower
from ..model.entry import LEVELS, LogEntry
from ..model.timeparse import format_instant
from ..storage.codec import dumps
from .main import CliError, add_command, ingest_files

__all__ = ["load_rules", "register_alerts", "register_query", "register_stats",
           "register_tail"]

_RESET = "\x1b[0m"
_LEVEL_COLOURS = {"TRACE": "\x1b[2m", "DEBUG": "\x1b[2m", "INFO": "\x1b[32m",
                  "WARN": "\x1b[33m", "ERROR": "\x1b[31m", "FATAL": "\x1b[1;31m"}
_SEVERITY_COLOURS = {"LOW": "\x1b[36m", "MEDIUM": "\x1b[33m", "HIGH": "\x1b[31m",
                     "CRITICAL": "\x1b[1;31m"}
_BLOCKS = " ▏▎▍▌▋▊▉█"


# -- shared helpers -----------------------------------------------------------------------
class _Out:
    """Writes to stdout, with colour only on a terminal and when ``NO_COLOR`` is not set."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.colour = self.stream.isatty() and not os.environ.get("NO_COLOR")
        encoding = (getattr(self.stream, "encoding", None) or "ascii").lower()
        self.unicode = encoding.replace("-", "").startswith("utf")

    def paint(self, text: str, code: str | None) -> str:
        return f"{code}{text}{_RESET}" if self.colour and code else text

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def bar(self, fraction: float, width: int) -> str:
        """A horizontal bar of ``fraction`` (0..1) of ``width`` cells (eighths on UTF-8)."""
        fraction = min(max(fraction, 0.0), 1.0)
        if not self.unicode:
            return "#" * round(fraction * width)
        eighths = round(fraction * width * 8)
        return _BLOCKS[8] * (eighths // 8) + (_BLOCKS[eighths % 8] if eighths % 8 else "")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def _engine(max_entries: int | None = None) -> Any:
    from ..engine import LogAnalyticsEngine
    from ..storage.retention import Retention

    if max_entries is None:
        return LogAnalyticsEngine()
    # alert windows keep their own state: the entries themselves can be evicted (dropped)
    return LogAnalyticsEngine(retention=Retention(max_entries=max_entries))


def _ingest(engine: Any, paths: Sequence[str], file_type: str | None) -> list[dict[str, Any]]:
    """Ingest ``paths``; warn on stderr (one line per file) about rejected lines."""
    reports = []
    for path in paths:
        try:
            reports += ingest_files(engine, [path], file_type)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise CliError(f"{path}: damaged compressed file: {exc}") from None
    for r in reports:
        if r["errors"]:
            first = r["rejected"][0] if r["rejected"] else {"line": "?", "reason": "?"}
            print(f"log-analytics: warning: {r['file']}: {r['errors']} bad line(s) skipped "
                  f"(first: line {first['line']}: {first['reason']})", file=sys.stderr)
    return reports


def _query_node(q: str | None) -> Any:
    from ..query.language import parse_query

    return parse_query(q) if q else None


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command; a closed stdout pipe (``| head``) ends it quietly."""

    def run(args: argparse.Namespace) -> int:
        try:
            result = fn(args)
            sys.stdout.flush()
            return result
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0

    return run


def _add_type(p: argparse.ArgumentParser) -> None:
    p.add_argument("--type", choices=("jsonl", "text"), default=None,
                   help="file format (default: text for .log/.txt, else jsonl)")


_parser = add_command


# -- entries ------------------------------------------------------------------------------
def _entry_json(entry: LogEntry) -> bytes:
    data = entry.to_dict()
    data["timestamp"] = format_instant(entry.ts)
    return dumps(data)


def _print_table(out: _Out, entries: Sequence[LogEntry]) -> None:
    if not entries:
        return
    src_w = min(max(len(e.source) for e in entries), 24)
    width = shutil.get_terminal_size().columns if out.stream.isatty() else 0
    for e in entries:
        out.line(_entry_row(out, e, src_w, width))


def _entry_row(out: _Out, e: LogEntry, src_w: int = 16, width: int = 0) -> str:
    stamp = format_instant(e.ts)
    src = e.source if len(e.source) <= src_w else e.source[: src_w - 1] + "~"
    head_len = len(stamp) + 1 + 5 + 1 + src_w + 1
    msg = e.message.replace("\n", " ")
    if width and len(msg) > max(width - head_len, 20):
        msg = msg[: max(width - head_len, 20) - 1] + ("…" if out.unicode else "~")
    level = out.paint(f"{e.level:<5}", _LEVEL_COLOURS.get(e.level))
    return f"{stamp} {level} {src:<{src_w}} {msg}"


# -- query --------------------------------------------------------------------------------
def register_query(sub: Any) -> None:
    p = _parser(sub, "query", "search log files with a query string",
                "Ingest FILES and print the entries matching QUERY (Lucene/Kibana-like: "
                "field:value, \"phrases\", bare words, -/NOT, OR, AND, ( ), field:>N, "
                "after:/before:).\n\nexamples:\n"
                "  log-analytics query app.jsonl -q 'level:ERROR source:api'\n"
                "  log-analytics query a.jsonl b.log.gz -q '\"connection refused\" "
                "-tag:debug' --format jsonl\n"
                "  log-analytics query app.jsonl -q 'latency_ms:>250 after:2025-07-21T10:00' "
                "--limit 20 --desc\n"
                "  log-analytics query app.jsonl -q 'level:(ERROR OR FATAL)' --count")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL or text files (gzip ok)")
    p.add_argument("-q", "--query", default="", help="the query (default: every entry)")
    p.add_argument("--format", choices=("table", "json", "jsonl"), default="table",
                   help="output format (default: table)")
    p.add_argument("--limit", type=_positive, default=None, help="print at most N entries")
    p.add_argument("--desc", action="store_true", help="newest first")
    p.add_argument("--count", action="store_true", help="print only the number of matches")
    _add_type(p)
    p.set_defaults(func=_guarded(cmd_query))


def cmd_query(args: argparse.Namespace) -> int:
    node = _query_node(args.query)  # syntax errors before any file work
    engine = _engine()
    _ingest(engine, args.files, args.type)
    out = _Out()
    if args.count:
        out.line(str(engine.count_logs(node)))
        return 0
    entries = engine.query_logs(node, sort_desc=args.desc, page_size=args.limit)
    if args.format == "table":
        _print_table(out, entries)
    elif args.format == "jsonl":
        for e in entries:
            out.line(_entry_json(e).decode())
    else:
        out.line("[" + ",\n ".join(_entry_json(e).decode() for e in entries) + "]")
    return 0


# -- stats --------------------------------------------------------------------------------
def register_stats(sub: Any) -> None:
    p = _parser(sub, "stats", "summarise log files",
                "Ingest FILES and print counts by level and source, the time span, the top "
                "keywords and the error rate (ERROR and FATAL) per hour as a bar chart.\n\n"
                "examples:\n  log-analytics stats app.jsonl\n"
                "  log-analytics stats logs/*.jsonl.gz --top 5")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL or text files (gzip ok)")
    p.add_argument("--top", type=_positive, default=10, help="rows per top list (default 10)")
    p.add_argument("--hours", type=_positive, default=48,
                   help="show at most the last N hours of the chart (default 48)")
    _add_type(p)
    p.set_defaults(func=_guarded(cmd_stats))


def _span(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d}d"] * bool(d) + [f"{h}h"] * bool(h) + [f"{m}m"] * bool(m) + [f"{s}s"]
    return " ".join(parts[:3])


def _counts(out: _Out, title: str, rows: Sequence[tuple[str, int]], total: int,
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
    engine = _engine()
    reports = _ingest(engine, args.files, args.type)
    out = _Out()
    stats = engine.get_stats()
    total = stats["total_logs"]
    rejected = sum(r["errors"] for r in reports)
    out.line(f"Files: {len(reports)}   entries: {total:,}   bad lines skipped: {rejected:,}")
    if not total:
        out.line("No entries.")
        return 0
    first = engine.query_logs(page_size=1)[0].ts
    last = engine.query_logs(sort_desc=True, page_size=1)[0].ts
    out.line(f"Time span: {format_instant(first)} .. {format_instant(last)} "
             f"({_span(last - first)})")
    out.line()
    levels = [(lv, n) for lv in reversed(LEVELS) if (n := stats["levels"].get(lv, 0))]
    _counts(out, "By level:", levels, total, _LEVEL_COLOURS)
    out.line()
    sources = sorted(stats["sources"].items(), key=lambda kv: (-kv[1], kv[0]))
    label = f"By source (top {args.top} of {len(sources)}):"
    _counts(out, label, [(s or "(none)", n) for s, n in sources[: args.top]], total)
    out.line()
    _counts(out, f"Top keywords (entries containing the word, top {args.top}):",
            engine.top_keywords(args.top), total)
    out.line()
    _error_chart(out, engine, args.hours)
    return 0


def _error_chart(out: _Out, engine: Any, hours: int) -> None:
    per_hour = engine.aggregate(interval="1h")
    errors = engine.aggregate({"min_severity": "ERROR"}, interval="1h")
    rows = [(start, errors.get(start, {}).get("count", 0), agg["count"])
            for start, agg in per_hour.items()]
    shown = rows[-hours:]
    note = f" (last {len(shown)} of {len(rows)} hours)" if len(shown) < len(rows) else ""
    out.line(f"Error rate per hour (ERROR+FATAL / all){note}:")
    top = max((e / n for _, e, n in shown), default=0.0) or 1.0
    red = _LEVEL_COLOURS["ERROR"]
    for start, e, n in shown:
        rate = e / n
        bar = out.paint(out.bar(rate / top, 30), red)
        out.line(f"  {start[:13]}h {100 * rate:6.2f}% {bar} ({e:,}/{n:,})")


# -- alerts -------------------------------------------------------------------------------
def load_rules(path: str) -> list[AlertRule]:
    """Alert rules from a JSON rules file (``{"rules": [...]}`` or a bare list).

    Delegates to :func:`log_analytics_engine.alerts.load_rules`; any problem raises
    ``CliError`` naming the file and the rule.
    """
    try:
        return _load_rule_file(path)
    except FileNotFoundError:
        raise CliError(f"no such rules file: {path}") from None
    except (OSError, ValueError) as exc:
        raise CliError(f"{path}: {exc}") from None


def _alert_row(out: _Out, a: Alert) -> str:
    sev = a.severity.value
    return (f"{format_instant(a.triggered_at.timestamp())} "
            f"{out.paint(f'{sev:<8}', _SEVERITY_COLOURS.get(sev))} {a.rule_name}: {a.message}")


def _alert_json(a: Alert) -> dict[str, Any]:
    return {"rule": a.rule_name, "severity": a.severity.value,
            "triggered_at": format_instant(a.triggered_at.timestamp()), "count": a.count,
            "message": a.message, "metadata": a.metadata}


def register_alerts(sub: Any) -> None:
    p = _parser(sub, "alerts", "replay alert rules over log files",
                "Evaluate the alert rules of RULES over FILES in event time and print every "
                "alert they would have fired. RULES is a JSON list of rule objects, e.g.\n"
                '  [{"name": "errors", "conditions": {"level": "ERROR"}, "threshold": 5,\n'
                '    "time_window": 60, "severity": "HIGH", "cooldown": 300}]\n\n'
                "examples:\n  log-analytics alerts app.jsonl --rules rules.json\n"
                "  log-analytics alerts logs/*.jsonl --rules rules.json --format json")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL or text files (gzip ok)")
    p.add_argument("--rules", required=True, help="JSON file with a list of alert rules")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="output format (default: table)")
    _add_type(p)
    p.set_defaults(func=_guarded(cmd_alerts))


def cmd_alerts(args: argparse.Namespace) -> int:
    rules = load_rules(args.rules)
    engine = _engine()
    for rule in rules:
        engine.add_alert_rule(rule)
    _ingest(engine, args.files, args.type)
    alerts = engine.get_alerts()
    out = _Out()
    if args.format == "json":
        out.line(dumps([_alert_json(a) for a in alerts], indent=True).decode())
    else:
        for a in alerts:
            out.line(_alert_row(out, a))
        print(f"{len(alerts)} alert(s) from {len(rules)} rule(s)", file=sys.stderr)
    return 0


# -- tail ---------------------------------------------------------------------------------
def register_tail(sub: Any) -> None:
    p = _parser(sub, "tail", "follow a growing log file (like tail -F)",
                "Follow FILE as it grows, surviving rotation and truncation; print the new "
                "entries matching QUERY and the alerts fired by --rules. Stop with Ctrl-C.\n\n"
                "examples:\n  log-analytics tail /var/log/app.jsonl -q 'level:ERROR'\n"
                "  log-analytics tail app.log --rules rules.json --from-start")
    p.add_argument("file", metavar="FILE", help="the file to follow")
    p.add_argument("-q", "--query", default="", help="print only matching entries")
    p.add_argument("--rules", default=None, help="JSON file with a list of alert rules")
    p.add_argument("--from-start", action="store_true",
                   help="read the existing content first (default: only new lines)")
    p.add_argument("--interval", type=_positive_float, default=0.2,
                   help="seconds between polls when idle (default 0.2)")
    p.add_argument("--format", choices=("table", "jsonl"), default="table",
                   help="output format (default: table)")
    _add_type(p)
    p.set_defaults(func=_guarded(cmd_tail))


def cmd_tail(args: argparse.Namespace) -> int:
    node = _query_node(args.query)
    rules = load_rules(args.rules) if args.rules else []
    if not os.path.isfile(args.file):
        raise CliError(f"no such file: {args.file}")
    kind = args.type or ("text" if args.file.endswith((".log", ".txt")) else "jsonl")
    out = _Out()
    engine = _engine(max_entries=100_000)  # bounded while following
    for rule in rules:
        engine.add_alert_rule(rule)
    fired: list[Alert] = []
    engine.add_alert_notification_hook(fired.append)
    seen = matched = 0
    follower = FileFollower(args.file, from_start=args.from_start)
    print(f"following {args.file} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        while True:
            lines = follower.poll()
            if not lines:
                time.sleep(args.interval)
                continue
            batch = _parse_lines(lines, kind)
            seen += len(batch)
            for e in batch:
                if node is None or node.match(e):
                    matched += 1
                    out.line(_entry_row(out, e) if args.format == "table"
                             else _entry_json(e).decode())
            if rules and batch:
                engine.ingest_logs(batch)
                for a in fired:
                    out.line(out.paint("ALERT ", _SEVERITY_COLOURS["HIGH"]) + _alert_row(out, a))
                fired.clear()
            out.stream.flush()
    except KeyboardInterrupt:
        pass
    finally:
        follower.close()
    print(f"\nstopped: {seen:,} entries read, {matched:,} matched, "
          f"{len(engine.get_alerts()):,} alert(s)", file=sys.stderr)
    return 0


def _parse_lines(lines: Sequence[bytes], kind: str) -> list[LogEntry]:
    now = time.time()
    batch = []
    for raw in lines:
        if not raw.strip():
            continue
        try:
            if kind == "jsonl":
                batch.append(parse_json_line(raw))
            else:
                batch.append(parse_text_line(raw.decode("utf-8", errors="replace"), now))
        except (InvalidEntryError, ValueError, TypeError) as exc:
            print(f"log-analytics: warning: skipped a bad line: {exc}", file=sys.stderr)
    return batch
