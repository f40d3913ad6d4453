"""Game-telemetry KPIs: clean messy session rows, then KPIs per game (or any field).

The studio's raw rows look like ``{"session_id": "s1", "game": "SkyQuest", "region": "EU",
"minutes_played": "34", "ended_normally": "false", "crash_error_code": "E42"}`` with messy
types. The steps mirror the analysts' notebook:

* :func:`build_raw_dataframe`: the raw rows as a typed pandas DataFrame (``pandas`` extra);
* :func:`clean_sessions`: minutes coerced to a number; rows with missing, unparseable or
  non-positive minutes dropped with a ``reason``; ``crashed`` derived; then, when asked, only
  rows with ``minutes_played >= min_minutes`` and an allowed region are kept;
* :func:`compute_kpis`: ``sessions``, ``total_minutes``, ``avg_minutes``, ``crash_rate`` per
  group;
* :func:`run_telemetry_pipeline`: all of it, returning a :class:`TelemetryResult`.

Selection and KPIs run on a :class:`~log_analytics_engine.LogAnalyticsEngine`: each cleaned
row becomes an entry (the row in metadata), the threshold and region conditions are query
nodes (:class:`~log_analytics_engine.query.nodes.Compare`, ``FieldEquals``) and the KPIs come from
:meth:`~log_analytics_engine.LogAnalyticsEngine.aggregate`; no private matching code.

>>> result = run_telemetry_pipeline([
...     {"session_id": "a", "game": "G", "minutes_played": "12", "ended_normally": True},
...     {"session_id": "b", "game": "G", "minutes_played": "abc"}])
>>> result.kpis
{'G': {'sessions': 1, 'total_minutes': 12.0, 'avg_minutes': 12.0, 'crash_rate': 0.0}}
>>> result.rejected[0]["reason"]
"unparseable minutes_played 'abc'"
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidFilterError, InvalidTimestampError, MissingExtraError
from ..model.entry import LogEntry
from ..query.compile import compile
from ..query.nodes import Compare, FieldEquals, MatchAll, Node, Or
from .table import EventTable
from .validation import coerce_bool, coerce_number

__all__ = [
    "TelemetryResult",
    "build_raw_dataframe",
    "clean_sessions",
    "compute_kpis",
    "kpis_of",
    "run_telemetry_pipeline",
    "session_filter",
]

log = logging.getLogger(__name__)

MINUTES = "minutes_played"
_TIME_FIELDS = ("timestamp", "started_at", "start_time")


def _pandas(what: str) -> Any:
    try:
        import pandas
    except ImportError:
        raise MissingExtraError(what, "pandas", "pandas") from None
    return pandas


def _is_crash(row: Mapping[str, Any]) -> bool:
    code = row.get("crash_error_code")
    present = code is not None and not (isinstance(code, str) and not code.strip())
    return coerce_bool(row.get("ended_normally")) is False and present


def build_raw_dataframe(raw_events: Iterable[Mapping[str, Any]]) -> Any:
    """The raw rows as a pandas DataFrame with typed columns (needs the ``pandas`` extra).

    ``minutes_played`` is float (``NaN`` where it is not a number), ``ended_normally`` the
    nullable ``boolean`` dtype, text columns the ``string`` dtype. Runtime: O(rows).
    """
    pd = _pandas("build_raw_dataframe()")
    rows = [dict(r) for r in raw_events]
    frame = pd.DataFrame(rows)
    if MINUTES in frame:
        frame[MINUTES] = pd.array([coerce_number(v) for v in frame[MINUTES]], dtype="Float64")
        frame[MINUTES] = frame[MINUTES].astype("float64")
    if "ended_normally" in frame:
        frame["ended_normally"] = pd.array([coerce_bool(v) for v in frame["ended_normally"]],
                                           dtype="boolean")
    for name in ("session_id", "player_id", "game", "region", "crash_error_code"):
        if name in frame:
            frame[name] = frame[name].map(lambda v: None if v is None else str(v))
            frame[name] = frame[name].astype("string")
    return frame


def _reject(row: Mapping[str, Any], reason: str) -> dict[str, Any]:
    return {**row, "reason": reason}


def session_filter(min_minutes: float | None = None,
                   allowed_regions: Iterable[str] | None = None) -> Node:
    """The query node that keeps sessions: ``minutes_played >= min_minutes`` and, when given,
    a region from ``allowed_regions``.

    >>> session_filter(5).match(LogEntry(0, metadata={"minutes_played": 4.5}))
    False
    """
    nodes: list[Node] = []
    if min_minutes is not None:
        if isinstance(min_minutes, bool) or not isinstance(min_minutes, (int, float)):
            raise InvalidFilterError("min_minutes", min_minutes, "expected a number")
        nodes.append(Compare(MINUTES, ">=", float(min_minutes)))
    if allowed_regions is not None:
        regions = [allowed_regions] if isinstance(allowed_regions, str) else list(
            allowed_regions)
        nodes.append(Or(tuple(FieldEquals("region", r) for r in regions)))
    if not nodes:
        return MatchAll()
    return nodes[0] if len(nodes) == 1 else nodes[0] & nodes[1]


def _entry(row: dict[str, Any]) -> LogEntry:
    stamp: Any = 0
    for name in _TIME_FIELDS:
        if row.get(name) is not None:
            stamp = row[name]
            break
    return LogEntry(stamp, "INFO", f"session {row.get('session_id', '')}", metadata=row)


def _load(rows: Sequence[dict[str, Any]], group_by: str | None = None) -> EventTable:
    fields = ["region"] if group_by in (None, "region") else [group_by, "region"]
    return EventTable([_entry(r) for r in rows], fields)


def clean_sessions(
    raw_events: Iterable[Mapping[str, Any]],
    min_minutes: float | None = None,
    allowed_regions: Iterable[str] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(sessions, rejected)``: cleaned rows (with ``crashed`` and numeric minutes) and the
    dropped rows, each with a ``reason``. Input order is kept. Runtime: O(rows).

    Rows are dropped for missing, unparseable or non-positive minutes, an invalid time, then
    (with ``min_minutes`` / ``allowed_regions``) for being too short or out of region.
    """
    kept: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    for raw in raw_events:
        if not isinstance(raw, Mapping):
            rejected.append({"row": raw, "reason": "not an object"})
            continue
        value = raw.get(MINUTES)
        minutes = coerce_number(value)
        if value is None:
            rejected.append(_reject(raw, f"missing {MINUTES}"))
        elif minutes is None:
            rejected.append(_reject(raw, f"unparseable {MINUTES} {value!r}"))
        elif minutes <= 0:
            rejected.append(_reject(raw, f"non-positive {MINUTES} {value!r}"))
        else:
            row = {**raw, MINUTES: float(minutes), "crashed": _is_crash(raw)}
            try:
                _entry(row)
            except InvalidTimestampError as exc:
                rejected.append(_reject(raw, exc.reason))
                continue
            kept.append(row)
    node = session_filter(min_minutes, allowed_regions)
    if isinstance(node, MatchAll) or not kept:
        return kept, rejected
    engine = _load(kept)
    # by position: entries are built on demand, so two reads give distinct objects (whose
    # id() a freed one's may take)
    chosen = engine.positions(node)
    selected: list[dict[str, Any]] = []
    short = session_filter(min_minutes) if min_minutes is not None else None
    for pos, (row, entry) in enumerate(zip(kept, engine.entries(), strict=True)):
        if pos in chosen:
            selected.append(row)
        elif short is not None and not short.match(entry):
            rejected.append(_reject(row, f"{MINUTES} {row[MINUTES]:g} below {min_minutes:g}"))
        else:
            rejected.append(_reject(row, f"region {row.get('region')!r} not allowed"))
    return selected, rejected


