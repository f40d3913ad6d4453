"""The Parquet archive format: one schema, entries to Arrow columns and back, the term index.

An archive is a folder of immutable segments, hive-partitioned by the UTC hour of event time::

    DIR/date=2025-07-21/hour=10/<unique-name>.parquet      rows in (instant, id) order, zstd
    DIR/date=2025-07-21/hour=10/<unique-name>.terms        the segment's term index

Columns (:data:`COLUMNS`): ``instant`` is the engine's own instant (float64 epoch seconds, so a
time filter at a boundary means what it means to the engine) and ``time`` the same instant as a
UTC timestamp for other tools; ``timestamp`` the original text (``timestamp_json``: the JSON of
a timestamp given as a number); ``level``, ``source``, ``message``, ``tags`` (a list),
``thread_id``/``request_id``/``user_id``; ``metadata`` as JSON text from the one codec
(:mod:`.codec`), so every value type round-trips as the durable copy keeps it; ``id`` (int64,
the engine id or the line number of a bulk import) and ``words``: the message's words exactly as
:func:`~log_analytics_engine.model.tokenize.words` produces them, so word queries mean the same
in every executor.

The term index of a segment (:class:`SegmentTerms`) holds its time span, row count and the
distinct levels, sources, tags and words: a reader skips every segment that cannot hold a
query's terms without opening it. Needs the ``archive`` extra (pyarrow); imported on use.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import MissingExtraError
from ..model.entry import LogEntry
from ..model.tokenize import tokenize_many
from .codec import dumps, loads

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "COLUMNS",
    "SEGMENT_SUFFIX",
    "TERMS_SUFFIX",
    "SegmentTerms",
    "entries_table",
    "hour_partition",
    "pyarrow",
    "schema",
    "table_entries",
]

SEGMENT_SUFFIX = ".parquet"
TERMS_SUFFIX = ".terms"
#: Format version written in each segment's key-value metadata.
FORMAT_VERSION = "1"

COLUMNS = ("instant", "time", "timestamp", "timestamp_json", "level", "source", "message",
           "tags", "thread_id", "request_id", "user_id", "metadata", "id", "words")


def pyarrow() -> Any:
    """The ``pyarrow`` module, or :class:`MissingExtraError` naming the ``archive`` extra."""
    try:
        import pyarrow as pa
        import pyarrow.parquet
    except ImportError as exc:
        raise MissingExtraError("the Parquet archive", "pyarrow", "archive") from exc
    return pa


def schema() -> pa.Schema:
    """The Arrow schema of a segment (see the module docstring)."""
    pa = pyarrow()
    text = pa.string()
    return pa.schema([
        ("instant", pa.float64()), ("time", pa.timestamp("us", tz="UTC")),
        ("timestamp", text), ("timestamp_json", text), ("level", text), ("source", text),
        ("message", text), ("tags", pa.list_(text)), ("thread_id", text),
        ("request_id", text), ("user_id", text), ("metadata", text), ("id", pa.int64()),
        ("words", pa.list_(text)),
    ], metadata={b"log_analytics_engine.archive": FORMAT_VERSION.encode()})


def hour_partition(instant: float) -> str:
    """The partition folder of an instant: ``date=YYYY-MM-DD/hour=HH`` (UTC).

    >>> hour_partition(1753099200.0)
    'date=2025-07-21/hour=12'
    """
    t = time.gmtime(instant)
    return f"date={t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}/hour={t.tm_hour:02d}"


def entries_table(entries: Sequence[LogEntry], ids: Sequence[int]) -> pa.Table:
    """The Arrow table of ``entries`` (with their ``ids``), sorted by (instant, id). O(n log n)."""
    pa = pyarrow()
    order = sorted(range(len(entries)), key=lambda k: (entries[k].ts, ids[k]))
    rows = [entries[k] for k in order]
    instants = [e.ts for e in rows]
    stamps = [e.timestamp for e in rows]
    ts_text = [s if type(s) is str else None for s in stamps]
    ts_json = [None if type(s) is str else dumps(s).decode() for s in stamps]
    metadata = [dumps(e.metadata).decode() if e.metadata else None for e in rows]
    micros = pa.array([round(t * 1e6) for t in instants], pa.int64())
    columns = [
        pa.array(instants, pa.float64()),
        micros.cast(pa.timestamp("us", tz="UTC")),
        pa.array(ts_text, pa.string()), pa.array(ts_json, pa.string()),
        pa.array([e.level for e in rows], pa.string()),
        pa.array([e.source for e in rows], pa.string()),
        pa.array([e.message for e in rows], pa.string()),
        pa.array([e.tags for e in rows], pa.list_(pa.string())),
        pa.array([e.thread_id for e in rows], pa.string()),
        pa.array([e.request_id for e in rows], pa.string()),
        pa.array([e.user_id for e in rows], pa.string()),
        pa.array(metadata, pa.string()),
        pa.array([ids[k] for k in order], pa.int64()),
        pa.array(tokenize_many([e.message for e in rows]), pa.list_(pa.string())),
    ]
    return pa.Table.from_arrays(columns, schema=schema())


_new = object.__new__


def table_entries(table: pa.Table) -> list[LogEntry]:
    """The entries of an Arrow table with the archive's columns (extra columns ignored), in
    its row order. Built without re-parsing: the instant is the stored one. O(rows)."""
    cols = {name: table.column(name).to_pylist() for name in (
        "instant", "timestamp", "timestamp_json", "level", "source", "message", "tags",
        "thread_id", "request_id", "user_id", "metadata")}
    out: list[LogEntry] = []
    append = out.append
    for instant, text, raw, level, source, message, tags, thread, request, user, meta in zip(
            cols["instant"], cols["timestamp"], cols["timestamp_json"], cols["level"],
            cols["source"], cols["message"], cols["tags"], cols["thread_id"],
            cols["request_id"], cols["user_id"], cols["metadata"], strict=True):
        e = _new(LogEntry)
        e.ts = instant
        e.timestamp = text if raw is None else loads(raw)
        e.level = level
        e.message = message
        e.source = source
        e.thread_id = thread
        e.request_id = request
        e.user_id = user
        e.tags = tags if tags is not None else []
        e.metadata = loads(meta) if meta is not None else {}
        append(e)
    return out


@dataclass(frozen=True)
class SegmentTerms:
    """The term index of one segment: its time span, row count and distinct terms.

    ``may_hold(index, term)`` is exact for absence: ``False`` means no row of the segment has
    that level, source, tag or word. O(1) per lookup.
    """

    lo: float
    hi: float
    rows: int
    level: frozenset[str]
    source: frozenset[str]
    tag: frozenset[str]
    token: frozenset[str]

    def may_hold(self, index: str, term: Any) -> bool:
        """Whether some row may have ``term`` in ``index`` (level, source, tag or token)."""
        terms: frozenset[str] | None = getattr(self, index, None)
        return terms is None or term in terms

    @classmethod
    def of_table(cls, table: pa.Table) -> SegmentTerms:
        """The term index of a segment's table (O(rows + words))."""
        pa = pyarrow()
        pc = pa.compute
        words = pc.unique(pc.list_flatten(table.column("words"))).to_pylist()
        tags = pc.unique(pc.list_flatten(table.column("tags"))).to_pylist()
        instants = table.column("instant")
        return cls(
            lo=pc.min(instants).as_py(), hi=pc.max(instants).as_py(), rows=table.num_rows,
            level=frozenset(pc.unique(table.column("level")).to_pylist()),
            source=frozenset(pc.unique(table.column("source")).to_pylist()),
            tag=frozenset(tags), token=frozenset(words),
        )

    def to_bytes(self) -> bytes:
        """zstd-compressed JSON (the ``.terms`` file beside the segment)."""
        pa = pyarrow()
        raw = orjson.dumps({"v": FORMAT_VERSION, "lo": self.lo, "hi": self.hi,
                            "rows": self.rows, "level": sorted(self.level),
                            "source": sorted(self.source), "tag": sorted(self.tag),
                            "token": sorted(self.token)})
        body: bytes = pa.compress(raw, "zstd", asbytes=True)
        return len(raw).to_bytes(8, "little") + body

    @classmethod
    def from_bytes(cls, data: bytes) -> SegmentTerms:
        pa = pyarrow()
        size = int.from_bytes(data[:8], "little")
        d = orjson.loads(pa.decompress(data[8:], size, "zstd", asbytes=True))
        return cls(d["lo"], d["hi"], d["rows"], frozenset(d["level"]), frozenset(d["source"]),
                   frozenset(d["tag"]), frozenset(d["token"]))
