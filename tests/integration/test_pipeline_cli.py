"""``log-analytics generate`` and ``log-analytics pipeline``, run as a user runs them."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from log_analytics_engine.events.pipeline import generate_event_lines


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "log_analytics_engine", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "events.jsonl"
    proc = run("generate", str(path), "--lines", "3000", "--seed", "7")
    assert proc.returncode == 0, proc.stderr
    return path


@pytest.fixture(scope="module")
def piped(generated: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], dict[str, Any]]:
    out = tmp_path_factory.mktemp("out") / "results"
    proc = run("pipeline", str(generated), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    parsed = json.loads((out / "parsed_summary.json").read_text())
    final = json.loads((out / "final_summary.json").read_text())
    return proc, parsed, final


def test_generate_writes_the_requested_number_of_lines(generated: Path) -> None:
    assert len(generated.read_bytes().splitlines()) == 3000


def test_generate_is_deterministic_for_a_seed(generated: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.jsonl"
    assert run("generate", str(again), "--lines", "3000", "--seed", "7").returncode == 0
    assert again.read_bytes() == generated.read_bytes()
    other = tmp_path / "other.jsonl"
    assert run("generate", str(other), "--lines", "3000", "--seed", "8").returncode == 0
    assert other.read_bytes() != generated.read_bytes()


def test_generated_lines_contain_every_kind_of_deliberate_error() -> None:
    lines = list(generate_event_lines(4000, seed=1))
    records = []
    malformed = 0
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            malformed += 1
    assert malformed > 0
    assert any(len(r) < 4 for r in records)
    assert any(r.get("action") not in ("start", "end", None) for r in records)
    assert any(r.get("timestamp") in ("yesterday", "", "2025-13-45T99:00:00Z") for r in records)


def test_generate_without_errors_writes_only_valid_events() -> None:
    for line in generate_event_lines(500, seed=2, error_rate=0.0):
        record = json.loads(line)
        assert set(record) == {"user_id", "feature", "timestamp", "action"}
        assert record["action"] in ("start", "end")


def test_parsed_summary_has_the_documented_shape(piped: Any) -> None:
    _, parsed, _ = piped
    assert set(parsed) == {"stats", "errors", "by_user", "by_feature", "by_action"}
    assert set(parsed["stats"]) == {"total_lines", "valid", "parse_errors",
                                    "validation_errors"}
    assert all(set(e) == {"line", "kind", "reason"} for e in parsed["errors"])
    user = next(iter(parsed["by_user"].values()))
    assert set(user) == {"events", "by_feature"}
    assert set(next(iter(parsed["by_feature"].values()))) == {"events", "users"}
    assert set(parsed["by_action"]) == {"start", "end"}


def test_parsed_summary_counts_agree(piped: Any, generated: Path) -> None:
    _, parsed, _ = piped
    st = parsed["stats"]
    assert st["total_lines"] == 3000
    assert st["valid"] + st["parse_errors"] + st["validation_errors"] == 3000
    assert len(parsed["errors"]) == st["parse_errors"] + st["validation_errors"]
    assert sum(parsed["by_action"].values()) == st["valid"]
    assert sum(u["events"] for u in parsed["by_user"].values()) == st["valid"]
    assert all(u["events"] == sum(u["by_feature"].values())
               for u in parsed["by_user"].values())


def test_error_line_numbers_point_at_the_bad_lines(piped: Any, generated: Path) -> None:
    _, parsed, _ = piped
    lines = generated.read_bytes().splitlines()
    for error in parsed["errors"]:
        line = lines[error["line"] - 1]
        if error["kind"] == "parse":
            with pytest.raises(json.JSONDecodeError):
                json.loads(line)
        else:
            assert isinstance(json.loads(line), dict)


def test_final_summary_has_the_documented_shape(piped: Any) -> None:
    _, parsed, final = piped
    assert set(final) == {"parsing", "sessions", "by_feature", "by_user", "by_hour"}
    assert final["parsing"] == parsed["stats"]
    assert set(next(iter(final["by_feature"].values()))) == {
        "sessions", "total_duration_s", "avg_duration_s", "min_duration_s",
        "max_duration_s", "unique_users"}
    assert set(next(iter(final["by_user"].values()))) == {
        "sessions", "total_duration_s", "avg_duration_s", "features", "sessions_by_feature"}
    hour, figures = next(iter(final["by_hour"].items()))
    assert hour.endswith(":00:00Z")
    assert set(figures) == {"sessions", "total_duration_s", "avg_duration_s"}


def test_final_summary_session_counts_agree(piped: Any) -> None:
    _, _, final = piped
    complete = final["sessions"]["complete"]
    assert complete > 0
    assert sum(f["sessions"] for f in final["by_feature"].values()) == complete
    assert sum(u["sessions"] for u in final["by_user"].values()) == complete
    assert sum(h["sessions"] for h in final["by_hour"].values()) == complete


def test_pipeline_prints_stats_and_human_durations(piped: Any) -> None:
    proc, _, final = piped
    assert "Parsing: 3,000 lines" in proc.stdout
    assert f"{final['sessions']['complete']:,} complete" in proc.stdout
    assert re.search(r"\b\d+m \d+s\b", proc.stdout)  # e.g. "4m 59s"
    assert "parsed_summary.json" in proc.stdout


def test_pipeline_on_a_hand_written_file(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"user_id":"u1","feature":"search","timestamp":"2025-07-21T10:00:00Z","action":"start"}\n'
        "\n"
        '{"user_id":"u1","feature":"search","timestamp":"2025-07-21T11:05:30Z","action":"end"}\n'
        "{broken\n"
        '{"user_id":"u2","feature":"search","timestamp":"2025-07-21T10:00:00Z","action":"end"}\n'
    )
    proc = run("pipeline", str(src), "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert "1h 5m 30s" in proc.stdout
    parsed = json.loads((tmp_path / "o" / "parsed_summary.json").read_text())
    assert parsed["stats"] == {"total_lines": 4, "valid": 3, "parse_errors": 1,
                               "validation_errors": 0}
    assert [(e["line"], e["kind"]) for e in parsed["errors"]] == [(4, "parse")]
    final = json.loads((tmp_path / "o" / "final_summary.json").read_text())
    assert final["sessions"] == {"complete": 1, "incomplete": 1}
    assert final["by_feature"]["search"]["total_duration_s"] == 3930


def test_missing_input_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run("pipeline", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "no such file" in proc.stderr


def test_unwritable_output_folder_is_a_one_line_error(generated: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    proc = run("pipeline", str(generated), "--out", str(blocker / "sub"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "cannot write to output folder" in proc.stderr


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write into read-only folders")
def test_read_only_output_folder_is_a_one_line_error(generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        proc = run("pipeline", str(generated), "--out", str(out))
    finally:
        out.chmod(0o700)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr


def test_generate_into_a_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run("generate", str(tmp_path / "no" / "such" / "x.jsonl"), "--lines", "10")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "does not exist" in proc.stderr


def test_generate_rejects_a_non_positive_line_count(tmp_path: Path) -> None:
    proc = run("generate", str(tmp_path / "x.jsonl"), "--lines", "0")
    assert proc.returncode != 0
    assert "--lines" in proc.stderr


def test_gzip_input_is_read(generated: Path, tmp_path: Path) -> None:
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(generated.read_bytes()))
    proc = run("pipeline", str(packed), "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert "Parsing: 3,000 lines" in proc.stdout


def test_truncated_gzip_input_is_a_one_line_error(generated: Path, tmp_path: Path) -> None:
    packed = tmp_path / "cut.jsonl.gz"
    packed.write_bytes(gzip.compress(generated.read_bytes())[:5000])
    proc = run("pipeline", str(packed), "--out", str(tmp_path / "o"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "cut.jsonl.gz" in proc.stderr


def _error_kinds(lines: list[bytes]) -> set[str]:
    """The kinds of deliberate error in generated lines, told apart by looking at them."""
    kinds = set()
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            kinds.add("malformed")
            continue
        if len(record) < 4:
            kinds.add("missing")
        elif record["timestamp"] in ("yesterday", "", "2025-13-45T99:00:00Z"):
            kinds.add("timestamp")
        elif record["action"] not in ("start", "end") or record["feature"] in ("", 42):
            kinds.add("action or feature")
    return kinds


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lines=st.integers(20, 150))
def test_every_file_of_20_lines_or_more_has_every_kind_of_error(seed: int, lines: int) -> None:
    generated = list(generate_event_lines(lines, seed=seed))
    assert len(generated) == lines
    assert _error_kinds(generated) == {"malformed", "missing", "timestamp", "action or feature"}
    assert list(generate_event_lines(lines, seed=seed)) == generated  # the same per seed


@pytest.mark.parametrize("seed", [1, 3, 4, 5, 7, 8])
def test_a_100_line_file_has_a_malformed_line_for_every_seed(seed: int) -> None:
    assert "malformed" in _error_kinds(list(generate_event_lines(100, seed=seed)))


def test_the_pipeline_rejects_each_deliberate_error(tmp_path: Path) -> None:
    """Every deliberate error (an invalid feature too) is one rejected line, none crash."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(generate_event_lines(40, seed=3)))
    assert run("pipeline", str(path), "--out", str(tmp_path)).returncode == 0
    parsed = json.loads((tmp_path / "parsed_summary.json").read_text())
    broken = [ln for ln in path.read_bytes().splitlines() if _error_kinds([ln])]
    assert parsed["stats"]["parse_errors"] + parsed["stats"]["validation_errors"] == len(broken)
