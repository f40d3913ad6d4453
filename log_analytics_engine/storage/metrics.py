"""Metric families of retention and durable storage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..metrics import PREFIX, MetricFamily

__all__ = ["durability_families"]


def durability_families(retention: Mapping[str, Any],
                        storage: Mapping[str, Any] | None) -> list[MetricFamily]:
    """Eviction counters (``retention``: :meth:`Evictor.stats`) and, with durable storage,
    its commit counters (``storage``: :meth:`Storage.stats`)."""
    p = PREFIX
    fams = [
        MetricFamily(p + "evicted_entries_total", "counter", "Entries evicted by retention.")
        .add(retention.get("evicted_total", 0)),
        MetricFamily(p + "archived_entries_total", "counter",
                     "Evicted entries written to the archive.")
        .add(retention.get("archived_total", 0)),
        MetricFamily(p + "evicted_handed_off_entries_total", "counter",
                     "Evicted entries handed to the on_evict callback.")
        .add(retention.get("handed_off_total", 0)),
        MetricFamily(p + "evicted_dropped_entries_total", "counter",
                     "Evicted entries neither archived nor handed off.")
        .add(retention.get("dropped_total", 0)),
    ]
    if storage is not None:
        fams += [
            MetricFamily(p + "storage_committed_entries_total", "counter",
                         "Entries committed to durable storage.")
            .add(storage["committed_total"]),
            MetricFamily(p + "storage_pending_entries", "gauge",
                         "Entries acknowledged and not yet committed.").add(storage["pending"]),
            MetricFamily(p + "storage_flush_errors_total", "counter",
                         "Background commits that failed.").add(storage["flush_errors_total"]),
        ]
    return fams
