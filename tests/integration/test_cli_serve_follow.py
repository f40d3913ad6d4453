"""``log-analytics serve --follow --rules``: a live dashboard over growing, rotating files;
the port is bound before any file is read."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from children import interruptible

from log_analytics_engine.cli.main import main

pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")


def lines(start: int, n: int, level: str = "INFO") -> str:
    return "".join(json.dumps({"timestamp": 1_753_000_000 + start + i, "level": level,
                               "message": f"line {start + i}", "source": "shop.api"}) + "\n"
                   for i in range(n))


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_busy_port_fails_at_once_before_any_file_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text(lines(0, 100))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        started = time.monotonic()
        code = main(["serve", str(path), "--port", str(port), "--exit-after", "0"])
        elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "entries" not in out  # nothing was ingested
    assert elapsed < 5


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    path = tmp_path / "app.jsonl"
    path.write_text(lines(0, 50))
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"name": "errors", "conditions": {"level": "ERROR"},
                                  "threshold": 3, "time_window": 60, "severity": "HIGH",
                                  "cooldown": 300}]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "log_analytics_engine", "serve", str(path), "--port", "0",
         "--follow", "--rules", str(rules), "--interval", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Dashboard: "), first + (proc.stderr.read() if proc.stderr
                                                         else "")
        url = first.split()[1]
        assert "C accelerator" in proc.stdout.readline()
        assert proc.stdout.readline().startswith(f"{path}: 50 entries, 0 rejected; following")
        yield url, path, proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def get(url: str, route: str) -> Any:
    return httpx.get(url + route, timeout=10).json()


def test_follow_reads_appends_and_rotation_and_fires_the_rules(
    served: tuple[str, Path, subprocess.Popen[str]],
) -> None:
    url, path, proc = served
    assert get(url, "api/summary")["total_logs"] == 50
    with open(path, "a") as fh:  # appended while serving
        fh.write(lines(50, 20))
    wait_for(lambda: get(url, "api/summary")["total_logs"] == 70)
    os.rename(path, str(path) + ".1")  # rotated: a new file under the same name
    with open(path, "w") as fh:
        fh.write(lines(70, 5, "ERROR"))
    wait_for(lambda: get(url, "api/summary")["total_logs"] == 75)
    wait_for(lambda: len(get(url, "api/alerts")) == 1)
    alert = get(url, "api/alerts")[0]
    assert alert["rule_name"] == "errors"
    assert alert["triggered_at"].endswith("Z")
    assert [e["message"] for e in get(url, "api/logs?level=ERROR&order=asc")["items"]] == [
        f"line {i}" for i in range(70, 75)]
    assert proc.poll() is None
