"""A real Prometheus scrapes the dashboard's /metrics and answers a query about our series."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry

PROMETHEUS = shutil.which("prometheus")
WAIT_S = 90.0  # how long to wait for Prometheus before failing (not a performance limit)

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed")
pytest.importorskip("log_analytics_engine.dashboard")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success"
    return list(body["data"]["result"])


def scrape_config(dashboard_port: int, token: str | None) -> str:
    auth = f"    authorization:\n      type: Bearer\n      credentials: {token}\n" if token else ""
    return (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: log_analytics\n"
        f"{auth}"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{dashboard_port}']\n"
    )


@pytest.mark.parametrize("token", [None, "s3cret"])
def test_prometheus_reads_back_our_series(tmp_path: Path, token: str | None) -> None:
    engine = LogAnalyticsEngine()
    engine.add_pre_ingest_hook(lambda e: e, name="start")
    engine.ingest_logs([LogEntry(k, "ERROR" if k % 4 else "INFO", f"m{k}", "api")
                        for k in range(40)])
    prom_port = free_port()
    with engine.serve(port=0, token=token) as server:
        config = tmp_path / "prometheus.yml"
        config.write_text(scrape_config(server.port, token))
        log = tmp_path / "prometheus.log"
        log_file = log.open("wb")
        proc = subprocess.Popen(
            [str(PROMETHEUS), f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=log_file)
        try:
            deadline = time.monotonic() + WAIT_S
            processed: list[dict[str, Any]] = []
            while not processed and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.5)
                try:
                    processed = query(prom_port, "log_analytics_processor_processed_total")
                except OSError:
                    continue  # Prometheus is still starting
            assert processed, f"no series from Prometheus; its log: {log.read_text()[-2000:]}"
            assert processed[0]["metric"]["processor"] == "start"
            assert processed[0]["metric"]["job"] == "log_analytics"
            assert float(processed[0]["value"][1]) == 40
            errors = query(prom_port, 'log_analytics_entries_by_level{level="ERROR"}')
            assert float(errors[0]["value"][1]) == engine.count_logs({"level": "ERROR"})
            up = query(prom_port, "up")
            assert [float(s["value"][1]) for s in up] == [1.0]
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log_file.close()

