"""JSON Lines: one JSON object per line."""

from __future__ import annotations

import orjson

from ..errors import InvalidEntryError, ParseError
from ..model.entry import LogEntry

__all__ = ["parse_json_line"]

_loads = orjson.loads
_from_dict = LogEntry.from_dict


def parse_json_line(line: bytes | str, line_no: int | None = None) -> LogEntry:
    """Parse one JSONL line into an entry, or raise an ``InvalidEntryError`` with the line."""
    try:
        data = _loads(line)
    except orjson.JSONDecodeError as exc:
        raise ParseError(f"malformed JSON: {exc}", line=line_no) from None
    if not isinstance(data, dict):
        raise ParseError(f"expected a JSON object, got {type(data).__name__}", line=line_no)
    try:
        return _from_dict(data)
    except InvalidEntryError as exc:
        exc.line = line_no
        exc.args = (f"line {line_no}: {exc.reason}",)
        raise
