"""What held up under attack stays held: label escaping, content served as data (no XSS), no
path traversal, clean 400s for bad parameters, exact counts under concurrent writers and
readers. (Crash durability and a full disk: tests/test_crash.py, tests/test_storage.py.)"""

from __future__ import annotations

import threading

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from log_analytics_engine.dashboard import create_app

XSS = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'
FORGE = 'x"} 1\nlog_analytics_entries 999\n# {a="'


@pytest.fixture
def client() -> TestClient:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(1, "ERROR", XSS, source=FORGE, tags=[XSS, FORGE],
                                 user_id=XSS, metadata={XSS: XSS})])
    return TestClient(create_app(engine), base_url="http://localhost")


def test_labels_cannot_forge_a_series(client: TestClient) -> None:
    text = client.get("/metrics").text
    assert "\nlog_analytics_entries 999" not in text
    assert [ln for ln in text.splitlines() if ln.startswith("log_analytics_entries ")] == [
        "log_analytics_entries 1"]


def test_hostile_content_is_served_as_json_data(client: TestClient) -> None:
    response = client.get("/api/logs")
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    item = response.json()["items"][0]
    assert item["message"] == XSS
    assert item["metadata"] == {XSS: XSS}


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/static/../../pyproject.toml",
                                  "/%2e%2e/%2e%2e/etc/passwd", "/static/app.js"])
def test_no_file_is_served_by_path(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in response.text


@pytest.mark.parametrize("query", ["page_size=abc", "page=0", "page_size=100000",
                                   "start_time=yesterday-ish", "min_severity=LOUD", "q=(",
                                   "regex=(unclosed", "sort_by=&order=sideways"])
def test_bad_parameters_are_clean_400s(client: TestClient, query: str) -> None:
    response = client.get(f"/api/logs?{query}")
    assert response.status_code == 400
    assert "error" in response.json()


def test_bad_histogram_parameters_are_clean_400s(client: TestClient) -> None:
    for query in ("interval=forever", "buckets=-1", "interval=1s&buckets=999999"):
        assert client.get(f"/api/histogram?{query}").status_code == 400


def test_concurrent_writers_and_readers_count_exactly() -> None:
    engine = LogAnalyticsEngine()
    per_writer, writers = 500, 4
    stop = threading.Event()
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for i in range(per_writer):
                engine.ingest_log(LogEntry(i, "ERROR" if i % 2 else "INFO", f"w{w} {i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def read() -> None:
        try:
            while not stop.is_set():
                assert engine.count_logs({"level": "ERROR"}) <= per_writer * writers
                engine.query_logs({"regex": "w1"}, page_size=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in threads + readers:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert len(engine) == per_writer * writers
    assert engine.count_logs({"level": "ERROR"}) == per_writer * writers // 2
    engine._check()
