"""Plain-text log lines: recognise a leading timestamp and level where present.

Recognised shapes (tried in order, first match wins):

* Python ``logging``: ``2025-07-21 10:00:00,123 - name - LEVEL - message`` and the
  ``basicConfig`` default ``LEVEL:name:message`` (no time: ingestion time is used);
* ISO timestamp + level: ``2025-07-21T10:00:00Z ERROR [source] message``, with optional
  brackets around time and level and an optional ``source:`` before the message;
* syslog: RFC 5424 ``<34>1 2025-07-21T10:00:00Z host app 123 - - message`` (level from the
  priority) and RFC 3164 ``Jul 21 10:00:00 host app[123]: message`` (the year is the current
  one, or the previous one if that would put the line in the future);
* Apache/NCSA access logs: ``127.0.0.1 - - [21/Jul/2025:12:00:00 +0000] "GET / ..." 500 12``
  (5xx is ERROR, 4xx WARN, else INFO).

Anything else becomes the message of an INFO entry stamped with the ingestion time.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone

from ..model.entry import SEVERITY, LogEntry
from ..model.timeparse import format_instant, parse_instant

__all__ = ["parse_text_line"]

_LEVEL_WORDS = r"(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL|CRIT)"
_EXTRA_LEVELS = {"NOTICE": "INFO", "ERR": "ERROR", "CRIT": "FATAL"}
_ISO = r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"

_PY_LOGGING = re.compile(
    rf"^(?P<ts>{_ISO})\s+-\s+(?P<src>\S+)\s+-\s+(?P<lvl>{_LEVEL_WORDS})\s+-\s+(?P<msg>.*)$",
    re.IGNORECASE,
)
_PY_BASIC = re.compile(rf"^(?P<lvl>{_LEVEL_WORDS}):(?P<src>[^:\s]*):(?P<msg>.*)$")
# A level word is all upper-case ("ERROR") or all lower-case ("warning"), or in brackets in any
# case ("[Error]"), so a message that starts with a capitalised word ("Error handling
# request") keeps it.
_ISO_LEVEL = re.compile(
    rf"^\[?(?P<ts>{_ISO})\]?\s+(?:(?P<lvl>{_LEVEL_WORDS}|{_LEVEL_WORDS.lower()})"
    rf"|\[(?P<blvl>(?i:{_LEVEL_WORDS}))\])"
    r"\s*[:\-]?\s+"
    r"(?:\[(?P<src>[^\]\s]+)\]\s*|(?P<src2>[\w.\-/]+):\s+)?(?P<msg>.*)$",
)
# "ERROR: disk full" or "WARN - slow": a level and no time (stamped with ingestion time).
_LEVEL_ONLY = re.compile(rf"^(?P<lvl>{_LEVEL_WORDS})(?::|\s+-)\s+(?P<msg>.*)$")
_ISO_ONLY = re.compile(rf"^\[?(?P<ts>{_ISO})\]?\s+(?P<msg>.*)$")
_SYSLOG5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1\s+(?P<ts>\S+)\s+(?P<host>\S+)\s+(?P<app>\S+)\s+\S+\s+\S+\s+"
    r'(?:-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+)\s*(?P<msg>.*)$'
)
_SYSLOG3164 = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Z][a-z]{2}\s+\d{1,2}\s\d{2}:\d{2}:\d{2})\s+"
    r"(?P<host>\S+)\s+(?P<app>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:\s*(?P<msg>.*)$"
)
_CLF = re.compile(
    r'^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<ts>[^\]]+)\] "(?P<req>[^"]*)" '
    r"(?P<status>\d{3}) (?P<size>\S+)(?P<rest>.*)$"
)
_SYSLOG_SEVERITY = ("FATAL", "FATAL", "FATAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG")


def _level(word: str) -> str:
    upper = word.upper()
    upper = _EXTRA_LEVELS.get(upper, upper)
    if upper == "WARNING":
        return "WARN"
    if upper == "CRITICAL":
        return "FATAL"
    return upper if upper in SEVERITY else "INFO"


def _syslog3164_instant(text: str, now: float) -> float:
    year = datetime.fromtimestamp(now, timezone.utc).year
    for y in (year, year - 1):
        dt = datetime.strptime(f"{y} {' '.join(text.split())}", "%Y %b %d %H:%M:%S")
        instant = dt.replace(tzinfo=timezone.utc).timestamp()
        if instant <= now + 86400:
            return instant
    return instant


def parse_text_line(line: str, now: float | None = None) -> LogEntry:
    """Parse one text line (see the module docstring for the recognised shapes).

    >>> e = parse_text_line("2025-07-21 10:00:00,123 - app.db - WARNING - slow query")
    >>> e.level, e.source, e.message, e.timestamp
    ('WARN', 'app.db', 'slow query', '2025-07-21 10:00:00,123')
    """
    line = line.rstrip("\r\n")
    if now is None:
        now = time.time()
    m = _PY_LOGGING.match(line)
    if m:
        return LogEntry(m["ts"], _level(m["lvl"]), m["msg"], source=m["src"])
    m = _ISO_LEVEL.match(line)
    if m:
        return LogEntry(m["ts"], _level(m["lvl"] or m["blvl"]), m["msg"],
                        source=m["src"] or m["src2"] or "")
    m = _SYSLOG5424.match(line)
    if m:
        level = _SYSLOG_SEVERITY[int(m["pri"]) % 8]
        app = "" if m["app"] == "-" else m["app"]
        stamp = m["ts"] if m["ts"] != "-" else format_instant(now)  # NILVALUE: unknown time
        return LogEntry(stamp, level, m["msg"], source=app, metadata={"host": m["host"]})
    m = _SYSLOG3164.match(line)
    if m:
        level = _SYSLOG_SEVERITY[int(m["pri"]) % 8] if m["pri"] else "INFO"
        meta: dict[str, object] = {"host": m["host"]}
        if m["pid"]:
            meta["pid"] = int(m["pid"])
        instant = _syslog3164_instant(m["ts"], now)
        return LogEntry(format_instant(instant), level, m["msg"], source=m["app"], metadata=meta)
    m = _CLF.match(line)
    if m:
        status = int(m["status"])
        level = "ERROR" if status >= 500 else "WARN" if status >= 400 else "INFO"
        instant = parse_instant(m["ts"])
        meta = {"client": m["host"], "status": status, "request": m["req"]}
        if m["size"].isdigit():
            meta["bytes"] = int(m["size"])
        return LogEntry(m["ts"], level, m["req"], source="access", metadata=meta)
    m = _ISO_ONLY.match(line)
    if m:
        return LogEntry(m["ts"], "INFO", m["msg"])
    m = _PY_BASIC.match(line)
    if m:
        return LogEntry(format_instant(now), _level(m["lvl"]), m["msg"], source=m["src"])
    m = _LEVEL_ONLY.match(line)
    if m:
        return LogEntry(format_instant(now), _level(m["lvl"]), m["msg"])
    return LogEntry(format_instant(now), "INFO", line)
