"""``log-analytics sample`` and the realistic style of the sample corpus."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry
from log_analytics_engine.events.sample import SampleCorpus, generate_records


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "log_analytics_engine", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_sample_writes_n_valid_lines_and_prints_the_first(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    proc = run("sample", str(path), "--lines", "500")
    assert proc.returncode == 0, proc.stderr
    lines = path.read_text().splitlines()
    assert len(lines) == 500
    assert lines[0] in proc.stdout.splitlines()
    engine = LogAnalyticsEngine()
    report = engine.ingest_logs_from_file(path)
    assert (report["count"], report["errors"]) == (500, 0)


def test_sample_is_deterministic_per_seed(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    for path, seed in ((a, "3"), (b, "3"), (c, "4")):
        assert run("sample", str(path), "--lines", "200", "--seed", seed).returncode == 0
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


@pytest.mark.parametrize(("args", "message"), [
    (["--lines", "0"], "--lines"),
    (["--style", "poetry"], "--style"),
])
def test_sample_bad_options_are_usage_errors(tmp_path: Path, args: list[str],
                                             message: str) -> None:
    proc = run("sample", str(tmp_path / "x.jsonl"), *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sample_into_a_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    proc = run("sample", str(tmp_path / "nope" / "x.jsonl"))
    assert proc.returncode == 1
    assert "does not exist" in proc.stderr


_READABLE = re.compile(
    r"^(GET|POST|PUT|DELETE) /\S* \d{3} in [\d.]+ ms(: .+)?$|^handler for |^payment |"
    r"^cache (miss|hit|eviction)|^user u\d+ logged in|^failed login|^token refresh failed|"
    r"^query took|^slow query|^connection (refused|pool)|^sent order confirmation|"
    r"^SMTP timeout|^search '")


def test_realistic_messages_read_like_application_logs() -> None:
    records = generate_records(3000, seed=9, style="realistic")
    assert all(_READABLE.search(r["message"]) for r in records)
    assert {r["source"] for r in records} == {"shop.api", "shop.payments", "shop.cache", "auth",
                                              "db", "worker.email", "search"}
    levels = {r["level"] for r in records}
    assert {"INFO", "WARN", "ERROR", "DEBUG"} <= levels
    errors = [r["message"] for r in records if r["level"] == "ERROR"]
    assert any("payment declined for user" in m for m in errors)
    entries = [LogEntry.from_dict(r) for r in records]
    assert all(e.metadata["latency_ms"] > 0 for e in entries)


def test_http_lines_carry_their_status_and_latency_as_fields() -> None:
    for r in generate_records(500, seed=2, style="realistic"):
        m = re.match(r"^(\w+) (\S+) (\d{3}) in ([\d.]+) ms", r["message"])
        if m:
            meta = r["metadata"]
            assert (meta["method"], meta["path"], str(meta["status"])) == m.groups()[:3]
            assert float(m.group(4)) == meta["latency_ms"]


def test_the_synthetic_style_stays_the_benchmark_corpus() -> None:
    """The default style is unchanged: the query benchmarks are calibrated on it."""
    corpus = SampleCorpus(seed=42)
    assert len(corpus.words) == 5000
    assert len(corpus.sources) == 50
    first = generate_records(1, seed=42)[0]
    assert 6 <= len(first["message"].split()) <= 12 + 1
    assert json.loads(json.dumps(first)) == first


def test_an_unknown_style_is_rejected() -> None:
    with pytest.raises(ValueError, match="style"):
        SampleCorpus(style="poetry")
