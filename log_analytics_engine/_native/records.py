"""Entry records: the compact form of the entries of a sealed chunk (the specification of the C
kernels ``encode_records`` and ``decode_records``).

A chunk's entries are kept as one ``bytes`` of records and a ``uint32`` offset per entry
instead of one Python object graph each (about 750 B per entry on the benchmark corpus).
Repeated strings become codes of three dictionaries (*tables*): ``NAMES`` (sources, tags,
metadata keys), ``WORDS`` (the space-separated pieces of messages) and ``VALUES`` (string
values of metadata, ``thread_id``, ``request_id``, ``user_id``). A table admits a string of
at most :data:`MAX_ADMITTED` UTF-8 bytes on its *second* sighting, until it holds its limit:
a doorkeeper of :data:`DOOR_BITS` bits remembers first sightings by the CRC-32 of the
string's UTF-8 (one bit each, all cleared when :data:`DOOR_FILL` of them are set, so a
unique value is admitted only by a collision: a few percent), so values such as request ids
mostly stay inline, and neither they nor hostile input grow a table past its limit or hold
memory in the doorkeeper.
A table only grows: a code, once given, means the same string for the table's life.

Record layout (varints are unsigned LEB128; a *string* is a varint ``v``: ``v & 1`` a table
code ``v >> 1``, else ``v >> 1`` inline UTF-8 bytes follow)::

    level      1 byte, the index in LEVELS; EXCEPTION (0xFF): the entry is kept as an object
    flags      1 byte: 1 thread_id, 2 request_id, 4 user_id present (None otherwise)
    timestamp  varint t: 0 then an inline string (the text); 1: the float equal to the
               instant; 2 then a zigzag varint: an int (int64 range); else t - 3 =
               digits | suffix << 4: the text is the instant printed as
               YYYY-MM-DDTHH:MM:SS, ``.`` and the first ``digits`` (1-6) digits of the
               microseconds when digits > 0, then ``Z`` (suffix 0) or ``+00:00`` (suffix 1);
               used only when that print equals the text
    source     string (NAMES)
    message    varint count, then count strings (WORDS): the pieces of ``message.split(" ")``
    ids        a string (VALUES) for each of thread_id, request_id, user_id flagged present
    tags       varint count, strings (NAMES)
    metadata   varint count, then (key string (NAMES), value) pairs
    value      1 tag byte: 0 None, 1 False, 2 True, 3 int (zigzag varint, int64 range),
               4 float (8 bytes little-endian), 5 string (VALUES), 6 list (varint count,
               values), 7 object (varint count, (key string (NAMES), value) pairs)

An entry the layout cannot hold exactly (an instance of a subclass, a timestamp of another
type, a float timestamp that is not the instant itself, a value of another type or a
subclass, an int beyond int64, a string that is not valid UTF-8 (lone surrogates), nesting
deeper than :data:`MAX_DEPTH`) is encoded as the single byte ``EXCEPTION`` and kept as
the object itself in the chunk's exceptions. Decoding gives entries equal to the encoded ones:
same field values and types (not the same objects). O(size of the entries).
"""

from __future__ import annotations

import struct
from array import array as array_type
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from zlib import crc32

from ..model.entry import LEVELS, LogEntry

__all__ = [
    "DOOR_BITS",
    "DOOR_FILL",
    "EXCEPTION",
    "LIMITS",
    "MAX_ADMITTED",
    "MAX_DEPTH",
    "NAMES",
    "VALUES",
    "WORDS",
    "Chunk",
    "Table",
    "decode_records",
    "encode_records",
    "new_tables",
    "render_timestamp",
    "take_entries",
]

NAMES, WORDS, VALUES = 0, 1, 2
#: The most strings each table holds (names, words, values). The values table is off by
#: default: on the high-cardinality corpus it saved 4 B per entry (user ids) and cost 0.5 us
#: per entry to seal (doorkeeping unique request ids), so values are inline.
LIMITS = (1 << 16, 1 << 18, 0)
#: Longer strings are always inline.
MAX_ADMITTED = 64
#: Bits of a table's doorkeeper, and how many may be set before it is cleared.
DOOR_BITS = 1 << 20
DOOR_FILL = DOOR_BITS >> 4
#: Deeper metadata is kept as an object.
MAX_DEPTH = 32
EXCEPTION = 0xFF

