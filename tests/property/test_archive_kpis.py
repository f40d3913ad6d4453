"""Game KPIs over the archive (``Archive.kpis``) equal the telemetry pipeline's
(:func:`~log_analytics_engine.events.kpis.compute_kpis` after ``clean_sessions``) for random
messy session rows, thresholds and allowed regions, on DuckDB and (a smaller budget) on
Spark. With text group values the two aggregations must run in SQL (the minutes threshold
and the regions compile exactly; no entry is pulled back to be aggregated in Python).
"""

from __future__ import annotations

import tempfile
from typing import Any
from unittest import mock

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from log_analytics_engine import Archive
from log_analytics_engine.events.kpis import _entry, clean_sessions, compute_kpis
from log_analytics_engine.storage import archive_reader
from log_analytics_engine.storage.archive_writer import SegmentWriter

pytestmark = pytest.mark.property

rows = st.lists(st.fixed_dictionaries(
    {"session_id": st.text(max_size=3),
     "game": st.sampled_from(("SkyQuest", "Ünïcode", "", "G")),
     "minutes_played": st.one_of(st.floats(-5, 300, allow_nan=False), st.integers(-2, 90),
                                 st.sampled_from(("34", "1.5", "abc", "", None))),
     "timestamp": st.integers(1_700_000_000, 1_700_200_000)},
    optional={"region": st.sampled_from(("EU", "US", "APAC")),
              "ended_normally": st.sampled_from((True, False, "false", "yes", None)),
              "crash_error_code": st.sampled_from(("E42", "", " ", None))}), max_size=40)
selection = st.tuples(st.sampled_from((None, 0.5, 5, 30)),
                      st.sampled_from((None, ["EU"], ["EU", "US"])),
                      st.sampled_from(("game", "region")))


def _archive(kept: list[dict[str, Any]], folder: str, cut: int) -> None:
    entries = [_entry(r) for r in kept]
    writer = SegmentWriter(folder)
    cut = min(cut, len(entries))
    for lo, hi in ((0, cut), (cut, len(entries))):
        if lo < hi:
            writer.write(entries[lo:hi], range(lo, hi))


def _want(raw: list[dict[str, Any]], min_minutes: Any, regions: Any,
          group_by: str) -> dict[Any, Any]:
    selected, _ = clean_sessions(raw, min_minutes, regions)
    return compute_kpis(selected, group_by)


@settings(max_examples=examples(0.5))
@given(rows, selection, st.integers(0, 40))
def test_archive_kpis_equal_the_pipelines(raw, chosen, cut) -> None:
    min_minutes, regions, group_by = chosen
    kept, _ = clean_sessions(raw)
    with tempfile.TemporaryDirectory() as folder:
        _archive(kept, folder, cut)
        with Archive(folder) as archive, \
                mock.patch.object(archive_reader, "ScratchTable",
                                  side_effect=AssertionError("aggregated in Python")):
            # the filters compile exactly, the groups are text: both aggregations in SQL
            got = archive.kpis(group_by=group_by, min_minutes=min_minutes,
                               allowed_regions=regions)
    assert list(got.items()) == list(_want(raw, min_minutes, regions, group_by).items())


@settings(max_examples=examples(0.12), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=rows, chosen=selection)
def test_spark_kpis_equal_the_pipelines(spark: Any, raw: list[dict[str, Any]],
                                        chosen: Any) -> None:
    min_minutes, regions, group_by = chosen
    kept, _ = clean_sessions(raw)
    with tempfile.TemporaryDirectory() as folder:
        _archive(kept, folder, len(kept) // 2)
        with Archive(folder, executor="spark", spark=spark) as archive:
            got = archive.kpis(group_by=group_by, min_minutes=min_minutes,
                               allowed_regions=regions)
    assert list(got.items()) == list(_want(raw, min_minutes, regions, group_by).items())


def test_a_bad_group_field_is_a_value_error(tmp_path: Any) -> None:
    with Archive(tmp_path) as archive, pytest.raises(ValueError, match="group_by"):
        archive.kpis(group_by="")
