"""The pure-Python kernels: the specification of the C accelerator, signature for signature.

Each function here takes the arguments of its C twin in ``_speedups`` and returns what that
twin returns, or, for the two kernels whose C version only takes a common case
(:func:`entries_from_chunk`, :func:`sorted_numbers`), ``None``: "use the general path", which
is the documented answer of the C kernel for any case it does not take. The differential
tests (``tests/differential/test_speedups.py``) and the sanitizer's fuzz run compare the two.

The C kernels post each id once per term; these keep the repeats of a word within one
message (the indexes merge ids into bitmaps, so both give the same posting lists).
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import count
from math import floor, fsum, nan
from typing import Any

from orjson import loads

from ..model.entry import LogEntry, entry_from_json
from ..model.tokenize import tokenize_many
from .records import decode_records, encode_records, take_entries

__all__ = [
    "count_values",
    "decode_records",
    "encode_chunk",
    "encode_records",
    "entries_from_chunk",
    "entries_from_lines",
    "entries_from_rows",
    "entry_columns",
    "filter_instants",
    "gather",
    "gather_numbers",
    "ingest_blocks",
    "ingest_records",
    "json_array_buffers",
    "numeric_column",
    "numeric_records",
    "sorted_numbers",
    "split_ordered",
    "string_buffers",
    "string_list_buffers",
    "summarize_numbers",
    "take_entries",
    "time_order",
    "word_lists",
]

Ids = Sequence[int]

# An error a bad line may raise; anything else is not the line's and propagates.
_LINE_ERRORS = (ValueError, TypeError, OverflowError)


# -- ingestion -------------------------------------------------------------------------------
def entries_from_lines(lines: list[bytes]) -> tuple[list[LogEntry | None], int]:
    """One entry per JSON line (without its newline), ``None`` for a line to reject, and the
    number of those. O(total bytes)."""
    if type(lines) is not list:
        raise TypeError("entries_from_lines expects a list of bytes")
    out: list[LogEntry | None] = []
    append = out.append
    bad = 0
    for line in lines:
        try:
            data = loads(line)
            entry = entry_from_json(data) if type(data) is dict else None
        except _LINE_ERRORS:
            entry = None
        if entry is None:
            bad += 1
        append(entry)
    return out, bad


def gather(
    entries: list[Any], first_id: int, canon: dict[str, str], levels: dict[str, Ids],
    sources: dict[str, Ids], tags: dict[str, Ids], words: dict[str, Ids],
    tokens: list[list[str]] | None,
) -> None:
    """Fill ``levels``, ``sources``, ``tags`` and ``words`` with term -> ids (from
    ``first_id``) of ``entries``; ``tokens[k]``: the words of ``entries[k]`` (None: tokenize
    here). Sources and tags are pointed at one shared string per value (``canon``).
    O(total terms)."""
    if tokens is None:
        tokens = tokenize_many([e.message for e in entries])
    elif len(tokens) != len(entries):
        raise ValueError("tokens must be None or one list per entry")
    by_level: defaultdict[str, list[int]] = defaultdict(list)
    by_source: defaultdict[str, list[int]] = defaultdict(list)
    by_tag: defaultdict[str, list[int]] = defaultdict(list)
    by_word: defaultdict[str, list[int]] = defaultdict(list)
    shared = canon.setdefault
    for i, entry, toks in zip(count(first_id), entries, tokens):
        if not isinstance(entry, LogEntry):
            raise TypeError(f"expected a LogEntry, got {type(entry).__name__}")
        by_level[entry.level].append(i)
        src = entry.source = shared(entry.source, entry.source)
        by_source[src].append(i)
        entry_tags = entry.tags
        if entry_tags:
            for k, t in enumerate(entry_tags):
                t = entry_tags[k] = shared(t, t)
                by_tag[t].append(i)
        for w in toks:
            by_word[w].append(i)
    levels.update(by_level)
    sources.update(by_source)
    tags.update(by_tag)
    words.update(by_word)


def word_lists(messages: list[str]) -> tuple[list[str], bytes, bytes]:
    """The distinct words of each message (:func:`~..model.tokenize.tokenize_many`) as
    term numbers: ``(terms in the order the batch first used them, codes, offsets)``;
    ``codes`` (int32, native order) holds each message's term numbers ascending, message
    after message, and ``offsets`` (int32, one more than the messages) where each message's
    run starts. The buffers of the archive's words column. O(total words)."""
    if type(messages) is not list:
        raise TypeError("word_lists expects a list of str")
    for m in messages:
        if not isinstance(m, str):
            raise TypeError(f"a message must be a str, not {type(m).__name__}")
    number: dict[str, int] = {}
    add = number.setdefault
    codes = array("i")
    offsets = array("i", [0])
    for toks in tokenize_many(messages):
        codes.extend(sorted({add(w, len(number)) for w in toks}))
        offsets.append(len(codes))
    return list(number), codes.tobytes(), offsets.tobytes()