def compute_kpis(
    sessions: Sequence[Mapping[str, Any]], group_by: str = "game",
    filters: Node | Mapping[str, Any] | None = None,
) -> dict[Any, dict[str, Any]]:
    """``{group: {"sessions", "total_minutes", "avg_minutes", "crash_rate"}}`` of cleaned
    rows, groups in sorted order, via :meth:`LogAnalyticsEngine.aggregate`. O(rows)."""
    if not isinstance(group_by, str) or not group_by:
        raise InvalidFilterError("group_by", group_by, "expected a field name")
    rows = [dict(r) for r in sessions]
    if not rows:
        return {}
    engine = _load(rows, group_by)
    return kpis_of(lambda node, metrics: engine.aggregate(node, group_by, metrics=metrics),
                   compile(filters))


def kpis_of(aggregate: Callable[[Node, list[str] | None], Mapping[Any, Any]],
            node: Node) -> dict[Any, dict[str, Any]]:
    """The KPIs of the session entries ``node`` selects, from two grouped aggregations
    (``aggregate(node, metrics)``, grouped by the KPI's field): an engine's, or an archive
    executor's, which runs them where the data is. Groups in sorted order."""
    base = aggregate(node, ["count", f"sum:{MINUTES}", f"avg:{MINUTES}"])
    crashes = aggregate(node & FieldEquals("crashed", True), None)
    out: dict[Any, dict[str, Any]] = {}
    for group, m in base.items():
        n = m["count"]
        out[group] = {"sessions": n, "total_minutes": float(m[f"sum_{MINUTES}"]),
                      "avg_minutes": float(m[f"avg_{MINUTES}"]),
                      "crash_rate": crashes.get(group, {"count": 0})["count"] / n}
    return out


@dataclass
class TelemetryResult:
    """KPIs per group, the cleaned sessions and the rejected rows (with ``reason``)."""

    kpis: dict[Any, dict[str, Any]]
    sessions: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    group_by: str = "game"
    params: dict[str, Any] = field(default_factory=dict)

    def to_pandas(self) -> tuple[Any, Any]:
        """``(kpi_frame, sessions_frame)``; needs the ``pandas`` extra
        (:class:`MissingExtraError`, an ``ImportError``, otherwise)."""
        pd = _pandas("TelemetryResult.to_pandas()")
        kpi = pd.DataFrame.from_dict(self.kpis, orient="index",
                                     columns=["sessions", "total_minutes", "avg_minutes",
                                              "crash_rate"])
        kpi.index.name = self.group_by
        return kpi, pd.DataFrame(self.sessions)


def run_telemetry_pipeline(
    raw_events: Iterable[Mapping[str, Any]],
    min_minutes: float = 5,
    group_by: str = "game",
    allowed_regions: Iterable[str] | None = None,
) -> TelemetryResult:
    """Clean, select (``min_minutes``, ``allowed_regions``) and compute KPIs per ``group_by``.

    Runtime complexity: O(rows).
    """
    regions = None if allowed_regions is None else list(allowed_regions)
    sessions, rejected = clean_sessions(raw_events, min_minutes, regions)
    kpis = compute_kpis(sessions, group_by)
    log.debug("telemetry: %d sessions kept, %d rejected", len(sessions), len(rejected))
    return TelemetryResult(kpis, sessions, rejected, group_by,
                           {"min_minutes": min_minutes, "allowed_regions": regions})
