"""Sessionisation and session metrics on 1,000,000 events, against pandas in the same run.

Run: ``python -m pytest benchmarks/bench_sessions.py --benchmark-only -q``.

Two comparisons, each ours against a pandas implementation of the same computation
(sort by key and time, pair with ``groupby().shift()``, aggregate by feature, user and hour):

* file to figures: our JSONL parse + validation + ingest + ``engine.sessions()`` against
  ``pandas.read_json(lines=True)`` + the computation;
* already loaded: ``engine.sessions()`` on a loaded engine against the computation on a
  loaded DataFrame.

The event file is generated once with :func:`log_analytics_engine.events.pipeline.write_event_jsonl`
(no deliberate errors, so pandas can read it) and cached under ``$LAE_BENCH_DIR`` (default:
the system temp dir). ``LAE_BENCH_EVENTS`` sets its size (default 1,000,000).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from log_analytics_engine import LogAnalyticsEngine
from log_analytics_engine.events.pipeline import write_event_jsonl
from log_analytics_engine.events.sessions import SessionsResult
from log_analytics_engine.events.validation import parse_event_lines

pd = pytest.importorskip("pandas")

EVENTS = int(os.environ.get("LAE_BENCH_EVENTS", "1000000"))
CACHE = Path(os.environ.get("LAE_BENCH_DIR", tempfile.gettempdir()))
ROUNDS = int(os.environ.get("LAE_BENCH_ROUNDS", "3"))


@pytest.fixture(scope="module")
def events_path() -> Path:
    path = CACHE / f"lae-events-{EVENTS}-seed42.jsonl"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write_event_jsonl(tmp, EVENTS, seed=42, error_rate=0.0)
        tmp.rename(path)
    return path


# -- ours ----------------------------------------------------------------------------------
def ours_load(path: Path) -> LogAnalyticsEngine:
    with open(path, "rb") as fh:
        parsed = parse_event_lines(fh)
    engine = LogAnalyticsEngine()
    engine.ingest_logs(parsed.entries)
    return engine


def ours_from_file(path: Path) -> SessionsResult:
    return ours_load(path).sessions()


# -- pandas --------------------------------------------------------------------------------
def pandas_read(path: Path) -> Any:
    return pd.read_json(path, lines=True, convert_dates=["timestamp"])


def pandas_sessions(df: Any) -> dict[str, Any]:
    """The same computation in pandas: sort, pair with groupby/shift, aggregate."""
    df = df.sort_values(["user_id", "feature", "timestamp"], kind="stable")
    grouped = df.groupby(["user_id", "feature"], sort=False)
    next_action = grouped["action"].shift(-1)
    next_ts = grouped["timestamp"].shift(-1)
    prev_action = grouped["action"].shift(1)
    is_start = df["action"] == "start"
    is_end = df["action"] == "end"
    paired = is_start & (next_action == "end")
    incomplete = int((is_start & ~paired).sum() + (is_end & (prev_action != "start")).sum())
    s = df.loc[paired, ["user_id", "feature", "timestamp"]]
    s = s.assign(duration=(next_ts[paired] - s["timestamp"]).dt.total_seconds())
    by_feature = s.groupby("feature").agg(
        sessions=("duration", "size"), total_duration_s=("duration", "sum"),
        avg_duration_s=("duration", "mean"), min_duration_s=("duration", "min"),
        max_duration_s=("duration", "max"), unique_users=("user_id", "nunique"))
    by_user = s.groupby("user_id").agg(
        sessions=("duration", "size"), total_duration_s=("duration", "sum"),
        avg_duration_s=("duration", "mean"), features=("feature", "nunique"))
    sessions_by_feature = s.groupby(["user_id", "feature"]).size()
    by_hour = s.groupby(s["timestamp"].dt.floor("h"))["duration"].agg(["size", "sum", "mean"])
    return {"complete": len(s), "incomplete": incomplete, "by_feature": by_feature,
            "by_user": by_user, "sessions_by_feature": sessions_by_feature,
            "by_hour": by_hour}


def pandas_from_file(path: Path) -> dict[str, Any]:
    return pandas_sessions(pandas_read(path))


def assert_same_figures(ours: SessionsResult, theirs: dict[str, Any]) -> None:
    assert ours.complete_count == theirs["complete"]
    assert len(ours.incomplete) == theirs["incomplete"]
    bf = theirs["by_feature"]
    for feature, m in ours.by_feature.items():
        assert m["sessions"] == bf.loc[feature, "sessions"]
        assert m["unique_users"] == bf.loc[feature, "unique_users"]
        assert m["total_duration_s"] == pytest.approx(bf.loc[feature, "total_duration_s"])
        assert m["max_duration_s"] == pytest.approx(bf.loc[feature, "max_duration_s"])
    assert len(ours.by_user) == len(theirs["by_user"])
    assert len(ours.by_hour) == len(theirs["by_hour"])


# -- file to figures -----------------------------------------------------------------------
def test_file_to_figures_ours(benchmark: Any, events_path: Path) -> None:
    result = benchmark.pedantic(ours_from_file, args=(events_path,), rounds=ROUNDS,
                                iterations=1)
    assert result.complete_count > EVENTS // 4


def test_file_to_figures_pandas(benchmark: Any, events_path: Path) -> None:
    result = benchmark.pedantic(pandas_from_file, args=(events_path,), rounds=ROUNDS,
                                iterations=1)
    assert result["complete"] > EVENTS // 4


# -- on loaded data ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def loaded_engine(events_path: Path) -> LogAnalyticsEngine:
    return ours_load(events_path)


@pytest.fixture(scope="module")
def loaded_frame(events_path: Path) -> Any:
    return pandas_read(events_path)


def test_loaded_sessions_ours(benchmark: Any, loaded_engine: LogAnalyticsEngine,
                              loaded_frame: Any) -> None:
    result = benchmark.pedantic(loaded_engine.sessions, rounds=ROUNDS, iterations=1)
    assert_same_figures(result, pandas_sessions(loaded_frame))


def test_loaded_sessions_pandas(benchmark: Any, loaded_frame: Any) -> None:
    result = benchmark.pedantic(pandas_sessions, args=(loaded_frame,), rounds=ROUNDS,
                                iterations=1)
    assert result["complete"] > EVENTS // 4


def test_loaded_sessions_filtered_ours(benchmark: Any,
                                       loaded_engine: LogAnalyticsEngine) -> None:
    """A query-time restriction: one feature's sessions (a residual scan of metadata)."""
    result = benchmark.pedantic(loaded_engine.sessions, args=({"feature": "search"},),
                                rounds=ROUNDS, iterations=1)
    assert list(result.by_feature) == ["search"]