def string_buffers(values: list[str | None]) -> tuple[bytes, bytes, bytes | None]:
    """The buffers of an Arrow string array of ``values`` (str, or None for a null):
    ``(offsets, data, validity)``: int32 offsets (native order, one more than the values)
    into the concatenated UTF-8 ``data``, and the validity bitmap (bit i set: value i is
    not null; padding bits set), or None when no value is null. O(total size)."""
    if type(values) is not list:
        raise TypeError("string_buffers expects a list")
    if len(values) >= 2**31 - 1:
        raise OverflowError("too many values for one text column")
    data = bytearray()
    offsets = array("i", [0])
    nulls = []
    for i, v in enumerate(values):
        if v is None:
            nulls.append(i)
        elif isinstance(v, str):
            data += v.encode("utf-8")
            if len(data) > 2**31 - 1:
                raise OverflowError("text column over 2 GiB")
        else:
            raise TypeError(f"a text value must be a str or None, not {type(v).__name__}")
        offsets.append(len(data))
    valid = None
    if nulls:
        bits = bytearray(b"\xff" * ((len(values) + 7) // 8))
        for i in nulls:
            bits[i >> 3] &= ~(1 << (i & 7)) & 0xFF
        valid = bytes(bits)
    return offsets.tobytes(), bytes(data), valid


def string_list_buffers(lists: list[list[str]]) -> tuple[bytes, bytes, bytes]:
    """The buffers of an Arrow list<string> array of ``lists`` (lists of str, no nulls):
    ``(list_offsets, offsets, data)``, int32 offsets in native order. O(total size)."""
    if type(lists) is not list:
        raise TypeError("string_list_buffers expects a list")
    list_offsets = array("i", [0])
    flat: list[str | None] = []
    for items in lists:
        if type(items) is not list:
            raise TypeError(f"a text list must be a list, not {type(items).__name__}")
        for v in items:
            if not isinstance(v, str):
                raise TypeError(f"a text value must be a str, not {type(v).__name__}")
        flat.extend(items)
        list_offsets.append(len(flat))
    if len(flat) >= 2**31 - 1:
        raise OverflowError("too many values for one text list column")
    offsets, data, _ = string_buffers(flat)
    return list_offsets.tobytes(), offsets, data


def json_array_buffers(data: bytes, n: int) -> tuple[bytes, bytes, bytes | None]:
    """The buffers of an Arrow string array of the ``n`` elements of the JSON array
    ``data`` (as one ``orjson.dumps`` of a list writes it: no whitespace), each element's
    JSON text as it stands, ``null`` as a null: what :func:`string_buffers` gives for the
    elements dumped one by one. ValueError when ``data`` is not such an array of ``n``
    elements. The text is not decoded (orjson writes UTF-8). O(len(data))."""
    if type(data) is not bytes or type(n) is not int:
        raise TypeError("json_array_buffers expects bytes and an int")
    if n < 0 or n >= 2**31 - 1:
        raise ValueError("a count out of range")
    if len(data) < 2 or data[0] != 0x5B or data[-1] != 0x5D:
        raise ValueError("not a JSON array")
    parts: list[bytes] = []
    depth, in_string, escaped, start = 0, False, False, 1
    for i in range(1, len(data) - 1):
        c = data[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == 0x5C:
                escaped = True
            elif c == 0x22:
                in_string = False
        elif c == 0x22:
            in_string = True
        elif c in (0x5B, 0x7B):
            depth += 1
        elif c in (0x5D, 0x7D):
            depth -= 1
            if depth < 0:
                raise ValueError("not a JSON array")
        elif c == 0x2C and depth == 0:
            parts.append(data[start:i])
            start = i + 1
    if in_string or depth:
        raise ValueError("not a JSON array")
    if len(data) > 2:
        parts.append(data[start:len(data) - 1])
    if len(parts) != n or any(not p for p in parts):
        raise ValueError(f"a JSON array of {len(parts)} elements, not {n}")
    offsets = array("i", [0])
    out = bytearray()
    nulls = []
    for i, part in enumerate(parts):
        if part == b"null":
            nulls.append(i)
        else:
            out += part
            if len(out) > 2**31 - 1:
                raise OverflowError("text column over 2 GiB")
        offsets.append(len(out))
    valid = None
    if nulls:
        bits = bytearray(b"\xff" * ((n + 7) // 8))
        for i in nulls:
            bits[i >> 3] &= ~(1 << (i & 7)) & 0xFF
        valid = bytes(bits)
    return offsets.tobytes(), bytes(out), valid


#: The text columns :func:`entry_columns` returns, in this order.
ENTRY_TEXT = ("timestamp", "level", "source", "message", "thread_id", "request_id", "user_id")
_NULLABLE = frozenset(("thread_id", "request_id", "user_id"))

Buffers = tuple[bytes, bytes, bytes | None]


def entry_columns(entries: list[LogEntry], order: list[int] | None
                  ) -> tuple[bytes, tuple[Buffers, ...], tuple[bytes, bytes, bytes],
                             list[str], list[dict[str, Any]]]:
    """The columns of ``entries`` taken at the positions ``order`` (``None``: as they are),
    in one pass over the entries: ``(instants, texts, tags, messages, metadata)``, the
    instants as a float64 buffer (native order), the buffers of the :data:`ENTRY_TEXT`
    columns as :func:`string_buffers` gives them, the tags' as :func:`string_list_buffers`
    does, and the messages and metadata dicts as lists. TypeError when an entry is not an
    exact LogEntry or a field is not of its usual type (a timestamp that is not a str, ...):
    the caller then takes the general path; IndexError for a position out of range.
    O(n + total size)."""
    if type(entries) is not list or (order is not None and type(order) is not list):
        raise TypeError("entry_columns expects a list of entries and a list of positions")
    n = len(entries)
    if order is None:
        rows = list(entries)
    else:
        for k in order:
            if type(k) is not int:
                raise TypeError(f"a position must be an int, not {type(k).__name__}")
            if not 0 <= k < n:
                raise IndexError("a position out of range")
        rows = [entries[k] for k in order]
    for e in rows:
        if type(e) is not LogEntry:
            raise TypeError(f"an entry must be a LogEntry, not {type(e).__name__}")
        if type(e.ts) is not float:
            raise TypeError("an entry's instant must be a float")
    texts = []
    for name in ENTRY_TEXT:
        values = [getattr(e, name) for e in rows]
        if name not in _NULLABLE and any(v is None for v in values):
            raise TypeError(f"an entry's {name} must be a str, not NoneType")
        texts.append(string_buffers(values))
    return (array("d", [e.ts for e in rows]).tobytes(), tuple(texts),
            string_list_buffers([e.tags for e in rows]), [e.message for e in rows],
            [e.metadata for e in rows])


#: Metadata fields :func:`archive_columns` tracks per call; more: ``None``.
NUM_KEYS = 64
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: The text columns of :func:`archive_columns`, in its order.
ARCHIVE_TEXT = ("timestamp", "timestamp_json", "level", "source", "message", "thread_id",
                "request_id", "user_id", "metadata")

ArchiveColumns = tuple[bytes, tuple[Buffers, ...], tuple[bytes, bytes, bytes],
                       list[tuple[str, bytes, bytes]]]


def archive_columns(blocks: list[bytes], dumps: Callable[[Any], bytes]
                    ) -> tuple[int, int, list[tuple[int, bytes]], ArchiveColumns] | None:
    """The archive's columns of the entries of blocks of whole lines, in file order:
    ``(rows, lines, bad, (instants, texts, tags, fields))``, ``lines`` and ``bad`` as
    :func:`entries_from_blocks` gives them. ``texts``: the buffers (:func:`string_buffers`)
    of :data:`ARCHIVE_TEXT`: a timestamp given as text in ``timestamp``, one given as a
    number as its JSON (``dumps``) in ``timestamp_json``; the metadata as the JSON ``dumps``
    writes, null when empty. ``tags``: :func:`string_list_buffers`. ``fields``: ``(name,
    kinds, values)`` for each metadata field with a plain name (``[A-Za-z_][A-Za-z0-9_]*``)
    holding a number somewhere, in the order first seen: one byte per row (1: a float, then
    in ``values``, float64 per row, else 0.0; 2: an int; 0: anything else or missing).
    ``None`` when more than :data:`NUM_KEYS` fields qualify (the caller then builds the
    columns from the entries). TypeError for an entry with a value of another type (the
    caller does the same). The C kernel's buffers may be longer than the rows.
    O(total bytes)."""
    entries, lines, bad = entries_from_blocks(blocks)
    n = len(entries)
    columns: list[list[str | None]] = [[] for _ in ARCHIVE_TEXT]
    fields: dict[str, tuple[bytearray, array[float]]] = {}
    for i, e in enumerate(entries):
        if type(e) is not LogEntry or type(e.ts) is not float:
            raise TypeError("an entry must be a LogEntry with a float instant")
        stamp = e.timestamp
        if isinstance(stamp, str):
            columns[0].append(stamp)
            columns[1].append(None)
        elif isinstance(stamp, (int, float)):
            columns[0].append(None)
            columns[1].append(dumps(stamp).decode())
        else:
            raise TypeError("a timestamp of another kind")
        for c, name in enumerate(ENTRY_TEXT[1:], 2):
            columns[c].append(getattr(e, name))
        md = e.metadata
        if md is not None and not isinstance(md, dict):
            raise TypeError("an entry's metadata must be a dict")
        columns[8].append(dumps(md).decode() if md else None)
        for key, value in (md or {}).items():
            kind = 1 if type(value) is float else 2 if type(value) is int else 0
            if not kind or not isinstance(key, str) or not _PLAIN_NAME.fullmatch(key):
                continue
            if key not in fields:
                if len(fields) == NUM_KEYS:
                    return None
                fields[key] = (bytearray(n), array("d", bytes(8 * n)))
            kinds, values = fields[key]
            kinds[i] = kind
            if kind == 1:
                values[i] = value
    for c, name in enumerate(ARCHIVE_TEXT):
        if name in ("level", "source", "message") and any(v is None for v in columns[c]):
            raise TypeError(f"an entry's {name} must be a str, not NoneType")
    texts = tuple(string_buffers(values) for values in columns)
    tags = string_list_buffers([e.tags for e in entries])
    return (n, lines, bad, (array("d", [e.ts for e in entries]).tobytes(), texts, tags,
                            [(k, bytes(kinds), values.tobytes())
                             for k, (kinds, values) in fields.items()]))


def word_lists_utf8(offsets: Any, data: Any, start: int, n: int
                    ) -> tuple[list[str], bytes, bytes]:
    """:func:`word_lists` of the ``n`` messages from row ``start`` of an Arrow string
    array's buffers (``offsets``: int32, native order; ``data``: UTF-8; any objects with
    the buffer protocol). ValueError for rows or offsets out of range, UnicodeDecodeError
    for bytes that are not UTF-8. O(total size)."""
    if start < 0 or n < 0:
        raise ValueError("a negative start or count")
    view = memoryview(offsets).cast("B")
    offs = array("i")
    offs.frombytes(bytes(view[:len(view) // 4 * 4]))
    raw = bytes(memoryview(data).cast("B"))
    if len(offs) - 1 < start + n:
        raise ValueError("rows beyond the offsets")
    messages = []
    for i in range(start, start + n):
        a, b = offs[i], offs[i + 1]
        if a < 0 or b < a or b > len(raw):
            raise ValueError("an offset out of the data")
        messages.append(raw[a:b].decode("utf-8"))
    return word_lists(messages)


def _block_lines(blocks: list[bytes], kernel: str
                 ) -> tuple[list[bytes], list[LogEntry | None]]:
    """The lines of blocks of whole lines (with their newlines; the last block of a file may
    end without one) and the entry of each (``None``: rejected)."""
    if type(blocks) is not list or any(type(b) is not bytes for b in blocks):
        raise TypeError(f"{kernel} expects a list of bytes")
    raws: list[bytes] = []
    for block in blocks:
        start, size = 0, len(block)
        while start < size:
            stop = block.find(b"\n", start) + 1 or size
            raws.append(block[start:stop])
            start = stop
    parsed, _ = entries_from_lines([r[:-1] if r[-1:] == b"\n" else r for r in raws])
    return raws, parsed


def ingest_blocks(
    blocks: list[bytes], first_id: int, canon: dict[str, str], levels: dict[str, Ids],
    sources: dict[str, Ids], tags: dict[str, Ids], words: dict[str, Ids],
) -> tuple[list[LogEntry], int, list[tuple[int, bytes]]]:
    """:func:`entries_from_lines` and :func:`gather` over blocks of whole lines (the last
    block of a file may end without a newline): ``(entries of the good lines, numbered from
    first_id; number of lines; (index, line with its newline) of each other line but the
    blank ones)``."""
    entries, count, bad = _block_entries(blocks, "ingest_blocks")
    gather(entries, first_id, canon, levels, sources, tags, words, None)
    return entries, count, bad


def entries_from_blocks(blocks: list[bytes]
                        ) -> tuple[list[LogEntry], int, list[tuple[int, bytes]]]:
    """:func:`entries_from_lines` over blocks of whole lines (the last block of a file may
    end without a newline): ``(entries of the good lines, number of lines, (index, line with
    its newline) of each other line but the blank ones)``. O(total bytes)."""
    return _block_entries(blocks, "entries_from_blocks")


def _block_entries(blocks: list[bytes], kernel: str
                   ) -> tuple[list[LogEntry], int, list[tuple[int, bytes]]]:
    raws, parsed = _block_lines(blocks, kernel)
    entries = [e for e in parsed if e is not None]
    # a blank line (ASCII whitespace only) is skipped: counted, neither an entry nor bad
    bad = [(k, raw) for k, (raw, e) in enumerate(zip(raws, parsed, strict=True))
           if e is None and raw.strip()]
    return entries, len(raws), bad


def ingest_records(
    blocks: list[bytes], first_id: int, canon: dict[str, str], levels: dict[str, Ids],
    sources: dict[str, Ids], tags: dict[str, Ids], words: dict[str, Ids], tables: list[Any],
    bits: int, final: bool,
) -> tuple[list[Any], array[float], int, list[tuple[int, bytes]], bytes]:
    """:func:`ingest_blocks` writing records: ``(chunks, stamps, lines, bad, rest)``.

    The good lines' entries (ids from ``first_id``) encoded chunk by chunk of ``2**bits``
    ids with :func:`encode_records` against ``tables``, each chunk ``(records, offsets,
    kept)`` as ``EntryChunks`` seals it (the first may start mid-chunk: its offsets begin
    with zeros; the last may be partial: its offsets stop after its last entry); ``stamps``
    their instants. Unless ``final``, reading stops at the first chunk boundary (after a
    chunk was started) where the bytes left are fewer than 1.25 times a chunk of lines of the
    mean length read so far; ``rest`` holds those lines, ``lines`` counts the others."""
    if not 1 <= bits <= 20:
        raise ValueError("bits must be in 1..20")
    raws, parsed = _block_lines(blocks, "ingest_records")
    size, total = 1 << bits, sum(map(len, raws))
    consumed = good = taken = 0
    started = False
    for raw, entry in zip(raws, parsed, strict=True):
        at = first_id + good
        if at % size == 0 and started:
            started = False
            guess = consumed // max(taken, 1) * size
            if not final and total - consumed < guess + guess // 4:
                break
        consumed += len(raw)
        taken += 1
        if entry is not None:
            good += 1
            started = True
    entries = [e for e in parsed[:taken] if e is not None]
    bad = [(k, raw) for k, (raw, e) in enumerate(zip(raws[:taken], parsed, strict=False))
           if e is None and raw.strip()]
    gather(entries, first_id, canon, levels, sources, tags, words, None)
    chunks: list[Any] = []
    at = first_id
    while at < first_id + len(entries):
        stop = min((at // size + 1) * size, first_id + len(entries))
        part = entries[at - first_id : stop - first_id]
        data, offsets, kept = encode_records(part, tables)
        skip = at % size
        if skip:
            offsets = array("I", bytes(4 * skip)) + offsets
        keep = {pos + skip: part[pos] for pos in kept} if kept else None
        chunks.append((data, offsets, keep))
        at = stop
    return chunks, array("d", [e.ts for e in entries]), taken, bad, b"".join(raws[taken:])


# -- the time order --------------------------------------------------------------------------
def _check_store_ids(ids: Sequence[int], base: int, size: int) -> None:
    if ids and (min(ids) < base or max(ids) >= base + size):
        raise IndexError(f"id {min(ids) if min(ids) < base else max(ids)} is not in the store")


def split_ordered(
    first_id: int, stamps: list[float], top: float
) -> tuple[list[int], list[float], list[int]]:
    """The ids ``first_id, first_id + 1, ...`` of ``stamps`` whose instant is not below the
    running maximum (from ``top``) with their instants, and the other (late) ids. O(n)."""
    run_ids: list[int] = []
    run_keys: list[float] = []
    late: list[int] = []
    for i, k in zip(count(first_id), stamps):
        if k >= top:
            top = k
            run_ids.append(i)
            run_keys.append(k)
        else:
            late.append(i)
    return run_ids, run_keys, late


def time_order(
    in_order: Any, late: Any, ts: Any, base: int, entries: list[LogEntry] | None,
    descending: bool, start: int, stop: int,
) -> list[Any]:
    """Positions ``[start, stop)`` of the ids of ``in_order`` (ascending, already in time
    order) and ``late`` (ascending) in time order, ties in id order (reversed when
    ``descending``): entries when ``entries`` is the store's list, else ids. ``ts``: the
    instants from id ``base``. O(k + m log k) for m late ids, or O(k log k) when more than
    one id in 17 is late."""
    size = len(ts) if entries is None else min(len(ts), len(entries))
    _check_store_ids(in_order, base, size)
    _check_store_ids(late, base, size)
    key: Callable[[int], float] = ts.__getitem__ if base == 0 else (lambda i: ts[i - base])
    ordered: list[int] = list(in_order)
    if late:
        if len(late) * 16 > len(ordered):
            ordered = sorted(sorted(ordered + list(late)), key=key)  # ties: id order
        else:  # bisect_right keeps ties in id order: no in-order id ties a later late one
            for i in sorted(late, key=key):
                ordered.insert(bisect_right(ordered, key(i), key=key), i)
    if descending:
        ordered.reverse()
    k = len(ordered)
    start = min(max(start, 0), k)
    stop = min(max(stop, start), k)
    if start or stop < k:
        ordered = ordered[start:stop]
    if entries is None:
        return ordered
    if base == 0:
        return list(map(entries.__getitem__, ordered))
    return [entries[i - base] for i in ordered]


def filter_instants(ids: Any, ts: Any, base: int, lo: float, hi: float) -> array[int]:
    """The ``ids`` whose instant (``ts`` from id ``base``) lies in ``[lo, hi]``. O(k)."""
    _check_store_ids(ids, base, len(ts))
    return array("I", [i for i in ids if lo <= ts[i - base] <= hi])


# -- aggregation -----------------------------------------------------------------------------
def sorted_numbers(entries: list[LogEntry], field: str) -> array[float] | None:
    """``None``: the general path of ``query.aggregate.numeric_values`` computes the values
    (the C kernel takes only metadata fields whose values are all plain floats). O(1)."""
    return None


#: Ints up to this magnitude are exact in a float64 column; larger ones are "odd".
EXACT_INT = 1 << 53


def numeric_column(
    entries: list[LogEntry], field: str, first_id: int
) -> tuple[array[float], array[int], array[int]]:
    """The numeric column of metadata ``field`` over ``entries`` (ids from ``first_id``).

    ``(values, ints, odd)``: ``values`` holds one float64 per entry, NaN where the value does
    not count as a number for the metrics (missing, ``None``, a bool, text, a list, NaN);
    ``ints`` the ids whose value is an ``int`` (so ``min``/``max`` give it back as one);
    ``odd`` the ids whose value counts but a float64 cannot stand for it exactly (an int
    beyond 2**53, a subclass of int or float): NaN in ``values``, their groups take the
    entries' path. O(n)."""
    values = array("d")
    ints = array("I")
    odd = array("I")
    put = values.append
    for i, e in enumerate(entries, first_id):
        v: Any = e.metadata.get(field)
        t = type(v)
        if t is float:
            put(v)
        elif t is int:
            if -EXACT_INT <= v <= EXACT_INT:
                put(float(v))
                ints.append(i)
            else:
                put(nan)
                odd.append(i)
        else:
            put(nan)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                odd.append(i)
    return values, ints, odd


def numeric_records(
    data: bytes, offsets: Any, start: int, stop: int, tables: list[Any], field: str,
    kept: dict[int, LogEntry] | None, first_id: int,
) -> tuple[array[float], array[int], array[int]] | None:
    """:func:`numeric_column` of the entries at positions ``[start, stop)`` of a sealed
    chunk (ids from ``first_id``), read from their records (the C kernel builds no entry);
    ``None`` when a kept entry is not a plain ``LogEntry`` (the caller builds the entries).
    O(size of the records)."""
    if not 0 <= start <= stop <= len(offsets) - 1:
        raise IndexError("numeric_records: positions out of range")
    if kept and any(type(kept[p]) is not LogEntry for p in kept if start <= p < stop):
        return None
    entries = decode_records(data, offsets, array("I", range(start, stop)),
                             array("d", bytes(8 * len(offsets))), 0, tables, kept)
    return numeric_column(entries, field, first_id)


def gather_numbers(
    ids: Any, values: array[float], first: int, out: Any
) -> tuple[int, int, int]:
    """Write the numbers of ``ids`` (a uint32 buffer, any order, repeats kept) in the column
    ``values`` (from id ``first``), NaN left out, in the order of ``ids``, to ``out[:k]`` (a
    writable float64 buffer with room for every id); return ``k`` with the id of the first
    minimum and of the last maximum (as a stable sort would put them at the ends), -1 when
    there is none. ``IndexError`` for an id outside the column. O(k)."""
    _check_store_ids(ids, first, len(values))
    if len(out) < len(ids):
        raise ValueError("gather_numbers: out has no room for every id")
    k = 0
    lo = hi = 0.0
    lo_id = hi_id = -1
    for i in ids:
        v = values[i - first]
        if v != v:
            continue
        out[k] = v
        k += 1
        if lo_id < 0 or v < lo:
            lo, lo_id = v, i
        if hi_id < 0 or v >= hi:
            hi, hi_id = v, i
    return k, lo_id, hi_id


def summarize_numbers(
    values: Any, qs: Sequence[float], total: bool
) -> tuple[float | None, list[float]]:
    """``(math.fsum of values in ascending order or None, [the q-th percentile for q in
    qs])`` of a non-empty buffer of numbers without NaN, percentiles with linear
    interpolation as numpy's default (``query.aggregate.percentile``). ``values`` may be
    reordered. ``fsum``'s errors propagate (``OverflowError`` for an intermediate overflow,
    ``ValueError`` for inf + -inf). O(k log k) (the C kernel: O(k) by selection)."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        raise ValueError("summarize_numbers needs at least one value")
    out: list[float] = []
    for q in qs:
        if not 0.0 <= q <= 100.0:
            raise ValueError("a percentile lies in [0, 100]")
        if n == 1:
            out.append(float(ordered[0]))
            continue
        pos = (n - 1) * q / 100.0
        lo = floor(pos)
        hi = min(lo + 1, n - 1)
        out.append(float(ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)))
    return (fsum(ordered) if total else None), out


def count_values(entries: Any, field: str) -> dict[str, int] | None:
    """``None``: the general path of ``query.aggregate.field_counts`` counts with a
    ``Counter`` (the C kernel counts the few distinct values of ``level`` or ``source`` of
    exact entries in a small table). O(1)."""
    return None


# -- the storage codec -----------------------------------------------------------------------
def encode_chunk(
    entries: list[LogEntry], dumps: Callable[..., bytes], default: Callable[[Any], Any],
    option: int,
) -> tuple[bytes, bytes]:
    """``(instants as native float64 bytes, dumps([[timestamp, level, message, source,
    thread_id, request_id, user_id, tags, metadata], ...]))``: one stored chunk. O(size)."""
    stamps = array("d", [e.ts for e in entries]).tobytes()
    data = dumps(
        [[e.timestamp, e.level, e.message, e.source, e.thread_id, e.request_id, e.user_id,
          e.tags, e.metadata] for e in entries],
        default=default, option=option)
    return stamps, data


def entries_from_rows(
    rows: list[Any], stamps: list[float], canon: dict[str, str]
) -> list[LogEntry]:
    """Entries from the field arrays of a stored chunk and their instants, levels, sources
    and tags shared through ``canon``. ``ValueError`` for a row that is not 9 fields. O(k)."""
    if len(rows) != len(stamps):
        raise ValueError("one instant per entry")
    new = LogEntry.__new__
    out: list[LogEntry] = []
    append = out.append
    shared = canon.setdefault
    for ts, fields in zip(stamps, rows, strict=True):
        if type(fields) is not list or len(fields) != 9:
            raise ValueError("a stored entry is a JSON array of 9 fields")
        e = new(LogEntry)
        (e.timestamp, level, e.message, src, e.thread_id, e.request_id, e.user_id,
         tags, e.metadata) = fields
        e.level = shared(level, level)
        e.source = shared(src, src)
        e.tags = [shared(t, t) for t in tags] if tags else tags
        e.ts = ts
        append(e)
    return out


def entries_from_chunk(
    data: bytes, stamps: list[float], canon: dict[str, str]
) -> list[LogEntry] | None:
    """``None``: the general path (``orjson.loads`` and :func:`entries_from_rows`) decodes
    the chunk (the C kernel parses the common chunk directly). O(1)."""
    return None
