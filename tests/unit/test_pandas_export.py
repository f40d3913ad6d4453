"""engine.to_pandas(): typed columns, flattened metadata, filters, a clear missing-extra error."""

from __future__ import annotations

import sys

import pytest

from log_analytics_engine import LogAnalyticsEngine, LogEntry, MissingExtraError

pd = pytest.importorskip("pandas")


@pytest.fixture
def engine() -> LogAnalyticsEngine:
    engine = LogAnalyticsEngine()
    engine.ingest_logs([
        LogEntry("2025-07-21T10:00:00.5Z", "ERROR", "db down", source="api", tags=["prod"],
                 metadata={"latency_ms": 12.5, "http": {"status": 500, "method": "GET"}}),
        LogEntry("2025-07-21T13:00:00+02:00", "INFO", "ok", source="web",
                 metadata={"user_id": "u1", "level": "shadowed"}),
    ])
    return engine


def test_timestamp_column_is_utc_datetime(engine: LogAnalyticsEngine) -> None:
    df = engine.to_pandas()
    assert isinstance(df["timestamp"].dtype, pd.DatetimeTZDtype)
    assert str(df["timestamp"].dt.tz) == "UTC"
    assert list(df["timestamp"]) == [pd.Timestamp("2025-07-21T10:00:00.5Z"),
                                     pd.Timestamp("2025-07-21T11:00:00Z")]


def test_level_is_an_ordered_categorical(engine: LogAnalyticsEngine) -> None:
    df = engine.to_pandas()
    assert isinstance(df["level"].dtype, pd.CategoricalDtype)
    assert df["level"].cat.ordered
    assert list(df[df["level"] >= "WARN"]["message"]) == ["db down"]


def test_source_is_categorical(engine: LogAnalyticsEngine) -> None:
    df = engine.to_pandas()
    assert isinstance(df["source"].dtype, pd.CategoricalDtype)
    assert sorted(df["source"].cat.categories) == ["api", "web"]


def test_metadata_is_flattened_to_typed_columns(engine: LogAnalyticsEngine) -> None:
    df = engine.to_pandas()
    assert df["http.status"].iloc[0] == 500
    assert df["http.method"].iloc[0] == "GET"
    assert df["latency_ms"].dtype == "float64"
    assert pd.isna(df["latency_ms"].iloc[1])


def test_metadata_key_clashing_with_a_column_is_prefixed(engine: LogAnalyticsEngine) -> None:
    df = engine.to_pandas()
    assert list(df["level"]) == ["ERROR", "INFO"]
    assert df["metadata.level"].iloc[1] == "shadowed"


def test_id_columns_resolve_like_entry_get(engine: LogAnalyticsEngine) -> None:
    users = engine.to_pandas()["user_id"]
    assert pd.isna(users.iloc[0])
    assert users.iloc[1] == "u1"


def test_filters_and_query_strings_select_rows(engine: LogAnalyticsEngine) -> None:
    assert list(engine.to_pandas({"level": "ERROR"})["message"]) == ["db down"]
    assert list(engine.to_pandas("source:web")["message"]) == ["ok"]


def test_empty_result_keeps_the_typed_columns() -> None:
    df = LogAnalyticsEngine().to_pandas()
    assert len(df) == 0
    assert isinstance(df["timestamp"].dtype, pd.DatetimeTZDtype)
    assert isinstance(df["level"].dtype, pd.CategoricalDtype)


def test_missing_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtraError, match=r"log-analytics-engine\[pandas\]") as info:
        LogAnalyticsEngine().to_pandas()
    assert isinstance(info.value, ImportError)
    assert info.value.extra == "pandas"
