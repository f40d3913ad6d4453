"""Fuzz the C parsers against their Python reference for a fixed time budget.

Run: ``python tests/differential/fuzz_parser.py [--seconds 60] [--seed N]`` (``.ci/sanitize``
runs it under AddressSanitizer and UndefinedBehaviorSanitizer). Lines of the sample corpus
and hand-written odd lines are mutated (bytes flipped, inserted, deleted, duplicated,
spliced, truncated) or replaced by random bytes and random JSON, then fed to

* ``entries_from_lines`` and ``direct_entry`` (JSON lines -> entries),
* ``ingest_blocks`` (the same lines cut into blocks at random points, with postings) and
  ``entries_from_blocks`` (those blocks, without),
* ``archive_columns`` (those lines as one block of whole lines, into the archive's column
  buffers) and ``word_lists_utf8`` (the words of its message column),
* ``ingest_records`` (those blocks into records, chunk bits, first ids and table states
  drawn at random),
* ``entries_from_chunk`` (mutated stored chunks),
* ``parse_iso`` (mutated timestamps),
* ``encode_records`` (same records and tables as Python) and ``decode_records`` of mutated
  records (entries or ValueError/IndexError, never a crash),

of the C extension and of ``log_analytics_engine._native.python``. Any difference prints the
input and exits with status 1; a sanitizer report aborts the process (non-zero status too).
Exits with status 2 when the C extension is not built.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from array import array
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import orjson

from log_analytics_engine import _native as native
from log_analytics_engine.events.sample import generate_records
from log_analytics_engine.model.entry import LogEntry
from log_analytics_engine.model.timeparse import fast_instant
from log_analytics_engine.storage.codec import OPTIONS, default, dumps

_SLOTS = ("timestamp", "ts", "level", "message", "source", "thread_id", "request_id",
          "user_id", "tags", "metadata")

_ODD = [
    b"", b" ", b"{", b"}", b"[]", b"null", b'"x"', b"{}", b'{"timestamp": null}',
    b'{"timestamp":"2025-07-20T08:26:40Z","message":"\\u00e9\\ud83d\\ude00 \\"q\\" \\\\ \\/"}',
    b'{"timestamp":"2025-07-20T08:26:40Z","message":"\\ud800"}',
    b'{"timestamp":"2025-07-20T08:26:40Z","metadata":{"a":{"b":[1,2]},"c":1e999}}',
    b'{"timestamp":"2025-07-20T08:26:40.1234567+05:30","level":"warning","tags":null}',
    b'{"timestamp":"2025-02-29T00:00:00Z"}', b'{"timestamp":"2024-02-29 23:59:59-0800"}',
    b'{"timestamp":1753000000,"level":"CRITICAL","source":null,"user_id":null}',
    b'{"timestamp":"2025-07-20T08:26:40Z","metadata":{"n":-0,"f":-0.0,"big":123456789012345678'
    b'9,"e":1.5E-7,"x":4.9e-324,"y":1.7976931348623157e308}}',
    b'{"timestamp":"2025-07-20T08:26:40Z","timestamp":"2025-07-20T08:26:41Z"}',
    b'{"timestamp":"2025-07-20T08:26:40Z","extra":1,"ts":2}',
    b'{"timestamp":"2025-07-20T08:26:40Z","message":"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"}',
    b'{"timestamp":"\xff2025-07-20"}',
]
_TOKENS = [b'"', b"\\", b"{", b"}", b"[", b"]", b",", b":", b" ", b"\t", b"\r", b"\n", b"\x00",
           b"\x1f", b"\x7f", b"\xff", b"\xc3", b"\xe9", b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\\u",
           b"\\ud800", b"\\udc00", b"\\u0000", b"e", b"E", b"-", b"+", b".", b"0", b"9",
           b"null", b"true", b"false", b"1e400", b"99999999999999999999", b"-0", b"NaN",
           b'"level":', b'"tags":', b'"metadata":', b'"timestamp":', b'"message":',
           b"INFO", b"warn", b"Z", b"T", b"+05:30", b"2025-07-20"]
_KEYS = ["timestamp", "level", "message", "source", "thread_id", "request_id", "user_id",
         "tags", "metadata", "ts", "x"]


def _corpus() -> list[bytes]:
    records = generate_records(300, seed=7)
    lines = [orjson.dumps(r) for r in records[:150]]
    lines += [json.dumps(r, indent=None, separators=(", ", ": ")).encode() for r in records[150:]]
    return lines + _ODD


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 2 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 7, 2**53 + 1, -(2**63), 2**64, 10**25])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1.5, 1e-7, 1e300, -2.5e-308, 0.1, 123456.789])
    if kind in (4, 5):
        return "".join(rng.choice("aZ9_ -é日\"\\\n\x01😀") for _ in range(rng.randrange(8)))
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(_KEYS): _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _random_line(rng: random.Random) -> bytes:
    if rng.random() < 0.2:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    record: dict[str, Any] = {k: _random_value(rng) for k in rng.sample(_KEYS, rng.randrange(6))}
    if rng.random() < 0.8:
        record["timestamp"] = rng.choice([
            "2025-07-20T08:26:40Z", "2025-07-20 08:26:40.5+02:00", "2025-07-20", 1753000000,
            "2025-13-40T99:99:99Z", "", "21/Jul/2025:12:00:00 +0000"])
    if rng.random() < 0.5:
        record["level"] = rng.choice(["INFO", "warn", "Error", "bogus", None, 3])
    text = json.dumps(record, ensure_ascii=rng.random() < 0.5)
    return text.encode("utf-8", errors="surrogatepass")


def _mutate(rng: random.Random, line: bytes, corpus: list[bytes]) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(7)
        at = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip a byte
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif op == 1:  # insert an interesting token
            data[at:at] = rng.choice(_TOKENS)
        elif op == 2 and data:  # delete a range
            del data[at:at + rng.randrange(1, 8)]
        elif op == 3 and data:  # duplicate a range
            data[at:at] = data[at:at + rng.randrange(1, 16)]
        elif op == 4:  # splice with another line
            other = rng.choice(corpus)
            data = data[:at] + other[rng.randrange(len(other) + 1):]
        elif op == 5:  # truncate
            del data[at:]
        else:  # a long run of digits or escapes
            data[at:at] = rng.choice([b"9", b"\\n", b"\xc3\xa9", b" "]) * rng.randrange(1, 300)
    return bytes(data)


def _same(got: LogEntry | None, want: LogEntry | None) -> bool:
    if got is None or want is None:
        return got is want
    if type(got) is not type(want):
        return False
    for name in _SLOTS:
        a, b = getattr(got, name), getattr(want, name)
        if type(a) is not type(b) or a != b:
            return False
    return repr(got.metadata) == repr(want.metadata) and repr(got.tags) == repr(want.tags) and \
        repr(got.ts) == repr(want.ts)


class Difference(Exception):
    pass


def _check(ok: bool, what: str, data: Any) -> None:
    if not ok:
        raise Difference(f"{what}: {data!r}")


def _postings(terms: tuple[dict[str, Any], ...]) -> list[dict[str, list[int]]]:
    return [{t: sorted(set(ids)) for t, ids in d.items()} for d in terms]


def check_lines(c: Any, lines: list[bytes], rng: random.Random, taken: dict[str, int]) -> None:
    """entries_from_lines, direct_entry, ingest_blocks and entries_from_blocks of ``lines``:
    C == Python."""
    py = native.python
    got, got_bad = c.entries_from_lines(lines)
    want, want_bad = py.entries_from_lines(lines)
    _check(got_bad == want_bad and len(got) == len(want), "entries_from_lines counts", lines)
    for line, g, w in zip(lines, got, want, strict=True):
        _check(_same(g, w), "entries_from_lines", line)
        direct = c.direct_entry(line)
        _check(direct is None or _same(direct, w), "direct_entry", line)
        taken["entries"] += w is not None
        taken["direct"] += direct is not None
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    data += rng.choice([b"", b"\n"])
    cuts = sorted({0, len(data), *(rng.randrange(len(data) + 1) for _ in range(rng.randrange(4)))})
    blocks = [data[a:b] for a, b in pairwise(cuts)]
    first_id = rng.choice([0, 1, 2**31, 2**32 - len(data) - 2]) if data else 0
    fast_terms: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    slow_terms: tuple[dict[str, Any], ...] = ({}, {}, {}, {})
    fast = c.ingest_blocks(blocks, first_id, {}, *fast_terms)
    slow = py.ingest_blocks(blocks, first_id, {}, *slow_terms)
    _check(fast[1:] == slow[1:] and len(fast[0]) == len(slow[0]), "ingest_blocks", blocks)
    _check(all(_same(g, w) for g, w in zip(fast[0], slow[0], strict=True)), "ingest_blocks",
           blocks)
    _check(_postings(fast_terms) == _postings(slow_terms), "ingest_blocks postings", blocks)
    plain = c.entries_from_blocks(blocks)
    _check(plain[1:] == slow[1:] and len(plain[0]) == len(slow[0]) and
           all(_same(g, w) for g, w in zip(plain[0], slow[0], strict=True)),
           "entries_from_blocks", blocks)
    check_archive_columns(c, data, taken)
    check_ingest_records(c, blocks, rng, taken)


def _texts(buffers: tuple[bytes, bytes, bytes | None], rows: int) -> list[str | None]:
    """The values of an Arrow string column's buffers (the first ``rows``)."""
    offsets, data, valid = buffers
    off = array("i")
    off.frombytes(offsets[: 4 * (rows + 1)])
    return [None if valid is not None and not valid[i >> 3] >> (i & 7) & 1
            else data[off[i]:off[i + 1]].decode() for i in range(rows)]


