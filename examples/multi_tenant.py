"""Multi-tenant logs: one engine, a tag per tenant, per-tenant queries and counts."""

from log_analytics_engine import LogAnalyticsEngine, LogEntry

engine = LogAnalyticsEngine()
tenants = {"acme": 40, "globex": 25, "initech": 10}
t0 = 1_753_092_000
for tenant, n in tenants.items():
    engine.ingest_logs(
        LogEntry(t0 + i, "ERROR" if i % 5 == 0 else "INFO", f"request {i} served",
                 source="api", tags=[f"tenant:{tenant}", "prod"])
        for i in range(n)
    )

for tenant in tenants:
    tag = f"tenant:{tenant}"
    total = engine.count_logs({"tags": tag})
    errors = engine.count_logs({"tags": tag, "level": "ERROR"})
    print(f"{tenant:<8} {total:>3} entries, {errors:>2} errors")

by_tag = engine.aggregate({"level": "ERROR"}, group_by="tags")
print("errors per tag:", by_tag)
assert engine.count_logs({"tags_all": ["tenant:acme", "prod"]}) == tenants["acme"]
