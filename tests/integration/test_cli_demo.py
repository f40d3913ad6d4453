"""``python -m log_analytics_engine demo`` end to end, in a subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "log_analytics_engine", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return run("demo", "--lines", "2000")


def test_demo_exits_zero(demo: subprocess.CompletedProcess[str]) -> None:
    assert demo.returncode == 0, demo.stderr


@pytest.mark.parametrize("section", ["Ingested 2,000 lines", "Entries by level:",
                                     "Top sources:", "Most recent errors:",
                                     "Query timings"])
def test_demo_report_has_each_section(demo: subprocess.CompletedProcess[str],
                                      section: str) -> None:
    assert section in demo.stdout


def test_demo_level_counts_add_up_to_the_lines(demo: subprocess.CompletedProcess[str]) -> None:
    lines = demo.stdout.split("Entries by level:")[1].split("Top sources:")[0].splitlines()
    counts = [int(ln.split()[1].replace(",", "")) for ln in lines if ln.strip()]
    assert sum(counts) == 2000


def test_demo_bad_lines_gives_a_one_line_error_and_non_zero_exit() -> None:
    proc = run("demo", "--lines", "0")
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "--lines" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_no_command_prints_help_and_fails() -> None:
    proc = run()
    assert proc.returncode != 0
    assert "demo" in proc.stdout
