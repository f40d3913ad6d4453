"""The engine's own metric families, built from one snapshot of its counters.

The engine fills an :class:`EngineCounts` under its lock; :func:`core_families` turns it into
families outside it. Collectors and the dashboard type against :class:`MetricsSource`, not
against the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..model.entry import LEVELS
from .exposition import MetricFamily
from .limits import DEFAULT_TOP_K, top_k_with_other

__all__ = ["PREFIX", "EngineCounts", "MetricsSource", "core_families"]

#: The prefix of every metric name the engine exports.
PREFIX = "log_analytics_"


class MetricsSource(Protocol):
    """Anything that yields a consistent snapshot of metric families (the engine does)."""

    def metric_families(self) -> list[MetricFamily]:
        """The current families, each scrape a fresh snapshot."""
        ...


@dataclass
class EngineCounts:
    """The counters behind :func:`core_families`, copied under the engine lock."""

    ingested: int = 0
    rejected: int = 0
    dropped: int = 0
    keywords: int = 0
    levels: Mapping[str, int] = field(default_factory=dict)
    sources: Mapping[str, int] = field(default_factory=dict)
    tags: Mapping[str, int] = field(default_factory=dict)
    processor_errors: Mapping[str, int] = field(default_factory=dict)
    ingested_by_level: Mapping[str, int] = field(default_factory=dict)
    top_k: int = DEFAULT_TOP_K


def core_families(c: EngineCounts) -> list[MetricFamily]:
    """Ingestion counters and stored-entry gauges. O(levels + sources + tags)."""
    p = PREFIX
    processor_errors = MetricFamily(p + "processor_errors_total", "counter",
                                    "Exceptions raised by pre-ingest processors.")
    for name, n in c.processor_errors.items():
        processor_errors.add(n, processor=name)
    by_level = MetricFamily(p + "entries_by_level", "gauge", "Stored entries per level.")
    ingested_by_level = MetricFamily(p + "ingested_entries_by_level_total", "counter",
                                     "Entries stored since start, per level.")
    for lv in LEVELS:
        by_level.add(c.levels.get(lv, 0), level=lv)
        ingested_by_level.add(c.ingested_by_level.get(lv, 0), level=lv)
    by_source = MetricFamily(p + "entries_by_source", "gauge",
                             "Stored entries per source (the top metrics_top_k; the rest summed "
                             "as source=\"__other__\").")
    for src, n in top_k_with_other(c.sources, c.top_k):
        by_source.add(n, source=src)
    by_tag = MetricFamily(p + "entries_by_tag", "gauge",
                          "Stored entries per tag (the top metrics_top_k; the rest summed as "
                          "tag=\"__other__\").")
    for tag, n in top_k_with_other(c.tags, c.top_k):
        by_tag.add(n, tag=tag)
    return [
        MetricFamily(p + "ingested_entries_total", "counter", "Entries stored since start.")
        .add(c.ingested),
        MetricFamily(p + "rejected_entries_total", "counter",
                     "File or stream lines rejected as invalid.").add(c.rejected),
        MetricFamily(p + "dropped_entries_total", "counter",
                     "Entries dropped by pre-ingest processors.").add(c.dropped),
        processor_errors,
        MetricFamily(p + "entries", "gauge", "Entries currently stored.")
        .add(sum(c.levels.values())),
        by_level,
        by_source,
        by_tag,
        MetricFamily(p + "distinct_keywords", "gauge", "Distinct words in messages.")
        .add(c.keywords),
        ingested_by_level,
    ]
