"""The ``>>>`` examples in docstrings run (they document behaviour, so they must stay true)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "log_analytics_engine.errors",
    "log_analytics_engine.events.sample",
    "log_analytics_engine.index.postings",
    "log_analytics_engine.ingest.files",
    "log_analytics_engine.metrics.exposition",
    "log_analytics_engine.model.timeparse",
    "log_analytics_engine.query.aggregate",
    "log_analytics_engine.query.language",
    "log_analytics_engine.query.compile",
    "log_analytics_engine.query.filters",
    "log_analytics_engine.query.order",
    "log_analytics_engine.events.table",
]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_pass(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


@pytest.mark.parametrize("module", ["log_analytics_engine.query.sql"])
def test_archive_compiler_docstring_examples_pass(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


@pytest.mark.parametrize("module", ["log_analytics_engine.archive",
                                    "log_analytics_engine.storage.archive_format"])
def test_archive_docstring_examples_pass(module: str) -> None:
    pytest.importorskip("pyarrow")
    pytest.importorskip("duckdb")
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
