"""A ``prometheus_client`` collector over the engine's metric families (optional extra).

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> from log_analytics_engine import LogAnalyticsEngine
>>> registry = CollectorRegistry()
>>> registry.register(LogAnalyticsEngine().prometheus_collector())
>>> b"log_analytics_ingested_entries_total 0.0" in generate_latest(registry)
True

Every scrape calls :meth:`~log_analytics_engine.LogAnalyticsEngine.metric_families` (one
snapshot under the engine lock) and converts the families, so the collector yields the same
names, types, help texts, labels and values as ``export_metrics_prometheus()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from log_analytics_engine.errors import MissingExtraError
from log_analytics_engine.metrics import MetricsSource

if TYPE_CHECKING:
    from log_analytics_engine.metrics.exposition import MetricFamily

__all__ = ["EngineCollector", "to_prometheus_metric"]


def _metric_class() -> Any:
    try:
        from prometheus_client.core import Metric
    except ImportError:
        raise MissingExtraError("prometheus_collector()", "prometheus_client",
                                "prometheus") from None
    return Metric


def to_prometheus_metric(family: MetricFamily, metric_cls: Any = None) -> Any:
    """A ``prometheus_client`` ``Metric`` with the samples of ``family``.

    Counter families are named without ``_total`` (the client adds it when rendering) and
    their samples keep it, as
    :func:`~log_analytics_engine.metrics.exposition.render_prometheus` does.
    """
    cls = metric_cls or _metric_class()
    base = family.name
    if family.type == "counter" and base.endswith("_total"):
        base = base[: -len("_total")]
    metric = cls(base, family.help, family.type)
    for s in family.samples:
        name = family.name if not s.suffix else base + s.suffix
        metric.add_sample(name, {k: str(v) for k, v in s.labels.items()}, float(s.value))
    return metric


class EngineCollector:
    """Yields the engine's metric families on every ``collect()`` (no state of its own).

    Runtime: O(levels + sources + tags + rules) per scrape.
    """

    def __init__(self, engine: MetricsSource) -> None:
        self._metric_cls = _metric_class()  # fail early, at registration time
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        for family in self.engine.metric_families():
            yield to_prometheus_metric(family, self._metric_cls)
