"""Basic usage: create an engine, ingest a few entries, query and count them."""

from log_analytics_engine import LogAnalyticsEngine, LogEntry

engine = LogAnalyticsEngine()
engine.ingest_logs(
    [
        LogEntry("2025-07-21T10:00:00Z", "INFO", "user login ok", source="auth", user_id="u1"),
        LogEntry("2025-07-21T10:00:05Z", "WARNING", "slow query on orders", source="db"),
        LogEntry("2025-07-21T10:00:09Z", "ERROR", "payment gateway timeout", source="billing",
                 tags=["payments", "prod"], metadata={"latency_ms": 5012}),
        LogEntry("2025-07-21T10:00:12Z", "error", "db connection refused", source="db"),
    ]
)

print("entries:", len(engine))
print("errors:", engine.count_logs({"level": "ERROR"}))
for entry in engine.query_logs({"min_severity": "WARN"}, sort_desc=True):
    print(" ", entry.summary())
print("by level:", engine.aggregate(group_by="level"))
assert engine.count_logs({"keyword": "timeout", "tags": "payments"}) == 1