def _archive_rows(result: Any) -> Any:
    """archive_columns' result as plain values (buffers may be longer than the rows)."""
    if result is None:
        return None
    rows, count, bad, (instants, texts, tags, fields) = result
    stamps = array("d")
    stamps.frombytes(instants[: 8 * rows])
    list_offsets, offsets, data = tags
    lo = array("i")
    lo.frombytes(list_offsets[: 4 * (rows + 1)])
    flat = _texts((offsets, data, None), len(offsets) // 4 - 1)
    numbers = []
    for name, kinds, values in fields:
        v = array("d")
        v.frombytes(values[: 8 * rows])
        numbers.append((name, [(k, repr(x) if k == 1 else None)
                               for k, x in zip(kinds[:rows], v, strict=True)]))
    return (rows, count, bad, [repr(x) for x in stamps], [_texts(t, rows) for t in texts],
            [flat[lo[i]:lo[i + 1]] for i in range(rows)], numbers)


def check_archive_columns(c: Any, data: bytes, taken: dict[str, int]) -> None:
    """archive_columns of the lines as one block, and word_lists_utf8 of its messages."""
    outcomes = []
    for kernel in (c.archive_columns, native.python.archive_columns):
        try:
            outcomes.append(_archive_rows(kernel([data], dumps)))
        except (TypeError, ValueError) as exc:
            outcomes.append(type(exc))
    _check(outcomes[0] == outcomes[1], "archive_columns", data)
    got = c.archive_columns([data], dumps) if isinstance(outcomes[0], tuple) else None
    if got is None:
        return
    taken["archive rows"] += got[0]
    offsets, text, _ = got[3][1][4]  # the message column
    _check(c.word_lists_utf8(offsets, text, 0, got[0]) ==
           native.python.word_lists_utf8(offsets, text, 0, got[0]), "word_lists_utf8", data)


def same_record_chunks(got: list[Any], want: list[Any]) -> bool:
    """Chunks of records alike: the same bytes and offsets, equal kept entries."""
    if len(got) != len(want):
        return False
    for (gd, go, gk), (wd, wo, wk) in zip(got, want, strict=True):
        if gd != wd or go != wo or (gk is None) != (wk is None):
            return False
        if gk is not None and (gk.keys() != wk.keys() or
                               not all(_same(gk[p], wk[p]) for p in gk)):
            return False
    return True


def check_ingest_records(c: Any, blocks: list[bytes], rng: random.Random,
                         taken: dict[str, int]) -> None:
    """ingest_records of ``blocks``: C == Python (records, instants, lines, rest, tables and
    postings), on tables that start empty or already hold strings."""
    from log_analytics_engine._native import records as spec

    total = sum(map(len, blocks))
    first_id = rng.choice([0, 3, 1023, 2**31 + 5, max(0, 2**32 - total - 2)])
    bits, final = rng.choice([1, 2, 3, 10]), rng.random() < 0.5
    tables = [spec.new_tables((4, 64, 0)) for _ in range(2)]
    if rng.random() < 0.5:  # tables that already hold a few strings
        for t in tables:
            c.encode_records(native.python.entries_from_lines(
                [b'{"timestamp":"2025-07-20T08:26:40Z","source":"api","message":"a b"}'] * 2)[0],
                t)
    terms: list[tuple[dict[str, Any], ...]] = [({}, {}, {}, {}), ({}, {}, {}, {})]
    fast = c.ingest_records(blocks, first_id, {}, *terms[0], tables[0], bits, final)
    slow = native.python.ingest_records(blocks, first_id, {}, *terms[1], tables[1], bits, final)
    _check(fast[2:] == slow[2:], "ingest_records lines, bad, rest", blocks)
    _check([repr(x) for x in fast[1]] == [repr(x) for x in slow[1]], "ingest_records stamps",
           blocks)
    _check(same_record_chunks(fast[0], slow[0]), "ingest_records chunks", blocks)
    _check(all(x[:5] == y[:5] for x, y in zip(*tables, strict=True)), "ingest_records tables",
           blocks)
    _check(_postings(terms[0]) == _postings(terms[1]), "ingest_records postings", blocks)
    taken["record batches"] += 1


def check_chunk(c: Any, entries: list[LogEntry], rng: random.Random, taken: dict[str, int]
                ) -> None:
    """entries_from_chunk of a (mutated) stored chunk: when C takes it, orjson and the Python
    row decoder build the same entries."""
    _, data = native.python.encode_chunk(entries, orjson.dumps, default, OPTIONS)
    if rng.random() < 0.7:
        data = _mutate(rng, data, [data])
    stamps = [rng.choice([0.0, 1.5, -1e9]) for _ in range(len(entries) + rng.choice([0, 0, 1]))]
    got = c.entries_from_chunk(data, stamps, {})
    taken["chunks"] += 1
    if got is None:
        return
    taken["direct chunks"] += 1
    try:
        rows = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise Difference(f"entries_from_chunk took what orjson rejects: {data!r}") from None
    _check(type(rows) is list and len(rows) == len(stamps), "entries_from_chunk count", data)
    want = native.python.entries_from_rows(rows, stamps, {})
    _check(len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want, strict=True)),
           "entries_from_chunk", data)


