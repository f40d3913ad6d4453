"""Ingest a JSONL file (with a bad line in it) and query it with filters, sorting and pages."""

import json
import os
import tempfile

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.events.sample import generate_records

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "app.jsonl")
    with open(path, "w") as fh:
        for i, record in enumerate(generate_records(5000, seed=7)):
            fh.write(json.dumps(record) + "\n")
            if i == 100:
                fh.write("{not json\n")  # a corrupted line: rejected, the rest is ingested

    engine = LogAnalyticsEngine(index_fields=["user_id"])
    report = engine.ingest_logs_from_file(path)
    print(f"ingested {report['count']} lines, rejected {report['errors']}: {report['rejected']}")

newest = engine.query_logs(sort_desc=True, page_size=1)[0]
window = {"start_time": newest.ts - 600, "end_time": newest.ts}
errors = engine.query_logs({**window, "min_severity": "ERROR"}, sort_desc=True)
print(f"{len(errors)} errors in the last 10 minutes of data")

page2 = engine.query_logs({"level": "INFO"}, page=2, page_size=20)
print("second page of INFO entries starts at", page2[0].timestamp)

slow = engine.aggregate({"level": ["ERROR", "FATAL"]}, group_by="source",
                        metrics=["count", "p95:latency_ms"])
top = sorted(slow.items(), key=lambda kv: -kv[1]["count"])[:3]
print("sources with most errors:", [(src, m["count"]) for src, m in top])

user = newest.metadata["user_id"]
print(f"entries of {user}:", engine.count_logs({"user_id": user}))
print("regex:", engine.count_logs({"regex": r"^error: .*timeout"}))
