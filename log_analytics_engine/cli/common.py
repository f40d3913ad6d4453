"""What every ``log-analytics`` command shares: errors and exit codes, argument types, the
progress bar, file ingestion, output (colour, entry rows, alert rows) and the engine factory.

Exit codes (the same for every command, listed in ``log-analytics --help``):

====  =====================================================================================
0     the command ran (a query that matches nothing included: it says so on stderr)
1     the input could not be used: a missing, unreadable or damaged file, a directory given as
      a file, a query syntax error, a broken rules file, an unwritable output folder
2     the command line is wrong: an unknown option, a missing argument, a value out of range
130   interrupted (Ctrl-C)
====  =====================================================================================
"""

from __future__ import annotations

import argparse
import errno
import gzip
import os
import shutil
import sys
import textwrap
import zlib
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import IO, Any

from .. import _native as native
from ..alerts import Alert
from ..engine import LogAnalyticsEngine
from ..ingest import guess_file_type
from ..model.entry import LogEntry
from ..model.timeparse import format_instant
from ..query.language import parse_query
from ..query.nodes import Node
from ..storage.codec import dumps
from ..storage.retention import Retention

try:  # an optional extra: progress bars on a terminal
    from tqdm import tqdm
except ImportError:  # pragma: no cover - depends on the installed extras
    tqdm = None

__all__ = [
    "EXIT_CODES",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "LEVEL_COLOURS",
    "SEVERITY_COLOURS",
    "CliError",
    "Out",
    "UsageError",
    "accelerator_status",
    "add_command",
    "add_type",
    "alert_json",
    "alert_row",
    "check_input_file",
    "entry_json",
    "entry_row",
    "guarded",
    "ingest_files",
    "ingest_reporting",
    "make_engine",
    "note_unknown_fields",
    "package_version",
    "positive",
    "positive_float",
    "query_node",
]

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: The exit-code table, shown as the epilog of ``log-analytics --help``.
EXIT_CODES = (
    "exit codes:\n"
    "  0    the command ran (a query with no match too: 'no entries matched' on stderr)\n"
    "  1    the input could not be used: missing, unreadable or damaged file, a directory,\n"
    "       query syntax error, broken rules file, unwritable output folder\n"
    "  2    the command line is wrong: unknown option, missing argument, value out of range\n"
    "  130  interrupted (Ctrl-C)"
)


class CliError(Exception):
    """A problem with the input the user can fix: printed as one line, exit code 1."""

    exit_code = EXIT_INPUT


class UsageError(CliError):
    """A wrong command line (an option value out of range): one line, exit code 2."""

    exit_code = EXIT_USAGE


LEVEL_COLOURS = {"TRACE": "\x1b[2m", "DEBUG": "\x1b[2m", "INFO": "\x1b[32m",
                 "WARN": "\x1b[33m", "ERROR": "\x1b[31m", "FATAL": "\x1b[1;31m"}
SEVERITY_COLOURS = {"LOW": "\x1b[36m", "MEDIUM": "\x1b[33m", "HIGH": "\x1b[31m",
                    "CRITICAL": "\x1b[1;31m"}
_RESET = "\x1b[0m"
_BLOCKS = " ▏▎▍▌▋▊▉█"


def package_version() -> str:
    """The installed version of log-analytics-engine (``0.0.0`` when run from a bare tree)."""
    try:
        return version("log-analytics-engine")
    except PackageNotFoundError:  # pragma: no cover - not installed
        return "0.0.0"


def accelerator_status() -> str:
    """``"C accelerator active"`` or a line saying ingestion runs in pure Python (slower)."""
    if native.available:
        return "C accelerator: active"
    if os.environ.get("LOG_ANALYTICS_PURE_PYTHON"):
        return "C accelerator: off (LOG_ANALYTICS_PURE_PYTHON is set; about 4x slower ingestion)"
    return "C accelerator: not built (pure Python, about 4x slower ingestion)"


