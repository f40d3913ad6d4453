"""The dashboard served on a real socket: the handle, the port, the command and the example."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from children import interruptible

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.cli.main import main
from log_analytics_engine.events.sample import write_jsonl

pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
serve = pytest.importorskip("log_analytics_engine.dashboard").serve

ROOT = Path(__file__).resolve().parents[2]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_port_zero_gives_the_real_port_in_the_url() -> None:
    with serve(LogAnalyticsEngine(), port=0) as server:
        assert server.port != 0
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert httpx.get(server.url + "stats").json() == {}


def test_binds_loopback_by_default() -> None:
    with LogAnalyticsEngine().serve(port=0) as server:
        assert server.host == "127.0.0.1"


def test_stop_frees_the_port() -> None:
    server = serve(LogAnalyticsEngine(), port=0)
    httpx.get(server.url + "api/summary")
    server.stop()
    assert not server.running
    assert port_is_free(server.port)


def test_stop_twice_is_harmless() -> None:
    server = serve(LogAnalyticsEngine(), port=0)
    server.stop()
    server.stop()
    assert not server.running


def test_context_manager_stops_the_server() -> None:
    with serve(LogAnalyticsEngine(), port=0) as server:
        url = server.url
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "stats", timeout=2)


def test_a_port_in_use_raises_oserror() -> None:
    with serve(LogAnalyticsEngine(), port=0) as server, pytest.raises(OSError):
        serve(LogAnalyticsEngine(), port=server.port)


def test_engine_serve_with_token_protects_the_api() -> None:
    with LogAnalyticsEngine().serve(port=0, token="t") as server:
        assert httpx.get(server.url + "stats").status_code == 401
        ok = httpx.get(server.url + "stats", headers={"Authorization": "Bearer t"})
        assert ok.status_code == 200


def test_ingestion_continues_while_serving() -> None:
    engine = LogAnalyticsEngine()
    engine.add_pre_ingest_hook(lambda e: e, name="start")
    with engine.serve(port=0) as server:
        writer = threading.Thread(target=lambda: [
            engine.ingest_logs([LogEntry(k * 10 + j, "INFO", f"m{k}") for j in range(10)])
            for k in range(200)])
        writer.start()
        seen = []
        with httpx.Client() as client:
            while writer.is_alive():
                seen.append(client.get(server.url + "api/summary").json()["total_logs"])
            writer.join()
            final = client.get(server.url + "stats").json()
    assert seen == sorted(seen)
    assert final["start"]["processed"] == 2000
    engine._check()


def test_serve_command_ingests_files_and_exits_when_asked(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    path = tmp_path / "app.jsonl"
    write_jsonl(str(path), 300)
    code = main(["serve", str(path), "--port", "0", "--exit-after", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert "300 entries, 0 rejected" in out
    assert "Dashboard: http://127.0.0.1:" in out


def test_serve_command_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_serve_command_refuses_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "/nonexistent/app.jsonl", "--port", "0"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_example_run_exits_by_itself() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "run.py")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "dashboard: http://127.0.0.1:" in result.stdout
    assert "general" in result.stdout


def test_serve_command_serves_until_interrupted(tmp_path: Path) -> None:
    """As a user runs it: start ``log-analytics serve``, query it, press Ctrl+C."""
    path = tmp_path / "app.jsonl"
    write_jsonl(str(path), 200)
    proc = subprocess.Popen([sys.executable, "-m", "log_analytics_engine", "serve", str(path),
                             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=interruptible)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]  # dashboard, accelerator, the file
        assert lines[0].startswith("Dashboard: ")  # the port is bound before any file is read
        assert lines[2].startswith(f"{path}: 200 entries")
        url = lines[0].split()[1]
        assert httpx.get(url + "api/summary", timeout=10).json()["total_logs"] == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopping" in out
    assert "Traceback" not in err
