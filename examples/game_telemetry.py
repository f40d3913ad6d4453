"""Game telemetry: clean messy session rows and compute KPIs per game and per region."""

from log_analytics_engine.events.kpis import run_telemetry_pipeline

raw = [
    {"session_id": "s1", "game": "SkyQuest", "region": "EU", "minutes_played": "34",
     "ended_normally": "false", "crash_error_code": "E42"},
    {"session_id": "s2", "game": "DungeonDive", "region": "NA", "minutes_played": "7.5",
     "ended_normally": False, "crash_error_code": "E13"},
    {"session_id": "s3", "game": "FarmWorld", "region": "EU", "minutes_played": None},
    {"session_id": "s4", "game": "SkyQuest", "region": "NA", "minutes_played": "0"},
    {"session_id": "s5", "game": "DungeonDive", "region": "EU", "minutes_played": "15",
     "ended_normally": 0, "crash_error_code": "E7"},
    {"session_id": "s6", "game": "DungeonDive", "region": "APAC", "minutes_played": "abc"},
    {"session_id": "s7", "game": "FarmWorld", "region": "NA", "minutes_played": "52",
     "ended_normally": "no", "crash_error_code": "E99"},
    {"session_id": "s8", "game": "SkyQuest", "region": "EU", "minutes_played": 3},
    {"session_id": "s9", "game": "SkyQuest", "region": "APAC", "minutes_played": "26",
     "ended_normally": False},
    {"session_id": "s10", "game": "FarmWorld", "region": "EU", "minutes_played": "11",
     "ended_normally": True, "crash_error_code": "E1"},
]

result = run_telemetry_pipeline(raw, min_minutes=5)
print("KPIs by game:")
for game, k in result.kpis.items():
    print(f"  {game:<12} {k['sessions']} sessions  {k['total_minutes']:>6} min total  "
          f"{k['avg_minutes']:>6} avg  crash rate {k['crash_rate']:.0%}")
print("rejected:")
for row in result.rejected:
    print(f"  {row['session_id']}: {row['reason']}")

by_region = run_telemetry_pipeline(raw, group_by="region", allowed_regions=["EU", "NA"])
print("KPIs by region (EU and NA only):", by_region.kpis)
assert result.kpis["DungeonDive"]["total_minutes"] == 22.5

try:
    kpi_frame, sessions_frame = result.to_pandas()
    print(kpi_frame)
except ImportError as exc:  # the pandas extra is not installed
    print(exc)
