"""Numbers for a dashboard: engine stats as JSON and metrics in Prometheus text format."""

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.events.sample import generate_records

engine = LogAnalyticsEngine()
engine.ingest_logs(generate_records(2000, seed=3))

stats = engine.export_metrics_json()  # a dict, ready for json.dumps
print("total:", stats["total_logs"], "levels:", stats["levels"])
print("per-minute counts by level (last 3 buckets):")
histogram = engine.aggregate(group_by="level", interval="1m")
for key in list(histogram)[-3:]:
    print("  ", key, histogram[key]["count"])

text = engine.export_metrics_prometheus()
print("\n".join(text.splitlines()[:12]))
assert "# TYPE log_analytics_ingested_entries_total counter" in text
