"""The dashboard's HTTP API, through FastAPI's TestClient (no sockets)."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

from log_analytics_engine import AlertRule, LogAnalyticsEngine, LogEntry, __version__
from log_analytics_engine._native import speedups
from log_analytics_engine.dashboard import create_app, create_router
from log_analytics_engine.events.sample import generate_records
from log_analytics_engine.model.timeparse import format_instant


def broken(entry: LogEntry) -> LogEntry:
    raise KeyError(entry.source)


@pytest.fixture(scope="module")
def engine() -> LogAnalyticsEngine:
    eng = LogAnalyticsEngine()
    eng.add_pre_ingest_hook(lambda e: e, name="start")
    eng.add_pre_ingest_hook(lambda e: e, name="warn", when={"level": "WARN"})
    eng.add_pre_ingest_hook(broken, name="error", when={"min_severity": "ERROR"})
    eng.add_pre_ingest_hook(lambda e: None if e.level == "TRACE" else e, name="general")
    eng.add_alert_rule(AlertRule("fatal", conditions={"level": "FATAL"}, threshold=1))
    eng.ingest_logs(generate_records(3000, seed=3))
    return eng


@pytest.fixture(scope="module")
def client(engine: LogAnalyticsEngine) -> TestClient:
    return TestClient(create_app(engine), base_url="http://localhost")


def get(client: TestClient, url: str, **kw: Any) -> Any:
    response = client.get(url, **kw)
    assert response.status_code == 200, response.text
    return response.json()


# -- processor endpoints ----------------------------------------------------------------
def test_stats_is_processor_stats(client: TestClient, engine: LogAnalyticsEngine) -> None:
    assert get(client, "/stats") == engine.processor_stats()


def test_trace_returns_the_last_100_traces(client: TestClient, engine: LogAnalyticsEngine) -> None:
    assert get(client, "/trace") == engine.get_traces(100)


def test_trace_limit_parameter(client: TestClient) -> None:
    assert len(get(client, "/trace?limit=7")) == 7


def test_errors_maps_processor_to_error_count(client: TestClient,
                                              engine: LogAnalyticsEngine) -> None:
    errors = get(client, "/errors")
    assert errors == engine.processor_errors()
    assert errors["error"] == engine.count_logs({"min_severity": "ERROR"})


def test_processors_lists_dropped_counts(client: TestClient, engine: LogAnalyticsEngine) -> None:
    rows = {r["name"]: r for r in get(client, "/api/processors")}
    assert rows["general"]["dropped"] == engine.get_stats()["dropped_total"]


def test_processor_errors_are_newest_first(client: TestClient,
                                           engine: LogAnalyticsEngine) -> None:
    items = get(client, "/api/processor-errors?limit=5")
    assert items == list(reversed(engine.recent_processor_errors(5)))


# -- summary, alerts --------------------------------------------------------------------
def test_summary_is_engine_stats(client: TestClient, engine: LogAnalyticsEngine) -> None:
    summary = get(client, "/api/summary")
    assert {k: v for k, v in summary.items() if k not in ("version", "accelerator")} == (
        engine.get_stats())


def test_alerts_are_listed_newest_first(client: TestClient, engine: LogAnalyticsEngine) -> None:
    items = get(client, "/api/alerts?limit=3")
    newest = engine.get_alerts()[-3:][::-1]
    assert [a["triggered_at"] for a in items] == [format_instant(a.triggered_at.timestamp())
                                                  for a in newest]
    assert all(a["triggered_at"].endswith("Z") for a in items)
    assert items[0]["rule_name"] == "fatal"


# -- logs -------------------------------------------------------------------------------
def test_logs_filters_by_level(client: TestClient, engine: LogAnalyticsEngine) -> None:
    page = get(client, "/api/logs?level=ERROR&page_size=1000")
    assert page["total"] == engine.count_logs({"level": "ERROR"})
    assert {e["level"] for e in page["items"]} == {"ERROR"}


def test_logs_repeated_parameter_means_either(client: TestClient,
                                              engine: LogAnalyticsEngine) -> None:
    page = get(client, "/api/logs?level=ERROR&level=FATAL")
    assert page["total"] == engine.count_logs({"level": ["ERROR", "FATAL"]})


def test_logs_are_newest_first_by_default(client: TestClient) -> None:
    times = [LogEntry.from_dict(e).ts for e in get(client, "/api/logs?page_size=50")["items"]]
    assert times == sorted(times, reverse=True)


def test_logs_order_asc(client: TestClient) -> None:
    items = get(client, "/api/logs?page_size=50&order=asc")["items"]
    times = [LogEntry.from_dict(e).ts for e in items]
    assert times == sorted(times)


def test_logs_pages_do_not_overlap_and_cover_the_result(client: TestClient,
                                                        engine: LogAnalyticsEngine) -> None:
    seen = []
    page_no = 1
    while True:
        page = get(client, f"/api/logs?source=svc-login2&page_size=40&page={page_no}")
        if not page["items"]:
            break
        seen += [e["metadata"]["request_id"] for e in page["items"]]
        page_no += 1
    assert len(seen) == len(set(seen)) == engine.count_logs({"source": "svc-login2"})
    assert page_no - 1 == page["pages"]


def test_logs_field_filter_matches_numbers_too(client: TestClient,
                                               engine: LogAnalyticsEngine) -> None:
    entry = engine.query_logs(page_size=1)[0]
    latency = entry.metadata["latency_ms"]
    page = get(client, f"/api/logs?field.latency_ms={latency}")
    assert page["total"] == engine.count_logs({"latency_ms": latency}) >= 1


def test_logs_time_range(client: TestClient, engine: LogAnalyticsEngine) -> None:
    first = engine.query_logs(page_size=1)[0].ts
    page = get(client, f"/api/logs?start_time={first}&end_time={first + 60}")
    assert page["total"] == engine.count_logs({"start_time": first, "end_time": first + 60})


def test_q_goes_through_the_query_language(engine: LogAnalyticsEngine) -> None:
    client = TestClient(create_app(engine), base_url="http://localhost")
    page = get(client, "/api/logs?q=level:WARN&source=svc-login2")
    assert page["q_mode"] == "search"
    assert page["total"] == engine.count_logs({"level": "WARN", "source": "svc-login2"})



def test_search_syntax_error_is_a_400(engine: LogAnalyticsEngine) -> None:
    response = TestClient(create_app(engine), base_url="http://localhost").get("/api/logs?q=(")
    assert response.status_code == 400
    assert "column 2" in response.json()["error"]


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


# -- histogram --------------------------------------------------------------------------
def test_histogram_counts_per_level_per_bucket(client: TestClient,
                                               engine: LogAnalyticsEngine) -> None:
    body = get(client, "/api/histogram?interval=1m&buckets=1000")
    expected: dict[str, dict[str, int]] = {}
    for (start, level), m in engine.aggregate(group_by="level", interval="1m").items():
        expected.setdefault(start, {})[level] = m["count"]
    got = {b["start"]: b["counts"] for b in body["buckets"] if b["counts"]}
    assert got == expected


def test_histogram_buckets_are_contiguous_and_limited(client: TestClient) -> None:
    body = get(client, "/api/histogram?interval=30s&buckets=5")
    starts = [b["start"] for b in body["buckets"]]
    assert len(starts) == 5
    assert body["seconds"] == 30
    assert starts == sorted(starts)


def test_histogram_of_an_empty_engine_is_empty() -> None:
    client = TestClient(create_app(LogAnalyticsEngine()), base_url="http://localhost")
    body = get(client, "/api/histogram")
    assert body["buckets"] == []


# -- metrics and page -------------------------------------------------------------------
def test_metrics_uses_the_prometheus_text_content_type(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_metrics_include_processor_ingestion_and_alert_series(client: TestClient) -> None:
    text = client.get("/metrics").text
    for series in ('log_analytics_processor_processed_total{processor="start"}',
                   'log_analytics_processor_errors_total{processor="error"}',
                   'log_analytics_processor_seconds_sum{processor="warn"}',
                   "log_analytics_ingested_entries_total ",
                   'log_analytics_alerts_total{rule="fatal",severity="MEDIUM"}'):
        assert series in text


def test_page_is_html_with_the_parts_people_need(client: TestClient) -> None:
    response = client.get("/")
    assert response.headers["content-type"].startswith("text/html")
    for part in ('id="c-total"', 'id="chart"', 'id="processors"', 'id="traces"',
                 'id="proc-errors"', 'id="alerts"', 'id="search-form"'):
        assert part in response.text


def test_page_loads_nothing_from_the_internet(client: TestClient) -> None:
    html = client.get("/").text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "/*{{" not in html


def test_no_docs_pages_that_would_need_a_cdn(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404


# -- token ------------------------------------------------------------------------------
ROUTES = ["/", "/stats", "/trace", "/errors", "/metrics", "/api/summary", "/api/logs",
          "/api/alerts", "/api/histogram", "/api/processors", "/api/processor-errors"]


@pytest.fixture(scope="module")
def locked(engine: LogAnalyticsEngine) -> TestClient:
    return TestClient(create_app(engine, token="s3cret"), base_url="http://localhost")


@pytest.mark.parametrize("route", ROUTES)
def test_token_protects_every_endpoint(locked: TestClient, route: str) -> None:
    response = locked.get(route)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("route", ROUTES)
def test_bearer_token_opens_every_endpoint(locked: TestClient, route: str) -> None:
    assert locked.get(route, headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_wrong_token_is_refused(locked: TestClient) -> None:
    assert locked.get("/stats", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_token_query_parameter_opens_the_page(locked: TestClient) -> None:
    assert locked.get("/?token=s3cret").status_code == 200


def test_token_parameter_is_not_a_filter(locked: TestClient) -> None:
    assert locked.get("/api/logs?token=s3cret&level=INFO").status_code == 200


# -- mounting ---------------------------------------------------------------------------
def test_router_mounts_inside_another_application(engine: LogAnalyticsEngine) -> None:
    app = FastAPI()
    app.include_router(create_router(engine), prefix="/logs")
    client = TestClient(app)
    assert client.get("/logs/stats").json() == engine.processor_stats()
    assert client.get("/logs/").status_code == 200


def test_mounted_router_keeps_json_errors(engine: LogAnalyticsEngine) -> None:
    app = FastAPI()
    app.include_router(create_router(engine), prefix="/logs")
    response = TestClient(app).get("/logs/api/logs?colour=red")
    assert (response.status_code, response.json()["field"]) == (400, "colour")


# -- first ten minutes: icon, version, typo hints, readable processors ----------------------
def test_favicon_is_served(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.content.startswith(b"<svg")
    assert 'rel="icon"' in client.get("/").text


def test_summary_says_the_version_and_whether_the_accelerator_is_active(
    client: TestClient,
) -> None:
    summary = get(client, "/api/summary")
    assert summary["version"] == __version__
    assert summary["accelerator"] is (speedups is not None)


def test_a_search_on_a_field_no_entry_has_returns_a_hint(client: TestClient) -> None:
    page = get(client, "/api/logs?q=levle:ERROR")
    assert page["total"] == 0
    assert page["warnings"] == ["no entry has field 'levle'; did you mean 'level'?"]
    assert get(client, "/api/logs?q=level:ERROR")["warnings"] == []
    assert "did you mean 'latency_ms'" in get(client, "/api/logs?field.latncy_ms=3")[
        "warnings"][0]


def test_the_first_http_page_is_the_first_query_logs_page(
    client: TestClient, engine: LogAnalyticsEngine,
) -> None:
    """?page=1 (the HTTP API's first page) is query_logs(page=0) (the library's first)."""
    first = get(client, "/api/logs?page=1&page_size=5&order=asc")["items"]
    want = engine.query_logs(page=0, page_size=5)
    assert [e["message"] for e in first] == [e.message for e in want]


def test_processors_show_when_as_query_text(client: TestClient) -> None:
    rows = {r["name"]: r for r in get(client, "/api/processors")}
    assert rows["warn"]["when"] == "level:WARN"
    assert rows["error"]["when"] == "level:ERROR OR level:FATAL"
    assert rows["start"]["when"] is None or rows["start"]["when"] in ("", "all")
