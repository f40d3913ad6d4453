"""The optional C accelerator (``_speedups.c``), or ``None`` when it is not available.

The extension is built at install time when a C compiler is present; the pure-Python code
paths are the specification it is tested against (``tests/test_speedups.py``). Setting the
environment variable ``LOG_ANALYTICS_PURE_PYTHON=1`` before import disables it, which is how
the tests run the pure-Python paths too.
"""

from __future__ import annotations

import os
from array import array
from types import ModuleType

from orjson import loads

from ..model.entry import _LEVEL_CACHE, LogEntry, entry_from_json
from ..model.tokenize import words

__all__ = ["speedups"]

speedups: ModuleType | None
if os.environ.get("LOG_ANALYTICS_PURE_PYTHON", "") not in ("", "0"):
    speedups = None
else:
    try:
        from . import _speedups as speedups
    except ImportError:  # no compiler at install time: the Python paths do the work
        speedups = None

if speedups is not None:  # hand the extension the model's classes and callbacks
    speedups.configure(LogEntry, _LEVEL_CACHE, entry_from_json, loads, words, array)
