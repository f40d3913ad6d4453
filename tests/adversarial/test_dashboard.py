"""The dashboard against hostile content and hostile pages: entry content never makes an
endpoint fail for everyone, every answer carries security headers, and a foreign Host header
(DNS rebinding) is refused."""

from __future__ import annotations

import os
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from log_analytics_engine.dashboard import create_app
from log_analytics_engine.dashboard.security import hosts_for

BAD_NAME = os.fsdecode(b"report-\xff.csv")
ENDPOINTS = ["/", "/api/logs", "/api/summary", "/api/histogram", "/metrics", "/stats",
             "/api/alerts", "/trace", "/errors", "/api/processors"]


def _deep(n: int) -> dict[str, Any]:
    d: dict[str, Any] = {"x": 1}
    for _ in range(n):
        d = {"d": d}
    return d


@pytest.fixture
def hostile() -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([
        LogEntry("2025-07-21T10:00:00Z", "ERROR", f"cannot open {BAD_NAME}", source=BAD_NAME,
                 tags=[BAD_NAME], metadata={"deep": _deep(300), "n": 2**70, BAD_NAME: 1}),
        LogEntry("0001-01-01T00:00:00Z", "INFO", "the first instant"),
        LogEntry("9999-12-31T23:59:59Z", "INFO", "the last instant"),
        LogEntry("2025-07-21T10:00:01Z", "WARN", "plain"),
    ])
    return engine


@pytest.mark.parametrize("path", ENDPOINTS)
def test_hostile_entries_never_fail_an_endpoint(hostile: LogAnalyticsEngine, path: str) -> None:
    client = TestClient(create_app(hostile), base_url="http://localhost")
    response = client.get(path)
    assert response.status_code == 200, response.text[:300]


def test_logs_and_metrics_serve_the_hostile_entry(hostile: LogAnalyticsEngine) -> None:
    client = TestClient(create_app(hostile), base_url="http://localhost")
    items = client.get("/api/logs", params={"level": "ERROR"}).json()["items"]
    assert items[0]["source"] == "report-\ufffd.csv"
    assert "report-\ufffd.csv" in client.get("/metrics").text
    hist = client.get("/api/histogram", params={"interval": "1d", "buckets": "5"})
    assert hist.status_code == 200


@pytest.mark.parametrize("path", ["/", "/api/logs", "/metrics", "/api/nope"])
def test_every_answer_carries_security_headers(path: str) -> None:
    client = TestClient(create_app(LogAnalyticsEngine()), base_url="http://localhost")
    response = client.get(path)
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "'sha256-" in csp  # the page's own inline script and style, by hash


@pytest.mark.parametrize("host", ["evil.example", "attacker.test:8000", "127.0.0.1.evil.com"])
def test_foreign_host_header_is_refused(host: str) -> None:
    """DNS rebinding: a page on another name that resolves to 127.0.0.1 gets nothing."""
    client = TestClient(create_app(LogAnalyticsEngine()), base_url="http://localhost")
    response = client.get("/api/logs", headers={"host": host})
    assert response.status_code == 421
    assert "DNS rebinding" in response.json()["error"]
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1:1234", "[::1]:80"])
def test_loopback_hosts_are_served(host: str) -> None:
    client = TestClient(create_app(LogAnalyticsEngine()), base_url="http://localhost")
    assert client.get("/api/summary", headers={"host": host}).status_code == 200


def test_allowed_hosts_are_configurable() -> None:
    app = create_app(LogAnalyticsEngine(), allowed_hosts=hosts_for("0.0.0.0", ["logs.corp"]))
    client = TestClient(app, base_url="http://localhost")
    assert client.get("/api/summary", headers={"host": "logs.corp"}).status_code == 200
    assert client.get("/api/summary", headers={"host": "evil.example"}).status_code == 421
    anyone = TestClient(create_app(LogAnalyticsEngine(), allowed_hosts=["*"]),
                        base_url="http://localhost")
    assert anyone.get("/api/summary", headers={"host": "evil.example"}).status_code == 200
    assert "10.0.0.5" in hosts_for("10.0.0.5")


def test_a_running_server_refuses_a_rebinding_host() -> None:
    """Through a real socket: the page's own origin works, a rebinding name gets 421."""
    import http.client

    from log_analytics_engine.dashboard import serve

    with serve(LogAnalyticsEngine(), port=0, allowed_hosts=["logs.corp"]) as server:
        for host, status in ((f"127.0.0.1:{server.port}", 200), ("logs.corp", 200),
                             (f"rebind.attacker.test:{server.port}", 421)):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", "/api/summary", headers={"Host": host})
            response = conn.getresponse()
            assert response.status == status, host
            assert response.getheader("X-Frame-Options") == "DENY"
            conn.close()