def check_records(c: Any, entries: list[LogEntry], rng: random.Random,
                  taken: dict[str, int]) -> None:
    """encode_records equals the specification; decoding mutated records stays in bounds."""
    from array import array

    from log_analytics_engine._native import records as spec

    limits = (rng.choice([0, 4, 1 << 16]), rng.choice([0, 4, 1 << 18]), rng.choice([0, 4]))
    tc, tp = spec.new_tables(limits), spec.new_tables(limits)
    got, want = c.encode_records(entries, tc), spec.encode_records(entries, tp)
    _check(got[0] == want[0] and got[1] == want[1] and got[2] == want[2], "encode_records",
           entries)
    _check(all(x[:5] == y[:5] for x, y in zip(tc, tp, strict=True)), "records tables", entries)
    data, offsets, kept = want
    taken["records"] += 1
    if rng.random() < 0.8:
        data = _mutate(rng, data, [data])
    ts = array("d", [e.ts for e in entries])
    positions = array("I", range(len(entries)))
    try:
        back = c.decode_records(data, offsets, positions, ts, 0, tp,
                                {p: entries[p] for p in kept} or None)
    except (ValueError, IndexError):
        return
    _check(len(back) == len(entries), "decode_records count", data)


def check_iso(c: Any, text: str, taken: dict[str, int]) -> None:
    got = c.parse_iso(text)
    taken["timestamps"] += 1
    if got is None:
        return
    taken["parsed timestamps"] += 1
    try:
        want = fast_instant(text)
    except ValueError:
        raise Difference(f"parse_iso took what the Python parser rejects: {text!r}") from None
    _check(got == want, "parse_iso", text)