#: A table: ``[codes: dict[str, int], items: list[str], door: bytearray, limit: int,
#: door_set: int, index]`` (``door``: DOOR_BITS // 8 bytes, bit
#: ``crc32(utf8) & (DOOR_BITS - 1)``; ``index``: the C kernels' own lookup of ``items`` by
#: UTF-8 bytes, None until they build it and whenever ``items`` is replaced).
Table = list[Any]

_LEVEL_CODE = {name: i for i, name in enumerate(LEVELS)}
_EPOCH = datetime(1970, 1, 1)
_UTC = timezone.utc
_pack_double = struct.Struct("<d").pack
_unpack_double = struct.Struct("<d").unpack_from
_INT64 = 1 << 63
_SUFFIXES = ("Z", "+00:00")
#: A table that admits nothing (literal timestamps are always inline).
_INLINE: list[Any] = [{}, [], bytearray(DOOR_BITS >> 3), 0, 0, None]


def new_tables(limits: tuple[int, int, int] = LIMITS) -> list[Table]:
    """Three empty tables (names, words, values) holding at most ``limits`` strings."""
    return [[{}, [], bytearray(DOOR_BITS >> 3), limit, 0, None] for limit in limits]


class _Unfit(Exception):
    """The entry cannot be a record: it stays an object."""


def render_timestamp(instant: float, digits: int, suffix: int) -> str | None:
    """The text the timestamp code ``digits | suffix << 4`` stands for at ``instant``, or None
    when the instant is outside years 1-9999. O(1).

    >>> render_timestamp(1753000000.065, 3, 0), render_timestamp(1753000000.0, 0, 1)
    ('2025-07-20T08:26:40.065Z', '2025-07-20T08:26:40+00:00')
    """
    try:
        dt = _EPOCH + timedelta(microseconds=round(instant * 1_000_000))
    except (OverflowError, ValueError):
        return None
    text = (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
            f"{dt.second:02d}")
    if digits:
        text += "." + f"{dt.microsecond:06d}"[:digits]
    return text + _SUFFIXES[suffix]


def _timestamp_code(text: str, instant: float) -> int:
    """``digits | suffix << 4`` + 3 when the text is what that code prints, else 0."""
    if text.endswith("Z"):
        suffix, body = 0, len(text) - 1
    elif text.endswith("+00:00"):
        suffix, body = 1, len(text) - 6
    else:
        return 0
    digits = body - 20 if body > 20 else 0
    if body != 19 and not 21 <= body <= 26:
        return 0
    if render_timestamp(instant, digits, suffix) != text:
        return 0
    return (digits | suffix << 4) + 3


def _varint(out: bytearray, v: int) -> None:
    while v > 0x7F:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _string(out: bytearray, s: Any, table: Table) -> None:
    if type(s) is not str:
        raise _Unfit
    codes = table[0]
    code = codes.get(s)
    if code is not None:
        _varint(out, code << 1 | 1)
        return
    try:
        raw = s.encode("utf-8")
    except UnicodeEncodeError:
        raise _Unfit from None
    items = table[1]
    if len(raw) <= MAX_ADMITTED and len(items) < table[3]:
        door = table[2]
        h = crc32(raw) & (DOOR_BITS - 1)
        byte, bit = h >> 3, 1 << (h & 7)
        if door[byte] & bit:
            code = len(items)
            items.append(s)
            codes[s] = code
            _varint(out, code << 1 | 1)
            return
        door[byte] |= bit
        table[4] += 1
        if table[4] >= DOOR_FILL:
            door[:] = bytes(len(door))
            table[4] = 0
    _varint(out, len(raw) << 1)
    out += raw


def _value(out: bytearray, v: Any, tables: list[Table], depth: int) -> None:
    t = type(v)
    if v is None:
        out.append(0)
    elif t is bool:
        out.append(2 if v else 1)
    elif t is int:
        if not -_INT64 <= v < _INT64:
            raise _Unfit
        out.append(3)
        _varint(out, ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)
    elif t is float:
        out.append(4)
        out += _pack_double(v)
    elif t is str:
        out.append(5)
        _string(out, v, tables[VALUES])
    elif t is list:
        if depth >= MAX_DEPTH:
            raise _Unfit
        out.append(6)
        _varint(out, len(v))
        for item in v:
            _value(out, item, tables, depth + 1)
    elif t is dict:
        if depth >= MAX_DEPTH:
            raise _Unfit
        out.append(7)
        _object(out, v, tables, depth + 1)
    else:
        raise _Unfit


