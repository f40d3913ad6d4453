"""The engine's own metric families, built from one snapshot of its counters.

The engine fills an :class:`EngineCounts` under its lock; :func:`core_families` turns it into
families outside it. Collectors and the dashboard type against :class:`MetricsSource`, not
against the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from .exposition import MetricFamily

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


def core_families(c: EngineCounts) -> list[MetricFamily]:
    """Ingestion counters and stored-entry gauges. O(levels + sources + tags)."""
    p = PREFIX
    processor_errors = MetricFamily(p + "processor_errors_total", "counter",
                                    "Exceptions raised by pre-ingest processors.")
    for name, n in c.processor_errors.items():
        processor_errors.add(n, processor=name)
    by_level = MetricFamily(p + "entries_by_level", "gauge", "Stored entries per level.")
    for lv, n in c.levels.items():
        by_level.add(n, level=lv)
    by_source = MetricFamily(p + "entries_by_source", "gauge", "Stored entries per source.")
    for src, n in sorted(c.sources.items()):
        by_source.add(n, source=src)
    by_tag = MetricFamily(p + "entries_by_tag", "gauge", "Stored entries per tag.")
    for tag, n in sorted(c.tags.items()):
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
    ]
