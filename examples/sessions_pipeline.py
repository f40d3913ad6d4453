"""Sessions: validate app events, pair start/end per user and feature, read the metrics.

Also runs the JSONL pipeline (what ``log-analytics pipeline`` does) on a generated file.
"""

import os
import tempfile

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.events.pipeline import run_pipeline, write_event_jsonl
from log_analytics_engine.events.sessions import format_duration
from log_analytics_engine.events.validation import EventSchema

events = [
    {"user_id": "ana", "feature": "search", "timestamp": "2025-07-21T10:00:00Z",
     "action": "start", "premium": "yes"},
    {"user_id": "ana", "feature": "search", "timestamp": "2025-07-21T11:05:30Z",
     "action": "end"},
    # out of order: this end arrives before its start, and still pairs by event time
    {"user_id": "bo", "feature": "checkout", "timestamp": "2025-07-21T10:12:00Z",
     "action": "end"},
    {"user_id": "bo", "feature": "checkout", "timestamp": "2025-07-21T10:10:00Z",
     "action": "start"},
    {"user_id": "bo", "feature": "search", "timestamp": "2025-07-21T10:20:00Z",
     "action": "start"},  # never ends: incomplete
    {"user_id": "bo", "feature": "search", "timestamp": "2025-07-21T10:21:00Z",
     "action": "pause"},  # rejected: not an allowed action
    {"user_id": "cy", "feature": "video", "timestamp": "yesterday", "action": "start"},
]

engine = LogAnalyticsEngine()
schema = EventSchema(coerce={"premium": "bool"})
ingested, errors = engine.ingest_events(events, schema=schema)
print(f"ingested {ingested} events, rejected {len(errors)}:")
for error in errors:
    print(f"  record {error.line}: {error.reason}")

result = engine.sessions()
print(f"\n{result.complete_count} complete sessions, {len(result.incomplete)} incomplete")
for s in result.complete:
    print(f"  {s.key}: {format_duration(s.duration)}")
for inc in result.incomplete:
    print(f"  incomplete {inc.key}: {inc.reason}")
for feature, m in result.by_feature.items():
    print(f"  {feature}: {m['sessions']} sessions, avg {format_duration(m['avg_duration_s'])}")

# the same pairing restricted by an ordinary filter
morning = engine.sessions({"end_time": "2025-07-21T10:30:00Z"})
print("before 10:30:", [s.key for s in morning.complete])
assert result.by_user["ana"]["total_duration_s"] == 3930

with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "events.jsonl")
    write_event_jsonl(src, 5000, seed=1)
    run = run_pipeline(src, os.path.join(tmp, "out"))
    print("\npipeline:", run.parsed.stats(), run.final_summary["sessions"])