def _object(out: bytearray, d: dict[Any, Any], tables: list[Table], depth: int) -> None:
    _varint(out, len(d))
    names = tables[NAMES]
    for key, value in d.items():
        _string(out, key, names)
        _value(out, value, tables, depth)


def _record(out: bytearray, e: LogEntry, tables: list[Table]) -> None:
    if type(e) is not LogEntry:  # a subclass keeps its type: kept as the object
        raise _Unfit
    level = _LEVEL_CODE.get(e.level) if type(e.level) is str else None
    text = e.timestamp
    kind = type(text)
    if level is None or type(e.ts) is not float:
        raise _Unfit
    thread, request, user = e.thread_id, e.request_id, e.user_id
    out.append(level)
    out.append((thread is not None) | (request is not None) << 1 | (user is not None) << 2)
    if kind is str:
        code = _timestamp_code(text, e.ts)
        _varint(out, code)
        if not code:
            _string(out, text, _INLINE)
    elif kind is float and _pack_double(text) == _pack_double(e.ts):
        out.append(1)
    elif kind is int and -_INT64 <= text < _INT64:
        out.append(2)
        _varint(out, ((text << 1) ^ (text >> 63)) & 0xFFFFFFFFFFFFFFFF)
    else:
        raise _Unfit
    names, values = tables[NAMES], tables[VALUES]
    _string(out, e.source, names)
    message = e.message
    if type(message) is not str:
        raise _Unfit
    try:
        message.encode("utf-8")  # the whole message is checked before any piece
    except UnicodeEncodeError:
        raise _Unfit from None
    pieces = message.split(" ")
    _varint(out, len(pieces))
    words = tables[WORDS]
    for piece in pieces:
        _string(out, piece, words)
    for s in (thread, request, user):
        if s is not None:
            _string(out, s, values)
    tags = e.tags
    if type(tags) is not list:
        raise _Unfit
    _varint(out, len(tags))
    for tag in tags:
        _string(out, tag, names)
    metadata = e.metadata
    if type(metadata) is not dict:
        raise _Unfit
    _object(out, metadata, tables, 0)


def encode_records(
    entries: list[LogEntry], tables: list[Table]
) -> tuple[bytes, array_type[int], list[int]]:
    """The records of ``entries``, their ``len + 1`` offsets (``array('I')``) and the
    positions of the entries kept as objects (see the module docstring). The tables grow as
    strings are admitted. O(size of the entries)."""
    out = bytearray()
    offsets = array_type("I", [0])
    kept: list[int] = []
    for pos, e in enumerate(entries):
        start = len(out)
        try:
            _record(out, e, tables)
        except (_Unfit, AttributeError):  # AttributeError: a slot never set
            del out[start:]
            out.append(EXCEPTION)
            kept.append(pos)
        if len(out) > 0xFFFFFFFF:
            raise OverflowError("a chunk's records passed 4 GiB")
        offsets.append(len(out))
    return bytes(out), offsets, kept


