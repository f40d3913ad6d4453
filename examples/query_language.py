"""The Lucene/Kibana-like query language, cursor pages, pandas and Prometheus.

Run: python examples/query_language.py
"""

from __future__ import annotations

from log_analytics_engine import (
    LogAnalyticsEngine,
    QuerySyntaxError,
    compile_filters,
    parse_query,
)
from log_analytics_engine.events.sample import generate_records


def main() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs(generate_records(20_000, seed=1))

    q = 'level:ERROR "request" -tag:debug latency_ms:>250 after:2025-07-20T08:30'
    print("query:", q)
    print("  'level:ERROR source:api' is the filter dict's tree:",
          parse_query("level:ERROR source:api")
          == compile_filters({"level": "ERROR", "source": "api"}))
    hits = engine.search(q, sort_desc=True, page_size=3)
    for e in hits:
        print(f"  {e.timestamp} {e.level} {e.source} {e.message[:50]}")
    print("  count:", engine.count_logs(parse_query(q)))
    print("  (level:FATAL OR level:ERROR) -source:svc-health0 ->",
          engine.count_logs(parse_query("(level:FATAL OR level:ERROR) -source:svc-health0")))

    try:
        engine.search("level:ERROR (source:api")
    except QuerySyntaxError as exc:
        print("syntax error:", exc)

    # Cursor pages: exact even while entries keep arriving.
    page = engine.query_page("level:FATAL", page_size=40)
    pages, total = 1, len(page.entries)
    while page.has_more:
        page = engine.query_page("level:FATAL", page_size=40, cursor=page.next_cursor)
        pages, total = pages + 1, total + len(page.entries)
    print(f"cursor walk: {total} FATAL entries in {pages} pages")

    try:
        df = engine.to_pandas("level:ERROR")
        print("pandas:", df.shape, "p95 latency by source (top 3):")
        print(df.groupby("source", observed=True)["latency_ms"].quantile(0.95)
              .sort_values(ascending=False).head(3).round(1).to_string())
    except ImportError as exc:
        print(exc)

    try:
        from prometheus_client import CollectorRegistry, generate_latest

        registry = CollectorRegistry()
        registry.register(engine.prometheus_collector())
        first = generate_latest(registry).decode().splitlines()[:3]
        print("prometheus:", *first, sep="\n  ")
    except ImportError:
        print("prometheus_client not installed")


if __name__ == "__main__":
    main()
