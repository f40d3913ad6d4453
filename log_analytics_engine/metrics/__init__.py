"""Metric families and their exposition (Prometheus text, JSON)."""

from .core import PREFIX, EngineCounts, MetricsSource, core_families
from .exposition import CONTENT_TYPE, MetricFamily, Sample, escape_label, render_prometheus

__all__ = [
    "CONTENT_TYPE",
    "PREFIX",
    "EngineCounts",
    "MetricFamily",
    "MetricsSource",
    "Sample",
    "core_families",
    "escape_label",
    "render_prometheus",
]
