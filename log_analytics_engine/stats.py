"""The engine's statistics and metrics: one snapshot of its counters under its lock.

:class:`StatsMethods` is mixed into :class:`~log_analytics_engine.LogAnalyticsEngine`; it
reads the engine's store, indexes, processors, alerts and write path, copying counters under
the lock and building families and documents outside it.
"""

from __future__ import annotations

import threading
from typing import Any

from .alerts import AlertManager
from .index.postings import IndexSet
from .index.store import Store
from .ingest.processors import ProcessorChain
from .metrics import EngineCounts, MetricFamily, core_families, render_prometheus
from .metrics.exposition import json_document, render_json
from .model.entry import LEVELS
from .model.timeparse import format_instant
from .storage.metrics import durability_families
from .writer import HotWriter

__all__ = ["StatsMethods"]


class StatsMethods:
    """``get_stats``, metric families and their Prometheus and JSON exports."""

    _lock: threading.RLock
    _store: Store
    _indexes: IndexSet
    _processors: ProcessorChain
    _alerts: AlertManager
    _writer: HotWriter
    _metrics_top_k: int

    def get_stats(self) -> dict[str, Any]:
        """Counts by level, source and tag, the number of distinct keywords, the time span."""
        with self._lock:
            counts = self._counts()
            stats: dict[str, Any] = {
                "total_logs": len(self._store), "levels": counts.levels,
                "sources": counts.sources, "keywords": counts.keywords, "tags": counts.tags,
                "ingested_total": counts.ingested, "rejected_total": counts.rejected,
                "dropped_total": counts.dropped,
                "alerts_total": sum(self._alerts.fired_total.values()),
                "retention": self._writer.evictor.stats() if self._writer.evictor else {},
            }
            if self._writer.storage is not None:
                stats["storage"] = self._writer.storage.stats()
            if len(self._store):
                ti = self._store.time_index
                stats["oldest"] = format_instant(self._store.instant(ti[0]))
                stats["newest"] = format_instant(self._store.instant(ti[-1]))
            return stats

    def _counts(self) -> EngineCounts:
        idx, w, p = self._indexes, self._writer, self._processors
        return EngineCounts(
            w.ingested_total, w.rejected_total, p.dropped, len(idx.token),
            {lv: n for lv in LEVELS if (n := idx.level.count(lv))}, idx.source.counts(),
            idx.tag.counts(), p.error_counts(), dict(idx.ingested_by_level),
            self._metrics_top_k)

    def metric_families(self) -> list[MetricFamily]:
        """A snapshot of the engine's metrics as families (counters copied under the lock)."""
        proc_families = self._processors.metric_families()
        with self._lock:
            counts = self._counts()
            alert_families = self._alerts.metric_families("log_analytics_")
            retention = self._writer.evictor.stats() if self._writer.evictor else {}
            storage = self._writer.storage.stats() if self._writer.storage is not None else None
        return [*core_families(counts), *alert_families, *proc_families,
                *durability_families(retention, storage)]

    def export_metrics_prometheus(self) -> str:
        """The engine's metrics in Prometheus text format 0.0.4."""
        return render_prometheus(self.metric_families())

    def export_metrics_json(self) -> dict[str, Any]:
        """:meth:`get_stats` as a JSON-ready dict (the original API's form)."""
        return json_document(self.get_stats())

    def export_metrics_json_text(self) -> str:
        """:meth:`export_metrics_json` as JSON text."""
        return render_json(self.get_stats())