class _Reader:
    __slots__ = ("data", "items", "pos")

    def __init__(self, data: bytes, items: tuple[list[str], list[str], list[str]]) -> None:
        self.data = data
        self.items = items
        self.pos = 0

    def varint(self) -> int:
        data, pos = self.data, self.pos
        shift = value = 0
        while True:
            b = data[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                self.pos = pos
                return value
            shift += 7

    def string(self, table: int) -> str:
        v = self.varint()
        if v & 1:
            return self.items[table][v >> 1]
        n = v >> 1
        start = self.pos
        self.pos = start + n
        return self.data[start : start + n].decode("utf-8")

    def value(self) -> Any:
        tag = self.data[self.pos]
        self.pos += 1
        if tag == 0:
            return None
        if tag == 1:
            return False
        if tag == 2:
            return True
        if tag == 3:
            z = self.varint()
            return (z >> 1) ^ -(z & 1)
        if tag == 4:
            (v,) = _unpack_double(self.data, self.pos)
            self.pos += 8
            return v
        if tag == 5:
            return self.string(VALUES)
        if tag == 6:
            return [self.value() for _ in range(self.varint())]
        return self.object()

    def object(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for _ in range(self.varint()):
            key = self.string(NAMES)
            out[key] = self.value()
        return out


_new = object.__new__


def decode_records(
    data: bytes, offsets: Any, positions: Any, ts: Any, ts_first: int,
    tables: list[Table], kept: dict[int, LogEntry] | None,
) -> list[LogEntry]:
    """The entries at ``positions`` (indexes into the chunk) of records ``data`` with
    ``offsets``; ``ts[ts_first + position]`` is each one's instant, ``tables`` the string
    tables, ``kept`` the entries kept as objects by position. O(size of those records)."""
    items = (tables[0][1], tables[1][1], tables[2][1])
    out: list[LogEntry] = []
    reader = _Reader(data, items)
    n = len(offsets) - 1
    for pos in positions:
        if not 0 <= pos < n:
            raise IndexError(f"record position {pos} out of range")
        reader.pos = offsets[pos]
        level = data[reader.pos]
        if level == EXCEPTION:
            if kept is None or pos not in kept:
                raise ValueError(f"record {pos} was kept as an object but is missing")
            out.append(kept[pos])
            continue
        instant = ts[ts_first + pos]
        flags = data[reader.pos + 1]
        reader.pos += 2
        code = reader.varint()
        timestamp: Any
        if code >= 3:
            code -= 3
            timestamp = render_timestamp(instant, code & 0xF, code >> 4)
        elif code == 1:
            timestamp = instant
        elif code == 2:
            z = reader.varint()
            timestamp = (z >> 1) ^ -(z & 1)
        else:
            timestamp = _inline(reader)
        e = _new(LogEntry)
        e.ts = instant
        e.timestamp = timestamp
        e.level = LEVELS[level]
        e.source = reader.string(NAMES)
        e.message = " ".join([reader.string(WORDS) for _ in range(reader.varint())])
        e.thread_id = reader.string(VALUES) if flags & 1 else None
        e.request_id = reader.string(VALUES) if flags & 2 else None
        e.user_id = reader.string(VALUES) if flags & 4 else None
        e.tags = [reader.string(NAMES) for _ in range(reader.varint())]
        e.metadata = reader.object()
        out.append(e)
    return out


def _inline(reader: _Reader) -> str:
    v = reader.varint()
    n = v >> 1
    start = reader.pos
    reader.pos = start + n
    return reader.data[start : start + n].decode("utf-8")



#: A sealed chunk: ``(records, offsets, kept)`` as :func:`encode_records` returns them, with
#: ``kept`` the entries kept as objects by position (``None`` when there are none).
Chunk = tuple[bytes, Any, "dict[int, LogEntry] | None"]


def take_entries(
    ids: Any, chunks: Sequence[Chunk | None], first_block: int, chunk_bits: int, ts: Any,
    base: int, tables: list[Table], tail: list[LogEntry], tail_start: int, lazy: bool = False,
) -> list[LogEntry]:
    """The entries of ``ids`` (any order, repeats allowed), in that order.

    ``lazy``: the accelerator may build each entry with its instant and level only, the other
    fields decoded from the record on their first read (:meth:`LogEntry.__getattr__`); the
    values are the same. Here every entry is built whole.

    An id at or above ``tail_start`` is ``tail[id - tail_start]`` (the entries not sealed
    yet); below it, id ``i`` is position ``i & (2**chunk_bits - 1)`` of chunk
    ``chunks[(i >> chunk_bits) - first_block]``; ``ts[i - base]`` is its instant. Raises
    ``IndexError`` for an id below ``base``, past the tail, or in a missing chunk.
    O(size of the records taken)."""
    out: list[LogEntry] = []
    mask = (1 << chunk_bits) - 1
    for i in ids:
        if i < base:
            raise IndexError(f"id {i} is below the base {base}")
        if i >= tail_start:
            if i - tail_start >= len(tail):
                raise IndexError(f"id {i} is past the last entry")
            out.append(tail[i - tail_start])
            continue
        slot = (i >> chunk_bits) - first_block
        chunk = chunks[slot] if 0 <= slot < len(chunks) else None
        if chunk is None:
            raise IndexError(f"id {i} is in no chunk")
        start = i & ~mask
        out.extend(decode_records(chunk[0], chunk[1], (i - start,), ts, start - base, tables,
                                  chunk[2]))
    return out
