"""Prometheus text exposition: parseable, HELP and TYPE everywhere, no forged series."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_analytics_engine import LogAnalyticsEngine, LogEntry

parser = pytest.importorskip("prometheus_client.parser")

NASTY = ['a"b', "back\\slash", "new\nline", 'x"} 1\nforged_total 99\n#', "\\n", "ünï", ""]


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def test_every_family_has_help_and_type(loaded: LogAnalyticsEngine) -> None:
    text = loaded.export_metrics_prometheus()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    helps = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP")}
    assert names
    assert names == helps
    samples = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    for line in samples:
        name = line.split("{")[0].split(" ")[0]
        assert name in names


def test_counters_end_in_total(loaded: LogAnalyticsEngine) -> None:
    text = loaded.export_metrics_prometheus()
    for line in text.splitlines():
        if line.startswith("# TYPE") and line.split()[3] == "counter":
            assert line.split()[2].endswith("_total"), line


def test_text_parses_with_prometheus_client_and_values_match(loaded: LogAnalyticsEngine) -> None:
    fams = families(loaded.export_metrics_prometheus())
    by_source = {s.labels["source"]: s.value
                 for s in fams["log_analytics_entries_by_source"].samples}  # type: ignore[attr-defined]
    assert by_source == {"api": 3, "auth": 2, "db": 1}
    ingested = fams["log_analytics_ingested_entries"].samples  # type: ignore[attr-defined]
    assert [s.value for s in ingested] == [6]


def test_text_ends_with_a_newline(loaded: LogAnalyticsEngine) -> None:
    assert loaded.export_metrics_prometheus().endswith("\n")


def test_sources_and_tags_cannot_forge_a_series() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, source=s, tags=[s]) for i, s in enumerate(NASTY)])
    fams = families(engine.export_metrics_prometheus())
    assert "forged" not in fams
    sources = [s.labels["source"] for s in fams["log_analytics_entries_by_source"].samples]  # type: ignore[attr-defined]
    tags = [s.labels["tag"] for s in fams["log_analytics_entries_by_tag"].samples]  # type: ignore[attr-defined]
    assert sorted(sources) == sorted(NASTY)
    assert sorted(tags) == sorted(NASTY)


@given(st.lists(st.text(max_size=12), min_size=1, max_size=5, unique=True))
def test_any_source_text_round_trips_through_the_parser(sources: list[str]) -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, source=s) for i, s in enumerate(sources)])
    fams = families(engine.export_metrics_prometheus())
    got = sorted(s.labels["source"] for s in fams["log_analytics_entries_by_source"].samples)  # type: ignore[attr-defined]
    assert got == sorted(sources)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_check_metrics_accepts_the_text() -> None:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([LogEntry(i, "ERROR", "m", source=s, tags=[s])
                        for i, s in enumerate(NASTY)])
    text = engine.export_metrics_prometheus()
    proc = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
