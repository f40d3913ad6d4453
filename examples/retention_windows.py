"""Retention windows: split entries into recent (keep hot) and archivable by event time."""

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.events.sample import generate_records
from log_analytics_engine.model.timeparse import format_instant

engine = LogAnalyticsEngine()
engine.ingest_logs(generate_records(5000, seed=11))

newest = engine.query_logs(sort_desc=True, page_size=1)[0].ts
cutoff = newest - 120  # keep the last two minutes of event time hot
recent = engine.count_logs({"start_time": cutoff})
archivable = engine.query_logs({"end_time": cutoff - 1e-6})
print(f"cutoff {format_instant(cutoff)}: {recent} recent, {len(archivable)} archivable")
print("archivable per hour:", engine.aggregate({"end_time": cutoff - 1e-6}, interval="1h"))
assert recent + len(archivable) == len(engine)
