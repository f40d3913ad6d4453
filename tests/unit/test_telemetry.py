"""Game-telemetry cleaning and KPIs, with the documented worked example."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from log_analytics_engine.errors import MissingExtraError
from log_analytics_engine.events.kpis import (
    TelemetryResult,
    build_raw_dataframe,
    clean_sessions,
    compute_kpis,
    run_telemetry_pipeline,
)

# The issue gives only the games, the ten minutes values and the KPIs, so the rest of each
# row is reconstructed to produce exactly those figures (min_minutes=5):
# * dropped while cleaning: s3 (None: missing), s4 ("0": non-positive), s6 ("abc":
#   unparseable); s8 (3 minutes) is below min_minutes. That leaves s1 34, s2 7.5, s5 15,
#   s7 52, s9 26, s10 11.
# * DungeonDive = s2 + s5 = 7.5 + 15 = 22.5 (avg 11.25): both must crash (rate 1.0);
#   FarmWorld = s7 + s10 = 52 + 11 = 63 (avg 31.5); SkyQuest = s1 + s9 = 34 + 26 = 60 (avg 30):
#   one crash each (rate 0.5).
# * The crash rule (ended_normally false AND a crash code) is exercised with messy types:
#   s1 "false" + code, s2 False + code, s5 0 + code, s7 "no" + code all crash; s9 is False but
#   has no code, s10 has a code but ended normally: neither crashes.
# * Regions (EU/NA/APAC) are chosen so the group_by="region" and allowed_regions tests below
#   have hand-computed figures too.
WORKED_EXAMPLE: list[dict[str, Any]] = [
    {"session_id": "s1", "game": "SkyQuest", "region": "EU", "minutes_played": "34",
     "ended_normally": "false", "crash_error_code": "E42"},
    {"session_id": "s2", "game": "DungeonDive", "region": "NA", "minutes_played": "7.5",
     "ended_normally": False, "crash_error_code": "E13"},
    {"session_id": "s3", "game": "FarmWorld", "region": "EU", "minutes_played": None,
     "ended_normally": True, "crash_error_code": None},
    {"session_id": "s4", "game": "SkyQuest", "region": "NA", "minutes_played": "0",
     "ended_normally": True, "crash_error_code": None},
    {"session_id": "s5", "game": "DungeonDive", "region": "EU", "minutes_played": "15",
     "ended_normally": 0, "crash_error_code": "E7"},
    {"session_id": "s6", "game": "DungeonDive", "region": "APAC", "minutes_played": "abc",
     "ended_normally": "True", "crash_error_code": None},
    {"session_id": "s7", "game": "FarmWorld", "region": "NA", "minutes_played": "52",
     "ended_normally": "no", "crash_error_code": "E99"},
    {"session_id": "s8", "game": "SkyQuest", "region": "EU", "minutes_played": 3,
     "ended_normally": True, "crash_error_code": None},
    {"session_id": "s9", "game": "SkyQuest", "region": "APAC", "minutes_played": "26",
     "ended_normally": False, "crash_error_code": None},
    {"session_id": "s10", "game": "FarmWorld", "region": "EU", "minutes_played": "11",
     "ended_normally": True, "crash_error_code": "E1"},
]


def test_worked_example_kpis_by_game() -> None:
    result = run_telemetry_pipeline(WORKED_EXAMPLE)
    assert result.kpis == {
        "DungeonDive": {"sessions": 2, "total_minutes": 22.5, "avg_minutes": 11.25,
                        "crash_rate": 1.0},
        "FarmWorld": {"sessions": 2, "total_minutes": 63.0, "avg_minutes": 31.5,
                      "crash_rate": 0.5},
        "SkyQuest": {"sessions": 2, "total_minutes": 60.0, "avg_minutes": 30.0,
                     "crash_rate": 0.5},
    }


def test_worked_example_rejected_rows_carry_reasons() -> None:
    result = run_telemetry_pipeline(WORKED_EXAMPLE)
    reasons = {r["session_id"]: r["reason"] for r in result.rejected}
    assert reasons == {"s3": "missing minutes_played",
                       "s4": "non-positive minutes_played '0'",
                       "s6": "unparseable minutes_played 'abc'",
                       "s8": "minutes_played 3 below 5"}


def test_worked_example_sessions_keep_input_order_with_crashed_flag() -> None:
    result = run_telemetry_pipeline(WORKED_EXAMPLE)
    assert [(s["session_id"], s["minutes_played"], s["crashed"]) for s in result.sessions] == [
        ("s1", 34.0, True), ("s2", 7.5, True), ("s5", 15.0, True), ("s7", 52.0, True),
        ("s9", 26.0, False), ("s10", 11.0, False)]


def test_kpis_by_region() -> None:
    result = run_telemetry_pipeline(WORKED_EXAMPLE, group_by="region")
    assert result.kpis["APAC"] == {"sessions": 1, "total_minutes": 26.0, "avg_minutes": 26.0,
                                   "crash_rate": 0.0}
    assert result.kpis["NA"] == {"sessions": 2, "total_minutes": 59.5, "avg_minutes": 29.75,
                                 "crash_rate": 1.0}
    assert result.kpis["EU"]["sessions"] == 3
    assert result.kpis["EU"]["crash_rate"] == pytest.approx(2 / 3)


def test_allowed_regions_keep_only_those_regions() -> None:
    result = run_telemetry_pipeline(WORKED_EXAMPLE, allowed_regions=["EU"])
    assert {g: (k["sessions"], k["total_minutes"]) for g, k in result.kpis.items()} == {
        "DungeonDive": (1, 15.0), "FarmWorld": (1, 11.0), "SkyQuest": (1, 34.0)}
    assert sum(r["reason"] == "region 'NA' not allowed" for r in result.rejected) == 2


def test_min_minutes_is_inclusive() -> None:
    result = run_telemetry_pipeline(WORKED_EXAMPLE, min_minutes=15)
    assert [s["session_id"] for s in result.sessions] == ["s1", "s5", "s7", "s9"]


def test_clean_sessions_without_threshold_keeps_every_positive_row() -> None:
    kept, rejected = clean_sessions(WORKED_EXAMPLE)
    assert len(kept) == 7
    assert len(rejected) == 3


def test_non_object_rows_are_rejected() -> None:
    kept, rejected = clean_sessions([["s1", 5]])  # type: ignore[list-item]
    assert kept == []
    assert rejected == [{"row": ["s1", 5], "reason": "not an object"}]


def test_invalid_session_time_is_rejected() -> None:
    kept, rejected = clean_sessions([{"game": "G", "minutes_played": 9, "timestamp": "nope"}])
    assert kept == []
    assert "timestamp" in rejected[0]["reason"]


def test_crash_needs_a_non_empty_code() -> None:
    kept, _ = clean_sessions([{"minutes_played": 9, "ended_normally": "false",
                               "crash_error_code": "  "}])
    assert kept[0]["crashed"] is False


def test_compute_kpis_of_no_sessions_is_empty() -> None:
    assert compute_kpis([]) == {}


def test_compute_kpis_accepts_filters() -> None:
    kept, _ = clean_sessions(WORKED_EXAMPLE, min_minutes=5)
    assert list(compute_kpis(kept, filters={"region": "APAC"})) == ["SkyQuest"]


def test_missing_group_field_groups_under_none() -> None:
    kpis = compute_kpis([{"minutes_played": 10.0, "crashed": False}], group_by="game")
    assert kpis == {None: {"sessions": 1, "total_minutes": 10.0, "avg_minutes": 10.0,
                           "crash_rate": 0.0}}


def test_build_raw_dataframe_has_typed_columns() -> None:
    pd = pytest.importorskip("pandas")
    frame = build_raw_dataframe(WORKED_EXAMPLE)
    assert frame["minutes_played"].dtype == "float64"
    assert frame["minutes_played"].isna().tolist() == [
        False, False, True, False, False, True, False, False, False, False]
    assert str(frame["ended_normally"].dtype) == "boolean"
    assert frame["ended_normally"].tolist()[:3] == [False, False, True]
    assert isinstance(frame["game"].dtype, pd.StringDtype)


def test_to_pandas_gives_kpi_and_session_frames() -> None:
    pytest.importorskip("pandas")
    kpi, sessions = run_telemetry_pipeline(WORKED_EXAMPLE).to_pandas()
    assert kpi.loc["FarmWorld", "total_minutes"] == 63.0
    assert kpi.index.name == "game"
    assert len(sessions) == 6


def test_to_pandas_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match=r"\[pandas\]"):
        TelemetryResult({}, [], []).to_pandas()
    with pytest.raises(ImportError):
        build_raw_dataframe([])


def test_selection_does_not_depend_on_entry_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    # Entries are built on demand: two reads give distinct objects (and a freed one's id()
    # may be taken by another row's). Selection is by position, so it holds when every read
    # returns fresh copies.
    import copy

    from log_analytics_engine.events.table import EventTable

    read = EventTable.entries
    alive: list[Any] = []

    def fresh(self: EventTable, filters: Any = None) -> list[Any]:
        got = [copy.copy(e) for e in read(self, filters)]
        alive.append(got)  # kept alive: no address is reused
        return got

    monkeypatch.setattr(EventTable, "entries", fresh)
    rows = [{"session_id": str(i), "game": "G", "minutes_played": 1.0 + i, "timestamp": 0}
            for i in range(50)]
    rows[37]["region"] = "EU"
    rows[3]["minutes_played"] = 0.5
    kept, rejected = clean_sessions(rows, min_minutes=1, allowed_regions=["EU"])
    assert [r["session_id"] for r in kept] == ["37"]
    assert [r["reason"] for r in rejected if r["session_id"] == "3"] == [
        "minutes_played 0.5 below 1"]
