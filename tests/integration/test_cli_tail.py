"""``log-analytics tail`` in a real terminal, driven through pexpect."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from children import interruptible

pexpect = pytest.importorskip("pexpect")

ANSI = "\x1b["


def line(level: str, message: str, ts: str = "2025-07-21T10:00:00Z") -> str:
    return json.dumps({"timestamp": ts, "level": level, "message": message}) + "\n"


def append(path: Path, text: str) -> None:
    with open(path, "a") as fh:
        fh.write(text)


def spawn(*args: str, env: dict[str, str] | None = None) -> pexpect.spawn:
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full_env.update(env or {})
    child = pexpect.spawn(sys.executable, ["-m", "log_analytics_engine", *args], env=full_env,
                          encoding="utf-8", timeout=20, dimensions=(40, 200),
                          preexec_fn=interruptible)
    child.expect("following")
    return child


def stop(child: pexpect.spawn) -> str:
    child.sendintr()
    child.expect("stopped")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    return str(child.before)


def test_tail_follows_appends_rotation_and_truncation_then_exits_cleanly(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text(line("ERROR", "old line before start") * 50)
    child = spawn("tail", str(path), "-q", "level:ERROR", "--interval", "0.05")
    append(path, line("INFO", "ignored info") + line("ERROR", "first error appended"))
    child.expect("first error appended")
    assert "ignored info" not in str(child.before)
    os.rename(path, tmp_path / "app.jsonl.1")  # rotation: a new file under the same name
    path.write_text(line("ERROR", "after rotation") + line("INFO", "padding") * 20)
    child.expect("after rotation")
    with open(path, "w") as fh:  # truncation: shorter than what was read so far
        fh.write(line("ERROR", "after truncation"))
    child.expect("after truncation")
    split = line("ERROR", "written in two halves")
    append(path, split[:30])  # no newline yet: nothing printed
    append(path, split[30:])
    child.expect("written in two halves")
    rest = stop(child)
    assert "Traceback" not in rest
    assert "old line before start" not in rest


def test_tail_colours_levels_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text("")
    child = spawn("tail", str(path), "--interval", "0.05")
    append(path, line("ERROR", "coloured"))
    child.expect("coloured")
    assert "\x1b[31mERROR" in str(child.before)
    stop(child)


def test_tail_has_no_colour_with_no_color_set(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_text("")
    child = spawn("tail", str(path), "--interval", "0.05", env={"NO_COLOR": "1"})
    append(path, line("ERROR", "plain"))
    child.expect("plain")
    assert ANSI not in str(child.before)
    stop(child)


def test_tail_fires_alert_rules_on_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_text("")
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps([{"name": "db-errors", "conditions": {"keyword": "db"},
                                  "threshold": 3, "time_window": 60, "severity": "CRITICAL"}]))
    child = spawn("tail", str(path), "--rules", str(rules), "--interval", "0.05")
    append(path, "".join(f"2025-07-21T10:00:0{i}Z ERROR [api] db timeout {i}\n"
                         for i in range(3)))
    child.expect("db timeout 2")
    child.expect("ALERT")
    child.expect("db-errors")
    rest = stop(child)
    assert "1 alert(s)" in rest
