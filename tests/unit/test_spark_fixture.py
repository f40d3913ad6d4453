"""The test suite's Spark session: local, two cores, UTC, and its tests marked ``spark``."""

from __future__ import annotations

from typing import Any

import pytest


def test_session_is_local_two_cores_in_utc(spark: Any) -> None:
    assert spark.sparkContext.master == "local[2]"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.sql("SELECT :a + 1 AS x", args={"a": 41}).collect()[0].x == 42


def test_tests_using_the_fixture_are_marked(request: pytest.FixtureRequest, spark: Any) -> None:
    assert request.node.get_closest_marker("spark") is not None
