"""A segment's term index (``.terms``) read back: exactly what was written, and anything
else (a damaged or hostile file: on shared storage anything can be written) refused with a
ValueError before the allocation it asks for, while the archive answers by scanning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from log_analytics_engine import Archive, LogAnalyticsEngine, LogEntry  # noqa: E402
from log_analytics_engine.storage.archive_format import (  # noqa: E402
    SegmentTerms,
    entries_table,
)
from log_analytics_engine.storage.archive_writer import SegmentWriter  # noqa: E402

pytestmark = pytest.mark.property

_ENTRIES = [LogEntry(3600 * 5 + i, ("INFO", "ERROR")[i % 2], f"disk full {i}",
                     source=f"s{i % 3}", tags=["a"] if i % 2 else []) for i in range(20)]


def _valid() -> dict[str, Any]:
    terms = SegmentTerms.of_table(entries_table(_ENTRIES, list(range(len(_ENTRIES)))))
    data = terms.to_bytes()
    d: dict[str, Any] = orjson.loads(pa.decompress(data[8:], int.from_bytes(data[:8], "little"),
                                                   "zstd", asbytes=True))
    return d


def _file(d: Any) -> bytes:
    raw = orjson.dumps(d)
    return len(raw).to_bytes(8, "little") + pa.compress(raw, "zstd", asbytes=True)


def test_a_term_index_reads_back_as_written() -> None:
    terms = SegmentTerms.of_table(entries_table(_ENTRIES, list(range(len(_ENTRIES)))))
    assert SegmentTerms.from_bytes(terms.to_bytes()) == terms


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
                     | st.floats(allow_nan=False)
                     | st.text(max_size=3),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=6)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["v", "lo", "hi", "rows", "level", "source", "tag", "token", "numeric",
                        "counts"]), _JSON, st.booleans())
def test_a_changed_field_is_refused_or_read_with_its_types(key: str, value: Any,
                                                           drop: bool) -> None:
    d = _valid()
    if drop:
        d.pop(key)
    else:
        d[key] = value
    try:
        got = SegmentTerms.from_bytes(_file(d))
    except ValueError:
        return
    assert isinstance(got.lo, (int, float))
    assert isinstance(got.hi, (int, float))
    assert type(got.rows) is int
    assert got.rows >= 0
    for index in ("level", "source", "tag", "token", "numeric"):
        assert all(type(t) is str for t in getattr(got, index))
    for part in got.counts or ():
        assert all(type(k) is str and type(n) is int for k, n in part)


@settings(max_examples=300)
@given(st.binary(max_size=64), st.integers(0, 2**64 - 1))
def test_bytes_that_are_not_a_term_index_raise_value_error(body: bytes, size: int) -> None:
    with pytest.raises(ValueError):
        SegmentTerms.from_bytes(size.to_bytes(8, "little") + body)


_HOSTILE = {
    "a size of a terabyte": (1 << 40).to_bytes(8, "little") + b"(\xb5/\xfd" + b"\0" * 16,
    "a level that is a number": {"level": 5},
    "a word that is a list": {"token": [[1]]},
    "a span that is text": {"lo": "x"},
    "counts of text": {"counts": [[["INFO", "many"]], []]},
    "no version": {"v": None},
}


@pytest.mark.parametrize("hostile", list(_HOSTILE.values()), ids=list(_HOSTILE))
def test_an_archive_with_a_hostile_term_index_answers_by_scanning(tmp_path: Path,
                                                                  hostile: Any) -> None:
    with SegmentWriter(tmp_path) as writer:
        writer.write(_ENTRIES, list(range(len(_ENTRIES))))
    (path,) = tmp_path.rglob("*.terms")
    path.write_bytes(hostile if isinstance(hostile, bytes) else _file({**_valid(), **hostile}))
    engine = LogAnalyticsEngine()
    engine.ingest_logs(_ENTRIES)
    with Archive(tmp_path) as archive:
        assert archive.count_logs({"keyword": "disk"}) == 20
        assert archive.count_logs({"level": "ERROR"}) == engine.count_logs({"level": "ERROR"})
        assert archive.aggregate(group_by="level") == engine.aggregate(group_by="level")
        assert archive.aggregate(group_by="source") == engine.aggregate(group_by="source")
        got = archive.query_logs({"tags": ["a"]}, page_size=None)
        assert [e.to_dict() for e in got] == [
            e.to_dict() for e in engine.query_logs({"tags": ["a"]}, page_size=None)]
