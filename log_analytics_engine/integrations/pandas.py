"""Entries as a ``pandas.DataFrame`` with typed columns (optional ``pandas`` extra).

Columns, in order: ``timestamp`` (``datetime64[ns, UTC]``), ``level`` (an *ordered*
categorical, TRACE < ... < FATAL, so ``df[df.level >= "WARN"]`` works), ``source``
(categorical), ``message``, ``thread_id``, ``request_id``, ``user_id`` (the attribute, else the
metadata key of that name, as :meth:`LogEntry.get` resolves it), ``tags`` (lists), then
one column per metadata key, nested objects flattened with dots (``{"http": {"status": 500}}``
becomes ``http.status``). A metadata key that clashes with a column above is prefixed with
``metadata.``. Entries without a key hold a missing value (``NaN``/``None``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from log_analytics_engine.entry import LEVELS
from log_analytics_engine.errors import MissingExtraError

if TYPE_CHECKING:
    from log_analytics_engine.entry import LogEntry

__all__ = ["CORE_COLUMNS", "entries_to_frame"]

CORE_COLUMNS = ("timestamp", "level", "source", "message", "thread_id", "request_id",
                "user_id", "tags")
_ID_COLUMNS = frozenset(("thread_id", "request_id", "user_id"))


def _flatten(prefix: str, value: Mapping[str, Any], out: dict[str, Any]) -> None:
    for key, v in value.items():
        name = f"{prefix}{key}"
        if isinstance(v, Mapping) and v:
            _flatten(name + ".", v, out)
        else:
            out[name] = v


def entries_to_frame(entries: Iterable[LogEntry]) -> Any:
    """A DataFrame of ``entries`` (columns in the module docstring). O(k * columns)."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingExtraError("to_pandas()", "pandas", "pandas") from None
    rows = list(entries)
    n = len(rows)
    columns: dict[str, Any] = {
        "timestamp": pd.to_datetime([round(e.ts * 1_000_000) for e in rows], unit="us",
                                    utc=True),
        "level": pd.Categorical([e.level for e in rows], categories=list(LEVELS), ordered=True),
        "source": pd.Categorical([e.source for e in rows]),
        "message": [e.message for e in rows],
        "thread_id": [e.get("thread_id") for e in rows],
        "request_id": [e.get("request_id") for e in rows],
        "user_id": [e.get("user_id") for e in rows],
        "tags": [list(e.tags) for e in rows],
    }
    meta: dict[str, list[Any]] = {}
    for i, e in enumerate(rows):
        if not e.metadata:
            continue
        flat: dict[str, Any] = {}
        _flatten("", e.metadata, flat)
        for key, value in flat.items():
            if key in _ID_COLUMNS and getattr(e, key) is None:
                continue  # already shown in the id column, as entry.get() resolves it
            name = f"metadata.{key}" if key in columns else key
            col = meta.get(name)
            if col is None:
                col = meta[name] = [None] * n
            col[i] = value
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
    if meta:
        extra = pd.DataFrame(meta, index=frame.index).infer_objects()
        frame = pd.concat([frame, extra], axis=1)
    return frame
