"""The one normalisation rule for entry values: what every layer can store and serve.

An entry is normalised once, when it is built (:class:`~log_analytics_engine.model.entry.LogEntry`
and the JSON readers call :func:`normalize_entry`), so the entry kept in memory, the one in the
durable copy, the archive and every JSON answer are the same value. The rule (documented in
``docs/limits.md``):

* text with a lone surrogate (``os.fsdecode(b"\\xff")`` gives one) has each surrogate replaced
  by U+FFFD (strict UTF-8 cannot hold it);
* an ``int`` outside ``[-2**63, 2**64 - 1]`` becomes its decimal text;
* a non-finite ``float`` becomes the text ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``
  (strict JSON has no such number, so this is the only spelling that round-trips);
* a metadata key that is not a string becomes its ``str()`` (``1`` -> ``"1"``,
  ``(1, 2)`` -> ``"(1, 2)"``); when two keys then collide the later one wins;
* tuples, sets and frozensets become lists; subclasses of ``str``/``int``/``float``/``dict``/
  ``list`` become the base type; ``datetime``/``date``/``time`` become ISO text; any other
  object becomes its ``str()``;
* a container nested deeper than :data:`MAX_DEPTH` levels becomes JSON text of its content
  (or :data:`TOO_DEEP` when even that fails); a container that contains itself is cut where it
  repeats and that place holds :data:`CYCLE`.

Runtime complexity: O(size of the value); values already normal are returned as they are
(no copy), so the common entry costs a type check per metadata item.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date, time
from typing import Any

__all__ = [
    "CYCLE",
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "TOO_DEEP",
    "clean_text",
    "normalize_entry",
    "normalize_value",
]

#: The smallest and largest integers kept as numbers (what every JSON encoder here holds).
INT_MIN = -(2**63)
INT_MAX = 2**64 - 1
#: Nesting levels of containers kept as containers inside ``metadata`` (``metadata`` is 1).
MAX_DEPTH = 64
#: The text standing where a container contained itself.
CYCLE = "<cycle>"
#: The text standing for a too-deep container whose content cannot be written as text.
TOO_DEEP = f"<nested deeper than {MAX_DEPTH} levels>"

_SURROGATE = re.compile("[\ud800-\udfff]")
_search = _SURROGATE.search
_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def clean_text(text: str) -> str:
    """``text`` as an exact ``str`` with every lone surrogate replaced by U+FFFD.

    >>> clean_text("report-\\udcff.csv")
    'report-\\ufffd.csv'
    """
    if type(text) is not str:
        text = str.__str__(text)
    if text.isascii() or _search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


def _text(value: Any) -> str:
    try:
        return clean_text(str(value))
    except Exception:  # an object whose __str__ raises
        return f"<unprintable {type(value).__name__}>"


def _deep_text(value: Any) -> str:
    try:
        return clean_text(json.dumps(value, default=str, skipkeys=True))
    except (RecursionError, ValueError, TypeError):
        return TOO_DEEP


def _clean(value: Any, depth: int, path: set[int]) -> Any:
    t = type(value)
    if t is str:
        return value if value.isascii() or _search(value) is None else clean_text(value)
    if t is int:
        return value if INT_MIN <= value <= INT_MAX else str(value)
    if t is float:
        return value if math.isfinite(value) else _NONFINITE[repr(value)]
    if value is None or t is bool:
        return value
    if isinstance(value, Mapping):
        return _container(value, depth, path, True)
    if isinstance(value, (list, tuple, set, frozenset)):
        return _container(value, depth, path, False)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool):  # pragma: no cover - bool cannot be subclassed
        return bool(value)
    if isinstance(value, int):
        return _clean(int(value), depth, path)
    if isinstance(value, float):
        return _clean(float(value), depth, path)
    if isinstance(value, (date, time)):
        return clean_text(value.isoformat())
    return _text(value)


def _key(key: Any) -> str:
    if type(key) is str:
        return key if key.isascii() or _search(key) is None else clean_text(key)
    return _text(key)


def _container(value: Any, depth: int, path: set[int], mapping: bool) -> Any:
    if id(value) in path:
        return CYCLE
    if depth >= MAX_DEPTH:
        return _deep_text(value)
    path.add(id(value))
    try:
        if mapping:
            items = list(value.items())
            out: dict[str, Any] | None = None if type(value) is dict else {}
            for n, (k, v) in enumerate(items):
                k2 = _key(k)
                v2 = _clean(v, depth + 1, path)
                if out is None and (k2 is not k or v2 is not v):
                    out = dict(items[:n])
                if out is not None:
                    out[k2] = v2
            return value if out is None else out
        seq = value if type(value) is list else list(value)
        new: list[Any] | None = None if seq is value else []
        for n, v in enumerate(seq):
            v2 = _clean(v, depth + 1, path)
            if new is None and v2 is not v:
                new = seq[:n]
            if new is not None:
                new.append(v2)
        return value if new is None else new
    finally:
        path.discard(id(value))


def normalize_value(value: Any, depth: int = 0) -> Any:
    """``value`` by the module's rule; the very object when it is already normal.

    ``depth``: the nesting level of ``value`` itself (``metadata`` is at 1).

    >>> normalize_value({"n": 2**70, "x": float("nan"), (1, 2): {1, 2}})
    {'n': '1180591620717411303424', 'x': 'NaN', '(1, 2)': [1, 2]}
    """
    return _clean(value, depth, set())


def _plain(meta: dict[Any, Any]) -> bool:
    """Whether a metadata dict holds only ASCII string keys and flat plain values."""
    try:
        if not "".join(meta).isascii():  # one C call for every key
            return False
    except TypeError:  # a key that is not a string
        return False
    isfinite = math.isfinite
    for v in meta.values():
        t = type(v)
        if t is str:
            if not v.isascii():
                return False
        elif t is int:
            if not INT_MIN <= v <= INT_MAX:
                return False
        elif t is float:
            if not isfinite(v):
                return False
        elif v is not None and t is not bool:
            return False
    return True


def normalize_entry(entry: Any) -> None:
    """Normalise the fields of an entry that is being built (before it is ingested), in place.

    O(1) for ASCII text plus a type check per metadata item for flat metadata; O(size) else.
    """
    msg = entry.message
    if type(msg) is not str or not msg.isascii():
        entry.message = clean_text(msg)
    src = entry.source
    if type(src) is not str or not src.isascii():
        entry.source = clean_text(src)
    v = entry.thread_id
    if v is not None and (type(v) is not str or not v.isascii()):
        entry.thread_id = clean_text(v)
    v = entry.request_id
    if v is not None and (type(v) is not str or not v.isascii()):
        entry.request_id = clean_text(v)
    v = entry.user_id
    if v is not None and (type(v) is not str or not v.isascii()):
        entry.user_id = clean_text(v)
    tags = entry.tags
    if tags:
        for t in tags:
            if type(t) is not str or not t.isascii():
                entry.tags = [clean_text(x) for x in tags]
                break
    meta = entry.metadata
    if meta and (type(meta) is not dict or not _plain(meta)):
        entry.metadata = _container(meta, 1, set(), True)
    ts = entry.timestamp
    if type(ts) is str and not ts.isascii():
        entry.timestamp = clean_text(ts)
