"""Readers that turn files and streams into :class:`~log_analytics_engine.LogEntry` batches.

Each reader yields ``(line_number, entry_or_error)`` so one bad line is reported with its
1-based line number and never stops the lines around it from being ingested.
"""

from __future__ import annotations

from .files import (
    FILE_TYPES,
    IngestReport,
    encoded_lines,
    guess_file_type,
    open_lines,
    read_entries,
)
from .jsonl import parse_json_line
from .limits import DEFAULT_LIMITS, InputLimits
from .text import parse_text_line

__all__ = [
    "DEFAULT_LIMITS",
    "FILE_TYPES",
    "IngestReport",
    "InputLimits",
    "encoded_lines",
    "guess_file_type",
    "open_lines",
    "parse_json_line",
    "parse_text_line",
    "read_entries",
]
