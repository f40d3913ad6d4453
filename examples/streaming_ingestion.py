"""Streaming ingestion: feed lines from a generator (a socket or pipe in real life)."""

import itertools
import json
import threading

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.events.sample import SampleCorpus

engine = LogAnalyticsEngine()


def produce(seed: int, count: int):
    for record in itertools.islice(SampleCorpus(seed=seed).records(), count):
        yield json.dumps(record)
    yield "this line is not JSON and is reported, not fatal"


# Two producers stream concurrently while the main thread queries: the engine is thread-safe.
reports = []
threads = [threading.Thread(target=lambda s=s: reports.append(
    engine.ingest_stream(produce(s, 3000)))) for s in (1, 2)]
for t in threads:
    t.start()
while any(t.is_alive() for t in threads):
    engine.count_logs({"level": "ERROR"})
for t in threads:
    t.join()

print("stored:", len(engine), "rejected:", sum(r["errors"] for r in reports))
assert len(engine) == 6000
