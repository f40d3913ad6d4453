"""The top-level names: what ``__all__`` exports, and old names that keep working."""

import importlib

import pytest

import log_analytics_engine as lae
from log_analytics_engine.events.kpis import TelemetryResult, run_telemetry_pipeline
from log_analytics_engine.events.validation import EventError, RejectedEvent
from log_analytics_engine.ingest.processors import ProcessorError, ProcessorFailure


def test_every_name_in_all_is_importable_once() -> None:
    for name in lae.__all__:
        assert getattr(lae, name) is not None, name
    assert len(set(lae.__all__)) == len(lae.__all__)


def test_game_specific_names_are_not_exported_at_the_top() -> None:
    assert "TelemetryResult" not in lae.__all__
    assert "run_telemetry_pipeline" not in lae.__all__


@pytest.mark.parametrize(("old", "new"), [
    ("EventError", RejectedEvent),
    ("TelemetryResult", TelemetryResult),
    ("run_telemetry_pipeline", run_telemetry_pipeline),
])
def test_moved_names_still_import_from_the_top_with_a_deprecation(old: str, new: object) -> None:
    with pytest.warns(DeprecationWarning, match=old):
        assert getattr(importlib.import_module("log_analytics_engine"), old) is new


def test_unknown_top_level_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        lae.no_such_name  # noqa: B018


def test_records_are_not_exceptions_and_old_names_alias_them() -> None:
    assert EventError is RejectedEvent
    assert ProcessorError is ProcessorFailure
    assert not issubclass(RejectedEvent, BaseException)
    assert not issubclass(ProcessorFailure, BaseException)
