"""The everyday CLI as a user runs it: python -m log_analytics_engine query|stats|alerts."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from log_analytics_engine import AlertRule, LogAnalyticsEngine
from log_analytics_engine.events.sample import write_jsonl

ANSI = "\x1b["


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "log_analytics_engine", *args],
                          capture_output=True, text=True, env=full_env, timeout=120)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "app.jsonl"
    write_jsonl(str(path), 3000, seed=3)
    return path


@pytest.fixture(scope="module")
def engine(corpus: Path) -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.ingest_logs_from_file(corpus)
    return engine


def assert_one_line_error(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# -- query --------------------------------------------------------------------------------
def test_query_table_prints_one_row_per_match(corpus: Path, engine: LogAnalyticsEngine) -> None:
    result = run("query", str(corpus), "-q", "level:FATAL")
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()
    assert len(rows) == engine.count_logs({"level": "FATAL"}) > 0
    assert all(" FATAL " in row for row in rows)


def test_query_json_is_a_list_of_the_matching_entries(
    corpus: Path, engine: LogAnalyticsEngine
) -> None:
    q = 'level:ERROR latency_ms:>100 -tag:debug'
    result = run("query", str(corpus), "-q", q, "--format", "json")
    data = json.loads(result.stdout)
    assert [d["message"] for d in data] == [e.message for e in engine.search(q)]


def test_query_jsonl_respects_limit(corpus: Path) -> None:
    result = run("query", str(corpus), "-q", "level:INFO", "--format", "jsonl", "--limit", "7")
    lines = result.stdout.splitlines()
    assert len(lines) == 7
    assert all(json.loads(line)["level"] == "INFO" for line in lines)


def test_query_count_prints_the_number_of_matches(
    corpus: Path, engine: LogAnalyticsEngine
) -> None:
    result = run("query", str(corpus), "-q", "level:(ERROR OR FATAL)", "--count")
    assert result.stdout.strip() == str(engine.count_logs({"level": ["ERROR", "FATAL"]}))


def test_query_output_has_no_colour_when_not_a_terminal(corpus: Path) -> None:
    assert ANSI not in run("query", str(corpus), "-q", "level:ERROR", "--limit", "5").stdout


def test_query_syntax_error_is_one_line_with_the_column(corpus: Path) -> None:
    q = "level:ERROR (source:api"
    result = run("query", str(corpus), "-q", q)
    assert_one_line_error(result)
    assert f"column {len(q) + 1}" in result.stderr


def test_query_missing_file_is_one_line(tmp_path: Path) -> None:
    result = run("query", str(tmp_path / "nope.jsonl"), "-q", "x")
    assert_one_line_error(result)
    assert "no such file" in result.stderr


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_damaged_gzip_is_one_line_naming_the_file(
    corpus: Path, tmp_path: Path, damage: str
) -> None:
    data = bytearray(gzip.compress(corpus.read_bytes()[:300_000]))
    if damage == "truncated":
        del data[len(data) // 2:]
    else:
        data[len(data) // 2:len(data) // 2 + 64] = b"x" * 64
    path = tmp_path / "damaged.jsonl.gz"
    path.write_bytes(bytes(data))
    result = run("query", str(path), "--count")
    assert_one_line_error(result)
    assert "damaged.jsonl.gz" in result.stderr


def test_query_bad_limit_is_rejected_without_traceback(corpus: Path) -> None:
    result = run("query", str(corpus), "--limit", "0")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--limit" in result.stderr


def test_query_warns_about_bad_lines_and_keeps_the_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"timestamp": 0, "level": "ERROR", "message": "good"}\nnot json\n')
    result = run("query", str(path), "--format", "jsonl")
    assert [json.loads(x)["message"] for x in result.stdout.splitlines()] == ["good"]
    assert "1 bad line" in result.stderr
    assert "line 2" in result.stderr


@pytest.mark.parametrize("command", ["query", "stats", "tail", "alerts"])
def test_help_shows_examples(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert f"log-analytics {command}" in result.stdout


# -- stats --------------------------------------------------------------------------------
def test_stats_reports_levels_span_keywords_and_error_chart(
    corpus: Path, engine: LogAnalyticsEngine
) -> None:
    result = run("stats", str(corpus), "--top", "3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for level, n in engine.get_stats()["levels"].items():
        assert any(line.split()[:2] == [level, f"{n:,}"] for line in out.splitlines())
    assert "Time span:" in out
    assert "Top keywords" in out
    word, count = engine.top_keywords(1)[0]
    assert any(line.split()[:2] == [word, f"{count:,}"] for line in out.splitlines())
    chart = out.split("Error rate per hour")[1].splitlines()[1:]
    assert chart
    assert all("%" in row for row in chart)


def test_stats_of_an_empty_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    result = run("stats", str(path))
    assert result.returncode == 0
    assert "No entries." in result.stdout


# -- alerts -------------------------------------------------------------------------------
RULES = [{"name": "error-burst", "conditions": {"level": "ERROR"}, "threshold": 5,
          "time_window": 30, "severity": "high", "cooldown": 120}]


def test_alerts_replay_prints_every_alert_the_rules_fire(corpus: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    expected = LogAnalyticsEngine()
    expected.add_alert_rule(AlertRule(**{**RULES[0], "severity": "HIGH"}))  # type: ignore[arg-type]
    expected.ingest_logs_from_file(corpus)
    result = run("alerts", str(corpus), "--rules", str(rules), "--format", "json")
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert len(got) == len(expected.get_alerts()) > 0
    assert {a["rule"] for a in got} == {"error-burst"}
    assert got[0]["severity"] == "HIGH"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ('{"name": "x"}', 'expected a "rules" list'),
    ('[{"name": "x", "threshold": 0}]', "rule 1"),
    ('[{"name": "x", "bogus": 1}]', "rule 1"),
])
def test_bad_rules_file_is_one_line_naming_the_file(
    corpus: Path, tmp_path: Path, content: str, message: str
) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(content)
    result = run("alerts", str(corpus), "--rules", str(rules))
    assert_one_line_error(result)
    assert message in result.stderr
    assert "rules.json" in result.stderr


def test_tail_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = run("tail", str(tmp_path / "nope.jsonl"))
    assert_one_line_error(result)
