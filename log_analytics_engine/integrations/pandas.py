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

from log_analytics_engine._gc import gc_paused
from log_analytics_engine.errors import MissingExtraError
from log_analytics_engine.model.entry import LEVELS

if TYPE_CHECKING:
    from log_analytics_engine.model.entry import LogEntry

__all__ = ["CORE_COLUMNS", "entries_to_frame"]

CORE_COLUMNS = ("timestamp", "level", "source", "message", "thread_id", "request_id",
                "user_id", "tags")
_ID_POS = {"thread_id": 0, "request_id": 1, "user_id": 2}
_CORE = frozenset(CORE_COLUMNS)


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
        import numpy as np
        import pandas as pd
    except ImportError:
        raise MissingExtraError("to_pandas()", "pandas", "pandas") from None
    with gc_paused():  # hundreds of thousands of small lists, no cycles
        return _frame(pd, np, list(entries))


def _frame(pd: Any, np: Any, rows: list[LogEntry]) -> Any:
    n = len(rows)
    stamps = np.fromiter((e.ts for e in rows), dtype="float64", count=n)
    core: dict[str, list[Any]] = {name: [] for name in CORE_COLUMNS[1:]}
    levels, sources, messages = core["level"], core["source"], core["message"]
    threads, requests, users, tags = (core["thread_id"], core["request_id"], core["user_id"],
                                      core["tags"])
    meta: dict[str, list[Any]] = {}
    for i, e in enumerate(rows):
        levels.append(e.level)
        sources.append(e.source)
        messages.append(e.message)
        tags.append(list(e.tags))
        ids = [e.thread_id, e.request_id, e.user_id]
        md = e.metadata
        if md:
            for key, value in md.items():
                if key in _ID_POS and ids[_ID_POS[key]] is None and getattr(e, key) is None:
                    ids[_ID_POS[key]] = value  # shown in the id column, as entry.get() does
                    continue
                if type(value) is dict and value:
                    flat: dict[str, Any] = {}
                    _flatten(key + ".", value, flat)
                    items = list(flat.items())
                else:
                    items = [(key, value)]
                for name, v in items:
                    if name in _CORE:
                        name = "metadata." + name
                    col = meta.get(name)
                    if col is None:
                        col = meta[name] = [None] * n
                    col[i] = v
        threads.append(ids[0])
        requests.append(ids[1])
        users.append(ids[2])
    micros = np.round(stamps * 1_000_000).astype("int64")
    columns: dict[str, Any] = {
        "timestamp": pd.to_datetime(micros, unit="us", utc=True),
        "level": pd.Categorical(levels, categories=list(LEVELS), ordered=True),
        "source": pd.Categorical(sources),
        **{name: core[name] for name in CORE_COLUMNS[3:]},
    }
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
    if meta:
        extra = pd.DataFrame(meta, index=frame.index).infer_objects()
        frame = pd.concat([frame, extra], axis=1)
    return frame
