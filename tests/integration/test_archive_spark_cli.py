"""``query``/``stats --archive DIR --executor spark`` print what the DuckDB executor prints
(a real ``log-analytics`` process starting its own local Spark session)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")
pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)

from log_analytics_engine.events.sample import write_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_SUBMIT_ARGS": "--master local[2] --conf spark.ui.enabled=false pyspark-shell"}
    return subprocess.run([sys.executable, "-m", "log_analytics_engine", *args],
                          capture_output=True, text=True, timeout=600, env=env)


def test_spark_executor_prints_what_duckdb_prints(tmp_path: Path) -> None:
    corpus = tmp_path / "app.jsonl"
    write_jsonl(str(corpus), 1500, seed=7)
    folder = tmp_path / "arch"
    made = run("archive", str(corpus), "--to", str(folder))
    assert made.returncode == 0, made.stderr
    q = ["-q", "level:ERROR OR latency_ms:>200", "--format", "jsonl", "--desc", "--limit", "30"]
    duck = run("query", "--archive", str(folder), *q)
    spark = run("query", "--archive", str(folder), "--executor", "spark", *q)
    assert duck.returncode == 0, duck.stderr
    assert spark.returncode == 0, spark.stderr[-2000:]
    assert duck.stdout.strip()
    assert spark.stdout == duck.stdout
