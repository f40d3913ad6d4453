"""Durable storage and retention: restart without losing a log, keep memory bounded.

The engine keeps a crash-safe copy in SQLite (WAL mode), rebuilds its indexes when it is
opened again, and evicts the oldest entries into hourly gzip JSONL archives.
"""

import os
import shutil
import tempfile

from log_analytics_engine import AlertRule, LogAnalyticsEngine, Retention
from log_analytics_engine.events.sample import generate_records

workdir = tempfile.mkdtemp(prefix="lae-durable-")
db = os.path.join(workdir, "data", "logs.db")
archive = os.path.join(workdir, "archive")
records = generate_records(6000, seed=5)

# 1. Ingest with durable storage ("batch": committed every 10,000 entries or 200 ms, and on
#    flush()/close()). Retention keeps at most 5,000 entries; the rest go to the archive.
policy = Retention(max_entries=5000, archive_dir=archive, archive_format="jsonl")
with LogAnalyticsEngine(storage=db, retention=policy) as engine:
    engine.add_alert_rule(AlertRule("errors", conditions={"level": "ERROR"}, threshold=20,
                                    time_window=60))
    engine.ingest_logs(records)
    live = len(engine)
    errors = engine.count_logs({"level": "ERROR"})
    fired = len(engine.get_alerts())
    stats = engine.get_stats()["retention"]
print(f"ingested {len(records)}, kept {live}, archived {stats['archived_total']}, "
      f"{fired} alerts")

# 2. "Restart": a new engine on the same file has the same entries, indexes and alerts.
with LogAnalyticsEngine(storage=db) as engine:
    assert len(engine) == live
    assert engine.count_logs({"level": "ERROR"}) == errors
    assert len(engine.get_alerts()) == fired
    print(f"reopened: {len(engine)} entries, {errors} errors, {fired} alerts restored")

# 3. The archive is plain gzip JSONL, one file per hour of event time: read it back.
history = LogAnalyticsEngine()
for name in sorted(os.listdir(archive)):
    history.ingest_logs_from_file(os.path.join(archive, name))
assert len(history) + live == len(records)
print(f"archive: {sorted(os.listdir(archive))} -> {len(history)} entries")

# 4. sync mode: every ingest call returns only once its entries are committed and fsynced.
with LogAnalyticsEngine(storage=os.path.join(workdir, "audit.db"), durability="sync") as audit:
    audit.ingest_log({"timestamp": "2025-07-21T10:00:00Z", "level": "WARN",
                      "message": "admin login", "source": "auth"})
print("sync mode:", audit.get_stats()["storage"]["committed_total"], "entry committed")

shutil.rmtree(workdir)