def run(seconds: float, seed: int, log: Callable[[str], None]) -> int:
    c = native.speedups
    if c is None:
        log("the C extension is not built (or LOG_ANALYTICS_PURE_PYTHON is set)")
        return 2
    rng = random.Random(seed)
    corpus = _corpus()
    stamps = ["2025-07-20T08:26:40.065Z", "2025-07-20 08:26:40+02:00", "2024-02-29T23:59:59",
              "2025-07-20T08:26", "1999-12-31T23:59:59.999999-0800"]
    deadline = time.monotonic() + seconds
    batches = lines = 0
    taken = dict.fromkeys(["entries", "direct", "archive rows", "chunks", "direct chunks",
                           "records", "record batches", "timestamps", "parsed timestamps"], 0)
    try:
        while time.monotonic() < deadline:
            batch = []
            for _ in range(rng.randrange(1, 60)):
                pick = rng.random()
                if pick < 0.6:
                    batch.append(_mutate(rng, rng.choice(corpus), corpus))
                elif pick < 0.85:
                    batch.append(_random_line(rng))
                else:
                    batch.append(rng.choice(corpus))
            check_lines(c, batch, rng, taken)
            parsed = [e for e in native.python.entries_from_lines(batch)[0] if e is not None]
            if parsed:
                check_chunk(c, parsed[: rng.randrange(1, 30)], rng, taken)
                check_records(c, parsed[: rng.randrange(1, 30)], rng, taken)
            for _ in range(5):
                text = _mutate(rng, rng.choice(stamps).encode(), [b"Z", b"+00:00"])
                check_iso(c, text.decode("latin-1"), taken)
            batches += 1
            lines += len(batch)
    except Difference as exc:
        log(f"DIFFERENCE (seed {seed}, after {batches} batches): {exc}")
        return 1
    log(f"fuzz_parser: {batches} batches, {lines} lines in {seconds:.0f} s (seed {seed}): "
        "C and Python agree; " + ", ".join(f"{k} {v}" for k, v in taken.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    return run(args.seconds, seed, lambda text: print(text, flush=True))


if __name__ == "__main__":
    sys.exit(main())