# -- the command line ---------------------------------------------------------------------
def add_command(
    sub: Any, name: str, help_text: str, description: str
) -> argparse.ArgumentParser:
    """A sub-command parser: ``description`` is wrapped to 78 columns except indented lines,
    and whatever follows ``examples:`` becomes the epilog (with the exit codes)."""
    text, _, examples = description.partition("\n\nexamples:\n")
    text = "\n".join(line if line.startswith(" ") else textwrap.fill(line, 78)
                     for line in text.splitlines())
    epilog = ("examples:\n" + examples + "\n\n" if examples else "") + EXIT_CODES
    p: argparse.ArgumentParser = sub.add_parser(
        name, help=help_text, description=text, epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    return p


def positive(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def add_type(p: argparse.ArgumentParser) -> None:
    """The ``--type`` option of commands that read log files."""
    p.add_argument("--type", choices=("jsonl", "text"), default=None,
                   help="file format (default: text for .log/.txt, plain or .gz, else jsonl)")


def guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command; a closed stdout pipe (``| head``) ends it quietly."""

    def run(args: argparse.Namespace) -> int:
        try:
            result = fn(args)
            sys.stdout.flush()
            return result
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return EXIT_OK

    return run


# -- engines and input --------------------------------------------------------------------
def make_engine(max_entries: int | None = None) -> LogAnalyticsEngine:
    """A fresh engine; ``max_entries`` bounds it (alert windows keep their own state, so the
    entries themselves can be evicted while following a file)."""
    if max_entries is None:
        return LogAnalyticsEngine()
    return LogAnalyticsEngine(retention=Retention(max_entries=max_entries))


def check_input_file(path: str) -> None:
    """``CliError`` unless ``path`` is a readable regular file ("is a directory" for one)."""
    if os.path.isdir(path):
        raise CliError(f"{path}: is a directory, not a log file")
    if not os.path.exists(path):
        raise CliError(f"no such file: {path}")
    if not os.access(path, os.R_OK):
        raise CliError(f"{path}: permission denied")


def _progress(total: int, desc: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A byte progress bar on stderr (tqdm, only when stderr is a terminal)."""
    if tqdm is None:  # pragma: no cover - tqdm is optional
        return (lambda n: None), (lambda: None)
    bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False,
               disable=not sys.stderr.isatty())
    return bar.update, bar.close


def ingest_files(
    engine: Any, paths: Sequence[str], file_type: str | None = None
) -> list[dict[str, Any]]:
    """Ingest files with a progress bar; the file type from the name unless given
    (:func:`log_analytics_engine.ingest.guess_file_type`). File problems raise ``CliError``."""
    reports = []
    for path in paths:
        check_input_file(path)
        kind = file_type or guess_file_type(path)
        update, close = _progress(os.path.getsize(path), os.path.basename(path))
        try:
            reports.append(engine.ingest_logs_from_file(path, kind, progress=update))
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise CliError(f"{path}: damaged compressed file: {exc}") from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.errno == errno.EISDIR:
                reason = "is a directory, not a log file"
            raise CliError(f"{path}: {reason}") from None
        finally:
            close()
    return reports


def ingest_reporting(
    engine: Any, paths: Sequence[str], file_type: str | None
) -> list[dict[str, Any]]:
    """:func:`ingest_files`, then one warning line on stderr per file with rejected lines."""
    reports = ingest_files(engine, paths, file_type)
    for r in reports:
        if r["errors"]:
            first = r["rejected"][0] if r["rejected"] else {"line": "?", "reason": "?"}
            print(f"log-analytics: warning: {r['file']}: {r['errors']} bad line(s) skipped "
                  f"(first: line {first['line']}: {first['reason']})", file=sys.stderr)
    return reports


def note_unknown_fields(engine: LogAnalyticsEngine, node: Node | None) -> None:
    """One warning line on stderr per field of ``node`` no entry has had (a typo), e.g.
    ``no entry has field 'levle'; did you mean 'level'?``."""
    for warning in engine.unknown_fields(node):
        print(f"log-analytics: warning: {warning}", file=sys.stderr)


def query_node(q: str | None) -> Node | None:
    """The compiled query string (``None`` for every entry); syntax errors raise ValueError."""
    return parse_query(q) if q else None


# -- output -------------------------------------------------------------------------------
class Out:
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

    def table(self, entries: Sequence[LogEntry]) -> None:
        """One :func:`entry_row` per entry, the message clipped to a terminal's width."""
        if not entries:
            return
        src_w = min(max(len(e.source) for e in entries), 24)
        width = shutil.get_terminal_size().columns if self.stream.isatty() else 0
        for e in entries:
            self.line(entry_row(self, e, src_w, width))


def entry_json(entry: LogEntry) -> bytes:
    """One entry as a JSON object, its timestamp as ISO text ending in ``Z``."""
    data = entry.to_dict()
    data["timestamp"] = format_instant(entry.ts)
    return dumps(data)


def entry_row(out: Out, e: LogEntry, src_w: int = 16, width: int = 0) -> str:
    """``timestamp level source message`` on one line."""
    stamp = format_instant(e.ts)
    src = e.source if len(e.source) <= src_w else e.source[: src_w - 1] + "~"
    head_len = len(stamp) + 1 + 5 + 1 + src_w + 1
    msg = e.message.replace("\n", " ")
    if width and len(msg) > max(width - head_len, 20):
        msg = msg[: max(width - head_len, 20) - 1] + ("…" if out.unicode else "~")
    level = out.paint(f"{e.level:<5}", LEVEL_COLOURS.get(e.level))
    return f"{stamp} {level} {src:<{src_w}} {msg}"


def alert_row(out: Out, a: Alert) -> str:
    """``time severity rule: message`` (the message without a repeated rule name)."""
    sev = a.severity.value
    message = a.message
    if message.startswith(a.rule_name + ":"):  # the rule name is printed once, before it
        message = message[len(a.rule_name) + 1:].lstrip()
    return (f"{format_instant(a.triggered_at.timestamp())} "
            f"{out.paint(f'{sev:<8}', SEVERITY_COLOURS.get(sev))} {a.rule_name}: {message}")


def alert_json(a: Alert) -> dict[str, Any]:
    """An alert as a JSON-ready dict (times as ISO text ending in ``Z``)."""
    return {"rule": a.rule_name, "severity": a.severity.value,
            "triggered_at": format_instant(a.triggered_at.timestamp()), "count": a.count,
            "message": a.message, "metadata": a.metadata}
